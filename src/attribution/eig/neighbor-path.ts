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
 *
 * The reference points' neighbour lists are computed once per data set (all pairs, each pair once)
 * and cached; a call adds the two endpoints (distances to every point, O(n·d)), links each point
 * to its k nearest, and runs Dijkstra with a binary heap: O(n·k·log n) per path.
 */
export function neighborPath(
  reference: Rows,
  from: ArrayLike<number>,
  to: ArrayLike<number>,
  k: number,
): Rows {
  const n = reference.n + 2;
  const kk = Math.min(k, n - 1);
  const ends = [from, to];
  // squared distances of the endpoints to every point (indices: 0 from, 1 to, 2 + r reference r)
  const endDist = ends.map((e) => {
    const d = new Float64Array(n);
    d[0] = dist2(e, from);
    d[1] = dist2(e, to);
    for (let r = 0; r < reference.n; r++) d[r + 2] = dist2(row(reference, r), e);
    return d;
  });
  const lists = referenceNeighbours(reference, kk);
  const edges = new EdgeList(n * kk);
  for (const i of [0, 1]) {
    const d = endDist[i]!;
    const keep = new TopK(kk);
    for (let j = 0; j < n; j++) if (j !== i) keep.offer(j, d[j]!);
    for (let q = 0; q < keep.size; q++) edges.add(i, keep.index[q]!, keep.dist[q]!);
  }
  // a reference point's k nearest among all points ⊆ its k nearest references ∪ the endpoints:
  // merge the two endpoints into its sorted list (ties: the lower index, endpoints first)
  for (let r = 0; r < reference.n; r++) {
    let e = 0; // endpoints taken
    const endOrder = endDist[0]![r + 2]! <= endDist[1]![r + 2]! ? [0, 1] : [1, 0];
    let q = 0; // list entries taken
    for (let taken = 0; taken < kk; taken++) {
      const listDist = q < lists.count ? lists.dist[r * lists.k + q]! : Number.POSITIVE_INFINITY;
      const end = e < 2 ? endOrder[e]! : -1;
      if (end >= 0 && endDist[end]![r + 2]! <= listDist) {
        edges.add(r + 2, end, endDist[end]![r + 2]!);
        e++;
      } else if (q < lists.count) {
        edges.add(r + 2, lists.index[r * lists.k + q]! + 2, listDist);
        q++;
      } else break;
    }
  }
  const prev = dijkstra(n, edges, 0, 1);
  if (prev === undefined) {
    throw new DisconnectedGraphError(
      `the ${kk}-nearest-neighbour graph over ${reference.n} reference points does not connect the baseline to the sample; use more neighbours (a larger k)`,
    );
  }
  const path: number[] = [];
  for (let v = 1; v >= 0; v = prev[v]!) path.unshift(v);
  return stack(
    path.map((i) => (i < 2 ? ends[i]! : row(reference, i - 2))),
    reference.d,
  );
}

/**
 * Dijkstra from `source` over undirected edges (lengths: the square roots of the squared ones); stops at `target`. Returns each reached node's predecessor (−1: none),
 * or undefined when `target` is unreachable. Ties go to the lower node index.
 */
function dijkstra(n: number, edges: EdgeList, source: number, target: number): Int32Array | undefined {
  // compressed adjacency: both directions of every edge
  const degree = new Int32Array(n + 1);
  for (let e = 0; e < edges.size; e++) {
    degree[edges.from[e]! + 1]!++;
    degree[edges.to[e]! + 1]!++;
  }
  for (let i = 0; i < n; i++) degree[i + 1]! += degree[i]!;
  const next = degree.slice(0, n);
  const adjacent = new Int32Array(degree[n]!);
  const weight = new Float64Array(degree[n]!);
  for (let e = 0; e < edges.size; e++) {
    const i = edges.from[e]!;
    const j = edges.to[e]!;
    const w = Math.sqrt(edges.length2[e]!);
    adjacent[next[i]!] = j;
    weight[next[i]!++] = w;
    adjacent[next[j]!] = i;
    weight[next[j]!++] = w;
  }
  const distTo = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const prev = new Int32Array(n).fill(-1);
  const done = new Uint8Array(n);
  const heap = new MinHeap();
  distTo[source] = 0;
  heap.push(0, source);
  while (heap.size > 0) {
    const u = heap.pop();
    if (done[u]) continue; // a stale entry
    if (u === target) return prev;
    done[u] = 1;
    for (let q = degree[u]!; q < degree[u + 1]!; q++) {
      const v = adjacent[q]!;
      const d = distTo[u]! + weight[q]!;
      if (d < distTo[v]!) {
        distTo[v] = d;
        prev[v] = u;
        heap.push(d, v);
      }
    }
  }
  return undefined;
}

/** Undirected edges (i, j, squared length) in typed arrays of a fixed capacity. */
class EdgeList {
  readonly from: Int32Array;
  readonly to: Int32Array;
  readonly length2: Float64Array;
  size = 0;
  constructor(capacity: number) {
    this.from = new Int32Array(capacity);
    this.to = new Int32Array(capacity);
    this.length2 = new Float64Array(capacity);
  }
  add(i: number, j: number, squaredLength: number): void {
    this.from[this.size] = i;
    this.to[this.size] = j;
    this.length2[this.size++] = squaredLength;
  }
}

/** A binary min-heap of (key, node) ordered by key, then node. */
class MinHeap {
  private keys: number[] = [];
  private nodes: number[] = [];
  get size(): number {
    return this.keys.length;
  }
  private less(a: number, b: number): boolean {
    const ka = this.keys[a]!;
    const kb = this.keys[b]!;
    return ka < kb || (ka === kb && this.nodes[a]! < this.nodes[b]!);
  }
  private swap(a: number, b: number): void {
    const k = this.keys[a]!;
    this.keys[a] = this.keys[b]!;
    this.keys[b] = k;
    const v = this.nodes[a]!;
    this.nodes[a] = this.nodes[b]!;
    this.nodes[b] = v;
  }
  push(key: number, node: number): void {
    this.keys.push(key);
    this.nodes.push(node);
    for (let i = this.keys.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }
  /** Removes the smallest entry and returns its node. */
  pop(): number {
    const top = this.nodes[0]!;
    const lastKey = this.keys.pop()!;
    const lastNode = this.nodes.pop()!;
    if (this.keys.length > 0) {
      this.keys[0] = lastKey;
      this.nodes[0] = lastNode;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.keys.length && this.less(l, m)) m = l;
        if (r < this.keys.length && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/** The k smallest (distance, index) pairs offered, kept sorted (by distance, then index). */
class TopK {
  readonly index: Int32Array;
  readonly dist: Float64Array;
  size = 0;
  constructor(readonly k: number) {
    this.index = new Int32Array(k);
    this.dist = new Float64Array(k);
  }
  clear(): void {
    this.size = 0;
  }
  /** The k-th smallest distance so far (infinite until k were offered). */
  worst(): number {
    return this.size < this.k ? Number.POSITIVE_INFINITY : this.dist[this.k - 1]!;
  }
  offer(j: number, d: number): void {
    const { index, dist, k } = this;
    let q = this.size;
    if (q === k) {
      if (d > dist[k - 1]! || (d === dist[k - 1]! && j > index[k - 1]!)) return;
      q = k - 1;
    } else this.size++;
    while (q > 0 && (dist[q - 1]! > d || (dist[q - 1]! === d && index[q - 1]! > j))) {
      dist[q] = dist[q - 1]!;
      index[q] = index[q - 1]!;
      q--;
    }
    dist[q] = d;
    index[q] = j;
  }
}

/** Each reference point's k nearest other reference points, row-major [n, k] (−1: fewer exist). */
interface NeighbourLists {
  k: number;
  /** Valid entries per row: min(k, n − 1). */
  count: number;
  index: Int32Array;
  dist: Float64Array;
}

const neighbourCache = new WeakMap<Rows, NeighbourLists>();

/**
 * Each reference point's k nearest other reference points (cached per data set; a larger k
 * recomputes). Exact, but most pairs are never summed in full: points are ranked along their
 * leading principal direction and each is first compared with its rank neighbours (so every
 * running top-k is full and tight early); every other pair is then screened by its distance in
 * the top principal subspace (an orthogonal projection: a lower bound on the true distance) and
 * summed only when that bound is within both points' current k-th distance, stopping early once
 * the partial sum exceeds it.
 */
function referenceNeighbours(reference: Rows, k: number): NeighbourLists {
  const hit = neighbourCache.get(reference);
  if (hit && hit.k >= k) return hit.k === k ? hit : truncate(hit, k);
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
  neighbourCache.set(reference, lists);
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
