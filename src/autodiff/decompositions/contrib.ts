/**
 * onnxruntime's fused contrib ops (domain com.microsoft) written by its graph optimizer and by
 * Optimum, rewritten into the standard ONNX ops they fuse. Semantics from onnxruntime's
 * docs/ContribOperators.md and its CPU kernels; each is checked against onnxruntime's own kernel
 * in contrib.test.ts (attribute defaults included).
 */
import {
  attrFloat,
  attrFloats,
  attrInt,
  attrString,
  describeNode,
  ModelStructureError,
} from "../../onnx/model.js";
import type { NodeProto } from "../../onnx/types.js";
import { tensor } from "../../tensor/tensor.js";
import type { GraphBuilder } from "../builder.js";
import type { DecomposeContext, Decomposition } from "../decompose.js";
import { CONV_ATTRS, opWithAttrs } from "./quantized.js";

const MS = "com.microsoft";

/** A float32 scalar constant (contrib ops here are float32 after the precision pass). */
function f32(b: GraphBuilder, v: number): string {
  return b.constant(tensor("float32", [], Float32Array.of(v)), "c");
}

/**
 * The activation MLAS fuses (FusedConv's `activation_params`, FusedGemm's `activation_alpha` /
 * `activation_beta`): Relu, Tanh, Sigmoid, LeakyRelu(alpha), Clip(min, max), HardSigmoid(alpha, beta),
 * HardSwish.
 */
export function activate(
  ctx: DecomposeContext,
  x: string,
  name: string | undefined,
  params: number[],
): string {
  const { b, node } = ctx;
  switch (name ?? "") {
    case "":
      return x;
    case "Relu":
    case "Tanh":
    case "Sigmoid":
      return b.op(name!, [x]);
    case "LeakyRelu":
      return b.op("LeakyRelu", [x], { alpha: params[0] ?? 0.01 }, { floats: ["alpha"] });
    case "HardSigmoid":
      return b.op(
        "HardSigmoid",
        [x],
        { alpha: params[0] ?? 0.2, beta: params[1] ?? 0.5 },
        { floats: ["alpha", "beta"] },
      );
    case "HardSwish":
      // MLAS: x · clamp(x/6 + 1/2, 0, 1), no parameters
      return b.op("Mul", [
        x,
        b.op("HardSigmoid", [x], { alpha: 1 / 6, beta: 0.5 }, { floats: ["alpha", "beta"] }),
      ]);
    case "Clip": {
      const lo = params[0] ?? -3.4028234663852886e38;
      const hi = params[1] ?? 3.4028234663852886e38;
      return b.op("Min", [b.op("Max", [x, f32(b, lo)]), f32(b, hi)]);
    }
    default:
      throw new ModelStructureError(`${describeNode(node)}: fused activation "${name}" is not supported`);
  }
}

/** FusedConv(X, W, B, Z): activation(Conv(X, W, B) + Z). */
const fusedConv: Decomposition = {
  opTypes: ["FusedConv"],
  domain: MS,
  decompose(ctx) {
    const inputs = [ctx.x(0), ctx.x(1)];
    if (ctx.x(2)) inputs.push(ctx.x(2));
    let y = opWithAttrs(ctx.b, "Conv", inputs, ctx.node, CONV_ATTRS);
    if (ctx.x(3)) y = ctx.b.op("Add", [y, ctx.x(3)]);
    const params = attrFloats(ctx.node, "activation_params") ?? [];
    return [activate(ctx, y, attrString(ctx.node, "activation"), params)];
  },
};

/** NhwcConv(X, W, B): Conv on channels-last X (weights stay [M, C/group, k…]). */
const nhwcConv: Decomposition = {
  opTypes: ["NhwcConv"],
  domain: MS,
  decompose(ctx) {
    const w = ctx.constant(1);
    const rank = w?.dims.length ?? ctx.shapes?.get(ctx.x(1))?.dims.length;
    if (rank === undefined)
      throw new ModelStructureError(`${describeNode(ctx.node)}: the weight's rank is unknown`);
    const { b } = ctx;
    const toFirst = [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, k) => k + 1)];
    const toLast = [0, ...Array.from({ length: rank - 2 }, (_, k) => k + 2), 1];
    const inputs = [b.op("Transpose", [ctx.x(0)], { perm: toFirst }), ctx.x(1)];
    if (ctx.x(2)) inputs.push(ctx.x(2));
    const y = opWithAttrs(b, "Conv", inputs, ctx.node, CONV_ATTRS);
    return [b.op("Transpose", [y], { perm: toLast })];
  },
};

/** FusedGemm: activation(Gemm(A, B, C)). */
const fusedGemm: Decomposition = {
  opTypes: ["FusedGemm"],
  domain: MS,
  decompose(ctx) {
    const inputs = [ctx.x(0), ctx.x(1)];
    if (ctx.x(2)) inputs.push(ctx.x(2));
    const y = ctx.b.op(
      "Gemm",
      inputs,
      {
        alpha: attrFloat(ctx.node, "alpha", 1),
        beta: attrFloat(ctx.node, "beta", 1),
        transA: attrInt(ctx.node, "transA", 0),
        transB: attrInt(ctx.node, "transB", 0),
      },
      { floats: ["alpha", "beta"] },
    );
    const alpha = attrFloat(ctx.node, "activation_alpha");
    const beta = attrFloat(ctx.node, "activation_beta");
    const params = [alpha, beta].filter((v): v is number => v !== undefined);
    return [activate(ctx, y, attrString(ctx.node, "activation"), params)];
  },
};

/** Rank of input i (probe, or the constant's dims). */
function rankOf(ctx: DecomposeContext, i: number): number {
  const r = ctx.constant(i)?.dims.length ?? ctx.shapes?.get(ctx.x(i))?.dims.length;
  if (r === undefined)
    throw new ModelStructureError(`${describeNode(ctx.node)}: rank of input ${i} is unknown`);
  return r;
}

/** A's layout for FusedMatMul: transBatch moves axis 0 behind the batch axes, trans swaps the last two. */
function matmulOperand(ctx: DecomposeContext, i: number, trans: boolean, transBatch: boolean): string {
  if (!trans && !transBatch) return ctx.x(i);
  const r = rankOf(ctx, i);
  let perm = Array.from({ length: r }, (_, k) => k);
  if (transBatch && r > 2) perm = [...perm.slice(1, r - 1), 0, r - 1];
  if (trans) perm = [...perm.slice(0, r - 2), perm[r - 1]!, perm[r - 2]!];
  return ctx.b.op("Transpose", [ctx.x(i)], { perm });
}

/** FusedMatMul / TransposeMatMul: alpha · op(A) @ op(B). */
const fusedMatMul: Decomposition = {
  opTypes: ["FusedMatMul", "TransposeMatMul"],
  domain: MS,
  needsShapes: true,
  decompose(ctx) {
    const { node, b } = ctx;
    const a = matmulOperand(ctx, 0, attrInt(node, "transA", 0) === 1, attrInt(node, "transBatchA", 0) === 1);
    const bm = matmulOperand(ctx, 1, attrInt(node, "transB", 0) === 1, attrInt(node, "transBatchB", 0) === 1);
    const y = b.op("MatMul", [a, bm]);
    const alpha = attrFloat(node, "alpha", 1);
    return [alpha === 1 ? y : b.op("Mul", [y, f32(b, alpha)])];
  },
};

/** Gelu(x) = x · Φ(x) with the exact erf (onnxruntime's Gelu / BiasGelu). */
function erfGelu(b: GraphBuilder, x: string): string {
  const phi = b.op("Add", [b.op("Erf", [b.op("Mul", [x, f32(b, Math.SQRT1_2)])]), f32(b, 1)]);
  return b.op("Mul", [b.op("Mul", [x, phi]), f32(b, 0.5)]);
}

/** tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
function tanhGelu(b: GraphBuilder, x: string): string {
  const cube = b.op("Mul", [b.op("Mul", [x, x]), x]);
  const inner = b.op("Add", [x, b.op("Mul", [cube, f32(b, 0.044715)])]);
  const t = b.op("Tanh", [b.op("Mul", [inner, f32(b, Math.sqrt(2 / Math.PI))])]);
  return b.op("Mul", [b.op("Mul", [x, b.op("Add", [t, f32(b, 1)])]), f32(b, 0.5)]);
}

/** Input 0 plus the optional bias input i. */
function withBias(ctx: DecomposeContext, i: number): string {
  return ctx.x(i) ? ctx.b.op("Add", [ctx.x(0), ctx.x(i)]) : ctx.x(0);
}

const fastGelu: Decomposition = {
  opTypes: ["FastGelu"],
  domain: MS,
  decompose: (ctx) => [tanhGelu(ctx.b, withBias(ctx, 1))],
};

const biasGelu: Decomposition = {
  opTypes: ["BiasGelu"],
  domain: MS,
  decompose: (ctx) => [erfGelu(ctx.b, withBias(ctx, 1))],
};

/** QuickGelu: x · sigmoid(alpha · x), alpha default 1.702. */
const quickGelu: Decomposition = {
  opTypes: ["QuickGelu"],
  domain: MS,
  decompose(ctx) {
    const { b } = ctx;
    const alpha = attrFloat(ctx.node, "alpha", 1.702);
    const s = b.op("Sigmoid", [alpha === 1 ? ctx.x(0) : b.op("Mul", [ctx.x(0), f32(b, alpha)])]);
    return [b.op("Mul", [ctx.x(0), s])];
  },
};

/** BiasAdd(X, bias, skip) = X + bias + skip. */
const biasAdd: Decomposition = {
  opTypes: ["BiasAdd"],
  domain: MS,
  decompose: (ctx) => [ctx.b.op("Add", [ctx.b.op("Add", [ctx.x(0), ctx.x(1)]), ctx.x(2)])],
};

/** Softmax over the axes from `axis` to the last (numpy broadcasting of the bias). */
function softmaxFrom(b: GraphBuilder, x: string, axis: number): string {
  if (axis === -1) return b.op("Softmax", [x], { axis: -1 });
  const flat = b.op("Flatten", [x], { axis });
  return b.op("Reshape", [b.op("Softmax", [flat], { axis: -1 }), b.shape(x)]);
}

/** BiasSoftmax(data, bias): softmax(data + bias) over the axes from `axis` on. */
const biasSoftmax: Decomposition = {
  opTypes: ["BiasSoftmax"],
  domain: MS,
  decompose(ctx) {
    const s = ctx.b.op("Add", [ctx.x(0), ctx.x(1)]);
    return [softmaxFrom(ctx.b, s, attrInt(ctx.node, "axis", 1))];
  },
};

/**
 * Normalization over the last axis: (x − mean)/√(var + ε) (or x/√(mean x² + ε) when `simplified`),
 * times gamma, plus beta. Returns y, mean and 1/σ (both keepdims).
 */
function normalizeLast(
  ctx: DecomposeContext,
  x: string,
  axes: number[],
  simplified: boolean,
  eps: number,
): { y: string; mean: string | undefined; invStd: string } {
  const { b } = ctx;
  const mean = simplified ? undefined : b.reduce("ReduceMean", x, axes, true);
  const centered = mean ? b.op("Sub", [x, mean]) : x;
  const variance = b.reduce("ReduceMean", b.op("Mul", [centered, centered]), axes, true);
  const invStd = b.op("Reciprocal", [b.op("Sqrt", [b.op("Add", [variance, f32(b, eps)])])]);
  return { y: b.op("Mul", [centered, invStd]), mean, invStd };
}

/** Axes from `axis` to the last for a rank-r tensor. */
function axesFrom(axis: number, r: number): number[] {
  const a = axis < 0 ? axis + r : axis;
  return Array.from({ length: r - a }, (_, k) => a + k);
}

/**
 * SkipLayerNormalization(input, skip, gamma, beta, bias) and SkipSimplifiedLayerNormalization(input,
 * skip, gamma, bias): s = input + skip (+ bias), normalized over the last axis; outputs y, mean,
 * inv_std_var, s. ε defaults to 1e-12 (onnxruntime's kDefaultSkipLayerNormEpsilon).
 */
function skipNorm(simplified: boolean): Decomposition {
  return {
    opTypes: [simplified ? "SkipSimplifiedLayerNormalization" : "SkipLayerNormalization"],
    domain: MS,
    decompose(ctx) {
      const { b } = ctx;
      const biasIndex = simplified ? 3 : 4;
      let s = b.op("Add", [ctx.x(0), ctx.x(1)]);
      if (ctx.x(biasIndex)) s = b.op("Add", [s, ctx.x(biasIndex)]);
      const eps = attrFloat(ctx.node, "epsilon", 1e-12);
      const n = normalizeLast(ctx, s, [-1], simplified, eps);
      let y = b.op("Mul", [n.y, ctx.x(2)]);
      if (!simplified && ctx.x(3)) y = b.op("Add", [y, ctx.x(3)]);
      return [y, n.mean, n.invStd, s];
    },
  };
}

/**
 * LayerNormalization / SimplifiedLayerNormalization as onnxruntime registers them (also below
 * opset 17 and in com.microsoft): normalize over the axes from `axis` (default −1), ε default
 * 1e-5; outputs Y, mean, inv_std_var (Simplified: Y, inv_std_var).
 */
function layerNorm(simplified: boolean, domain: string): Decomposition {
  return {
    opTypes: [simplified ? "SimplifiedLayerNormalization" : "LayerNormalization"],
    domain,
    needsShapes: true,
    decompose(ctx) {
      const { b, node } = ctx;
      const axis = attrInt(node, "axis", -1);
      const r = rankOf(ctx, 0);
      const eps = attrFloat(node, "epsilon", 1e-5);
      const n = normalizeLast(ctx, ctx.x(0), axesFrom(axis, r), simplified, eps);
      let y = b.op("Mul", [n.y, ctx.x(1)]);
      if (!simplified && ctx.x(2)) y = b.op("Add", [y, ctx.x(2)]);
      return simplified ? [y, n.invStd] : [y, n.mean, n.invStd];
    },
  };
}

/** Refuses a node whose attributes a decomposition does not cover, naming them. */
export function refuseAttrs(node: NodeProto, checks: Record<string, boolean>): void {
  const bad = Object.entries(checks)
    .filter(([, v]) => v)
    .map(([k]) => k);
  if (bad.length)
    throw new ModelStructureError(
      `${describeNode(node)}: ${bad.join(", ")} ${bad.length > 1 ? "are" : "is"} not supported`,
    );
}

/** The fused and activation contrib ops. */
export const contribDecompositions: Decomposition[] = [
  fusedConv,
  nhwcConv,
  fusedGemm,
  fusedMatMul,
  fastGelu,
  biasGelu,
  quickGelu,
  biasAdd,
  biasSoftmax,
  skipNorm(false),
  skipNorm(true),
  layerNorm(false, MS),
  layerNorm(true, MS),
  layerNorm(true, ""),
  // below opset 17 LayerNormalization is onnxruntime's own op; from 17 the standard rule applies
  { ...layerNorm(false, ""), applies: (_node, _constant, where) => where.opset < 17 },
];
