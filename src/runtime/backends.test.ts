import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ModelDecodeError } from "../onnx/codec.js";
import { relativeL2, type Tensor } from "../tensor/tensor.js";
import { fixturePath, readNpyFixture } from "../testing/fixtures.js";
import type { Backend } from "./backend.js";
import { RuntimeError } from "./backend.js";
import { nodeBackend } from "./node.js";
import { webBackend } from "./web.js";

const modelBytes = readFileSync(fixturePath("models/tabular_mlp.onnx"));
const input = readNpyFixture("grads/tabular_mlp_input.npy"); // (6, 96) float32
const expected = readNpyFixture("grads/tabular_mlp_output.npy"); // (6, 1), PyTorch

async function forward(backend: Backend): Promise<Tensor> {
  const session = await backend.createSession(modelBytes);
  try {
    assert.deepEqual(session.inputNames, ["input"]);
    assert.deepEqual(session.outputNames, ["output"]);
    const out = await session.run({ input });
    return out.output!;
  } finally {
    await session.dispose();
  }
}

for (const [name, make] of [
  ["onnxruntime-node", () => nodeBackend()],
  ["onnxruntime-web", () => webBackend()],
] as const) {
  test(`${name} runs tabular_mlp and matches PyTorch's output`, async () => {
    const backend = make();
    assert.equal(backend.name, name);
    const y = await forward(backend);
    assert.equal(y.dtype, "float32");
    assert.deepEqual(y.dims, [6, 1]);
    const err = relativeL2(y.data as Float32Array, expected.data as Float32Array);
    assert.ok(err <= 1e-5, `relative L2 ${err}`);
  });

  test(`${name} refuses bytes that are not ONNX before onnxruntime; a bad feed is a RuntimeError`, async () => {
    const backend = make();
    await assert.rejects(backend.createSession(new Uint8Array([1, 2, 3, 4])), ModelDecodeError);
    const session = await backend.createSession(modelBytes);
    try {
      const wrong = { dtype: "float32", dims: [2, 5], data: new Float32Array(10) } as const;
      await assert.rejects(session.run({ input: wrong }), RuntimeError);
    } finally {
      await session.dispose();
    }
  });
}

test("node and web backends agree with each other", async () => {
  const a = await forward(nodeBackend());
  const b = await forward(webBackend({ optimization: "disabled" }, { numThreads: 1 }));
  assert.ok(relativeL2(a.data as Float32Array, b.data as Float32Array) <= 1e-6);
});
