import assert from "node:assert/strict";
import { test } from "node:test";
import { foldableIfs } from "../onnx/fold.js";
import { makeModel } from "../onnx/make.js";
import { float64, int64 } from "../tensor/tensor.js";
import { GradientSession } from "./gradient-session.js";
import { nodeBackend } from "./node.js";

const backend = nodeBackend();

/** A branch subgraph: no inputs, reads outer-scope tensors, one output. */
function branch(nodes: Parameters<typeof makeModel>[0]["nodes"], output: string) {
  return makeModel({ inputs: [], outputs: [{ name: output, dtype: "float64" }], nodes }).graph!;
}

/** y = If(cond, x·x·w, −x) with cond computed by `condNodes` into "cond". */
function ifModel(condNodes: Parameters<typeof makeModel>[0]["nodes"]) {
  return makeModel({
    opset: 13,
    inputs: [{ name: "x", dtype: "float64", dims: ["N", 3] }],
    outputs: [{ name: "y", dtype: "float64" }],
    initializers: { two: int64([], [2]), w: float64([3], [1, 2, 3]), zero: float64([], [0]) },
    nodes: [
      ...condNodes,
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
          else_branch: branch([{ op: "Neg", inputs: ["x"], outputs: ["e"] }], "e"),
        },
      },
    ],
  });
}

test("an If decided by the input's rank is folded to its branch and differentiated", async () => {
  const model = ifModel([
    { op: "Shape", inputs: ["x"], outputs: ["s"] },
    { op: "Size", inputs: ["s"], outputs: ["rank"] },
    { op: "Equal", inputs: ["rank", "two"], outputs: ["cond"] },
  ]);
  assert.equal(foldableIfs(model).length, 1);
  const x = float64([2, 3], [1, -2, 0.5, 3, 1.5, -1]);
  const s = await GradientSession.create(backend, model, { x }, { wrt: ["x"], outputs: ["y"], hvp: true });
  const seed = float64([2, 3], [1, 1, 1, 1, 1, 1]);
  const v = float64([2, 3], [1, 0, 2, 0, 1, -1]);
  const r = await s.run({ x }, { y: seed }, { x: v });
  const w = [1, 2, 3];
  // then branch taken (rank 2): d/dx Σ x²w = 2xw; H v = 2w v
  assert.deepEqual(
    Array.from(r.gradients.x!.data as Float64Array),
    Array.from(x.data, (xi, i) => 2 * xi * w[i % 3]!),
  );
  assert.deepEqual(
    Array.from(r.hvp!.x!.data as Float64Array),
    Array.from(v.data, (vi, i) => 2 * vi * w[i % 3]!),
  );
  assert.deepEqual(
    Array.from(r.outputs.y!.data as Float64Array),
    Array.from(x.data, (xi, i) => xi * xi * w[i % 3]!),
  );
  await s.dispose();
});

test("the else branch is taken when the shape condition is false", async () => {
  const model = ifModel([
    { op: "Shape", inputs: ["x"], outputs: ["s"] },
    { op: "Size", inputs: ["s"], outputs: ["rank"] },
    { op: "Greater", inputs: ["rank", "two"], outputs: ["cond"] },
  ]);
  const x = float64([2, 3], [1, -2, 0.5, 3, 1.5, -1]);
  const s = await GradientSession.create(backend, model, { x }, { wrt: ["x"], outputs: ["y"] });
  const r = await s.run({ x }, { y: float64([2, 3], [1, 2, 3, 4, 5, 6]) });
  assert.deepEqual(Array.from(r.gradients.x!.data as Float64Array), [-1, -2, -3, -4, -5, -6]);
  await s.dispose();
});

test("an If on data values is not folded; its gradient is an If on the same condition", async () => {
  const model = ifModel([
    { op: "ReduceSum", inputs: ["x"], outputs: ["total"], attrs: { keepdims: 0 } },
    { op: "Greater", inputs: ["total", "zero"], outputs: ["cond"] },
  ]);
  assert.equal(foldableIfs(model).length, 0);
  const s = await GradientSession.create(
    backend,
    model,
    { x: float64([1, 3], [1, 2, 3]) },
    { wrt: ["x"], outputs: ["y"] },
  );
  assert.equal(s.model.graph!.node.filter((n) => n.opType === "If").length, 2);
  const seed = float64([1, 3], [1, 1, 1]);
  // Σx > 0: then branch, d/dx Σ x²w = 2xw; Σx < 0: else branch, d/dx Σ −x = −1
  const pos = await s.run({ x: float64([1, 3], [1, 2, 3]) }, { y: seed });
  assert.deepEqual(Array.from(pos.gradients.x!.data as Float64Array), [2, 8, 18]);
  const neg = await s.run({ x: float64([1, 3], [-1, -2, 3]) }, { y: seed });
  assert.deepEqual(Array.from(neg.gradients.x!.data as Float64Array), [-1, -1, -1]);
  await s.dispose();
});
