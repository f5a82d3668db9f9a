/**
 * Gradient rules: trigonometric and hyperbolic functions, Mean, and CumSum. Each derivative is
 * written with ops that have rules themselves (closure for Hessian-vector products).
 */
import { attrInt } from "../../onnx/model.js";
import type { GradientRule, RuleContext } from "../registry.js";

/** g ⊙ f'(x), with f' built from x (and y) by `derivative`. */
function unary(opType: string, derivative: (ctx: RuleContext, x: string, y: string) => string): GradientRule {
  return {
    opTypes: [opType],
    backward: (ctx) => [ctx.b.op("Mul", [ctx.dy(0)!, derivative(ctx, ctx.x(0), ctx.y(0))])],
  };
}

/** 1 / sqrt(c + s·x²) for the inverse functions. */
function invSqrt(ctx: RuleContext, x: string, c: number, s: number): string {
  const { b } = ctx;
  const x2 = b.op("Mul", [x, x]);
  const inner = b.op("Add", [b.scalarLike(c, x), b.op("Mul", [x2, b.scalarLike(s, x)])]);
  return b.op("Reciprocal", [b.op("Sqrt", [inner])]);
}

const trig: GradientRule[] = [
  unary("Sin", (ctx, x) => ctx.b.op("Cos", [x])),
  unary("Cos", (ctx, x) => ctx.b.op("Neg", [ctx.b.op("Sin", [x])])),
  // tan' = 1 + tan²
  unary("Tan", (ctx, _x, y) => ctx.b.op("Add", [ctx.b.scalarLike(1, y), ctx.b.op("Mul", [y, y])])),
  unary("Asin", (ctx, x) => invSqrt(ctx, x, 1, -1)),
  unary("Acos", (ctx, x) => ctx.b.op("Neg", [invSqrt(ctx, x, 1, -1)])),
  unary("Atan", (ctx, x) =>
    ctx.b.op("Reciprocal", [ctx.b.op("Add", [ctx.b.scalarLike(1, x), ctx.b.op("Mul", [x, x])])]),
  ),
  unary("Sinh", (ctx, x) => ctx.b.op("Cosh", [x])),
  unary("Cosh", (ctx, x) => ctx.b.op("Sinh", [x])),
  unary("Asinh", (ctx, x) => invSqrt(ctx, x, 1, 1)),
  unary("Acosh", (ctx, x) => invSqrt(ctx, x, -1, 1)),
  unary("Atanh", (ctx, x) =>
    ctx.b.op("Reciprocal", [ctx.b.op("Sub", [ctx.b.scalarLike(1, x), ctx.b.op("Mul", [x, x])])]),
  ),
];

/** Mean of n inputs (broadcasting): each gets g/n, summed back to its shape. */
const mean: GradientRule = {
  opTypes: ["Mean"],
  backward(ctx) {
    const { b, node } = ctx;
    const scaled = b.op("Mul", [ctx.dy(0)!, b.scalarLike(1 / node.input.length, ctx.y(0))]);
    return node.input.map((_, i) => (ctx.needs(i) ? b.unbroadcast(scaled, ctx.x(i), ctx.y(0)) : undefined));
  },
};

/** CumSum: the gradient is the cumulative sum of g in the other direction (same exclusivity). */
const cumSum: GradientRule = {
  opTypes: ["CumSum"],
  backward(ctx) {
    const reverse = attrInt(ctx.node, "reverse", 0);
    const exclusive = attrInt(ctx.node, "exclusive", 0);
    return [ctx.b.op("CumSum", [ctx.dy(0)!, ctx.x(1)], { reverse: 1 - reverse, exclusive }), undefined];
  },
};

/** Trigonometric/hyperbolic, Mean and CumSum rules. */
export const trigRules: GradientRule[] = [...trig, mean, cumSum];
