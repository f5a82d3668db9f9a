import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeModel } from "../../onnx/codec.js";
import { makeModel } from "../../onnx/make.js";
import type { AttrValue } from "../../onnx/model.js";
import { nodeBackend } from "../../runtime/node.js";
import { probeShapes } from "../../runtime/probe.js";
import { Random } from "../../tensor/random.js";
import { type DType, float32, float64, type Tensor } from "../../tensor/tensor.js";
import { gradcheck } from "../../testing/gradcheck.js";
import { gradientModel } from "../gradient.js";

const rng = new Random(5);

/**
 * Uniform values in [lo, hi] kept at least `gap` away from the op's kinks, so central
 * differences never straddle a point where the derivative jumps.
 */
function sample(
  dtype: DType,
  dims: number[],
  lo: number,
  hi: number,
  kinks: number[] = [],
  gap = 0.1,
): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const values: number[] = [];
  while (values.length < n) {
    const v = lo + (hi - lo) * rng.uniform();
    if (kinks.every((k) => Math.abs(v - k) > gap)) values.push(v);
  }
  return dtype === "float64" ? float64(dims, values) : float32(dims, values);
}

interface Case {
  op: string;
  attrs?: Record<string, AttrValue>;
  floats?: string[];
  opset?: number;
  dtype: DType;
  lo: number;
  hi: number;
  kinks?: number[];
  domain?: string;
}

/**
 * Two models per case: y = op(x), whose gradient seed ⊙ op′(x) and Hessian-vector product
 * seed ⊙ op″(x) ⊙ v are checked elementwise (no other term dilutes an error), and
 * y = op(x)² ⊙ x, whose Hessian-vector product also runs through op′ inside products.
 */
async function check(c: Case) {
  const node = {
    op: c.op,
    inputs: ["x"],
    outputs: ["t"],
    attrs: c.attrs,
    floats: c.floats,
    domain: c.domain,
  };
  const direct = [node, { op: "Identity", inputs: ["t"], outputs: ["y"] }];
  const composite = [
    node,
    { op: "Mul", inputs: ["t", "t"], outputs: ["u"] },
    { op: "Mul", inputs: ["u", "x"], outputs: ["y"] },
  ];
  for (const nodes of [direct, composite]) {
    const model = makeModel({
      opset: c.opset ?? 17,
      inputs: [{ name: "x", dtype: c.dtype }],
      outputs: [{ name: "y", dtype: c.dtype }],
      nodes,
    });
    if (c.domain) model.opsetImport.push({ domain: c.domain, version: 1 });
    const x = sample(c.dtype, [3, 5], c.lo, c.hi, c.kinks);
    // float32 (no float64 kernel in onnxruntime): with eps 1e-2 the truncation error of central
    // differences is ~eps²/6·f‴ ≈ 2e-5 and float32 rounding / eps ≈ 1e-5, so 1e-3 is ample.
    const opts = c.dtype === "float32" ? { eps: 1e-2, rtol: 1e-3 } : {};
    const r = await gradcheck(model, { x }, { wrt: ["x"], hvp: true, ...opts });
    assert.ok(
      r.worst <= 1,
      `${c.op} ${JSON.stringify(c.attrs ?? {})} opset ${c.opset ?? 17} (${nodes.length} nodes): ${r.message}`,
    );
  }
}

const cases: Case[] = [
  { op: "Relu", dtype: "float64", lo: -2, hi: 2, kinks: [0] },
  { op: "Relu", dtype: "float64", lo: -2, hi: 2, kinks: [0], opset: 9 },
  { op: "LeakyRelu", dtype: "float64", lo: -2, hi: 2, kinks: [0] },
  // LeakyRelu has a float64 kernel only from opset 16
  { op: "LeakyRelu", attrs: { alpha: 0.3 }, dtype: "float32", lo: -2, hi: 2, kinks: [0], opset: 9 },
  { op: "Sigmoid", dtype: "float64", lo: -3, hi: 3 },
  { op: "Tanh", dtype: "float64", lo: -2, hi: 2 },
  { op: "Tanh", dtype: "float64", lo: -2, hi: 2, opset: 9 },
  { op: "Elu", dtype: "float32", lo: -2, hi: 2, kinks: [0] },
  { op: "Elu", attrs: { alpha: 0.5 }, dtype: "float32", lo: -2, hi: 2, kinks: [0] },
  { op: "Selu", dtype: "float32", lo: -2, hi: 2, kinks: [0] },
  {
    op: "Selu",
    attrs: { alpha: 1.5, gamma: 2 },
    floats: ["gamma"],
    dtype: "float32",
    lo: -2,
    hi: 2,
    kinks: [0],
  },
  { op: "Softplus", dtype: "float32", lo: -3, hi: 3 },
  { op: "ThresholdedRelu", dtype: "float32", lo: -2, hi: 3, kinks: [1] },
  { op: "ThresholdedRelu", attrs: { alpha: 0.5 }, dtype: "float32", lo: -2, hi: 3, kinks: [0.5] },
  { op: "Celu", opset: 12, dtype: "float32", lo: -2, hi: 2, kinks: [0] },
  {
    op: "Celu",
    opset: 12,
    attrs: { alpha: 2 },
    floats: ["alpha"],
    dtype: "float32",
    lo: -2,
    hi: 2,
    kinks: [0],
  },
  { op: "Mish", opset: 18, dtype: "float32", lo: -3, hi: 3 },
  { op: "Softsign", dtype: "float32", lo: -2, hi: 2, kinks: [0] },
  { op: "Erf", dtype: "float32", lo: -2, hi: 2 },
  { op: "Gelu", opset: 20, dtype: "float32", lo: -3, hi: 3 },
  { op: "Gelu", opset: 20, attrs: { approximate: "tanh" }, dtype: "float32", lo: -3, hi: 3 },
  { op: "Gelu", opset: 13, domain: "com.microsoft", dtype: "float32", lo: -3, hi: 3 },
  { op: "HardSigmoid", dtype: "float32", lo: -4, hi: 4, kinks: [-2.5, 2.5] },
  {
    op: "HardSigmoid",
    attrs: { alpha: 0.3, beta: 0.4 },
    dtype: "float32",
    lo: -4,
    hi: 4,
    kinks: [-4 / 3, 2],
  },
  { op: "HardSwish", opset: 14, dtype: "float32", lo: -5, hi: 5, kinks: [-3, 3] },
];

for (const c of cases) {
  test(`${c.domain ? `${c.domain}.` : ""}${c.op} ${JSON.stringify(c.attrs ?? {})} opset ${c.opset ?? 17} (${c.dtype}): gradient and Hessian-vector product`, async () => {
    await check(c);
  });
}

test("PRelu: gradient to x and to a broadcast slope", async () => {
  for (const slopeDims of [[5], [3, 1], [1]]) {
    const model = makeModel({
      inputs: [
        { name: "x", dtype: "float64" },
        { name: "s", dtype: "float64" },
      ],
      outputs: [{ name: "y", dtype: "float64" }],
      nodes: [
        { op: "PRelu", inputs: ["x", "s"], outputs: ["t"] },
        { op: "Mul", inputs: ["t", "t"], outputs: ["y"] },
      ],
    });
    const feeds = { x: sample("float64", [3, 5], -2, 2, [0]), s: sample("float64", slopeDims, 0.1, 0.5) };
    const r = await gradcheck(model, feeds, { wrt: ["x", "s"], hvp: true });
    assert.ok(r.worst <= 1, `slope ${JSON.stringify(slopeDims)}: ${r.message}`);
  }
});

test("Relu gradient is the closed form seed ⊙ 1[x > 0] (no finite differences)", async () => {
  const model = makeModel({
    inputs: [{ name: "x", dtype: "float64" }],
    outputs: [{ name: "y", dtype: "float64" }],
    nodes: [{ op: "Relu", inputs: ["x"], outputs: ["y"] }],
  });
  const x = float64([6], [-1, -0.5, 0.25, 2, -3, 4]);
  const seed = float64([6], [1, 2, 3, 4, 5, 6]);
  const backend = nodeBackend();
  const gm = gradientModel(model, { wrt: ["x"], shapes: await probeShapes(backend, model, { x }) });
  const session = await backend.createSession(encodeModel(gm.model));
  try {
    const out = await session.run({ x, [gm.seeds[0]!]: seed }, gm.gradients);
    assert.deepEqual(Array.from(out[gm.gradients[0]!]!.data as Float64Array), [0, 0, 3, 4, 0, 6]);
  } finally {
    await session.dispose();
  }
});

/** A Conv followed by ReLU6 as torch exports it (Clip with constant bounds, opset 13). */
function convRelu6(dtype: "float32" | "float64", withConv: boolean) {
  const make = dtype === "float64" ? float64 : float32;
  return makeModel({
    opset: 13,
    inputs: [{ name: "x", dtype, dims: ["N", 2, 4, 4] }],
    outputs: [{ name: "y", dtype }],
    initializers: {
      w: make([2, 2, 1, 1], [1.5, -0.5, 0.25, 2]),
      lo: make([], [0]),
      hi: make([], [6]),
    },
    nodes: [
      ...(withConv ? [{ op: "Conv", inputs: ["x", "w"], outputs: ["a"] }] : []),
      { op: "Clip", inputs: [withConv ? "a" : "x", "lo", "hi"], outputs: ["y"] },
    ],
  });
}

test("Clip with constant bounds (ReLU6): gradient read off the output only, checked by finite differences", async () => {
  const model = convRelu6("float32", true);
  const backend = nodeBackend();
  const x = sample("float32", [2, 2, 4, 4], -3, 5, [0], 0.3);
  const gm = gradientModel(model, { wrt: ["x"], shapes: await probeShapes(backend, model, { x }) });
  // the Clip's input is read by the forward Clip only, so onnxruntime can fuse Conv+Clip
  const readers = gm.model.graph!.node.filter((n) => n.input.includes("a")).map((n) => n.opType);
  assert.deepEqual(readers, ["Clip"]);
  const r = await gradcheck(model, { x }, { wrt: ["x"], eps: 1e-2, rtol: 1e-2 });
  assert.ok(r.worst <= 1, r.message);
});

test("Clip with constant bounds: seed ⊙ 1[lo < x < hi], 0 on the bounds as torch's relu6 (closed form)", async () => {
  const model = convRelu6("float64", false);
  const x = float64(
    [1, 2, 4, 4],
    [0, 6, -1, 7, 0.5, 5.5, 3, -0.25, 6.5, 1e-9, 6 - 1e-9, 2, 4, -6, 12, 0.1, ...new Array(16).fill(1)],
  );
  const seed = float64(
    [1, 2, 4, 4],
    Array.from({ length: 32 }, (_, i) => i + 1),
  );
  const backend = nodeBackend();
  const gm = gradientModel(model, { wrt: ["x"], shapes: await probeShapes(backend, model, { x }) });
  const session = await backend.createSession(encodeModel(gm.model));
  try {
    const out = await session.run({ x, [gm.seeds[0]!]: seed }, gm.gradients);
    const expected = Array.from(x.data as Float64Array, (v, i) => (v > 0 && v < 6 ? i + 1 : 0));
    assert.deepEqual(Array.from(out[gm.gradients[0]!]!.data as Float64Array), expected);
  } finally {
    await session.dispose();
  }
});
