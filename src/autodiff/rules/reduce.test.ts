import assert from "node:assert/strict";
import { test } from "node:test";
import { makeModel } from "../../onnx/make.js";
import type { AttrValue } from "../../onnx/model.js";
import { Random } from "../../tensor/random.js";
import { float32, float64, int64, type Tensor } from "../../tensor/tensor.js";
import { gradcheck } from "../../testing/gradcheck.js";

const rng = new Random(5);
function rand(dims: number[], lo = -1, hi = 1): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return float64(
    dims,
    Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform()),
  );
}

/** y = z ⊙ z ⊙ z with z = op(x[, axes]); checks the gradient and the Hessian-vector product. */
async function checkReduce(
  op: string,
  x: Tensor,
  opts: { attrs?: Record<string, AttrValue>; axes?: number[]; opset?: number } = {},
) {
  const opset = opts.opset ?? 18;
  const model = makeModel({
    opset,
    inputs: [{ name: "x", dtype: x.dtype }],
    outputs: [{ name: "y", dtype: x.dtype }],
    initializers: opts.axes ? { axes: int64([opts.axes.length], opts.axes) } : {},
    nodes: [
      { op, inputs: opts.axes ? ["x", "axes"] : ["x"], outputs: ["z"], attrs: opts.attrs },
      { op: "Mul", inputs: ["z", "z"], outputs: ["zz"] },
      { op: "Mul", inputs: ["zz", "z"], outputs: ["y"] },
    ],
  });
  const f32 = x.dtype === "float32";
  const r = await gradcheck(
    model,
    { x },
    { wrt: ["x"], hvp: true, ...(f32 ? { eps: 1e-3, rtol: 1e-2 } : {}) },
  );
  assert.ok(r.worst <= 1, `${op} opset ${opset} ${JSON.stringify(opts)}: ${r.message}`);
}

const smooth = ["ReduceSum", "ReduceMean", "ReduceSumSquare", "ReduceL2", "ReduceLogSumExp", "ReduceProd"];

for (const op of smooth) {
  test(`${op}: axes input / attribute, keepdims 0/1, all axes`, async () => {
    const x = rand([2, 3, 4], 0.3, 1.2);
    const inputForm = op === "ReduceSum" ? 13 : 18;
    await checkReduce(op, x, { axes: [1], opset: inputForm });
    await checkReduce(op, x, { axes: [0, -1], attrs: { keepdims: 0 }, opset: inputForm });
    await checkReduce(op, x, { opset: inputForm, attrs: { keepdims: 0 } });
    await checkReduce(op, x, { attrs: { axes: [2], keepdims: 0 }, opset: 11 });
    await checkReduce(op, x, { attrs: { axes: [0, 2] }, opset: 9 });
  });
}

test("ReduceL1 away from zero", async () => {
  await checkReduce("ReduceL1", rand([3, 4], 0.2, 1), { axes: [1], attrs: { keepdims: 0 } });
  await checkReduce("ReduceL1", rand([3, 4], -1, -0.2), { attrs: { axes: [0] }, opset: 13 });
});

test("ReduceMax / ReduceMin send the gradient to the extreme element, split among ties", async () => {
  await checkReduce("ReduceMax", rand([3, 5]), { axes: [1], attrs: { keepdims: 0 } });
  await checkReduce("ReduceMin", rand([3, 5]), { attrs: { axes: [0] }, opset: 9 });
  await checkReduce("ReduceMax", rand([2, 3, 4]), { attrs: { keepdims: 0 }, opset: 13 });
  // Ties: finite differences are not defined there; the rule splits g evenly (torch's amax).
  const model = makeModel({
    opset: 18,
    inputs: [{ name: "x", dtype: "float64" }],
    outputs: [{ name: "y", dtype: "float64" }],
    nodes: [{ op: "ReduceMax", inputs: ["x"], outputs: ["y"], attrs: { keepdims: 0 } }],
  });
  const { nodeBackend } = await import("../../runtime/node.js");
  const { GradientSession } = await import("../../runtime/gradient-session.js");
  const x = float64([1, 4], [1, 3, 3, 2]);
  const s = await GradientSession.create(nodeBackend(), model, { x }, { wrt: ["x"], outputs: ["y"] });
  const r = await s.run({ x }, { y: float64([], [1]) });
  assert.deepEqual(Array.from(r.gradients.x!.data as Float64Array), [0, 0.5, 0.5, 0]);
});

test("GlobalAveragePool and GlobalMaxPool (float32: no double kernels)", async () => {
  await checkReduce(
    "GlobalAveragePool",
    float32(
      [2, 3, 4, 5],
      Array.from({ length: 120 }, () => rng.uniform()),
    ),
  );
  // Distinct values 0.02 apart, so a finite-difference step (1e-3) never changes the argmax.
  const spaced = Array.from({ length: 54 }, (_, i) => 0.02 * i);
  for (let i = spaced.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [spaced[i], spaced[j]] = [spaced[j]!, spaced[i]!];
  }
  await checkReduce("GlobalMaxPool", float32([2, 3, 3, 3], spaced));
});

test("ReduceLogSum (positive inputs)", async () => {
  await checkReduce("ReduceLogSum", rand([2, 3, 4], 0.3, 1.2), { axes: [1], attrs: { keepdims: 0 } });
  await checkReduce("ReduceLogSum", rand([2, 3, 4], 0.3, 1.2), { attrs: { axes: [0, 2] }, opset: 13 });
});
