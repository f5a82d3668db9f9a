/**
 * Extractive question answering in two lines: the question and the context are encoded as a
 * pair (question first, as Hugging Face's pipeline); the answer is the context span with the
 * largest start + end logit (or a given span / text); the start logit at its first token and
 * the end logit at its last token are explained over question and context words.
 *
 * @example
 * ```ts
 * const r = await explainQa(await loadTextModel("test/fixtures/tasks/qa"),
 *   "what is the key ?", "my key blue , the code red was said .", { backend: nodeBackend() });
 * r.answer.text; // "blue"
 * ```
 */
import type { QuadratureMethod } from "../attribution/quadrature.js";
import { softmax } from "./scorer.js";
import { attributeTokens, checkTextModel, forward, type TextAttributionOptions } from "./text-attribution.js";
import type { EmbeddingChoice } from "./text-embeddings.js";
import { type EncodedText, encodeText, TextExplainError, type TextModel } from "./text-encode.js";
import { type LabelExplanation, labelExplanation } from "./text-explanation.js";

/** Options of {@link explainQa}. */
export interface ExplainQaOptions extends TextAttributionOptions {
  /** Explain this answer instead of the predicted one: token indices, or a text in the context. */
  answer?: { start: number; end: number } | string;
  /** Longest answer searched, in tokens (default 30). */
  maxAnswerLength?: number;
  truncate?: boolean;
}

/** The explained answer. */
export interface QaAnswer {
  /** As written in the context. */
  text: string;
  /** Token indices of its first and last token. */
  start: number;
  end: number;
  /** start logit + end logit. */
  score: number;
  /** softmax(start logits)[start] · softmax(end logits)[end]. */
  probability: number;
}

/** Result of {@link explainQa}. */
export interface QaExplanation {
  task: "qa";
  question: string;
  context: string;
  answer: QaAnswer;
  /** The start logit (`position: "start"`) and the end logit (`position: "end"`). */
  explanations: LabelExplanation[];
  embedding: EmbeddingChoice;
  layer: string;
  steps: number;
  method: QuadratureMethod;
  warnings: string[];
}

/** The start and end logit outputs (by name, else the first two outputs). */
function startEndOutputs(tm: TextModel): [string, string] {
  const names = tm.model.graph!.output.map((o) => o.name!);
  const start = names.find((n) => /start/i.test(n));
  const end = names.find((n) => /end/i.test(n));
  if (start && end) return [start, end];
  if (names.length === 2) return [names[0]!, names[1]!];
  throw new TextExplainError(
    `a question-answering model has start and end logit outputs; this one has ${names.join(", ")}`,
  );
}

/** Explains the answer to `question` found in `context`. */
export async function explainQa(
  tm: TextModel,
  question: string,
  context: string,
  options: ExplainQaOptions,
): Promise<QaExplanation> {
  checkTextModel(tm);
  const enc = encodeText(tm, question, { textPair: context, truncate: options.truncate });
  const [startName, endName] = startEndOutputs(tm);
  const out = await forward(options.backend, tm, enc);
  const starts = out[startName]!.values;
  const ends = out[endName]!.values;
  const span = answerSpan(enc, starts, ends, context, options);
  const contextWords = (i: number) => enc.words[enc.owner[i]!];
  const first = contextWords(span.start);
  const last = contextWords(span.end);
  const text =
    first?.start !== undefined && last?.end !== undefined
      ? context.slice(first.start, last.end)
      : enc.words
          .slice(enc.owner[span.start]!, enc.owner[span.end]! + 1)
          .map((w) => w.word)
          .join(" ");
  const r = await attributeTokens(
    tm,
    enc,
    [
      { output: startName, index: span.start },
      { output: endName, index: span.end },
    ],
    { [startName]: out[startName]!.dims.slice(1), [endName]: out[endName]!.dims.slice(1) },
    options,
  );
  const pStart = softmax(starts)[span.start]!;
  const pEnd = softmax(ends)[span.end]!;
  return {
    task: "qa",
    question,
    context,
    answer: { text, ...span, score: starts[span.start]! + ends[span.end]!, probability: pStart * pEnd },
    explanations: [
      labelExplanation(enc, r.results[0]!, enc.tokens[span.start]!, {
        position: "start",
        probability: pStart,
      }),
      labelExplanation(enc, r.results[1]!, enc.tokens[span.end]!, { position: "end", probability: pEnd }),
    ],
    embedding: options.embedding ?? "word",
    layer: r.layer,
    steps: r.steps,
    method: r.method,
    warnings: enc.warnings,
  };
}

/** The given span, the tokens of a given answer text, or the best context span. */
function answerSpan(
  enc: EncodedText,
  starts: Float64Array,
  ends: Float64Array,
  context: string,
  options: ExplainQaOptions,
): { start: number; end: number } {
  const inContext = enc.tokens.map((_, i) => enc.owner[i]! >= 0 && enc.words[enc.owner[i]!]!.sequence === 1);
  const given = options.answer;
  if (typeof given === "object") {
    const ok = given.start <= given.end && inContext[given.start] && inContext[given.end];
    if (!ok)
      throw new TextExplainError(`answer tokens ${given.start}…${given.end} are not a span of the context`);
    return given;
  }
  if (typeof given === "string") {
    const at = context.toLowerCase().indexOf(given.toLowerCase());
    const hit = enc.words
      .map((w, k) => ({ w, k }))
      .filter(
        ({ w }) => w.sequence === 1 && w.start !== undefined && w.start < at + given.length && w.end! > at,
      );
    if (at < 0 || hit.length === 0) throw new TextExplainError(`the answer "${given}" is not in the context`);
    const tokens = hit.flatMap(({ w }) => w.tokens);
    return { start: Math.min(...tokens), end: Math.max(...tokens) };
  }
  const max = options.maxAnswerLength ?? 30;
  let best = { start: -1, end: -1, score: -Infinity };
  for (let s = 0; s < enc.ids.length; s++) {
    if (!inContext[s]) continue;
    for (let e = s; e < Math.min(enc.ids.length, s + max); e++) {
      if (!inContext[e]) continue;
      const v = starts[s]! + ends[e]!;
      if (v > best.score) best = { start: s, end: e, score: v };
    }
  }
  if (best.start < 0) throw new TextExplainError("the context has no tokens to answer from");
  return { start: best.start, end: best.end };
}
