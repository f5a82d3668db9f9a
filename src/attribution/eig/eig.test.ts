import assert from "node:assert/strict";
import { test } from "node:test";
import { makeModel } from "../../onnx/make.js";
import { nodeBackend } from "../../runtime/node.js";
import { Random } from "../../tensor/random.js";
import { float32, relativeL2, type Tensor, toFloat64 } from "../../tensor/tensor.js";
import { readModelFixture, readNpyFixture } from "../../testing/fixtures.js";
import { enhancedIntegratedGradients } from "./eig.js";
import { closeBaselines, kMeansBaselines, medianBaselines, randomBaselines } from "./group-baselines.js";
import { DisconnectedGraphError, neighborPath, resamplePolyline } from "./neighbor-path.js";
import type { Rows } from "./rows.js";

const backend = nodeBackend();
const rows = (n: number, d: number, v: number[]): Rows => ({ n, d, data: Float64Array.from(v) });
const asImages = (t: Tensor) => ({ ...t, dims: [t.dims[0]!, 1, 8, 8] });

for (const rule of ["left", "trapezoid"] as const) {
  test(`latent-linear path on the digits autoencoder matches the reference (${rule}, 50 segments)`, async () => {
    const r = await enhancedIntegratedGradients(readModelFixture("models/digits_cnn.onnx"), {
      backend,
      inputs: { input: asImages(readNpyFixture("refs/digits_latent_path_ig_input.npy")) },
      baseline: readNpyFixture("refs/digits_latent_path_ig_baseline.npy"),
      path: "latent-linear",
      encoder: readModelFixture("models/digits_ae_encoder.onnx"),
      decoder: readModelFixture("models/digits_ae_decoder.onnx"),
      target: Array.from(readNpyFixture("refs/digits_latent_path_ig_target.npy").data, Number),
      steps: 50,
      rule,
    });
    const expected = toFloat64(readNpyFixture(`refs/digits_latent_path_ig__${rule}_f64.npy`));
    const err = relativeL2(r.attributions.data, expected);
    assert.ok(err <= 1e-4, `relative L2 ${err}`);
    const fStart = toFloat64(readNpyFixture("refs/digits_latent_path_ig_f_start.npy"));
    const fEnd = toFloat64(readNpyFixture("refs/digits_latent_path_ig_f_end.npy"));
    r.fStart.forEach((v, i) => assert.ok(Math.abs(v - fStart[i]!) < 1e-4));
    r.fEnd.forEach((v, i) => assert.ok(Math.abs(v - fEnd[i]!) < 1e-4));
  });
}

/** y = x · w (4 features → 1): every path from x' to x gives (x − x') ⊙ w exactly. */
const w = [0.5, -1, 2, 0.25];
const linear = makeModel({
  inputs: [{ name: "x", dtype: "float32", dims: ["N", 4] }],
  outputs: [{ name: "y", dtype: "float32" }],
  initializers: { w: float32([4, 1], w) },
  nodes: [{ op: "MatMul", inputs: ["x", "w"], outputs: ["y"] }],
});
const identity = makeModel({
  inputs: [{ name: "v", dtype: "float32", dims: ["N", 4] }],
  outputs: [{ name: "u", dtype: "float32" }],
  nodes: [{ op: "Identity", inputs: ["v"], outputs: ["u"] }],
});

test("for a linear model every path gives (x − x')·w; identity autoencoder: latent = original", async () => {
  const rng = new Random(4);
  const x = float32(
    [3, 4],
    Array.from({ length: 12 }, () => rng.normal()),
  );
  const data = float32(
    [40, 4],
    Array.from({ length: 160 }, () => rng.normal()),
  );
  const base = float32([4], [0.1, 0.2, -0.3, 0.4]);
  const results = new Map<string, Float64Array>();
  for (const path of [
    "original-linear",
    "latent-linear",
    "original-neighbors",
    "latent-neighbors",
  ] as const) {
    const r = await enhancedIntegratedGradients(linear, {
      backend,
      inputs: { x },
      baseline: base,
      path,
      encoder: identity,
      decoder: identity,
      referenceData: data,
      neighbors: 6,
      steps: 20,
      rule: "left",
    });
    for (let s = 0; s < 3; s++)
      for (let j = 0; j < 4; j++) {
        const want = (Number(x.data[s * 4 + j]) - Number(base.data[j])) * w[j]!;
        assert.ok(
          Math.abs(r.attributions.data[s * 4 + j]! - want) < 1e-5,
          `${path} [${s},${j}] ${r.attributions.data[s * 4 + j]} vs ${want}`,
        );
      }
    results.set(path, Float64Array.from(r.attributions.data));
  }
  assert.ok(relativeL2(results.get("latent-linear")!, results.get("original-linear")!) < 1e-6);
});

test("completeness holds on a curved (neighbour) path of a nonlinear model, trapezoid rule", async () => {
  const model = readModelFixture("models/softplus_mlp.onnx");
  const rng = new Random(9);
  const x = float32(
    [2, 10],
    Array.from({ length: 20 }, () => rng.normal()),
  );
  const data = float32(
    [60, 10],
    Array.from({ length: 600 }, () => rng.normal()),
  );
  const r = await enhancedIntegratedGradients(model, {
    backend,
    inputs: { input: x },
    path: "original-neighbors",
    baselineKind: "kmeans",
    baselineData: data,
    numBaselines: 2,
    neighbors: 5,
    steps: 400,
    rule: "trapezoid",
  });
  r.delta.forEach((d, s) => {
    const span = Math.abs(r.fEnd[s]! - r.fStart[s]!);
    assert.ok(Math.abs(d) <= 1e-3 * Math.max(span, 1e-3), `sample ${s}: delta ${d}, span ${span}`);
  });
  assert.equal(r.baselinesPerSample, 2);
});

test("baseline choices: k-means, median, close and random on hand-computed cases, deterministic", () => {
  // two tight clusters around (0,0) and (10,10)
  const data = rows(6, 2, [0, 0, 0, 1, 1, 0, 10, 10, 10, 11, 11, 10]);
  const km = kMeansBaselines(data, 2, 3);
  const centers = [Array.from(km.data.subarray(0, 2)), Array.from(km.data.subarray(2, 4))].sort(
    (a, b) => a[0]! - b[0]!,
  );
  assert.deepEqual(
    centers.map((c) => c.map((v) => Math.round(v * 1e9) / 1e9)),
    [
      [1 / 3, 1 / 3].map((v) => Math.round(v * 1e9) / 1e9),
      [31 / 3, 31 / 3].map((v) => Math.round(v * 1e9) / 1e9),
    ],
  );
  assert.deepEqual(Array.from(kMeansBaselines(data, 2, 3).data), Array.from(km.data), "seeded");
  // coordinate-wise median of {0,0,1,10,10,11}² is (5.5, 5.5): nearest are (1,0)/(0,1) then …
  const line = rows(5, 1, [1, 2, 3, 10, 11]);
  assert.deepEqual(Array.from(medianBaselines(line, 2).data), [3, 2]);
  // close: for sample 2.9 the nearest (3) is skipped, then 2 and 1
  assert.deepEqual(Array.from(closeBaselines(rows(1, 1, [2.9]), line, 2)[0]!.data), [2, 1]);
  const a = randomBaselines(line, 3, 11);
  assert.deepEqual(Array.from(randomBaselines(line, 3, 11).data), Array.from(a.data));
  assert.equal(new Set(a.data).size, 3, "without replacement");
  assert.notDeepEqual(Array.from(randomBaselines(line, 3, 12).data), Array.from(a.data));
});

test("neighbour paths: the shortest path through the graph, resampled evenly; disconnected graphs say so", () => {
  // with one neighbour each, the graph is the chain start–a–b–c–end (distances 1, 1.2, 1.3, 1.4)
  const ref = rows(3, 2, [2.2, 1.3, 1, 0, 2.2, 0]);
  const poly = neighborPath(ref, [0, 0], [2.2, 2.7], 1);
  assert.deepEqual(Array.from(poly.data), [0, 0, 1, 0, 2.2, 0, 2.2, 1.3, 2.2, 2.7]);
  assert.deepEqual(
    Array.from(resamplePolyline(rows(3, 2, [0, 0, 1, 0, 1, 1]), 4).data),
    [0, 0, 0.5, 0, 1, 0, 1, 0.5, 1, 1],
  );
  const far = rows(4, 1, [0.1, 0.2, 100, 100.1]);
  assert.throws(
    () => neighborPath(far, [0], [100.2], 2),
    (e: Error) => e instanceof DisconnectedGraphError && /larger k/.test(e.message),
  );
});

test("several baselines per sample: mean by default, median as an option", async () => {
  const x = float32([1, 4], [1, 2, 3, 4]);
  const baseline = float32([1, 3, 4], [0, 0, 0, 0, 1, 1, 1, 1, 5, 5, 5, 5]); // [N = 1, K = 3, 4]
  const run = (aggregate: "mean" | "median") =>
    enhancedIntegratedGradients(linear, {
      backend,
      inputs: { x },
      baseline,
      path: "original-linear",
      steps: 4,
      rule: "left",
      aggregate,
    });
  const mean = await run("mean");
  const median = await run("median");
  for (let j = 0; j < 4; j++) {
    const per = [0, 1, 5].map((b) => (Number(x.data[j]) - b) * w[j]!);
    assert.ok(Math.abs(mean.attributions.data[j]! - per.reduce((a, v) => a + v, 0) / 3) < 1e-5);
    assert.ok(Math.abs(median.attributions.data[j]! - per[1]!) < 1e-5);
  }
  assert.equal(mean.baselinesPerSample, 3);
});

test("neighbour paths refuse a neighbour count that is not a positive integer", async () => {
  const x = float32([1, 4], [1, 2, 3, 4]);
  const data = float32(
    [10, 4],
    Array.from({ length: 40 }, (_, i) => i % 7),
  );
  for (const neighbors of [0, 2.5, -1])
    await assert.rejects(
      enhancedIntegratedGradients(linear, {
        backend,
        inputs: { x },
        baseline: float32([4], [0, 0, 0, 0]),
        path: "original-neighbors",
        referenceData: data,
        neighbors,
      }),
      { name: "OptionError", message: new RegExp(`neighbors must be a positive integer, got ${neighbors}`) },
    );
});
