/**
 * Gradient rules as data: op type, which inputs can carry a gradient, and a function that emits
 * the nodes computing those input gradients from the output gradients.
 */
import type { NodeProto } from "../onnx/types.js";
import type { Tensor } from "../tensor/tensor.js";
import type { GraphBuilder } from "./builder.js";

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
