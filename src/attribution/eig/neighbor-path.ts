/**
 * Paths through the data (O-N-IG / H-N-IG of Enhanced Integrated Gradients): a k-nearest-
 * neighbour graph over reference points plus the baseline and the sample, the shortest path
 * between them (Dijkstra, Euclidean edge lengths), re-sampled to evenly spaced points.
 */
import { PathlensError } from "../../errors.js";
import { type NeighbourLists, referenceNeighboursSync } from "./knn.js";
import { type EndpointLinks, referenceGraph, shortestPath } from "./neighbor-graph.js";
import { dist2, type Rows, row, stack } from "./rows.js";
import { TopK } from "./top-k.js";

/** The graph has no path from the baseline to the sample. */
export class DisconnectedGraphError extends PathlensError {
  override name = "DisconnectedGraphError";
}

/**
 * Shortest path from `from` to `to` through the kNN graph of `reference` ∪ {from, to}
 * (edges symmetric). Returns the polyline's vertices, from first.
 *
 * The reference points' neighbour lists are computed once per data set and cached (or given:
 * `referenceNeighbours` with a backend screens them with onnxruntime), and so is their edge
 * layout; a call adds the two endpoints (distances to every point, O(n·d); a recurring endpoint
 * such as a shared baseline is measured once), links each point to its k nearest, and runs
 * {@link shortestPath} (A* for a bound, then Dijkstra within it, on an indexed binary heap).
 */
export function neighborPath(
  reference: Rows,
  from: ArrayLike<number>,
  to: ArrayLike<number>,
  k: number,
  lists?: NeighbourLists,
): Rows {
  const n = reference.n + 2;
  const kk = Math.min(k, n - 1);
  const known = lists && lists.k >= kk ? lists : referenceNeighboursSync(reference, kk);
  const links = linkEndpoints(
    known,
    [referenceDistances(reference, from), referenceDistances(reference, to)],
    dist2(from, to),
    kk,
  );
  const prev = shortestPath(referenceGraph(known, reference.n), links);
  if (prev === undefined) {
    throw new DisconnectedGraphError(
      `the ${kk}-nearest-neighbour graph over ${reference.n} reference points does not connect the baseline to the sample; use more neighbours (a larger k)`,
    );
  }
  const path: number[] = [];
  for (let v = 1; v >= 0; v = prev[v]!) path.push(v);
  path.reverse();
  return stack(
    path.map((i) => (i === 0 ? from : i === 1 ? to : row(reference, i - 2))),
    reference.d,
  );
}

/**
 * The endpoints' edges: each endpoint to its k nearest among all other points, and each reference
 * point to its k nearest, which are among its k nearest references and the two endpoints — the
 * endpoints are merged into its sorted list (ties: the lower index, so endpoints first), and the
 * list entries they push out are cut off (`kept`).
 */
function linkEndpoints(
  lists: NeighbourLists,
  ends: [Float64Array, Float64Array],
  between2: number,
  k: number,
): EndpointLinks {
  const rows = ends[0].length;
  const inf = Number.POSITIVE_INFINITY;
  const links: EndpointLinks = {
    kept: new Int32Array(rows),
    toReference: [new Float64Array(rows).fill(inf), new Float64Array(rows).fill(inf)],
    between: inf,
    rest: new Float64Array(rows + 2),
  };
  links.rest[0] = Math.sqrt(between2);
  for (let r = 0; r < rows; r++) links.rest[r + 2] = Math.sqrt(ends[1][r]!);
  for (const e of [0, 1]) {
    const d = ends[e]!;
    const keep = new TopK(k);
    keep.offer(1 - e, between2); // nodes: 0 from, 1 to, 2 + r reference point r
    for (let r = 0; r < rows; r++) keep.offer(r + 2, d[r]!);
    for (let q = 0; q < keep.size; q++) {
      const j = keep.index[q]!;
      if (j < 2) links.between = Math.sqrt(keep.dist[q]!);
      else links.toReference[e]![j - 2] = Math.sqrt(keep.dist[q]!);
    }
  }
  const [fromDist, toDist] = ends;
  for (let r = 0; r < rows; r++) {
    const fromFirst = fromDist[r]! <= toDist[r]!;
    let e = 0; // endpoints taken
    let q = 0; // list entries taken
    for (let taken = 0; taken < k; taken++) {
      const listDist = q < lists.count ? lists.dist[r * lists.k + q]! : inf;
      const end: number = e === 2 ? -1 : (e === 0) === fromFirst ? 0 : 1;
      const endDist = end === 0 ? fromDist[r]! : end === 1 ? toDist[r]! : inf;
      if (end >= 0 && endDist <= listDist) {
        links.toReference[end as 0 | 1][r] = Math.sqrt(endDist);
        e++;
      } else if (q < lists.count) q++;
      else break;
    }
    links.kept[r] = q;
  }
  return links;
}

/** The last few endpoints' distances per reference set, most recently used first (a shared baseline recurs). */
const endpointCache = new WeakMap<Rows, { point: Float64Array; dist: Float64Array }[]>();

/** Squared distances of point `e` to every reference point, each summed over the coordinates in order. */
function referenceDistances(reference: Rows, e: ArrayLike<number>): Float64Array {
  const { n, d, data } = reference;
  const seen = endpointCache.get(reference) ?? [];
  const at = seen.findIndex(({ point }) => {
    for (let c = 0; c < d; c++) if (!Object.is(point[c], e[c])) return false;
    return true;
  });
  if (at >= 0) {
    const [hit] = seen.splice(at, 1); // most recently used first
    seen.unshift(hit!);
    return hit!.dist;
  }
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let c = 0, a = r * d; c < d; c++, a++) {
      const t = data[a]! - e[c]!;
      s += t * t;
    }
    out[r] = s;
  }
  seen.unshift({ point: Float64Array.from(e), dist: out });
  if (seen.length > 4) seen.pop();
  endpointCache.set(reference, seen);
  return out;
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
