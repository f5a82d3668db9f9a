/**
 * Text explanations in two lines (transformers-interpret for ONNX): tokenise with the model's
 * own tokenizer.json, run Integrated Gradients at the word-embedding output with a
 * [CLS] [PAD] … [SEP] baseline, sum over the embedding dimension per token and merge
 * sub-word pieces into words.
 *
 * @example
 * ```ts
 * const r = await explainText("examples/text-sentiment", "a wonderful film", { backend: nodeBackend() });
 * r.words; // [{ word: "a", score: … }, { word: "wonderful", score: … }, …]
 * ```
 */

import { integratedGradients } from "../attribution/ig.js";
import type { QuadratureMethod } from "../attribution/quadrature.js";
import { PathlensError } from "../errors.js";
import { dtypeOf, elemTypeOf } from "../onnx/model.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend } from "../runtime/backend.js";
import { classScores } from "../runtime/classify.js";
import { int64, type Tensor, tensor } from "../tensor/tensor.js";

/**
 * What the text explainer needs of a tokenizer. A `Tokenizer` of `@huggingface/tokenizers` (what
 * `loadTextModel` of `pathlens/node` reads from tokenizer.json) fits; so does anything with these methods, e.g.
 * in a browser.
 */
export interface TextTokenizer {
  /** Token ids (with the special tokens) and token type ids of a text, or of a pair of texts. */
  encode(
    text: string,
    options: { text_pair?: string | null; return_token_type_ids: true },
  ): { ids: number[]; token_type_ids: number[] };
  /** A token's id (undefined when not in the vocabulary). */
  token_to_id(token: string): number | undefined;
  /** A token id's text (undefined when not in the vocabulary). */
  id_to_token?(id: number): string | undefined;
  /** Present (non-null) when the tokenizer has a vocabulary model; token texts are shown then. */
  model?: unknown;
}

/** A tokenizer plus what the explainer needs to know about the model. */
export interface TextModel {
  model: ModelProto;
  /** The tokenizer (from tokenizer.json, with `loadTextModel` of `pathlens/node`). */
  tokenizer: TextTokenizer;
  /** Class names by index (config.json id2label). */
  labels?: string[];
  /** Longest input the model takes (position embeddings). */
  maxLength?: number;
  /** Where the model came from (for messages). */
  source?: string;
}

/** A problem with a text model, its tokenizer or the text. */
export class TextExplainError extends PathlensError {
  override name = "TextExplainError";
}

/** Options of {@link explainText}. */
export interface ExplainTextOptions {
  backend: Backend;
  /** Class index or label name (default: the predicted class). */
  target?: number | string;
  /** Second text of a pair (question answering, NLI). */
  textPair?: string;
  steps?: number;
  method?: QuadratureMethod;
  /** Token that replaces the non-special tokens in the baseline (default "pad"). */
  baselineToken?: "pad" | "unk" | "mask";
  /** Tensor to attribute at (default: the word-embedding output, found in the graph). */
  layer?: string;
  /** Truncate texts longer than the model's maximum (default true; a warning is returned). */
  truncate?: boolean;
  /** Explain these token ids instead of tokenising `text` (e.g. to compare with a reference). */
  ids?: number[];
  onProgress?: (p: { done: number; total: number }) => void;
}

/** One token's attribution. */
export interface TokenAttribution {
  token: string;
  id: number;
  score: number;
  special: boolean;
  /** Index of the word it belongs to (−1 for special tokens). */
  word: number;
}

/** Result of {@link explainText}. */
export interface TextExplanation {
  tokens: TokenAttribution[];
  words: { word: string; score: number; tokens: number[] }[];
  /** Σ token scores − (F(x) − F(baseline)), the completeness delta. */
  delta: number;
  /** The predicted class, its label and softmax probability. */
  prediction: { index: number; label: string; probability: number };
  /** The explained class. */
  target: { index: number; label: string; probability: number };
  outputAtInput: number;
  outputAtBaseline: number;
  layer: string;
  steps: number;
  method: QuadratureMethod;
  warnings: string[];
}

/** Explains a text classifier's prediction token by token and word by word. */
export async function explainText(
  textModel: TextModel,
  text: string,
  options: ExplainTextOptions,
): Promise<TextExplanation> {
  const { model, tokenizer } = textModel;
  const warnings: string[] = [];
  const inputNames = model.graph!.input.map((i) => i.name!);
  if (!inputNames.includes("input_ids")) {
    throw new TextExplainError(
      `${textModel.source ?? "the model"} has no input "input_ids" (inputs: ${inputNames.join(", ")})`,
    );
  }
  let ids: number[];
  let typeIds: number[];
  if (options.ids) {
    ids = [...options.ids];
    typeIds = ids.map(() => 0);
  } else {
    const enc = tokenizer.encode(text, { text_pair: options.textPair ?? null, return_token_type_ids: true });
    ids = enc.ids;
    typeIds = enc.token_type_ids;
  }
  const max = textModel.maxLength;
  if (max && ids.length > max) {
    if (options.truncate === false) {
      throw new TextExplainError(
        `the text has ${ids.length} tokens; the model takes at most ${max} (truncate it, or allow truncation)`,
      );
    }
    warnings.push(
      `the text has ${ids.length} tokens; only the first ${max - 1} and the final separator are explained`,
    );
    ids = [...ids.slice(0, max - 1), ids[ids.length - 1]!];
    typeIds = [...typeIds.slice(0, max - 1), typeIds[typeIds.length - 1]!];
  }
  const special = new Set(specialIds(tokenizer));
  const baselineId = tokenId(tokenizer, options.baselineToken ?? "pad");
  const baseIds = ids.map((id) => (special.has(id) ? id : baselineId));
  const t = ids.length;
  // ids as the model declares them (int64 in most exports, int32 in some)
  const ints = (name: string, values: number[]): Tensor => {
    const vi = model.graph!.input.find((i) => i.name === name);
    return dtypeOf(elemTypeOf(vi)) === "int32"
      ? tensor("int32", [1, t], Int32Array.from(values))
      : int64([1, t], values);
  };
  const feeds: Record<string, Tensor> = { input_ids: ints("input_ids", ids) };
  const extra: Record<string, Tensor> = {};
  if (inputNames.includes("attention_mask"))
    extra.attention_mask = ints("attention_mask", new Array(t).fill(1));
  if (inputNames.includes("token_type_ids")) extra.token_type_ids = ints("token_type_ids", typeIds);

  const { probabilities: probs, predicted } = await classScores(options.backend, model, {
    ...feeds,
    ...extra,
  });
  const labels = textModel.labels ?? probs.map((_, i) => `LABEL_${i}`);
  const targetIndex = resolveTarget(options.target, labels);
  const layer = options.layer ?? wordEmbeddingOutput(model);
  const r = await integratedGradients(model, {
    backend: options.backend,
    inputs: feeds,
    extra,
    layer,
    baselineInputs: { input_ids: ints("input_ids", baseIds) },
    target: targetIndex,
    steps: options.steps ?? 50,
    method: options.method,
    onProgress: options.onProgress,
  });
  const a = r.attributions[layer]!;
  const dim = a.data.length / t;
  const tokens = tokenizer.model ? ids.map((id) => tokenText(tokenizer, id)) : ids.map(String);
  const scores = Array.from({ length: t }, (_, i) => {
    let s = 0;
    for (let j = 0; j < dim; j++) s += a.data[i * dim + j]!;
    return s;
  });
  const words = mergeWords(
    tokens,
    scores,
    ids.map((id) => special.has(id)),
  );
  return {
    tokens: tokens.map((token, i) => ({
      token,
      id: ids[i]!,
      score: scores[i]!,
      special: special.has(ids[i]!),
      word: words.owner[i]!,
    })),
    words: words.list,
    delta: r.delta[0]!,
    prediction: {
      index: predicted,
      label: labels[predicted] ?? String(predicted),
      probability: probs[predicted]!,
    },
    target: {
      index: targetIndex ?? predicted,
      label: labels[targetIndex ?? predicted] ?? String(targetIndex),
      probability: probs[targetIndex ?? predicted]!,
    },
    outputAtInput: r.outputAtInput[0]!,
    outputAtBaseline: r.outputAtBaseline[0]!,
    layer,
    steps: r.steps,
    method: r.method,
    warnings,
  };

  function resolveTarget(target: number | string | undefined, names: string[]): number {
    if (target === undefined) return predicted;
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
}

/** The output of the Gather that looks up input_ids in a 2-D embedding table. */
export function wordEmbeddingOutput(model: ModelProto): string {
  const g = model.graph!;
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const idsNames = new Set(["input_ids"]);
  // ids may be cast first (int64 → int32)
  for (const n of g.node) if (n.opType === "Cast" && idsNames.has(n.input[0]!)) idsNames.add(n.output[0]!);
  const gather = g.node.find(
    (n) => n.opType === "Gather" && idsNames.has(n.input[1]!) && inits.get(n.input[0]!)?.dims.length === 2,
  );
  if (!gather)
    throw new TextExplainError(
      "could not find the word-embedding lookup (a Gather of input_ids); pass layer explicitly",
    );
  return gather.output[0]!;
}

/** Sums sub-word pieces ("##…", or pieces without a word-start marker) into words. */
export function mergeWords(
  tokens: string[],
  scores: number[],
  special: boolean[],
): { list: { word: string; score: number; tokens: number[] }[]; owner: number[] } {
  const list: { word: string; score: number; tokens: number[] }[] = [];
  const owner = tokens.map(() => -1);
  const byteLevel = tokens.some((t) => t.startsWith("Ġ") || t.startsWith("▁"));
  tokens.forEach((tok, i) => {
    if (special[i]) return;
    const continues =
      list.length > 0 &&
      !special[i - 1] &&
      (tok.startsWith("##") || (byteLevel && !tok.startsWith("Ġ") && !tok.startsWith("▁") && i > 0));
    const text = tok.replace(/^##/, "").replace(/^[Ġ▁]/, "");
    if (continues) {
      const w = list[list.length - 1]!;
      w.word += text;
      w.score += scores[i]!;
      w.tokens.push(i);
    } else list.push({ word: text, score: scores[i]!, tokens: [i] });
    owner[i] = list.length - 1;
  });
  return { list, owner };
}

function specialIds(tokenizer: TextTokenizer): number[] {
  const t = tokenizer as unknown as { all_special_ids?: number[] };
  if (t.all_special_ids?.length) return t.all_special_ids;
  return ["[CLS]", "[SEP]", "[PAD]", "<s>", "</s>", "<pad>"]
    .map((s) => tokenizer.token_to_id(s))
    .filter((v): v is number => v !== undefined);
}

function tokenId(tokenizer: TextTokenizer, kind: "pad" | "unk" | "mask"): number {
  const candidates = { pad: ["[PAD]", "<pad>"], unk: ["[UNK]", "<unk>"], mask: ["[MASK]", "<mask>"] }[kind];
  for (const c of candidates) {
    const id = tokenizer.token_to_id(c);
    if (id !== undefined) return id;
  }
  if (kind === "pad") return 0;
  throw new TextExplainError(`the tokenizer has no ${kind} token (${candidates.join(" / ")})`);
}

function tokenText(tokenizer: TextTokenizer, id: number): string {
  return tokenizer.id_to_token?.(id) ?? String(id);
}
