/**
 * Gradient rules as data: op type, which inputs can carry a gradient, and a function that emits
 * the nodes computing those input gradients from the output gradients.
 */
import type { ModelProto, NodeProto } from "../onnx/types.js";
import type { Tensor } from "../tensor/tensor.js";
import type { GraphBuilder } from "./builder.js";
import type { GradientModel, GradientOptions } from "./gradient.js";

/** What a rule sees when it emits the gradient of one node. */
export interface RuleContext {
  readonly node: NodeProto;
  readonly b: GraphBuilder;
  /** Version of the default domain the model imports. */
  readonly opset: number;
  /** Name of input i ("" when an optional input is absent). */
  x(i: number): string;
  /** Name of output i. */
  y(i: number): string;
  /** Gradient flowing into output i, or undefined when it is zero. */
  dy(i: number): string | undefined;
  /** True when input i needs a gradient (it depends on a `wrt` tensor and is float). */
  needs(i: number): boolean;
  /**
   * The value of input i when it is a constant (an initializer that is not a graph input, or a
   * Constant node's output); undefined when it is computed at run time or absent.
   */
  constant(i: number): Tensor | undefined;
  /**
   * For ops with subgraphs (If branches read outer-scope tensors that are not node inputs): the
   * outer tensors and the transform itself.
   */
  readonly outer: OuterScope;
}

/** What a control-flow rule needs of the enclosing graph (see {@link RuleContext.outer}). */
export interface OuterScope {
  /** True when the named tensor needs a gradient (it depends on a `wrt` tensor and is float). */
  needs(name: string): boolean;
  /** Adds a gradient contribution to the named tensor. */
  add(name: string, gradient: string): void;
  /** The value of the named tensor when it is a constant of the graph. */
  constant(name: string): Tensor | undefined;
  /** The gradient transform (applied to a subgraph made standalone). */
  differentiate(model: ModelProto, options: GradientOptions): GradientModel;
}

/** A gradient rule (as tfjs' GradConfig). */
export interface GradientRule {
  /** Op types this rule handles (default domain unless `domain` is set). */
  readonly opTypes: readonly string[];
  readonly domain?: string;
  /**
   * Emits the input gradients. Returns one entry per input: a tensor name, or undefined where
   * the gradient is zero or not needed. Only called when at least one `dy(i)` is defined.
   */
  backward(ctx: RuleContext): (string | undefined)[];
}

/** Ops whose outputs never carry a gradient (integer/boolean results, shapes, comparisons). */
export const NON_DIFFERENTIABLE = new Set([
  "Shape",
  "Size",
  "ConstantOfShape",
  "Constant",
  "Greater",
  "GreaterOrEqual",
  "Less",
  "LessOrEqual",
  "Equal",
  "Not",
  "And",
  "Or",
  "Xor",
  "IsNaN",
  "IsInf",
  "ArgMax",
  "ArgMin",
  "NonZero",
  "Range",
  "RandomNormal",
  "RandomUniform",
  "RandomNormalLike",
  "RandomUniformLike",
  "EyeLike",
  "Sign",
  "Floor",
  "Ceil",
  "Round",
  "OneHot",
]);

const rules = new Map<string, GradientRule>();

function key(domain: string | undefined, opType: string): string {
  const d = domain === "ai.onnx" ? "" : (domain ?? "");
  return `${d}::${opType}`;
}

/** Adds rules to the registry (a later rule for the same op replaces the earlier one). */
export function registerRules(list: readonly GradientRule[]): void {
  for (const r of list) for (const t of r.opTypes) rules.set(key(r.domain, t), r);
}

/** The rule for an op, if any. */
export function ruleFor(opType: string, domain?: string): GradientRule | undefined {
  return rules.get(key(domain, opType));
}

/** Every op type with a rule (default domain first), for error messages and docs. */
export function supportedOps(): string[] {
  const out: string[] = [];
  for (const k of rules.keys()) {
    const [d, t] = k.split("::");
    out.push(d ? `${d}.${t}` : t!);
  }
  return out.sort();
}
