/**
 * The engine under every transformer task: for an encoded text and a list of explained outputs
 * (a class logit, one token's entity logit, a start logit, any weighting of an output), Integrated
 * Gradients at the chosen embeddings — one gradient session per explained output tensor, the
 * explained outputs of one tensor batched as examples — summed over the embedding dimension per
 * token; optionally token-pair Integrated Hessians.
 */
import { integratedGradients } from "../attribution/ig.js";
import { integratedHessians } from "../attribution/interactions.js";
import type { Progress } from "../attribution/path-engine.js";
import type { QuadratureMethod } from "../attribution/quadrature.js";
import { encodeModel } from "../onnx/codec.js";
import { dtypeOf, elemTypeOf } from "../onnx/model.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend } from "../runtime/backend.js";
import { float32, int64, type Tensor, tensor } from "../tensor/tensor.js";
import { type ScoredOutput, type ScoreKind, scoreOutputs, withScore } from "./scorer.js";
import {
  EMBEDDINGS_INPUT,
  type EmbeddingChoice,
  type EmbeddingLookup,
  embeddingLookups,
  embeddingModel,
  lookupModel,
  sideBySide,
  tableRows,
} from "./text-embeddings.js";
import { type EncodedText, TextExplainError, type TextModel, tokenId } from "./text-encode.js";

/** Options shared by every text explainer. */
export interface TextAttributionOptions {
  backend: Backend;
  /** Embeddings to attribute to (default "word"); "all" sums word, position and token type per token. */
  embedding?: EmbeddingChoice;
  /**
   * Quadrature points (default 50), or "auto": trapezoid doubling until |delta| ≤ tolerance ·
   * |F(x) − F(x′)| for every explained output.
   */
  steps?: number | "auto";
  /** With steps "auto" (default 1e-3). */
  tolerance?: number;
  method?: QuadratureMethod;
  /** Token that replaces the non-special tokens in the word baseline (default "pad"). */
  baselineToken?: "pad" | "unk" | "mask";
  /** Also compute token-pair Integrated Hessians (true: as many points per axis as `interactionSteps`). */
  interactions?: boolean;
  /** Gauss–Legendre points per axis of the Integrated Hessians (default 16). */
  interactionSteps?: number;
  onProgress?: (p: Progress) => void;
}

/** One explained scalar: a weighting of one output of one example (a one-hot for a logit). */
export interface ExplainedOutput {
  output: string;
  /** Flat index into one example's output, or weights shaped like it. */
  index: number | Float64Array;
  /** Explain the logits (default) or their softmax / sigmoid over the last axis. */
  score?: ScoreKind;
}

/** Attributions of one explained scalar. */
export interface TokenScores {
  /** Per token, summed over the embedding dimension (and over the kinds with "all"). */
  scores: number[];
  delta: number;
  outputAtInput: number;
  outputAtBaseline: number;
  /** Token × token Integrated Hessians, row-major, when asked. */
  interactions?: Float64Array;
  /** Σ Γ − (F(x) − F(x')) of the interactions. */
  interactionDelta?: number;
}

/** The model's own inputs for an encoded text, in the dtypes it declares. */
export function modelFeeds(model: ModelProto, enc: EncodedText): Record<string, Tensor> {
  const t = enc.ids.length;
  const inputs = model.graph!.input.map((i) => i.name!);
  const ints = (name: string, values: number[]): Tensor => {
    const vi = model.graph!.input.find((i) => i.name === name);
    return dtypeOf(elemTypeOf(vi)) === "int32"
      ? tensor("int32", [1, t], Int32Array.from(values))
      : int64([1, t], values);
  };
  const feeds: Record<string, Tensor> = { input_ids: ints("input_ids", enc.ids) };
  if (inputs.includes("attention_mask"))
    feeds.attention_mask = ints(
      "attention_mask",
      enc.ids.map(() => 1),
    );
  if (inputs.includes("token_type_ids")) feeds.token_type_ids = ints("token_type_ids", enc.typeIds);
  if (inputs.includes("position_ids"))
    feeds.position_ids = ints(
      "position_ids",
      enc.ids.map((_, i) => i),
    );
  const missing = inputs.filter((n) => !(n in feeds));
  if (missing.length)
    throw new TextExplainError(
      `the model needs input(s) ${missing.join(", ")} that a tokenizer does not give`,
    );
  return feeds;
}

/** Checks that the model takes input_ids. */
export function checkTextModel(tm: TextModel): void {
  const inputs = tm.model.graph!.input.map((i) => i.name!);
  if (!inputs.includes("input_ids")) {
    throw new TextExplainError(
      `${tm.source ?? "the model"} has no input "input_ids" (inputs: ${inputs.join(", ")})`,
    );
  }
}

/** One forward run on the encoded text: every output (the shared scorer). */
export function forward(
  backend: Backend,
  tm: TextModel,
  enc: EncodedText,
): Promise<Record<string, ScoredOutput>> {
  return scoreOutputs(backend, tm.model, modelFeeds(tm.model, enc));
}

/** Input and baseline rows [tokens, k·dim] of the chosen embeddings. */
async function embeddingsAndBaseline(
  tm: TextModel,
  enc: EncodedText,
  lookups: EmbeddingLookup[],
  options: TextAttributionOptions,
): Promise<{ x: Float32Array; baseline: Float32Array }> {
  const t = enc.ids.length;
  const dim = lookups[0]!.dim;
  const session = await options.backend.createSession(encodeModel(lookupModel(tm.model, lookups)));
  let values: Record<string, Tensor>;
  try {
    const feeds = modelFeeds(tm.model, enc);
    const wanted = new Set(session.inputNames);
    values = await session.run(Object.fromEntries(Object.entries(feeds).filter(([k]) => wanted.has(k))));
  } finally {
    await session.dispose();
  }
  const parts = lookups.map((l) => {
    const v = values[l.output]!;
    if (v.data.length !== t * dim)
      throw new TextExplainError(
        `the ${l.kind} embedding "${l.output}" has shape [${v.dims.join(", ")}]; expected ${t} × ${dim} values`,
      );
    return Float32Array.from(v.data as Float32Array);
  });
  const pad = tokenId(tm.tokenizer, options.baselineToken ?? "pad");
  const bases = lookups.map((l) =>
    l.kind === "word"
      ? tableRows(
          tm.model,
          l,
          enc.ids.map((id, i) => (enc.special[i] ? id : pad)),
        )
      : tableRows(
          tm.model,
          l,
          enc.ids.map(() => 0),
        ),
  );
  return { x: sideBySide(parts, t, dim), baseline: sideBySide(bases, t, dim) };
}

function repeatRows(row: Float32Array, n: number, dims: number[]): Tensor {
  const out = new Float32Array(row.length * n);
  for (let k = 0; k < n; k++) out.set(row, k * row.length);
  return float32([n, ...dims], out);
}

function repeatInts(t: Tensor, n: number): Tensor {
  const row = t.data.length;
  const data = t.dtype === "int32" ? new Int32Array(row * n) : new BigInt64Array(row * n);
  for (let k = 0; k < n; k++) (data as Int32Array).set(t.data as Int32Array, k * row);
  return tensor(t.dtype, [n, ...t.dims.slice(1)], data);
}

/** One seed row per explained scalar of one output: a one-hot, or the given weights. */
function seedWeights(explained: ExplainedOutput[], row: number[]): Float32Array {
  const size = row.reduce((a, b) => a * b, 1);
  const weights = new Float32Array(explained.length * size);
  explained.forEach((e, k) => {
    if (typeof e.index !== "number") {
      if (e.index.length !== size)
        throw new TextExplainError(
          `${e.index.length} weights given for output "${e.output}" (${size} values)`,
        );
      weights.set(Float32Array.from(e.index), k * size);
    } else if (Number.isInteger(e.index) && e.index >= 0 && e.index < size) weights[k * size + e.index] = 1;
    else throw new TextExplainError(`index ${e.index} is outside output "${e.output}" (${size} values)`);
  });
  return weights;
}

/** Example k's attributions [tokens, width] summed per token. */
function tokenSums(a: ArrayLike<number>, k: number, t: number, width: number): number[] {
  return Array.from({ length: t }, (_, i) => {
    let s = 0;
    for (let j = 0; j < width; j++) s += a[(k * t + i) * width + j]!;
    return s;
  });
}

/**
 * Attributions of each explained scalar to the tokens of `enc`. `rowDims` gives the shape of one
 * example's output per output name (from a forward run).
 */
export async function attributeTokens(
  tm: TextModel,
  enc: EncodedText,
  explained: ExplainedOutput[],
  rowDims: Record<string, number[]>,
  options: TextAttributionOptions,
): Promise<{ results: TokenScores[]; layer: string; steps: number; method: QuadratureMethod }> {
  const config = tm.config ?? {};
  const lookups = embeddingLookups(tm.model, options.embedding ?? "word", {
    maxPositions: Number(config.max_position_embeddings) || undefined,
    typeVocabSize: Number(config.type_vocab_size) || undefined,
  });
  const t = enc.ids.length;
  const width = lookups.length * lookups[0]!.dim;
  const { x, baseline } = await embeddingsAndBaseline(tm, enc, lookups, options);
  const base = embeddingModel(tm.model, lookups);
  const feeds = modelFeeds(tm.model, enc);
  const keep = new Set(base.graph!.input.map((i) => i.name!));
  const results: TokenScores[] = new Array(explained.length);
  let used = 0;
  let method: QuadratureMethod = options.method ?? "gausslegendre";
  const groups = new Map<string, number[]>();
  explained.forEach((e, k) => {
    const key = `${e.output}|${e.score ?? "logit"}`;
    groups.set(key, [...(groups.get(key) ?? []), k]);
  });
  for (const members of groups.values()) {
    const first = explained[members[0]!]!;
    const { model, output } = withScore(base, first.output, first.score ?? "logit");
    const row = rowDims[first.output];
    if (!row) throw new TextExplainError(`the model has no output "${first.output}"`);
    const n = members.length;
    const weights = seedWeights(
      members.map((m) => explained[m]!),
      row,
    );
    const inputs = { [EMBEDDINGS_INPUT]: repeatRows(x, n, [t, width]) };
    const extra = Object.fromEntries(
      Object.entries(feeds)
        .filter(([k]) => keep.has(k))
        .map(([k, v]) => [k, repeatInts(v, n)]),
    );
    const baselines = repeatRows(baseline, n, [t, width]);
    const target = float32([n, ...row], weights);
    const r = await integratedGradients(model, {
      backend: options.backend,
      inputs,
      extra,
      baselines,
      output,
      target,
      steps: options.steps ?? 50,
      tolerance: options.tolerance,
      method,
      onProgress: options.onProgress,
    });
    used = Math.max(used, r.steps);
    method = r.method;
    const a = r.attributions[EMBEDDINGS_INPUT]!.data;
    members.forEach((m, k) => {
      results[m] = {
        scores: tokenSums(a, k, t, width),
        delta: r.delta[k]!,
        outputAtInput: r.outputAtInput[k]!,
        outputAtBaseline: r.outputAtBaseline[k]!,
      };
    });
    if (options.interactions) {
      const ih = await integratedHessians(model, {
        backend: options.backend,
        inputs,
        extra,
        baselines,
        output,
        target,
        groupAxes: [1],
        steps: options.interactionSteps ?? 16,
        onProgress: options.onProgress,
      });
      members.forEach((m, k) => {
        results[m]!.interactions = Float64Array.from(
          ih.interactions.data.subarray(k * t * t, (k + 1) * t * t),
        );
        results[m]!.interactionDelta = ih.completenessDelta?.[k];
      });
    }
  }
  return { results, layer: lookups.map((l) => l.output).join(" + "), steps: used, method };
}
