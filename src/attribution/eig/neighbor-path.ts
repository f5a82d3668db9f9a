/**
 * Paths through the data (O-N-IG / H-N-IG of Enhanced Integrated Gradients): a k-nearest-
 * neighbour graph over reference points plus the baseline and the sample, the shortest path
 * between them (Dijkstra, Euclidean edge lengths), re-sampled to evenly spaced points.
 */
import { PathlensError } from "../../errors.js";
import { dist2, type Rows, row, stack } from "./rows.js";

/** The graph has no path from the baseline to the sample. */
export class DisconnectedGraphError extends PathlensError {
  override name = "DisconnectedGraphError";
}

/**
 * Shortest path from `from` to `to` through the kNN graph of `reference` ∪ {from, to}
 * (edges symmetric). Returns the polyline's vertices, from first.
 */
export function neighborPath(
  reference: Rows,
  from: ArrayLike<number>,
  to: ArrayLike<number>,
  k: number,
): Rows {
  const pts = stack(
    [from, to, ...Array.from({ length: reference.n }, (_, i) => row(reference, i))],
    reference.d,
  );
  const n = pts.n;
  const kk = Math.min(k, n - 1);
  const adj: Map<number, number>[] = Array.from({ length: n }, () => new Map());
  const link = (i: number, j: number, d2: number) => {
    const w = Math.sqrt(d2);
    adj[i]!.set(j, w);
    adj[j]!.set(i, w);
  };
  // the endpoints' k nearest among all points
  for (const i of [0, 1]) {
    const d = Array.from({ length: n }, (_, j) => ({
      j,
      d: j === i ? Infinity : dist2(row(pts, i), row(pts, j)),
    })).sort((a, b) => a.d - b.d || a.j - b.j);
    for (const { j, d: dd } of d.slice(0, kk)) link(i, j, dd);
  }
  // a reference point's k nearest among all points ⊆ its k nearest references ∪ the endpoints
  const lists = referenceNeighbours(reference, kk);
  for (let r = 0; r < reference.n; r++) {
    const cand = [
      { j: 0, d: dist2(row(reference, r), from) },
      { j: 1, d: dist2(row(reference, r), to) },
      ...lists[r]!.map(({ j, d }) => ({ j: j + 2, d })),
    ].sort((a, b) => a.d - b.d || a.j - b.j);
    for (const { j, d } of cand.slice(0, kk)) link(r + 2, j, d);
  }
  const distTo = new Float64Array(n).fill(Infinity);
  const prev = new Int32Array(n).fill(-1);
  const done = new Uint8Array(n);
  distTo[0] = 0;
  for (;;) {
    let u = -1;
    for (let i = 0; i < n; i++)
      if (!done[i] && distTo[i]! < Infinity && (u < 0 || distTo[i]! < distTo[u]!)) u = i;
    if (u < 0 || u === 1) break;
    done[u] = 1;
    for (const [v, w] of adj[u]!) {
      if (distTo[u]! + w < distTo[v]!) {
        distTo[v] = distTo[u]! + w;
        prev[v] = u;
      }
    }
  }
  if (!Number.isFinite(distTo[1]!)) {
    throw new DisconnectedGraphError(
      `the ${kk}-nearest-neighbour graph over ${reference.n} reference points does not connect the baseline to the sample; use more neighbours (a larger k)`,
    );
  }
  const path: number[] = [];
  for (let v = 1; v >= 0; v = prev[v]!) path.unshift(v);
  return stack(
    path.map((i) => row(pts, i)),
    reference.d,
  );
}

const neighbourCache = new WeakMap<Rows, { k: number; lists: { j: number; d: number }[][] }>();

/** Each reference point's k nearest other reference points (cached per data set and k). */
function referenceNeighbours(reference: Rows, k: number): { j: number; d: number }[][] {
  const hit = neighbourCache.get(reference);
  if (hit && hit.k >= k) return hit.lists.map((l) => l.slice(0, k));
  const lists = Array.from({ length: reference.n }, (_, i) =>
    Array.from({ length: reference.n }, (_, j) => ({
      j,
      d: j === i ? Infinity : dist2(row(reference, i), row(reference, j)),
    }))
      .sort((a, b) => a.d - b.d || a.j - b.j)
      .slice(0, Math.min(k, reference.n - 1)),
  );
  neighbourCache.set(reference, { k, lists });
  return lists;
}

/** m + 1 points evenly spaced by arc length along a polyline (first and last vertices kept). */
export function resamplePolyline(poly: Rows, m: number): Rows {
  const seg = Array.from({ length: poly.n - 1 }, (_, i) => Math.sqrt(dist2(row(poly, i), row(poly, i + 1))));
  const total = seg.reduce((a, b) => a + b, 0);
  const out = new Float64Array((m + 1) * poly.d);
  if (poly.n === 1 || total === 0) {
    for (let k = 0; k <= m; k++) out.set(row(poly, 0), k * poly.d);
    return { n: m + 1, d: poly.d, data: out };
  }
  let i = 0;
  let start = 0;
  for (let k = 0; k <= m; k++) {
    const s = (k / m) * total;
    while (i < seg.length - 1 && start + seg[i]! < s) {
      start += seg[i]!;
      i++;
    }
    const t = seg[i]! > 0 ? Math.min(1, Math.max(0, (s - start) / seg[i]!)) : 0;
    const a = row(poly, i);
    const b = row(poly, i + 1);
    for (let j = 0; j < poly.d; j++) out[k * poly.d + j] = a[j]! + t * (b[j]! - a[j]!);
  }
  return { n: m + 1, d: poly.d, data: out };
}
