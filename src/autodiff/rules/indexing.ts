/**
 * Gradient rules: gathers and scatters. A gather's gradient scatters g back with addition
 * (indices may repeat). Scatter with `reduction = "add"` only exists from opset 16; older
 * models use a one-hot MatMul/Mul formulation instead, which needs only opset-9 ops.
 */
import { attrInt, attrString, ModelStructureError } from "../../onnx/model.js";
import type { GraphBuilder } from "../builder.js";
import type { GradientRule, RuleContext } from "../registry.js";
import { dimOf, normAxis, sliceInts, zerosOf } from "./shape.js";

/** Indices as int64 (Gather also takes int32), negatives made positive against `size`. */
function positiveIndices(b: GraphBuilder, idx: string, size: string, dtype: string): string {
  const i64 = dtype === "int64" ? idx : b.op("Cast", [idx], { to: 7 });
  const zero = b.int64Scalar(0);
  return b.op("Where", [b.op("Less", [i64, zero]), b.op("Add", [i64, size]), i64]);
}

/**
 * One-hot rows of `indices` (int64, already non-negative) over `depth`, in the float dtype of
 * `like`. onnxruntime's OneHot has float32 outputs only, so float64 is a Cast of it.
 */
function oneHot(b: GraphBuilder, indices: string, depth: string, like: string, axis = -1): string {
  if (b.device === "webgpu" && b.opset >= 11 && b.dtype(like) === "float32" && axis === -1)
    return oneHotByComparison(b, indices, depth);
  const values = b.constant({ dtype: "float32", dims: [2], data: Float32Array.of(0, 1) }, "onehot_values");
  const h = b.op("OneHot", [indices, depth, values], { axis });
  return b.dtype(like) === "float64" ? b.op("Cast", [h], { to: 11 }) : h;
}

/**
 * WebGPU (its provider has no OneHot kernel): the one-hot rows as Equal(indices, 0…depth−1) in
 * float32 (exact for indices below 2²⁴), so the comparison runs on the GPU. Range and float Equal
 * need opset 11; older models keep OneHot.
 */
function oneHotByComparison(b: GraphBuilder, indices: string, depth: string): string {
  const f32 = { to: 1 };
  const positions = b.op("Range", [
    b.scalar(0, "float32"),
    b.op("Cast", [depth], f32),
    b.scalar(1, "float32"),
  ]);
  const column = b.unsqueeze(b.op("Cast", [indices], f32), [1]);
  return b.op("Cast", [b.op("Equal", [column, positions])], f32);
}

/** The permutation moving axis `a` of a rank-r tensor to the end, and its inverse. */
function toLast(a: number, r: number): [number[], number[]] {
  const perm = [...Array.from({ length: r }, (_, i) => i).filter((i) => i !== a), a];
  const inv = new Array<number>(r);
  perm.forEach((p, i) => {
    inv[p] = i;
  });
  return [perm, inv];
}

/**
 * Gather (data, indices, axis): y has shape pre + indices.shape + post. The gradient regroups g
 * to pre + [K] + post (K = number of indices) and adds each slab into row idx[k] of zeros(x).
 */
const gather: GradientRule = {
  opTypes: ["Gather"],
  backward(ctx) {
    if (!ctx.needs(0)) return [];
    const { b } = ctx;
    const x = ctx.x(0);
    const r = b.rank(x);
    const a = normAxis(attrInt(ctx.node, "axis", 0), r);
    const shape = b.shape(x);
    const parts: string[] = [];
    if (a > 0) parts.push(sliceInts(b, shape, 0, a));
    parts.push(b.int64s([-1]));
    if (a < r - 1) parts.push(sliceInts(b, shape, a + 1, r));
    const grouped = b.op("Reshape", [
      ctx.dy(0)!,
      parts.length > 1 ? b.op("Concat", parts, { axis: 0 }) : parts[0]!,
    ]);
    const size = dimOf(b, x, a);
    const flat = positiveIndices(b, b.op("Reshape", [ctx.x(1), b.int64s([-1])]), size, b.dtype(ctx.x(1)));
    if (ctx.opset >= 16) {
      const idxShape = new Array<number>(r).fill(1);
      idxShape[a] = -1;
      const idx = b.op("Expand", [b.op("Reshape", [flat, b.int64s(idxShape)]), b.shape(grouped)]);
      return [b.op("ScatterElements", [zerosOf(b, x), idx, grouped], { axis: a, reduction: "add" })];
    }
    // One-hot [K, N]; contract K: (…, K) · (K, N) → (…, N), with axis a moved last and back.
    const onehot = oneHot(b, flat, size, x);
    const [perm, inv] = toLast(a, r);
    const moved = r > 1 ? b.op("Transpose", [grouped], { perm }) : grouped;
    const summed = b.op("MatMul", [moved, onehot]);
    return [r > 1 ? b.op("Transpose", [summed], { perm: inv }) : summed];
  },
};

/** GatherElements (opset ≥ 11): y[i…] = x[…, idx[i…], …] along `axis`. */
const gatherElements: GradientRule = {
  opTypes: ["GatherElements"],
  backward(ctx) {
    if (!ctx.needs(0)) return [];
    const { b } = ctx;
    const x = ctx.x(0);
    const r = b.rank(x);
    const a = normAxis(attrInt(ctx.node, "axis", 0), r);
    const idx = positiveIndices(b, ctx.x(1), dimOf(b, x, a), b.dtype(ctx.x(1)));
    const g = ctx.dy(0)!;
    if (ctx.opset >= 16)
      return [b.op("ScatterElements", [zerosOf(b, x), idx, g], { axis: a, reduction: "add" })];
    // One-hot over the data axis: (idx…, N); weight by g, sum over the index axis, move N to a.
    const onehot = oneHot(b, idx, dimOf(b, x, a), x);
    const weighted = b.op("Mul", [b.unsqueeze(g, [r]), onehot]);
    const summed = b.reduceSum(weighted, [a], false);
    const [, inv] = toLast(a, r);
    const back = b.op("Transpose", [summed], { perm: inv });
    const xd = b.dims(x);
    const id = b.dims(ctx.x(1));
    if (id.every((d, i) => i === a || d === xd[i])) return [back];
    // Indices smaller than the data on other axes: zero-pad the tail up to Shape(x).
    const tail = b.op("Sub", [b.shape(x), b.shape(back)]);
    const pads = b.op("Concat", [b.int64s(new Array(r).fill(0)), tail], { axis: 0 });
    return [b.op("Pad", [back, pads], { mode: "constant" })];
  },
};

/**
 * GatherND (batch_dims 0): the gradient adds g into zeros(x) at the gathered positions. Before
 * opset 16 (no ScatterND reduction), the m-tuples are turned into flat row numbers of x viewed as
 * [P, rest…] (P = product of the first m dims) and contracted with a one-hot [K, P] matrix.
 */
const gatherND: GradientRule = {
  opTypes: ["GatherND"],
  backward(ctx) {
    if (!ctx.needs(0)) return [];
    if (attrInt(ctx.node, "batch_dims", 0) !== 0)
      throw new ModelStructureError("GatherND with batch_dims ≠ 0 has no gradient rule");
    const { b } = ctx;
    const x = ctx.x(0);
    const g = ctx.dy(0)!;
    if (ctx.opset >= 16) return [b.op("ScatterND", [zerosOf(b, x), ctx.x(1), g], { reduction: "add" })];
    const r = b.rank(x);
    const idxDims = b.dims(ctx.x(1));
    const m = idxDims[idxDims.length - 1]!;
    const shape = b.shape(x);
    const lead = sliceInts(b, shape, 0, m);
    const idx = positiveIndices(b, ctx.x(1), lead, "int64");
    // Row-major strides of the first m dims: stride_j = Π_{k>j} dim_k.
    const strides: string[] = [];
    let acc = b.int64s([1]);
    for (let j = m - 1; j >= 0; j--) {
      strides.unshift(acc);
      if (j > 0) acc = b.op("Mul", [acc, dimOf(b, x, j)]);
    }
    const strideVec = m > 1 ? b.op("Concat", strides, { axis: 0 }) : strides[0]!;
    const rows = b.reduceSum(b.op("Mul", [idx, strideVec]), [idxDims.length - 1], false);
    const flatRows = b.op("Reshape", [rows, b.int64s([-1])]);
    const numRows = b.op("ReduceProd", [lead], { keepdims: 1 });
    const onehot = oneHot(b, flatRows, numRows, x); // [K, P]
    const restShape =
      m < r ? b.op("Concat", [b.int64s([-1]), sliceInts(b, shape, m, r)], { axis: 0 }) : b.int64s([-1]);
    const g2 = b.op("Flatten", [b.op("Reshape", [g, restShape])], { axis: 1 }); // [K, R]
    const summed = b.op("MatMul", [b.op("Transpose", [onehot], { perm: [1, 0] }), g2]); // [P, R]
    return [b.op("Reshape", [summed, shape])];
  },
};

/** Reduction attribute of a scatter; only none and add have gradients here. */
function reductionOf(ctx: RuleContext): "none" | "add" {
  const r = attrString(ctx.node, "reduction", "none");
  if (r !== "none" && r !== "add")
    throw new ModelStructureError(`${ctx.node.opType} with reduction "${r}" has no gradient rule`);
  return r;
}

/**
 * ScatterElements: data's gradient is g except at overwritten positions (none) or g itself (add);
 * the updates' gradient is g gathered at the indices.
 */
const scatterElements: GradientRule = {
  opTypes: ["ScatterElements"],
  backward(ctx) {
    const { b } = ctx;
    const g = ctx.dy(0)!;
    const axis = attrInt(ctx.node, "axis", 0);
    const reduction = reductionOf(ctx);
    const dData = ctx.needs(0)
      ? reduction === "add"
        ? g
        : b.op("ScatterElements", [g, ctx.x(1), zerosOf(b, ctx.x(2))], { axis })
      : undefined;
    const dUpdates = ctx.needs(2) ? b.op("GatherElements", [g, ctx.x(1)], { axis }) : undefined;
    return [dData, undefined, dUpdates];
  },
};

/** ScatterND: as ScatterElements, with GatherND for the updates. */
const scatterND: GradientRule = {
  opTypes: ["ScatterND"],
  backward(ctx) {
    const { b } = ctx;
    const g = ctx.dy(0)!;
    const reduction = reductionOf(ctx);
    const dData = ctx.needs(0)
      ? reduction === "add"
        ? g
        : b.op("ScatterND", [g, ctx.x(1), zerosOf(b, ctx.x(2))])
      : undefined;
    const dUpdates = ctx.needs(2) ? b.op("GatherND", [g, ctx.x(1)]) : undefined;
    return [dData, undefined, dUpdates];
  },
};

/**
 * TopK: the values' gradient goes back to the positions the indices name. Indices are distinct
 * within each slice, so a plain ScatterElements into zeros is exact (opset ≥ 11).
 */
const topK: GradientRule = {
  opTypes: ["TopK"],
  backward(ctx) {
    const g = ctx.dy(0);
    if (!g) return [undefined];
    if (ctx.opset < 11)
      throw new ModelStructureError("TopK before opset 11 has no gradient rule (needs ScatterElements)");
    const { b } = ctx;
    const x = ctx.x(0);
    const axis = normAxis(attrInt(ctx.node, "axis", -1), b.rank(x));
    return [b.op("ScatterElements", [zerosOf(b, x), ctx.y(1), g], { axis }), undefined];
  },
};

/** Indexing-family rules. */
export const indexingRules: GradientRule[] = [
  gather,
  gatherElements,
  gatherND,
  scatterElements,
  scatterND,
  topK,
];
