/**
 * Each QLinear op, alone between a QuantizeLinear and a DequantizeLinear, on inputs that lie on
 * the input quantization grid (so the input quantizer is exact): onnxruntime's integer kernel and
 * the rewritten float computation may then differ only by the output's rounding, ≤ y_scale / 2.
 * The gradient of the rewritten graph is checked against central differences of its forward.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeModel } from "../../onnx/codec.js";
import { makeModel, type NodeSpec } from "../../onnx/make.js";
import type { AttrValue } from "../../onnx/model.js";
import { nodeBackend } from "../../runtime/node.js";
import { Random } from "../../tensor/random.js";
import { float32, type Tensor, tensor } from "../../tensor/tensor.js";
import { gradcheck } from "../../testing/gradcheck.js";
import { decomposeModel } from "../decompose.js";

const backend = nodeBackend();
const rng = new Random(3);
const MS = "com.microsoft";

const f32 = (v: number) => float32([], [v]);
const u8 = (v: number) => tensor("uint8", [], Uint8Array.of(v));

const XS = 0.02;
const XZ = 120;
const YS = 0.03;
const YZ = 110;

function onGrid(dims: number[]): Tensor<"float32"> {
  const n = dims.reduce((a, b) => a * b, 1);
  return float32(
    dims,
    Array.from({ length: n }, () => (30 + rng.int(190) - XZ) * XS),
  );
}

interface Case {
  name: string;
  /** The QLinear node reading "xq" (and "x2q" when `second`), writing "yq". */
  node: NodeSpec;
  xDims: number[];
  yDims: number[];
  second?: number[];
  initializers?: Record<string, Tensor>;
  /** Output scale (default YS). */
  ys?: number;
}

async function check(c: Case) {
  const inputs = [{ name: "x", dtype: "float32" as const, dims: c.xDims }];
  const nodes: NodeSpec[] = [{ op: "QuantizeLinear", inputs: ["x", "xs", "xz"], outputs: ["xq"] }];
  if (c.second) {
    inputs.push({ name: "x2", dtype: "float32", dims: c.second });
    nodes.push({ op: "QuantizeLinear", inputs: ["x2", "xs", "xz"], outputs: ["x2q"] });
  }
  nodes.push(c.node, { op: "DequantizeLinear", inputs: ["yq", "ys", "yz"], outputs: ["y"] });
  const model = makeModel({
    opset: 13,
    inputs,
    outputs: [{ name: "y", dtype: "float32", dims: c.yDims }],
    nodes,
    initializers: { xs: f32(XS), xz: u8(XZ), ys: f32(c.ys ?? YS), yz: u8(YZ), ...c.initializers },
  });
  model.opsetImport.push({ domain: MS, version: 1 });
  const feeds: Record<string, Tensor> = { x: onGrid(c.xDims) };
  if (c.second) feeds.x2 = onGrid(c.second);
  const rewritten = decomposeModel(model);
  assert.ok(
    rewritten.graph!.node.every((n) => n.opType !== c.node.op),
    `${c.name}: the QLinear op is rewritten`,
  );
  const run = async (m: typeof model) => {
    const s = await backend.createSession(encodeModel(m), { optimization: "disabled" });
    try {
      return (await s.run(feeds, ["y"])).y!.data as Float32Array;
    } finally {
      await s.dispose();
    }
  };
  const ort = await run(model);
  const ours = await run(rewritten);
  const ys = c.ys ?? YS;
  let worst = 0;
  let inside = 0;
  for (let i = 0; i < ort.length; i++) {
    worst = Math.max(worst, Math.abs(ort[i]! - ours[i]!));
    if (ours[i]! > (0 - YZ) * ys && ours[i]! < (255 - YZ) * ys) inside++;
  }
  assert.ok(inside > ort.length / 2, `${c.name}: most outputs inside the output range`);
  assert.ok(worst <= ys / 2 + 1e-5, `${c.name}: |onnxruntime − rewritten| = ${worst} > y_scale/2`);
  const r = await gradcheck(rewritten, feeds, { wrt: Object.keys(feeds), eps: 1e-3, rtol: 2e-2 });
  assert.ok(r.worst <= 1, `${c.name}: ${r.message}`);
}

function qNode(op: string, inputs: string[], attrs?: Record<string, AttrValue>, domain = MS): NodeSpec {
  return { op, inputs, outputs: ["yq"], attrs, domain, floats: ["alpha"] };
}

const wInt8 = (dims: number[]) =>
  tensor(
    "int8",
    dims,
    Int8Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.int(200) - 100),
  );

test("QLinearConv (per-channel int8 weights, int32 bias, pads/strides) = onnxruntime within y_scale/2", async () => {
  await check({
    name: "QLinearConv",
    node: qNode(
      "QLinearConv",
      ["xq", "xs", "xz", "w", "wscale", "wz", "ys", "yz", "bias"],
      { pads: [1, 1, 1, 1], strides: [2, 1] },
      "",
    ),
    xDims: [1, 2, 5, 4],
    yDims: [1, 3, 3, 4],
    ys: 0.05,
    initializers: {
      w: wInt8([3, 2, 3, 3]),
      wscale: float32([3], [0.002, 0.003, 0.0025]),
      wz: tensor("int8", [3], Int8Array.of(0, 0, 0)),
      bias: tensor("int32", [3], Int32Array.of(500, -800, 100)),
    },
  });
});

test("QLinearMatMul (per-column weights) = onnxruntime within y_scale/2", async () => {
  await check({
    name: "QLinearMatMul",
    node: qNode("QLinearMatMul", ["xq", "xs", "xz", "w", "wscale", "wz", "ys", "yz"], undefined, ""),
    xDims: [3, 4],
    yDims: [3, 2],
    initializers: {
      w: wInt8([4, 2]),
      wscale: float32([2], [0.004, 0.006]),
      wz: tensor("int8", [2], Int8Array.of(3, -2)),
    },
  });
});

test("QLinearAdd / QLinearMul with broadcasting = onnxruntime within y_scale/2", async () => {
  for (const op of ["QLinearAdd", "QLinearMul"]) {
    await check({
      name: op,
      node: qNode(op, ["xq", "xs", "xz", "x2q", "xs", "xz", "ys", "yz"]),
      xDims: [2, 3, 4],
      second: [3, 1],
      yDims: [2, 3, 4],
    });
  }
});

test("QLinearSigmoid, QLinearLeakyRelu = onnxruntime within y_scale/2", async () => {
  await check({
    name: "QLinearSigmoid",
    node: qNode("QLinearSigmoid", ["xq", "xs", "xz", "ys", "yz"]),
    xDims: [2, 5],
    yDims: [2, 5],
    ys: 0.005,
  });
  await check({
    name: "QLinearLeakyRelu",
    node: qNode("QLinearLeakyRelu", ["xq", "xs", "xz", "ys", "yz"], { alpha: 0.2 }),
    xDims: [2, 5],
    yDims: [2, 5],
  });
});

test("QLinearAveragePool (NCHW and channels_last), QLinearGlobalAveragePool = onnxruntime within y_scale/2", async () => {
  await check({
    name: "QLinearAveragePool",
    node: qNode("QLinearAveragePool", ["xq", "xs", "xz", "ys", "yz"], {
      kernel_shape: [2, 2],
      strides: [1, 2],
      pads: [0, 1, 0, 1],
      count_include_pad: 0,
    }),
    xDims: [1, 2, 4, 4],
    yDims: [1, 2, 3, 3],
    ys: 0.01,
  });
  await check({
    name: "QLinearAveragePool channels_last",
    node: qNode("QLinearAveragePool", ["xq", "xs", "xz", "ys", "yz"], {
      kernel_shape: [3, 3],
      channels_last: 1,
    }),
    xDims: [1, 4, 4, 3],
    yDims: [1, 2, 2, 3],
    ys: 0.01,
  });
  await check({
    name: "QLinearGlobalAveragePool",
    node: qNode("QLinearGlobalAveragePool", ["xq", "xs", "xz", "ys", "yz"]),
    xDims: [2, 3, 4, 4],
    yDims: [2, 3, 1, 1],
    ys: 0.005,
  });
});

test("QLinearConcat (inputs with their own scales) = onnxruntime within y_scale/2", async () => {
  await check({
    name: "QLinearConcat",
    node: qNode("QLinearConcat", ["ys", "yz", "xq", "xs", "xz", "x2q", "s2", "z2"], { axis: 1 }),
    xDims: [2, 3],
    second: [2, 2],
    yDims: [2, 5],
    initializers: { s2: f32(0.02), z2: u8(120) },
  });
});
