/**
 * Quantized graphs as their dequantized float computation.
 *
 * What pathlens differentiates is the *dequantized network*: weights are DequantizeLinear'd once
 * (folded to float initializers), and every QuantizeLinear → DequantizeLinear pair on an
 * activation becomes its float value clipped to the quantization range, without the rounding.
 * So the forward keeps saturation (an activation outside the calibrated range is clipped as in
 * the quantized model) but not the rounding (≤ scale/2 per activation), and the gradient is the
 * clipped straight-through estimator: 1 inside the range, 0 where the quantizer saturates.
 * Attributions are therefore those of the dequantized network, and their completeness holds for
 * it exactly.
 *
 * Integer results of the ops rewritten here (QuantizeLinear outputs, MatMulInteger's int32, …)
 * keep their integer form for any other reader, and carry their float value ("shadow") in the
 * node's metadata (`pathlens.float_value`); consumers that are rewritten too (DequantizeLinear,
 * MatMulInteger, QLinear ops, a Cast back to float) read that float value instead, so the
 * gradient never crosses an integer tensor.
 */
import { attrInt } from "../../onnx/model.js";
import type { NodeProto } from "../../onnx/types.js";
import { type Tensor, tensor } from "../../tensor/tensor.js";
import type { GraphBuilder } from "../builder.js";
import type { DecomposeContext, Decomposition } from "../decompose.js";
import {
  alongAxis,
  asFloat32,
  clamp,
  dequantize,
  FLOAT_VALUE_KEY,
  integerAsFloat,
  isQuantizeLinear,
  markFloatValue,
  realProducer,
} from "./quantized-values.js";

const dequantizeLinear: Decomposition = {
  opTypes: ["DequantizeLinear"],
  decompose: (ctx) => [dequantize(ctx, ctx.x(0), ctx.x(1), ctx.x(2), attrInt(ctx.node, "axis", 1))],
};

/**
 * DynamicQuantizeLinear(x) → (y, y_scale, y_zero_point) with scale = (max(0, max x) − min(0,
 * min x)) / 255 and zero point round(−min / scale) (as the ONNX definition). y carries x / scale +
 * zero_point unrounded, so a MatMulInteger reading it computes x · W exactly (the scale cancels).
 */
const dynamicQuantizeLinear: Decomposition = {
  opTypes: ["DynamicQuantizeLinear"],
  decompose(ctx) {
    const { b } = ctx;
    const x = ctx.x(0);
    const zero = b.constant(tensor("float32", [], Float32Array.of(0)), "zero");
    const flat = b.op("Reshape", [x, b.int64s([-1])]);
    const hi = b.op("Max", [b.reduce("ReduceMax", flat, [0], false), zero]);
    const lo = b.op("Min", [b.reduce("ReduceMin", flat, [0], false), zero]);
    const raw = b.op("Div", [b.op("Sub", [hi, lo]), b.constant(tensor("float32", [], Float32Array.of(255)))]);
    // An all-zero x has scale 0 (onnxruntime's products are then 0 whatever the units): a tiny
    // scale instead keeps x / scale finite, and is returned as y_scale so that x / s · s = x
    // holds with the same s (the gradient at x = 0 stays W, not 0).
    const scale = b.op("Max", [raw, b.constant(tensor("float32", [], Float32Array.of(1e-30)), "tiny")]);
    const zpFloat = clamp(b, b.op("Round", [b.op("Neg", [b.op("Div", [lo, scale])])]), 0, 255);
    const units = b.op("Add", [b.op("Div", [x, scale]), zpFloat]);
    const y = b.op("Cast", [clamp(b, b.op("Round", [units]), 0, 255)], { to: 2 });
    markFloatValue(b, y, units);
    const zp = b.op("Cast", [zpFloat], { to: 2 });
    markFloatValue(b, zp, zpFloat);
    return [y, scale, zp];
  },
};

/** Emits an integer result from its float value: Round + Cast to int32, marked. */
export function int32Result(b: GraphBuilder, value: string): string {
  const y = b.op("Cast", [b.op("Round", [value])], { to: 6 });
  markFloatValue(b, y, value);
  return y;
}

/** A − zero_point in float units (zero point absent: A). */
function centered(ctx: DecomposeContext, i: number, zpIndex: number, shape?: (t: Tensor) => Tensor): string {
  const { b } = ctx;
  const x = ctx.x(i);
  const zpName = ctx.x(zpIndex);
  const xc = ctx.constant(i);
  const zc = zpName ? ctx.constant(zpIndex) : undefined;
  if (xc && (zc || !zpName)) {
    const q = asFloat32(xc);
    const z = zc ? asFloat32(shape ? shape(zc) : zc) : undefined;
    return b.constant(z ? subtractBroadcast(q, z) : q, "qcentered");
  }
  const u = integerAsFloat(ctx, x);
  if (!zpName) return u;
  const z = zc ? b.constant(asFloat32(shape ? shape(zc) : zc), "qzp") : integerAsFloat(ctx, zpName);
  return b.op("Sub", [u, z]);
}

/** a − b for constants where b broadcasts against a (numpy rules, trailing alignment). */
function subtractBroadcast(a: Tensor<"float32">, z: Tensor<"float32">): Tensor<"float32"> {
  const out = new Float32Array(a.data.length);
  const rank = a.dims.length;
  const zd = [...Array(rank - z.dims.length).fill(1), ...z.dims] as number[];
  const strides = zd.map((_, k) => zd.slice(k + 1).reduce((x, y) => x * y, 1));
  for (let i = 0; i < out.length; i++) {
    let rem = i;
    let zi = 0;
    for (let k = rank - 1; k >= 0; k--) {
      const d = a.dims[k]!;
      const idx = rem % d;
      rem = Math.floor(rem / d);
      if (zd[k] !== 1) zi += idx * strides[k]!;
    }
    out[i] = a.data[i]! - z.data[zi]!;
  }
  return tensor("float32", a.dims, out);
}

/** MatMulInteger(A, B, a_zero_point, b_zero_point) → int32, as a float MatMul. */
const matMulInteger: Decomposition = {
  opTypes: ["MatMulInteger"],
  decompose(ctx) {
    const product = ctx.b.op("MatMul", [centered(ctx, 0, 2), centered(ctx, 1, 3)]);
    return [int32Result(ctx.b, product)];
  },
};

/** ConvInteger(x, w, x_zero_point, w_zero_point) → int32, as a float Conv (w zero point per output channel). */
const convInteger: Decomposition = {
  opTypes: ["ConvInteger"],
  decompose(ctx) {
    const w = ctx.constant(1);
    const rank = w?.dims.length ?? 4;
    const perChannel = (z: Tensor) => alongAxis(z, 0, rank);
    const inputs = [centered(ctx, 0, 2), centered(ctx, 1, 3, perChannel)];
    const conv = opWithAttrs(ctx.b, "Conv", inputs, ctx.node, CONV_ATTRS);
    return [int32Result(ctx.b, conv)];
  },
};

/** Emits `opType` with the attributes `names` copied from `source` (Conv, pool attributes). */
export function opWithAttrs(
  b: GraphBuilder,
  opType: string,
  inputs: string[],
  source: NodeProto,
  names: readonly string[],
): string {
  const y = b.op(opType, inputs);
  const n = b.nodes[b.nodes.length - 1]!;
  n.attribute = source.attribute.filter((a) => names.includes(a.name ?? ""));
  return y;
}

/** Attributes of ONNX Conv. */
export const CONV_ATTRS = ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"] as const;

/** A Cast to float of a rewritten op's integer result reads its float value. */
const castOfQuantized: Decomposition = {
  opTypes: ["Cast"],
  applies: (node, _constant, where) => {
    // only Casts to a float type; integer-to-integer Casts are looked through by the readers
    if (![1, 10, 11, 16].includes(attrInt(node, "to") ?? -1)) return false;
    const p = realProducer(where, node.input[0] ?? "");
    return !!p?.metadataProps.some((m) => m.key === FLOAT_VALUE_KEY) || isQuantizeLinear(p);
  },
  decompose(ctx) {
    const to = attrInt(ctx.node, "to") ?? 1;
    const value = integerAsFloat(ctx, ctx.x(0));
    return [to === 1 ? value : ctx.b.op("Cast", [value], { to })];
  },
};

/** The quantized family: QDQ pairs, dequantized constants, dynamic quantization. */
export const quantizedDecompositions: Decomposition[] = [
  dequantizeLinear,
  { ...dequantizeLinear, domain: "com.microsoft" },
  dynamicQuantizeLinear,
  matMulInteger,
  convInteger,
  castOfQuantized,
];
