/**
 * Exact k-nearest-neighbour lists with onnxruntime doing the O(n²·d) part. Squared distances
 * |c_i − c_j|² = |c_i|² + (|c_j|² − 2 c_i·c_j) of the centred points are approximated in float32
 * by one Gemm per block of rows (a Gram product against all points), and TopK keeps each row's
 * K' smallest. Each row's candidates are then re-measured here in float64 (the sums every other
 * part of EIG uses) and sorted by (distance, index). A row is certified when every point TopK
 * left out is provably farther than its k-th re-measured candidate, by a rigorous bound on the
 * float32 error; a row that is not (many near-ties) is measured against every point. So the lists
 * equal a float64 brute force's, ties included.
 */
import { encodeModel } from "../../onnx/codec.js";
import { makeModel } from "../../onnx/make.js";
import { DataType } from "../../onnx/types.js";
import type { Backend, Session } from "../../runtime/backend.js";
import { int64, tensor } from "../../tensor/tensor.js";
import type { NeighbourLists } from "./knn.js";
import type { Rows } from "./rows.js";
import { TopK } from "./top-k.js";

/** float32's unit roundoff. */
const U32 = 2 ** -24;
/**
 * Bytes of one block's screened rows [B, n] (float32). Small enough to stay in cache between Gemm
 * and TopK: 16 MB blocks took twice as long at 3600 points.
 */
const BLOCK_BYTES = 2 ** 20;
/** Fewer rows per run than this and the runs' own overhead shows (10000 points: 26 rows per MB). */
const MIN_BLOCK_ROWS = 64;
/** The reference is an initializer of the screening model: beyond this, JavaScript screens instead. */
const MAX_MODEL_BYTES = 2 ** 30;

/**
 * The lists of {@link referenceNeighbours} screened by onnxruntime (see the module comment), or
 * undefined when this screen does not apply: a non-finite coordinate, all points equal, fewer
 * than two points, a reference too large for one model (or rows of over 4 million values, where
 * float32 sums carry no useful bound).
 */
export async function gramNeighbours(
  reference: Rows,
  k: number,
  backend: Backend,
): Promise<NeighbourLists | undefined> {
  const { n, d } = reference;
  const count = Math.min(k, n - 1);
  if (count < 1 || d < 1 || n * d * 4 > MAX_MODEL_BYTES || d * U32 > 0.25) return undefined;
  const scaled = centredScaled(reference);
  if (!scaled) return undefined;
  const { points, norms, scale2 } = scaled;
  // K': candidates per row (self included); the extra ones let a row certify despite the margin
  const kept = Math.min(n, count + 1 + Math.max(3, count >> 1));
  const session = await createScreen(points, norms, n, d, kept, backend);
  const lists: NeighbourLists = {
    k,
    count,
    index: new Int32Array(n * k).fill(-1),
    dist: new Float64Array(n * k),
    uncertifiedRows: 0,
  };
  try {
    const maxNorm = norms.reduce((m, v) => Math.max(m, Math.sqrt(v)), 0);
    const top = new TopK(count);
    const block = Math.min(n, Math.max(MIN_BLOCK_ROWS, Math.floor(BLOCK_BYTES / (4 * n))));
    for (let start = 0; start < n; start += block) {
      const rows = Math.min(block, n - start);
      const out = await session.run({
        q: tensor("float32", [rows, d], points.slice(start * d, (start + rows) * d)),
      });
      const values = out.values!.data as Float32Array;
      const indices = out.indices!.data as Int32Array;
      for (let b = 0; b < rows; b++) {
        const i = start + b;
        const margin = screenMargin(d, Math.sqrt(norms[i]!), maxNorm);
        const certified = measureCandidates(
          reference,
          i,
          indices,
          values,
          b * kept,
          kept,
          norms[i]!,
          margin,
          scale2,
          lists,
          top,
        );
        if (!certified) {
          measureRow(reference, i, lists, top);
          lists.uncertifiedRows!++;
        }
      }
    }
  } finally {
    await session.dispose();
  }
  return lists;
}

/**
 * A bound on |screened − exact| for every squared distance of row i (scaled centred points, row
 * norm a, largest norm b). The screen computes v_j = fl32(|c_j|²) − 2·fl32(ĉ_i·ĉ_j) with ĉ the
 * coordinates rounded to float32, so |v_j − (|c_j|² − 2 c_i·c_j)| ≤ u|c_j|² (norm rounded) +
 * 2(2u + γ_d)|c_i||c_j| (coordinates rounded, then a d-term float32 dot product in any order,
 * fused or not) + u|v_j| (adding the norm) ≤ (γ_d + 3u)(|c_i| + |c_j|)², γ_d = d·u / (1 − d·u).
 * Twice that, which also covers the float64 roundings (centring, norms, this arithmetic: relative
 * 2⁻⁴⁰ and less), plus an absolute term for float32 subnormals flushed to zero.
 */
function screenMargin(d: number, a: number, b: number): number {
  const gamma = (d * U32) / (1 - d * U32);
  return 2 * (gamma + 3 * U32) * (a + b) ** 2 + 4 * (d + 2) * 2 ** -126;
}

/**
 * Row i's TopK candidates re-measured in float64, its `count` nearest written to `lists`; true when
 * the row is certified: the smallest screened distance left out, less the error margin, exceeds
 * the k-th re-measured one (so nothing left out can be nearer or tie).
 */
function measureCandidates(
  reference: Rows,
  i: number,
  indices: Int32Array,
  values: Float32Array,
  offset: number,
  kept: number,
  selfNorm: number,
  margin: number,
  scale2: number,
  lists: NeighbourLists,
  top: TopK,
): boolean {
  const { n, d, data } = reference;
  top.clear();
  for (let q = 0; q < kept; q++) {
    const j = indices[offset + q]!;
    if (j !== i) top.offer(j, squaredDistance(data, i * d, j * d, d));
  }
  if (kept < n) {
    // values are sorted ascending: the last kept one bounds every left-out one from below
    const leftOut = (selfNorm + values[offset + kept - 1]! - margin) / scale2;
    if (!(top.size === lists.count && leftOut > top.worst() * (1 + 2 ** -30))) return false;
  }
  lists.index.set(top.index.subarray(0, top.size), i * lists.k);
  lists.dist.set(top.dist.subarray(0, top.size), i * lists.k);
  return true;
}

/** Row i's nearest by measuring every point (the fallback of an uncertified row). */
function measureRow(reference: Rows, i: number, lists: NeighbourLists, top: TopK): void {
  const { n, d, data } = reference;
  top.clear();
  for (let j = 0; j < n; j++) if (j !== i) top.offer(j, squaredDistance(data, i * d, j * d, d));
  lists.index.set(top.index.subarray(0, top.size), i * lists.k);
  lists.dist.set(top.dist.subarray(0, top.size), i * lists.k);
}

/** Σ_c (x[a + c] − x[b + c])² in coordinate order (the float64 sum all of EIG's distances use). */
function squaredDistance(x: Float64Array, a: number, b: number, d: number): number {
  let s = 0;
  for (let c = 0; c < d; c++) {
    const t = x[a + c]! - x[b + c]!;
    s += t * t;
  }
  return s;
}

/**
 * The points centred on their mean and multiplied by a power of two (exact) that brings the
 * largest norm into (½, 1], so float32 neither overflows nor loses the small distances to the
 * offset; with each point's squared norm (float64) and the squared scale. Undefined for a
 * non-finite coordinate or when all points are equal.
 */
function centredScaled(
  reference: Rows,
): { points: Float32Array; norms: Float64Array; scale2: number } | undefined {
  const { n, d, data } = reference;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let c = 0; c < d; c++) mean[c]! += data[i * d + c]!;
  for (let c = 0; c < d; c++) mean[c]! /= n;
  const centred = new Float64Array(n * d);
  let max2 = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < d; c++) {
      const v = data[i * d + c]! - mean[c]!;
      centred[i * d + c] = v;
      s += v * v;
    }
    if (!Number.isFinite(s)) return undefined;
    max2 = Math.max(max2, s);
  }
  if (!(max2 > 1e-280 && max2 < 1e280)) return undefined;
  const scale = 2 ** -Math.ceil(Math.log2(Math.sqrt(max2)));
  const norms = new Float64Array(n);
  const points = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < d; c++) {
      const v = centred[i * d + c]! * scale;
      points[i * d + c] = v;
      s += v * v;
    }
    norms[i] = s;
  }
  return { points, norms, scale2: scale * scale };
}

/**
 * A session computing, for a block of query rows q [B, d], the K' smallest of
 * |c_j|² − 2 q·c_j over all points j (ascending, with their indices): the squared distances less
 * the row's own |q|², which does not change the order. Runs on the CPU whatever the backend's
 * device (float32 rounding of GPU kernels is not bounded the same way).
 */
async function createScreen(
  points: Float32Array,
  norms: Float64Array,
  n: number,
  d: number,
  kept: number,
  backend: Backend,
): Promise<Session> {
  const model = makeModel({
    opset: 17,
    inputs: [{ name: "q", dtype: "float32", dims: ["B", d] }],
    outputs: [
      { name: "values", dtype: "float32", dims: ["B", kept] },
      { name: "indices", dtype: "int32", dims: ["B", kept] },
    ],
    initializers: {
      points: tensor("float32", [n, d], points),
      norms: tensor("float32", [n], Float32Array.from(norms)),
      kept: int64([1], [kept]),
    },
    nodes: [
      {
        op: "Gemm",
        inputs: ["q", "points", "norms"],
        outputs: ["partial"],
        attrs: { alpha: -2, beta: 1, transB: 1 },
        floats: ["alpha", "beta"],
      },
      {
        op: "TopK",
        inputs: ["partial", "kept"],
        outputs: ["values", "indices64"],
        attrs: { axis: 1, largest: 0, sorted: 1 },
      },
      // int32 indices: reading int64 ones in JavaScript allocates a BigInt per element
      { op: "Cast", inputs: ["indices64"], outputs: ["indices"], attrs: { to: DataType.INT32 } },
    ],
  });
  const onCpu = backend.device !== undefined && backend.device !== "cpu";
  return backend.createSession(encodeModel(model), onCpu ? { executionProviders: ["cpu"] } : undefined);
}
