/**
 * Expected Gradients (Erion et al. 2021, path_explain): Integrated Gradients with the baseline
 * and the path position sampled —
 *   EG_i(x) = E_{r ~ references, α ~ U(0,1)} [ (x_i − r_i) · ∂F(r + α(x − r))/∂x_i ],
 * estimated with `samples` seeded draws per example (or given (reference index, α) pairs, to
 * reproduce another implementation's draws). Completeness holds in expectation:
 * Σ_i EG_i ≈ F(x) − E_r F(r); the gap is reported as `delta`.
 */
import { encodeModel } from "../onnx/codec.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend, SessionOptions } from "../runtime/backend.js";
import { GradientSession } from "../runtime/gradient-session.js";
import { Random } from "../tensor/random.js";
import { sizeOf, type Tensor, type TensorLike, tensor, toTensor, toTensors } from "../tensor/tensor.js";
import { type BatchAxesOption, movesBatchAxes, withBatchAxes } from "./batch-axes.js";
import { assertPathBudget, type BudgetOptions } from "./budget.js";
import { autoChunkRows } from "./chunking.js";
import { assertFinite, OptionError, ShapeMismatchError } from "./errors.js";
import { evaluatePath, gridPoints, type PathProblem, type Progress } from "./path-engine.js";
import { prepareAttribution } from "./prepare.js";
import { seedsForTarget, type Target } from "./targets.js";

/** Options of {@link expectedGradients}. */
export interface ExpectedGradientsOptions extends BudgetOptions, BatchAxesOption {
  backend: Backend;
  /** The attributed tensor by input name (batch axis 0); with `layer`, the model inputs. */
  inputs: Record<string, TensorLike>;
  extra?: Record<string, TensorLike>;
  /** Reference data set: [M, …one example's shape] (with `layer`: values of the layer). */
  references: TensorLike;
  target?: Target;
  output?: string;
  layer?: string;
  /** Samples per example (default 200). */
  samples?: number;
  /** Seed of the reference and α draws (default 0). */
  seed?: number;
  /** Explicit draws instead: reference index and α per example and sample, each [N, K]. */
  draws?: { referenceIndex: ArrayLike<number | bigint>; alpha: ArrayLike<number> };
  chunkSize?: number;
  memoryBudget?: number;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  session?: SessionOptions;
}

/** Result of {@link expectedGradients}. */
export interface ExpectedGradientsResult {
  /** Attributions shaped like the attributed tensor (float64). */
  attributions: Record<string, Tensor<"float64">>;
  /** Σ attributions − (F(x) − mean_k F(r_k)) per example (zero only in expectation). */
  delta: Float64Array;
  outputAtInput: Float64Array;
  /** Mean F over each example's drawn references. */
  outputAtReferences: Float64Array;
  samples: number;
}

/**
 * Expected Gradients.
 *
 * @example
 * ```ts
 * const r = await expectedGradients(model, { backend: nodeBackend(), inputs: { input: x },
 *   references: trainingRows, samples: 200, seed: 0 });
 * ```
 */
export async function expectedGradients(
  model: ModelProto,
  given: ExpectedGradientsOptions,
): Promise<ExpectedGradientsResult> {
  if (movesBatchAxes(given)) return withBatchAxes(model, given, expectedGradients);
  const options = {
    ...given,
    inputs: toTensors(given.inputs),
    extra: toTensors(given.extra),
    references: toTensor(given.references, "references"),
  };
  const prepared = await prepareAttribution(model, options);
  const { attributedModel, passthrough, output, numExamples: n } = prepared;
  const names = Object.keys(prepared.inputs);
  if (names.length !== 1)
    throw new OptionError(`expected gradients attribute one tensor, got ${names.join(", ")}`);
  const name = names[0]!;
  const x = prepared.inputs[name]!;
  const rowDims = x.dims.slice(1);
  const row = sizeOf(rowDims);
  const refs = options.references;
  const m = refs.dims[0] ?? 0;
  if (m < 1 || sizeOf(refs.dims.slice(1)) !== row) {
    throw new ShapeMismatchError(
      `references must be [M, ${rowDims.join(", ")}], got [${refs.dims.join(", ")}]`,
    );
  }
  assertFinite(refs.data as Float32Array, "references");
  const { index, alpha, k } = draws(options, n, m);

  const session = await GradientSession.create(
    options.backend,
    attributedModel,
    { [name]: x, ...passthrough },
    {
      wrt: [name],
      outputs: [output],
      session: options.session,
    },
  );
  let sums: Float64Array;
  let fx: Float64Array;
  try {
    const outInfo = session.shapes.get(output)!;
    const seeds = seedsForTarget(
      options.target,
      [n, ...outInfo.dims.slice(1)],
      n,
      outInfo.dtype as "float32" | "float64",
      output,
    );
    const xd = x.data as Float32Array;
    const rd = refs.data as Float32Array;
    // K samples per example plus one point at x (α = 1, weight 0) for F(x).
    const points = gridPoints(n, k + 1, (e, s) =>
      s < k
        ? { example: e, alpha: alpha[e * k + s]!, weight: 1 / k, aux: index[e * k + s]! }
        : { example: e, alpha: 1, weight: 0, aux: -1 },
    );
    const problem: PathProblem = {
      session,
      attributed: [{ name, rowDims, dtype: x.dtype as "float32" | "float64" }],
      fill(_n, p, dst, offset) {
        const xo = p.example * row;
        if (p.aux! < 0) {
          for (let j = 0; j < row; j++) dst[offset + j] = xd[xo + j]!;
          return;
        }
        const ro = p.aux! * row;
        for (let j = 0; j < row; j++) dst[offset + j] = rd[ro + j]! + p.alpha * (xd[xo + j]! - rd[ro + j]!);
      },
      direction(_n, p, dst) {
        const xo = p.example * row;
        const ro = Math.max(0, p.aux!) * row;
        for (let j = 0; j < row; j++) dst[j] = xd[xo + j]! - rd[ro + j]!;
      },
      passthrough,
      output,
      seeds,
      chunkRows: options.chunkSize ?? autoChunkRows(session.shapes, options.memoryBudget),
      onProgress: options.onProgress,
      signal: options.signal,
    };
    const acc = await evaluatePath(problem, points, n);
    sums = acc.sums[name]!;
    fx = Float64Array.from({ length: n }, (_, e) => acc.targetValues[e * (k + 1) + k]!);
  } finally {
    await session.dispose();
  }

  // F at every drawn reference (one forward run over the distinct references used).
  const used = [...new Set(Array.from(index))].sort((a, b) => a - b);
  const refRows = tensor(refs.dtype, [used.length, ...rowDims]);
  used.forEach((r, q) =>
    (refRows.data as Float32Array).set(rd(refs).subarray(r * row, (r + 1) * row), q * row),
  );
  const fRef = await forwardTargets(options, attributedModel, name, refRows, passthrough, output, n);
  const at = new Map(used.map((r, q) => [r, q]));
  const fMean = Float64Array.from({ length: n }, (_, e) => {
    let s = 0;
    for (let q = 0; q < k; q++) s += fRef[e]![at.get(index[e * k + q]!)!]!;
    return s / k;
  });
  const delta = Float64Array.from({ length: n }, (_, e) => {
    let s = 0;
    for (let j = 0; j < row; j++) s += sums[e * row + j]!;
    return s - (fx[e]! - fMean[e]!);
  });
  return {
    attributions: { [name]: tensor("float64", x.dims, sums) },
    delta,
    outputAtInput: fx,
    outputAtReferences: fMean,
    samples: k,
  };
}

function rd(t: Tensor): Float32Array {
  return t.data as Float32Array;
}

/** The reference index and α of every (example, sample): drawn with the seed, or given. */
function draws(
  options: ExpectedGradientsOptions,
  n: number,
  m: number,
): { index: number[]; alpha: number[]; k: number } {
  if (options.draws) {
    const index = Array.from(options.draws.referenceIndex, Number);
    const alpha = Array.from(options.draws.alpha, Number);
    if (index.length !== alpha.length || index.length % n !== 0) {
      throw new OptionError(`draws: referenceIndex and alpha must both hold N × K values (N = ${n})`);
    }
    for (const i of index)
      if (!Number.isInteger(i) || i < 0 || i >= m)
        throw new OptionError(`draws: reference index ${i} is out of range (${m} references)`);
    return { index, alpha, k: index.length / n };
  }
  const k = options.samples ?? 200;
  if (!Number.isInteger(k) || k < 1) throw new OptionError(`samples must be a positive integer, got ${k}`);
  // Checked before the draws are made: K samples per example plus one point at x.
  assertPathBudget("Expected Gradients", n * (k + 1), `${k} samples + 1 × ${n} example(s)`, options);
  const rng = new Random(options.seed ?? 0);
  const index: number[] = [];
  const alpha: number[] = [];
  for (let i = 0; i < n * k; i++) {
    index.push(rng.int(m));
    alpha.push(rng.uniform());
  }
  return { index, alpha, k };
}

/** F_e(r) = Σ seed_e ⊙ output(r) for every example e and reference row r: [n][rows]. */
async function forwardTargets(
  options: ExpectedGradientsOptions,
  model: ModelProto,
  name: string,
  refs: Tensor,
  passthrough: Record<string, Tensor>,
  output: string,
  n: number,
): Promise<Float64Array[]> {
  const rows = refs.dims[0]!;
  const session = await options.backend.createSession(encodeModel(model), options.session);
  try {
    const out: Float64Array[] = [];
    const shared = Object.keys(passthrough).length === 0;
    let y: Tensor | undefined;
    for (let e = 0; e < n; e++) {
      if (!shared || !y) {
        // pass-through inputs (masks) of example e, repeated for every reference row
        const pass: Record<string, Tensor> = {};
        for (const [k, t] of Object.entries(passthrough)) {
          const size = sizeOf(t.dims.slice(1));
          const rep = tensor(t.dtype, [rows, ...t.dims.slice(1)]);
          for (let r = 0; r < rows; r++)
            (rep.data as Float32Array).set(
              (t.data as Float32Array).subarray(e * size, (e + 1) * size),
              r * size,
            );
          pass[k] = rep;
        }
        y = (await session.run({ [name]: refs, ...pass }, [output]))[output]!;
      }
      const yy = y;
      const seeds = seedsForTarget(
        options.target,
        [n, ...yy.dims.slice(1)],
        n,
        yy.dtype as "float32" | "float64",
        output,
      );
      const row = sizeOf(yy.dims.slice(1));
      const so = e * row;
      out.push(
        Float64Array.from({ length: rows }, (_, r) => {
          let s = 0;
          for (let j = 0; j < row; j++) s += Number(yy.data[r * row + j]) * Number(seeds.data[so + j]);
          return s;
        }),
      );
    }
    return out;
  } finally {
    await session.dispose();
  }
}
