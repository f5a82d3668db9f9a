/**
 * Integrated Hessians and Expected Hessians (Janizek, Sturmfels & Lee 2021, path_explain):
 * pairwise interactions
 *   Γ_ij = d_i d_j ∫∫ αβ H_ij(x' + αβ d) dα dβ + [i = j] d_i ∫∫ g_i(x' + αβ d) dα dβ,  d = x − x',
 * with g / H the gradient / Hessian of the explained scalar. Σ_j Γ_ij = IG_i and Σ_ij Γ_ij =
 * F(x) − F(x') (interaction completeness). Integrated Hessians integrate (α, β) with N×N
 * Gauss–Legendre nodes; Expected Hessians sample a reference and (α, β) per sample.
 *
 * Hessian rows come from Hessian-vector products of the twice-transformed graph: for a group of
 * features G (one feature, or all embedding dims of a token) the product with v = d ⊙ 1_G gives
 * Σ_{i∈G} d_i H_{·i} at once, so a d×d result costs d products per path point and is built
 * row block by row block — never a d×d×steps intermediate.
 */

import { softplusRewrite } from "../autodiff/softplus.js";
import { encodeModel } from "../onnx/codec.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend, SessionOptions } from "../runtime/backend.js";
import { GradientSession } from "../runtime/gradient-session.js";
import { Random } from "../tensor/random.js";
import { sizeOf, type Tensor, type TensorLike, tensor, toTensor, toTensors } from "../tensor/tensor.js";
import { type Baseline, resolveBaseline } from "./baselines.js";
import { assertPathBudget, type BudgetOptions } from "./budget.js";
import { autoChunkRows } from "./chunking.js";
import { AbortError, assertFinite, NonFiniteError, OptionError } from "./errors.js";
import { integratedGradients } from "./ig.js";
import type { Progress } from "./path-engine.js";
import { prepareAttribution } from "./prepare.js";
import { gaussLegendre } from "./quadrature.js";
import { seedsForTarget, type Target } from "./targets.js";

/** Options shared by {@link integratedHessians} and {@link expectedHessians}. */
export interface InteractionOptions extends BudgetOptions {
  backend: Backend;
  /** The one attributed tensor, by input name (batch axis 0). With `layer`, the model inputs. */
  inputs: Record<string, TensorLike>;
  extra?: Record<string, TensorLike>;
  target?: Target;
  output?: string;
  /** Attribute at this intermediate tensor (e.g. the embedding output). */
  layer?: string;
  baselineInputs?: Record<string, TensorLike>;
  /**
   * Features: by default every element of one example is a feature. `groupAxes` (axes of one
   * example, e.g. [1] for [tokens, dims]) are summed over: interactions between tokens.
   */
  groupAxes?: number[];
  /** Only these features' rows (path_explain's interaction_index): Γ[:, rows, :]. */
  interactionIndex?: number | number[];
  /**
   * Replace Relu by softplus(βx)/β before differentiating twice (ReLU networks have zero second
   * derivatives almost everywhere). `true` uses β = 10.
   */
  softplus?: boolean | number;
  /** Called with warnings (also returned in the result). */
  onWarning?: (message: string) => void;
  /** Rows (path point × feature group) per session run (default: from `memoryBudget`). */
  chunkSize?: number;
  memoryBudget?: number;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  session?: SessionOptions;
}

/** Options of {@link integratedHessians}. */
export interface IntegratedHessiansOptions extends InteractionOptions {
  /** Baseline (zero by default) — see Integrated Gradients. */
  baselines?: Baseline;
  /** Gauss–Legendre nodes per integration variable (default 50; N² path points). */
  steps?: number;
}

/** Options of {@link expectedHessians}. */
export interface ExpectedHessiansOptions extends InteractionOptions {
  /** Reference data set (rows like one example of the attributed tensor). */
  references: TensorLike;
  /** Samples (reference, α, β) per example (default 200). */
  samples?: number;
  seed?: number;
}

/** Result of an interaction method. */
export interface Interactions {
  /** Γ, [N, rows, features] (rows = features unless `interactionIndex`), float64. */
  interactions: Tensor<"float64">;
  /** Feature index of each row of Γ. */
  rows: number[];
  /** Number of features (groups) per example. */
  features: number;
  /** First-order attributions per feature, [N, features] (Σ_j Γ_ij when all rows are computed). */
  attributions: Tensor<"float64">;
  /** F(x) per example. */
  outputAtInput: Float64Array;
  /** F(x') (mean over references for Expected Hessians). */
  outputAtBaseline: Float64Array;
  /** Σ_ij Γ_ij − (F(x) − F(x')) per example (only when all rows are computed). */
  completenessDelta?: Float64Array;
  /** max_i |Σ_j Γ_ij − IG_i| per example (Integrated Hessians with all rows). */
  rowSumDelta?: Float64Array;
  /** Path points per example. */
  points: number;
  warnings: string[];
}

/** One sample of the double integral: the reference it starts from, αβ and its weight. */
interface Sample {
  example: number;
  reference: Float64Array;
  scale: number;
  weight: number;
}

/**
 * Integrated Hessians with a fixed baseline, N×N Gauss–Legendre points (N = `steps`).
 *
 * @example
 * ```ts
 * const r = await integratedHessians(model, { backend: nodeBackend(), inputs: { input: x }, steps: 32 });
 * r.interactions; // [N, d, d]
 * ```
 */
export async function integratedHessians(
  model: ModelProto,
  options: IntegratedHessiansOptions,
): Promise<Interactions> {
  const steps = options.steps ?? 50;
  if (!Number.isInteger(steps) || steps < 1)
    throw new OptionError(`steps must be a positive integer, got ${steps}`);
  const examples = Object.values(options.inputs)[0]?.dims[0] ?? 1;
  assertPathBudget(
    "Integrated Hessians",
    steps * steps * examples,
    `${steps}² steps × ${examples} example(s)`,
    options,
  );
  const [nodes, weights] = gaussLegendre(steps);
  const alphas = Array.from(nodes, (t) => (t + 1) / 2);
  const w = Array.from(weights, (v) => v / 2);
  return interactionEngine(
    model,
    options,
    (x, base, n) => {
      const out: Sample[][] = [];
      for (let e = 0; e < n; e++) {
        const ref = base.subarray(e * x, (e + 1) * x);
        const list: Sample[] = [];
        for (let a = 0; a < steps; a++)
          for (let c = 0; c < steps; c++)
            list.push({ example: e, reference: ref, scale: alphas[a]! * alphas[c]!, weight: w[a]! * w[c]! });
        out.push(list);
      }
      return out;
    },
    { steps },
  );
}

/**
 * Expected Hessians: references drawn from `references`, α and β ~ U(0, 1), seeded.
 * Converges to Integrated Hessians averaged over the reference distribution.
 */
export async function expectedHessians(
  model: ModelProto,
  options: ExpectedHessiansOptions,
): Promise<Interactions> {
  const samples = options.samples ?? 200;
  if (!Number.isInteger(samples) || samples < 1)
    throw new OptionError(`samples must be a positive integer, got ${samples}`);
  const refs = toTensor(options.references, "references");
  const rng = new Random(options.seed ?? 0);
  return interactionEngine(model, options, (x, _base, n) => {
    const m = refs.dims[0] ?? 0;
    if (m < 1 || sizeOf(refs.dims.slice(1)) !== x) {
      throw new OptionError(
        `references must be [M, …] with one example's ${x} values per row, got [${refs.dims.join(", ")}]`,
      );
    }
    const rows = Array.from({ length: m }, (_, k) =>
      Float64Array.from(refs.data.subarray(k * x, (k + 1) * x) as Float32Array),
    );
    const out: Sample[][] = [];
    for (let e = 0; e < n; e++) {
      const list: Sample[] = [];
      for (let s = 0; s < samples; s++) {
        const k = rng.int(m);
        list.push({
          example: e,
          reference: rows[k]!,
          scale: rng.uniform() * rng.uniform(),
          weight: 1 / samples,
        });
      }
      out.push(list);
    }
    return out;
  });
}

type SamplePlan = (rowSize: number, baseline: Float64Array, numExamples: number) => Sample[][];

async function interactionEngine(
  source: ModelProto,
  given: InteractionOptions & { baselines?: Baseline },
  plan: SamplePlan,
  igCheck?: { steps: number },
): Promise<Interactions> {
  const options = {
    ...given,
    inputs: toTensors(given.inputs),
    extra: toTensors(given.extra),
    baselineInputs: toTensors(given.baselineInputs),
  };
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    options.onWarning?.(m);
  };
  let model = source;
  const hasRelu = source.graph!.node.some((n) => n.opType === "Relu");
  if (options.softplus) model = softplusRewrite(source, options.softplus === true ? 10 : options.softplus);
  else if (hasRelu) {
    warn(
      "the model uses Relu, whose second derivative is zero almost everywhere: interactions will miss them; pass softplus: true (β = 10) to smooth it",
    );
  }
  const prepared = await prepareAttribution(model, options);
  const { attributedModel, passthrough, output, numExamples: n } = prepared;
  const names = Object.keys(prepared.inputs);
  if (names.length !== 1)
    throw new OptionError(`interactions need exactly one attributed tensor, got ${names.join(", ")}`);
  const name = names[0]!;
  const x = prepared.inputs[name]!;
  const rowDims = x.dims.slice(1);
  const rowSize = sizeOf(rowDims);
  const xs = Float64Array.from(x.data as Float32Array);
  const base = prepared.layerBaselines?.[name] ?? resolveBaseline(options.baselines, x, name);
  assertFinite(base.data as Float32Array, "baseline");
  const baseline = Float64Array.from(base.data as Float32Array);

  // Feature groups: element → group index (summing `groupAxes` of one example).
  const groupOf = featureGroups(rowDims, options.groupAxes ?? []);
  const features = Math.max(...groupOf) + 1;
  const rows = rowList(options.interactionIndex, features);

  const samples = plan(rowSize, baseline, n);
  const session = await GradientSession.create(
    backend(options),
    attributedModel,
    { [name]: x, ...passthrough },
    {
      wrt: [name],
      outputs: [output],
      hvp: true,
      session: options.session,
    },
  );
  const gamma = new Float64Array(n * rows.length * features);
  const firstOrder = new Float64Array(n * features);
  try {
    const outInfo = session.shapes.get(output)!;
    const seeds = seedsForTarget(
      options.target,
      [n, ...outInfo.dims.slice(1)],
      n,
      outInfo.dtype as "float32" | "float64",
      output,
    );
    const seedRow = sizeOf(seeds.dims.slice(1));
    const chunk = Math.max(
      1,
      options.chunkSize ?? Math.floor(autoChunkRows(session.shapes, options.memoryBudget) / 3),
    );
    const dtype = x.dtype as "float32" | "float64";
    // Work items: (example, sample, row group); rows of one sample share its point.
    const perExample = samples[0]?.length ?? 0;
    const total = n * perExample * rows.length;
    let done = 0;
    const item = (k: number) => {
      const r = k % rows.length;
      const s = Math.floor(k / rows.length) % perExample;
      const e = Math.floor(k / (rows.length * perExample));
      return { e, s, r };
    };
    for (let start = 0; start < total; start += chunk) {
      if (options.signal?.aborted) throw new AbortError("interactions cancelled");
      const count = Math.min(chunk, total - start);
      const pts = tensor(dtype, [count, ...rowDims]);
      const vs = tensor(dtype, [count, ...rowDims]);
      const sd = tensor(seeds.dtype, [count, ...seeds.dims.slice(1)]);
      const pd = pts.data as Float32Array;
      const vd = vs.data as Float32Array;
      const pass: Record<string, Tensor> = {};
      for (const [k, t] of Object.entries(passthrough))
        pass[k] = tensor(t.dtype, [count, ...t.dims.slice(1)]);
      for (let q = 0; q < count; q++) {
        const { e, s, r } = item(start + q);
        const smp = samples[e]![s]!;
        const g = rows[r]!;
        for (let j = 0; j < rowSize; j++) {
          const d = xs[e * rowSize + j]! - smp.reference[j]!;
          pd[q * rowSize + j] = smp.reference[j]! + smp.scale * d;
          vd[q * rowSize + j] = groupOf[j] === g ? d : 0;
        }
        (sd.data as Float32Array).set(
          (seeds.data as Float32Array).subarray(e * seedRow, (e + 1) * seedRow),
          q * seedRow,
        );
        for (const [k, t] of Object.entries(passthrough)) {
          const size = sizeOf(t.dims.slice(1));
          (pass[k]!.data as Float32Array).set(
            (t.data as Float32Array).subarray(e * size, (e + 1) * size),
            q * size,
          );
        }
      }
      const res = await session.run({ [name]: pts, ...pass }, { [output]: sd }, { [name]: vs });
      const hv = res.hvp![name]!.data as Float32Array;
      const gr = res.gradients[name]!.data as Float32Array;
      for (let q = 0; q < count; q++) {
        const { e, s, r } = item(start + q);
        const smp = samples[e]![s]!;
        const g = rows[r]!;
        const out = (e * rows.length + r) * features;
        for (let j = 0; j < rowSize; j++) {
          const d = xs[e * rowSize + j]! - smp.reference[j]!;
          const h = hv[q * rowSize + j]!;
          if (!Number.isFinite(h))
            throw new NonFiniteError("a Hessian-vector product is not finite (NaN or Inf)");
          gamma[out + groupOf[j]!]! += smp.weight * smp.scale * d * h;
          if (groupOf[j] === g) {
            const first = smp.weight * d * gr[q * rowSize + j]!;
            gamma[out + g]! += first;
            firstOrder[e * features + g]! += first;
          }
        }
      }
      done += count;
      options.onProgress?.({ done, total });
    }
  } finally {
    await session.dispose();
  }

  const fx = await evaluate(
    options,
    attributedModel,
    name,
    x,
    passthrough,
    output,
    Array.from({ length: n }, (_, e) => e),
  );
  // F at the references: each distinct reference once, weighted as in the integral.
  const fRefs = new Float64Array(n);
  const distinct: { example: number; reference: Float64Array; weight: number }[] = [];
  samples.forEach((list, e) => {
    const seen = new Map<Float64Array, number>();
    const wsum = list.reduce((a, smp) => a + smp.weight, 0);
    for (const smp of list) {
      const k = seen.get(smp.reference);
      if (k === undefined) {
        seen.set(smp.reference, distinct.length);
        distinct.push({ example: e, reference: smp.reference, weight: smp.weight / wsum });
      } else distinct[k]!.weight += smp.weight / wsum;
    }
  });
  if (distinct.length) {
    const refT = tensor(x.dtype, [distinct.length, ...rowDims]);
    distinct.forEach((d, k) => (refT.data as Float32Array).set(d.reference, k * rowSize));
    const tiled: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(passthrough))
      tiled[k] = pickRows(
        t,
        distinct.map((d) => d.example),
      );
    const f = await evaluate(
      options,
      attributedModel,
      name,
      refT,
      tiled,
      output,
      distinct.map((d) => d.example),
    );
    distinct.forEach((d, k) => {
      fRefs[d.example] += d.weight * f[k]!;
    });
  }
  const perExample = samples[0]?.length ?? 0;
  const result: Interactions = {
    interactions: tensor("float64", [n, rows.length, features], gamma),
    rows,
    features,
    attributions: tensor("float64", [n, features], firstOrder),
    outputAtInput: fx,
    outputAtBaseline: fRefs,
    points: perExample,
    warnings,
  };
  if (rows.length === features) {
    // Σ_j Γ_ij is the path-integrated attribution of feature i
    const attr = new Float64Array(n * features);
    for (let e = 0; e < n; e++)
      for (let i = 0; i < features; i++) {
        let s = 0;
        for (let j = 0; j < features; j++) s += gamma[(e * features + i) * features + j]!;
        attr[e * features + i] = s;
      }
    result.attributions = tensor("float64", [n, features], attr);
    result.completenessDelta = Float64Array.from({ length: n }, (_, e) => {
      let s = 0;
      for (let i = 0; i < features; i++) s += attr[e * features + i]!;
      return s - (fx[e]! - fRefs[e]!);
    });
    if (igCheck) {
      const ig = await integratedGradients(model, {
        ...options,
        steps: igCheck.steps,
        method: "gausslegendre",
        baselines: prepared.layerBaselines ? undefined : base,
      });
      const igAttr = ig.attributions[name]!.data;
      result.rowSumDelta = Float64Array.from({ length: n }, (_, e) => {
        const grouped = new Float64Array(features);
        for (let j = 0; j < rowSize; j++) grouped[groupOf[j]!] += igAttr[e * rowSize + j]!;
        let worst = 0;
        for (let i = 0; i < features; i++)
          worst = Math.max(worst, Math.abs(attr[e * features + i]! - grouped[i]!));
        return worst;
      });
    }
  }
  return result;
}

function backend(options: InteractionOptions): Backend {
  return options.backend;
}

/** F = Σ seed ⊙ output for the rows of `x`; row r uses the target of example `examples[r]`. */
async function evaluate(
  options: InteractionOptions,
  model: ModelProto,
  name: string,
  x: Tensor,
  passthrough: Record<string, Tensor>,
  output: string,
  examples: number[],
): Promise<Float64Array> {
  const session = await options.backend.createSession(encodeModel(model), options.session);
  try {
    const y = (await session.run({ [name]: x, ...passthrough }, [output]))[output]!;
    const n = Math.max(...examples) + 1;
    const seeds = seedsForTarget(
      options.target,
      [n, ...y.dims.slice(1)],
      n,
      y.dtype as "float32" | "float64",
      output,
    );
    const row = sizeOf(y.dims.slice(1));
    const seedRows = seeds.dims[0] === 1 ? () => 0 : (e: number) => e;
    return Float64Array.from(examples, (e, r) => {
      let s = 0;
      for (let j = 0; j < row; j++)
        s += Number(y.data[r * row + j]) * Number(seeds.data[seedRows(e) * row + j]);
      return s;
    });
  } finally {
    await session.dispose();
  }
}

/** Rows `rows` of t (batch axis 0), in that order. */
function pickRows(t: Tensor, rows: number[]): Tensor {
  const size = sizeOf(t.dims.slice(1));
  const out = tensor(t.dtype, [rows.length, ...t.dims.slice(1)]);
  rows.forEach((e, k) =>
    (out.data as Float32Array).set((t.data as Float32Array).subarray(e * size, (e + 1) * size), k * size),
  );
  return out;
}

/** Group index of each element of one example when `axes` are summed over. */
export function featureGroups(rowDims: number[], axes: number[]): number[] {
  for (const a of axes) {
    if (!Number.isInteger(a) || a < 0 || a >= rowDims.length) {
      throw new OptionError(`groupAxes: axis ${a} is not an axis of one example (rank ${rowDims.length})`);
    }
  }
  const kept = rowDims.map((_, i) => i).filter((i) => !axes.includes(i));
  const size = sizeOf(rowDims);
  const out = new Array<number>(size);
  const idx = new Array<number>(rowDims.length).fill(0);
  for (let k = 0; k < size; k++) {
    let g = 0;
    for (const a of kept) g = g * rowDims[a]! + idx[a]!;
    out[k] = g;
    for (let a = rowDims.length - 1; a >= 0; a--) {
      if (++idx[a]! < rowDims[a]!) break;
      idx[a] = 0;
    }
  }
  return out;
}

function rowList(index: number | number[] | undefined, features: number): number[] {
  if (index === undefined) return Array.from({ length: features }, (_, i) => i);
  const list = Array.isArray(index) ? index : [index];
  for (const i of list) {
    if (!Number.isInteger(i) || i < 0 || i >= features) {
      throw new OptionError(`interactionIndex ${i} is out of range: there are ${features} features`);
    }
  }
  return list;
}
