/**
 * The kNN graph of EIG's neighbour paths and Dijkstra on it. The reference points' edges are laid
 * out once per set of neighbour lists (compressed rows, both directions of every list entry); a
 * path adds its two endpoints, which only (a) link to some points and (b) push the last entries
 * out of the lists of the points they come nearest to — so each edge remembers which list holds
 * it and at what rank, and a path gives each point how many of its list entries it keeps.
 */
import type { NeighbourLists } from "./knn.js";

/** Reference-to-reference edges in compressed rows: row r holds every list edge touching r. */
export interface ReferenceGraph {
  /** Row r's entries are start[r] … start[r + 1] − 1. */
  start: Int32Array;
  /** The other reference point of each entry. */
  other: Int32Array;
  /** Euclidean length (the square root of the listed squared distance). */
  length: Float64Array;
  /** The point whose list holds the edge, and the edge's rank in that list. */
  owner: Int32Array;
  rank: Int32Array;
}

const graphCache = new WeakMap<NeighbourLists, ReferenceGraph>();

/** The compressed edges of `lists` over `n` reference points (cached per lists). */
export function referenceGraph(lists: NeighbourLists, n: number): ReferenceGraph {
  const hit = graphCache.get(lists);
  if (hit) return hit;
  const { k, count, index, dist } = lists;
  const start = new Int32Array(n + 1);
  for (let r = 0; r < n; r++)
    for (let q = 0; q < count; q++) {
      start[r + 1]!++;
      start[index[r * k + q]! + 1]!++;
    }
  for (let r = 0; r < n; r++) start[r + 1]! += start[r]!;
  const size = start[n]!;
  const graph: ReferenceGraph = {
    start,
    other: new Int32Array(size),
    length: new Float64Array(size),
    owner: new Int32Array(size),
    rank: new Int32Array(size),
  };
  const next = start.slice(0, n);
  const put = (r: number, other: number, length: number, owner: number, rank: number) => {
    const p = next[r]!++;
    graph.other[p] = other;
    graph.length[p] = length;
    graph.owner[p] = owner;
    graph.rank[p] = rank;
  };
  for (let r = 0; r < n; r++)
    for (let q = 0; q < count; q++) {
      const s = index[r * k + q]!;
      const length = Math.sqrt(dist[r * k + q]!);
      put(r, s, length, r, q);
      put(s, r, length, r, q);
    }
  graphCache.set(lists, graph);
  return graph;
}

/** What one path adds to the reference graph: its two endpoints' edges and the lists' cut-offs. */
export interface EndpointLinks {
  /** Per reference point: how many of its list entries stay edges (the endpoints took the rest). */
  kept: Int32Array;
  /** Per endpoint (0: from, 1: to): the length of its edge to each reference point (∞: none). */
  toReference: [Float64Array, Float64Array];
  /** Length of the edge between the endpoints (∞: none). */
  between: number;
}

/**
 * Dijkstra from node 0 (`from`) to node 1 (`to`); reference point r is node r + 2. Returns each
 * reached node's predecessor (−1: none), or undefined when `to` is unreachable. Nodes leave the
 * queue by (distance, node index), so ties go to the lower index.
 */
export function shortestPath(graph: ReferenceGraph, links: EndpointLinks): Int32Array | undefined {
  const n = links.kept.length;
  const { start, other, length, owner, rank } = graph;
  const { kept, toReference, between } = links;
  const nodes = n + 2;
  const distTo = new Float64Array(nodes).fill(Number.POSITIVE_INFINITY);
  const prev = new Int32Array(nodes).fill(-1);
  const done = new Uint8Array(nodes);
  const queue = new IndexedHeap(distTo);
  const relax = (u: number, v: number, w: number) => {
    const d = distTo[u]! + w;
    if (d < distTo[v]!) {
      distTo[v] = d;
      prev[v] = u;
      queue.update(v);
    }
  };
  distTo[0] = 0;
  queue.update(0);
  while (queue.size > 0) {
    const u = queue.pop();
    if (u === 1) return prev;
    done[u] = 1;
    if (u < 2) {
      const ends = toReference[u]!;
      if (between < Number.POSITIVE_INFINITY && !done[1 - u]) relax(u, 1 - u, between);
      for (let r = 0; r < n; r++)
        if (ends[r]! < Number.POSITIVE_INFINITY && !done[r + 2]) relax(u, r + 2, ends[r]!);
      continue;
    }
    const r = u - 2;
    for (let p = start[r]!; p < start[r + 1]!; p++) {
      const v = other[p]! + 2;
      if (!done[v] && rank[p]! < kept[owner[p]!]!) relax(u, v, length[p]!);
    }
    for (let e = 0; e < 2; e++) {
      const w = toReference[e]![r]!;
      if (w < Number.POSITIVE_INFINITY && !done[e]) relax(u, e, w);
    }
  }
  return undefined;
}

/**
 * A binary min-heap of node indices keyed by (distTo[node], node), with each node's heap position
 * so that a shorter distance moves the node up instead of adding a second entry.
 */
class IndexedHeap {
  private readonly heap: Int32Array;
  private readonly position: Int32Array;
  size = 0;
  constructor(private readonly key: Float64Array) {
    this.heap = new Int32Array(key.length);
    this.position = new Int32Array(key.length).fill(-1);
  }
  private less(a: number, b: number): boolean {
    const ka = this.key[a]!;
    const kb = this.key[b]!;
    return ka < kb || (ka === kb && a < b);
  }
  /** Adds `node`, or moves it up after its key decreased. */
  update(node: number): void {
    let i = this.position[node]!;
    if (i < 0) i = this.size++;
    const { heap, position } = this;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!this.less(node, p)) break;
      heap[i] = p;
      position[p] = i;
      i = parent;
    }
    heap[i] = node;
    position[node] = i;
  }
  /** Removes and returns the node with the smallest key. */
  pop(): number {
    const { heap, position } = this;
    const top = heap[0]!;
    position[top] = -1;
    const last = heap[--this.size]!;
    if (this.size > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= this.size) break;
        const r = l + 1;
        const c = r < this.size && this.less(heap[r]!, heap[l]!) ? r : l;
        if (!this.less(heap[c]!, last)) break;
        heap[i] = heap[c]!;
        position[heap[i]!] = i;
        i = c;
      }
      heap[i] = last;
      position[last] = i;
    }
    return top;
  }
}
