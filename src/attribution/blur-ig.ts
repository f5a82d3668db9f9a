/**
 * Blur IG (Xu et al. 2020, "Attribution in Scale and Space") with PAIR saliency's definition: the
 * path runs through Gaussian blurs of the input, σ_i = i·maxSigma/steps (or √ of it with `sqrt`),
 * and attr = −Σ_{i<steps} (σ_{i+1} − σ_i) · (blur(x, σ_i + gradStep) − blur(x, σ_i))/gradStep ·
 * ∇F(blur(x, σ_i)) — a left Riemann sum from the input (σ = 0) towards the blurred image. The
 * blur is scipy's gaussian_filter over the two spatial axes with mode "constant" and truncate 4,
 * as PAIR calls it. Path points of every example and step are evaluated together, in chunks.
 */
import type { ModelProto } from "../onnx/types.js";
import { shapeString, type Tensor, tensor, toFloat64 } from "../tensor/tensor.js";
import { OptionError, ShapeMismatchError } from "./errors.js";
import { type BoundaryMode, gaussianFilter } from "./gaussian-filter.js";
import type { PathMethodResult } from "./guided-ig.js";
import { evaluatePath, gridPoints } from "./path-engine.js";
import { openPathSession, type PathSessionOptions } from "./path-session.js";

/** Where the spatial axes are: (N, C, H, W), (N, H, W, C) or (N, H, W). */
export type ImageLayout = "NCHW" | "NHWC" | "NHW";

/** Options of {@link blurIntegratedGradients}. */
export interface BlurIGOptions extends PathSessionOptions {
  /** The largest blur σ (default 50). */
  maxSigma?: number;
  /** Number of path steps (default 100). */
  steps?: number;
  /** σ step of the finite difference along the path (default 0.01). */
  gradStep?: number;
  /** Space the σ's as √(i·maxSigma/steps) (default false: linear). */
  sqrt?: boolean;
  /** Layout of the input (default: NHW for rank 3; for rank 4, NCHW when axis 1 has ≤ 4 channels, else NHWC). */
  layout?: ImageLayout;
  /** Boundary mode of the blur (default "constant", as PAIR). */
  mode?: BoundaryMode;
}

/** The σ's of the blur path (steps + 1 values, from 0). */
export function blurSigmas(maxSigma: number, steps: number, sqrt: boolean): number[] {
  return Array.from({ length: steps + 1 }, (_, i) =>
    sqrt ? Math.sqrt((i * maxSigma) / steps) : (i * maxSigma) / steps,
  );
}

/** The layout of an image batch, given or inferred. */
export function imageLayout(dims: readonly number[], layout?: ImageLayout): ImageLayout {
  const want =
    layout ??
    (dims.length === 3
      ? "NHW"
      : dims.length === 4
        ? dims[1]! <= 4
          ? "NCHW"
          : dims[3]! <= 4
            ? "NHWC"
            : undefined
        : undefined);
  const rank = want === "NHW" ? 3 : 4;
  if (!want || dims.length !== rank) {
    throw new ShapeMismatchError(
      `Blur IG needs an image batch (N, C, H, W), (N, H, W, C) or (N, H, W); got shape ${shapeString(dims)}${layout ? ` for layout ${layout}` : " (give layout)"}`,
    );
  }
  return want;
}

/** Per-axis σ's of one example (without the batch axis) for a layout. */
function spatialSigmas(layout: ImageLayout, s: number): number[] {
  return layout === "NCHW" ? [0, s, s] : layout === "NHWC" ? [s, s, 0] : [s, s];
}

/**
 * Blur Integrated Gradients for any image model; works on (N, C, H, W), (N, H, W, C) and (N, H, W)
 * inputs. `delta` is Σ attr − (F(x) − F(blur(x, σ_max))).
 */
export async function blurIntegratedGradients(
  model: ModelProto,
  options: BlurIGOptions,
): Promise<PathMethodResult> {
  const maxSigma = options.maxSigma ?? 50;
  const steps = options.steps ?? 100;
  const gradStep = options.gradStep ?? 0.01;
  if (!(maxSigma > 0) || !Number.isFinite(maxSigma))
    throw new OptionError(`maxSigma must be positive, got ${maxSigma}`);
  if (!Number.isInteger(steps) || steps < 1)
    throw new OptionError(`steps must be a positive integer, got ${steps}`);
  if (!(gradStep > 0)) throw new OptionError(`gradStep must be positive, got ${gradStep}`);
  const first = Object.values(options.inputs)[0];
  const layout = imageLayout(first?.dims ?? [], options.layout);
  const ps = await openPathSession(model, options, "Blur IG");
  try {
    const { numExamples: N, rowSize, rowDims } = ps;
    const xs = toFloat64(ps.x);
    const sigmas = blurSigmas(maxSigma, steps, options.sqrt ?? false);
    const filterOpts = { mode: options.mode ?? "constant", truncate: 4 } as const;
    const blur = (e: number, s: number): Float64Array => {
      const row = xs.subarray(e * rowSize, (e + 1) * rowSize);
      return s === 0
        ? Float64Array.from(row)
        : gaussianFilter(row, rowDims, spatialSigmas(layout, s), filterOpts);
    };
    // point k < steps: gradient at blur(x, σ_k); point `steps` (weight 0): F at the path's end
    const perExample = steps + 1;
    const points = gridPoints(N, perExample, (example, k) => ({
      example,
      alpha: k,
      weight: k < steps ? -(sigmas[k + 1]! - sigmas[k]!) : 0,
    }));
    // fill computes blur(x, σ_k) and keeps the finite difference for direction (same chunk)
    const pending = new Map<number, Float64Array>();
    const acc = await evaluatePath(
      {
        session: ps.session,
        attributed: [{ name: ps.name, rowDims, dtype: ps.dtype }],
        fill: (_n, p, dst, offset) => {
          const s = sigmas[p.alpha]!;
          const at = blur(p.example, s);
          dst.set(at, offset);
          if (p.alpha < steps) {
            const ahead = blur(p.example, s + gradStep);
            for (let j = 0; j < rowSize; j++) ahead[j] = (ahead[j]! - at[j]!) / gradStep;
            pending.set(p.example * perExample + p.alpha, ahead);
          }
        },
        direction: (_n, p, dst) => {
          const key = p.example * perExample + p.alpha;
          const d = pending.get(key);
          if (d) {
            dst.set(d);
            pending.delete(key);
          } else dst.fill(0);
        },
        passthrough: ps.passthrough,
        output: ps.output,
        seeds: ps.seeds,
        chunkRows: ps.chunkRows,
        onProgress: options.onProgress,
        signal: options.signal,
      },
      points,
      N,
    );
    const attr = acc.sums[ps.name]!;
    const fx = new Float64Array(N);
    const fb = new Float64Array(N);
    const delta = new Float64Array(N);
    for (let e = 0; e < N; e++) {
      fx[e] = acc.targetValues[e * perExample]!;
      fb[e] = acc.targetValues[e * perExample + steps]!;
      let s = 0;
      for (let j = e * rowSize; j < (e + 1) * rowSize; j++) s += attr[j]!;
      delta[e] = s - (fx[e]! - fb[e]!);
    }
    return {
      attributions: { [ps.name]: tensor("float64", ps.x.dims, attr) as Tensor<"float64"> },
      delta,
      outputAtInput: fx,
      outputAtBaseline: fb,
      steps,
      method: "blur_ig",
      output: ps.output,
      chunkSize: ps.chunkRows,
    };
  } finally {
    await ps.session.dispose();
  }
}
