/**
 * A small model whose branch is decided by a given input: y = If(mode == 1, x·x·w, −x·w) with
 * `mode` an int64 scalar (fold-given and disk-cache tests).
 */

import { makeModel, type NodeSpec } from "../onnx/make.js";
import type { ModelProto } from "../onnx/types.js";
import { float64, int64 } from "../tensor/tensor.js";

function branch(nodes: NodeSpec[], output: string) {
  return makeModel({ inputs: [], outputs: [{ name: output, dtype: "float64" }], nodes }).graph!;
}

/** y = If(mode == 1, x·x·w, −x·w), w = [1, 2, 3], x [N, 3] float64. */
export function modeModel(): ModelProto {
  return makeModel({
    opset: 13,
    inputs: [
      { name: "x", dtype: "float64", dims: ["N", 3] },
      { name: "mode", dtype: "int64", dims: [] },
    ],
    outputs: [{ name: "y", dtype: "float64" }],
    initializers: { one: int64([], [1]), w: float64([3], [1, 2, 3]) },
    nodes: [
      { op: "Equal", inputs: ["mode", "one"], outputs: ["cond"] },
      {
        op: "If",
        inputs: ["cond"],
        outputs: ["y"],
        attrs: {
          then_branch: branch(
            [
              { op: "Mul", inputs: ["x", "x"], outputs: ["sq"] },
              { op: "Mul", inputs: ["sq", "w"], outputs: ["t"] },
            ],
            "t",
          ),
          else_branch: branch(
            [
              { op: "Neg", inputs: ["x"], outputs: ["n"] },
              { op: "Mul", inputs: ["n", "w"], outputs: ["e"] },
            ],
            "e",
          ),
        },
      },
    ],
  });
}
