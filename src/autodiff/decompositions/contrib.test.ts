/**
 * Each com.microsoft op alone in a model: the rewritten forward matches onnxruntime's own kernel
 * (≤ 1e-5 relative), and the gradient matches central differences of onnxruntime's forward of the
 * original op (float32: step 1e-3, 2 % of the largest difference).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { makeModel, type NodeSpec, type ValueSpec } from "../../onnx/make.js";
import type { AttrValue } from "../../onnx/model.js";
import { Random } from "../../tensor/random.js";
import { float32, type Tensor, tensor } from "../../tensor/tensor.js";
import { checkDecomposition } from "../../testing/contrib-check.js";

const rng = new Random(21);
const MS = "com.microsoft";

function randn(dims: number[], scale = 1, offset = 0): Tensor<"float32"> {
  const n = dims.reduce((a, b) => a * b, 1);
  return float32(
    dims,
    Array.from({ length: n }, () => offset + scale * rng.normal()),
  );
}

interface OpCase {
  op: string;
  inputs: Record<string, Tensor | null>;
  /** Names of the graph inputs (the rest are initializers). */
  feeds: string[];
  outputs: ValueSpec[];
  attrs?: Record<string, AttrValue>;
  floats?: string[];
  opset?: number;
  domain?: string;
  wrt?: string[];
  /** Finite-difference step (default 1e-3; smaller for inputs with a tiny spread). */
  eps?: number;
  reference?: (feeds: Record<string, Tensor>, inits: Record<string, Tensor>) => Tensor;
}

async function check(c: OpCase) {
  const node: NodeSpec = {
    op: c.op,
    domain: c.domain ?? MS,
    inputs: Object.entries(c.inputs).map(([k, v]) => (v ? k : "")),
    outputs: c.outputs.map((o) => o.name),
    attrs: c.attrs,
    floats: c.floats,
  };
  const present = Object.entries(c.inputs).filter(([, v]) => v) as [string, Tensor][];
  const model = makeModel({
    opset: c.opset ?? 17,
    inputs: present
      .filter(([k]) => c.feeds.includes(k))
      .map(([k, v]) => ({ name: k, dtype: v.dtype, dims: [...v.dims] })),
    outputs: c.outputs,
    nodes: [node],
    initializers: Object.fromEntries(present.filter(([k]) => !c.feeds.includes(k))),
  });
  model.opsetImport.push({ domain: MS, version: 1 });
  const feeds = Object.fromEntries(present.filter(([k]) => c.feeds.includes(k)));
  const inits = Object.fromEntries(present);
  const reference = c.reference;
  const r = await checkDecomposition(model, feeds, {
    wrt: c.wrt ?? [c.feeds[0]!],
    eps: c.eps,
    reference: reference ? (f) => ({ [c.outputs[0]!.name]: reference(f, inits) }) : undefined,
  });
  const label = `${c.op} ${JSON.stringify(c.attrs ?? {})}`;
  assert.ok(!r.ops.some((o) => o.startsWith(MS)), `${label}: contrib ops left: ${r.ops.join(", ")}`);
  assert.ok(r.forward <= 1e-5, `${label}: forward differs from onnxruntime by ${r.forward}`);
  assert.ok(r.gradient <= 1, `${label}: ${r.message}`);
}

const out = (name: string, dims: number[]): ValueSpec => ({ name, dtype: "float32", dims });

test("FusedConv: every fused activation, bias and the residual input Z", async () => {
  const acts: [string, number[]][] = [
    ["Relu", []],
    ["LeakyRelu", [0.2]],
    ["Clip", [-0.5, 0.7]],
    ["HardSigmoid", [0.25, 0.45]],
    ["Sigmoid", []],
    ["Tanh", []],
  ];
  for (const [activation, params] of acts) {
    const attrs: Record<string, AttrValue> = { activation, pads: [1, 1, 1, 1], strides: [1, 2] };
    if (params.length) attrs.activation_params = params;
    await check({
      op: "FusedConv",
      inputs: {
        x: randn([1, 2, 5, 6]),
        w: randn([3, 2, 3, 3], 0.3),
        b: randn([3], 0.1),
        z: randn([1, 3, 5, 3], 0.3),
      },
      feeds: ["x", "z"],
      outputs: [out("y", [1, 3, 5, 3])],
      attrs,
      floats: ["activation_params"],
      wrt: ["x", "z"],
    });
  }
});

test("FusedGemm (alpha, beta, transB, LeakyRelu) and FusedMatMul (alpha, transposes, batch transposes)", async () => {
  await check({
    op: "FusedGemm",
    inputs: { a: randn([3, 4]), b: randn([5, 4]), c: randn([5]) },
    feeds: ["a"],
    outputs: [out("y", [3, 5])],
    attrs: { transB: 1, alpha: 0.7, beta: 1.3, activation: "LeakyRelu", activation_alpha: 0.1 },
    floats: ["alpha", "beta", "activation_alpha"],
  });
  await check({
    op: "FusedMatMul",
    inputs: { a: randn([2, 4, 3]), b: randn([2, 5, 4]) },
    feeds: ["a", "b"],
    outputs: [out("y", [2, 3, 5])],
    attrs: { transA: 1, transB: 1, alpha: 0.5 },
    floats: ["alpha"],
    wrt: ["a", "b"],
  });
  await check({
    op: "FusedMatMul",
    inputs: { a: randn([3, 2, 4]), b: randn([2, 4, 5]) },
    feeds: ["a", "b"],
    outputs: [out("y", [2, 3, 5])],
    attrs: { transBatchA: 1, alpha: 1.5 },
    floats: ["alpha"],
    wrt: ["a", "b"],
  });
});

test("FastGelu, BiasGelu, QuickGelu, BiasAdd", async () => {
  await check({ op: "FastGelu", inputs: { x: randn([2, 6], 2) }, feeds: ["x"], outputs: [out("y", [2, 6])] });
  await check({
    op: "FastGelu",
    inputs: { x: randn([2, 6], 2), bias: randn([6]) },
    feeds: ["x"],
    outputs: [out("y", [2, 6])],
  });
  await check({
    op: "BiasGelu",
    inputs: { x: randn([2, 6], 2), bias: randn([6]) },
    feeds: ["x"],
    outputs: [out("y", [2, 6])],
  });
  await check({
    op: "QuickGelu",
    inputs: { x: randn([2, 6], 2) },
    feeds: ["x"],
    outputs: [out("y", [2, 6])],
  });
  await check({
    op: "QuickGelu",
    inputs: { x: randn([2, 6], 2) },
    feeds: ["x"],
    outputs: [out("y", [2, 6])],
    attrs: { alpha: 1.2 },
    floats: ["alpha"],
  });
});

test("SkipLayerNormalization / SkipSimplifiedLayerNormalization: optional beta and bias, default ε, the sum output", async () => {
  // a tiny spread makes ε matter: a wrong default would show in the forward
  const x = randn([2, 3, 8], 1e-3);
  const skip = randn([2, 3, 8], 1e-3);
  await check({
    op: "SkipLayerNormalization",
    inputs: { x, skip, gamma: randn([8]), beta: randn([8]), bias: randn([8], 1e-3) },
    feeds: ["x", "skip"],
    outputs: [out("y", [2, 3, 8])],
    wrt: ["x", "skip"],
    eps: 1e-6,
  });
  await check({
    op: "SkipLayerNormalization",
    inputs: { x: randn([2, 3, 8]), skip: randn([1, 3, 8]), gamma: randn([8]) },
    feeds: ["x"],
    outputs: [out("y", [2, 3, 8]), out("mean", [2, 3, 1]), out("inv", [2, 3, 1]), out("sum", [2, 3, 8])],
    attrs: { epsilon: 1e-5 },
    floats: ["epsilon"],
  });
  await check({
    op: "SkipSimplifiedLayerNormalization",
    inputs: {
      x: randn([2, 3, 8], 1e-3),
      skip: randn([2, 3, 8], 1e-3),
      gamma: randn([8]),
      bias: randn([8], 1e-3),
    },
    feeds: ["x"],
    outputs: [out("y", [2, 3, 8])],
    eps: 1e-6,
  });
});

test("SimplifiedLayerNormalization (onnxruntime's ONNX-domain op), LayerNormalization below opset 17", async () => {
  await check({
    op: "SimplifiedLayerNormalization",
    domain: "",
    inputs: { x: randn([2, 3, 8], 1e-3), scale: randn([8]) },
    feeds: ["x"],
    outputs: [out("y", [2, 3, 8])],
    eps: 1e-6,
  });
  await check({
    op: "LayerNormalization",
    domain: "",
    opset: 13,
    inputs: { x: randn([2, 3, 8], 1e-3), scale: randn([8]), b: randn([8]) },
    feeds: ["x"],
    outputs: [out("y", [2, 3, 8])],
    eps: 1e-6,
  });
});

/** Elementwise over broadcast operands (numpy rules) in float64. */
function broadcast(dims: number[], parts: Tensor[], f: (v: number[]) => number): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const vals = parts.map((t) => {
      let rem = i;
      let idx = 0;
      let stride = 1;
      for (let k = dims.length - 1; k >= 0; k--) {
        const coord = rem % dims[k]!;
        rem = Math.floor(rem / dims[k]!);
        const tk = k - (dims.length - t.dims.length);
        if (tk < 0) continue;
        if (t.dims[tk] !== 1) idx += coord * stride;
        stride *= t.dims[tk]!;
      }
      return Number(t.data[idx]);
    });
    out[i] = f(vals);
  }
  return float32(dims, out);
}

// onnxruntime's CPU build has no kernel for these (CUDA fusions): references by hand
test("BiasAdd, BiasSoftmax, NhwcConv against hand-written references", async () => {
  await check({
    op: "BiasAdd",
    inputs: { x: randn([2, 3, 4]), bias: randn([4]), skip: randn([2, 3, 4]) },
    feeds: ["x", "skip"],
    outputs: [out("y", [2, 3, 4])],
    wrt: ["x", "skip"],
    reference: (f, i) => broadcast([2, 3, 4], [f.x!, i.bias!, f.skip!], ([a, b, c]) => a! + b! + c!),
  });
  await check({
    op: "BiasSoftmax",
    inputs: { x: randn([2, 2, 3, 5]), bias: randn([2, 1, 3, 5]) },
    feeds: ["x"],
    outputs: [out("y", [2, 2, 3, 5])],
    attrs: { axis: -1, is_inner_broadcast: 1 },
    reference: (f, i) => {
      const s = broadcast([2, 2, 3, 5], [f.x!, i.bias!], ([a, b]) => a! + b!);
      const d = s.data as Float32Array;
      for (let r = 0; r < d.length; r += 5) {
        const row = Array.from(d.subarray(r, r + 5));
        const m = Math.max(...row);
        const e = row.map((v) => Math.exp(v - m));
        const z = e.reduce((a, b) => a + b, 0);
        e.forEach((v, k) => {
          d[r + k] = v / z;
        });
      }
      return s;
    },
  });
  await check({
    op: "NhwcConv",
    inputs: { x: randn([1, 5, 6, 2]), w: randn([3, 2, 3, 3], 0.3), b: randn([3]) },
    feeds: ["x"],
    outputs: [out("y", [1, 5, 6, 3])],
    attrs: { pads: [1, 1, 1, 1] },
    reference: (f, i) => {
      const [x, w, b] = [f.x!.data as Float32Array, i.w!.data as Float32Array, i.b!.data as Float32Array];
      const y = new Float32Array(5 * 6 * 3);
      for (let h = 0; h < 5; h++)
        for (let v = 0; v < 6; v++)
          for (let m = 0; m < 3; m++) {
            let s = b[m]!;
            for (let c = 0; c < 2; c++)
              for (let kh = 0; kh < 3; kh++)
                for (let kw = 0; kw < 3; kw++) {
                  const [ih, iw] = [h + kh - 1, v + kw - 1];
                  if (ih < 0 || ih >= 5 || iw < 0 || iw >= 6) continue;
                  s += x[(ih * 6 + iw) * 2 + c]! * w[((m * 2 + c) * 3 + kh) * 3 + kw]!;
                }
            y[(h * 6 + v) * 3 + m] = s;
          }
      return float32([1, 5, 6, 3], y);
    },
  });
});

const ids = (dims: number[], vocab: number) =>
  tensor(
    "int32",
    dims,
    Int32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.int(vocab)),
  );

test("Attention: merged QKV weights, raw and length masks, causal, present", async () => {
  const base = { input: randn([2, 4, 8]), weights: randn([8, 24], 0.3), bias: randn([24], 0.1) };
  await check({
    op: "Attention",
    inputs: base,
    feeds: ["input"],
    outputs: [out("y", [2, 4, 8]), out("present", [2, 2, 2, 4, 4])],
    attrs: { num_heads: 2 },
  });
  await check({
    op: "Attention",
    inputs: { ...base, mask: tensor("int32", [2, 4], Int32Array.of(1, 1, 1, 0, 1, 1, 0, 0)) },
    feeds: ["input"],
    outputs: [out("y", [2, 4, 8])],
    attrs: { num_heads: 2 },
  });
  await check({
    op: "Attention",
    inputs: { ...base, mask: tensor("int32", [2], Int32Array.of(3, 2)) },
    feeds: ["input"],
    outputs: [out("y", [2, 4, 8])],
    attrs: { num_heads: 4, unidirectional: 1 },
  });
});

test("MultiHeadAttention: separate Q, K, V with bias and key padding mask", async () => {
  await check({
    op: "MultiHeadAttention",
    inputs: {
      q: randn([2, 3, 8]),
      k: randn([2, 5, 8]),
      v: randn([2, 5, 8]),
      bias: randn([24], 0.1),
      mask: tensor("int32", [2, 5], Int32Array.of(1, 1, 1, 1, 0, 1, 1, 0, 0, 0)),
    },
    feeds: ["q", "k", "v"],
    outputs: [out("y", [2, 3, 8])],
    attrs: { num_heads: 2 },
    wrt: ["q", "k", "v"],
  });
});

test("EmbedLayerNormalization: segments, mask index, embedding sum", async () => {
  await check({
    op: "EmbedLayerNormalization",
    inputs: {
      ids: ids([2, 5], 10),
      seg: ids([2, 5], 2),
      word: randn([10, 8]),
      pos: randn([6, 8]),
      segEmb: randn([2, 8]),
      gamma: randn([8]),
      beta: randn([8]),
      mask: tensor("int32", [2, 5], Int32Array.of(1, 1, 1, 1, 0, 1, 1, 0, 0, 0)),
    },
    feeds: ["ids", "seg", "mask", "word"],
    outputs: [out("y", [2, 5, 8]), { name: "maskIndex", dtype: "int32", dims: [2] }, out("sum", [2, 5, 8])],
    wrt: ["word"],
  });
});

test("RotaryEmbedding: halves and interleaved pairs, (B, S, N·H) and (B, N, S, H), partial rotation", async () => {
  const cos = randn([8, 2]);
  const sin = randn([8, 2]);
  const pos = tensor("int64", [2, 3], BigInt64Array.of(0n, 1n, 2n, 3n, 4n, 5n));
  for (const interleaved of [0, 1]) {
    await check({
      op: "RotaryEmbedding",
      inputs: { x: randn([2, 3, 8]), pos, cos, sin },
      feeds: ["x"],
      outputs: [out("y", [2, 3, 8])],
      attrs: { interleaved, num_heads: 2, rotary_embedding_dim: 4 },
    });
  }
  await check({
    op: "RotaryEmbedding",
    inputs: { x: randn([2, 2, 3, 4]), pos: tensor("int64", [1], BigInt64Array.of(2n)), cos, sin },
    feeds: ["x"],
    outputs: [out("y", [2, 2, 3, 4])],
  });
});
