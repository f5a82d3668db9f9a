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
  /** Per node: its straight-line distance to `to` (no path from it to `to` is shorter). */
  rest: Float64Array;
}

/**
 * Dijkstra from node 0 (`from`) to node 1 (`to`); reference point r is node r + 2. Returns each
 * reached node's predecessor (−1: none), or undefined when `to` is unreachable. Nodes leave the
 * queue by (distance, node index), so ties go to the lower index.
 *
 * Plain Dijkstra settles every node nearer to `from` than `to` is (most of the graph when `from`
 * is a baseline far from the data). So an A* search (straight-line distance to `to` as the
 * estimate) first finds a path, whose length L bounds the shortest one; Dijkstra then skips every
 * node v with dist(v) + |v − to| > L·(1 + 1e-7). Such a node is on no shortest path to `to` (the
 * straight line is a lower bound of any path's rest), and neither is any node it would reach
 * first, so the predecessors along the returned path are exactly plain Dijkstra's (the margin
 * covers float rounding of the sums and square roots).
 */
export function shortestPath(graph: ReferenceGraph, links: EndpointLinks): Int32Array | undefined {
  const nodes = links.kept.length + 2;
  const estimate = new Float64Array(nodes);
  const found = search(graph, links, estimate, true, Number.POSITIVE_INFINITY);
  if (!found) return undefined;
  const bound = found.dist[1]! * (1 + 1e-7);
  return search(graph, links, new Float64Array(nodes), false, bound)?.prev;
}

/**
 * Best-first search from node 0 until node 1 leaves the queue: ordered by the distance so far
 * (`astar` false: Dijkstra) or by it plus the straight-line rest (`astar` true; a node reached
 * again by a shorter way re-enters the queue). Nodes whose distance plus straight-line rest
 * exceeds `bound` are not entered. `key` is scratch space for the queue's keys.
 */
function search(
  graph: ReferenceGraph,
  links: EndpointLinks,
  key: Float64Array,
  astar: boolean,
  bound: number,
): { prev: Int32Array; dist: Float64Array } | undefined {
  const n = links.kept.length;
  const { start, other, length, owner, rank } = graph;
  const { kept, toReference, between, rest } = links;
  const inf = Number.POSITIVE_INFINITY;
  const nodes = n + 2;
  const dist = astar ? new Float64Array(nodes).fill(inf) : key.fill(inf);
  const prev = new Int32Array(nodes).fill(-1);
  const queue = new IndexedHeap(key);
  const relax = (u: number, v: number, w: number) => {
    const d = dist[u]! + w;
    if (d < dist[v]! && d + rest[v]! <= bound) {
      dist[v] = d;
      prev[v] = u;
      if (astar) key[v] = d + rest[v]!;
      queue.update(v);
    }
  };
  dist[0] = 0;
  key[0] = astar ? rest[0]! : 0;
  queue.update(0);
  while (queue.size > 0) {
    const u = queue.pop();
    if (u === 1) return { prev, dist };
    if (u < 2) {
      const ends = toReference[u]!;
      if (between < inf) relax(u, 1 - u, between);
      for (let r = 0; r < n; r++) if (ends[r]! < inf) relax(u, r + 2, ends[r]!);
      continue;
    }
    const r = u - 2;
    for (let p = start[r]!; p < start[r + 1]!; p++)
      if (rank[p]! < kept[owner[p]!]!) relax(u, other[p]! + 2, length[p]!);
    for (let e = 0; e < 2; e++) {
      const w = toReference[e]![r]!;
      if (w < inf) relax(u, e, w);
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
