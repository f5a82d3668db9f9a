/**
 * Shared by the Loop and Scan unrollings: inlining one iteration of a body graph, and reading
 * booleans that are known when the model is built.
 */
import { attrTensor, tensorFromProto } from "../../onnx/model.js";
import { definedNamesDeep, renameGraphDeep } from "../../onnx/subgraph.js";
import type { GraphProto } from "../../onnx/types.js";
import type { Tensor } from "../../tensor/tensor.js";
import type { GraphBuilder } from "../builder.js";

/** Iterations past which unrolling is refused (the unrolled graph would be too big to build or run). */
export const MAX_UNROLLED_ITERATIONS = 4096;

/**
 * Emits one copy of `body` whose inputs are the tensors `inputs` (by position); every name the
 * body defines gets a fresh name. Returns the names of the copy's outputs.
 */
export function inlineBody(
  b: GraphBuilder,
  body: GraphProto,
  inputs: readonly string[],
  label: string,
): string[] {
  const rename = new Map<string, string>();
  for (const name of definedNamesDeep(body)) rename.set(name, b.fresh(`${label}/${name}`));
  body.input.forEach((v, i) => rename.set(v.name!, inputs[i]!));
  const copy = renameGraphDeep(body, rename, (n) => b.fresh(`${label}/${n.name || n.opType}`));
  b.nodes.push(...copy.node);
  b.initializers.push(...copy.initializer);
  return copy.output.map((o) => o.name!);
}

/** The value of a tensor defined by a Constant node or initializer of `g`, if it is one. */
function localConstant(g: GraphProto, name: string): Tensor | undefined {
  const init = g.initializer.find((t) => t.name === name);
  if (init) return tensorFromProto(init);
  const producer = g.node.find((n) => n.output.includes(name));
  if (producer?.opType === "Constant") {
    const t = attrTensor(producer, "value");
    if (t) return tensorFromProto(t);
  }
  return undefined;
}

/**
 * The value of a body's boolean output when it is known without running the body: a constant,
 * local or of the enclosing graph, or (through Identity or Cast) the body's condition input,
 * whose value is `condIn`.
 */
export function staticBodyBool(
  body: GraphProto,
  name: string,
  condIn: boolean | undefined,
  outerConstant: (name: string) => Tensor | undefined,
): boolean | undefined {
  const condName = body.input[1]?.name;
  let current = name;
  for (let hops = 0; hops < 16; hops++) {
    if (current === condName) return condIn;
    const c = localConstant(body, current) ?? outerConstant(current);
    if (c) return Boolean(Number(c.data[0]));
    const producer = body.node.find((n) => n.output.includes(current));
    // Identity passes the value on; a Cast (to bool, from a constant 1) keeps whether it is non-zero
    if (producer?.opType !== "Identity" && producer?.opType !== "Cast") return undefined;
    current = producer.input[0]!;
  }
  return undefined;
}
