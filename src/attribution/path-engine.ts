/**
 * The engine under every path method: evaluates gradients at many path points in chunks of rows
 * (bounded memory whatever the number of steps) and accumulates weighted gradients per example.
 */
import type { GradientSession } from "../runtime/gradient-session.js";
import { allocate, type DataOf, sizeOf, type Tensor, tensor } from "../tensor/tensor.js";
import { ChunkPlan } from "./chunking.js";
import { AbortError, NonFiniteError } from "./errors.js";

/** One point on one example's path. */
export interface PathPoint {
  /** Example (row of the attributed inputs). */
  example: number;
  /** Quadrature weight of the gradient at this point. */
  weight: number;
  /** Free parameter for `fill` (α for straight lines, a sample index, …). */
  alpha: number;
  /** Optional second parameter (e.g. a reference index for Expected Gradients). */
  aux?: number;
}

/**
 * Path points produced on demand (so memory does not grow with the number of steps): `length`
 * points, the i-th from `at(i)`. A plain array works too.
 */
export interface PathPoints {
  readonly length: number;
  at(i: number): PathPoint;
}

/** Points of a grid: `perExample` points for each of `numExamples` examples, example-major. */
export function gridPoints(
  numExamples: number,
  perExample: number,
  point: (example: number, k: number) => PathPoint,
): PathPoints {
  return { length: numExamples * perExample, at: (i) => point(Math.floor(i / perExample), i % perExample) };
}

/** Progress report: gradient evaluations done out of the total planned. */
export interface Progress {
  done: number;
  total: number;
}

/** What {@link evaluatePath} needs to know. */
export interface PathProblem {
  session: GradientSession;
  /** Attributed tensor names and the per-example shape (without batch axis) and dtype of each. */
  attributed: { name: string; rowDims: number[]; dtype: "float32" | "float64" }[];
  /** Writes the value of `name` at `point` into dst[offset … offset + rowSize). */
  fill(name: string, point: PathPoint, dst: Float32Array | Float64Array, offset: number): void;
  /**
   * Optional per-point multiplier of the gradient (e.g. x − x' for Expected Gradients, the path
   * step for curved paths): writes into dst[0 … rowSize). Without it the raw gradient is summed.
   */
  direction?(name: string, point: PathPoint, dst: Float64Array): void;
  /** Inputs passed through unchanged, one row per example (batch axis 0). */
  passthrough: Record<string, Tensor>;
  /** The differentiated output and its per-example seed (batch axis 0). */
  output: string;
  seeds: Tensor;
  /** Rows per session run: a fixed number, or a {@link ChunkPlan} (the fastest within the memory budget). */
  chunkRows: number | ChunkPlan;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** Evaluations already done before this call (for progress over several calls). */
  progressOffset?: number;
  progressTotal?: number;
}

/** Accumulated result of {@link evaluatePath}. */
export interface PathAccumulation {
  /** Σ weight · gradient (⊙ direction) per attributed tensor: float64, shape [N, …rowDims]. */
  sums: Record<string, Float64Array>;
  /** Target value Σ seed ⊙ output at each point, in point order. */
  targetValues: Float64Array;
}

function pointAt(points: readonly PathPoint[] | PathPoints, i: number): PathPoint {
  return Array.isArray(points) ? (points as PathPoint[])[i]! : (points as PathPoints).at(i);
}

function rowsOf(t: Tensor): number {
  return t.dims.length === 0 ? 1 : t.dims[0]!;
}

/** Copies row `r` of `src` into `dst` at row `k` (rows of `rowSize` elements). */
function copyRow(src: Tensor, r: number, dst: Tensor["data"], k: number, rowSize: number): void {
  const s = src.data as unknown as { subarray(a: number, b: number): ArrayLike<unknown> };
  (dst as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(
    s.subarray(r * rowSize, (r + 1) * rowSize),
    k * rowSize,
  );
}

/**
 * Evaluates the gradient at every point, `chunkRows` points per session run (or as many as its
 * plan picks), and accumulates weight · gradient per example, in point order whatever the
 * chunks. Peak memory: one chunk of rows plus the accumulators.
 */
export async function evaluatePath(
  problem: PathProblem,
  points: readonly PathPoint[] | PathPoints,
  numExamples: number,
): Promise<PathAccumulation> {
  const { session, attributed } = problem;
  const sums: Record<string, Float64Array> = {};
  for (const a of attributed) sums[a.name] = new Float64Array(numExamples * sizeOf(a.rowDims));
  const targetValues = new Float64Array(points.length);
  const plan =
    typeof problem.chunkRows === "number"
      ? ChunkPlan.fixed(Math.max(1, Math.floor(problem.chunkRows)))
      : problem.chunkRows;
  const seedRow = sizeOf(problem.seeds.dims.slice(1));
  const seedDtype = problem.seeds.dtype;
  const dirBufs: Record<string, Float64Array> = {};
  for (const a of attributed) dirBufs[a.name] = new Float64Array(sizeOf(a.rowDims));
  const total = problem.progressTotal ?? points.length;
  const offset = problem.progressOffset ?? 0;

  // Feed buffers are allocated for the largest chunk so far and reused (smaller chunks use a
  // view of them): nothing grows with the steps.
  const buffers = new Map<string, Tensor["data"]>();
  const buffer = (name: string, dtype: Tensor["dtype"], length: number): Tensor["data"] => {
    let b = buffers.get(name);
    if (!b || b.length < length) {
      b = allocate(dtype, length);
      buffers.set(name, b);
    }
    return b.length === length ? b : (b.subarray(0, length) as Tensor["data"]);
  };
  const batch: PathPoint[] = [];
  for (let start = 0; start < points.length; start += batch.length) {
    if (problem.signal?.aborted) throw new AbortError("attribution cancelled");
    const chunk = plan.next(points.length - start);
    batch.length = 0;
    for (let i = start; i < Math.min(start + chunk, points.length); i++) batch.push(pointAt(points, i));
    const rows = batch.length;
    const feeds: Record<string, Tensor> = {};
    for (const a of attributed) {
      const rowSize = sizeOf(a.rowDims);
      const data = buffer(a.name, a.dtype, rows * rowSize) as Float32Array | Float64Array;
      batch.forEach((p, k) => problem.fill(a.name, p, data, k * rowSize));
      feeds[a.name] = tensor(a.dtype, [rows, ...a.rowDims], data);
    }
    for (const [name, t] of Object.entries(problem.passthrough)) {
      const rowSize = sizeOf(t.dims.slice(1));
      const data = buffer(name, t.dtype, rows * rowSize);
      batch.forEach((p, k) => copyRow(t, p.example, data, k, rowSize));
      feeds[name] = tensor(t.dtype, [rows, ...t.dims.slice(1)], data as DataOf[typeof t.dtype]);
    }
    const seedData = buffer("\u0000seed", seedDtype, rows * seedRow);
    batch.forEach((p, k) =>
      copyRow(problem.seeds, rowsOf(problem.seeds) === 1 ? 0 : p.example, seedData, k, seedRow),
    );
    const seeds = { [problem.output]: tensor(seedDtype, [rows, ...problem.seeds.dims.slice(1)], seedData) };

    const result = await session.run(feeds, seeds);
    const out = result.outputs[problem.output]!;
    const outRow = sizeOf(out.dims.slice(1));
    const sd = problem.seeds.data as Float32Array;
    const sharedSeed = rowsOf(problem.seeds) === 1;
    const od = out.data as Float32Array;
    for (let k = 0; k < rows; k++) {
      let v = 0;
      const sOff = (sharedSeed ? 0 : batch[k]!.example) * seedRow;
      for (let j = 0; j < outRow; j++) v += od[k * outRow + j]! * sd[sOff + j]!;
      targetValues[start + k] = v;
    }
    for (const a of attributed) {
      const g = result.gradients[a.name]!.data as Float32Array | Float64Array;
      const acc = sums[a.name]!;
      const rowSize = sizeOf(a.rowDims);
      const dir = dirBufs[a.name]!;
      // A NaN or Inf anywhere in g shows up in this sum (0·Inf is NaN too), so one check per
      // chunk replaces an element-by-element scan.
      let check = 0;
      for (let k = 0; k < rows; k++) {
        const p = batch[k]!;
        const base = p.example * rowSize;
        const gOff = k * rowSize;
        const w = p.weight;
        if (problem.direction) {
          problem.direction(a.name, p, dir);
          for (let j = 0; j < rowSize; j++) {
            const gj = g[gOff + j]!;
            check += gj;
            acc[base + j]! += w * gj * dir[j]!;
          }
        } else {
          for (let j = 0; j < rowSize; j++) {
            const gj = g[gOff + j]!;
            check += gj;
            acc[base + j]! += w * gj;
          }
        }
      }
      if (!Number.isFinite(check * 0)) {
        throw new NonFiniteError(
          `the gradient with respect to "${a.name}" is not finite (NaN or Inf) at a path point`,
        );
      }
    }
    problem.onProgress?.({ done: offset + start + rows, total });
  }
  return { sums, targetValues };
}
