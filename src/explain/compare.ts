/**
 * compareAttributions: runs several path methods on the same inputs and measures each with the
 * same yardsticks — deletion and insertion AUC, infidelity, max-sensitivity, completeness gap —
 * and its time cost: the table a user needs to pick a method.
 */

import { OptionError } from "../attribution/errors.js";
import {
  type Curve,
  type CurveOptions,
  deletionCurve,
  insertionCurve,
} from "../attribution/metrics/curves.js";
import {
  explainWith,
  explanationFunction,
  type MethodSettings,
  PATH_METHODS,
  type PathMethod,
} from "../attribution/metrics/explainers.js";
import { infidelity } from "../attribution/metrics/infidelity.js";
import { sensitivityMax } from "../attribution/metrics/sensitivity.js";
import type { Target } from "../attribution/targets.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend } from "../runtime/backend.js";
import type { Tensor } from "../tensor/tensor.js";

/** One method to compare: a name for the table and its settings over the shared ones. */
export interface ComparedMethod {
  name: string;
  method: PathMethod;
  settings?: Partial<MethodSettings>;
}

/** Options of {@link compareAttributions}. */
export interface CompareOptions {
  backend: Backend;
  /** The one attributed input, by name (batch axis 0). */
  inputs: Record<string, Tensor>;
  extra?: Record<string, Tensor>;
  target?: Target;
  output?: string;
  /** Methods by name ("ig", "guided_ig", "blur_ig", "smoothgrad") or with their own settings. */
  methods: (PathMethod | ComparedMethod)[];
  /** Settings shared by every method (baselines, steps, …). */
  settings?: Partial<MethodSettings>;
  /** Deletion / insertion curves: points, fill, grouping (see deletionCurve). */
  curves?: Pick<CurveOptions, "steps" | "fill" | "groupAxis" | "softmax" | "layout">;
  /** Infidelity: perturbations per example (default 10), noise stdev (default 0.1 × the input's std), normalize (default true). */
  infidelity?: { samples?: number; stdev?: number; normalize?: boolean; seed?: number } | false;
  /** Max-sensitivity: perturbations (default 4), radius (default 0.02 × the input's range); false skips it (it reruns each method). */
  sensitivity?: { samples?: number; radius?: number; seed?: number } | false;
  onMethod?: (name: string) => void;
}

/** One row of the comparison. */
export interface MethodComparison {
  name: string;
  method: PathMethod;
  /** Seconds the attribution took (the method alone). */
  seconds: number;
  attributions: Tensor<"float64">;
  /** Completeness gap per example: Σ attr − (F(x) − F(path start)). */
  delta: Float64Array;
  /** Mean |delta| / mean |F(x) − F(start)|. */
  relativeGap: number;
  deletion: Curve;
  insertion: Curve;
  /** Per example (undefined when skipped). */
  infidelity?: Float64Array;
  sensitivity?: Float64Array;
  /** Seconds the sensitivity reruns took. */
  sensitivitySeconds?: number;
}

/** Result of {@link compareAttributions}. */
export interface Comparison {
  rows: MethodComparison[];
  numExamples: number;
  /** What the curves replaced removed features with, for the report. */
  fill: string;
}

/** Mean of an array. */
export function mean(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]!;
  return v.length ? s / v.length : Number.NaN;
}

function spread(x: Tensor): { std: number; range: number } {
  const d = x.data as Float32Array;
  const m = mean(d);
  let s = 0;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of d) {
    s += (v - m) ** 2;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return { std: Math.sqrt(s / Math.max(1, d.length)), range: hi - lo };
}

/** Runs every method on the inputs and measures it (see the module note). */
export async function compareAttributions(model: ModelProto, o: CompareOptions): Promise<Comparison> {
  const entries = Object.entries(o.inputs);
  if (entries.length !== 1)
    throw new OptionError(`compareAttributions takes one attributed input; got ${entries.length}`);
  const [name, x] = entries[0]!;
  if (o.methods.length === 0) throw new OptionError("compareAttributions: give at least one method");
  const N = x.dims[0]!;
  const { std, range } = spread(x);
  const shared = { backend: o.backend, target: o.target, output: o.output, extra: o.extra };
  const rows: MethodComparison[] = [];
  for (const m of o.methods) {
    const spec: ComparedMethod = typeof m === "string" ? { name: m, method: m } : m;
    if (!(PATH_METHODS as readonly string[]).includes(spec.method)) {
      throw new OptionError(`unknown method "${spec.method}"; known: ${PATH_METHODS.join(", ")}`);
    }
    o.onMethod?.(spec.name);
    const settings: MethodSettings = { ...o.settings, ...spec.settings, ...shared, name };
    const t0 = performance.now();
    const r = await explainWith(model, spec.method, x, settings);
    const seconds = (performance.now() - t0) / 1000;
    const attributions = r.attributions[name]!;
    const curveOpts = { ...shared, ...o.curves, inputs: o.inputs, attributions };
    const deletion = await deletionCurve(model, curveOpts);
    const insertion = await insertionCurve(model, curveOpts);
    const inf =
      o.infidelity === false
        ? undefined
        : await infidelity(model, {
            ...shared,
            inputs: o.inputs,
            attributions,
            samples: o.infidelity?.samples ?? 10,
            stdev: o.infidelity?.stdev ?? 0.1 * (std || 1),
            seed: o.infidelity?.seed ?? 0,
            normalize: o.infidelity?.normalize ?? true,
          });
    let sensitivity: Float64Array | undefined;
    let sensitivitySeconds: number | undefined;
    if (o.sensitivity !== false) {
      const t1 = performance.now();
      sensitivity = (
        await sensitivityMax(explanationFunction(model, spec.method, settings, N), {
          input: x,
          samples: o.sensitivity?.samples ?? 4,
          radius: o.sensitivity?.radius ?? 0.02 * (range || 1),
          seed: o.sensitivity?.seed ?? 0,
        })
      ).sensitivity;
      sensitivitySeconds = (performance.now() - t1) / 1000;
    }
    const gap = mean(Array.from(r.delta, Math.abs));
    const change = mean(Array.from(r.outputAtInput, (v, i) => Math.abs(v - r.outputAtBaseline[i]!)));
    rows.push({
      name: spec.name,
      method: spec.method,
      seconds,
      attributions,
      delta: r.delta,
      relativeGap: gap / (change || 1),
      deletion,
      insertion,
      infidelity: inf,
      sensitivity,
      sensitivitySeconds,
    });
  }
  const f = o.curves?.fill ?? 0;
  const fill =
    typeof f === "number"
      ? `the value ${f}`
      : "blur" in f && !("dims" in f)
        ? `the input blurred with σ = ${f.blur}`
        : "the given fill tensor";
  return { rows, numExamples: N, fill };
}
