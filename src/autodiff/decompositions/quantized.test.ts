import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeModel } from "../../onnx/codec.js";
import { makeModel, type NodeSpec } from "../../onnx/make.js";
import type { ModelProto } from "../../onnx/types.js";
import { GradientSession } from "../../runtime/gradient-session.js";
import { nodeBackend } from "../../runtime/node.js";
import { probeShapes } from "../../runtime/probe.js";
import { Random } from "../../tensor/random.js";
import { float32, type Tensor, tensor } from "../../tensor/tensor.js";
import { gradientModel } from "../gradient.js";
import { IntegerPathError } from "../integer-path.js";
import { modelNotes } from "../model-notes.js";

const backend = nodeBackend();
const rng = new Random(11);

const f32 = (v: number) => float32([], [v]);
const u8 = (v: number) => tensor("uint8", [], Uint8Array.of(v));
const i8s = (dims: number[], v: number[]) => tensor("int8", dims, Int8Array.from(v));

/** Values on the quantization grid (k − zp)·s for k in [lo, hi], so the input's quantizer is exact. */
function onGrid(dims: number[], s: number, zp: number, lo: number, hi: number): Tensor<"float32"> {
  const n = dims.reduce((a, b) => a * b, 1);
  return float32(
    dims,
    Array.from({ length: n }, () => (lo + rng.int(hi - lo + 1) - zp) * s),
  );
}

async function runOrt(model: ModelProto, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const s = await backend.createSession(encodeModel(model), { optimization: "disabled" });
  try {
    return await s.run(feeds);
  } finally {
    await s.dispose();
  }
}

async function gradient(model: ModelProto, feeds: Record<string, Tensor>, wrt: string, seed: Tensor) {
  const s = await GradientSession.create(backend, model, feeds, { wrt: [wrt] });
  try {
    const out = model.graph!.output[0]!.name!;
    const r = await s.run(feeds, { [out]: seed });
    return { output: r.outputs[out]!, grad: r.gradients[wrt]!, session: s };
  } finally {
    await s.dispose();
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test("a float → integer → float hop on the path is an error, not a zero gradient", async () => {
  const model = makeModel({
    inputs: [{ name: "x", dtype: "float32", dims: [2, 3] }],
    outputs: [{ name: "y", dtype: "float32", dims: [2, 3] }],
    nodes: [
      { op: "Cast", inputs: ["x"], outputs: ["xi"], attrs: { to: 6 } },
      { op: "Cast", inputs: ["xi"], outputs: ["xf"], attrs: { to: 1 } },
      { op: "Mul", inputs: ["xf", "x"], outputs: ["y"] },
    ],
  });
  const feeds = { x: float32([2, 3], [1.5, 2, 3, 4, 5, 6]) };
  const shapes = await probeShapes(backend, model, feeds);
  assert.throws(
    () => gradientModel(model, { wrt: ["x"], shapes }),
    (e: unknown) => e instanceof IntegerPathError && /Cast node/.test(e.message) && /"xi"/.test(e.message),
  );
});

test("an uncovered quantized op between QuantizeLinear and DequantizeLinear is an error naming it", async () => {
  const model = makeModel({
    opset: 13,
    inputs: [{ name: "x", dtype: "float32", dims: [2, 4] }],
    outputs: [{ name: "y", dtype: "float32", dims: [2, 4] }],
    nodes: [
      { op: "QuantizeLinear", inputs: ["x", "s", "z"], outputs: ["q"] },
      {
        op: "QLinearSoftmax",
        domain: "com.microsoft",
        inputs: ["q", "s", "z", "s", "z"],
        outputs: ["qs"],
        attrs: { axis: -1, opset: 13 },
      },
      { op: "DequantizeLinear", inputs: ["qs", "s", "z"], outputs: ["y"] },
    ],
    initializers: { s: f32(0.02), z: u8(128) },
  });
  model.opsetImport.push({ domain: "com.microsoft", version: 1 });
  const x = float32([2, 4], [0.1, -0.2, 0.3, 0.05, 0.5, -0.4, 0.2, 0.1]);
  await assert.rejects(
    GradientSession.create(backend, model, { x }, { wrt: ["x"] }),
    (e: unknown) =>
      e instanceof IntegerPathError && /"qs" \(from com.microsoft.QLinearSoftmax node/.test(e.message),
  );
});

/**
 * A static QDQ MLP (onnxruntime's quantize_static layout): activations Q→DQ, weights int8
 * per-column with DequantizeLinear. Reference: the dequantized network by hand in float64, the
 * straight-through gradient (1 inside the activation range, 0 where it saturates).
 */
test("QDQ MLP: forward is the dequantized network, gradient its straight-through gradient", async () => {
  const [n, k, h, m] = [3, 4, 5, 2];
  const w1q = Array.from({ length: k * h }, () => rng.int(255) - 127);
  const w1s = Array.from({ length: h }, () => 0.004 + 0.002 * rng.uniform());
  const w2q = Array.from({ length: h * m }, () => rng.int(255) - 127);
  const w2s = 0.005;
  const xs = 0.01;
  const hs = 0.02;
  const hz = 100; // h range [(0-100)·0.02, (255-100)·0.02] = [-2, 3.1]
  const nodes: NodeSpec[] = [
    { op: "QuantizeLinear", inputs: ["x", "xs", "xz"], outputs: ["xq"] },
    { op: "DequantizeLinear", inputs: ["xq", "xs", "xz"], outputs: ["xd"] },
    { op: "DequantizeLinear", inputs: ["w1q", "w1s"], outputs: ["w1"], attrs: { axis: 1 } },
    { op: "MatMul", inputs: ["xd", "w1"], outputs: ["h"] },
    { op: "QuantizeLinear", inputs: ["h", "hs", "hz"], outputs: ["hq"] },
    { op: "DequantizeLinear", inputs: ["hq", "hs", "hz"], outputs: ["hd"] },
    { op: "Relu", inputs: ["hd"], outputs: ["r"] },
    { op: "DequantizeLinear", inputs: ["w2q", "w2s"], outputs: ["w2"] },
    { op: "MatMul", inputs: ["r", "w2"], outputs: ["y"] },
  ];
  const model = makeModel({
    opset: 13,
    inputs: [{ name: "x", dtype: "float32", dims: [n, k] }],
    outputs: [{ name: "y", dtype: "float32", dims: [n, m] }],
    nodes,
    initializers: {
      xs: f32(xs),
      xz: u8(128),
      hs: f32(hs),
      hz: u8(hz),
      w1q: i8s([k, h], w1q),
      w1s: float32([h], w1s),
      w2q: i8s([h, m], w2q),
      w2s: f32(w2s),
    },
  });
  const x = onGrid([n, k], xs, 128, 20, 235);
  const seed = float32(
    [n, m],
    Array.from({ length: n * m }, () => rng.normal()),
  );
  const { output, grad } = await gradient(model, { x }, "x", seed);

  // float64 reference of the dequantized network
  const W1 = (i: number, j: number) => w1q[i * h + j]! * w1s[j]!;
  const W2 = (j: number, c: number) => w2q[j * m + c]! * w2s;
  const [lo, hi] = [(0 - hz) * hs, (255 - hz) * hs];
  const yRef = new Float64Array(n * m);
  const gRef = new Float64Array(n * k);
  let saturated = 0;
  for (let r = 0; r < n; r++) {
    const hv = Array.from({ length: h }, (_, j) => {
      let s = 0;
      for (let i = 0; i < k; i++) s += x.data[r * k + i]! * W1(i, j);
      return s;
    });
    const hc = hv.map((v) => Math.min(Math.max(v, lo), hi));
    saturated += hv.filter((v, j) => v !== hc[j]).length;
    for (let c = 0; c < m; c++)
      for (let j = 0; j < h; j++) yRef[r * m + c]! += Math.max(hc[j]!, 0) * W2(j, c);
    for (let j = 0; j < h; j++) {
      const pass = hv[j]! > 0 && hv[j]! >= lo && hv[j]! <= hi ? 1 : 0;
      let dh = 0;
      for (let c = 0; c < m; c++) dh += seed.data[r * m + c]! * W2(j, c);
      for (let i = 0; i < k; i++) gRef[r * k + i]! += pass * dh * W1(i, j);
    }
  }
  assert.ok(saturated < n * h, "some hidden units must be inside the range");
  assert.ok(maxAbsDiff(output.data as Float32Array, yRef) < 1e-5, "forward = dequantized network");
  const scale = Math.max(...Array.from(gRef, Math.abs));
  assert.ok(scale > 0.01, "the gradient is not zero");
  assert.ok(maxAbsDiff(grad.data as Float32Array, gRef) < 1e-5 * scale + 1e-7, "gradient = straight-through");

  assert.match(
    modelNotes(model).join(" "),
    /quantized \(DequantizeLinear, QuantizeLinear\).*dequantized network/,
  );
  // and the quantized model itself (onnxruntime) differs from the dequantized one only by rounding
  const q = await runOrt(model, { x });
  assert.ok(maxAbsDiff(q.y!.data as Float32Array, yRef) < (hs / 2) * h * 0.7 * 1.01);
});

test("dynamic quantization (DynamicQuantizeLinear → MatMulInteger → Cast → scale): gradient = seed · Wᵀ", async () => {
  const [n, k, m] = [2, 6, 3];
  const wq = Array.from({ length: k * m }, () => rng.int(255) - 127);
  const ws = 0.01;
  const model = makeModel({
    opset: 13,
    inputs: [{ name: "x", dtype: "float32", dims: [n, k] }],
    outputs: [{ name: "y", dtype: "float32", dims: [n, m] }],
    nodes: [
      { op: "DynamicQuantizeLinear", inputs: ["x"], outputs: ["xq", "xs", "xz"] },
      { op: "MatMulInteger", inputs: ["xq", "wq", "xz"], outputs: ["acc"] },
      { op: "Cast", inputs: ["acc"], outputs: ["accf"], attrs: { to: 1 } },
      { op: "Mul", inputs: ["xs", "ws"], outputs: ["scale"] },
      { op: "Mul", inputs: ["accf", "scale"], outputs: ["y"] },
    ],
    initializers: { wq: i8s([k, m], wq), ws: f32(ws) },
  });
  const x = float32(
    [n, k],
    Array.from({ length: n * k }, () => rng.normal()),
  );
  const seed = float32(
    [n, m],
    Array.from({ length: n * m }, () => rng.normal()),
  );
  const { output, grad } = await gradient(model, { x }, "x", seed);
  const W = (i: number, c: number) => wq[i * m + c]! * ws;
  const yRef = new Float64Array(n * m);
  const gRef = new Float64Array(n * k);
  for (let r = 0; r < n; r++)
    for (let c = 0; c < m; c++)
      for (let i = 0; i < k; i++) {
        yRef[r * m + c]! += x.data[r * k + i]! * W(i, c);
        gRef[r * k + i]! += seed.data[r * m + c]! * W(i, c);
      }
  const dy = maxAbsDiff(output.data as Float32Array, yRef);
  const dg = maxAbsDiff(grad.data as Float32Array, gRef);
  assert.ok(dy < 1e-5, `forward differs from x · W by ${dy}`);
  assert.ok(dg < 1e-5, `gradient differs from seed · Wᵀ by ${dg}`);
  // at x = 0 (a zero baseline) the gradient is still Wᵀ · seed, not 0 or NaN
  const zero = float32([n, k]);
  const g0 = await gradient(model, { x: zero }, "x", seed);
  const d0 = maxAbsDiff(g0.grad.data as Float32Array, gRef);
  assert.ok(d0 < 1e-5, `gradient at x = 0 differs from seed · Wᵀ by ${d0}`);
  // onnxruntime's integer result differs from x · W by the input's rounding only
  const q = await runOrt(model, { x });
  const xv = Array.from(x.data);
  const xScale = (Math.max(0, ...xv) - Math.min(0, ...xv)) / 255;
  assert.ok(maxAbsDiff(q.y!.data as Float32Array, yRef) < (xScale / 2) * k * 127 * ws);
});
