import assert from "node:assert/strict";
import { test } from "node:test";
import { makeModel } from "../../onnx/make.js";
import type { AttrValue } from "../../onnx/model.js";
import { Random } from "../../tensor/random.js";
import { float64, int64, type Tensor } from "../../tensor/tensor.js";
import { gradcheck } from "../../testing/gradcheck.js";

const rng = new Random(3);
function rand(dims: number[]): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return float64(
    dims,
    Array.from({ length: n }, () => rng.uniform() * 2 - 1),
  );
}
const idx = (dims: number[], v: number[]) => int64(dims, v);

/** y = z³ with z = op(x, indices[, updates]): gradient and Hessian-vector product wrt x (and u). */
async function check(
  op: string,
  x: Tensor,
  indices: Tensor,
  opts: { attrs?: Record<string, AttrValue>; opset?: number; updates?: Tensor } = {},
) {
  const opset = opts.opset ?? 17;
  const inputs = [{ name: "x", dtype: "float64" as const }];
  if (opts.updates) inputs.push({ name: "u", dtype: "float64" });
  const model = makeModel({
    opset,
    inputs,
    outputs: [{ name: "y", dtype: "float64" }],
    initializers: { i: indices },
    nodes: [
      { op, inputs: opts.updates ? ["x", "i", "u"] : ["x", "i"], outputs: ["z"], attrs: opts.attrs },
      { op: "Mul", inputs: ["z", "z"], outputs: ["zz"] },
      { op: "Mul", inputs: ["zz", "z"], outputs: ["y"] },
    ],
  });
  const feeds: Record<string, Tensor> = { x };
  if (opts.updates) feeds.u = opts.updates;
  const r = await gradcheck(model, feeds, { wrt: Object.keys(feeds), hvp: true });
  assert.ok(r.worst <= 1, `${op} opset ${opset} ${JSON.stringify(opts.attrs ?? {})}: ${r.message}`);
}

for (const opset of [9, 13, 16]) {
  test(`Gather with repeated and negative indices, every axis (opset ${opset})`, async () => {
    const x = rand([4, 3, 5]);
    await check("Gather", x, idx([2, 3], [0, 3, -1, 0, 2, 3]), { opset });
    await check("Gather", x, idx([4], [2, -3, 2, 0]), { attrs: { axis: 1 }, opset });
    await check("Gather", x, idx([], [-2]), { attrs: { axis: 2 }, opset });
    await check("Gather", rand([6]), idx([2, 2], [5, 0, 5, 1]), { opset });
  });
}

for (const opset of [11, 13]) {
  test(`Gather for WebGPU: one-hot by comparison, float32 (opset ${opset})`, async () => {
    const model = makeModel({
      opset,
      inputs: [{ name: "x", dtype: "float32" }],
      outputs: [{ name: "y", dtype: "float32" }],
      initializers: { i: idx([2, 3], [0, 3, -1, 0, 2, 3]) },
      nodes: [
        { op: "Gather", inputs: ["x", "i"], outputs: ["z"], attrs: { axis: 1 } },
        { op: "Mul", inputs: ["z", "z"], outputs: ["y"] },
      ],
    });
    const x = rand([3, 4, 2]);
    const x32: Tensor = { dtype: "float32", dims: x.dims, data: Float32Array.from(x.data as Float64Array) };
    const r = await gradcheck(model, { x: x32 }, { wrt: ["x"], hvp: true, device: "webgpu", rtol: 1e-3 });
    assert.ok(r.worst <= 1, r.message);
  });
}

for (const opset of [11, 16]) {
  test(`GatherElements with repeated indices (opset ${opset})`, async () => {
    await check("GatherElements", rand([3, 4]), idx([3, 4], [0, 1, 2, 0, 2, 2, 1, 0, 1, 1, -1, 0]), {
      opset,
    });
    await check("GatherElements", rand([3, 4]), idx([3, 2], [3, 0, 1, 1, -1, 2]), {
      attrs: { axis: 1 },
      opset,
    });
  });
}

test("GatherElements with indices smaller than data (opsets 11 and 16)", async () => {
  for (const opset of [11, 16]) {
    await check("GatherElements", rand([3, 4]), idx([2, 4], [0, 1, 2, 0, 2, 2, 1, 0]), { opset });
    await check("GatherElements", rand([3, 4]), idx([2, 3], [0, 1, 2, 3, 2, 1]), {
      attrs: { axis: 1 },
      opset,
    });
  }
});

for (const opset of [11, 13, 16]) {
  test(`GatherND with repeated and negative tuples (opset ${opset})`, async () => {
    await check("GatherND", rand([3, 4, 2]), idx([3, 2], [0, 1, 2, -1, 0, 1]), { opset });
    await check("GatherND", rand([3, 4]), idx([2, 2, 1], [0, 2, -1, 2]), { opset });
    await check("GatherND", rand([3, 4, 2]), idx([2, 3], [0, 1, 1, 2, 3, 0]), { opset });
  });
}

test("ScatterElements (none, add) and ScatterND (none, add): data and updates", async () => {
  const x = rand([3, 4]);
  await check("ScatterElements", x, idx([2, 2], [1, 3, 0, 2]), {
    attrs: { axis: 1 },
    updates: rand([2, 2]),
    opset: 13,
  });
  await check("ScatterElements", x, idx([2, 4], [1, 1, 0, 2, 1, 0, 0, 2]), {
    attrs: { reduction: "add" },
    updates: rand([2, 4]),
    opset: 16,
  });
  await check("ScatterND", x, idx([2, 1], [2, 0]), { updates: rand([2, 4]), opset: 13 });
  await check("ScatterND", x, idx([3, 2], [0, 1, 2, 3, 0, 1]), {
    attrs: { reduction: "add" },
    updates: rand([3]),
    opset: 16,
  });
});

test("ScatterElements with reduction max has a clear error", async () => {
  await assert.rejects(
    () =>
      check("ScatterElements", rand([3]), idx([1], [0]), {
        attrs: { reduction: "max" },
        updates: rand([1]),
        opset: 18,
      }),
    /reduction "max"/,
  );
});

test("TopK values: the gradient returns to the chosen positions (largest and smallest)", async () => {
  for (const largest of [1, 0]) {
    const model = makeModel({
      opset: 13,
      inputs: [{ name: "x", dtype: "float64" }],
      outputs: [{ name: "y", dtype: "float64" }],
      initializers: { k: int64([1], [2]) },
      nodes: [
        { op: "TopK", inputs: ["x", "k"], outputs: ["v", "i"], attrs: { axis: 1, largest } },
        { op: "Mul", inputs: ["v", "v"], outputs: ["y"] },
      ],
    });
    // well-separated values, so a finite-difference step never changes which are chosen
    const x = float64([2, 5], [0.1, 0.9, 0.5, -0.3, 0.7, 1.2, -0.8, 0.2, 0.6, -0.1]);
    const r = await gradcheck(model, { x }, { wrt: ["x"], hvp: true });
    assert.ok(r.worst <= 1, r.message);
  }
});
