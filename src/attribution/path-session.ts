/**
 * What the single-input path methods (Guided IG, Blur IG) share: a prepared gradient session for
 * one attributed tensor, its seeds and chunk size, and "gradient at these points" in chunks.
 */
import { declaredDims } from "../onnx/model.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend, SessionOptions } from "../runtime/backend.js";
import { GradientSession } from "../runtime/gradient-session.js";
import { sizeOf, type Tensor } from "../tensor/tensor.js";
import { autoChunkRows, ChunkPlan } from "./chunking.js";
import { OptionError } from "./errors.js";
import { evaluatePath, type PathPoint, type Progress } from "./path-engine.js";
import { prepareAttribution } from "./prepare.js";
import { seedsForTarget, type Target } from "./targets.js";

/** Options every single-input path method takes. */
export interface PathSessionOptions {
  /** Runs the models (nodeBackend() from pathlens/node, webBackend() from pathlens/web). */
  backend: Backend;
  /** The one tensor to attribute, by graph input name (batch axis 0). */
  inputs: Record<string, Tensor>;
  /** Inputs passed through unchanged (batch axis 0). */
  extra?: Record<string, Tensor>;
  /** What is explained (class index, per-example indices, position, or weights). */
  target?: Target;
  /** Which output the target refers to (default: the first output). */
  output?: string;
  /** Rows per session run (default: from `memoryBudget`). */
  chunkSize?: number;
  /** Bytes one chunk's tensors may take (default 512 MiB). */
  memoryBudget?: number;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  session?: SessionOptions;
}

/** An open gradient session for one attributed tensor. */
export interface PathSession {
  session: GradientSession;
  /** The attributed tensor's name and value. */
  name: string;
  x: Tensor;
  rowDims: number[];
  rowSize: number;
  dtype: "float32" | "float64";
  numExamples: number;
  output: string;
  seeds: Tensor;
  passthrough: Record<string, Tensor>;
  /** Rows per run: the explicit chunk size, else the memory budget's cap. */
  chunkRows: number;
  /** How {@link gradientsAt} sizes its runs (the fastest within `chunkRows` unless a size was given). */
  chunkPlan: ChunkPlan;
}

/** Prepares the model (checks, pass-through inputs) and opens its gradient session. */
export async function openPathSession(
  model: ModelProto,
  options: PathSessionOptions,
  method: string,
): Promise<PathSession> {
  const names = Object.keys(options.inputs);
  if (names.length !== 1) {
    throw new OptionError(
      `${method} attributes one input tensor; got ${names.length} (${names.join(", ")}): pass the others in extra`,
    );
  }
  const prepared = await prepareAttribution(model, options);
  const name = names[0]!;
  const x = prepared.inputs[name]!;
  const session = await GradientSession.create(
    options.backend,
    prepared.attributedModel,
    { ...prepared.inputs, ...prepared.passthrough },
    { wrt: [name], outputs: [prepared.output], session: options.session },
  );
  try {
    const outInfo = session.shapes.get(prepared.output)!;
    const seeds = seedsForTarget(
      options.target,
      [prepared.numExamples, ...outInfo.dims.slice(1)],
      prepared.numExamples,
      outInfo.dtype as "float32" | "float64",
      prepared.output,
    );
    const declared = declaredDims(prepared.attributedModel.graph!.input.find((i) => i.name === name))?.[0];
    const chunkRows =
      options.chunkSize ??
      autoChunkRows(
        session.shapes,
        options.memoryBudget,
        typeof declared === "number" ? declared : undefined,
      );
    const rowDims = x.dims.slice(1);
    return {
      session,
      name,
      x,
      rowDims,
      rowSize: sizeOf(rowDims),
      dtype: x.dtype as "float32" | "float64",
      numExamples: prepared.numExamples,
      output: prepared.output,
      seeds,
      passthrough: prepared.passthrough,
      chunkRows,
      chunkPlan:
        options.chunkSize !== undefined
          ? ChunkPlan.fixed(chunkRows)
          : ChunkPlan.forShapes(
              session.shapes,
              options.memoryBudget,
              typeof declared === "number" ? declared : undefined,
            ),
    };
  } catch (e) {
    await session.dispose();
    throw e;
  }
}

/**
 * Gradients at explicit points, one point per listed example: `points` holds the rows
 * (examples.length × rowSize, float64). Returns the gradients (same layout, float64) and the
 * explained scalar at each point.
 */
export async function gradientsAt(
  ps: PathSession,
  points: Float64Array,
  examples: readonly number[],
  progress?: { onProgress?: (p: Progress) => void; signal?: AbortSignal; done: number; total: number },
): Promise<{ gradients: Float64Array; values: Float64Array }> {
  const rowSize = ps.rowSize;
  // each point accumulates into its own slot k (its "example" for the engine); the seeds and
  // pass-through rows of the real examples are gathered into the same order
  const slots: PathPoint[] = examples.map((_, k) => ({ example: k, alpha: k, weight: 1 }));
  const pick = (t: Tensor): Tensor => {
    const row = t.data.length / t.dims[0]!;
    const data = new (t.data.constructor as new (n: number) => Tensor["data"])(examples.length * row);
    examples.forEach((e, k) => {
      const src = t.data as unknown as { subarray(a: number, b: number): ArrayLike<number> };
      (data as unknown as { set(a: ArrayLike<number>, o: number): void }).set(
        src.subarray(e * row, (e + 1) * row),
        k * row,
      );
    });
    return { dtype: t.dtype, dims: [examples.length, ...t.dims.slice(1)], data } as Tensor;
  };
  const seeds = pick(ps.seeds);
  const passthrough = Object.fromEntries(Object.entries(ps.passthrough).map(([k, t]) => [k, pick(t)]));
  const acc = await evaluatePath(
    {
      session: ps.session,
      attributed: [{ name: ps.name, rowDims: ps.rowDims, dtype: ps.dtype }],
      fill: (_name, p, dst, offset) => {
        dst.set(points.subarray(p.example * rowSize, (p.example + 1) * rowSize), offset);
      },
      passthrough,
      output: ps.output,
      seeds,
      chunkRows: ps.chunkPlan,
      onProgress: progress?.onProgress,
      signal: progress?.signal,
      progressOffset: progress?.done,
      progressTotal: progress?.total,
    },
    slots,
    examples.length,
  );
  return { gradients: acc.sums[ps.name]!, values: acc.targetValues };
}
