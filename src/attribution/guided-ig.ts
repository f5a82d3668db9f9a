/**
 * Guided Integrated Gradients (Kapishnikov et al. 2021), with PAIR saliency's semantics: the path
 * starts at the baseline and, at each of `steps` steps, moves the `fraction` of features with the
 * smallest |gradient| towards the input until the L1 distance to the input has shrunk by
 * 1/steps, never letting a feature leave the band [α − maxDist, α + maxDist] of the straight line.
 * The gradient of each step is taken once, at the step's start (a left Riemann sum on the path).
 * All examples advance together: one gradient evaluation per step for the whole batch.
 */
import type { ModelProto } from "../onnx/types.js";
import { type Tensor, tensor, toFloat64 } from "../tensor/tensor.js";
import { type Baseline, resolveBaseline } from "./baselines.js";
import { assertFinite, OptionError } from "./errors.js";
import { gradientsAt, openPathSession, type PathSessionOptions } from "./path-session.js";

/** Options of {@link guidedIntegratedGradients}. */
export interface GuidedIGOptions extends PathSessionOptions {
  /** The baseline (default zero): a number, "zero", a tensor (one example or one per example), … */
  baselines?: Baseline;
  /** Number of steps (PAIR's x_steps; default 200). */
  steps?: number;
  /** Fraction of features moved per selection, in (0, 1] (default 0.25). */
  fraction?: number;
  /** Largest relative L1 deviation from the straight line, in [0, 1] (default 0.02); 0 is IG. */
  maxDist?: number;
}

/** Result of a path method other than straight-line IG. */
export interface PathMethodResult {
  /** Attributions by attributed tensor name (float64, the tensor's shape). */
  attributions: Record<string, Tensor<"float64">>;
  /** Σ attributions − (F(x) − F(path start)) per example (completeness gap). */
  delta: Float64Array;
  /** F(x) per example. */
  outputAtInput: Float64Array;
  /** F at the path's start (the baseline; the most blurred image for Blur IG). */
  outputAtBaseline: Float64Array;
  /** Path steps. */
  steps: number;
  /** "guided_ig", "blur_ig", … */
  method: string;
  /** The differentiated output. */
  output: string;
  /** Path points per session run. */
  chunkSize: number;
}

const EPSILON = 1e-9;

/** Python's math.isclose(a, b, rel_tol=ε, abs_tol=ε). */
function isClose(a: number, b: number): boolean {
  return Math.abs(a - b) <= Math.max(EPSILON * Math.max(Math.abs(a), Math.abs(b)), EPSILON);
}

/** numpy.quantile(values, q, method="lower"): the ⌊(n − 1)·q⌋-th smallest value. */
export function lowerQuantile(values: Float64Array, q: number): number {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.floor((sorted.length - 1) * q)]!;
}

/** One example's walk: the current point and its attribution. */
interface Walk {
  x: Float64Array;
  input: Float64Array;
  baseline: Float64Array;
  l1Total: number;
  attr: Float64Array;
}

function l1(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += Math.abs(a[j]! - b[j]!);
  return s;
}

/**
 * Advances one example by one step given the gradient at its current point (PAIR's inner loop).
 * Moves features until the L1 distance to the input is l1Total·(1 − (step+1)/steps).
 */
export function guidedStep(
  w: Walk,
  gradActual: Float64Array,
  step: number,
  steps: number,
  fraction: number,
  maxDist: number,
): void {
  const n = w.x.length;
  const alpha = (step + 1) / steps;
  const alphaMin = Math.max(alpha - maxDist, 0);
  const alphaMax = Math.min(alpha + maxDist, 1);
  const xMin = new Float64Array(n);
  const xMax = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const d = w.input[j]! - w.baseline[j]!;
    xMin[j] = w.baseline[j]! + d * alphaMin;
    xMax[j] = w.baseline[j]! + d * alphaMax;
  }
  const l1Target = w.l1Total * (1 - (step + 1) / steps);
  const grad = Float64Array.from(gradActual);
  const absGrad = new Float64Array(n);
  const xOld = new Float64Array(n);
  // Each pass either finishes the step or pins ≥ 1 more feature at x_max, so n + 2 passes
  // suffice; the cap only stops the case where PAIR itself would loop forever (nothing movable).
  for (let pass = 0; pass <= n + 1; pass++) {
    xOld.set(w.x);
    for (let j = 0; j < n; j++) {
      const d = w.input[j]! - w.baseline[j]!;
      const a = d !== 0 ? (w.x[j]! - w.baseline[j]!) / d : alphaMax;
      if (a < alphaMin) w.x[j] = xMin[j]!;
    }
    const l1Current = l1(w.x, w.input);
    if (isClose(l1Target, l1Current)) {
      accumulate(w, xOld, gradActual);
      return;
    }
    for (let j = 0; j < n; j++) {
      if (w.x[j] === xMax[j]) grad[j] = Number.POSITIVE_INFINITY;
      absGrad[j] = Math.abs(grad[j]!);
    }
    const threshold = lowerQuantile(absGrad, fraction);
    let l1s = 0;
    const selected: number[] = [];
    for (let j = 0; j < n; j++) {
      if (absGrad[j]! <= threshold && grad[j] !== Number.POSITIVE_INFINITY) {
        selected.push(j);
        l1s += Math.abs(w.x[j]! - xMax[j]!);
      }
    }
    const gamma = l1s > 0 ? (l1Current - l1Target) / l1s : Number.POSITIVE_INFINITY;
    if (gamma > 1) {
      for (const j of selected) w.x[j] = xMax[j]!;
    } else {
      for (const j of selected) w.x[j] = w.x[j]! + (xMax[j]! - w.x[j]!) * gamma;
    }
    accumulate(w, xOld, gradActual);
    if (gamma <= 1 || selected.length === 0) return;
  }
}

function accumulate(w: Walk, xOld: Float64Array, grad: Float64Array): void {
  for (let j = 0; j < w.x.length; j++) w.attr[j]! += (w.x[j]! - xOld[j]!) * grad[j]!;
}

/**
 * Guided Integrated Gradients for any ONNX model (one attributed input, any shape).
 *
 * @example
 * ```ts
 * const r = await guidedIntegratedGradients(model, { backend: nodeBackend(), inputs: { input: x }, target: 3, steps: 200 });
 * r.attributions.input; r.delta; // completeness gap per example
 * ```
 */
export async function guidedIntegratedGradients(
  model: ModelProto,
  options: GuidedIGOptions,
): Promise<PathMethodResult> {
  const steps = options.steps ?? 200;
  const fraction = options.fraction ?? 0.25;
  const maxDist = options.maxDist ?? 0.02;
  if (!Number.isInteger(steps) || steps < 1)
    throw new OptionError(`steps must be a positive integer, got ${steps}`);
  if (!(fraction > 0 && fraction <= 1)) throw new OptionError(`fraction must be in (0, 1], got ${fraction}`);
  if (!(maxDist >= 0 && maxDist <= 1)) throw new OptionError(`maxDist must be in [0, 1], got ${maxDist}`);
  const ps = await openPathSession(model, options, "Guided IG");
  try {
    const { numExamples: N, rowSize } = ps;
    const base = resolveBaseline(options.baselines, ps.x, ps.name);
    assertFinite(base.data as Float32Array, `baseline for "${ps.name}"`);
    const xs = toFloat64(ps.x);
    const bs = toFloat64(base);
    const walks: Walk[] = Array.from({ length: N }, (_, e) => {
      const input = xs.subarray(e * rowSize, (e + 1) * rowSize);
      const baseline = bs.subarray(e * rowSize, (e + 1) * rowSize);
      return {
        x: Float64Array.from(baseline),
        input,
        baseline,
        l1Total: l1(input, baseline),
        attr: new Float64Array(rowSize),
      };
    });
    const all = Array.from({ length: N }, (_, e) => e);
    const points = new Float64Array(N * rowSize);
    const fb = new Float64Array(N);
    const total = (steps + 1) * N;
    // examples equal to their baseline keep a zero attribution (PAIR returns early)
    const moving = all.filter((e) => walks[e]!.l1Total > 0);
    for (let step = 0; step < steps; step++) {
      walks.forEach((w, e) => points.set(w.x, e * rowSize));
      const { gradients, values } = await gradientsAt(ps, points, all, {
        onProgress: options.onProgress,
        signal: options.signal,
        done: step * N,
        total,
      });
      if (step === 0) fb.set(values);
      for (const e of moving) {
        guidedStep(
          walks[e]!,
          gradients.subarray(e * rowSize, (e + 1) * rowSize),
          step,
          steps,
          fraction,
          maxDist,
        );
      }
    }
    const fx = (
      await gradientsAt(ps, xs, all, {
        signal: options.signal,
        done: steps * N,
        total,
        onProgress: options.onProgress,
      })
    ).values;
    const attr = new Float64Array(N * rowSize);
    const delta = new Float64Array(N);
    walks.forEach((w, e) => {
      attr.set(w.attr, e * rowSize);
      let s = 0;
      for (const v of w.attr) s += v;
      delta[e] = s - (fx[e]! - fb[e]!);
    });
    return {
      attributions: { [ps.name]: tensor("float64", ps.x.dims, attr) },
      delta,
      outputAtInput: Float64Array.from(fx),
      outputAtBaseline: fb,
      steps,
      method: "guided_ig",
      output: ps.output,
      chunkSize: ps.chunkRows,
    };
  } finally {
    await ps.session.dispose();
  }
}
