import assert from "node:assert/strict";
import { test } from "node:test";
import { makeModel } from "../../onnx/make.js";
import { Random } from "../../tensor/random.js";
import { float64, type Tensor } from "../../tensor/tensor.js";
import { gradcheck } from "../../testing/gradcheck.js";

const rng = new Random(7);
function rand(dims: number[], lo = -1, hi = 1): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return float64(
    dims,
    Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform()),
  );
}

/** A binary op on two float64 inputs with the given shapes. */
async function checkBinary(
  op: string,
  da: number[],
  db: number[],
  opts: { lo?: number; hi?: number; hvp?: boolean } = {},
) {
  const model = makeModel({
    opset: 17,
    inputs: [
      { name: "a", dtype: "float64" },
      { name: "b", dtype: "float64" },
    ],
    outputs: [{ name: "y", dtype: "float64" }],
    nodes: [{ op, inputs: ["a", "b"], outputs: ["y"] }],
  });
  const r = await gradcheck(
    model,
    { a: rand(da, opts.lo, opts.hi), b: rand(db, opts.lo, opts.hi) },
    { wrt: ["a", "b"], hvp: opts.hvp ?? true },
  );
  assert.ok(r.worst <= 1, `${op} ${JSON.stringify(da)} ${JSON.stringify(db)}: ${r.message}`);
}

for (const op of ["Add", "Sub", "Mul", "Div", "Max", "Min"]) {
  test(`${op} gradient with broadcasting (float64, finite differences)`, async () => {
    const lo = op === "Div" ? 0.5 : -1;
    await checkBinary(op, [2, 3, 4], [2, 3, 4], { lo });
    await checkBinary(op, [2, 3, 4], [4], { lo });
    await checkBinary(op, [2, 1, 4], [3, 1], { lo });
    await checkBinary(op, [], [2, 3], { lo });
  });
}

test("Pow gradient in base and exponent", async () => {
  await checkBinary("Pow", [2, 3], [2, 3], { lo: 0.5, hi: 2 });
  await checkBinary("Pow", [2, 3], [], { lo: 0.5, hi: 2 });
});

for (const [op, lo, hi] of [
  ["Neg", -1, 1],
  ["Abs", 0.1, 1],
  ["Sqrt", 0.2, 2],
  ["Exp", -1, 1],
  ["Log", 0.2, 2],
  ["Reciprocal", 0.5, 2],
  ["Identity", -1, 1],
] as const) {
  test(`${op} gradient and Hessian-vector product (float64)`, async () => {
    const model = makeModel({
      inputs: [{ name: "x", dtype: "float64" }],
      outputs: [{ name: "y", dtype: "float64" }],
      nodes: [
        { op, inputs: ["x"], outputs: ["t"] },
        { op: "Mul", inputs: ["t", "t"], outputs: ["u"] },
        { op: "Mul", inputs: ["u", "x"], outputs: ["y"] },
      ],
    });
    const r = await gradcheck(model, { x: rand([3, 4], lo, hi) }, { wrt: ["x"], hvp: true });
    assert.ok(r.worst <= 1, r.message);
  });
}

test("Where and Clip gradients", async () => {
  const model = makeModel({
    inputs: [
      { name: "x", dtype: "float64" },
      { name: "z", dtype: "float64" },
    ],
    outputs: [{ name: "y", dtype: "float64" }],
    initializers: { lo: float64([], [-0.5]), hi: float64([], [0.5]), zero: float64([], [0]) },
    nodes: [
      { op: "Greater", inputs: ["x", "zero"], outputs: ["c"] },
      { op: "Where", inputs: ["c", "x", "z"], outputs: ["w"] },
      { op: "Clip", inputs: ["w", "lo", "hi"], outputs: ["y"] },
    ],
  });
  const r = await gradcheck(model, { x: rand([4, 5]), z: rand([5]) }, { wrt: ["x", "z"] });
  assert.ok(r.worst <= 1, r.message);
});

test("Clip with min/max attributes (opset 9)", async () => {
  const model = makeModel({
    opset: 9,
    inputs: [{ name: "x", dtype: "float32" }],
    outputs: [{ name: "y", dtype: "float32" }],
    nodes: [
      { op: "Clip", inputs: ["x"], outputs: ["y"], attrs: { min: -0.5, max: 0.5 }, floats: ["min", "max"] },
    ],
  });
  const x = {
    dtype: "float32",
    dims: [2, 6],
    data: Float32Array.from([-0.9, -0.3, 0.1, 0.4, 0.8, 0.2, 0.7, -0.6, 0.0, 0.3, -0.2, 0.9]),
  } as Tensor;
  const r = await gradcheck(model, { x }, { wrt: ["x"], eps: 1e-3 });
  assert.ok(r.worst <= 1, r.message);
});

test("Pow with a constant exponent (2 takes the Mul form; 3 and 0.5 the general one)", async () => {
  for (const e of [2, 3, 0.5, 1]) {
    const model = makeModel({
      inputs: [{ name: "x", dtype: "float64" }],
      outputs: [{ name: "y", dtype: "float64" }],
      initializers: { e: float64([], [e]) },
      nodes: [
        { op: "Pow", inputs: ["x", "e"], outputs: ["t"] },
        { op: "Mul", inputs: ["t", "x"], outputs: ["y"] },
      ],
    });
    const r = await gradcheck(model, { x: rand([3, 4], 0.3, 2) }, { wrt: ["x"], hvp: true });
    assert.ok(r.worst <= 1, `exponent ${e}: ${r.message}`);
  }
});
