/**
 * Image preprocessing as models expect it, described as data (flags or a JSON file): resize
 * (Pillow's antialiased bilinear or bicubic; a number resizes the shorter side, as torchvision), centre crop, scale, mean/std,
 * NCHW or NHWC, RGB or BGR. Also the inverse map of a pixel-space image (for baselines).
 */
import { PathlensError } from "../errors.js";
import type { RgbaImage } from "../io/image.js";
import { type Tensor, tensor } from "../tensor/tensor.js";
import { type ResampleFilter, resizeLikePil } from "./resize.js";

/** How an image becomes the model's input tensor. */
export interface Preprocess {
  /** Shorter side (number) or exact [height, width]. */
  resize?: number | [number, number];
  /** Resampling filter of the resize (default "bilinear", as torchvision's Resize). */
  interpolation?: ResampleFilter;
  /** Centre crop to a square side or [height, width]. */
  crop?: number | [number, number];
  /** Multiplies 0…255 values (default 1/255). */
  scale?: number;
  mean?: number[];
  std?: number[];
  layout?: "nchw" | "nhwc";
  channels?: "rgb" | "bgr";
}

/** A preprocessing description that does not make sense. */
export class PreprocessError extends PathlensError {
  override name = "PreprocessError";
}

/** Validates a preprocessing description (from JSON or flags). */
export function checkPreprocess(p: Preprocess): Preprocess {
  const dims = (v: unknown, what: string) => {
    if (v === undefined) return;
    const ok =
      (typeof v === "number" && Number.isInteger(v) && v > 0) ||
      (Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x) && x > 0));
    if (!ok)
      throw new PreprocessError(
        `${what} must be a positive integer or [height, width], got ${JSON.stringify(v)}`,
      );
  };
  dims(p.resize, "resize");
  dims(p.crop, "crop");
  if (p.scale !== undefined && !(typeof p.scale === "number" && Number.isFinite(p.scale)))
    throw new PreprocessError(`scale must be a number`);
  for (const k of ["mean", "std"] as const) {
    const v = p[k];
    if (
      v !== undefined &&
      !(Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === "number" && Number.isFinite(x)))
    ) {
      throw new PreprocessError(`${k} must be three numbers (one per channel), got ${JSON.stringify(v)}`);
    }
  }
  if (p.std?.some((s) => s === 0)) throw new PreprocessError("std must not contain 0");
  if (p.interpolation !== undefined && p.interpolation !== "bilinear" && p.interpolation !== "bicubic")
    throw new PreprocessError(`interpolation must be bilinear or bicubic`);
  if (p.layout !== undefined && p.layout !== "nchw" && p.layout !== "nhwc")
    throw new PreprocessError(`layout must be nchw or nhwc`);
  if (p.channels !== undefined && p.channels !== "rgb" && p.channels !== "bgr")
    throw new PreprocessError(`channels must be rgb or bgr`);
  return p;
}

/**
 * Resize as PIL/torchvision (Pillow's antialiased resampling; `filter` bilinear by default).
 * @see resizeLikePil
 */
export function resizeImage(
  img: RgbaImage,
  height: number,
  width: number,
  filter: ResampleFilter = "bilinear",
): RgbaImage {
  return resizeLikePil(img, height, width, filter);
}

/** Resize and crop only (the picture the model sees, for visualisation). */
export function geometry(img: RgbaImage, p: Preprocess): RgbaImage {
  let cur = img;
  if (p.resize !== undefined) {
    const [h, w] =
      typeof p.resize === "number"
        ? img.height <= img.width
          ? [p.resize, Math.round((img.width * p.resize) / img.height)]
          : [Math.round((img.height * p.resize) / img.width), p.resize]
        : p.resize;
    cur = resizeImage(cur, h, w, p.interpolation ?? "bilinear");
  }
  if (p.crop !== undefined) {
    const [h, w] = typeof p.crop === "number" ? [p.crop, p.crop] : p.crop;
    if (h > cur.height || w > cur.width)
      throw new PreprocessError(`crop ${h}×${w} is larger than the image ${cur.height}×${cur.width}`);
    const top = Math.floor((cur.height - h) / 2);
    const left = Math.floor((cur.width - w) / 2);
    const data = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++)
      data.set(
        cur.data.subarray(((top + y) * cur.width + left) * 4, ((top + y) * cur.width + left + w) * 4),
        y * w * 4,
      );
    cur = { width: w, height: h, data };
  }
  return cur;
}

/** Normalises an already resized/cropped image's pixels into the model's [1, …] float32 layout. */
export function toModelTensor(
  img: RgbaImage,
  p: Preprocess,
  pixel?: (i: number, c: number) => number,
): Tensor<"float32"> {
  const { width: w, height: h } = img;
  const scale = p.scale ?? 1 / 255;
  const mean = p.mean ?? [0, 0, 0];
  const std = p.std ?? [1, 1, 1];
  const nhwc = p.layout === "nhwc";
  const out = tensor("float32", nhwc ? [1, h, w, 3] : [1, 3, h, w]);
  const d = out.data as Float32Array;
  for (let i = 0; i < w * h; i++)
    for (let c = 0; c < 3; c++) {
      const src = p.channels === "bgr" ? 2 - c : c;
      const raw = pixel ? pixel(i, src) : img.data[i * 4 + src]!;
      const v = (raw * scale - mean[c]!) / std[c]!;
      d[nhwc ? i * 3 + c : c * w * h + i] = v;
    }
  return out;
}
