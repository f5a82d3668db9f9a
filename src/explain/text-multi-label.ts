/**
 * Multi-label classification in two lines: a model with independent sigmoid outputs (config.json
 * `problem_type: "multi_label_classification"`), one attribution per label — all of them or a
 * chosen set — of its logit (default) or its sigmoid probability.
 *
 * @example
 * ```ts
 * const r = await explainMultiLabel(await loadTextModel("test/fixtures/tasks/multi-label"),
 *   "the minister watched the football match", { backend: nodeBackend() });
 * r.explanations.map((e) => [e.label, e.probability, e.words]);
 * ```
 */
import type { QuadratureMethod } from "../attribution/quadrature.js";
import { sigmoid } from "./scorer.js";
import { resolveLabel } from "./text.js";
import { attributeTokens, checkTextModel, forward, type TextAttributionOptions } from "./text-attribution.js";
import type { EmbeddingChoice } from "./text-embeddings.js";
import { encodeText, type TextModel } from "./text-encode.js";
import { type LabelExplanation, labelExplanation } from "./text-explanation.js";

/** Options of {@link explainMultiLabel}. */
export interface ExplainMultiLabelOptions extends TextAttributionOptions {
  /** Labels to explain, by name or index (default: every label). */
  labels?: (string | number)[];
  /** Explain each label's logit (default) or its sigmoid probability. */
  score?: "logit" | "probability";
  /** Second text of a pair. */
  textPair?: string;
  truncate?: boolean;
}

/** One label's prediction. */
export interface LabelPrediction {
  label: string;
  index: number;
  /** sigmoid(logit). */
  probability: number;
  /** probability > 0.5. */
  predicted: boolean;
}

/** Result of {@link explainMultiLabel}. */
export interface MultiLabelExplanation {
  task: "multi-label";
  text: string;
  textPair?: string;
  /** Every label's probability. */
  predictions: LabelPrediction[];
  /** One per explained label, in the order asked. */
  explanations: LabelExplanation[];
  score: "logit" | "probability";
  embedding: EmbeddingChoice;
  layer: string;
  steps: number;
  method: QuadratureMethod;
  warnings: string[];
}

/** Explains every (or each chosen) label of a multi-label classifier. */
export async function explainMultiLabel(
  tm: TextModel,
  text: string,
  options: ExplainMultiLabelOptions,
): Promise<MultiLabelExplanation> {
  checkTextModel(tm);
  const enc = encodeText(tm, text, options);
  const outputs = await forward(options.backend, tm, enc);
  const outName = tm.model.graph!.output[0]!.name!;
  const logits = outputs[outName]!;
  const names = tm.labels ?? Array.from(logits.values, (_, i) => `LABEL_${i}`);
  const predictions = Array.from(logits.values, (v, index) => ({
    label: names[index] ?? String(index),
    index,
    probability: sigmoid(v),
    predicted: sigmoid(v) > 0.5,
  }));
  const chosen = options.labels
    ? options.labels.map((l) => resolveLabel(l, names)!)
    : predictions.map((p) => p.index);
  const score = options.score ?? "logit";
  const r = await attributeTokens(
    tm,
    enc,
    chosen.map((index) => ({ output: outName, index, score: score === "probability" ? "sigmoid" : "logit" })),
    { [outName]: logits.dims.slice(1) },
    options,
  );
  return {
    task: "multi-label",
    text,
    ...(options.textPair !== undefined ? { textPair: options.textPair } : {}),
    predictions,
    explanations: chosen.map((index, k) =>
      labelExplanation(enc, r.results[k]!, predictions[index]!.label, {
        probability: predictions[index]!.probability,
      }),
    ),
    score,
    embedding: options.embedding ?? "word",
    layer: r.layer,
    steps: r.steps,
    method: r.method,
    warnings: enc.warnings,
  };
}
