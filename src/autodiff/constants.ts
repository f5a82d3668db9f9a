/**
 * Constant lookup for graph transforms: which tensors have values known when the model is built.
 */
import { attrFloat, attrFloats, attrInt, attrInts, attrTensor, tensorFromProto } from "../onnx/model.js";
import type { GraphProto, TensorProto } from "../onnx/types.js";
import { type Tensor, tensor } from "../tensor/tensor.js";

/**
 * Looks up constant tensors: initializers that are not overridable graph inputs, and outputs of
 * Constant nodes (value, value_float(s), value_int(s)). Values are decoded on first use.
 */
export function constantValues(graph: GraphProto): (name: string) => Tensor | undefined {
  const inputs = new Set(graph.input.map((i) => i.name));
  const protos = new Map<string, TensorProto>();
  for (const t of graph.initializer) if (t.name && !inputs.has(t.name)) protos.set(t.name, t);
  const direct = new Map<string, Tensor>();
  for (const n of graph.node) {
    if (n.opType !== "Constant" || (n.domain ?? "") !== "" || !n.output[0]) continue;
    const value = attrTensor(n, "value");
    if (value) protos.set(n.output[0], value);
    const ints = attrInts(n, "value_ints");
    const int = attrInt(n, "value_int");
    const floats = attrFloats(n, "value_floats");
    const float = attrFloat(n, "value_float");
    if (ints)
      direct.set(
        n.output[0],
        tensor(
          "int64",
          [ints.length],
          BigInt64Array.from(ints, (v) => BigInt(v)),
        ),
      );
    else if (int !== undefined) direct.set(n.output[0], tensor("int64", [], BigInt64Array.of(BigInt(int))));
    else if (floats) direct.set(n.output[0], tensor("float32", [floats.length], Float32Array.from(floats)));
    else if (float !== undefined) direct.set(n.output[0], tensor("float32", [], Float32Array.of(float)));
  }
  return (name) => {
    const hit = direct.get(name);
    if (hit) return hit;
    const p = protos.get(name);
    if (!p) return undefined;
    const t = tensorFromProto(p);
    direct.set(name, t);
    return t;
  };
}
