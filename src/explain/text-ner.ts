/**
 * Token classification (NER) in two lines: for each token, the attribution over all input words
 * of its predicted entity logit (or a chosen label's), skipping `ignoredLabels` (default "O")
 * and `ignoredIndexes`; entities are the predicted spans merged over words (a word's label is
 * its first piece's, as Hugging Face's "first" aggregation), B-/I- prefixes joined.
 *
 * @example
 * ```ts
 * const r = await explainNer(await loadTextModel("test/fixtures/tasks/ner"),
 *   "Mr Johnson went to the market in Paris .", { backend: nodeBackend() });
 * r.entities; // [{ label: "PER", text: "Johnson", … }, { label: "LOC", text: "Paris", … }]
 * ```
 */
import type { QuadratureMethod } from "../attribution/quadrature.js";
import { argmax, softmax } from "./scorer.js";
import { resolveLabel } from "./text.js";
import { attributeTokens, checkTextModel, forward, type TextAttributionOptions } from "./text-attribution.js";
import type { EmbeddingChoice } from "./text-embeddings.js";
import { type EncodedText, encodeText, TextExplainError, type TextModel } from "./text-encode.js";
import { type LabelExplanation, labelExplanation } from "./text-explanation.js";

/** Options of {@link explainNer}. */
export interface ExplainNerOptions extends TextAttributionOptions {
  /** Explain this label at every selected token instead of each token's predicted label. */
  label?: string | number;
  /** Tokens predicted as one of these are not explained (default ["O"]). */
  ignoredLabels?: string[];
  /** Token indices not explained (the tokenizer's [CLS]/[SEP] never are). */
  ignoredIndexes?: number[];
  truncate?: boolean;
}

/** One token's prediction. */
export interface TokenPrediction {
  token: string;
  label: string;
  probability: number;
  special: boolean;
  word: number;
}

/** A predicted entity: consecutive words of one entity type. */
export interface Entity {
  /** Entity type without its B-/I- prefix. */
  label: string;
  /** As written in the text. */
  text: string;
  words: number[];
  tokens: number[];
  /** Mean probability of its words' first pieces. */
  score: number;
  start?: number;
  end?: number;
}

/** Result of {@link explainNer}. */
export interface NerExplanation {
  task: "ner";
  text: string;
  /** Every token's predicted label. */
  predictions: TokenPrediction[];
  entities: Entity[];
  /** One per explained token (`position` = its index in `tokens`). */
  explanations: LabelExplanation[];
  embedding: EmbeddingChoice;
  layer: string;
  steps: number;
  method: QuadratureMethod;
  warnings: string[];
}

/** Explains a token classifier's predictions. */
export async function explainNer(
  tm: TextModel,
  text: string,
  options: ExplainNerOptions,
): Promise<NerExplanation> {
  checkTextModel(tm);
  const enc = encodeText(tm, text, options);
  const outName = tm.model.graph!.output[0]!.name!;
  const logits = (await forward(options.backend, tm, enc))[outName]!;
  const t = enc.ids.length;
  const classes = logits.values.length / t;
  if (logits.dims.length !== 3 || !Number.isInteger(classes))
    throw new TextExplainError(
      `output "${outName}" has shape [${logits.dims.join(", ")}]; a token classifier gives [batch, tokens, labels]`,
    );
  const names = tm.labels ?? Array.from({ length: classes }, (_, i) => `LABEL_${i}`);
  const predictions = enc.tokens.map((token, i) => {
    const p = softmax(logits.values.subarray(i * classes, (i + 1) * classes));
    const k = argmax(p);
    return {
      token,
      label: names[k] ?? String(k),
      probability: p[k]!,
      special: enc.special[i]!,
      word: enc.owner[i]!,
    };
  });
  const chosen = resolveLabel(options.label, names);
  const ignoredLabels = new Set(options.ignoredLabels ?? ["O"]);
  const ignoredIndexes = new Set(options.ignoredIndexes ?? []);
  const selected = predictions
    .map((p, i) => ({ p, i }))
    .filter(({ p, i }) => !p.special && !ignoredIndexes.has(i) && !ignoredLabels.has(p.label))
    .map(({ i }) => i);
  const labelAt = (i: number) => chosen ?? names.indexOf(predictions[i]!.label);
  const r = await attributeTokens(
    tm,
    enc,
    selected.map((i) => ({ output: outName, index: i * classes + labelAt(i) })),
    { [outName]: logits.dims.slice(1) },
    options,
  );
  return {
    task: "ner",
    text,
    predictions,
    entities: entities(enc, predictions, text),
    explanations: selected.map((i, k) => {
      const label = names[labelAt(i)]!;
      const p = softmax(logits.values.subarray(i * classes, (i + 1) * classes))[labelAt(i)]!;
      return labelExplanation(enc, r.results[k]!, label, { position: i, probability: p });
    }),
    embedding: options.embedding ?? "word",
    layer: r.layer,
    steps: r.steps,
    method: r.method,
    warnings: enc.warnings,
  };
}

/** Entity type and whether the label starts an entity ("B-PER" → PER, true; "O" → undefined). */
function entityType(label: string): { type?: string; begins: boolean } {
  if (label === "O") return { begins: false };
  const m = /^([BIES])[-_](.+)$/.exec(label);
  if (!m) return { type: label, begins: false };
  return { type: m[2]!, begins: m[1] === "B" || m[1] === "S" };
}

/** Predicted entities: words labelled by their first piece, consecutive words of a type merged. */
export function entities(enc: EncodedText, predictions: TokenPrediction[], text: string): Entity[] {
  const out: Entity[] = [];
  let open: Entity | undefined;
  let scores: number[] = [];
  enc.words.forEach((w, k) => {
    const first = predictions[w.tokens[0]!]!;
    const { type, begins } = entityType(first.label);
    const adjacent = open && open.words[open.words.length - 1] === k - 1;
    if (type && open && open.label === type && !begins && adjacent) {
      open.words.push(k);
      open.tokens.push(...w.tokens);
      scores.push(first.probability);
    } else {
      if (open) out.push(close(open, scores));
      open = type ? { label: type, text: "", words: [k], tokens: [...w.tokens], score: 0 } : undefined;
      scores = type ? [first.probability] : [];
    }
  });
  if (open) out.push(close(open, scores));
  return out;

  function close(e: Entity, s: number[]): Entity {
    const first = enc.words[e.words[0]!]!;
    const last = enc.words[e.words[e.words.length - 1]!]!;
    const located = first.start !== undefined && last.end !== undefined;
    return {
      ...e,
      text: located ? text.slice(first.start, last.end) : e.words.map((i) => enc.words[i]!.word).join(" "),
      score: s.reduce((a, b) => a + b, 0) / s.length,
      ...(located ? { start: first.start, end: last.end } : {}),
    };
  }
}
