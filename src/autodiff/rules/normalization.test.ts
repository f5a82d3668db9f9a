import assert from "node:assert/strict";
import { test } from "node:test";
import { makeModel, type NodeSpec } from "../../onnx/make.js";
import type { AttrValue } from "../../onnx/model.js";
import { Random } from "../../tensor/random.js";
import { type DType, float32, float64, type Tensor } from "../../tensor/tensor.js";
import { gradcheck } from "../../testing/gradcheck.js";

const rng = new Random(3);
function rand(dims: number[], lo = -1, hi = 1, dtype: DType = "float64"): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());
  return dtype === "float64" ? float64(dims, values) : float32(dims, values);
}

/**
 * Checks gradient and Hessian-vector product of y = op(…) ⊙ x (the extra factor makes the
 * second derivative mix the rule's output with x) for every wrt input.
 */
async function check(
  label: string,
  node: Omit<NodeSpec, "outputs"> & { outputs?: string[] },
  feeds: Record<string, Tensor>,
  wrt: string[],
  opts: { opset?: number; eps?: number; rtol?: number } = {},
) {
  const dtype = feeds.x!.dtype;
  const model = makeModel({
    opset: opts.opset ?? 17,
    inputs: Object.keys(feeds).map((name) => ({ name, dtype })),
    outputs: [{ name: "y", dtype }],
    nodes: [
      { ...node, outputs: node.outputs ?? ["t"] },
      { op: "Mul", inputs: ["t", "x"], outputs: ["y"] },
    ],
  });
  const r = await gradcheck(model, feeds, { wrt, hvp: true, eps: opts.eps, rtol: opts.rtol });
  assert.ok(r.worst <= 1, `${label}: ${r.message}`);
}

const softmaxCases: { opset: number; dims: number[]; axis?: number }[] = [
  { opset: 11, dims: [2, 3, 4] }, // default axis 1: rows are the flattened [3, 4]
  { opset: 11, dims: [2, 3, 4, 2], axis: 2 },
  { opset: 11, dims: [2, 3, 4], axis: -1 },
  { opset: 9, dims: [2, 3, 4], axis: 0 },
  { opset: 13, dims: [2, 3, 4] }, // default axis −1
  { opset: 13, dims: [2, 3, 4, 2], axis: 1 },
  { opset: 13, dims: [2, 3, 4], axis: -2 },
];

for (const op of ["Softmax", "LogSoftmax"]) {
  for (const c of softmaxCases) {
    test(`${op} opset ${c.opset} axis ${c.axis ?? "default"} on ${JSON.stringify(c.dims)}`, async () => {
      const attrs: Record<string, AttrValue> = c.axis === undefined ? {} : { axis: c.axis };
      await check(
        `${op} ${JSON.stringify(c)}`,
        { op, inputs: ["x"], attrs },
        { x: rand(c.dims, -2, 2) },
        ["x"],
        { opset: c.opset },
      );
    });
  }
}

test("Hardmax has a zero gradient (y = Hardmax(x) ⊙ x has gradient Hardmax(x); float32 only)", async () => {
  for (const opset of [11, 13]) {
    const x = rand([2, 3, 4], -2, 2, "float32");
    await check(
      `Hardmax opset ${opset}`,
      { op: "Hardmax", inputs: ["x"], attrs: { axis: 1 } },
      { x },
      ["x"],
      { opset, eps: 1e-3, rtol: 1e-3 },
    );
  }
});

test("LayerNormalization: axis variants, epsilon, with and without bias; wrt X, scale and bias", async () => {
  const cases: { dims: number[]; axis?: number; epsilon?: number; bias: boolean }[] = [
    { dims: [2, 3, 4], bias: true },
    { dims: [2, 3, 4], axis: 1, epsilon: 0.1, bias: true },
    { dims: [2, 3, 4, 2], axis: -2, bias: false },
    { dims: [3, 5], axis: 0, bias: true },
  ];
  for (const c of cases) {
    const rank = c.dims.length;
    const axis = c.axis === undefined ? rank - 1 : c.axis < 0 ? c.axis + rank : c.axis;
    const normDims = c.dims.slice(axis);
    const attrs: Record<string, AttrValue> = {};
    if (c.axis !== undefined) attrs.axis = c.axis;
    if (c.epsilon !== undefined) attrs.epsilon = c.epsilon;
    const feeds: Record<string, Tensor> = { x: rand(c.dims, -2, 2), s: rand(normDims, 0.5, 1.5) };
    if (c.bias) feeds.bias = rand(normDims);
    const inputs = c.bias ? ["x", "s", "bias"] : ["x", "s"];
    await check(
      `LayerNorm ${JSON.stringify(c)}`,
      { op: "LayerNormalization", inputs, attrs, floats: ["epsilon"] },
      feeds,
      inputs,
    );
  }
});

test("LayerNormalization with a scale broadcast over the normalised axes", async () => {
  const feeds = { x: rand([2, 3, 4], -2, 2), s: rand([1, 4], 0.5, 1.5) };
  await check(
    "LayerNorm scale [1,4]",
    { op: "LayerNormalization", inputs: ["x", "s"], attrs: { axis: 1 } },
    feeds,
    ["x", "s"],
  );
});

test("LayerNormalization when its Mean and InvStdDev outputs are used (float32: their stash type)", async () => {
  // y = (LN(x) + Mean + InvStdDev) ⊙ x: Mean/InvStdDev broadcast on the normalised axes.
  // Mean/InvStdDev are float32 whatever X is, so the check runs in float32 (eps 1e-2, rtol 2e-3).
  const model = makeModel({
    inputs: [
      { name: "x", dtype: "float32" },
      { name: "s", dtype: "float32" },
    ],
    outputs: [{ name: "y", dtype: "float32" }],
    nodes: [
      {
        op: "LayerNormalization",
        inputs: ["x", "s"],
        outputs: ["n", "mean", "rstd"],
        attrs: { axis: 1, epsilon: 0.05 },
        floats: ["epsilon"],
      },
      { op: "Sum", inputs: ["n", "mean", "rstd"], outputs: ["t"] },
      { op: "Mul", inputs: ["t", "x"], outputs: ["y"] },
    ],
  });
  const feeds = { x: rand([2, 3, 4], -2, 2, "float32"), s: rand([3, 4], 0.5, 1.5, "float32") };
  const r = await gradcheck(model, feeds, { wrt: ["x"], hvp: true, eps: 1e-2, rtol: 2e-3 });
  assert.ok(r.worst <= 1, r.message);
});

function batchNormFeeds(dims: number[], dtype: DType = "float64"): Record<string, Tensor> {
  const c = dims[1]!;
  return {
    x: rand(dims, -2, 2, dtype),
    scale: rand([c], 0.5, 1.5, dtype),
    bias: rand([c], -1, 1, dtype),
    mean: rand([c], -0.5, 0.5, dtype),
    var: rand([c], 0.2, 2, dtype),
  };
}

test("BatchNormalization (inference) at opsets 9 and 15, ranks 2, 3 and 4, every input", async () => {
  const inputs = ["x", "scale", "bias", "mean", "var"];
  for (const opset of [9, 15]) {
    for (const dims of [
      [3, 4],
      [2, 3, 5],
      [2, 3, 2, 2],
    ]) {
      await check(
        `BatchNorm opset ${opset} ${JSON.stringify(dims)}`,
        { op: "BatchNormalization", inputs, attrs: { epsilon: 0.01 } },
        batchNormFeeds(dims),
        inputs,
        { opset },
      );
    }
  }
});

test("BatchNormalization in training mode is refused", async () => {
  const inputs = ["x", "scale", "bias", "mean", "var"];
  await assert.rejects(
    check(
      "BatchNorm training",
      { op: "BatchNormalization", inputs, attrs: { training_mode: 1 }, outputs: ["t", "rm", "rv"] },
      batchNormFeeds([4, 3]),
      ["x"],
      {
        opset: 15,
      },
    ),
    /training mode/,
  );
});

test("InstanceNormalization (float32: no float64 kernel) wrt X, scale and bias", async () => {
  const inputs = ["x", "scale", "bias"];
  for (const dims of [
    [2, 3, 5],
    [2, 2, 3, 2],
  ]) {
    const feeds = {
      x: rand(dims, -2, 2, "float32"),
      scale: rand([dims[1]!], 0.5, 1.5, "float32"),
      bias: rand([dims[1]!], -1, 1, "float32"),
    };
    // central differences in float32 at eps 1e-2: truncation ~eps²·f‴ ≈ 1e-4 relative, rounding ~1e-5
    await check(
      `InstanceNorm ${JSON.stringify(dims)}`,
      { op: "InstanceNormalization", inputs, attrs: { epsilon: 0.01 }, floats: ["epsilon"] },
      feeds,
      inputs,
      {
        eps: 1e-2,
        rtol: 2e-3,
      },
    );
  }
});
