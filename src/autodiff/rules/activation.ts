/**
 * Gradient rules: elementwise activations. Each rule is a closed form in ops that have rules
 * themselves (Where/Mul/Add/Exp/Sigmoid/…), so a second pass gives Hessian-vector products.
 * Masks are boolean (Greater/Less/And), which carry no gradient.
 */
import { attrFloat, attrString } from "../../onnx/model.js";
import type { GradientRule, RuleContext } from "../registry.js";

/** Default alpha and gamma of Selu: the ONNX spec's defaults are these constants in float32. */
const SELU_ALPHA = Math.fround(1.6732632423543772);
const SELU_GAMMA = Math.fround(1.0507009873554805);

/** Where(x > 0, a, b). */
function wherePositive(ctx: RuleContext, x: string, a: string, b: string): string {
  const { b: gb } = ctx;
  return gb.op("Where", [gb.op("Greater", [x, gb.scalarLike(0, x)]), a, b]);
}

/** g · c for a float constant c (skipped when c = 1). */
function scale(ctx: RuleContext, g: string, c: number): string {
  return c === 1 ? g : ctx.b.op("Mul", [g, ctx.b.scalarLike(c, ctx.y(0))]);
}

/**
 * Relu: g · [Y > 0]. Masking on Y (not X) keeps onnxruntime's Conv+Relu fusion in the forward
 * part; the mask is cast to float and multiplied rather than selected with Where, which on
 * onnxruntime CPU is ≈ 1.6× faster for the large activations of a CNN (Where's kernel is scalar).
 */
const relu: GradientRule = {
  opTypes: ["Relu"],
  backward(ctx) {
    const { b } = ctx;
    const y = ctx.y(0);
    const mask = b.castLike(b.op("Greater", [y, b.scalarLike(0, y)]), y);
    return [b.op("Mul", [ctx.dy(0)!, mask])];
  },
};

const leakyRelu: GradientRule = {
  opTypes: ["LeakyRelu"],
  backward(ctx) {
    const g = ctx.dy(0)!;
    const alpha = attrFloat(ctx.node, "alpha", 0.01);
    return [wherePositive(ctx, ctx.x(0), g, scale(ctx, g, alpha))];
  },
};

/** PRelu: slope broadcasts (unidirectionally) to X; its gradient is summed back to its shape. */
const prelu: GradientRule = {
  opTypes: ["PRelu"],
  backward(ctx) {
    const { b } = ctx;
    const g = ctx.dy(0)!;
    const x = ctx.x(0);
    const slope = ctx.x(1);
    const zero = b.scalarLike(0, x);
    const dx = ctx.needs(0) ? wherePositive(ctx, x, g, b.op("Mul", [g, slope])) : undefined;
    const dSlope = ctx.needs(1)
      ? b.unbroadcast(wherePositive(ctx, x, zero, b.op("Mul", [g, x])), slope, ctx.y(0))
      : undefined;
    return [dx, dSlope];
  },
};

/** Elu: for x ≤ 0, dy/dx = alpha·exp(x) = y + alpha. */
const elu: GradientRule = {
  opTypes: ["Elu"],
  backward(ctx) {
    const { b } = ctx;
    const g = ctx.dy(0)!;
    const y = ctx.y(0);
    const alpha = attrFloat(ctx.node, "alpha", 1);
    const neg = b.op("Mul", [g, b.op("Add", [y, b.scalarLike(alpha, y)])]);
    return [wherePositive(ctx, ctx.x(0), g, neg)];
  },
};

/** Selu: gamma for x > 0, else y + gamma·alpha. */
const selu: GradientRule = {
  opTypes: ["Selu"],
  backward(ctx) {
    const { b } = ctx;
    const g = ctx.dy(0)!;
    const y = ctx.y(0);
    const alpha = attrFloat(ctx.node, "alpha", SELU_ALPHA);
    const gamma = attrFloat(ctx.node, "gamma", SELU_GAMMA);
    const neg = b.op("Mul", [g, b.op("Add", [y, b.scalarLike(alpha * gamma, y)])]);
    return [wherePositive(ctx, ctx.x(0), scale(ctx, g, gamma), neg)];
  },
};

/** ThresholdedRelu y = x where x > alpha, else 0. */
const thresholdedRelu: GradientRule = {
  opTypes: ["ThresholdedRelu"],
  backward(ctx) {
    const { b } = ctx;
    const x = ctx.x(0);
    const over = b.op("Greater", [x, b.scalarLike(attrFloat(ctx.node, "alpha", 1), x)]);
    return [b.op("Where", [over, ctx.dy(0)!, b.scalarLike(0, x)])];
  },
};

/** Celu y = max(0, x) + min(0, α(exp(x/α) − 1)): for x ≤ 0, dy/dx = exp(x/α) = y/α + 1. */
const celu: GradientRule = {
  opTypes: ["Celu"],
  backward(ctx) {
    const { b } = ctx;
    const g = ctx.dy(0)!;
    const y = ctx.y(0);
    const alpha = attrFloat(ctx.node, "alpha", 1);
    const neg = b.op("Mul", [
      g,
      b.op("Add", [b.op("Mul", [y, b.scalarLike(1 / alpha, y)]), b.scalarLike(1, y)]),
    ]);
    return [wherePositive(ctx, ctx.x(0), g, neg)];
  },
};

/** Mish y = x·tanh(softplus(x)): dy/dx = t + x·(1 − t²)·sigmoid(x), t = tanh(softplus(x)). */
const mish: GradientRule = {
  opTypes: ["Mish"],
  backward(ctx) {
    const { b } = ctx;
    const x = ctx.x(0);
    const t = b.op("Tanh", [b.op("Softplus", [x])]);
    const sech2 = b.op("Sub", [b.scalarLike(1, x), b.op("Mul", [t, t])]);
    const d = b.op("Add", [t, b.op("Mul", [b.op("Mul", [x, sech2]), b.op("Sigmoid", [x])])]);
    return [b.op("Mul", [ctx.dy(0)!, d])];
  },
};

/** Sigmoid: g·y·(1 − y). */
const sigmoid: GradientRule = {
  opTypes: ["Sigmoid"],
  backward(ctx) {
    const { b } = ctx;
    const y = ctx.y(0);
    const oneMinus = b.op("Sub", [b.scalarLike(1, y), y]);
    return [b.op("Mul", [ctx.dy(0)!, b.op("Mul", [y, oneMinus])])];
  },
};

/** Tanh: g·(1 − y²). */
const tanh: GradientRule = {
  opTypes: ["Tanh"],
  backward(ctx) {
    const { b } = ctx;
    const y = ctx.y(0);
    return [b.op("Mul", [ctx.dy(0)!, b.op("Sub", [b.scalarLike(1, y), b.op("Mul", [y, y])])])];
  },
};

/** Softplus: g·sigmoid(x). */
const softplus: GradientRule = {
  opTypes: ["Softplus"],
  backward: (ctx) => [ctx.b.op("Mul", [ctx.dy(0)!, ctx.b.op("Sigmoid", [ctx.x(0)])])],
};

/** Softsign y = x/(1 + |x|): dy/dx = 1/(1 + |x|)². */
const softsign: GradientRule = {
  opTypes: ["Softsign"],
  backward(ctx) {
    const { b } = ctx;
    const x = ctx.x(0);
    const d = b.op("Add", [b.op("Abs", [x]), b.scalarLike(1, x)]);
    return [b.op("Div", [ctx.dy(0)!, b.op("Mul", [d, d])])];
  },
};

/** exp(−x²) (the Gaussian kernel shared by Erf and Gelu). */
function gaussian(ctx: RuleContext, x: string, scaleOfSquare: number): string {
  const { b } = ctx;
  const sq = b.op("Mul", [x, x]);
  return b.op("Exp", [b.op("Mul", [sq, b.scalarLike(-scaleOfSquare, x)])]);
}

/** Erf: g·2/√π·exp(−x²). */
const erf: GradientRule = {
  opTypes: ["Erf"],
  backward(ctx) {
    const x = ctx.x(0);
    return [ctx.b.op("Mul", [ctx.dy(0)!, scale(ctx, gaussian(ctx, x, 1), 2 / Math.sqrt(Math.PI))])];
  },
};

/**
 * Gelu (opset 20). approximate = "none": y = x·Φ(x), dy/dx = Φ(x) + x·φ(x), Φ(x) = ½(1 + erf(x/√2)).
 * approximate = "tanh": y = ½x(1 + t), t = tanh(u), u = √(2/π)(x + 0.044715x³),
 * dy/dx = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²).
 */
const gelu: GradientRule = {
  opTypes: ["Gelu"],
  backward(ctx) {
    const { b } = ctx;
    const x = ctx.x(0);
    const g = ctx.dy(0)!;
    const c = (v: number) => b.scalarLike(v, x);
    const half = c(0.5);
    if (attrString(ctx.node, "approximate", "none") === "tanh") {
      const k = Math.sqrt(2 / Math.PI);
      const x2 = b.op("Mul", [x, x]);
      const u = b.op("Mul", [b.op("Add", [x, b.op("Mul", [b.op("Mul", [x2, x]), c(0.044715)])]), c(k)]);
      const t = b.op("Tanh", [u]);
      const du = b.op("Add", [b.op("Mul", [x2, c(3 * 0.044715 * k)]), c(k)]);
      const left = b.op("Mul", [b.op("Add", [t, c(1)]), half]);
      const right = b.op("Mul", [
        b.op("Mul", [b.op("Mul", [x, half]), b.op("Sub", [c(1), b.op("Mul", [t, t])])]),
        du,
      ]);
      return [b.op("Mul", [g, b.op("Add", [left, right])])];
    }
    const cdf = b.op("Mul", [b.op("Add", [b.op("Erf", [b.op("Mul", [x, c(Math.SQRT1_2)])]), c(1)]), half]);
    const pdf = b.op("Mul", [gaussian(ctx, x, 0.5), c(1 / Math.sqrt(2 * Math.PI))]);
    return [b.op("Mul", [g, b.op("Add", [cdf, b.op("Mul", [x, pdf])])])];
  },
};

/** HardSigmoid y = max(0, min(1, αx + β)): gradient α where 0 < αx + β < 1 (read off y). */
const hardSigmoid: GradientRule = {
  opTypes: ["HardSigmoid"],
  backward(ctx) {
    const { b } = ctx;
    const y = ctx.y(0);
    const alpha = attrFloat(ctx.node, "alpha", 0.2);
    const inside = b.op("And", [
      b.op("Greater", [y, b.scalarLike(0, y)]),
      b.op("Less", [y, b.scalarLike(1, y)]),
    ]);
    return [b.op("Where", [inside, scale(ctx, ctx.dy(0)!, alpha), b.scalarLike(0, y)])];
  },
};

/**
 * HardSwish y = x·h(x), h = HardSigmoid(x; 1/6, ½): dy/dx = h + x/6 where 0 < h < 1.
 * Emitting HardSigmoid (opset 6) rather than HardSwish-specific ops keeps it valid and closed.
 */
const hardSwish: GradientRule = {
  opTypes: ["HardSwish"],
  backward(ctx) {
    const { b } = ctx;
    const x = ctx.x(0);
    const h = b.op("HardSigmoid", [x], { alpha: 1 / 6, beta: 0.5 }, { floats: ["alpha", "beta"] });
    const inside = b.op("And", [
      b.op("Greater", [h, b.scalarLike(0, x)]),
      b.op("Less", [h, b.scalarLike(1, x)]),
    ]);
    const slope = b.op("Where", [inside, b.op("Mul", [x, b.scalarLike(1 / 6, x)]), b.scalarLike(0, x)]);
    return [b.op("Mul", [ctx.dy(0)!, b.op("Add", [h, slope])])];
  },
};

/** Rules of the activation family. */
export const activationRules: GradientRule[] = [
  relu,
  leakyRelu,
  prelu,
  elu,
  selu,
  thresholdedRelu,
  celu,
  mish,
  sigmoid,
  tanh,
  softplus,
  softsign,
  erf,
  gelu,
  hardSigmoid,
  hardSwish,
  // onnxruntime's fused com.microsoft.Gelu (exact erf form) appears in optimised exports
  { opTypes: ["Gelu"], domain: "com.microsoft", backward: gelu.backward },
];
