/**
 * Each reference point's k nearest other reference points (the reference part of EIG's
 * neighbour graph), exact: ordered by squared Euclidean distance summed in float64 over the
 * coordinates in order, ties to the lower index — the same numbers a brute force computes.
 * Two ways to get them: screened in JavaScript (below; small sets, or no runtime at hand) or
 * screened by onnxruntime in float32 and re-measured here (gram-knn.ts; large sets).
 */
import type { Backend } from "../../runtime/backend.js";
import { gramNeighbours } from "./gram-knn.js";
import { type Rows, row } from "./rows.js";
import { TopK } from "./top-k.js";

/** Below this many reference points the JavaScript screen beats creating a session. */
export const GRAM_MIN_ROWS = 1000;

/**
 * Each reference point's k nearest other reference points, cached per data set (a larger k
 * recomputes; a smaller one is served from the cache). With a backend and at least
 * {@link GRAM_MIN_ROWS} points, onnxruntime screens the pairs ({@link gramNeighbours}); otherwise,
 * or when that declines (non-finite values, a reference too large for one model), JavaScript does.
 */
export async function referenceNeighbours(
  reference: Rows,
  k: number,
  backend?: Backend,
): Promise<NeighbourLists> {
  const hit = neighbourCache.get(reference);
  if (hit && hit.k >= k) return hit.k === k ? hit : truncate(hit, k);
  const lists =
    (backend && reference.n >= GRAM_MIN_ROWS ? await gramNeighbours(reference, k, backend) : undefined) ??
    screenedNeighbours(reference, k);
  neighbourCache.set(reference, lists);
  return lists;
}

/** {@link referenceNeighbours} without a runtime: always the JavaScript screen. */
export function referenceNeighboursSync(reference: Rows, k: number): NeighbourLists {
  const hit = neighbourCache.get(reference);
  if (hit && hit.k >= k) return hit.k === k ? hit : truncate(hit, k);
  const lists = screenedNeighbours(reference, k);
  neighbourCache.set(reference, lists);
  return lists;
}

/** Each reference point's k nearest other reference points, row-major [n, k] (−1: fewer exist). */
export interface NeighbourLists {
  k: number;
  /** Valid entries per row: min(k, n − 1). */
  count: number;
  index: Int32Array;
  dist: Float64Array;
  /**
   * Rows onnxruntime's screen could not certify, measured against every point instead (undefined:
   * screened in JavaScript). Many near-ties raise it; it never changes the lists.
   */
  uncertifiedRows?: number;
}

const neighbourCache = new WeakMap<Rows, NeighbourLists>();

/**
 * Each reference point's k nearest other reference points, in JavaScript. Exact, but most pairs are never summed in full: points are ranked along their
 * leading principal direction and each is first compared with its rank neighbours (so every
 * running top-k is full and tight early); every other pair is then screened by its distance in
 * the top principal subspace (an orthogonal projection: a lower bound on the true distance) and
 * summed only when that bound is within both points' current k-th distance, stopping early once
 * the partial sum exceeds it.
 */
export function screenedNeighbours(reference: Rows, k: number): NeighbourLists {
  const { n, d } = reference;
  const projected = principalProjection(reference, Math.min(d, SCREEN_DIMS));
  const m = projected.length / n;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (m > 0 ? projected[a * m]! - projected[b * m]! : 0) || a - b,
  );
  const data = new Float64Array(n * d); // rows in rank order
  const screen = new Float64Array(n * m);
  order.forEach((o, r) => {
    data.set(row(reference, o), r * d);
    screen.set(projected.subarray(o * m, (o + 1) * m), r * m);
  });
  const tops = Array.from({ length: n }, () => new TopK(k));
  const pair = (ri: number, rj: number) => {
    const ti = tops[ri]!;
    const tj = tops[rj]!;
    const bound = Math.max(ti.worst(), tj.worst());
    let lower = 0;
    for (let c = 0; c < m; c++) {
      const t = screen[ri * m + c]! - screen[rj * m + c]!;
      lower += t * t;
    }
    if (lower > bound * (1 + 1e-9) + 1e-300) return; // rounding margin: never prune a true candidate
    const a = ri * d;
    const b = rj * d;
    let s = 0;
    for (let c = 0; c < d; c++) {
      const t = data[a + c]! - data[b + c]!;
      s += t * t;
      if ((c & 7) === 7 && s > bound) return; // farther than both k-th neighbours
    }
    ti.offer(order[rj]!, s);
    tj.offer(order[ri]!, s);
  };
  const window = Math.min(n - 1, 2 * k);
  for (let ri = 0; ri < n; ri++) for (let rj = ri + 1; rj <= Math.min(n - 1, ri + window); rj++) pair(ri, rj);
  for (let ri = 0; ri < n; ri++) for (let rj = ri + window + 1; rj < n; rj++) pair(ri, rj);
  const lists: NeighbourLists = {
    k,
    count: Math.min(k, n - 1),
    index: new Int32Array(n * k).fill(-1),
    dist: new Float64Array(n * k),
  };
  tops.forEach((t, r) => {
    const i = order[r]!;
    lists.index.set(t.index.subarray(0, t.size), i * k);
    lists.dist.set(t.dist.subarray(0, t.size), i * k);
  });
  return lists;
}

/** Dimensions of the principal subspace used to screen pairs. */
const SCREEN_DIMS = 8;

/**
 * The centred points' coordinates [n, m'] on the m' ≤ m leading principal directions (orthonormal,
 * by power iteration with deflation on the d × d covariance; fewer when the data has lower rank). Any orthonormal directions give a
 * lower bound on distances; the leading ones make it tight.
 */
function principalProjection(points: Rows, m: number): Float64Array {
  const { n, d, data } = points;
  const mean = new Float64Array(d);
  for (let i = 0; i < n * d; i++) mean[i % d]! += data[i]! / n;
  const cov = new Float64Array(d * d);
  const centred = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < d; c++) centred[c] = data[i * d + c]! - mean[c]!;
    for (let a = 0; a < d; a++) {
      const v = centred[a]!;
      if (v !== 0) for (let b = 0; b < d; b++) cov[a * d + b]! += v * centred[b]!;
    }
  }
  const directions: Float64Array[] = [];
  for (let q = 0; q < m; q++) {
    let u = Float64Array.from({ length: d }, (_, c) => Math.sin(1 + c * (q + 1))); // deterministic start
    for (let iteration = 0; iteration < 40; iteration++) {
      const next = new Float64Array(d);
      for (let a = 0; a < d; a++) {
        let s = 0;
        for (let b = 0; b < d; b++) s += cov[a * d + b]! * u[b]!;
        next[a] = s;
      }
      for (const w of directions) {
        let dot = 0;
        for (let c = 0; c < d; c++) dot += next[c]! * w[c]!;
        for (let c = 0; c < d; c++) next[c]! -= dot * w[c]!;
      }
      const norm = Math.hypot(...next);
      if (!(norm > 0)) return project(points, mean, directions); // rank < m: fewer directions
      u = next.map((v) => v / norm);
    }
    directions.push(u);
  }
  return project(points, mean, directions);
}

/** Coordinates [n, directions] of the centred points on orthonormal directions. */
function project(points: Rows, mean: Float64Array, directions: Float64Array[]): Float64Array {
  const { n, d, data } = points;
  const m = directions.length;
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    directions.forEach((u, q) => {
      let p = 0;
      for (let c = 0; c < d; c++) p += (data[i * d + c]! - mean[c]!) * u[c]!;
      out[i * m + q] = p;
    });
  return out;
}

/** The first k entries of longer neighbour lists. */
function truncate(lists: NeighbourLists, k: number): NeighbourLists {
  const n = lists.index.length / lists.k;
  const out: NeighbourLists = {
    k,
    count: Math.min(lists.count, k),
    index: new Int32Array(n * k),
    dist: new Float64Array(n * k),
  };
  for (let i = 0; i < n; i++) {
    out.index.set(lists.index.subarray(i * lists.k, i * lists.k + k), i * k);
    out.dist.set(lists.dist.subarray(i * lists.k, i * lists.k + k), i * k);
  }
  return out;
}
