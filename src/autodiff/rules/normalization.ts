/**
 * Gradient rules: Softmax, LogSoftmax, LayerNormalization, BatchNormalization (inference),
 * InstanceNormalization. Statistics are recomputed from X in the gradient graph (the forward
 * ops do not expose them in inference builds), with ReduceMean so runtime shapes stay dynamic.
 */
import { attrFloat, attrInt, ModelStructureError } from "../../onnx/model.js";
import type { GraphBuilder } from "../builder.js";
import type { GradientRule, RuleContext } from "../registry.js";

/** Axes [from, rank). */
function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/** A possibly negative axis made non-negative for a tensor of rank `rank`. */
function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= Math.max(rank, 1))
    throw new ModelStructureError(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/**
 * The axes Softmax/LogSoftmax normalise over: before opset 13 the input is coerced to 2-D at
 * `axis` (default 1), so every axis from `axis` on is one softmax row; from 13 only `axis`
 * (default −1). Summing over all those axes with keepdims is the same as flattening.
 */
function softmaxAxes(ctx: RuleContext): number[] {
  const rank = ctx.b.rank(ctx.x(0));
  if (ctx.opset >= 13) return [normAxis(attrInt(ctx.node, "axis", -1), rank)];
  return range(normAxis(attrInt(ctx.node, "axis", 1), rank), rank);
}

/** Softmax: y ⊙ (g − Σ(g ⊙ y)). */
const softmax: GradientRule = {
  opTypes: ["Softmax"],
  backward(ctx) {
    const { b } = ctx;
    const y = ctx.y(0);
    const g = ctx.dy(0)!;
    const dot = b.reduceSum(b.op("Mul", [g, y]), softmaxAxes(ctx), true);
    return [b.op("Mul", [y, b.op("Sub", [g, dot])])];
  },
};

/** LogSoftmax: g − softmax ⊙ Σg, with softmax = exp(y). */
const logSoftmax: GradientRule = {
  opTypes: ["LogSoftmax"],
  backward(ctx) {
    const { b } = ctx;
    const g = ctx.dy(0)!;
    const total = b.reduceSum(g, softmaxAxes(ctx), true);
    return [b.op("Sub", [g, b.op("Mul", [b.op("Exp", [ctx.y(0)]), total])])];
  },
};

/** Hardmax is piecewise constant: its gradient is zero almost everywhere. */
const hardmax: GradientRule = {
  opTypes: ["Hardmax"],
  backward: () => [undefined],
};

/** Mean, centred x, 1/σ and x̂ over `axes` (keepdims), recomputed from x. */
interface Moments {
  xc: string;
  rstd: string;
  xhat: string;
}

function moments(b: GraphBuilder, x: string, axes: number[], eps: number): Moments {
  const mean = b.reduce("ReduceMean", x, axes, true);
  const xc = b.op("Sub", [x, mean]);
  const variance = b.reduce("ReduceMean", b.op("Mul", [xc, xc]), axes, true);
  const rstd = b.op("Reciprocal", [b.op("Sqrt", [b.op("Add", [variance, b.scalarLike(eps, x)])])]);
  return { xc, rstd, xhat: b.op("Mul", [xc, rstd]) };
}

/** d/dx of normalisation over `axes` given ĝ = g ⊙ scale: (1/σ)(ĝ − mean ĝ − x̂·mean(ĝ ⊙ x̂)). */
function normalizedInputGrad(b: GraphBuilder, gHat: string, m: Moments, axes: number[]): string {
  const meanG = b.reduce("ReduceMean", gHat, axes, true);
  const meanGx = b.reduce("ReduceMean", b.op("Mul", [gHat, m.xhat]), axes, true);
  const inner = b.op("Sub", [b.op("Sub", [gHat, meanG]), b.op("Mul", [m.xhat, meanGx])]);
  return b.op("Mul", [inner, m.rstd]);
}

/**
 * LayerNormalization (opset 17): axes [axis, rank). Gradients of the optional Mean and
 * InvStdDev outputs are added when something downstream uses them:
 * ∂mean/∂x = 1/N, ∂(1/σ)/∂x = −(1/σ)³·(x − mean)/N.
 */
const layerNorm: GradientRule = {
  opTypes: ["LayerNormalization"],
  backward(ctx) {
    const { b, node } = ctx;
    const x = ctx.x(0);
    const y = ctx.y(0);
    const rank = b.rank(x);
    const axes = range(normAxis(attrInt(node, "axis", -1), rank), rank);
    const m = moments(b, x, axes, attrFloat(node, "epsilon", 1e-5));
    const g = ctx.dy(0);
    let dx: string | undefined;
    if (ctx.needs(0)) {
      const parts: string[] = [];
      if (g) parts.push(normalizedInputGrad(b, b.op("Mul", [g, ctx.x(1)]), m, axes));
      // Mean and InvStdDev have the stash type (float32 even for float64 X): bring them to X's type
      const asX = (gi: string | undefined, i: number) =>
        gi && b.dtype(ctx.y(i)) !== b.dtype(x) ? b.castLike(gi, x) : gi;
      const gMean = asX(ctx.dy(1), 1);
      const gRstd = asX(ctx.dy(2), 2);
      if (gMean || gRstd) {
        // N at run time: the product of the normalised dims (Shape's start attribute exists from opset 15)
        const dimsF = b.castLike(b.op("Shape", [x], { start: axes[0]! }), x);
        const invN = b.op("Reciprocal", [b.reduce("ReduceProd", dimsF, [0], false)]);
        // broadcast to X's shape: gMean has size 1 on the normalised axes
        if (gMean) parts.push(b.op("Add", [b.zerosLike(x), b.op("Mul", [gMean, invN])]));
        if (gRstd) {
          const r3 = b.op("Mul", [m.rstd, b.op("Mul", [m.rstd, m.rstd])]);
          parts.push(b.op("Neg", [b.op("Mul", [b.op("Mul", [gRstd, invN]), b.op("Mul", [r3, m.xc])])]));
        }
      }
      dx = parts.length === 1 ? parts[0] : parts.length > 1 ? b.sum(parts) : undefined;
    }
    const dScale = g && ctx.needs(1) ? b.unbroadcast(b.op("Mul", [g, m.xhat]), ctx.x(1), y) : undefined;
    const dBias = g && ctx.x(2) && ctx.needs(2) ? b.unbroadcast(g, ctx.x(2), y) : undefined;
    return [dx, dScale, dBias];
  },
};

/** A per-channel vector [C] shaped to broadcast on axis 1 of a rank-`rank` tensor: [C, 1, …]. */
function perChannel(b: GraphBuilder, v: string, rank: number): string {
  return b.unsqueeze(v, range(1, rank - 1));
}

/** Every axis but the channel axis 1. */
function nonChannelAxes(rank: number): number[] {
  return range(0, rank).filter((a) => a !== 1);
}

/**
 * BatchNormalization in inference mode: y = scale·(x − mean)/√(var + ε) + B per channel (axis 1).
 * Training mode (batch statistics) is refused rather than differentiated wrongly.
 */
const batchNorm: GradientRule = {
  opTypes: ["BatchNormalization"],
  backward(ctx) {
    const { b, node } = ctx;
    const training = attrInt(node, "training_mode", 0) === 1 || node.output.slice(1).some((o) => o);
    if (training)
      throw new ModelStructureError(
        "BatchNormalization in training mode is not supported (export the model in eval mode)",
      );
    const g = ctx.dy(0)!;
    const [x, scale, mean, variance] = [0, 1, 3, 4].map((i) => ctx.x(i)) as [string, string, string, string];
    const rank = b.rank(x);
    const xType = b.dtype(x);
    const toX = (t: string) => (b.dtype(variance) === xType ? t : b.castLike(t, x));
    const eps = attrFloat(node, "epsilon", 1e-5);
    const rstd = b.op("Reciprocal", [b.op("Sqrt", [b.op("Add", [variance, b.scalarLike(eps, variance)])])]);
    const factor = b.op("Mul", [scale, rstd]); // [C]
    const dx = ctx.needs(0) ? b.op("Mul", [g, perChannel(b, toX(factor), rank)]) : undefined;
    const others = [1, 2, 3, 4].some((i) => ctx.needs(i));
    if (!others) return [dx];
    // Gradients to the per-channel parameters (rarely wanted; computed in X's type, then cast back).
    const back = (t: string) => (b.dtype(variance) === xType ? t : b.castLike(t, variance));
    const sumG = b.reduceSum(g, nonChannelAxes(rank), false);
    const xc = b.op("Sub", [x, perChannel(b, toX(mean), rank)]);
    const sumGxc = b.reduceSum(b.op("Mul", [g, xc]), nonChannelAxes(rank), false);
    const rstdX = toX(rstd);
    const scaleX = toX(scale);
    const dScale = ctx.needs(1) ? back(b.op("Mul", [sumGxc, rstdX])) : undefined;
    const dBias = ctx.needs(2) ? back(sumG) : undefined;
    const dMean = ctx.needs(3) ? back(b.op("Neg", [b.op("Mul", [sumG, toX(factor)])])) : undefined;
    // ∂y/∂var = −½·scale·(x − mean)·rstd³
    const r3 = b.op("Mul", [rstdX, b.op("Mul", [rstdX, rstdX])]);
    const dVar = ctx.needs(4)
      ? back(b.op("Mul", [b.op("Mul", [sumGxc, scaleX]), b.op("Mul", [r3, b.scalarLike(-0.5, x)])]))
      : undefined;
    return [dx, dScale, dBias, dMean, dVar];
  },
};

/** InstanceNormalization: LayerNorm-like over the spatial axes [2, rank), scale and B per channel. */
const instanceNorm: GradientRule = {
  opTypes: ["InstanceNormalization"],
  backward(ctx) {
    const { b, node } = ctx;
    const g = ctx.dy(0)!;
    const x = ctx.x(0);
    const rank = b.rank(x);
    const axes = range(2, rank);
    const m = moments(b, x, axes, attrFloat(node, "epsilon", 1e-5));
    const dx = ctx.needs(0)
      ? normalizedInputGrad(b, b.op("Mul", [g, perChannel(b, ctx.x(1), rank)]), m, axes)
      : undefined;
    const dScale = ctx.needs(1)
      ? b.reduceSum(b.op("Mul", [g, m.xhat]), nonChannelAxes(rank), false)
      : undefined;
    const dBias = ctx.needs(2) ? b.reduceSum(g, nonChannelAxes(rank), false) : undefined;
    return [dx, dScale, dBias];
  },
};

/** Rules of the normalization family. */
export const normalizationRules: GradientRule[] = [
  softmax,
  logSoftmax,
  hardmax,
  layerNorm,
  batchNorm,
  instanceNorm,
];
