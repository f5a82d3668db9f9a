/**
 * No silent zero gradients through integers. A float value that becomes an integer (a Cast to an
 * integer type, or an op without a gradient rule, e.g. QuantizeLinear) and later becomes float
 * again (a Cast back, DequantizeLinear, any op without a rule) carries no gradient: the gradient
 * transform would return zero for everything upstream, with no error. Such a path is refused by
 * name. Integers used as indices or shapes (Gather indices, TopK's indices, Reshape's shape) are
 * fine: those ops have rules and differentiate their float inputs only.
 */
import { PathlensError } from "../errors.js";
import { nodeReads } from "../onnx/graph.js";
import { describeNode } from "../onnx/model.js";
import type { NodeProto } from "../onnx/types.js";
import { NON_DIFFERENTIABLE, ruleFor } from "./registry.js";

/** Raised when the path from a differentiated tensor to an output crosses integer values. */
export class IntegerPathError extends PathlensError {
  override name = "IntegerPathError";
  constructor(
    readonly nodeName: string,
    readonly tensorName: string,
    readonly producer: string,
    readonly source: string,
  ) {
    super(
      `the integer tensor "${tensorName}" (from ${producer}) is computed from float values (at ${source}) ` +
        `and turned back into floats by ${nodeName} on the path to the output: the gradient through it would be silently zero. ` +
        "Quantized ops are rewritten to their float computation when pathlens knows them; this one is not covered",
    );
  }
}

/** Ops that turn integers into floats by value (not as indices or shapes). */
const VALUE_CONVERTERS = new Set(["Cast", "CastLike"]);

/**
 * Throws {@link IntegerPathError} when a float tensor in `depends` reaches an output only through
 * an integer tensor. `order` is topological; `isFloat` tells float tensors; `reaches` holds the
 * tensors from which an output is reachable.
 */
export function checkIntegerPaths(
  order: readonly NodeProto[],
  depends: ReadonlySet<string>,
  reaches: ReadonlySet<string>,
  isFloat: (name: string) => boolean,
): void {
  // integer tensor → the node where a float value became an integer
  const tainted = new Map<string, string>();
  const producers = new Map<string, string>();
  for (const n of order) {
    const op = n.opType ?? "";
    if (NON_DIFFERENTIABLE.has(op) && (n.domain ?? "") === "") continue;
    const reads = nodeReads(n);
    const rule = ruleFor(op, n.domain);
    const fromFloat = reads.some((r) => depends.has(r));
    const taint = reads.map((r) => tainted.get(r)).find((t) => t !== undefined);
    if (taint !== undefined) {
      const floatOut = n.output.find((o) => o && isFloat(o) && reaches.has(o));
      // an op without a rule that also reads a float it depends on is reported by the gradient
      // transform itself (UnsupportedOpError names what is missing)
      if (floatOut && (VALUE_CONVERTERS.has(op) || (!rule && !fromFloat))) {
        const r = reads.find((x) => tainted.has(x))!;
        throw new IntegerPathError(describeNode(n), r, producers.get(r) ?? "?", taint);
      }
    }
    const source = fromFloat && (!rule || VALUE_CONVERTERS.has(op)) ? describeNode(n) : taint;
    if (source === undefined) continue;
    for (const o of n.output) {
      if (!o || isFloat(o)) continue;
      tainted.set(o, source);
      producers.set(o, `${n.domain ? `${n.domain}.` : ""}${describeNode(n)}`);
    }
  }
}
