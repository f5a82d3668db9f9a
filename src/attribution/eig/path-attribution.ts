/**
 * Attributions along an arbitrary discretised path γ_0 … γ_m in the model's input space:
 *   left:      A = Σ_{k<m} ∇F(γ_k) ⊙ (γ_{k+1} − γ_k)
 *   trapezoid: A = Σ_{k<m} ½(∇F(γ_k) + ∇F(γ_{k+1})) ⊙ (γ_{k+1} − γ_k)
 * The trapezoid sum is evaluated as Σ_k ∇F(γ_k) ⊙ ½(Δ_{k−1} + Δ_k), so each gradient is computed
 * once. Completeness: Σ A ≈ F(γ_m) − F(γ_0), the gap is reported as delta.
 */
import type { ModelProto } from "../../onnx/types.js";
import type { Backend, SessionOptions } from "../../runtime/backend.js";
import { GradientSession } from "../../runtime/gradient-session.js";
import { sizeOf, type Tensor, tensor } from "../../tensor/tensor.js";
import { autoChunkRows } from "../chunking.js";
import { OptionError, ShapeMismatchError } from "../errors.js";
import { evaluatePath, gridPoints, type PathProblem, type Progress } from "../path-engine.js";
import { seedsForTarget, type Target } from "../targets.js";

/** How the path integral is discretised. */
export type PathRule = "left" | "trapezoid";

/** Options of {@link pathAttributions}. */
export interface PathAttributionOptions {
  backend: Backend;
  /** The model input the paths live in. */
  input: string;
  /** One example's input dims (without the batch axis). */
  rowDims: number[];
  dtype?: "float32" | "float64";
  /** Per example: (m + 1) points × row size, row-major (all examples the same m). */
  paths: Float64Array[];
  target?: Target;
  output?: string;
  /** Inputs passed through, one row per example. */
  extra?: Record<string, Tensor>;
  rule?: PathRule;
  chunkSize?: number;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  session?: SessionOptions;
}

/** Result of {@link pathAttributions}. */
export interface PathAttribution {
  /** [N, …rowDims] float64. */
  attributions: Tensor<"float64">;
  /** Σ attributions − (F(γ_m) − F(γ_0)) per example. */
  delta: Float64Array;
  fStart: Float64Array;
  fEnd: Float64Array;
}

/** Attributions along given paths (see the module comment). */
export async function pathAttributions(
  model: ModelProto,
  options: PathAttributionOptions,
): Promise<PathAttribution> {
  const rule = options.rule ?? "trapezoid";
  if (rule !== "left" && rule !== "trapezoid")
    throw new OptionError(`rule must be "left" or "trapezoid", got "${rule}"`);
  const n = options.paths.length;
  const row = sizeOf(options.rowDims);
  const m = options.paths[0]!.length / row - 1;
  if (!Number.isInteger(m) || m < 1)
    throw new ShapeMismatchError(`a path needs at least 2 points of ${row} values`);
  for (const p of options.paths)
    if (p.length !== (m + 1) * row) throw new ShapeMismatchError("all paths need the same number of points");
  const dtype = options.dtype ?? "float32";
  const extra = options.extra ?? {};
  const probe = tensor(dtype, [n, ...options.rowDims]);
  options.paths.forEach((p, e) =>
    (probe.data as Float32Array).set(p.subarray(m * row, (m + 1) * row), e * row),
  );
  const output = options.output ?? model.graph!.output[0]!.name!;
  const session = await GradientSession.create(
    options.backend,
    model,
    { [options.input]: probe, ...extra },
    {
      wrt: [options.input],
      outputs: [output],
      session: options.session,
    },
  );
  try {
    const info = session.shapes.get(output)!;
    const seeds = seedsForTarget(
      options.target,
      [n, ...info.dims.slice(1)],
      n,
      info.dtype as "float32" | "float64",
      output,
    );
    const problem: PathProblem = {
      session,
      attributed: [{ name: options.input, rowDims: options.rowDims, dtype }],
      fill(_name, p, dst, offset) {
        dst.set(options.paths[p.example]!.subarray(p.alpha * row, (p.alpha + 1) * row), offset);
      },
      direction(_name, p, dst) {
        const path = options.paths[p.example]!;
        const k = p.alpha;
        for (let j = 0; j < row; j++) {
          const next = k < m ? path[(k + 1) * row + j]! - path[k * row + j]! : 0;
          if (rule === "left") dst[j] = next;
          else {
            const prev = k > 0 ? path[k * row + j]! - path[(k - 1) * row + j]! : 0;
            dst[j] = 0.5 * (prev + next);
          }
        }
      },
      passthrough: extra,
      output,
      seeds,
      chunkRows: options.chunkSize ?? autoChunkRows(session.shapes),
      onProgress: options.onProgress,
      signal: options.signal,
    };
    // point k of example e: `alpha` carries the point index; every point has weight 1
    const acc = await evaluatePath(
      problem,
      gridPoints(n, m + 1, (example, k) => ({ example, alpha: k, weight: 1 })),
      n,
    );
    const sums = acc.sums[options.input]!;
    const fStart = Float64Array.from({ length: n }, (_, e) => acc.targetValues[e * (m + 1)]!);
    const fEnd = Float64Array.from({ length: n }, (_, e) => acc.targetValues[e * (m + 1) + m]!);
    const delta = Float64Array.from({ length: n }, (_, e) => {
      let s = 0;
      for (let j = 0; j < row; j++) s += sums[e * row + j]!;
      return s - (fEnd[e]! - fStart[e]!);
    });
    return { attributions: tensor("float64", [n, ...options.rowDims], sums), delta, fStart, fEnd };
  } finally {
    await session.dispose();
  }
}
