import assert from "node:assert/strict";
import { test } from "node:test";
import { float32, sizeOf } from "../tensor/tensor.js";
import { readModelFixture, readNpyFixture } from "../testing/fixtures.js";
import { nodeBackend } from "./node.js";
import { probeFeeds, probeShapes } from "./probe.js";

const model = readModelFixture("models/digits_cnn.onnx");

test("probeShapes reports dtype and dims of digits_cnn's intermediate tensors", async () => {
  const x = readNpyFixture("grads/digits_cnn_input.npy"); // (6, 1, 8, 8)
  const info = await probeShapes(nodeBackend(), model, { input: x });
  const dims = (name: string) => info.get(name)?.dims;
  // Conv 3×3 pad 1 stride 1 keeps 8×8; Conv 3×3 pad 1 stride 2 gives floor((8 + 2 − 3) / 2) + 1 = 4
  assert.deepEqual(dims("input"), [6, 1, 8, 8]);
  assert.deepEqual(dims("/conv1/Conv_output_0"), [6, 16, 8, 8]);
  assert.deepEqual(dims("/Relu_output_0"), [6, 16, 8, 8]);
  assert.deepEqual(dims("/conv2/Conv_output_0"), [6, 32, 4, 4]);
  assert.deepEqual(dims("/Flatten_output_0"), [6, 512]);
  assert.deepEqual(dims("/fc1/Gemm_output_0"), [6, 64]);
  assert.deepEqual(dims("logits"), [6, 10]);
  assert.deepEqual(dims("conv2.weight"), [32, 16, 3, 3]);
  assert.deepEqual(dims("fc1.weight"), [64, 512]);
  for (const name of ["/Relu_2_output_0", "logits", "conv1.bias"])
    assert.equal(info.get(name)?.dtype, "float32", name);
  // every node output is covered
  for (const n of model.graph!.node) for (const o of n.output) assert.ok(info.has(o), o);
});

test("probeFeeds tiles the dynamic batch axis of size 1, not the fixed channel axis", async () => {
  const x = float32(
    [1, 1, 8, 8],
    Array.from({ length: 64 }, (_, k) => k),
  );
  const pf = probeFeeds(model, { input: x });
  assert.deepEqual(pf.input!.dims, [2, 1, 8, 8]);
  assert.equal(sizeOf(pf.input!.dims), 128);
  assert.deepEqual([...pf.input!.data.slice(64)], [...x.data]);
  const info = await probeShapes(nodeBackend(), model, pf);
  assert.deepEqual(info.get("/conv2/Conv_output_0")?.dims, [2, 32, 4, 4]);
});

test("probeShapes names a missing input", async () => {
  await assert.rejects(probeShapes(nodeBackend(), model, {}), /"input"/);
});
