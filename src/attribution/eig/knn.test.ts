/**
 * Reference neighbour lists, both ways (onnxruntime's float32 screen with float64 re-measuring, and
 * the JavaScript screen), against a brute force written from the definition: every pair's squared
 * distance summed in float64 in coordinate order, each row fully sorted by (distance, index).
 * Clouds with exact ties (integer lattices, duplicated points), with an offset far larger than
 * their spread (float32 cannot hold it: centring must), and at tiny and huge scales.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { nodeBackend } from "../../runtime/node.js";
import { Random } from "../../tensor/random.js";
import { gramNeighbours } from "./gram-knn.js";
import { GRAM_MIN_ROWS, type NeighbourLists, referenceNeighbours, screenedNeighbours } from "./knn.js";
import { neighborPath } from "./neighbor-path.js";
import type { Rows } from "./rows.js";

const backend = nodeBackend();

function bruteForce(points: Rows, k: number): { index: number[][]; dist: number[][] } {
  const { n, d, data } = points;
  const index: number[][] = [];
  const dist: number[][] = [];
  for (let i = 0; i < n; i++) {
    const all: { j: number; s: number }[] = [];
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      let s = 0;
      for (let c = 0; c < d; c++) s += (data[i * d + c]! - data[j * d + c]!) ** 2;
      all.push({ j, s });
    }
    all.sort((a, b) => a.s - b.s || a.j - b.j);
    const top = all.slice(0, Math.min(k, n - 1));
    index.push(top.map((t) => t.j));
    dist.push(top.map((t) => t.s));
  }
  return { index, dist };
}

function assertLists(got: NeighbourLists, points: Rows, k: number, what: string): void {
  const want = bruteForce(points, k);
  assert.equal(got.count, Math.min(k, points.n - 1), `${what}: count`);
  for (let i = 0; i < points.n; i++) {
    const index = Array.from(got.index.subarray(i * got.k, i * got.k + got.count));
    const dist = Array.from(got.dist.subarray(i * got.k, i * got.k + got.count));
    assert.deepEqual(index, want.index[i], `${what}: row ${i} indices`);
    assert.deepEqual(dist, want.dist[i], `${what}: row ${i} distances`);
  }
}

const cloud = (n: number, d: number, f: (i: number, c: number) => number): Rows => ({
  n,
  d,
  data: Float64Array.from({ length: n * d }, (_, t) => f(Math.floor(t / d), t % d)),
});

test("onnxruntime-screened lists equal the brute force on clustered clouds", async () => {
  const rng = new Random(21);
  for (const [n, d, k] of [
    [400, 8, 5],
    [300, 64, 8],
    [120, 3, 1],
  ] as const) {
    const centres = Array.from({ length: 5 }, () => Array.from({ length: d }, () => 3 * rng.normal()));
    const points = cloud(n, d, (i, c) => centres[i % 5]![c]! + rng.normal());
    const lists = await gramNeighbours(points, k, backend);
    assert.ok(lists, "the screen applies");
    assertLists(lists, points, k, `n=${n} d=${d} k=${k}`);
  }
});

test("onnxruntime-screened lists break ties as the brute force does (lattices, duplicates)", async () => {
  const rng = new Random(8);
  for (const k of [1, 3, 6, 10]) {
    // 500 points on a 6×6×3 lattice: every distance repeats, each point has ~6 exact duplicates
    const points = cloud(500, 3, (_, c) => rng.int(c === 2 ? 3 : 6));
    const lists = await gramNeighbours(points, k, backend);
    assert.ok(lists, "the screen applies");
    assertLists(lists, points, k, `lattice k=${k}`);
    // duplicates beyond the candidates TopK keeps leave rows uncertified, measured in full
    if (k >= 6) assert.ok(lists.uncertifiedRows! > 0, `k=${k}: some rows fell back`);
  }
});

test("onnxruntime-screened lists survive offsets float32 cannot resolve, and extreme scales", async () => {
  const rng = new Random(4);
  for (const [offset, scale] of [
    [1e7, 1],
    [0, 1e-30],
    [0, 1e30],
    [-3e5, 1e-3],
  ] as const) {
    // half the points on a lattice (ties), half Gaussian, all shifted and scaled
    const points = cloud(300, 6, (i) => offset + scale * (i % 2 ? rng.int(4) : rng.normal()));
    const lists = await gramNeighbours(points, 4, backend);
    assert.ok(lists, `offset ${offset} scale ${scale}: the screen applies`);
    assertLists(lists, points, 4, `offset ${offset} scale ${scale}`);
  }
});

test("the onnxruntime screen declines non-finite or constant data; the JavaScript one still answers", async () => {
  const bad = cloud(50, 3, (i, c) => (i === 7 && c === 1 ? Number.NaN : i + c));
  assert.equal(await gramNeighbours(bad, 3, backend), undefined);
  const constant = cloud(50, 3, () => 2.5);
  assert.equal(await gramNeighbours(constant, 3, backend), undefined);
  assertLists(screenedNeighbours(constant, 3), constant, 3, "constant, JavaScript");
});

test("the JavaScript screen equals the brute force on a lattice with duplicates", () => {
  const rng = new Random(9);
  const points = cloud(300, 2, () => rng.int(5));
  for (const k of [2, 7]) assertLists(screenedNeighbours(points, k), points, k, `k=${k}`);
});

test("above GRAM_MIN_ROWS, EIG's lists come from the screen and its paths equal the JavaScript ones", async () => {
  const rng = new Random(13);
  const n = GRAM_MIN_ROWS + 50;
  // a long cloud (a connected graph) with repeated values along its axis
  const points = cloud(n, 10, (i, c) => (c === 0 ? Math.floor((8 * i) / n) + rng.int(3) : rng.normal()));
  const lists = await referenceNeighbours(points, 6, backend);
  assert.equal(lists.uncertifiedRows !== undefined, true, "screened by onnxruntime");
  const copy: Rows = { ...points, data: Float64Array.from(points.data) }; // not in the cache
  for (let t = 0; t < 4; t++) {
    const from = Array.from({ length: 10 }, (_, c) => (c === 0 ? -1 : rng.normal()));
    const to = Array.from({ length: 10 }, (_, c) => (c === 0 ? 10 : rng.normal()));
    assert.deepEqual(
      Array.from(neighborPath(points, from, to, 6, lists).data),
      Array.from(neighborPath(copy, from, to, 6).data),
      `path ${t}`,
    );
  }
});
