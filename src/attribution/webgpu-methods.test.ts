/**
 * The attribution methods run on the WebGPU provider unchanged (SwiftShader where no GPU
 * exists): SmoothGrad, Expected Gradients and Integrated Hessians on the digits CNN give the CPU's
 * results. (IG through the CLI on WebGPU: src/cli/device.test.ts.)
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { nodeBackend } from "../runtime/node.js";
import { relativeL2, type Tensor } from "../tensor/tensor.js";
import { readModelFixture, readNpyFixture } from "../testing/fixtures.js";
import { softwareWebGpu } from "../testing/webgpu.js";
import { expectedGradients } from "./expected-gradients.js";
import { integratedHessians } from "./interactions.js";
import { noiseTunnel } from "./noise-tunnel.js";

const skip = softwareWebGpu();
const model = readModelFixture("models/digits_cnn.onnx");
const all = readNpyFixture("models/digits_X_test.npy");
const rows = (n: number, from = 0): Tensor =>
  ({
    dtype: all.dtype,
    dims: [n, ...all.dims.slice(1)],
    data: all.data.slice(from * 64, (from + n) * 64),
  }) as Tensor;
const x = rows(3);

async function onBoth<T>(f: (backend: ReturnType<typeof nodeBackend>) => Promise<T>): Promise<[T, T]> {
  return [await f(nodeBackend({ device: "webgpu" })), await f(nodeBackend())];
}

test("WebGPU: SmoothGrad matches the CPU", { skip }, async (t) => {
  const [a, e] = await onBoth((backend) =>
    noiseTunnel(model, {
      backend,
      inputs: { input: x },
      target: 5,
      steps: 8,
      samples: 3,
      stdev: 0.1,
      seed: 4,
    }),
  );
  const err = relativeL2(a.attributions.input!.data, e.attributions.input!.data);
  t.diagnostic(`relative L2 ${err.toExponential(2)}`);
  assert.ok(err <= 1e-5, `relative L2 ${err}`);
});

test("WebGPU: Expected Gradients matches the CPU", { skip }, async (t) => {
  const [a, e] = await onBoth((backend) =>
    expectedGradients(model, {
      backend,
      inputs: { input: x },
      references: rows(8, 10),
      target: 5,
      samples: 16,
      seed: 2,
    }),
  );
  const err = relativeL2(a.attributions.input!.data, e.attributions.input!.data);
  t.diagnostic(`relative L2 ${err.toExponential(2)}`);
  assert.ok(err <= 1e-5, `relative L2 ${err}`);
});

test("WebGPU: Integrated Hessians (softplus, Hessian-vector products) matches the CPU", {
  skip,
}, async (t) => {
  const one = rows(1);
  const [a, e] = await onBoth((backend) =>
    integratedHessians(model, {
      backend,
      inputs: { input: one },
      target: 5,
      steps: 4,
      softplus: true,
      groupAxes: [2],
    }),
  );
  const err = relativeL2(a.interactions.data as Float64Array, e.interactions.data as Float64Array);
  t.diagnostic(`relative L2 ${err.toExponential(2)}`);
  assert.ok(err <= 1e-5, `relative L2 ${err}`);
});
