import assert from "node:assert/strict";
import { test } from "node:test";
import { makeModel } from "../onnx/make.js";
import { nodeBackend } from "../runtime/node.js";
import { Random } from "../tensor/random.js";
import { float64, type Tensor } from "../tensor/tensor.js";
import { readModelFixture, readNpyFixture } from "../testing/fixtures.js";
import { OptionError } from "./errors.js";
import { integratedGradients } from "./ig.js";
import { noiseTunnel } from "./noise-tunnel.js";

const backend = nodeBackend();

/** y = x · w + c (2 examples × 3 features → 1): IG of a noisy copy is (x + ε − x') ⊙ w exactly. */
const w = [0.5, -2, 1.5];
const linear = makeModel({
  inputs: [{ name: "x", dtype: "float64", dims: ["N", 3] }],
  outputs: [{ name: "y", dtype: "float64" }],
  initializers: { w: float64([3, 1], w), c: float64([1], [0.25]) },
  nodes: [
    { op: "MatMul", inputs: ["x", "w"], outputs: ["xw"] },
    { op: "Add", inputs: ["xw", "c"], outputs: ["y"] },
  ],
});
const x = float64([2, 3], [1, 2, 3, -1, 0.5, 2]);

/** The noise the tunnel draws: Random(seed).normal() over the copy-major tiled input. */
function noiseCopies(seed: number, samples: number, stdev: number, input: Tensor): number[][] {
  const rng = new Random(seed);
  return Array.from({ length: samples }, () =>
    Array.from(input.data as Float64Array, (v) => v + stdev * rng.normal()),
  );
}

test("SmoothGrad, SmoothGrad² and VarGrad on a linear model equal the closed forms", async () => {
  const samples = 7;
  const stdev = 0.3;
  const copies = noiseCopies(4, samples, stdev, x);
  for (const type of ["smoothgrad", "smoothgrad_sq", "vargrad"] as const) {
    const r = await noiseTunnel(linear, {
      backend,
      inputs: { x },
      target: 0,
      steps: 8,
      type,
      samples,
      stdev,
      seed: 4,
    });
    const got = r.attributions.x!.data;
    for (let i = 0; i < 6; i++) {
      const vals = copies.map((c) => c[i]! * w[i % 3]!);
      const mean = vals.reduce((a, b) => a + b, 0) / samples;
      const meanSq = vals.reduce((a, b) => a + b * b, 0) / samples;
      const want = type === "smoothgrad" ? mean : type === "smoothgrad_sq" ? meanSq : meanSq - mean * mean;
      assert.ok(
        Math.abs(got[i]! - want) < 1e-9 * Math.max(1, Math.abs(want)),
        `${type}[${i}]: ${got[i]} vs ${want}`,
      );
    }
    assert.equal(r.sampleDeltas.length, samples * 2);
    assert.ok(r.sampleDeltas.every((d) => Math.abs(d) < 1e-9));
  }
});

test("SmoothGrad on the tabular MLP equals the mean of separate IG runs on the same noisy inputs", async () => {
  const model = readModelFixture("models/tabular_mlp.onnx");
  const input = readNpyFixture("refs/tabular_mlp_input.npy");
  const rows = {
    dtype: input.dtype,
    dims: [2, input.dims[1]!],
    data: input.data.slice(0, 2 * input.dims[1]!),
  } as Tensor;
  const samples = 3;
  const stdev = 0.2;
  const r = await noiseTunnel(model, {
    backend,
    inputs: { input: rows },
    target: 0,
    steps: 16,
    samples,
    stdev,
    seed: 9,
  });
  const rng = new Random(9);
  const sum = new Float64Array(rows.data.length);
  for (let s = 0; s < samples; s++) {
    const noisy = {
      ...rows,
      data: Float32Array.from(rows.data as Float32Array, (v) => v + stdev * rng.normal()),
    } as Tensor;
    const one = await integratedGradients(model, { backend, inputs: { input: noisy }, target: 0, steps: 16 });
    one.attributions.input!.data.forEach((v, i) => {
      sum[i] += v / samples;
    });
  }
  const got = r.attributions.input!.data;
  const scale = Math.max(...Array.from(sum, Math.abs));
  sum.forEach((v, i) => assert.ok(Math.abs(got[i]! - v) <= 1e-5 * scale, `${i}: ${got[i]} vs ${v}`));
});

test("noise tunnel: same seed same result, stdev 0 is plain IG, bad options are typed errors", async () => {
  const a = await noiseTunnel(linear, {
    backend,
    inputs: { x },
    target: 0,
    steps: 4,
    samples: 3,
    stdev: 0.5,
    seed: 1,
  });
  const b = await noiseTunnel(linear, {
    backend,
    inputs: { x },
    target: 0,
    steps: 4,
    samples: 3,
    stdev: 0.5,
    seed: 1,
  });
  assert.deepEqual(Array.from(a.attributions.x!.data), Array.from(b.attributions.x!.data));
  const z = await noiseTunnel(linear, { backend, inputs: { x }, target: 0, steps: 4, samples: 2, stdev: 0 });
  const ig = await integratedGradients(linear, { backend, inputs: { x }, target: 0, steps: 4 });
  z.attributions.x!.data.forEach((v, i) => assert.ok(Math.abs(v - ig.attributions.x!.data[i]!) < 1e-12));
  await assert.rejects(() => noiseTunnel(linear, { backend, inputs: { x }, samples: 0 }), OptionError);
  await assert.rejects(() => noiseTunnel(linear, { backend, inputs: { x }, stdev: -1 }), OptionError);
  await assert.rejects(
    () => noiseTunnel(linear, { backend, inputs: { x }, type: "mean" as never }),
    OptionError,
  );
});
