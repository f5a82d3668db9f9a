import assert from "node:assert/strict";
import { test } from "node:test";
import { makeModel } from "../../onnx/make.js";
import { Random } from "../../tensor/random.js";
import { float32, float64, int64, type Tensor } from "../../tensor/tensor.js";
import { gradcheck } from "../../testing/gradcheck.js";

const rng = new Random(13);
function rand(dims: number[], lo: number, hi: number, f32 = false): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());
  return f32 ? float32(dims, v) : float64(dims, v);
}

/** y = f(x)·x so the second derivative exercises f's rule twice. */
async function check(op: string, lo: number, hi: number, f32 = false) {
  const dtype = f32 ? "float32" : "float64";
  const model = makeModel({
    inputs: [{ name: "x", dtype }],
    outputs: [{ name: "y", dtype }],
    nodes: [
      { op, inputs: ["x"], outputs: ["t"] },
      { op: "Mul", inputs: ["t", "x"], outputs: ["y"] },
    ],
  });
  const r = await gradcheck(
    model,
    { x: rand([3, 4], lo, hi, f32) },
    { wrt: ["x"], hvp: true, ...(f32 ? { eps: 1e-3, rtol: 2e-2 } : {}) },
  );
  assert.ok(r.worst <= 1, `${op}: ${r.message}`);
}

// Sin and Cos have double kernels in onnxruntime's CPU provider; the other functions (and Mean)
// are checked in float32 with central differences (eps 1e-3: truncation and rounding ~1e-4).
test("Sin and Cos (float64)", async () => {
  await check("Sin", -2, 2);
  await check("Cos", -2, 2);
});

for (const [op, lo, hi] of [
  ["Tan", -1, 1],
  ["Asin", -0.8, 0.8],
  ["Acos", -0.8, 0.8],
  ["Atan", -2, 2],
  ["Sinh", -1.5, 1.5],
  ["Cosh", -1.5, 1.5],
  ["Asinh", -2, 2],
  ["Acosh", 1.2, 3],
  ["Atanh", -0.8, 0.8],
] as const) {
  test(`${op} (float32 differences, eps 1e-3)`, async () => {
    await check(op, lo, hi, true);
  });
}

test("Mean of broadcast inputs", async () => {
  const model = makeModel({
    inputs: [
      { name: "a", dtype: "float32" },
      { name: "b", dtype: "float32" },
    ],
    outputs: [{ name: "y", dtype: "float32" }],
    nodes: [
      { op: "Mean", inputs: ["a", "b", "a"], outputs: ["m"] },
      { op: "Mul", inputs: ["m", "m"], outputs: ["y"] },
    ],
  });
  const r = await gradcheck(
    model,
    { a: rand([2, 3], -1, 1, true), b: rand([3], -1, 1, true) },
    { wrt: ["a", "b"], hvp: true, eps: 1e-3, rtol: 2e-2 },
  );
  assert.ok(r.worst <= 1, r.message);
});

test("CumSum forward/reverse, inclusive/exclusive", async () => {
  for (const attrs of [{}, { reverse: 1 }, { exclusive: 1 }, { reverse: 1, exclusive: 1 }] as Record<
    string,
    number
  >[]) {
    const model = makeModel({
      inputs: [{ name: "x", dtype: "float64" }],
      outputs: [{ name: "y", dtype: "float64" }],
      initializers: { axis: int64([], [1]) },
      nodes: [
        { op: "CumSum", inputs: ["x", "axis"], outputs: ["c"], attrs },
        { op: "Mul", inputs: ["c", "c"], outputs: ["y"] },
      ],
    });
    const r = await gradcheck(model, { x: rand([2, 5], -1, 1) }, { wrt: ["x"], hvp: true });
    assert.ok(r.worst <= 1, `${JSON.stringify(attrs)}: ${r.message}`);
  }
});
