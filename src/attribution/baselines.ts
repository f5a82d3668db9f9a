/**
 * Baselines for path methods: zero, a constant, a tensor (shared or per example), seeded noise,
 * and blurred images.
 */
import { Random } from "../tensor/random.js";
import { allocate, shapeString, sizeOf, type Tensor, tensor } from "../tensor/tensor.js";
import { OptionError, ShapeMismatchError } from "./errors.js";

/**
 * A baseline:
 * - "zero" (default) or a number: a constant tensor;
 * - a Tensor shaped like one example (shared) or like the whole input (one per example);
 * - `{ kind: "uniform", low, high, seed }` / `{ kind: "gaussian", stdev, seed }`: seeded noise
 *   (gaussian noise is added to the input, as PAIR saliency's noise baselines);
 * - `{ kind: "blur", sigma }`: the input blurred with a Gaussian over its last two axes (images).
 */
export type Baseline =
  | "zero"
  | number
  | Tensor
  | { kind: "uniform"; low?: number; high?: number; seed?: number }
  | { kind: "gaussian"; stdev?: number; seed?: number }
  | { kind: "blur"; sigma?: number };

function isTensor(t: unknown): t is Tensor {
  return typeof t === "object" && t !== null && "dims" in t && "data" in t;
}

/** Materialises a baseline for `input` (shape [N, …]) as a tensor of the same shape and dtype. */
export function resolveBaseline(spec: Baseline | undefined, input: Tensor, name: string): Tensor {
  const n = input.data.length;
  const dtype = input.dtype as "float32" | "float64";
  const out = tensor(dtype, input.dims, allocate(dtype, n));
  const d = out.data as Float32Array | Float64Array;
  if (spec === undefined || spec === "zero") return out;
  if (typeof spec === "number") {
    d.fill(spec);
    return out;
  }
  if (isTensor(spec)) {
    const row = sizeOf(input.dims.slice(1));
    if (spec.data.length === n) {
      for (let i = 0; i < n; i++) d[i] = Number(spec.data[i]);
    } else if (spec.data.length === row) {
      for (let i = 0; i < n; i++) d[i] = Number(spec.data[i % row]);
    } else {
      throw new ShapeMismatchError(
        `baseline for "${name}" has shape ${shapeString(spec.dims)}; expected the input's shape ${shapeString(input.dims)} or one example's ${shapeString(input.dims.slice(1))}`,
      );
    }
    return out;
  }
  switch (spec.kind) {
    case "uniform": {
      const rng = new Random(spec.seed ?? 0);
      const lo = spec.low ?? 0;
      const hi = spec.high ?? 1;
      for (let i = 0; i < n; i++) d[i] = lo + (hi - lo) * rng.uniform();
      return out;
    }
    case "gaussian": {
      const rng = new Random(spec.seed ?? 0);
      const s = spec.stdev ?? 1;
      for (let i = 0; i < n; i++) d[i] = Number(input.data[i]) + s * rng.normal();
      return out;
    }
    case "blur":
      return gaussianBlur(input, spec.sigma ?? 5);
    default:
      throw new OptionError(`unknown baseline ${JSON.stringify(spec)}`);
  }
}

/** Separable Gaussian blur over the last two axes (H, W), reflecting at the borders. */
export function gaussianBlur(input: Tensor, sigma: number): Tensor {
  if (input.dims.length < 2)
    throw new ShapeMismatchError(`blur needs an image (…, H, W), got shape ${shapeString(input.dims)}`);
  if (!(sigma > 0)) throw new OptionError(`blur sigma must be positive, got ${sigma}`);
  const H = input.dims[input.dims.length - 2]!;
  const W = input.dims[input.dims.length - 1]!;
  const planes = input.data.length / (H * W);
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float64Array(2 * radius + 1);
  let ks = 0;
  for (let i = -radius; i <= radius; i++) ks += kernel[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i]! /= ks;
  const reflect = (i: number, n: number) => {
    if (n === 1) return 0;
    let j = i;
    while (j < 0 || j >= n) j = j < 0 ? -j - 1 : 2 * n - j - 1;
    return j;
  };
  const out = tensor(input.dtype, input.dims);
  const tmp = new Float64Array(H * W);
  for (let p = 0; p < planes; p++) {
    const off = p * H * W;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        let s = 0;
        for (let k = -radius; k <= radius; k++)
          s += kernel[k + radius]! * Number(input.data[off + y * W + reflect(x + k, W)]);
        tmp[y * W + x] = s;
      }
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        let s = 0;
        for (let k = -radius; k <= radius; k++) s += kernel[k + radius]! * tmp[reflect(y + k, H) * W + x]!;
        (out.data as Float64Array)[off + y * W + x] = s;
      }
  }
  return out;
}
