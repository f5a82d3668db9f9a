/**
 * onnxruntime tensors at the API boundary: an `ort.Tensor` gives the same attributions as the
 * equal pathlens tensor (Integrated Gradients, EIG, GradientSession), an unsupported one is a
 * TensorTypeError; EIG with a wrong-rank input is a ShapeMismatchError, not onnxruntime's error.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as ort from "onnxruntime-node";
import { enhancedIntegratedGradients } from "../attribution/eig/eig.js";
import { ShapeMismatchError } from "../attribution/errors.js";
import { integratedGradients } from "../attribution/ig.js";
import { exampleFile } from "../io/examples.js";
import { loadModel } from "../io/model-file.js";
import { readNpy } from "../io/npy.js";
import { GradientSession } from "../runtime/gradient-session.js";
import { nodeBackend } from "../runtime/node.js";
import { float32, TensorTypeError, toTensor } from "./tensor.js";

const backend = nodeBackend();

test("an onnxruntime Tensor is accepted wherever a pathlens tensor is, with equal results", async () => {
  const model = await loadModel(exampleFile("digits/digits_cnn.onnx"));
  const x = await readNpy(exampleFile("digits/digits_sample.npy"));
  const ortX = new ort.Tensor("float32", x.data as Float32Array, x.dims as number[]);
  const mine = await integratedGradients(model, { backend, inputs: { input: x }, target: 3, steps: 8 });
  const theirs = await integratedGradients(model, { backend, inputs: { input: ortX }, target: 3, steps: 8 });
  assert.deepEqual(Array.from(theirs.attributions.input!.data), Array.from(mine.attributions.input!.data));
  const eig = (input: typeof x | ort.Tensor) =>
    enhancedIntegratedGradients(model, {
      backend,
      inputs: { input },
      path: "original-linear",
      target: 3,
      steps: 8,
    });
  assert.deepEqual(
    Array.from((await eig(ortX)).attributions.data),
    Array.from((await eig(x)).attributions.data),
  );
  const session = await GradientSession.create(backend, model, { input: ortX }, { wrt: ["input"] });
  const seed = new ort.Tensor("float32", new Float32Array(120).fill(1), [12, 10]);
  const g = await session.run({ input: ortX }, { logits: seed });
  assert.deepEqual(g.gradients.input!.dims, [12, 1, 8, 8]);
  await session.dispose();
});

test("onnxruntime tensors pathlens cannot take are a TensorTypeError naming the type", () => {
  const strings = new ort.Tensor("string", ["a", "b"], [2]);
  assert.throws(
    () => toTensor(strings, "words"),
    (e: Error) => e instanceof TensorTypeError && /words: .*type string/.test(e.message),
  );
  const x = float32([2], [1, 2]);
  assert.equal(toTensor(x), x, "pathlens tensors pass unchanged");
});

test("EIG with a wrong-rank input is a ShapeMismatchError naming both shapes", async () => {
  const model = await loadModel(exampleFile("digits/digits_cnn.onnx"));
  const flat = float32([2, 64], new Float32Array(128));
  await assert.rejects(
    enhancedIntegratedGradients(model, {
      backend,
      inputs: { input: flat },
      path: "original-linear",
      target: 3,
    }),
    (e: Error) => e instanceof ShapeMismatchError && /\[2, 64\].*takes \[\w+, 1, 8, 8\]/.test(e.message),
  );
});
