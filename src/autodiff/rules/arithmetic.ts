/**
 * Elementwise arithmetic (broadcasting undone per operand) and pass-through ops.
 */
import type { GradientRule, RuleContext } from "../registry.js";

/** g reduced to the shape of input i of the node. */
function toInput(ctx: RuleContext, g: string, i: number): string {
  return ctx.b.unbroadcast(g, ctx.x(i), ctx.y(0));
}

/** x ≠ y as Or(Less, Greater): float Equal only exists from opset 11. */
function notEqual(ctx: RuleContext, x: string, y: string): string {
  const { b } = ctx;
  return b.op("Or", [b.op("Less", [x, y]), b.op("Greater", [x, y])]);
}

const add: GradientRule = {
  opTypes: ["Add", "Sum"],
  backward(ctx) {
    const g = ctx.dy(0)!;
    return ctx.node.input.map((_, i) => (ctx.needs(i) ? toInput(ctx, g, i) : undefined));
  },
};

const sub: GradientRule = {
  opTypes: ["Sub"],
  backward(ctx) {
    const g = ctx.dy(0)!;
    return [
      ctx.needs(0) ? toInput(ctx, g, 0) : undefined,
      ctx.needs(1) ? toInput(ctx, ctx.b.op("Neg", [g]), 1) : undefined,
    ];
  },
};

const mul: GradientRule = {
  opTypes: ["Mul"],
  backward(ctx) {
    const { b } = ctx;
    const g = ctx.dy(0)!;
    return [
      ctx.needs(0) ? toInput(ctx, b.op("Mul", [g, ctx.x(1)]), 0) : undefined,
      ctx.needs(1) ? toInput(ctx, b.op("Mul", [g, ctx.x(0)]), 1) : undefined,
    ];
  },
};

const div: GradientRule = {
  opTypes: ["Div"],
  backward(ctx) {
    const { b } = ctx;
    const g = ctx.dy(0)!;
    const da = ctx.needs(0) ? toInput(ctx, b.op("Div", [g, ctx.x(1)]), 0) : undefined;
    // d(a/b)/db = −y/b
    const db = ctx.needs(1)
      ? toInput(ctx, b.op("Neg", [b.op("Div", [b.op("Mul", [g, ctx.y(0)]), ctx.x(1)])]), 1)
      : undefined;
    return [da, db];
  },
};

const neg: GradientRule = {
  opTypes: ["Neg"],
  backward: (ctx) => [ctx.b.op("Neg", [ctx.dy(0)!])],
};

const abs: GradientRule = {
  opTypes: ["Abs"],
  backward: (ctx) => [ctx.b.op("Mul", [ctx.dy(0)!, ctx.b.op("Sign", [ctx.x(0)])])],
};

const sqrt: GradientRule = {
  opTypes: ["Sqrt"],
  backward(ctx) {
    const { b } = ctx;
    const y = ctx.y(0);
    return [b.op("Div", [ctx.dy(0)!, b.op("Mul", [y, b.scalarLike(2, y)])])];
  },
};

const exp: GradientRule = {
  opTypes: ["Exp"],
  backward: (ctx) => [ctx.b.op("Mul", [ctx.dy(0)!, ctx.y(0)])],
};

const log: GradientRule = {
  opTypes: ["Log"],
  backward: (ctx) => [ctx.b.op("Div", [ctx.dy(0)!, ctx.x(0)])],
};

const reciprocal: GradientRule = {
  opTypes: ["Reciprocal"],
  backward(ctx) {
    const { b } = ctx;
    const y = ctx.y(0);
    return [b.op("Neg", [b.op("Mul", [ctx.dy(0)!, b.op("Mul", [y, y])])])];
  },
};

const pow: GradientRule = {
  opTypes: ["Pow"],
  backward(ctx) {
    const { b } = ctx;
    const g = ctx.dy(0)!;
    const x = ctx.x(0);
    let p = ctx.x(1);
    let dx: string | undefined;
    const c = ctx.constant(1);
    const constantExponent = c && c.data.length === 1 ? Number(c.data[0]) : undefined;
    if (ctx.needs(0) && (constantExponent === 2 || constantExponent === 1)) {
      // x² (LayerNorm's variance in exports before opset 17): 2x, without a slow Pow.
      const d = constantExponent === 2 ? b.op("Mul", [x, b.scalarLike(2, x)]) : undefined;
      dx = toInput(ctx, d ? b.op("Mul", [g, d]) : g, 0);
    } else if (ctx.needs(0)) {
      // the exponent may be another float type or an integer: compute in x's type
      if (b.dtype(p) !== b.dtype(x)) p = b.castLike(p, x);
      const pm1 = b.op("Sub", [p, b.scalarLike(1, x)]);
      dx = toInput(ctx, b.op("Mul", [g, b.op("Mul", [p, b.op("Pow", [x, pm1])])]), 0);
    }
    // d(x^p)/dp = y · ln x
    const dp = ctx.needs(1)
      ? toInput(ctx, b.op("Mul", [g, b.op("Mul", [ctx.y(0), b.op("Log", [x])])]), 1)
      : undefined;
    return [dx, dp];
  },
};

/** Max/Min: the gradient goes to the operand(s) equal to the result. */
const maxMin: GradientRule = {
  opTypes: ["Max", "Min"],
  backward(ctx) {
    const { b } = ctx;
    const g = ctx.dy(0)!;
    const y = ctx.y(0);
    const zero = b.scalarLike(0, y);
    return ctx.node.input.map((x, i) => {
      if (!ctx.needs(i)) return undefined;
      if (ctx.node.input.length === 1) return g;
      return toInput(ctx, b.op("Where", [notEqual(ctx, x, y), zero, g]), i);
    });
  },
};

/**
 * Clip: gradient passes where the input was not clipped. With constant bounds the mask is read off
 * the output alone, [lo < y < hi] (torch's ReLU6/hardtanh backward): not reading x keeps
 * onnxruntime's Conv+Clip fusion and NCHWc layout in the forward part (with the polyphase
 * depthwise gradient, mobilenet_v2's gradient graph took 0.84–0.92× the time it took with the
 * x == y form and ConvTranspose). Otherwise x == y (bounds included, as torch's clamp).
 */
const clip: GradientRule = {
  opTypes: ["Clip"],
  backward(ctx) {
    const { b } = ctx;
    const y = ctx.y(0);
    const fromOutput = clipMaskFromOutput(ctx);
    if (fromOutput) return [b.op("Mul", [ctx.dy(0)!, b.castLike(fromOutput, y)])];
    return [b.op("Where", [notEqual(ctx, ctx.x(0), y), b.scalarLike(0, y), ctx.dy(0)!])];
  },
};

/** [lo < y < hi] for a Clip whose given bounds are constants (opset ≥ 11); undefined otherwise. */
function clipMaskFromOutput(ctx: RuleContext): string | undefined {
  const { b } = ctx;
  const y = ctx.y(0);
  if (ctx.opset < 11) return undefined;
  const masks: string[] = [];
  for (const [i, op] of [
    [1, "Greater"],
    [2, "Less"],
  ] as const) {
    if (!ctx.node.input[i]) continue;
    const bound = ctx.constant(i);
    if (bound?.data.length !== 1) return undefined;
    masks.push(b.op(op, [y, b.scalarLike(Number(bound.data[0]), y)]));
  }
  if (masks.length === 0) return undefined;
  return masks.length === 1 ? masks[0] : b.op("And", [masks[0]!, masks[1]!]);
}

const where: GradientRule = {
  opTypes: ["Where"],
  backward(ctx) {
    const { b } = ctx;
    const g = ctx.dy(0)!;
    const c = ctx.x(0);
    const zero = b.scalarLike(0, ctx.y(0));
    return [
      undefined,
      ctx.needs(1) ? toInput(ctx, b.op("Where", [c, g, zero]), 1) : undefined,
      ctx.needs(2) ? toInput(ctx, b.op("Where", [c, zero, g]), 2) : undefined,
    ];
  },
};

/** Identity-like ops: Identity, Dropout in inference (ratio ignored, as onnxruntime does). */
const identity: GradientRule = {
  opTypes: ["Identity", "Dropout"],
  backward: (ctx) => [ctx.dy(0)!],
};

const cast: GradientRule = {
  opTypes: ["Cast", "CastLike"],
  backward(ctx) {
    const { b } = ctx;
    if (b.dtype(ctx.x(0)) === b.dtype(ctx.y(0))) return [ctx.dy(0)!];
    return [b.castLike(ctx.dy(0)!, ctx.x(0))];
  },
};

/** The arithmetic family's rules. */
export const arithmeticRules: GradientRule[] = [
  add,
  sub,
  mul,
  div,
  neg,
  abs,
  sqrt,
  exp,
  log,
  reciprocal,
  pow,
  maxMin,
  clip,
  where,
  identity,
  cast,
];
