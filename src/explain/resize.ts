/**
 * Image resizing as Pillow does it (and so torchvision's `Resize` on PIL images): a separable
 * convolution whose filter support grows with the downscale factor (antialiasing), horizontal pass
 * first, coefficients in Pillow's 22-bit fixed point, each pass rounded and clipped to 8 bits.
 * Channels are resized independently (Pillow premultiplies alpha first: the same for opaque images).
 */
import type { RgbaImage } from "../io/image.js";

/** Resampling filters: Pillow's BILINEAR (triangle, support 1) and BICUBIC (a = −0.5, support 2). */
export type ResampleFilter = "bilinear" | "bicubic";

const FILTERS: Record<ResampleFilter, { support: number; f: (x: number) => number }> = {
  bilinear: { support: 1, f: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0) },
  bicubic: {
    support: 2,
    f: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
};

const PRECISION_BITS = 32 - 8 - 2;

/** Per output pixel: the first input index and the fixed-point weights (Pillow's precompute_coeffs). */
function coefficients(
  inSize: number,
  outSize: number,
  filter: ResampleFilter,
): { start: Int32Array; weights: Int32Array[] } {
  const { support: base, f } = FILTERS[filter];
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = base * filterScale;
  const start = new Int32Array(outSize);
  const weights: Int32Array[] = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    const k = new Float64Array(xmax);
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = f((x + xmin - center + 0.5) / filterScale);
      sum += k[x]!;
    }
    const fixed = new Int32Array(xmax);
    for (let x = 0; x < xmax; x++) {
      const v = (sum !== 0 ? k[x]! / sum : k[x]!) * (1 << PRECISION_BITS);
      fixed[x] = Math.trunc(v < 0 ? v - 0.5 : v + 0.5);
    }
    start[xx] = xmin;
    weights.push(fixed);
  }
  return { start, weights };
}

function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Resizes an RGBA image to width × height as Pillow's `Image.resize` does with BILINEAR (default)
 * or BICUBIC: antialiased when downscaling, bit-exact with Pillow on opaque images.
 */
export function resizeLikePil(
  img: RgbaImage,
  height: number,
  width: number,
  filter: ResampleFilter = "bilinear",
): RgbaImage {
  if (img.height === height && img.width === width) return img;
  let cur = img;
  if (width !== img.width) {
    const { start, weights } = coefficients(img.width, width, filter);
    const out = new Uint8Array(width * cur.height * 4);
    for (let y = 0; y < cur.height; y++)
      for (let x = 0; x < width; x++) {
        const k = weights[x]!;
        const row = (y * cur.width + start[x]!) * 4;
        for (let c = 0; c < 4; c++) {
          let s = 1 << (PRECISION_BITS - 1);
          for (let q = 0; q < k.length; q++) s += cur.data[row + q * 4 + c]! * k[q]!;
          out[(y * width + x) * 4 + c] = clip8(s);
        }
      }
    cur = { width, height: cur.height, data: out };
  }
  if (height !== cur.height) {
    const { start, weights } = coefficients(cur.height, height, filter);
    const out = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++) {
      const k = weights[y]!;
      for (let x = 0; x < width; x++)
        for (let c = 0; c < 4; c++) {
          let s = 1 << (PRECISION_BITS - 1);
          for (let q = 0; q < k.length; q++) s += cur.data[((start[y]! + q) * width + x) * 4 + c]! * k[q]!;
          out[(y * width + x) * 4 + c] = clip8(s);
        }
    }
    cur = { width, height, data: out };
  }
  return cur;
}
