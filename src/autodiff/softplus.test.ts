import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeModel } from "../onnx/codec.js";
import { makeModel } from "../onnx/make.js";
import { opsetOf } from "../onnx/model.js";
import type { ModelProto } from "../onnx/types.js";
import { nodeBackend } from "../runtime/node.js";
import { probeShapes } from "../runtime/probe.js";
import { Random } from "../tensor/random.js";
import { type DType, float32, float64, type Tensor } from "../tensor/tensor.js";
import { gradcheck } from "../testing/gradcheck.js";
import { gradientModel } from "./gradient.js";
import { softplusRewrite } from "./softplus.js";

const backend = nodeBackend();
const rng = new Random(21);
function rand(dtype: DType, dims: number[], scale = 1): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, () => scale * rng.normal());
  return dtype === "float64" ? float64(dims, v) : float32(dims, v);
}

/** x[4,3] → MatMul W1[3,6] + b1 → Relu (h, also an output) → MatMul W2[6,2] → y. */
function reluMlp(dtype: DType, opset = 17): { model: ModelProto; w2: Tensor } {
  const w2 = rand(dtype, [6, 2]);
  const model = makeModel({
    opset,
    inputs: [{ name: "x", dtype }],
    outputs: [
      { name: "y", dtype },
      { name: "h", dtype },
    ],
    initializers: { w1: rand(dtype, [3, 6]), b1: rand(dtype, [6], 0.5), w2 },
    nodes: [
      { op: "MatMul", inputs: ["x", "w1"], outputs: ["z0"] },
      { op: "Add", inputs: ["z0", "b1"], outputs: ["z"] },
      { op: "Relu", inputs: ["z"], outputs: ["h"], name: "relu" },
      { op: "MatMul", inputs: ["h", "w2"], outputs: ["y"] },
    ],
  });
  return { model, w2 };
}

async function run(
  model: ModelProto,
  feeds: Record<string, Tensor>,
  fetch: string[],
): Promise<Record<string, Tensor>> {
  const s = await backend.createSession(encodeModel(model));
  try {
    return await s.run(feeds, fetch);
  } finally {
    await s.dispose();
  }
}

/** H·v of Σ seed ⊙ y with respect to x, from the transform applied twice. */
async function hvp(model: ModelProto, x: Tensor, seed: Tensor, v: Tensor): Promise<Float64Array> {
  const g = gradientModel(model, {
    wrt: ["x"],
    outputs: ["y"],
    shapes: await probeShapes(backend, model, { x }),
  });
  const feeds1 = { x, [g.seeds[0]!]: seed };
  const h = gradientModel(g.model, {
    wrt: ["x"],
    outputs: g.gradients,
    shapes: await probeShapes(backend, g.model, feeds1),
    keepOutputs: false,
  });
  const out = await run(h.model, { ...feeds1, [h.seeds[0]!]: v }, h.gradients);
  return Float64Array.from(out[h.gradients[0]!]!.data as ArrayLike<number>);
}

for (const dtype of ["float64", "float32"] as const) {
  test(`softplusRewrite (${dtype}): 0 ≤ softplus(βz)/β − relu(z) ≤ log(2)/β per unit, and the output gap shrinks as β grows`, async () => {
    const { model, w2 } = reluMlp(dtype);
    const x = rand(dtype, [4, 3]);
    const ref = await run(model, { x }, ["y", "h"]);
    const w2AbsColSum = [0, 1].map((k) =>
      Array.from({ length: 6 }, (_, j) => Math.abs(w2.data[j * 2 + k] as number)).reduce((a, b) => a + b, 0),
    );
    // float32 rounding of values of size ~3 is ~4e-7
    const slack = dtype === "float32" ? 1e-5 : 1e-12;
    let previous = Infinity;
    for (const beta of [1, 10, 100, 1000]) {
      const out = await run(softplusRewrite(model, beta), { x }, ["y", "h"]);
      const bound = Math.log(2) / beta;
      const h0 = ref.h!.data as ArrayLike<number>;
      const h1 = out.h!.data as ArrayLike<number>;
      for (let i = 0; i < h0.length; i++) {
        const gap = h1[i]! - h0[i]!;
        assert.ok(
          gap >= -slack && gap <= bound + slack,
          `β=${beta} unit ${i}: gap ${gap} outside [0, ${bound}]`,
        );
      }
      let worst = 0;
      const y0 = ref.y!.data as ArrayLike<number>;
      const y1 = out.y!.data as ArrayLike<number>;
      for (let i = 0; i < y0.length; i++) {
        const gap = Math.abs(y1[i]! - y0[i]!);
        assert.ok(gap <= bound * w2AbsColSum[i % 2]! + slack, `β=${beta} output ${i}: gap ${gap}`);
        worst = Math.max(worst, gap);
      }
      assert.ok(
        worst < previous || worst < slack,
        `gap did not shrink at β=${beta}: ${worst} vs ${previous}`,
      );
      previous = worst;
    }
  });
}

test("softplusRewrite: the Hessian-vector product is zero for Relu and non-zero after the rewrite", async () => {
  const { model } = reluMlp("float64");
  const x = rand("float64", [4, 3]);
  const seed = rand("float64", [4, 2]);
  const v = rand("float64", [4, 3]);
  const hRelu = await hvp(model, x, seed, v);
  assert.ok(
    hRelu.every((e) => e === 0),
    `Relu Hv should vanish: ${Array.from(hRelu)}`,
  );
  const hSoft = await hvp(softplusRewrite(model, 2), x, seed, v);
  assert.ok(Math.max(...hSoft.map(Math.abs)) > 1e-3, `softplus Hv should not vanish: ${Array.from(hSoft)}`);
});

for (const [dtype, opset] of [
  ["float64", 17],
  ["float64", 11],
  ["float32", 9],
] as const) {
  test(`softplusRewrite (${dtype}, opset ${opset}): gradient and Hessian-vector product match finite differences`, async () => {
    const { model } = reluMlp(dtype, opset);
    const smooth = softplusRewrite(model, 3);
    assert.equal(opsetOf(smooth), opset);
    const opts = dtype === "float32" ? { eps: 1e-2, rtol: 2e-3 } : {};
    const r = await gradcheck(
      smooth,
      { x: rand(dtype, [4, 3]) },
      { wrt: ["x"], outputs: ["y"], hvp: true, ...opts },
    );
    assert.ok(r.worst <= 1, r.message);
  });
}

test("softplusRewrite: structure (no Relu left, names unique, Relu outputs kept, float64 form overflow-free)", async () => {
  const model = makeModel({
    opset: 13,
    inputs: [{ name: "x", dtype: "float64" }],
    outputs: [{ name: "y", dtype: "float64" }],
    nodes: [
      { op: "Relu", inputs: ["x"], outputs: ["a"], name: "r" },
      { op: "Relu", inputs: ["a"], outputs: ["r/scaled"], name: "r2" }, // a name the rewrite would pick
      { op: "Relu", inputs: ["r/scaled"], outputs: ["y"] },
    ],
  });
  const smooth = softplusRewrite(model, 10);
  const g = smooth.graph!;
  assert.equal(g.node.filter((n) => n.opType === "Relu").length, 0);
  assert.equal(g.node.filter((n) => n.opType === "Softplus").length, 0, "float64 uses the decomposed form");
  const names = [
    ...g.node.map((n) => n.name!),
    ...g.node.flatMap((n) => n.output),
    ...g.initializer.map((t) => t.name!),
  ];
  assert.equal(new Set(names).size, names.length, "node and tensor names are unique");
  assert.deepEqual(
    model.graph!.node.map((n) => n.opType),
    ["Relu", "Relu", "Relu"],
    "input model untouched",
  );
  // large inputs: softplus(βz)/β = z exactly in float64, no overflow of Exp
  const x = float64([4], [1000, -1000, 0, 0.05]);
  const y = (await run(smooth, { x }, ["y"])).y!.data as Float64Array;
  const sp = (z: number) => Math.log1p(Math.exp(-Math.abs(10 * z))) / 10 + Math.max(z, 0);
  const expected = Array.from(x.data as Float64Array, (z) => sp(sp(sp(z))));
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(y[i]! - expected[i]!) < 1e-12, `${y[i]} vs ${expected[i]}`);
  // float32 models use the Softplus op
  const f32 = softplusRewrite(reluMlp("float32").model, 10);
  assert.equal(f32.graph!.node.filter((n) => n.opType === "Softplus").length, 1);
});
