/**
 * The heap-based neighbour path against a brute-force one written from the definition (full
 * distance matrix, each point linked to its k nearest by a full sort, Dijkstra by linear scans),
 * on seeded random point clouds: the same vertices, in the same order.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Random } from "../../tensor/random.js";
import { neighborPath } from "./neighbor-path.js";
import type { Rows } from "./rows.js";

function bruteForcePath(points: number[][], k: number): number[] | undefined {
  const n = points.length;
  const d2 = (a: number[], b: number[]) => a.reduce((s, v, j) => s + (v - b[j]!) ** 2, 0);
  const w: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(Infinity));
  for (let i = 0; i < n; i++) {
    const order = points
      .map((p, j) => ({ j, d: j === i ? Infinity : d2(points[i]!, p) }))
      .sort((a, b) => a.d - b.d || a.j - b.j)
      .slice(0, Math.min(k, n - 1));
    for (const { j, d } of order) w[i]![j] = w[j]![i] = Math.sqrt(d);
  }
  const dist = new Array<number>(n).fill(Infinity);
  const prev = new Array<number>(n).fill(-1);
  const done = new Array<boolean>(n).fill(false);
  dist[0] = 0;
  for (;;) {
    let u = -1;
    for (let i = 0; i < n; i++) if (!done[i] && dist[i]! < Infinity && (u < 0 || dist[i]! < dist[u]!)) u = i;
    if (u < 0) return undefined;
    if (u === 1) break;
    done[u] = true;
    for (let v = 0; v < n; v++)
      if (w[u]![v]! < Infinity && dist[u]! + w[u]![v]! < dist[v]!) {
        dist[v] = dist[u]! + w[u]![v]!;
        prev[v] = u;
      }
  }
  const path: number[] = [];
  for (let v = 1; v >= 0; v = prev[v]!) path.unshift(v);
  return path;
}

test("neighbour paths equal the brute-force kNN graph + Dijkstra on random clouds", () => {
  const rng = new Random(11);
  for (const [n, d, k] of [
    [60, 2, 3],
    [200, 5, 5],
    [150, 16, 8],
    [40, 3, 1],
  ] as const) {
    for (let trial = 0; trial < 3; trial++) {
      // a few clusters, so that small k sometimes disconnects and paths bend through the data
      const centres = Array.from({ length: 4 }, () => Array.from({ length: d }, () => 4 * rng.normal()));
      const pts = Array.from({ length: n }, (_, i) => centres[i % 4]!.map((c) => c + rng.normal()));
      const [from, to] = [pts[0]!, pts[1]!];
      const reference: Rows = { n: n - 2, d, data: Float64Array.from(pts.slice(2).flat()) };
      const expected = bruteForcePath(pts, k);
      if (expected === undefined) {
        assert.throws(() => neighborPath(reference, from, to, k), { name: "DisconnectedGraphError" });
        continue;
      }
      const got = neighborPath(reference, from, to, k);
      assert.equal(got.n, expected.length, `n=${n} d=${d} k=${k}: path length`);
      const want = Float64Array.from(expected.flatMap((i) => pts[i]!));
      assert.deepEqual(Array.from(got.data), Array.from(want), `n=${n} d=${d} k=${k}: vertices`);
    }
  }
});

test("neighbour paths on a lattice (many equal distances) break ties as the brute force does", () => {
  const rng = new Random(5);
  for (const k of [2, 3, 4, 6]) {
    const pts = Array.from({ length: 90 }, () => [rng.int(7), rng.int(7)]);
    const reference: Rows = { n: 88, d: 2, data: Float64Array.from(pts.slice(2).flat()) };
    const expected = bruteForcePath(pts, k);
    if (expected === undefined) {
      assert.throws(() => neighborPath(reference, pts[0]!, pts[1]!, k), { name: "DisconnectedGraphError" });
      continue;
    }
    assert.deepEqual(
      Array.from(neighborPath(reference, pts[0]!, pts[1]!, k).data),
      expected.flatMap((i) => pts[i]!),
    );
  }
});

test("neighbour lists cached for a larger k serve a smaller k", () => {
  const rng = new Random(3);
  const pts = Array.from({ length: 80 }, () => [rng.normal(), rng.normal(), rng.normal()]);
  const reference: Rows = { n: 78, d: 3, data: Float64Array.from(pts.slice(2).flat()) };
  neighborPath(reference, pts[0]!, pts[1]!, 9); // fills the cache with k = 9
  for (const k of [4, 2]) {
    const got = neighborPath(reference, pts[0]!, pts[1]!, k);
    const expected = bruteForcePath(pts, k);
    if (expected === undefined) continue;
    assert.deepEqual(
      Array.from(got.data),
      expected.flatMap((i) => pts[i]!),
      `k=${k}`,
    );
  }
});
