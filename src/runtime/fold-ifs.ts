/**
 * Folds `If` nodes whose condition depends only on constants and input shapes: the conditions
 * are evaluated once with onnxruntime (on the given feeds) and the taken branches inlined.
 * Nested Ifs uncovered by inlining are folded in the next round. (Loop trip counts computed from
 * shapes become constants too.) {@link foldGivenValues} also folds on the values of given inputs.
 */
import type { ModelProto } from "../onnx/types.js";
import type { Tensor } from "../tensor/tensor.js";
import type { Backend } from "./backend.js";
import { foldGivenValues } from "./fold-given.js";

/** The model with every shape-determined `If` replaced by its taken branch (the same object when there is none). */
export async function foldShapeIfs(
  backend: Backend,
  model: ModelProto,
  feeds: Record<string, Tensor>,
): Promise<ModelProto> {
  return (await foldGivenValues(backend, model, feeds)).model;
}
