import { UnknownTensorError } from "../onnx/graph.js";
import { declaredDims } from "../onnx/model.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend, SessionOptions } from "../runtime/backend.js";
import { GradientSession } from "../runtime/gradient-session.js";
import { sizeOf, type Tensor, type TensorLike, tensor, toTensors } from "../tensor/tensor.js";
import { type Baseline, resolveBaseline } from "./baselines.js";
import { type BatchAxesOption, movesBatchAxes, withBatchAxes } from "./batch-axes.js";
import { assertPathBudget, type BudgetOptions } from "./budget.js";
import { ChunkPlan } from "./chunking.js";
import { assertFinite, OptionError } from "./errors.js";
import { evaluatePath, gridPoints, type PathPoint, type PathProblem, type Progress } from "./path-engine.js";
import { prepareAttribution } from "./prepare.js";
import { type QuadratureMethod, quadrature } from "./quadrature.js";
import { seedsForTarget, type Target } from "./targets.js";

/** Options of {@link integratedGradients}. */
export interface IntegratedGradientsOptions extends BudgetOptions, BatchAxesOption {
  /** Runs the models (nodeBackend() from pathlens/node, webBackend() from pathlens/web). */
  backend: Backend;
  /**
   * Tensors to attribute, by graph input name (batch axis 0). With `layer`, the model inputs
   * from which the layer is computed.
   */
  inputs: Record<string, TensorLike>;
  /** Inputs passed through unchanged (attention masks, token type ids), batch axis 0. */
  extra?: Record<string, TensorLike>;
  /**
   * Baseline(s): one for all attributed tensors, or a record by name; an array of baselines is
   * averaged over (attributions and deltas are means over the baselines). Default zero.
   */
  baselines?: Baseline | Baseline[] | Record<string, Baseline | Baseline[]>;
  /** What is explained (class index, per-example indices, position, or weights). */
  target?: Target;
  /** Which output the target refers to (default: the first output). */
  output?: string;
  /** Number of quadrature points (default 50), or "auto" (trapezoid doubling until `tolerance`). */
  steps?: number | "auto";
  /** Quadrature rule (default "gausslegendre"; "auto" steps always use the trapezoid rule). */
  method?: QuadratureMethod;
  /** With steps "auto": stop when |delta| ≤ tolerance · |F(x) − F(x')| (default 1e-3). */
  tolerance?: number;
  /** With steps "auto": the most points per example (default 1025). */
  maxSteps?: number;
  /** Attribute to this intermediate tensor instead of the inputs (layer attribution). */
  layer?: string;
  /** With `layer`: model inputs whose layer value is the baseline (e.g. PAD token ids). */
  baselineInputs?: Record<string, TensorLike>;
  /** Multiply the integrated gradient by (x − x') (default true, as Captum). */
  multiplyByInputs?: boolean;
  /** Path points per session run (default: from `memoryBudget`). */
  chunkSize?: number;
  /** Bytes the chunk's tensors may take (default 512 MiB); picks the chunk size. */
  memoryBudget?: number;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  session?: SessionOptions;
}

/** Result of {@link integratedGradients}. */
export interface Attribution {
  /** Attributions by attributed tensor name (float64, the tensor's shape). */
  attributions: Record<string, Tensor<"float64">>;
  /** Σ attributions − (F(x) − F(x')) per example (Captum's convergence delta). */
  delta: Float64Array;
  /** F(x) per example (the explained scalar: Σ seed ⊙ output). */
  outputAtInput: Float64Array;
  /** F(x') per example (mean over baselines when several). */
  outputAtBaseline: Float64Array;
  /** Quadrature points per example (the largest, for "auto"). */
  steps: number;
  /** Points used per example (differs by example with "auto"). */
  stepsPerExample: number[];
  /** With "auto": whether each example reached the tolerance (else the step cap). */
  converged?: boolean[];
  method: QuadratureMethod;
  /** The differentiated output. */
  output: string;
  /** Path points per session run that was used (the last runs of a call may have one fewer). */
  chunkSize: number;
  /** How the chunk size was picked, for summaries (fixed, or for speed within the memory budget). */
  chunking?: string;
  /** Seconds spent building and loading the gradient session before the first path point. */
  startupSeconds?: number;
  /** Whether the gradient model came from the gradient cache (see disk-cache.ts). */
  cacheHit?: boolean;
}

function isTensor(t: unknown): t is Tensor {
  return typeof t === "object" && t !== null && "dims" in t && "data" in t && !Array.isArray(t);
}

function isBaselineSpec(b: unknown): b is Baseline {
  return (
    typeof b === "number" ||
    b === "zero" ||
    isTensor(b) ||
    (typeof b === "object" && b !== null && "kind" in b)
  );
}

/** Splits the baselines option into a list of baseline sets (name → tensor). */
function baselineSets(
  option: IntegratedGradientsOptions["baselines"],
  inputs: Record<string, Tensor>,
): Record<string, Tensor>[] {
  const names = Object.keys(inputs);
  const perName: Record<string, Baseline[]> = {};
  if (option === undefined || isBaselineSpec(option) || Array.isArray(option)) {
    const list = Array.isArray(option) ? option : [option as Baseline | undefined];
    for (const n of names) perName[n] = list as Baseline[];
  } else {
    for (const k of Object.keys(option)) {
      if (!names.includes(k)) throw new UnknownTensorError(k, names, "attributed tensor in baselines");
    }
    for (const n of names) {
      const b = (option as Record<string, Baseline | Baseline[]>)[n];
      perName[n] = Array.isArray(b) ? b : [b as Baseline];
    }
  }
  const count = Math.max(...names.map((n) => perName[n]!.length));
  for (const n of names) {
    if (perName[n]!.length !== count && perName[n]!.length !== 1) {
      throw new OptionError(`baselines: "${n}" has ${perName[n]!.length} baselines, others ${count}`);
    }
  }
  return Array.from({ length: count }, (_, k) =>
    Object.fromEntries(
      names.map((n) => [n, resolveBaseline(perName[n]![Math.min(k, perName[n]!.length - 1)], inputs[n]!, n)]),
    ),
  );
}

/**
 * Integrated Gradients for any ONNX model.
 *
 * @example
 * ```ts
 * import { integratedGradients, loadModel, nodeBackend } from "pathlens/node";
 * const model = await loadModel("digits_cnn.onnx");
 * const r = await integratedGradients(model, { backend: nodeBackend(), inputs: { input: x }, target: 3 });
 * console.log(r.attributions.input.dims, r.delta);
 * ```
 */
export async function integratedGradients(
  model: ModelProto,
  given: IntegratedGradientsOptions,
): Promise<Attribution> {
  if (movesBatchAxes(given)) return withBatchAxes(model, given, integratedGradients);
  const options = {
    ...given,
    inputs: toTensors(given.inputs),
    extra: toTensors(given.extra),
    baselineInputs: toTensors(given.baselineInputs),
  };
  const { backend } = options;
  const prepared = await prepareAttribution(model, options);
  const { attributedModel, inputs, layerBaselines, passthrough, output, numExamples } = prepared;
  assertIgBudget(options, numExamples);

  const session = await GradientSession.create(
    backend,
    attributedModel,
    { ...inputs, ...passthrough },
    {
      wrt: Object.keys(inputs),
      outputs: [output],
      session: options.session,
    },
  );
  try {
    const outInfo = session.shapes.get(output)!;
    const probeBatch = outInfo.dims[0] ?? 1;
    const outDims = [numExamples, ...outInfo.dims.slice(1)];
    const seeds = seedsForTarget(
      options.target,
      outDims,
      numExamples,
      outInfo.dtype as "float32" | "float64",
      output,
    );
    void probeBatch;
    const sets =
      layerBaselines && options.baselines === undefined
        ? [layerBaselines]
        : baselineSets(options.baselines, inputs);
    for (const set of sets)
      for (const [k, b] of Object.entries(set)) assertFinite(b.data as Float32Array, `baseline for "${k}"`);
    const chunkRows =
      options.chunkSize !== undefined
        ? ChunkPlan.fixed(options.chunkSize)
        : ChunkPlan.forShapes(
            session.shapes,
            options.memoryBudget,
            fixedBatch(attributedModel, Object.keys(inputs)),
          );
    const attributed = Object.entries(inputs).map(([name, t]) => ({
      name,
      rowDims: t.dims.slice(1),
      dtype: t.dtype as "float32" | "float64",
    }));

    const results: Attribution[] = [];
    for (const [setIndex, base] of sets.entries()) {
      const problem: PathProblem = {
        session,
        attributed,
        fill: straightLine(inputs, base),
        passthrough,
        output,
        seeds,
        chunkRows,
        onProgress: options.onProgress,
        signal: options.signal,
      };
      const r =
        options.steps === "auto"
          ? await autoSteps(problem, inputs, base, numExamples, options, setIndex, sets.length)
          : await fixedSteps(problem, inputs, base, numExamples, options, setIndex, sets.length);
      results.push({
        ...r,
        output,
        chunkSize: chunkRows.chosen,
        chunking: chunkRows.describe(),
        startupSeconds: session.startupSeconds,
        cacheHit: session.cacheHit,
      });
    }
    return results.length === 1 ? results[0]! : averageAttributions(results);
  } finally {
    await session.dispose();
  }
}

/** Refuses, before any session exists, a run whose path points exceed the budget. */
function assertIgBudget(options: IntegratedGradientsOptions, numExamples: number): void {
  const sets = Array.isArray(options.baselines) ? options.baselines.length : 1;
  const auto = options.steps === "auto";
  const steps = auto ? (options.maxSteps ?? 1025) : (options.steps ?? 50);
  if (typeof steps !== "number" || !Number.isFinite(steps))
    throw new OptionError(`${auto ? "maxSteps" : "steps"} must be a finite number, got ${steps}`);
  assertPathBudget(
    "Integrated Gradients",
    steps * numExamples * sets,
    `${auto ? "up to maxSteps " : ""}${steps} steps × ${numExamples} example(s)${sets > 1 ? ` × ${sets} baselines` : ""}`,
    options,
  );
}

/** The fixed batch size an attributed input declares on axis 0, if any. */
function fixedBatch(model: ModelProto, names: string[]): number | undefined {
  for (const n of names) {
    const vi = model.graph!.input.find((i) => i.name === n);
    const d = declaredDims(vi)?.[0];
    if (typeof d === "number") return d;
  }
  return undefined;
}

/** Fills x' + α (x − x') for the point's example. */
function straightLine(inputs: Record<string, Tensor>, base: Record<string, Tensor>): PathProblem["fill"] {
  return (name, p, dst, offset) => {
    const x = inputs[name]!.data as Float32Array;
    const b = base[name]!.data as Float32Array;
    const row = sizeOf(inputs[name]!.dims.slice(1));
    const o = p.example * row;
    const a = p.alpha;
    for (let j = 0; j < row; j++) dst[offset + j] = b[o + j]! + a * (x[o + j]! - b[o + j]!);
  };
}

type Partial = Omit<Attribution, "output" | "chunkSize" | "chunking">;

function finish(
  sums: Record<string, Float64Array>,
  inputs: Record<string, Tensor>,
  base: Record<string, Tensor>,
  fx: Float64Array,
  fb: Float64Array,
  multiply: boolean,
): { attributions: Record<string, Tensor<"float64">>; delta: Float64Array } {
  const attributions: Record<string, Tensor<"float64">> = {};
  const n = fx.length;
  const totals = new Float64Array(n);
  for (const [name, s] of Object.entries(sums)) {
    const x = inputs[name]!;
    const row = s.length / n;
    const out = new Float64Array(s.length);
    for (let i = 0; i < s.length; i++) {
      out[i] = multiply ? s[i]! * (Number(x.data[i]) - Number(base[name]!.data[i])) : s[i]!;
      totals[Math.floor(i / row)]! += out[i]!;
    }
    attributions[name] = tensor("float64", x.dims, out);
  }
  const delta = totals.map((t, k) => t - (fx[k]! - fb[k]!));
  return { attributions, delta };
}

async function fixedSteps(
  problem: PathProblem,
  inputs: Record<string, Tensor>,
  base: Record<string, Tensor>,
  numExamples: number,
  options: IntegratedGradientsOptions,
  setIndex: number,
  setCount: number,
): Promise<Partial> {
  const steps = options.steps ?? 50;
  if (typeof steps !== "number") throw new OptionError(`steps must be a number or "auto"`);
  const method = options.method ?? "gausslegendre";
  const q = quadrature(method, steps);
  // the endpoints give F(x') and F(x); evaluate them with weight 0 when the rule lacks them
  const extraAlphas = [0, 1].filter((a) => !q.alphas.includes(a));
  const alphas = [...q.alphas, ...extraAlphas];
  const weights = [...q.weights, ...extraAlphas.map(() => 0)];
  const points = gridPoints(numExamples, alphas.length, (example, k) => ({
    example,
    alpha: alphas[k]!,
    weight: weights[k]!,
  }));
  const perSet = points.length;
  problem.progressOffset = setIndex * perSet;
  problem.progressTotal = setCount * perSet;
  const acc = await evaluatePath(problem, points, numExamples);
  const fx = new Float64Array(numExamples);
  const fb = new Float64Array(numExamples);
  const at1 = alphas.indexOf(1);
  const at0 = alphas.indexOf(0);
  for (let e = 0; e < numExamples; e++) {
    fx[e] = acc.targetValues[e * alphas.length + at1]!;
    fb[e] = acc.targetValues[e * alphas.length + at0]!;
  }
  const { attributions, delta } = finish(acc.sums, inputs, base, fx, fb, options.multiplyByInputs ?? true);
  return {
    attributions,
    delta,
    outputAtInput: fx,
    outputAtBaseline: fb,
    steps,
    stepsPerExample: new Array(numExamples).fill(steps),
    method,
  };
}

/**
 * Trapezoid doubling: 2^L + 1 uniform points, each level adding the midpoints, so every gradient
 * computed is reused. Only examples that have not converged are refined.
 */
async function autoSteps(
  problem: PathProblem,
  inputs: Record<string, Tensor>,
  base: Record<string, Tensor>,
  numExamples: number,
  options: IntegratedGradientsOptions,
  setIndex: number,
  setCount: number,
): Promise<Partial> {
  const tol = options.tolerance ?? 1e-3;
  const maxSteps = options.maxSteps ?? 1025;
  if (!(tol > 0)) throw new OptionError(`tolerance must be positive, got ${tol}`);
  if (maxSteps < 3) throw new OptionError(`maxSteps must be at least 3, got ${maxSteps}`);
  const sizes = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, t.data.length]));
  const ends: Record<string, Float64Array> = {};
  const interior: Record<string, Float64Array> = {};
  for (const k of Object.keys(inputs)) {
    ends[k] = new Float64Array(sizes[k]!);
    interior[k] = new Float64Array(sizes[k]!);
  }
  const fx = new Float64Array(numExamples);
  const fb = new Float64Array(numExamples);
  const intervals = new Array<number>(numExamples).fill(0);
  const done = new Array<boolean>(numExamples).fill(false);
  let active = Array.from({ length: numExamples }, (_, e) => e);
  let level = 3; // start with 2^3 + 1 = 9 points
  let result: { attributions: Record<string, Tensor<"float64">>; delta: Float64Array } | undefined;
  let evaluated = 0;
  problem.progressTotal = setCount * numExamples * maxSteps;
  while (active.length > 0) {
    const n = 2 ** level;
    const points: PathPoint[] = [];
    for (const e of active) {
      const prev = intervals[e]!;
      if (prev === 0) {
        for (let k = 0; k <= n; k++)
          points.push({ example: e, alpha: k / n, weight: k === 0 || k === n ? -1 : 1 });
      } else {
        for (let k = 1; k < n; k += 2) points.push({ example: e, alpha: k / n, weight: 1 });
      }
    }
    problem.progressOffset = setIndex * numExamples * maxSteps + evaluated;
    // weights: +1 interior, −1 marks an endpoint; separated below
    const endPts = points.filter((p) => p.weight < 0).map((p) => ({ ...p, weight: 1 }));
    const inPts = points.filter((p) => p.weight > 0);
    const accEnds = endPts.length ? await evaluatePath({ ...problem }, endPts, numExamples) : undefined;
    evaluated += endPts.length;
    problem.progressOffset = setIndex * numExamples * maxSteps + evaluated;
    const accIn = await evaluatePath({ ...problem }, inPts, numExamples);
    evaluated += inPts.length;
    if (accEnds) {
      endPts.forEach((p, i) => {
        if (p.alpha === 1) fx[p.example] = accEnds.targetValues[i]!;
        else fb[p.example] = accEnds.targetValues[i]!;
      });
    }
    for (const k of Object.keys(inputs)) {
      const row = sizes[k]! / numExamples;
      for (const e of active) {
        for (let j = e * row; j < (e + 1) * row; j++) {
          if (accEnds) ends[k]![j] = accEnds.sums[k]![j]!;
          interior[k]![j]! += accIn.sums[k]![j]!;
        }
      }
    }
    for (const e of active) intervals[e] = n;
    // trapezoid with h = 1/n per example
    const sums: Record<string, Float64Array> = {};
    for (const k of Object.keys(inputs)) {
      const row = sizes[k]! / numExamples;
      const s = new Float64Array(sizes[k]!);
      for (let e = 0; e < numExamples; e++) {
        const h = 1 / intervals[e]!;
        for (let j = e * row; j < (e + 1) * row; j++) s[j] = h * (0.5 * ends[k]![j]! + interior[k]![j]!);
      }
      sums[k] = s;
    }
    result = finish(sums, inputs, base, fx, fb, options.multiplyByInputs ?? true);
    const next: number[] = [];
    for (const e of active) {
      const ok = Math.abs(result.delta[e]!) <= tol * Math.abs(fx[e]! - fb[e]!);
      if (ok) done[e] = true;
      else if (2 * n + 1 <= maxSteps) next.push(e);
    }
    active = next;
    level++;
  }
  const stepsPerExample = intervals.map((n) => n + 1);
  return {
    ...result!,
    outputAtInput: fx,
    outputAtBaseline: fb,
    steps: Math.max(...stepsPerExample),
    stepsPerExample,
    converged: done,
    method: "riemann_trapezoid",
  };
}

/** Mean of attributions, deltas and F(x') over several baselines. */
function averageAttributions(rs: Attribution[]): Attribution {
  const k = rs.length;
  const first = rs[0]!;
  const attributions: Record<string, Tensor<"float64">> = {};
  for (const name of Object.keys(first.attributions)) {
    const out = new Float64Array(first.attributions[name]!.data.length);
    for (const r of rs) {
      const d = r.attributions[name]!.data;
      for (let i = 0; i < out.length; i++) out[i]! += d[i]! / k;
    }
    attributions[name] = tensor("float64", first.attributions[name]!.dims, out);
  }
  const mean = (f: (r: Attribution) => Float64Array) => {
    const out = new Float64Array(f(first).length);
    for (const r of rs) f(r).forEach((v, i) => (out[i]! += v / k));
    return out;
  };
  return {
    ...first,
    attributions,
    delta: mean((r) => r.delta),
    outputAtBaseline: mean((r) => r.outputAtBaseline),
    stepsPerExample: first.stepsPerExample.map((_, e) => Math.max(...rs.map((r) => r.stepsPerExample[e]!))),
    steps: Math.max(...rs.map((r) => r.steps)),
  };
}
