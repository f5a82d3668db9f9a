/**
 * Gradient rules: ops that move values without arithmetic (reshapes, transposes, concatenation,
 * splitting, slicing, padding, broadcasting, tiling). Every rule keeps runtime shapes dynamic:
 * sizes come from Shape() of the forward tensors, probe dims only decide ranks and axes.
 */
import { attrInt, attrInts, attrString, ModelStructureError, tensorToProto } from "../../onnx/model.js";
import type { Tensor } from "../../tensor/tensor.js";
import type { GraphBuilder } from "../builder.js";
import type { GradientRule, RuleContext } from "../registry.js";

/** Largest int64 Slice bound (means "to the end"). */
const INT64_MAX = 9223372036854775807n;

/** Normalises a possibly negative axis against a rank. */
export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** Values of an int64/int32 constant as numbers. */
export function intValues(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

/** Dimension `axis` of `x` at run time, as a 1-D int64 tensor of one element. */
export function dimOf(b: GraphBuilder, x: string, axis: number): string {
  return sliceInts(b, b.shape(x), axis, axis + 1);
}

/** A Slice of a 1-D int64 tensor (shape vectors), valid at any opset. */
export function sliceInts(b: GraphBuilder, v: string, start: number, end: number): string {
  return b.slice(v, [start], [end], [0]);
}

const reshapeLike: GradientRule = {
  opTypes: ["Reshape", "Flatten", "Squeeze", "Unsqueeze"],
  backward: (ctx) => [ctx.b.reshapeLike(ctx.dy(0)!, ctx.x(0))],
};

const transpose: GradientRule = {
  opTypes: ["Transpose"],
  backward(ctx) {
    const r = ctx.b.rank(ctx.x(0));
    const perm = attrInts(ctx.node, "perm") ?? Array.from({ length: r }, (_, i) => r - 1 - i);
    const inverse = new Array<number>(r);
    perm.forEach((p, i) => {
      inverse[p] = i;
    });
    return [ctx.b.op("Transpose", [ctx.dy(0)!], { perm: inverse })];
  },
};

const expand: GradientRule = {
  opTypes: ["Expand"],
  backward: (ctx) => [ctx.b.unbroadcast(ctx.dy(0)!, ctx.x(0), ctx.y(0))],
};

/**
 * Tile: y = tile(x, repeats). Reshape g to [r0, d0, r1, d1, …] (interleaving repeats and the
 * input dims, both known at run time) and sum over the repeat axes.
 */
const tile: GradientRule = {
  opTypes: ["Tile"],
  backward(ctx) {
    const { b } = ctx;
    const x = ctx.x(0);
    const r = b.rank(x);
    if (r === 0) return [ctx.dy(0)!];
    const reps = b.unsqueeze(ctx.x(1), [1]);
    const dims = b.unsqueeze(b.shape(x), [1]);
    const pairs = b.op("Concat", [reps, dims], { axis: 1 });
    const target = b.op("Reshape", [pairs, b.int64s([2 * r])]);
    const split = b.op("Reshape", [ctx.dy(0)!, target]);
    const axes = Array.from({ length: r }, (_, i) => 2 * i);
    return [b.reduceSum(split, axes, false)];
  },
};

/**
 * Concat: each input's gradient is its slab of g along the axis. From opset 10 the slab bounds
 * are computed from the inputs' runtime sizes (cumulative sums), so dynamic axes work.
 */
const concat: GradientRule = {
  opTypes: ["Concat"],
  backward(ctx) {
    const { b, node } = ctx;
    const g = ctx.dy(0)!;
    const r = b.rank(ctx.y(0));
    const axis = normAxis(attrInt(node, "axis", 0), r);
    const out: (string | undefined)[] = [];
    if (ctx.opset < 10) {
      let offset = 0;
      for (let i = 0; i < node.input.length; i++) {
        const size = b.dims(ctx.x(i))[axis]!;
        out.push(ctx.needs(i) ? b.slice(g, [offset], [offset + size], [axis]) : undefined);
        offset += size;
      }
      return out;
    }
    let start = b.int64s([0]);
    for (let i = 0; i < node.input.length; i++) {
      const end = b.op("Add", [start, dimOf(b, ctx.x(i), axis)]);
      out.push(ctx.needs(i) ? b.op("Slice", [g, start, end, b.int64s([axis])]) : undefined);
      start = end;
    }
    return out;
  },
};

/** Split: the gradient is the concatenation of the outputs' gradients (zeros where none). */
const split: GradientRule = {
  opTypes: ["Split"],
  backward(ctx) {
    const { b, node } = ctx;
    const r = b.rank(ctx.x(0));
    const axis = normAxis(attrInt(node, "axis", 0), r);
    const parts = node.output.map((o, i) => ctx.dy(i) ?? zerosOf(b, o));
    return [b.concat(parts, axis)];
  },
};

/** Zeros with the runtime shape and dtype of `like`, without reading its values (no inf·0). */
export function zerosOf(b: GraphBuilder, like: string): string {
  const dtype = b.dtype(like);
  const value = dtype === "float64" ? Float64Array.of(0) : Float32Array.of(0);
  const t = tensorToProto("value", { dtype, dims: [1], data: value } as Tensor);
  return b.op("ConstantOfShape", [b.shape(like)], { value: t });
}

/**
 * Slice. From opset 11: slice a tensor of flat element indices with the node's own
 * starts/ends/axes/steps and scatter g to those positions, which handles negative bounds,
 * steps and dynamic shapes exactly. Before opset 11 (no Range/ScatterElements): constant
 * bounds with step 1 become a constant-mode Pad.
 */
const slice: GradientRule = {
  opTypes: ["Slice"],
  backward(ctx) {
    const { b, node } = ctx;
    const x = ctx.x(0);
    const g = ctx.dy(0)!;
    if (b.device !== "cpu" && ctx.opset >= 11) {
      const padded = padBackAtRunTime(ctx, x, g);
      if (padded) return [padded];
    }
    if (ctx.opset >= 11) {
      const flatIdx = b.op("Range", [b.int64Scalar(0), b.op("Size", [x]), b.int64Scalar(1)]);
      const idx = b.op("Reshape", [flatIdx, b.shape(x)]);
      const picked = b.op("Slice", [idx, ...node.input.slice(1)]);
      const flat = b.int64s([-1]);
      const scattered = b.op("ScatterElements", [
        b.op("Reshape", [zerosOf(b, x), flat]),
        b.op("Reshape", [picked, flat]),
        b.op("Reshape", [g, flat]),
      ]);
      return [b.reshapeLike(scattered, x)];
    }
    return [padBack(ctx, x, g)];
  },
};

/**
 * WebGPU (int64 index tensors and scatters run on its CPU side): a step-1 Slice's gradient is g
 * padded back with zeros, the pads computed at run time from x's dims and the bounds (clamped as
 * Slice clamps them) — shape arithmetic on a few int64 values, while the data stays on the GPU.
 * Undefined (use the general form) for steps ≠ 1 or computed axes.
 */
function padBackAtRunTime(ctx: RuleContext, x: string, g: string): string | undefined {
  const { b } = ctx;
  const r = b.rank(x);
  if (ctx.x(4)) {
    const steps = ctx.constant(4);
    if (!steps || intValues(steps).some((v) => v !== 1)) return undefined;
  }
  const n = b.dims(ctx.x(1))[0] ?? 0;
  let axes = Array.from({ length: n }, (_, i) => i);
  if (ctx.x(3)) {
    const a = ctx.constant(3);
    if (!a) return undefined;
    axes = intValues(a).map((v) => normAxis(v, r));
  }
  const i64 = (name: string) => (b.dtype(name) === "int64" ? name : b.op("Cast", [name], { to: 7 }));
  const dims = b.op("Gather", [b.shape(x), b.int64s(axes)], { axis: 0 });
  const zeros = b.int64s(new Array(n).fill(0));
  const clamp = (v: string) => {
    const pos = b.op("Where", [b.op("Less", [v, zeros]), b.op("Add", [v, dims]), v]);
    const low = b.op("Where", [b.op("Less", [pos, zeros]), zeros, pos]);
    return b.op("Where", [b.op("Less", [dims, low]), dims, low]);
  };
  const start = clamp(i64(ctx.x(1)));
  const endRaw = clamp(i64(ctx.x(2)));
  const end = b.op("Where", [b.op("Less", [endRaw, start]), start, endRaw]);
  const after = b.op("Sub", [dims, end]);
  const pick = (v: string, axis: number) => {
    const k = axes.indexOf(axis);
    return k < 0 ? b.int64s([0]) : b.slice(v, [k], [k + 1], [0]);
  };
  const all = Array.from({ length: r }, (_, a) => a);
  const pads = b.op("Concat", [...all.map((a) => pick(start, a)), ...all.map((a) => pick(after, a))], {
    axis: 0,
  });
  return b.op("Pad", [g, pads]);
}

/** Pre-opset-11 Slice gradient: Pad with pads computed from constant bounds and probe dims. */
function padBack(ctx: RuleContext, x: string, g: string): string {
  const { b, node } = ctx;
  const dims = b.dims(x);
  const r = dims.length;
  let starts: number[];
  let ends: number[];
  let axes: number[] | undefined;
  let steps: number[] | undefined;
  if (ctx.opset < 10) {
    starts = attrInts(node, "starts", []);
    ends = attrInts(node, "ends", []);
    axes = attrInts(node, "axes");
  } else {
    const c = [1, 2, 3, 4].map((i) => (ctx.x(i) ? ctx.constant(i) : undefined));
    if (!c[0] || !c[1] || (ctx.x(3) && !c[2]) || (ctx.x(4) && !c[3])) {
      throw new ModelStructureError("Slice with computed bounds needs opset ≥ 11 for its gradient");
    }
    starts = intValues(c[0]);
    ends = intValues(c[1]);
    axes = c[2] ? intValues(c[2]) : undefined;
    steps = c[3] ? intValues(c[3]) : undefined;
  }
  if (steps?.some((s) => s !== 1))
    throw new ModelStructureError("Slice with steps ≠ 1 needs opset ≥ 11 for its gradient");
  const pads = new Array<number>(2 * r).fill(0);
  (axes ?? starts.map((_, i) => i)).forEach((a, k) => {
    const ax = normAxis(a, r);
    const d = dims[ax]!;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
    const s = clamp(starts[k]!);
    const e = Math.max(clamp(ends[k]!), s);
    pads[ax] = s;
    pads[ax + r] = d - e;
  });
  return b.op("Pad", [g], { pads, mode: "constant" });
}

/**
 * Pad (constant mode): the gradient is the interior slab of g. Ends are given as negative
 * offsets from the end (or "to the end"), so no input dim is needed.
 */
const pad: GradientRule = {
  opTypes: ["Pad"],
  backward(ctx) {
    const { b, node } = ctx;
    const mode = attrString(node, "mode", "constant");
    if (mode !== "constant") {
      throw new ModelStructureError(`Pad mode "${mode}" has no gradient rule (only "constant")`);
    }
    const r = b.rank(ctx.x(0));
    let pads: number[];
    let axes = Array.from({ length: r }, (_, i) => i);
    if (ctx.opset < 11) pads = attrInts(node, "pads", []);
    else {
      const p = ctx.constant(1);
      if (!p) return [dynamicPadBack(ctx)];
      pads = intValues(p);
      if (ctx.x(3)) {
        const a = ctx.constant(3);
        if (!a) return [dynamicPadBack(ctx)];
        axes = intValues(a).map((v) => normAxis(v, r));
      }
    }
    const n = axes.length;
    if (pads.some((v) => v < 0)) return [dynamicPadBack(ctx)];
    const starts = pads.slice(0, n);
    if (ctx.opset < 10) {
      // Any end past the dim means "to the end"; Slice clamps it.
      const ends = pads.slice(n, 2 * n).map((e) => (e > 0 ? -e : Number.MAX_SAFE_INTEGER));
      return [b.op("Slice", [ctx.dy(0)!], { starts, ends, axes })];
    }
    const endsT = b.constant(
      {
        dtype: "int64",
        dims: [n],
        data: BigInt64Array.from(pads.slice(n, 2 * n), (e) => (e > 0 ? BigInt(-e) : INT64_MAX)),
      },
      "ends",
    );
    return [b.op("Slice", [ctx.dy(0)!, b.int64s(starts), endsT, b.int64s(axes)])];
  },
};

/** Pad with computed (or negative) pads: slice from `begin` for Shape(x) elements (opset ≥ 11). */
function dynamicPadBack(ctx: RuleContext): string {
  const { b } = ctx;
  const r = b.rank(ctx.x(0));
  if (ctx.x(3)) throw new ModelStructureError("Pad with computed axes has no gradient rule");
  const begin = sliceInts(b, ctx.x(1), 0, r);
  const shape = b.shape(ctx.x(0));
  const axes = b.int64s(Array.from({ length: r }, (_, i) => i));
  // Negative pads crop: then g covers only part of x; pad it back with zeros first.
  // (int64 Max needs opset 12, so clamp with Where.)
  const zeros = b.int64s(new Array(r).fill(0));
  const negPart = (v: string) => b.op("Where", [b.op("Less", [v, zeros]), b.op("Neg", [v]), zeros]);
  const posPart = (v: string) => b.op("Where", [b.op("Less", [v, zeros]), zeros, v]);
  const end = sliceInts(b, ctx.x(1), r, 2 * r);
  const widened = b.op("Pad", [ctx.dy(0)!, b.op("Concat", [negPart(begin), negPart(end)], { axis: 0 })], {
    mode: "constant",
  });
  const start = posPart(begin);
  return b.op("Slice", [widened, start, b.op("Add", [start, shape]), axes]);
}

/** DepthToSpace (DCR) and SpaceToDepth are each other's inverse permutations. */
const depthToSpace: GradientRule = {
  opTypes: ["DepthToSpace"],
  backward(ctx) {
    const { b, node } = ctx;
    const bs = attrInt(node, "blocksize", 1);
    if (attrString(node, "mode", "DCR") === "DCR")
      return [b.op("SpaceToDepth", [ctx.dy(0)!], { blocksize: bs })];
    // CRD: y = reshape(transpose(reshape(x, [N, C', b, b, H, W]), [0, 1, 4, 2, 5, 3]), [N, C', H·b, W·b]);
    // undo it: reshape g to [N, C', H, b, W, b], transpose by the inverse, reshape to Shape(x).
    const shape = b.shape(ctx.x(0));
    const n = sliceInts(b, shape, 0, 1);
    const c = b.op("Div", [sliceInts(b, shape, 1, 2), b.int64s([bs * bs])]);
    const h = sliceInts(b, shape, 2, 3);
    const w = sliceInts(b, shape, 3, 4);
    const block = b.int64s([bs]);
    const six = b.op("Concat", [n, c, h, block, w, block], { axis: 0 });
    const t = b.op("Transpose", [b.op("Reshape", [ctx.dy(0)!, six])], { perm: [0, 1, 3, 5, 2, 4] });
    return [b.op("Reshape", [t, shape])];
  },
};

const spaceToDepth: GradientRule = {
  opTypes: ["SpaceToDepth"],
  backward: (ctx) => [
    ctx.b.op("DepthToSpace", [ctx.dy(0)!], { blocksize: attrInt(ctx.node, "blocksize", 1), mode: "DCR" }),
  ],
};

/** Trilu keeps a triangle: its gradient keeps the same triangle of g. */
const trilu: GradientRule = {
  opTypes: ["Trilu"],
  backward(ctx) {
    const inputs = ctx.x(1) ? [ctx.dy(0)!, ctx.x(1)] : [ctx.dy(0)!];
    return [ctx.b.op("Trilu", inputs, { upper: attrInt(ctx.node, "upper", 1) }), undefined];
  },
};

/** Shape-family rules. */
export const shapeRules: GradientRule[] = [
  reshapeLike,
  transpose,
  expand,
  tile,
  concat,
  split,
  slice,
  pad,
  depthToSpace,
  spaceToDepth,
  trilu,
];
