/**
 * The path methods behind one signature, so metrics (sensitivity-max) and comparisons can run
 * any of them on perturbed copies of the examples: per-example targets and baselines follow the
 * rows to the example each row copies.
 */
import type { ModelProto } from "../../onnx/types.js";
import type { Backend } from "../../runtime/backend.js";
import { sizeOf, type Tensor, tensor } from "../../tensor/tensor.js";
import type { Baseline } from "../baselines.js";
import { blurIntegratedGradients } from "../blur-ig.js";
import { OptionError } from "../errors.js";
import { guidedIntegratedGradients, type PathMethodResult } from "../guided-ig.js";
import { integratedGradients } from "../ig.js";
import { noiseTunnel } from "../noise-tunnel.js";
import type { QuadratureMethod } from "../quadrature.js";
import type { Target } from "../targets.js";
import type { ExplanationFunction } from "./sensitivity.js";

/** The methods {@link explainWith} runs. */
export const PATH_METHODS = ["ig", "guided_ig", "blur_ig", "smoothgrad"] as const;
/** One of {@link PATH_METHODS}. */
export type PathMethod = (typeof PATH_METHODS)[number];

/** Settings shared by the methods (each reads the ones it uses). */
export interface MethodSettings {
  backend: Backend;
  /** Attributed input name. */
  name: string;
  extra?: Record<string, Tensor>;
  target?: Target;
  output?: string;
  /** IG, Guided IG, SmoothGrad: the baseline (default zero); a tensor may hold one row per example. */
  baselines?: Baseline;
  /** Steps of the method (IG default 50, Guided IG 200, Blur IG 100). */
  steps?: number;
  /** IG's quadrature (default gausslegendre). */
  quadrature?: QuadratureMethod;
  fraction?: number;
  maxDist?: number;
  maxSigma?: number;
  gradStep?: number;
  sqrt?: boolean;
  /** SmoothGrad: noisy copies and noise level. */
  samples?: number;
  stdev?: number;
  seed?: number;
  chunkSize?: number;
}

/** Rows `examples` of a per-example tensor (else the tensor unchanged). */
function pickRows(t: Tensor, examples: readonly number[], numExamples: number): Tensor {
  if (t.dims[0] !== numExamples || t.dims.length < 1) return t;
  const row = sizeOf(t.dims.slice(1));
  const out = tensor(t.dtype, [examples.length, ...t.dims.slice(1)]);
  // typed-array copies keep every dtype as it is (int64 masks stay BigInt64Array)
  const src = t.data as unknown as { subarray(a: number, b: number): ArrayLike<unknown> };
  const dst = out.data as unknown as { set(a: ArrayLike<unknown>, offset: number): void };
  examples.forEach((e, k) => dst.set(src.subarray(e * row, (e + 1) * row), k * row));
  return out;
}

function isTensor(t: unknown): t is Tensor {
  return typeof t === "object" && t !== null && "dims" in t && "data" in t;
}

/** Settings for rows that copy `examples` of the original `numExamples`. */
function forRows(s: MethodSettings, examples: readonly number[], numExamples: number): MethodSettings {
  const target = Array.isArray(s.target)
    ? examples.map((e) => (s.target as number[])[e]!)
    : isTensor(s.target)
      ? pickRows(s.target, examples, numExamples)
      : s.target;
  const baselines = isTensor(s.baselines) ? pickRows(s.baselines, examples, numExamples) : s.baselines;
  const extra = s.extra
    ? Object.fromEntries(Object.entries(s.extra).map(([k, t]) => [k, pickRows(t, examples, numExamples)]))
    : undefined;
  return { ...s, target, baselines, extra };
}

/** Runs one method on `x` (the rows of the attributed input). */
export async function explainWith(
  model: ModelProto,
  method: PathMethod,
  x: Tensor,
  s: MethodSettings,
): Promise<PathMethodResult> {
  const common = {
    backend: s.backend,
    inputs: { [s.name]: x },
    extra: s.extra,
    target: s.target,
    output: s.output,
    chunkSize: s.chunkSize,
  };
  switch (method) {
    case "ig": {
      const r = await integratedGradients(model, {
        ...common,
        baselines: s.baselines,
        steps: s.steps ?? 50,
        method: s.quadrature,
      });
      return { ...r, method: "ig" };
    }
    case "guided_ig":
      return guidedIntegratedGradients(model, {
        ...common,
        baselines: s.baselines,
        steps: s.steps ?? 200,
        fraction: s.fraction,
        maxDist: s.maxDist,
      });
    case "blur_ig":
      return blurIntegratedGradients(model, {
        ...common,
        steps: s.steps ?? 100,
        maxSigma: s.maxSigma,
        gradStep: s.gradStep,
        sqrt: s.sqrt,
      });
    case "smoothgrad": {
      const r = await noiseTunnel(model, {
        ...common,
        baselines: s.baselines,
        steps: s.steps ?? 50,
        type: "smoothgrad",
        samples: s.samples,
        stdev: s.stdev,
        seed: s.seed,
      });
      return { ...r, method: "smoothgrad" };
    }
    default:
      throw new OptionError(`unknown method "${method as string}"; known: ${PATH_METHODS.join(", ")}`);
  }
}

/** The method as an {@link ExplanationFunction} over copies of `numExamples` examples. */
export function explanationFunction(
  model: ModelProto,
  method: PathMethod,
  s: MethodSettings,
  numExamples: number,
): ExplanationFunction {
  return async (x, examples) => {
    const r = await explainWith(model, method, x, forRows(s, examples, numExamples));
    return r.attributions[s.name]!;
  };
}
