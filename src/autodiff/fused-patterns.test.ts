import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeModel } from "../onnx/codec.js";
import { makeModel, type NodeSpec } from "../onnx/make.js";
import { opsetOf } from "../onnx/model.js";
import type { ModelProto } from "../onnx/types.js";
import { nodeBackend } from "../runtime/node.js";
import { probeShapes } from "../runtime/probe.js";
import { Random } from "../tensor/random.js";
import { type DType, float32, float64, type Tensor, tensor } from "../tensor/tensor.js";
import { gradcheck } from "../testing/gradcheck.js";
import { constantValues } from "./constants.js";
import { findFusedGradients } from "./fused-patterns.js";
import { gradientModel } from "./gradient.js";

const rng = new Random(11);
function rand(dims: number[], dtype: DType = "float64", lo = -2, hi = 2): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());
  return dtype === "float64" ? float64(dims, values) : float32(dims, values);
}
const scalar = (dtype: DType, v: number) =>
  dtype === "float64" ? tensor("float64", [], Float64Array.of(v)) : tensor("float32", [], Float32Array.of(v));

/** The kinds of subgraph the transform recognises in `model` (shapes from a probe at `feeds`). */
async function kinds(model: ModelProto, feeds: Record<string, Tensor>): Promise<string[]> {
  const shapes = await probeShapes(nodeBackend(), model, feeds);
  const graph = model.graph!;
  const constant = constantValues(graph);
  const found = findFusedGradients({
    order: graph.node,
    pinned: new Set(graph.output.map((o) => o.name!)),
    depends: (n) => !constant(n),
    constant,
    rank: (n) => shapes.get(n)!.dims.length,
    dims: (n) => shapes.get(n)!.dims,
    opset: opsetOf(model),
  });
  return [...found.values()].map((f) => f.kind).sort();
}

/** PyTorch's opset-14 LayerNorm export over the last axis, then ⊙ w + bias, then ⊙ x (mixes second derivatives). */
function layerNormModel(dtype: DType, extraOutput?: string): ModelProto {
  const nodes: NodeSpec[] = [
    { op: "ReduceMean", inputs: ["x"], outputs: ["mean"], attrs: { axes: [-1] } },
    { op: "Sub", inputs: ["x", "mean"], outputs: ["xc"] },
    { op: "Pow", inputs: ["xc", "two"], outputs: ["sq"] },
    { op: "ReduceMean", inputs: ["sq"], outputs: ["var"], attrs: { axes: [-1] } },
    { op: "Add", inputs: ["var", "eps"], outputs: ["ve"] },
    { op: "Sqrt", inputs: ["ve"], outputs: ["sigma"] },
    { op: "Div", inputs: ["xc", "sigma"], outputs: ["xhat"] },
    { op: "Mul", inputs: ["xhat", "w"], outputs: ["scaled"] },
    { op: "Add", inputs: ["scaled", "bias"], outputs: ["ln"] },
    { op: "Mul", inputs: ["ln", "x"], outputs: ["y"] },
  ];
  return makeModel({
    opset: 14,
    inputs: [{ name: "x", dtype }],
    outputs: [{ name: "y", dtype }, ...(extraOutput ? [{ name: extraOutput, dtype }] : [])],
    nodes,
    initializers: {
      two: scalar(dtype, 2),
      eps: scalar(dtype, 1e-5),
      w: rand([6], dtype, 0.5, 1.5),
      bias: rand([6], dtype),
    },
  });
}

test("exported LayerNorm: recognised, gradient and Hessian-vector product match finite differences (float64)", async () => {
  const model = layerNormModel("float64");
  const x = rand([2, 3, 6]);
  assert.deepEqual(await kinds(model, { x }), ["layer-norm"]);
  const r = await gradcheck(model, { x }, { wrt: ["x"], hvp: true });
  assert.ok(r.worst <= 1, r.message);
});

test("exported LayerNorm whose σ is also a graph output is differentiated node by node, still correctly", async () => {
  const model = layerNormModel("float64", "sigma");
  const x = rand([2, 3, 6]);
  assert.deepEqual(await kinds(model, { x }), []);
  const r = await gradcheck(model, { x }, { wrt: ["x"], outputs: ["y"] });
  assert.ok(r.worst <= 1, r.message);
});

/** PyTorch's exact Gelu export: (x·½)·(1 + erf(x/√2)), then ⊙ x. */
function geluModel(half = 0.5, mulFirst = true, offset = 1): ModelProto {
  return makeModel({
    opset: 14,
    inputs: [{ name: "x", dtype: "float32" }],
    outputs: [{ name: "y", dtype: "float32" }],
    nodes: [
      { op: "Mul", inputs: mulFirst ? ["x", "half"] : ["half", "x"], outputs: ["h"] },
      { op: "Div", inputs: ["x", "root2"], outputs: ["t"] },
      { op: "Erf", inputs: ["t"], outputs: ["e"] },
      { op: "Add", inputs: ["e", "one"], outputs: ["a"] },
      { op: "Mul", inputs: mulFirst ? ["h", "a"] : ["a", "h"], outputs: ["gelu"] },
      { op: "Mul", inputs: ["gelu", "x"], outputs: ["y"] },
    ],
    initializers: {
      half: scalar("float32", half),
      root2: scalar("float32", Math.SQRT2),
      one: scalar("float32", offset),
    },
  });
}

/** erf by its Taylor series (float64; |z| ≤ 3 here). */
function erf(z: number): number {
  let term = z;
  let sum = z;
  for (let n = 1; n < 80; n++) {
    term *= (-z * z) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

test("exported exact Gelu: recognised; gradient matches the closed form c·(1 + erf(x/√2)) + c·x·√(2/π)·e^(−x²/2) (+ the ⊙ x factor)", async () => {
  for (const [c, mulFirst] of [
    [0.5, true],
    [0.7, false],
  ] as const) {
    const model = geluModel(c, mulFirst);
    const x = rand([3, 40], "float32", -3, 3);
    assert.deepEqual(await kinds(model, { x }), ["gelu-erf"]);
    const shapes = await probeShapes(nodeBackend(), model, { x });
    const gm = gradientModel(model, { wrt: ["x"], outputs: ["y"], shapes });
    const session = await nodeBackend().createSession(encodeModel(gm.model));
    const seed = float32([3, 40], new Array(120).fill(1));
    const out = await session.run({ x, [gm.seeds[0]!]: seed }, gm.gradients);
    await session.dispose();
    const got = out[gm.gradients[0]!]!.data as Float32Array;
    (x.data as Float32Array).forEach((v, i) => {
      const gelu = c * v * (1 + erf(v / Math.SQRT2));
      const slope = c * (1 + erf(v / Math.SQRT2)) + c * v * Math.sqrt(2 / Math.PI) * Math.exp((-v * v) / 2);
      const want = gelu + v * slope; // d/dx (gelu(x)·x)
      assert.ok(Math.abs(got[i]! - want) <= 1e-5 * (1 + Math.abs(want)), `x=${v}: ${got[i]} vs ${want}`);
    });
    // and its Hessian-vector product against finite differences of the gradient (float32 steps)
    const r = await gradcheck(model, { x }, { wrt: ["x"], hvp: true, eps: 1e-2, rtol: 2e-2 });
    assert.ok(r.worst <= 1, r.message);
  }
});

test("a Gelu-like subgraph with a negative scale or a non-unit offset is not taken for a Gelu", async () => {
  assert.deepEqual(await kinds(geluModel(-0.5), { x: rand([2, 5], "float32") }), []);
  assert.deepEqual(await kinds(geluModel(0.5, true, 2), { x: rand([2, 5], "float32") }), []);
});

/** Attention's core: O = Softmax(S)·V, then ⊙ O (mixes second derivatives). */
function attentionModel(opset: number, axis?: number, pOutput = false): ModelProto {
  return makeModel({
    opset,
    inputs: [
      { name: "s", dtype: "float64" },
      { name: "v", dtype: "float64" },
    ],
    outputs: [
      { name: "y", dtype: "float64" },
      ...(pOutput ? [{ name: "p", dtype: "float64" as const }] : []),
    ],
    nodes: [
      { op: "Softmax", inputs: ["s"], outputs: ["p"], attrs: axis === undefined ? {} : { axis } },
      { op: "MatMul", inputs: ["p", "v"], outputs: ["o"] },
      { op: "Mul", inputs: ["o", "o"], outputs: ["y"] },
    ],
  });
}

test("Softmax→MatMul (attention): recognised; gradients wrt scores and values and the HVP match finite differences", async () => {
  for (const [opset, axis] of [
    [14, undefined],
    [14, 3],
    [11, -1],
  ] as const) {
    const model = attentionModel(opset, axis);
    const feeds = { s: rand([2, 3, 4, 5]), v: rand([2, 3, 5, 2]) };
    assert.deepEqual(await kinds(model, feeds), ["softmax-matmul"], `opset ${opset} axis ${axis}`);
    const r = await gradcheck(model, feeds, { wrt: ["s", "v"], hvp: true });
    assert.ok(r.worst <= 1, `opset ${opset} axis ${axis}: ${r.message}`);
  }
});

test("Softmax→MatMul outside the pattern (other axis, broadcast V, P used elsewhere) stays node by node and correct", async () => {
  const cases: [ModelProto, Record<string, Tensor>][] = [
    [attentionModel(14, 2), { s: rand([2, 3, 5, 5]), v: rand([2, 3, 5, 2]) }],
    [attentionModel(11), { s: rand([2, 3, 4, 5]), v: rand([2, 3, 5, 2]) }], // axis 1 before opset 13
    [attentionModel(14), { s: rand([2, 3, 4, 5]), v: rand([1, 3, 5, 2]) }],
    [attentionModel(14, undefined, true), { s: rand([2, 3, 4, 5]), v: rand([2, 3, 5, 2]) }],
  ];
  for (const [model, feeds] of cases) {
    assert.deepEqual(await kinds(model, feeds), []);
    const r = await gradcheck(model, feeds, { wrt: ["s", "v"], outputs: ["y"] });
    assert.ok(r.worst <= 1, r.message);
  }
});
