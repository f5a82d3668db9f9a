/**
 * Folds `If` nodes whose condition depends only on constants and input shapes: the conditions
 * are evaluated once with onnxruntime (on the given feeds) and the taken branches inlined.
 * Nested Ifs uncovered by inlining are folded in the next round.
 */
import { encodeModel } from "../onnx/codec.js";
import { foldableIfs, inlineIfs } from "../onnx/fold.js";
import { cloneModel } from "../onnx/model.js";
import type { ModelProto } from "../onnx/types.js";
import type { Tensor } from "../tensor/tensor.js";
import type { Backend } from "./backend.js";

/** The model with every shape-determined `If` replaced by its taken branch (the same object when there is none). */
export async function foldShapeIfs(
  backend: Backend,
  model: ModelProto,
  feeds: Record<string, Tensor>,
): Promise<ModelProto> {
  let current = model;
  for (let round = 0; round < 8; round++) {
    const candidates = foldableIfs(current);
    if (candidates.length === 0) return current;
    const probe = cloneModel(current);
    const conditions = [...new Set(candidates.map((n) => n.input[0]!))];
    const declared = new Set(probe.graph!.output.map((o) => o.name));
    for (const c of conditions)
      if (!declared.has(c)) probe.graph!.output.push({ name: c, metadataProps: [] });
    const session = await backend.createSession(encodeModel(probe), { optimization: "disabled" });
    let values: Record<string, Tensor>;
    try {
      const needed = Object.fromEntries(
        Object.entries(feeds).filter(([k]) => probe.graph!.input.some((i) => i.name === k)),
      );
      values = await session.run(needed, conditions);
    } finally {
      await session.dispose();
    }
    const taken = new Map<string, boolean>();
    for (const n of candidates) {
      const v = values[n.input[0]!]!;
      taken.set(n.output[0]!, Boolean(Number(v.data[0])));
    }
    current = inlineIfs(current, taken);
  }
  return current;
}
