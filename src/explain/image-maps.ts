/**
 * Image attribution pictures: a heat-map overlay (sign: positive / negative / absolute, clipped
 * at a percentile) and the "window" of the Integrated Gradients paper (attribution magnitude as
 * a soft mask over the image).
 */
import type { RgbaImage } from "../io/image.js";

/** Which part of the attributions is shown. */
export type AttributionSign = "positive" | "negative" | "absolute" | "all";

/** Per-pixel attribution (channels summed), [h × w]. */
export function pixelAttributions(
  a: ArrayLike<number>,
  h: number,
  w: number,
  layout: "nchw" | "nhwc" = "nchw",
): Float64Array {
  const out = new Float64Array(h * w);
  for (let i = 0; i < h * w; i++)
    for (let c = 0; c < 3; c++) out[i] += a[layout === "nhwc" ? i * 3 + c : c * h * w + i]!;
  return out;
}

/** Signed values selected by `sign` and scaled to [−1, 1] with the top `percentile` clipped. */
export function normalise(v: Float64Array, sign: AttributionSign, percentile = 99): Float64Array {
  const sel = v.map((x) =>
    sign === "positive"
      ? Math.max(x, 0)
      : sign === "negative"
        ? Math.max(-x, 0)
        : sign === "absolute"
          ? Math.abs(x)
          : x,
  );
  const mags = Array.from(sel, Math.abs).sort((a, b) => a - b);
  const q =
    mags[Math.min(mags.length - 1, Math.floor((percentile / 100) * (mags.length - 1)))] ||
    mags[mags.length - 1] ||
    1;
  return sel.map((x) => Math.max(-1, Math.min(1, x / (q || 1))));
}

/** Overlay: the image in grey, orange where attributions are positive, purple where negative. */
export function overlay(img: RgbaImage, values: Float64Array, alpha = 0.75): RgbaImage {
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < img.width * img.height; i++) {
    const g = 0.299 * img.data[i * 4]! + 0.587 * img.data[i * 4 + 1]! + 0.114 * img.data[i * 4 + 2]!;
    const v = values[i]!;
    const color = v >= 0 ? [230, 97, 1] : [94, 60, 153];
    const t = Math.abs(v) * alpha;
    for (let c = 0; c < 3; c++) out[i * 4 + c] = Math.round((1 - t) * g * 0.8 + t * color[c]!);
    out[i * 4 + 3] = 255;
  }
  return { width: img.width, height: img.height, data: out };
}

/** The IG paper's window: pixels kept in proportion to |attribution| (clipped, in [0, 1]). */
export function windowMask(img: RgbaImage, values: Float64Array): RgbaImage {
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < img.width * img.height; i++) {
    const m = Math.min(1, Math.abs(values[i]!));
    for (let c = 0; c < 3; c++) out[i * 4 + c] = Math.round(img.data[i * 4 + c]! * m);
    out[i * 4 + 3] = 255;
  }
  return { width: img.width, height: img.height, data: out };
}

/** Nearest-neighbour upscaling (so small images stay crisp in reports). */
export function upscale(img: RgbaImage, factor: number): RgbaImage {
  if (factor <= 1) return img;
  const w = img.width * factor;
  const h = img.height * factor;
  const out = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const s = (Math.floor(y / factor) * img.width + Math.floor(x / factor)) * 4;
      out.set(img.data.subarray(s, s + 4), (y * w + x) * 4);
    }
  return { width: w, height: h, data: out };
}
