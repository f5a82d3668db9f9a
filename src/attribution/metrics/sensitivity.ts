/**
 * Max-sensitivity (Yeh et al. 2019) with Captum's definition: the largest relative change of the
 * explanation under small input perturbations, max_k ‖E(x + δ_k) − E(x)‖_F / ‖E(x)‖_F
 * (denominator 1 when ‖E(x)‖ = 0), with δ_k ~ U(−radius, radius) unless given.
 */
import { Random } from "../../tensor/random.js";
import { shapeString, type Tensor, tensor, toFloat64 } from "../../tensor/tensor.js";
import { OptionError, ShapeMismatchError } from "../errors.js";

/**
 * An explanation method as a function: attributions for the rows of `x`, row r being a (possibly
 * perturbed) copy of example `examples[r]` (so per-example targets and baselines can follow).
 */
export type ExplanationFunction = (x: Tensor, examples: readonly number[]) => Promise<Tensor>;

/** Options of {@link sensitivityMax}. */
export interface SensitivityMaxOptions {
  /** The explained input (batch axis 0). */
  input: Tensor;
  /** Perturbations per example (default 10). */
  samples?: number;
  /** Explicit noise (N·samples, …), sample k of example i at row i·samples + k; x + noise is explained. */
  noise?: Tensor;
  /** Without `noise`: uniform noise in [−radius, radius] (default 0.02), seeded. */
  radius?: number;
  seed?: number;
}

/** Result of {@link sensitivityMax}. */
export interface SensitivityResult {
  /** max over samples, per example. */
  sensitivity: Float64Array;
  /** Every sample's relative change, (N × samples). */
  perSample: Float64Array;
}

/** Captum's `sensitivity_max` with the Frobenius norm. */
export async function sensitivityMax(
  explain: ExplanationFunction,
  o: SensitivityMaxOptions,
): Promise<SensitivityResult> {
  const x = o.input;
  const N = x.dims[0] ?? 0;
  if (x.dims.length === 0 || N === 0)
    throw new ShapeMismatchError("sensitivityMax: the input needs a batch axis with rows");
  const n = o.samples ?? (o.noise ? o.noise.dims[0]! / N : 10);
  if (!Number.isInteger(n) || n < 1) throw new OptionError(`samples must be a positive integer, got ${n}`);
  const xs = toFloat64(x);
  const row = xs.length / N;
  let noise: Float64Array;
  if (o.noise) {
    noise = toFloat64(o.noise);
    if (noise.length !== N * n * row) {
      throw new ShapeMismatchError(
        `noise of shape ${shapeString(o.noise.dims)} does not hold ${n} sample(s) for each of ${N} example(s) (expected [${N * n}, ${x.dims.slice(1).join(", ")}])`,
      );
    }
  } else {
    const r = o.radius ?? 0.02;
    if (!(r > 0)) throw new OptionError(`radius must be positive, got ${r}`);
    const rng = new Random(o.seed ?? 0);
    noise = Float64Array.from({ length: N * n * row }, () => (2 * rng.uniform() - 1) * r);
  }
  const perturbed = tensor(x.dtype as "float32" | "float64", [N * n, ...x.dims.slice(1)]);
  const examples: number[] = [];
  for (let i = 0; i < N; i++)
    for (let k = 0; k < n; k++) {
      for (let j = 0; j < row; j++)
        perturbed.data[(i * n + k) * row + j] = xs[i * row + j]! + noise[(i * n + k) * row + j]!;
      examples.push(i);
    }
  const e0 = toFloat64(
    await explain(
      x,
      Array.from({ length: N }, (_, i) => i),
    ),
  );
  const e1 = toFloat64(await explain(perturbed, examples));
  const size = e0.length / N;
  if (e1.length !== N * n * size)
    throw new ShapeMismatchError("the explanation of the perturbed rows has the wrong size");
  const perSample = new Float64Array(N * n);
  const sensitivity = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    let norm0 = 0;
    for (let j = 0; j < size; j++) norm0 += e0[i * size + j]! ** 2;
    const den = Math.sqrt(norm0) || 1;
    let best = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < n; k++) {
      let d = 0;
      for (let j = 0; j < size; j++) d += (e1[(i * n + k) * size + j]! - e0[i * size + j]!) ** 2;
      const v = Math.sqrt(d) / den;
      perSample[i * n + k] = v;
      best = Math.max(best, v);
    }
    sensitivity[i] = best;
  }
  return { sensitivity, perSample };
}
