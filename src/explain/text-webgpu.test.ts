/**
 * The text explainer on onnxruntime-node's WebGPU provider (SwiftShader where no GPU exists)
 * gives the CPU's word attributions.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { nodeBackend } from "../runtime/node.js";
import { relativeL2 } from "../tensor/tensor.js";
import { softwareWebGpu } from "../testing/webgpu.js";
import { explainText } from "./text.js";
import { loadTextModel } from "./text-model.js";

const skip = softwareWebGpu();
const cpu = nodeBackend();
const gpu = nodeBackend({ device: "webgpu" });

test("WebGPU: the sentiment text model's word attributions match the CPU", { skip }, async (t) => {
  const model = await loadTextModel("examples/text-sentiment");
  const text = "a wonderful film with a dull ending";
  const [a, e] = [
    await explainText(model, text, { backend: gpu, steps: 16 }),
    await explainText(model, text, { backend: cpu, steps: 16 }),
  ];
  const sa = a.tokens.map((t) => t.score);
  const se = e.tokens.map((t) => t.score);
  const err = relativeL2(sa, se);
  t.diagnostic(`relative L2 ${err.toExponential(2)}`);
  assert.ok(err <= 1e-5, `relative L2 ${err}`);
});
