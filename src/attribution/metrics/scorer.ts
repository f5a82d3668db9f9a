/**
 * The forward pass the metrics need: the explained scalar Σ seed ⊙ output (optionally of the
 * softmax of the output row) at many perturbed copies of the inputs, run in chunks of rows.
 */

import { encodeModel } from "../../onnx/codec.js";
import { UnknownTensorError } from "../../onnx/graph.js";
import type { ModelProto } from "../../onnx/types.js";
import type { Backend, Session, SessionOptions } from "../../runtime/backend.js";
import { allocate, sizeOf, type Tensor, tensor } from "../../tensor/tensor.js";
import { NonFiniteError, OptionError, ShapeMismatchError } from "../errors.js";
import { seedsForTarget, type Target } from "../targets.js";

/** Options of `createScorer`. */
export interface ScorerOptions {
  backend: Backend;
  /** The attributed input's name and value (batch axis 0). */
  name: string;
  x: Tensor;
  /** Other model inputs, one row per example. */
  extra?: Record<string, Tensor>;
  target?: Target;
  output?: string;
  /** Score the softmax of the output row instead of the raw output (probabilities). */
  softmax?: boolean;
  /** Rows per run (default 256). */
  chunkRows?: number;
  session?: SessionOptions;
}

/** Scores perturbed copies of the examples. */
export interface Scorer {
  /** The explained scalar at rows (each `rowSize` values, float64) that belong to `examples`. */
  score(rows: Float64Array, examples: readonly number[]): Promise<Float64Array>;
  rowSize: number;
  numExamples: number;
  dispose(): Promise<void>;
}

/** Opens a session on `model` and returns a {@link Scorer} for the attributed input. */
export async function createScorer(model: ModelProto, o: ScorerOptions): Promise<Scorer> {
  const graphInputs = model.graph!.input.map((i) => i.name!);
  if (!graphInputs.includes(o.name)) throw new UnknownTensorError(o.name, graphInputs, "model input");
  const outputs = model.graph!.output.map((v) => v.name!);
  const output = o.output ?? outputs[0]!;
  if (!outputs.includes(output)) throw new UnknownTensorError(output, outputs, "output");
  const N = o.x.dims[0] ?? 0;
  if (o.x.dims.length === 0 || N === 0)
    throw new ShapeMismatchError(`input "${o.name}" needs a batch axis with rows`);
  const rowDims = o.x.dims.slice(1);
  const rowSize = sizeOf(rowDims);
  const dtype = o.x.dtype as "float32" | "float64";
  const chunk = o.chunkRows ?? 256;
  if (!(chunk >= 1)) throw new OptionError(`chunkRows must be at least 1, got ${chunk}`);
  const session: Session = await o.backend.createSession(encodeModel(model), o.session);
  let seeds: Tensor | undefined;
  const extraRow = (t: Tensor) => sizeOf(t.dims.slice(1));

  const score = async (rows: Float64Array, examples: readonly number[]): Promise<Float64Array> => {
    if (rows.length !== examples.length * rowSize) {
      throw new ShapeMismatchError(`${rows.length} values for ${examples.length} rows of ${rowSize}`);
    }
    const out = new Float64Array(examples.length);
    for (let start = 0; start < examples.length; start += chunk) {
      const m = Math.min(chunk, examples.length - start);
      const data = allocate(dtype, m * rowSize);
      data.set(rows.subarray(start * rowSize, (start + m) * rowSize));
      const feeds: Record<string, Tensor> = { [o.name]: tensor(dtype, [m, ...rowDims], data) };
      for (const [k, t] of Object.entries(o.extra ?? {})) {
        const r = extraRow(t);
        const d = allocate(t.dtype, m * r) as unknown as { set(a: ArrayLike<unknown>, off: number): void };
        for (let i = 0; i < m; i++) {
          const e = examples[start + i]!;
          d.set(
            (t.data as unknown as { subarray(a: number, b: number): ArrayLike<unknown> }).subarray(
              e * r,
              (e + 1) * r,
            ),
            i * r,
          );
        }
        feeds[k] = tensor(t.dtype, [m, ...t.dims.slice(1)], d as unknown as Tensor["data"]);
      }
      const y = (await session.run(feeds, [output]))[output]!;
      const outRow = sizeOf(y.dims.slice(1));
      seeds ??= seedsForTarget(o.target, [N, ...y.dims.slice(1)], N, "float64", output);
      const sd = seeds.data as Float64Array;
      const yd = y.data as Float32Array;
      const p = new Float64Array(outRow);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < outRow; j++) p[j] = yd[i * outRow + j]!;
        if (o.softmax) softmaxInPlace(p);
        const e = examples[start + i]!;
        let v = 0;
        for (let j = 0; j < outRow; j++) v += p[j]! * sd[e * outRow + j]!;
        if (!Number.isFinite(v))
          throw new NonFiniteError(`output "${output}" is not finite at a perturbed input of example ${e}`);
        out[start + i] = v;
      }
    }
    return out;
  };
  return { score, rowSize, numExamples: N, dispose: () => session.dispose() };
}

function softmaxInPlace(p: Float64Array): void {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of p) max = Math.max(max, v);
  let s = 0;
  for (let j = 0; j < p.length; j++) s += p[j] = Math.exp(p[j]! - max);
  for (let j = 0; j < p.length; j++) p[j]! /= s;
}
