/**
 * Infidelity (Yeh et al. 2019) with Captum's definition: for perturbations I_k of example x,
 * d_k = F(x) − F(x − I_k) and s_k = Σ_j attr_j · I_kj; infidelity = mean_k (s_k − d_k)², or with
 * `normalize` the same after scaling the attributions by β = Σ s·d / Σ s² (the best scale).
 * With `baselines` the perturbation is Captum's "decorated" one: I = (x − x̃)/(x − x') with
 * denominator 1 where x = x' (so attributions that already include (x − x') are compared fairly).
 */
import type { ModelProto } from "../../onnx/types.js";
import { Random } from "../../tensor/random.js";
import { shapeString, type Tensor, toFloat64 } from "../../tensor/tensor.js";
import { type Baseline, resolveBaseline } from "../baselines.js";
import { OptionError, ShapeMismatchError } from "../errors.js";
import { createScorer, type ScorerOptions } from "./scorer.js";

/** A perturbation of one example: returns the perturbation I and the perturbed input x̃. */
export type PerturbFunction = (
  x: Float64Array,
  example: number,
  sample: number,
) => { perturbation: Float64Array; perturbed: Float64Array };

/** Options of {@link infidelity}. */
export interface InfidelityOptions extends Omit<ScorerOptions, "name" | "x" | "softmax"> {
  /** The one attributed input, by name (batch axis 0). */
  inputs: Record<string, Tensor>;
  /** Attributions shaped like the input. */
  attributions: Tensor;
  /** Perturbations per example (default 10). */
  samples?: number;
  /**
   * Explicit noise, (N·samples, …) with sample k of example i at row i·samples + k: the perturbed
   * input is x − noise and the perturbation is the noise.
   */
  noise?: Tensor;
  /** A perturbation function (instead of `noise`). */
  perturb?: PerturbFunction;
  /** Without `noise` and `perturb`: Gaussian noise N(0, stdev²) (default stdev 0.1), seeded. */
  stdev?: number;
  seed?: number;
  /** Captum's decorated perturbation: I = (x − x̃)/(x − baseline), denominator 1 where equal. */
  baselines?: Baseline;
  /** Scale the attributions by the best β first (default false). */
  normalize?: boolean;
}

/** Infidelity per example (Captum's `infidelity`). */
export async function infidelity(model: ModelProto, o: InfidelityOptions): Promise<Float64Array> {
  const [name, x] = singleInput(o.inputs, "infidelity");
  const n = o.samples ?? (o.noise ? o.noise.dims[0]! / x.dims[0]! : 10);
  if (!Number.isInteger(n) || n < 1) throw new OptionError(`samples must be a positive integer, got ${n}`);
  const N = x.dims[0]!;
  const xs = toFloat64(x);
  const row = xs.length / N;
  const attr = toFloat64(o.attributions);
  if (attr.length !== xs.length) {
    throw new ShapeMismatchError(
      `attributions of shape ${shapeString(o.attributions.dims)} do not fit input "${name}" of shape ${shapeString(x.dims)}`,
    );
  }
  const perturb = perturbation(o, xs, N, row, n);
  const base = o.baselines === undefined ? undefined : toFloat64(resolveBaseline(o.baselines, x, name));
  const perturbed = new Float64Array(N * n * row);
  const s = new Float64Array(N * n);
  const examples: number[] = [];
  for (let i = 0; i < N; i++) {
    const xi = xs.subarray(i * row, (i + 1) * row);
    for (let k = 0; k < n; k++) {
      const p = perturb(xi, i, k);
      perturbed.set(p.perturbed, (i * n + k) * row);
      let dot = 0;
      for (let j = 0; j < row; j++) {
        let I = p.perturbation[j]!;
        if (base) {
          // Captum computes the decorated perturbation literally: (x − x̃) / (x − x')
          const den = xi[j]! - base[i * row + j]!;
          I = (xi[j]! - p.perturbed[j]!) / (den !== 0 ? den : 1);
        }
        dot += attr[i * row + j]! * I;
      }
      s[i * n + k] = dot;
      examples.push(i);
    }
  }
  const scorer = await createScorer(model, { ...o, name, x });
  try {
    const fx = await scorer.score(
      xs,
      Array.from({ length: N }, (_, i) => i),
    );
    const fp = await scorer.score(perturbed, examples);
    const out = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      let ss = 0;
      let sd = 0;
      let dd = 0;
      for (let k = 0; k < n; k++) {
        const si = s[i * n + k]!;
        const d = fx[i]! - fp[i * n + k]!;
        ss += si * si;
        sd += si * d;
        dd += d * d;
      }
      if (o.normalize) {
        const beta = sd / (ss !== 0 ? ss : 1);
        out[i] = (beta * beta * ss - 2 * beta * sd + dd) / n;
      } else out[i] = (ss - 2 * sd + dd) / n;
    }
    return out;
  } finally {
    await scorer.dispose();
  }
}

/** The one attributed input of a metric. */
export function singleInput(inputs: Record<string, Tensor>, what: string): [string, Tensor] {
  const entries = Object.entries(inputs);
  if (entries.length !== 1) {
    throw new OptionError(
      `${what} takes one attributed input; got ${entries.length} (${entries.map((e) => e[0]).join(", ")}): pass the others in extra`,
    );
  }
  const [name, x] = entries[0]!;
  if (x.dims.length === 0 || x.dims[0] === 0)
    throw new ShapeMismatchError(`input "${name}" needs a batch axis with rows`);
  return [name, x];
}

/** The perturbation of sample k of example i, from explicit noise, a function, or seeded noise. */
function perturbation(
  o: InfidelityOptions,
  xs: Float64Array,
  N: number,
  row: number,
  n: number,
): PerturbFunction {
  if (o.noise && o.perturb) throw new OptionError("give noise or perturb, not both");
  if (o.perturb) return o.perturb;
  if (o.noise) {
    const noise = toFloat64(o.noise);
    if (noise.length !== N * n * row) {
      throw new ShapeMismatchError(
        `noise of shape ${shapeString(o.noise.dims)} does not hold ${n} sample(s) for each of ${N} example(s) of ${row} values (expected [${N * n}, …])`,
      );
    }
    return (x, i, k) => {
      const I = noise.subarray((i * n + k) * row, (i * n + k + 1) * row);
      return { perturbation: I, perturbed: x.map((v, j) => v - I[j]!) };
    };
  }
  const stdev = o.stdev ?? 0.1;
  if (!(stdev > 0)) throw new OptionError(`stdev must be positive, got ${stdev}`);
  const rng = new Random(o.seed ?? 0);
  void xs;
  return (x) => {
    const I = x.map(() => stdev * rng.normal());
    return { perturbation: I, perturbed: x.map((v, j) => v - I[j]!) };
  };
}
