/**
 * XRAI (Kapishnikov et al. 2019) as PAIR saliency runs it: a base attribution (by default
 * Integrated Gradients averaged over a black and a white baseline — constant images at the
 * example's min and max), its max over channels, candidate regions from Felzenszwalb segmentation
 * at several scales, and the greedy gain ranking of those regions.
 */
import type { ModelProto } from "../onnx/types.js";
import { type Tensor, tensor, toFloat64 } from "../tensor/tensor.js";
import { type ImageLayout, imageLayout } from "./blur-ig.js";
import { ShapeMismatchError } from "./errors.js";
import { integratedGradients } from "./ig.js";
import type { PathSessionOptions } from "./path-session.js";
import { type RankRegionsOptions, type RegionRanking, rankRegions } from "./xrai-regions.js";
import { type XraiSegmentOptions, xraiSegments } from "./xrai-segments.js";

/** Options of {@link xrai}. */
export interface XraiOptions extends PathSessionOptions, RankRegionsOptions {
  layout?: ImageLayout;
  /** A precomputed base attribution shaped like the input (skips IG). */
  attributions?: Tensor;
  /** IG steps for the base attribution (default 50, Gauss–Legendre). */
  steps?: number;
  /** Candidate regions for every example (H·W masks; default: Felzenszwalb segments). */
  segments?: Uint8Array[];
  segmentation?: XraiSegmentOptions;
}

/** XRAI of one example. */
export interface XraiExplanation extends RegionRanking {
  height: number;
  width: number;
  /** The channel-max base attribution the regions were ranked on (H·W). */
  pixelAttribution: Float64Array;
}

/** Result of {@link xrai}. */
export interface XraiResult {
  examples: XraiExplanation[];
  /** The base attribution (shaped like the input). */
  baseAttribution: Tensor<"float64">;
}

/** Per example: an (H, W, C) copy of the image and the H·W channel-max of an attribution. */
function toHwc(
  t: Float64Array,
  dims: readonly number[],
  layout: ImageLayout,
  e: number,
): { hwc: Float64Array; H: number; W: number; C: number } {
  const [H, W, C] =
    layout === "NCHW"
      ? [dims[2]!, dims[3]!, dims[1]!]
      : layout === "NHWC"
        ? [dims[1]!, dims[2]!, dims[3]!]
        : [dims[1]!, dims[2]!, 1];
  const row = H * W * C;
  const hwc = new Float64Array(row);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      for (let c = 0; c < C; c++)
        hwc[(y * W + x) * C + c] =
          t[e * row + (layout === "NCHW" ? (c * H + y) * W + x : (y * W + x) * C + c)]!;
  return { hwc, H, W, C };
}

function channelMax(hwc: Float64Array, P: number, C: number): Float64Array {
  const out = new Float64Array(P);
  for (let p = 0; p < P; p++) {
    let m = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < C; c++) m = Math.max(m, hwc[p * C + c]!);
    out[p] = m;
  }
  return out;
}

/** Black-and-white baselines: per example, the constant images at its min and at its max. */
function blackWhite(x: Tensor): [Tensor, Tensor] {
  const N = x.dims[0]!;
  const row = x.data.length / N;
  const lo = tensor(x.dtype as "float32", x.dims);
  const hi = tensor(x.dtype as "float32", x.dims);
  for (let e = 0; e < N; e++) {
    let a = Number.POSITIVE_INFINITY;
    let b = Number.NEGATIVE_INFINITY;
    for (let j = e * row; j < (e + 1) * row; j++) {
      a = Math.min(a, Number(x.data[j]));
      b = Math.max(b, Number(x.data[j]));
    }
    lo.data.fill(a, e * row, (e + 1) * row);
    hi.data.fill(b, e * row, (e + 1) * row);
  }
  return [lo, hi];
}

/**
 * XRAI of one (H, W, C) image given its attribution in the same layout (channels may differ, e.g.
 * RGB pixels for segmenting and a one-channel map): channel max, segments, ranking.
 */
export function xraiOfImage(
  image: Float64Array,
  dims: readonly [number, number, number],
  attribution: Float64Array,
  options: Pick<
    XraiOptions,
    "segments" | "segmentation" | "algorithm" | "areaThreshold" | "minPixelDiff"
  > = {},
): XraiExplanation {
  const [H, W] = dims;
  const P = H * W;
  if (attribution.length % P !== 0) {
    throw new ShapeMismatchError(
      `an attribution of ${attribution.length} values does not fit an image of ${H}×${W} pixels`,
    );
  }
  const pixelAttribution = channelMax(attribution, P, attribution.length / P);
  const masks = options.segments ?? xraiSegments(image, dims, options.segmentation).masks;
  return { ...rankRegions(pixelAttribution, masks, options), height: H, width: W, pixelAttribution };
}

/** XRAI regions for every example of an image batch. */
export async function xrai(model: ModelProto, options: XraiOptions): Promise<XraiResult> {
  const entries = Object.entries(options.inputs);
  if (entries.length !== 1)
    throw new ShapeMismatchError(`XRAI explains one image input; got ${entries.length}`);
  const [name, x] = entries[0]!;
  const layout = imageLayout(x.dims, options.layout);
  let base: Tensor<"float64">;
  if (options.attributions) {
    if (options.attributions.data.length !== x.data.length) {
      throw new ShapeMismatchError(
        `attributions of ${options.attributions.data.length} values do not fit the input "${name}" of ${x.data.length}`,
      );
    }
    base = tensor("float64", x.dims, toFloat64(options.attributions));
  } else {
    const r = await integratedGradients(model, {
      ...options,
      baselines: blackWhite(x),
      steps: options.steps ?? 50,
    });
    base = r.attributions[name]!;
  }
  const xs = toFloat64(x);
  const examples: XraiExplanation[] = [];
  for (let e = 0; e < x.dims[0]!; e++) {
    const img = toHwc(xs, x.dims, layout, e);
    const at = toHwc(base.data, x.dims, layout, e);
    examples.push(xraiOfImage(img.hwc, [img.H, img.W, img.C], at.hwc, options));
  }
  return { examples, baseAttribution: base };
}
