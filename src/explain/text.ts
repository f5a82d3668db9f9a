/**
 * Text classification explained in two lines (transformers-interpret for ONNX): tokenise with
 * the model's own tokenizer.json, run Integrated Gradients at the word embeddings (or the
 * position / token-type embeddings, or all three) with a [CLS] [PAD] … [SEP] baseline, sum over
 * the embedding dimension per token and merge sub-word pieces into the words of the text. The
 * other tasks (multi-label, zero-shot, NER, QA) are in text-*.ts beside this file.
 *
 * @example
 * ```ts
 * const r = await explainText(await loadTextModel("examples/text-sentiment"), "a wonderful film", { backend: nodeBackend() });
 * r.words; // [{ word: "a", score: … }, { word: "wonderful", score: … }, …]
 * ```
 */

import { integratedGradients } from "../attribution/ig.js";
import type { QuadratureMethod } from "../attribution/quadrature.js";
import type { ModelProto } from "../onnx/types.js";
import { tensor } from "../tensor/tensor.js";
import { argmax, softmax } from "./scorer.js";
import {
  attributeTokens,
  checkTextModel,
  forward,
  modelFeeds,
  type TextAttributionOptions,
} from "./text-attribution.js";
import { type EmbeddingChoice, embeddingLookups } from "./text-embeddings.js";
import {
  type EncodedText,
  encodeText,
  mergePieces,
  TextExplainError,
  type TextModel,
  tokenId,
} from "./text-encode.js";
import {
  type LabelExplanation,
  labelExplanation,
  type TextInteractions,
  type TokenAttribution,
} from "./text-explanation.js";

export { TextExplainError, type TextModel } from "./text-encode.js";
export type { TokenAttribution } from "./text-explanation.js";

/** Options of {@link explainText}. */
export interface ExplainTextOptions extends TextAttributionOptions {
  /** Class index or label name (default: the predicted class). */
  target?: number | string;
  /** Second text of a pair (question answering, NLI). */
  textPair?: string;
  /**
   * Tensor to attribute at instead of the embedding lookups (its baseline is the tensor's value
   * for the baseline ids).
   */
  layer?: string;
  /** Truncate texts longer than the model's maximum (default true; a warning is returned). */
  truncate?: boolean;
  /** Explain these token ids instead of tokenising `text` (e.g. to compare with a reference). */
  ids?: number[];
}

/** Result of {@link explainText}. */
export interface TextExplanation {
  task: "classification";
  tokens: TokenAttribution[];
  words: { word: string; score: number; tokens: number[]; sequence: number }[];
  /** Σ token scores − (F(x) − F(baseline)), the completeness delta. */
  delta: number;
  /** The predicted class, its label and softmax probability. */
  prediction: { index: number; label: string; probability: number };
  /** The explained class. */
  target: { index: number; label: string; probability: number };
  outputAtInput: number;
  outputAtBaseline: number;
  /** The attributed tensor(s). */
  layer: string;
  embedding: EmbeddingChoice;
  steps: number;
  method: QuadratureMethod;
  warnings: string[];
  interactions?: TextInteractions;
}

/** Explains a text classifier's prediction token by token and word by word. */
export async function explainText(
  textModel: TextModel,
  text: string,
  options: ExplainTextOptions,
): Promise<TextExplanation> {
  checkTextModel(textModel);
  const enc = encodeText(textModel, text, options);
  const outputs = await forward(options.backend, textModel, enc);
  const outName = textModel.model.graph!.output[0]!.name!;
  const logits = outputs[outName]!;
  const probs = softmax(logits.values);
  const predicted = argmax(probs);
  const labels = textModel.labels ?? probs.map((_, i) => `LABEL_${i}`);
  const targetIndex = resolveLabel(options.target, labels) ?? predicted;
  const explained = options.layer
    ? await atLayer(textModel, enc, targetIndex, options)
    : await attributeTokens(
        textModel,
        enc,
        [{ output: outName, index: targetIndex }],
        { [outName]: logits.dims.slice(1) },
        options,
      ).then((r) => ({ ...r, one: labelExplanation(enc, r.results[0]!, labels[targetIndex]!) }));
  const e = explained.one;
  return {
    task: "classification",
    tokens: e.tokens,
    words: e.words,
    delta: e.delta,
    prediction: {
      index: predicted,
      label: labels[predicted] ?? String(predicted),
      probability: probs[predicted]!,
    },
    target: {
      index: targetIndex,
      label: labels[targetIndex] ?? String(targetIndex),
      probability: probs[targetIndex]!,
    },
    outputAtInput: e.outputAtInput,
    outputAtBaseline: e.outputAtBaseline,
    layer: explained.layer,
    embedding: options.layer ? "word" : (options.embedding ?? "word"),
    steps: explained.steps,
    method: explained.method,
    warnings: enc.warnings,
    ...(e.interactions ? { interactions: e.interactions } : {}),
  };
}

/** A class given by index or (case-insensitive) name; undefined stays undefined. */
export function resolveLabel(target: number | string | undefined, names: string[]): number | undefined {
  if (target === undefined) return undefined;
  if (typeof target === "number") {
    if (!Number.isInteger(target) || target < 0 || target >= names.length) {
      throw new TextExplainError(
        `target ${target} is not a class of the model (0…${names.length - 1}: ${names.join(", ")})`,
      );
    }
    return target;
  }
  const k = names.findIndex((n) => n.toLowerCase() === target.toLowerCase());
  if (k < 0)
    throw new TextExplainError(`target "${target}" is not a label of the model (${names.join(", ")})`);
  return k;
}

/** Layer IG at a named tensor, the baseline being the tensor's value for the baseline ids. */
async function atLayer(
  tm: TextModel,
  enc: EncodedText,
  target: number,
  options: ExplainTextOptions,
): Promise<{ one: LabelExplanation; layer: string; steps: number; method: QuadratureMethod }> {
  const layer = options.layer!;
  const { input_ids: ids, ...extra } = modelFeeds(tm.model, enc);
  const pad = tokenId(tm.tokenizer, options.baselineToken ?? "pad");
  const baseIds = enc.ids.map((id, i) => (enc.special[i] ? id : pad));
  const r = await integratedGradients(tm.model, {
    backend: options.backend,
    inputs: { input_ids: ids! },
    extra,
    layer,
    baselineInputs: {
      input_ids: tensor(
        ids!.dtype,
        ids!.dims,
        ids!.dtype === "int32" ? Int32Array.from(baseIds) : BigInt64Array.from(baseIds, BigInt),
      ),
    },
    target,
    steps: options.steps ?? 50,
    tolerance: options.tolerance,
    method: options.method,
    onProgress: options.onProgress,
  });
  const a = r.attributions[layer]!;
  const t = enc.ids.length;
  const dim = a.data.length / t;
  const scores = Array.from({ length: t }, (_, i) => {
    let s = 0;
    for (let j = 0; j < dim; j++) s += a.data[i * dim + j]!;
    return s;
  });
  const label = tm.labels?.[target] ?? String(target);
  return {
    one: labelExplanation(
      enc,
      {
        scores,
        delta: r.delta[0]!,
        outputAtInput: r.outputAtInput[0]!,
        outputAtBaseline: r.outputAtBaseline[0]!,
      },
      label,
    ),
    layer,
    steps: r.steps,
    method: r.method,
  };
}

/** The output of the Gather that looks up input_ids in a 2-D embedding table. */
export function wordEmbeddingOutput(model: ModelProto): string {
  return embeddingLookups(model, "word")[0]!.output;
}

/** Sums sub-word pieces ("##…", or pieces without a word-start marker) into words. */
export function mergeWords(
  tokens: string[],
  scores: number[],
  special: boolean[],
): { list: { word: string; score: number; tokens: number[] }[]; owner: number[] } {
  const { words, owner } = mergePieces(tokens, special);
  return {
    list: words.map((w) => ({
      word: w.word,
      score: w.tokens.reduce((a, i) => a + scores[i]!, 0),
      tokens: w.tokens,
    })),
    owner,
  };
}
