/**
 * QLinear ops (ONNX QLinearConv / QLinearMatMul and onnxruntime's com.microsoft QLinear family)
 * as their float computation: dequantize the inputs, run the float op, quantize the result with a
 * real QuantizeLinear. The reader of that result (a DequantizeLinear or another QLinear op) is
 * rewritten too and sees a QuantizeLinear → DequantizeLinear pair: the float value clipped to the
 * output range, unrounded (see quantized.ts for why). Semantics as onnxruntime's
 * ContribOperators.md and the ONNX operator definitions.
 */
import { attrFloat, attrInt, describeNode, ModelStructureError } from "../../onnx/model.js";
import { tensor } from "../../tensor/tensor.js";
import type { DecomposeContext, Decomposition } from "../decompose.js";
import { CONV_ATTRS, opWithAttrs } from "./quantized.js";
import { dequantize, requantize } from "./quantized-values.js";

const MS = "com.microsoft";
const POOL_ATTRS = ["auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"];

/** Dequantized input: inputs (x, scale, zero point) at indices i, i+1, i+2. */
function dq(ctx: DecomposeContext, i: number, axis = 1): string {
  return dequantize(ctx, ctx.x(i), ctx.x(i + 1), ctx.x(i + 2), axis);
}

/** NHWC ↔ NCHW around an op for rank `rank` (channels_last = 1). */
function toChannelsFirst(ctx: DecomposeContext, x: string, rank: number): string {
  const perm = [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, k) => k + 1)];
  return ctx.b.op("Transpose", [x], { perm });
}

function toChannelsLast(ctx: DecomposeContext, x: string, rank: number): string {
  const perm = [0, ...Array.from({ length: rank - 2 }, (_, k) => k + 2), 1];
  return ctx.b.op("Transpose", [x], { perm });
}

/** The float bias of QLinearConv: B · x_scale · w_scale (per output channel). */
function convBias(ctx: DecomposeContext): string | undefined {
  const { b } = ctx;
  if (!ctx.x(8)) return undefined;
  const bias = ctx.constant(8);
  const xs = ctx.constant(1);
  const ws = ctx.constant(4);
  if (bias && xs && ws) {
    const out = new Float32Array(bias.data.length);
    const w = ws.data as Float32Array;
    for (let i = 0; i < out.length; i++)
      out[i] = Number(bias.data[i]) * Number(xs.data[0]) * w[w.length === 1 ? 0 : i]!;
    return b.constant(tensor("float32", bias.dims, out), "qbias");
  }
  const scaled = b.op("Mul", [b.op("Cast", [ctx.x(8)], { to: 1 }), ctx.x(1)]);
  return b.op("Mul", [scaled, ctx.x(4)]);
}

/** QLinearConv(x, xs, xz, w, ws, wz, ys, yz, B): weights per output channel (axis 0). */
const qlinearConv: Decomposition = {
  opTypes: ["QLinearConv"],
  decompose(ctx) {
    const channelsLast = attrInt(ctx.node, "channels_last", 0) === 1;
    const rank = ctx.constant(3)?.dims.length ?? 4;
    let x = dq(ctx, 0);
    if (channelsLast) x = toChannelsFirst(ctx, x, rank);
    const w = dq(ctx, 3, 0);
    const bias = convBias(ctx);
    let y = opWithAttrs(ctx.b, "Conv", bias ? [x, w, bias] : [x, w], ctx.node, CONV_ATTRS);
    if (channelsLast) y = toChannelsLast(ctx, y, rank);
    return [requantize(ctx, y, ctx.x(6), ctx.x(7))];
  },
};

/** QLinearMatMul(a, as, az, b, bs, bz, ys, yz): b per column (its last axis). */
const qlinearMatMul: Decomposition = {
  opTypes: ["QLinearMatMul"],
  decompose(ctx) {
    const bRank = ctx.constant(3)?.dims.length ?? 2;
    const y = ctx.b.op("MatMul", [dq(ctx, 0), dq(ctx, 3, bRank - 1)]);
    return [requantize(ctx, y, ctx.x(6), ctx.x(7))];
  },
};

/** QLinearAdd / QLinearMul (A, As, Az, B, Bs, Bz, Cs, Cz). */
function binary(opType: "Add" | "Mul"): Decomposition {
  return {
    opTypes: [`QLinear${opType}`],
    domain: MS,
    decompose(ctx) {
      const y = ctx.b.op(opType, [dq(ctx, 0), dq(ctx, 3)]);
      return [requantize(ctx, y, ctx.x(6), ctx.x(7))];
    },
  };
}

/** Unary QLinear ops (X, Xs, Xz, Ys, Yz). */
function unary(qOp: string, emit: (ctx: DecomposeContext, x: string) => string): Decomposition {
  return {
    opTypes: [qOp],
    domain: MS,
    decompose(ctx) {
      return [requantize(ctx, emit(ctx, dq(ctx, 0)), ctx.x(3), ctx.x(4))];
    },
  };
}

const qlinearSigmoid = unary("QLinearSigmoid", (ctx, x) => ctx.b.op("Sigmoid", [x]));

const qlinearLeakyRelu = unary("QLinearLeakyRelu", (ctx, x) =>
  ctx.b.op("LeakyRelu", [x], { alpha: attrFloat(ctx.node, "alpha", 0.01) }, { floats: ["alpha"] }),
);

const qlinearAveragePool = unary("QLinearAveragePool", (ctx, x) => {
  const channelsLast = attrInt(ctx.node, "channels_last", 0) === 1;
  const rank = (ctx.node.attribute.find((a) => a.name === "kernel_shape")?.ints.length ?? 2) + 2;
  const input = channelsLast ? toChannelsFirst(ctx, x, rank) : x;
  const y = opWithAttrs(ctx.b, "AveragePool", [input], ctx.node, POOL_ATTRS);
  return channelsLast ? toChannelsLast(ctx, y, rank) : y;
});

const qlinearGlobalAveragePool = unary("QLinearGlobalAveragePool", (ctx, x) => {
  if (attrInt(ctx.node, "channels_last", 0) !== 1) return ctx.b.op("GlobalAveragePool", [x]);
  const info = ctx.shapes?.get(ctx.x(0));
  if (!info)
    throw new ModelStructureError(
      `${describeNode(ctx.node)}: channels_last pooling needs the input's rank, which is unknown`,
    );
  const rank = info.dims.length;
  const axes = Array.from({ length: rank - 2 }, (_, k) => k + 1);
  return ctx.b.reduce("ReduceMean", x, axes, true);
});

/** QLinearConcat(Y_scale, Y_zero_point, (X, X_scale, X_zero_point)…) along `axis`. */
const qlinearConcat: Decomposition = {
  opTypes: ["QLinearConcat"],
  domain: MS,
  decompose(ctx) {
    const n = ctx.node.input.length - 2;
    if (n <= 0 || n % 3 !== 0)
      throw new ModelStructureError(
        `${describeNode(ctx.node)}: expected (tensor, scale, zero point) triples after Y_scale, Y_zero_point`,
      );
    const parts: string[] = [];
    for (let i = 2; i < ctx.node.input.length; i += 3) parts.push(dq(ctx, i));
    const axis = attrInt(ctx.node, "axis");
    if (axis === undefined)
      throw new ModelStructureError(`${describeNode(ctx.node)}: attribute axis is required`);
    const y = ctx.b.op("Concat", parts, { axis });
    return [requantize(ctx, y, ctx.x(0), ctx.x(1))];
  },
};

/** MatMulIntegerToFloat(A, B, a_scale, b_scale, a_zp, b_zp, bias) → float (onnxruntime's fusion). */
const matMulIntegerToFloat: Decomposition = {
  opTypes: ["MatMulIntegerToFloat"],
  domain: MS,
  decompose(ctx) {
    const bRank = ctx.constant(1)?.dims.length ?? 2;
    const a = dequantize(ctx, ctx.x(0), ctx.x(2), ctx.x(4));
    const bm = dequantize(ctx, ctx.x(1), ctx.x(3), ctx.x(5), bRank - 1);
    const y = ctx.b.op("MatMul", [a, bm]);
    return [ctx.x(6) ? ctx.b.op("Add", [y, ctx.x(6)]) : y];
  },
};

/** DynamicQuantizeMatMul(A float, B, b_scale, b_zp, bias) → A · dequantized B (+ bias). */
const dynamicQuantizeMatMul: Decomposition = {
  opTypes: ["DynamicQuantizeMatMul"],
  domain: MS,
  decompose(ctx) {
    const bRank = ctx.constant(1)?.dims.length ?? 2;
    const bm = dequantize(ctx, ctx.x(1), ctx.x(2), ctx.x(3), bRank - 1);
    const y = ctx.b.op("MatMul", [ctx.x(0), bm]);
    return [ctx.x(4) ? ctx.b.op("Add", [y, ctx.x(4)]) : y];
  },
};

/**
 * QGemm(A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp): alpha · (A·B + C·a_scale·b_scale)
 * with B per column (the int32 C carries scale alpha·a_scale·b_scale); float output without
 * y_scale, quantized with it.
 */
const qgemm: Decomposition = {
  opTypes: ["QGemm"],
  domain: MS,
  decompose(ctx) {
    const { b, node } = ctx;
    const transB = attrInt(node, "transB", 0) === 1;
    const a = dq(ctx, 0);
    const bm = dq(ctx, 3, transB ? 0 : 1);
    let y = b.op("Gemm", [a, bm], { transA: attrInt(node, "transA", 0), transB: transB ? 1 : 0 });
    if (ctx.x(6)) {
      const scale = b.op("Mul", [ctx.x(1), ctx.x(4)]);
      y = b.op("Add", [y, b.op("Mul", [b.op("Cast", [ctx.x(6)], { to: 1 }), scale])]);
    }
    const alpha = attrFloat(node, "alpha", 1);
    if (alpha !== 1) y = b.op("Mul", [y, b.constant(tensor("float32", [], Float32Array.of(alpha)), "alpha")]);
    return [ctx.x(7) ? requantize(ctx, y, ctx.x(7), ctx.x(8)) : y];
  },
};

/** The op and its com.microsoft copy (onnxruntime defines both). */
function alsoContrib(d: Decomposition): Decomposition[] {
  return [d, { ...d, domain: MS }];
}

/** The QLinear family. */
export const quantizedOpDecompositions: Decomposition[] = [
  ...alsoContrib(qlinearConv),
  qlinearMatMul,
  binary("Add"),
  binary("Mul"),
  qlinearSigmoid,
  qlinearLeakyRelu,
  qlinearAveragePool,
  qlinearGlobalAveragePool,
  qlinearConcat,
  matMulIntegerToFloat,
  dynamicQuantizeMatMul,
  qgemm,
];
