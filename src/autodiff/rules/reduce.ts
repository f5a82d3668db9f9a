/**
 * Gradient rules: reductions (ReduceSum/Mean/Max/Min/Prod/SumSquare/L1/L2/LogSumExp) and global
 * pools. The output gradient is first put back into the input's shape — Unsqueeze at the
 * reduced axes when keepdims = 0, then Expand to Shape(x) — and then scaled elementwise.
 * Axes are read the way the node's opset defines them (attribute before opset 13 for ReduceSum
 * and before 18 for the others; an input after); a computed axes input is passed through.
 */
import { attrInt, attrInts } from "../../onnx/model.js";
import type { GradientRule, RuleContext } from "../registry.js";
import { intValues, normAxis } from "./shape.js";

/** How a reduce node names its axes. */
type AxesSpec =
  | { kind: "all" }
  | { kind: "none" } // noop_with_empty_axes with empty axes: the op is the identity
  | { kind: "static"; axes: number[] }
  | { kind: "dynamic"; input: string };

function axesOf(ctx: RuleContext): AxesSpec {
  const { node } = ctx;
  const op = node.opType ?? "";
  const r = ctx.b.rank(ctx.x(0));
  const inputForm = op === "ReduceSum" ? ctx.opset >= 13 : ctx.opset >= 18;
  let axes: number[] | undefined;
  if (op === "GlobalAveragePool" || op === "GlobalMaxPool") {
    axes = Array.from({ length: r - 2 }, (_, i) => i + 2);
  } else if (inputForm) {
    if (ctx.x(1)) {
      const c = ctx.constant(1);
      if (!c) return { kind: "dynamic", input: ctx.x(1) };
      axes = intValues(c);
    }
  } else axes = attrInts(node, "axes");
  if (!axes || axes.length === 0) {
    return inputForm && attrInt(node, "noop_with_empty_axes", 0) === 1 ? { kind: "none" } : { kind: "all" };
  }
  return { kind: "static", axes: axes.map((a) => normAxis(a, r)).sort((a, b) => a - b) };
}

function keepdims(ctx: RuleContext): boolean {
  const op = ctx.node.opType ?? "";
  return op.startsWith("Global") || attrInt(ctx.node, "keepdims", 1) === 1;
}

/** A reduced tensor `t` (shaped like y) with the reduced axes restored as size 1. */
function restoreAxes(ctx: RuleContext, t: string, spec: AxesSpec): string {
  const { b } = ctx;
  if (keepdims(ctx) || spec.kind === "none") return t;
  const r = b.rank(ctx.x(0));
  if (spec.kind === "all") return b.op("Reshape", [t, b.int64s(new Array(r).fill(1))]);
  if (spec.kind === "static") return b.unsqueeze(t, spec.axes);
  // Dynamic axes only exist from opset 13, where Unsqueeze takes its axes as an input too.
  return b.op("Unsqueeze", [t, spec.input]);
}

/** `t` (shaped like y) broadcast back to the full shape of x. */
function expandBack(ctx: RuleContext, t: string, spec: AxesSpec): string {
  const { b } = ctx;
  return b.op("Expand", [restoreAxes(ctx, t, spec), b.shape(ctx.x(0))]);
}

/** ReduceSum of `t` (shaped like x) over the node's axes, keeping dims. */
function sumSameAxes(ctx: RuleContext, t: string, spec: AxesSpec): string {
  const { b } = ctx;
  const r = b.rank(ctx.x(0));
  if (spec.kind === "none") return t;
  if (spec.kind === "dynamic") return b.op("ReduceSum", [t, spec.input], { keepdims: 1 });
  const axes = spec.kind === "all" ? Array.from({ length: r }, (_, i) => i) : spec.axes;
  return b.reduceSum(t, axes, true);
}

const reduceRule: GradientRule = {
  opTypes: [
    "ReduceSum",
    "ReduceMean",
    "ReduceSumSquare",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSumExp",
    "ReduceLogSum",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "GlobalAveragePool",
    "GlobalMaxPool",
  ],
  backward(ctx) {
    const { b } = ctx;
    const op = ctx.node.opType ?? "";
    const x = ctx.x(0);
    const spec = axesOf(ctx);
    const g = () => expandBack(ctx, ctx.dy(0)!, spec);
    const yBack = () => restoreAxes(ctx, ctx.y(0), spec);
    switch (op) {
      case "ReduceSum":
        return [g()];
      case "ReduceMean":
      case "GlobalAveragePool": {
        // 1/count with count = Size(x)/Size(y), so dynamic dims stay dynamic.
        const ratio = b.op("Div", [
          b.castLike(b.op("Size", [ctx.y(0)]), x),
          b.castLike(b.op("Size", [x]), x),
        ]);
        // Scale the small reduced gradient first, then expand: one full-size op fewer.
        return [expandBack(ctx, b.op("Mul", [ctx.dy(0)!, ratio]), spec)];
      }
      case "ReduceSumSquare":
        return [b.op("Mul", [g(), b.op("Mul", [x, b.scalarLike(2, x)])])];
      case "ReduceL1":
        return [b.op("Mul", [g(), b.op("Sign", [x])])];
      case "ReduceL2": {
        // x / ‖x‖, with 0 where the norm is 0 (torch's convention: the subgradient 0).
        const norm = yBack();
        const zero = b.scalarLike(0, x);
        const isZero = b.op("Not", [b.op("Greater", [norm, zero])]);
        const safe = b.op("Where", [isZero, b.scalarLike(1, x), norm]);
        return [b.op("Mul", [g(), b.op("Where", [isZero, zero, b.op("Div", [x, safe])])])];
      }
      case "ReduceLogSum":
        // log Σx: 1 / Σx = exp(−y)
        return [b.op("Mul", [g(), b.op("Exp", [b.op("Neg", [yBack()])])])];
      case "ReduceLogSumExp":
        return [b.op("Mul", [g(), b.op("Exp", [b.op("Sub", [x, yBack()])])])];
      case "ReduceProd":
        // ∂/∂x_i Π x = Π / x_i (undefined at 0, as the forward's own derivative there).
        return [b.op("Mul", [g(), b.op("Div", [yBack(), x])])];
      default: {
        // Max/Min: the gradient goes to the elements equal to the extreme, shared among ties.
        const hit = isEqual(ctx, x, yBack());
        const mask = b.castLike(hit, x);
        const count = sumSameAxes(ctx, mask, spec);
        return [b.op("Mul", [g(), b.op("Div", [mask, count])])];
      }
    }
  },
};

/** x == y for floats: Equal only takes floats from opset 11. */
function isEqual(ctx: RuleContext, x: string, y: string): string {
  const { b } = ctx;
  if (ctx.opset >= 11) return b.op("Equal", [x, y]);
  return b.op("Not", [b.op("Or", [b.op("Less", [x, y]), b.op("Greater", [x, y])])]);
}

/** Reduce-family rules. */
export const reduceRules: GradientRule[] = [reduceRule];
