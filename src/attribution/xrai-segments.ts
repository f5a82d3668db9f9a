/**
 * XRAI's candidate regions: Felzenszwalb–Huttenlocher graph segmentation (following
 * scikit-image 0.19's `felzenszwalb`) at several scales, each segment dilated by a disk, as PAIR
 * saliency's `_get_segments_felzenszwalb` does.
 *
 * scikit-image's algorithm, step by step: Gaussian blur (σ on the two spatial axes, mode reflect,
 * truncate 4); 8-connected edges with cost = Euclidean colour distance, in the order right, down,
 * down-right, up-right; edges sorted by cost; a union–find whose root is the smaller pixel index;
 * two segments merge when cost < min(int₀ + k/|S₀|, int₁ + k/|S₁|) with k = scale/255 and those
 * thresholds rounded to float32 (a C `float` there); then segments smaller than `minSize` are
 * merged along the sorted edges; labels number the segments by their first pixel.
 */
import { OptionError, ShapeMismatchError } from "./errors.js";
import { gaussianFilter } from "./gaussian-filter.js";

/** Options of {@link felzenszwalb}. */
export interface FelzenszwalbOptions {
  /** Observation scale (higher: larger segments; default 1). */
  scale?: number;
  /** Pre-smoothing σ (default 0.8). */
  sigma?: number;
  /** Smallest segment size, enforced afterwards (default 20). */
  minSize?: number;
}

/** Root of `n` (the smallest index of its tree). */
function findRoot(forest: Int32Array, n: number): number {
  let r = n;
  while (forest[r]! < r) r = forest[r]!;
  return r;
}

function setRoot(forest: Int32Array, n: number, root: number): void {
  let i = n;
  while (forest[i]! < i) {
    const j = forest[i]!;
    forest[i] = root;
    i = j;
  }
  forest[i] = root;
}

function joinTrees(forest: Int32Array, n: number, m: number): void {
  if (n === m) return;
  const root = Math.min(findRoot(forest, n), findRoot(forest, m));
  setRoot(forest, n, root);
  setRoot(forest, m, root);
}

/** The 8-connected edges (pixel pairs) and their colour distances, in scikit-image's order. */
function gridEdges(
  img: Float64Array,
  H: number,
  W: number,
  C: number,
): { a: Int32Array; b: Int32Array; cost: Float64Array } {
  const a: number[] = [];
  const b: number[] = [];
  const cost: number[] = [];
  const dist = (p: number, q: number) => {
    let s = 0;
    for (let c = 0; c < C; c++) {
      const d = img[p * C + c]! - img[q * C + c]!;
      s += d * d;
    }
    return Math.sqrt(s);
  };
  const push = (p: number, q: number) => {
    a.push(p);
    b.push(q);
    cost.push(dist(p, q));
  };
  for (let y = 0; y < H; y++) for (let x = 1; x < W; x++) push(y * W + x, y * W + x - 1); // right
  for (let y = 1; y < H; y++) for (let x = 0; x < W; x++) push(y * W + x, (y - 1) * W + x); // down
  for (let y = 1; y < H; y++) for (let x = 1; x < W; x++) push(y * W + x, (y - 1) * W + x - 1); // down-right
  for (let y = 0; y < H - 1; y++) for (let x = 1; x < W; x++) push(y * W + x, (y + 1) * W + x - 1); // up-right
  return { a: Int32Array.from(a), b: Int32Array.from(b), cost: Float64Array.from(cost) };
}

/**
 * Felzenszwalb segmentation of an (H, W, C) image (float64 values, row-major). Returns labels
 * 0…K−1 per pixel.
 */
export function felzenszwalb(
  image: ArrayLike<number>,
  dims: readonly [number, number, number],
  o: FelzenszwalbOptions = {},
): Int32Array {
  const [H, W, C] = dims;
  if (image.length !== H * W * C)
    throw new ShapeMismatchError(`felzenszwalb: ${image.length} values for an image of ${H}×${W}×${C}`);
  const scale = (o.scale ?? 1) / 255;
  const sigma = o.sigma ?? 0.8;
  const minSize = o.minSize ?? 20;
  if (!(scale > 0) || !(sigma >= 0) || !(minSize >= 0))
    throw new OptionError("felzenszwalb: scale must be positive, sigma and minSize ≥ 0");
  const img = gaussianFilter(image, dims, [sigma, sigma, 0], { mode: "reflect", truncate: 4 });
  const { a, b, cost } = gridEdges(img, H, W, C);
  // ties keep edge order (numpy's argsort is an unstable introsort; the manifest records that the
  // reference labels do not move under 1e-7 input noise, so tie order does not matter there)
  const order = Array.from(cost.keys()).sort((i, j) => cost[i]! - cost[j]! || i - j);
  const P = H * W;
  const forest = Int32Array.from({ length: P }, (_, i) => i);
  const size = new Int32Array(P).fill(1);
  const inner = new Float64Array(P);
  for (const e of order) {
    const s0 = findRoot(forest, a[e]!);
    const s1 = findRoot(forest, b[e]!);
    if (s0 === s1) continue;
    const t0 = Math.fround(inner[s0]! + scale / size[s0]!);
    const t1 = Math.fround(inner[s1]! + scale / size[s1]!);
    if (cost[e]! < Math.min(t0, t1)) {
      joinTrees(forest, s0, s1);
      const sNew = findRoot(forest, s0);
      size[sNew] = size[s0]! + size[s1]!;
      inner[sNew] = cost[e]!;
    }
  }
  for (const e of order) {
    const s0 = findRoot(forest, a[e]!);
    const s1 = findRoot(forest, b[e]!);
    if (s0 === s1) continue;
    if (size[s0]! < minSize || size[s1]! < minSize) {
      joinTrees(forest, s0, s1);
      const sNew = findRoot(forest, s0);
      size[sNew] = size[s0]! + size[s1]!;
    }
  }
  const labels = new Int32Array(P);
  const ids = new Map<number, number>();
  // roots are the smallest index of each segment, so numbering roots in pixel order is
  // np.unique's order
  for (let p = 0; p < P; p++) {
    const r = findRoot(forest, p);
    if (!ids.has(r)) ids.set(r, ids.size);
    labels[p] = ids.get(r)!;
  }
  return labels;
}

/** Binary dilation of an H×W mask by a disk of `radius` (x² + y² ≤ r², as skimage's disk). */
export function dilateDisk(mask: Uint8Array, H: number, W: number, radius: number): Uint8Array {
  // per row, a running count of set pixels answers "any set pixel in [x − w, x + w]" in O(1);
  // the disk is the union over dy of horizontal runs of half-width ⌊√(r² − dy²)⌋
  const prefix = new Int32Array(H * (W + 1));
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) prefix[y * (W + 1) + x + 1] = prefix[y * (W + 1) + x]! + mask[y * W + x]!;
  const out = new Uint8Array(H * W);
  for (let dy = -radius; dy <= radius; dy++) {
    const w = Math.floor(Math.sqrt(radius * radius - dy * dy));
    for (let y = 0; y < H; y++) {
      const yy = y + dy;
      if (yy < 0 || yy >= H) continue;
      const row = yy * (W + 1);
      for (let x = 0; x < W; x++) {
        if (out[y * W + x]) continue;
        const lo = Math.max(0, x - w);
        const hi = Math.min(W, x + w + 1);
        if (prefix[row + hi]! - prefix[row + lo]! > 0) out[y * W + x] = 1;
      }
    }
  }
  return out;
}

/** Options of {@link xraiSegments}. */
export interface XraiSegmentOptions {
  /** Felzenszwalb scales (default PAIR's [50, 100, 150, 250, 500, 1200]). */
  scales?: number[];
  sigma?: number;
  /** Default 150, PAIR's. */
  minSize?: number;
  /** Disk radius of the dilation, at the image's size (default 5; 0: none). */
  dilation?: number;
  /** Side of the square the image is resized to for segmenting (default 224, PAIR's). */
  segmentSize?: number;
}

/** Bilinear resize of an (H, W, C) image to (h, w, C), pixel centres aligned (as skimage). */
function resizeBilinear(
  img: Float64Array,
  H: number,
  W: number,
  C: number,
  h: number,
  w: number,
): Float64Array {
  const out = new Float64Array(h * w * C);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(H - 1, Math.max(0, ((y + 0.5) * H) / h - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(H - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < w; x++) {
      const sx = Math.min(W - 1, Math.max(0, ((x + 0.5) * W) / w - 0.5));
      const x0 = Math.floor(sx);
      const x1 = Math.min(W - 1, x0 + 1);
      const fx = sx - x0;
      for (let c = 0; c < C; c++) {
        const at = (yy: number, xx: number) => img[(yy * W + xx) * C + c]!;
        out[(y * w + x) * C + c] =
          (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) +
          fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
      }
    }
  }
  return out;
}

/** Nearest-neighbour resize of an h×w label map to H×W. */
function resizeLabels(labels: Int32Array, h: number, w: number, H: number, W: number): Int32Array {
  const out = new Int32Array(H * W);
  for (let y = 0; y < H; y++) {
    const sy = Math.min(h - 1, Math.max(0, Math.round(((y + 0.5) * h) / H - 0.5)));
    for (let x = 0; x < W; x++) {
      const sx = Math.min(w - 1, Math.max(0, Math.round(((x + 0.5) * w) / W - 0.5)));
      out[y * W + x] = labels[sy * w + sx]!;
    }
  }
  // keep labels 0…K−1 (a small segment may vanish when shrinking)
  const ids = new Map<number, number>();
  for (let i = 0; i < out.length; i++) {
    if (!ids.has(out[i]!)) ids.set(out[i]!, ids.size);
    out[i] = ids.get(out[i]!)!;
  }
  return out;
}

/**
 * PAIR's candidate regions of an (H, W, C) image: the image rescaled to [−1, 1] (in float32, as
 * numpy does on a float32 image) and resized to 224 × 224, segmented at each scale, the labels
 * resized back, one dilated mask per segment (scale order, then label order). PAIR resizes with
 * skimage's bicubic, anti-aliased resize; pathlens with bilinear interpolation (identical for
 * 224 × 224 images, where no resize happens).
 */
export function xraiSegments(
  image: ArrayLike<number>,
  dims: readonly [number, number, number],
  o: XraiSegmentOptions = {},
): { masks: Uint8Array[]; labels: Int32Array[] } {
  const [H, W, C] = dims;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < image.length; i++) {
    min = Math.min(min, image[i]!);
    max = Math.max(max, image[i]!);
  }
  const f = Math.fround;
  const range = f(max - min);
  let norm: Float64Array = Float64Array.from(image as ArrayLike<number>, (v) =>
    range > 0 ? f(f(f(f(v - min) / range) * 2) - 1) : 0,
  );
  const size = o.segmentSize ?? 224;
  const resized = H !== size || W !== size;
  if (resized) norm = resizeBilinear(norm, H, W, C, size, size);
  const masks: Uint8Array[] = [];
  const labels: Int32Array[] = [];
  for (const scale of o.scales ?? [50, 100, 150, 250, 500, 1200]) {
    let seg = felzenszwalb(norm, resized ? [size, size, C] : dims, {
      scale,
      sigma: o.sigma ?? 0.8,
      minSize: o.minSize ?? 150,
    });
    if (resized) seg = resizeLabels(seg, size, size, H, W);
    labels.push(seg);
    let k = 0;
    for (const v of seg) k = Math.max(k, v + 1);
    for (let l = 0; l < k; l++) {
      const m = Uint8Array.from(seg, (v) => (v === l ? 1 : 0));
      masks.push((o.dilation ?? 5) > 0 ? dilateDisk(m, H, W, o.dilation ?? 5) : m);
    }
  }
  return { masks, labels };
}
