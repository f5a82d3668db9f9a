/**
 * Zero-shot classification on an NLI model, as Hugging Face's pipeline: premise = the text,
 * hypothesis = a template with each candidate label (default "This example is {}."); the
 * entailment logit of each pair is explained (or entailment − contradiction, the log-odds of the
 * pipeline's multi-label score). Single-label mode: probabilities are the softmax of the
 * entailment logits over the candidates; multi-label mode: each candidate's softmax over
 * (contradiction, entailment).
 *
 * @example
 * ```ts
 * const r = await explainZeroShot(await loadTextModel("test/fixtures/tasks/zero-shot"),
 *   "heavy rain all day", ["weather", "sports"], { backend: nodeBackend() });
 * r.predicted; // "weather"
 * ```
 */
import type { QuadratureMethod } from "../attribution/quadrature.js";
import { argmax, softmax } from "./scorer.js";
import { attributeTokens, checkTextModel, forward, type TextAttributionOptions } from "./text-attribution.js";
import type { EmbeddingChoice } from "./text-embeddings.js";
import { encodeText, TextExplainError, type TextModel } from "./text-encode.js";
import { type LabelExplanation, labelExplanation } from "./text-explanation.js";

/** Hugging Face's default hypothesis template. */
export const DEFAULT_TEMPLATE = "This example is {}.";

/** Options of {@link explainZeroShot}. */
export interface ExplainZeroShotOptions extends TextAttributionOptions {
  /** Hypothesis template; `{}` is replaced by the candidate label. */
  template?: string;
  /** Candidates are independent (multi-label) or compete (default). */
  multiLabel?: boolean;
  /** What is explained per candidate (default "entailment": the entailment logit). */
  score?: "entailment" | "entailment-vs-contradiction";
  truncate?: boolean;
}

/** One candidate's prediction. */
export interface CandidatePrediction {
  label: string;
  hypothesis: string;
  probability: number;
  entailmentLogit: number;
  contradictionLogit: number;
}

/** Result of {@link explainZeroShot}. */
export interface ZeroShotExplanation {
  task: "zero-shot";
  text: string;
  template: string;
  multiLabel: boolean;
  /** The most probable candidate. */
  predicted: string;
  predictions: CandidatePrediction[];
  /** One per candidate (premise and hypothesis words; the hypothesis is sequence 1). */
  explanations: LabelExplanation[];
  score: "entailment" | "entailment-vs-contradiction";
  embedding: EmbeddingChoice;
  layer: string;
  steps: number;
  method: QuadratureMethod;
  warnings: string[];
}

function labelIndex(names: string[] | undefined, pattern: RegExp, what: string): number {
  const k = names?.findIndex((n) => pattern.test(n)) ?? -1;
  if (k < 0) {
    throw new TextExplainError(
      `zero-shot classification needs an NLI model with an "${what}" label in config.json id2label (labels: ${names?.join(", ") ?? "none"})`,
    );
  }
  return k;
}

/** Explains a zero-shot classification of `text` among `candidates`. */
export async function explainZeroShot(
  tm: TextModel,
  text: string,
  candidates: string[],
  options: ExplainZeroShotOptions,
): Promise<ZeroShotExplanation> {
  checkTextModel(tm);
  const template = options.template ?? DEFAULT_TEMPLATE;
  if (!template.includes("{}"))
    throw new TextExplainError(`the hypothesis template "${template}" has no {} for the label`);
  if (candidates.length === 0) throw new TextExplainError("zero-shot classification needs candidate labels");
  const entail = labelIndex(tm.labels, /entail/i, "entailment");
  const contra = labelIndex(tm.labels, /contradict/i, "contradiction");
  const outName = tm.model.graph!.output[0]!.name!;
  const score = options.score ?? "entailment";
  const pairs = [];
  for (const label of candidates) {
    const hypothesis = template.replaceAll("{}", label);
    const enc = encodeText(tm, text, { textPair: hypothesis, truncate: options.truncate });
    const out = (await forward(options.backend, tm, enc))[outName]!;
    pairs.push({ label, hypothesis, enc, logits: out.values, rowDims: out.dims.slice(1) });
  }
  const entailment = pairs.map((p) => p.logits[entail]!);
  const single = softmax(entailment);
  const predictions = pairs.map((p, k) => ({
    label: p.label,
    hypothesis: p.hypothesis,
    probability: options.multiLabel ? softmax([p.logits[contra]!, p.logits[entail]!])[1]! : single[k]!,
    entailmentLogit: p.logits[entail]!,
    contradictionLogit: p.logits[contra]!,
  }));
  const explanations: LabelExplanation[] = [];
  let run: Awaited<ReturnType<typeof attributeTokens>> | undefined;
  for (const [k, p] of pairs.entries()) {
    let index: number | Float64Array = entail;
    if (score === "entailment-vs-contradiction") {
      index = new Float64Array(p.logits.length);
      index[entail] = 1;
      index[contra] = -1;
    }
    run = await attributeTokens(tm, p.enc, [{ output: outName, index }], { [outName]: p.rowDims }, options);
    explanations.push(
      labelExplanation(p.enc, run.results[0]!, p.label, { probability: predictions[k]!.probability }),
    );
  }
  return {
    task: "zero-shot",
    text,
    template,
    multiLabel: options.multiLabel ?? false,
    predicted: predictions[argmax(predictions.map((p) => p.probability))]!.label,
    predictions,
    explanations,
    score,
    embedding: options.embedding ?? "word",
    layer: run!.layer,
    steps: run!.steps,
    method: run!.method,
    warnings: [...new Set(pairs.flatMap((p) => p.enc.warnings))],
  };
}
