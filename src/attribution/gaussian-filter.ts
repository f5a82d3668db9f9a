/**
 * scipy.ndimage.gaussian_filter, reproduced exactly (order 0): per axis a kernel of radius
 * r = ⌊truncate·σ + 0.5⌋, weights exp(−k²/(2σ²)) normalised over the 2r + 1 taps, correlated
 * along the axes in increasing order with scipy's boundary modes. Blur IG's path is defined by
 * this filter (PAIR calls it with mode "constant"), so its boundary mode and truncation matter.
 */
import { OptionError } from "./errors.js";

/** scipy.ndimage boundary modes. */
export type BoundaryMode = "constant" | "reflect" | "nearest" | "mirror" | "wrap";

/** Options of {@link gaussianFilter}. */
export interface GaussianFilterOptions {
  /** Boundary mode (default "reflect", scipy's default). */
  mode?: BoundaryMode;
  /** Value outside the array for mode "constant" (default 0). */
  cval?: number;
  /** Kernel radius in standard deviations (default 4, scipy's). */
  truncate?: number;
}

/** scipy's normalised 1-D Gaussian kernel: taps k = −r…r. */
export function gaussianKernel1d(sigma: number, radius: number): Float64Array {
  const w = new Float64Array(2 * radius + 1);
  const c = -0.5 / (sigma * sigma);
  let sum = 0;
  for (let k = -radius; k <= radius; k++) sum += w[k + radius] = Math.exp(c * k * k);
  for (let i = 0; i < w.length; i++) w[i]! /= sum;
  return w;
}

/** Index `i` of an axis of length n mapped inside by the boundary mode (−1: use cval). */
function boundaryIndex(i: number, n: number, mode: BoundaryMode): number {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case "constant":
      return -1;
    case "nearest":
      return i < 0 ? 0 : n - 1;
    case "wrap":
      return ((i % n) + n) % n;
    case "reflect": {
      // half-sample symmetric: d c b a | a b c d | d c b a
      const p = 2 * n;
      const j = ((i % p) + p) % p;
      return j < n ? j : p - 1 - j;
    }
    case "mirror": {
      // whole-sample symmetric: d c b | a b c d | c b a
      if (n === 1) return 0;
      const p = 2 * n - 2;
      const j = ((i % p) + p) % p;
      return j < n ? j : p - j;
    }
  }
}

/**
 * Filters `data` (row-major, shape `dims`) in place along `axis` with a symmetric kernel, as
 * scipy's correlate1d: out[i] = w₀·in[i] + Σ_{k≥1} w_k·(in[i+k] + in[i−k]).
 */
function filterAxis(
  data: Float64Array,
  dims: readonly number[],
  axis: number,
  kernel: Float64Array,
  mode: BoundaryMode,
  cval: number,
): void {
  const n = dims[axis]!;
  const r = (kernel.length - 1) / 2;
  let inner = 1;
  for (let a = axis + 1; a < dims.length; a++) inner *= dims[a]!;
  const outer = data.length / (n * inner);
  const line = new Float64Array(n);
  const at = (i: number): number => {
    const j = boundaryIndex(i, n, mode);
    return j < 0 ? cval : line[j]!;
  };
  for (let o = 0; o < outer; o++)
    for (let s = 0; s < inner; s++) {
      const base = o * n * inner + s;
      for (let i = 0; i < n; i++) line[i] = data[base + i * inner]!;
      for (let i = 0; i < n; i++) {
        let t = line[i]! * kernel[r]!;
        for (let k = 1; k <= r; k++) t += (at(i + k) + at(i - k)) * kernel[r + k]!;
        data[base + i * inner] = t;
      }
    }
}

/**
 * Gaussian filter of `data` (shape `dims`) with standard deviation sigmas[k] along axis k (0: that
 * axis is left alone, as scipy skips σ ≤ 1e-15). Returns a new float64 array.
 */
export function gaussianFilter(
  data: ArrayLike<number>,
  dims: readonly number[],
  sigmas: readonly number[],
  options: GaussianFilterOptions = {},
): Float64Array {
  if (sigmas.length !== dims.length) {
    throw new OptionError(`gaussianFilter: ${sigmas.length} sigmas for an array of ${dims.length} axes`);
  }
  const truncate = options.truncate ?? 4;
  const out = Float64Array.from(data as ArrayLike<number>);
  sigmas.forEach((s, axis) => {
    if (!(s >= 0) || !Number.isFinite(s))
      throw new OptionError(`gaussianFilter: sigma must be ≥ 0, got ${s}`);
    if (s <= 1e-15) return;
    const radius = Math.floor(truncate * s + 0.5);
    filterAxis(out, dims, axis, gaussianKernel1d(s, radius), options.mode ?? "reflect", options.cval ?? 0);
  });
  return out;
}
