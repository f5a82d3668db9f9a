/**
 * NoiseTunnel over Integrated Gradients (Captum's NoiseTunnel; Smilkov et al. 2017, Adebayo et
 * al. 2018): attribute `samples` noisy copies of each input (seeded Gaussian noise) and
 * aggregate — SmoothGrad (mean), SmoothGrad² (mean of squares) or VarGrad (variance).
 * All noisy copies go through one Integrated Gradients run, so the gradient graph is built once
 * and chunking still bounds memory.
 */
import type { ModelProto } from "../onnx/types.js";
import { Random } from "../tensor/random.js";
import { sizeOf, type Tensor, tensor, toTensors } from "../tensor/tensor.js";
import { type Baseline, resolveBaseline } from "./baselines.js";
import { movesBatchAxes, withBatchAxes } from "./batch-axes.js";
import { OptionError } from "./errors.js";
import { type Attribution, type IntegratedGradientsOptions, integratedGradients } from "./ig.js";
import type { Target } from "./targets.js";

/** How the attributions of the noisy copies are combined. */
export type NoiseTunnelType = "smoothgrad" | "smoothgrad_sq" | "vargrad";

/** Options of {@link noiseTunnel}: those of Integrated Gradients plus the noise. */
export interface NoiseTunnelOptions
  extends Omit<IntegratedGradientsOptions, "layer" | "baselineInputs" | "baselines"> {
  /** Aggregation (default "smoothgrad"). */
  type?: NoiseTunnelType;
  /** Noisy copies per example (default 5, as Captum). */
  samples?: number;
  /** Standard deviation of the Gaussian noise, in input units (default 1, as Captum). */
  stdev?: number;
  /** Seed of the noise (default 0). */
  seed?: number;
  /** One baseline (zero by default), shared by all noisy copies of an example. */
  baselines?: Baseline | Record<string, Baseline>;
}

/** Result of {@link noiseTunnel}: the aggregated attributions and per-copy diagnostics. */
export interface NoiseTunnelAttribution extends Attribution {
  type: NoiseTunnelType;
  samples: number;
  stdev: number;
  /** Completeness delta of every noisy copy, [samples × examples] (copy-major). */
  sampleDeltas: Float64Array;
}

/**
 * SmoothGrad / SmoothGrad² / VarGrad over Integrated Gradients.
 * `delta`, `outputAtInput` and `outputAtBaseline` are means over the noisy copies of each example.
 *
 * @example
 * ```ts
 * const r = await noiseTunnel(model, { backend: nodeBackend(), inputs: { input: x }, target: 3,
 *   type: "smoothgrad", samples: 10, stdev: 0.1, seed: 1 });
 * ```
 */
export async function noiseTunnel(
  model: ModelProto,
  given: NoiseTunnelOptions,
): Promise<NoiseTunnelAttribution> {
  if (movesBatchAxes(given)) return withBatchAxes(model, given, noiseTunnel);
  const options = { ...given, inputs: toTensors(given.inputs), extra: toTensors(given.extra) };
  const type = options.type ?? "smoothgrad";
  const samples = options.samples ?? 5;
  const stdev = options.stdev ?? 1;
  if (!["smoothgrad", "smoothgrad_sq", "vargrad"].includes(type)) {
    throw new OptionError(`noise tunnel type must be smoothgrad, smoothgrad_sq or vargrad, not "${type}"`);
  }
  if (!Number.isInteger(samples) || samples < 1)
    throw new OptionError(`samples must be a positive integer, got ${samples}`);
  if (!(stdev >= 0) || !Number.isFinite(stdev))
    throw new OptionError(`stdev must be a finite number ≥ 0, got ${stdev}`);
  if ("layer" in options && (options as { layer?: string }).layer) {
    throw new OptionError(
      "noise tunnel adds noise to the inputs; it does not combine with layer attribution",
    );
  }
  const first = Object.values(options.inputs)[0];
  if (!first) throw new OptionError("no inputs to attribute");
  const n = first.dims[0] ?? 0;
  const rng = new Random(options.seed ?? 0);

  const noisy: Record<string, Tensor> = {};
  const baselines: Record<string, Tensor> = {};
  for (const [name, x] of Object.entries(options.inputs)) {
    const spec = isPerName(options.baselines) ? options.baselines[name] : options.baselines;
    baselines[name] = tile(resolveBaseline(spec, x, name), samples);
    const t = tile(x, samples);
    const d = t.data as Float32Array | Float64Array;
    for (let i = 0; i < d.length; i++) d[i] = d[i]! + stdev * rng.normal();
    noisy[name] = t;
  }
  const extra = options.extra
    ? Object.fromEntries(Object.entries(options.extra).map(([k, t]) => [k, tile(t, samples)]))
    : undefined;
  const r = await integratedGradients(model, {
    ...options,
    inputs: noisy,
    extra,
    baselines,
    target: tileTarget(options.target, n, samples),
  });

  const attributions: Record<string, Tensor<"float64">> = {};
  for (const [name, a] of Object.entries(r.attributions)) {
    const row = sizeOf(a.dims.slice(1)) * n;
    const sum = new Float64Array(row);
    const sq = new Float64Array(row);
    const d = a.data;
    for (let s = 0; s < samples; s++) {
      for (let i = 0; i < row; i++) {
        const v = d[s * row + i]!;
        sum[i] += v;
        sq[i] += v * v;
      }
    }
    const out = new Float64Array(row);
    for (let i = 0; i < row; i++) {
      const mean = sum[i]! / samples;
      const meanSq = sq[i]! / samples;
      out[i] = type === "smoothgrad" ? mean : type === "smoothgrad_sq" ? meanSq : meanSq - mean * mean;
    }
    attributions[name] = tensor("float64", [n, ...a.dims.slice(1)], out);
  }
  const perExample = (v: Float64Array) => {
    const out = new Float64Array(n);
    for (let s = 0; s < samples; s++) for (let i = 0; i < n; i++) out[i] += v[s * n + i]! / samples;
    return out;
  };
  return {
    ...r,
    attributions,
    delta: perExample(r.delta),
    outputAtInput: perExample(r.outputAtInput),
    outputAtBaseline: perExample(r.outputAtBaseline),
    stepsPerExample: r.stepsPerExample.slice(0, n),
    converged: r.converged?.slice(0, n),
    type,
    samples,
    stdev,
    sampleDeltas: r.delta,
  };
}

function isPerName(b: NoiseTunnelOptions["baselines"]): b is Record<string, Baseline> {
  return typeof b === "object" && b !== null && !("dims" in b) && !("kind" in b);
}

/** `samples` copies of t stacked on axis 0 (copy-major). */
function tile(t: Tensor, samples: number): Tensor {
  const len = t.data.length;
  const out = tensor(t.dtype, [t.dims[0]! * samples, ...t.dims.slice(1)]);
  for (let s = 0; s < samples; s++) (out.data as Float64Array).set(t.data as Float64Array, s * len);
  return out;
}

/** Targets of the tiled batch: per-example lists and per-example weight tensors repeat. */
function tileTarget(target: Target | undefined, n: number, samples: number): Target | undefined {
  if (target === undefined || typeof target === "number" || "position" in (target as object)) return target;
  if (Array.isArray(target)) return Array.from({ length: n * samples }, (_, i) => target[i % n]!);
  const t = target as Tensor;
  return t.dims[0] === n && n > 1 ? tile(t, samples) : t;
}
