import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { makeModel } from "../onnx/make.js";
import { nodeBackend } from "../runtime/node.js";
import { Random } from "../tensor/random.js";
import { float32, relativeL2, toFloat64 } from "../tensor/tensor.js";
import { fixturePath, readModelFixture } from "../testing/fixtures.js";
import { pairCases, pairNpy, rowErrors } from "../testing/pair.js";
import { blurIntegratedGradients, blurSigmas } from "./blur-ig.js";
import { ShapeMismatchError } from "./errors.js";
import { gaussianFilter } from "./gaussian-filter.js";

const backend = nodeBackend();
const model = readModelFixture("models/digits_cnn.onnx");

for (const c of pairCases("blur_ig")) {
  const p = c.params as { max_sigma: number; steps: number; grad_step: number; sqrt: boolean };
  test(`Blur IG matches PAIR saliency: ${c.id}`, async () => {
    const x = pairNpy(c.input);
    const sig = blurSigmas(p.max_sigma, p.steps, p.sqrt);
    const refSig = toFloat64(pairNpy(c.sigmas!));
    assert.ok(relativeL2(sig, refSig) < 1e-15);
    const r = await blurIntegratedGradients(model, {
      backend,
      inputs: { input: x },
      target: Array.from(pairNpy(c.target).data, Number),
      maxSigma: p.max_sigma,
      steps: p.steps,
      gradStep: p.grad_step,
      sqrt: p.sqrt,
    });
    const err = rowErrors(r.attributions.input!.data, toFloat64(pairNpy(c.expected)), x.dims[0]!);
    const tol = c.suggested_rel_l2_tolerance;
    console.log(
      `${c.id}: rel L2 per row ${err.rows.map((e) => e.toExponential(2)).join(", ")} (tolerance ${tol.toExponential(2)})`,
    );
    for (const e of [...err.rows, err.all]) assert.ok(e <= tol, `rel L2 ${e} > ${tol}`);
    r.delta.forEach((d, i) => {
      const ref = c.completeness_gap_f64![i]!;
      assert.ok(Math.abs(d - ref) <= 1e-4 * Math.max(1, Math.abs(ref)), `delta ${d} vs ${ref}`);
    });
  });

  test(`gaussianFilter equals scipy's (mode constant, truncate 4): ${c.id}`, () => {
    const x = toFloat64(pairNpy(c.input));
    const end = toFloat64(pairNpy(c.blurred_at_last_sigma_f64!));
    const sig = blurSigmas(p.max_sigma, p.steps, p.sqrt);
    let worst = 0;
    for (let e = 0; e < 3; e++) {
      const row = x.subarray(e * 64, (e + 1) * 64);
      const ours = gaussianFilter(row, [8, 8, 1], [sig[p.steps]!, sig[p.steps]!, 0], { mode: "constant" });
      for (let j = 0; j < 64; j++) worst = Math.max(worst, Math.abs(ours[j]! - end[e * 64 + j]!));
    }
    // only the 20-step case's path points are copied into the repository
    if (c.path_points_f64 && existsSync(fixturePath(`pair/${c.path_points_f64.file}`))) {
      // every path point blur(x, σ_i), i < steps
      const pts = toFloat64(pairNpy(c.path_points_f64));
      for (let e = 0; e < 3; e++)
        for (let i = 0; i < p.steps; i++) {
          const ours = gaussianFilter(x.subarray(e * 64, (e + 1) * 64), [8, 8], [sig[i]!, sig[i]!], {
            mode: "constant",
          });
          for (let j = 0; j < 64; j++)
            worst = Math.max(worst, Math.abs(ours[j]! - pts[(e * p.steps + i) * 64 + j]!));
        }
    }
    console.log(`${c.id}: max |blur − scipy| ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-12, `max abs error ${worst}`);
  });
}

test("gaussianFilter boundary modes follow scipy's definitions (closed forms on a short line)", () => {
  // σ = 1 → r = 4; on a 3-sample line every tap folds back inside: sums of kernel weights
  const w = Array.from({ length: 9 }, (_, i) => Math.exp(-0.5 * (i - 4) ** 2));
  const s = w.reduce((a, b) => a + b, 0);
  const k = w.map((v) => v / s);
  const line = [1, 0, 0];
  // reflect (d c b a | a b c d): index i − 4 … i + 4 folded; out[0] = Σ k over taps landing on 0
  const fold = (j: number, n: number) => {
    const p = 2 * n;
    const m = ((j % p) + p) % p;
    return m < n ? m : p - 1 - m;
  };
  const expect = [0, 1, 2].map((i) => k.reduce((a, kv, t) => a + kv * line[fold(i + t - 4, 3)]!, 0));
  const ours = gaussianFilter(line, [3], [1], { mode: "reflect" });
  assert.ok(relativeL2(ours, expect) < 1e-15);
  const constant = gaussianFilter(line, [3], [1], { mode: "constant" });
  assert.ok(Math.abs(constant[0]! - k[4]!) < 1e-16 && Math.abs(constant[2]! - k[2]!) < 1e-16);
  const nearest = gaussianFilter([2, 2, 2], [3], [3], { mode: "nearest" });
  nearest.forEach((v) => assert.ok(Math.abs(v - 2) < 1e-14));
});

test("Blur IG: NHWC and NCHW inputs give the same attributions (transposed)", async () => {
  const [H, W, C] = [6, 5, 3];
  const rng = new Random(3);
  const wts = float32(
    [1, H, W, C],
    Array.from({ length: H * W * C }, () => rng.normal()),
  );
  const ones = float32([H * W * C, 1], new Array(H * W * C).fill(1));
  const head = (x: string) => [
    { op: "Mul", inputs: [x, x], outputs: ["sq"] },
    { op: "Mul", inputs: ["sq", "w"], outputs: ["m"] },
    { op: "Flatten", inputs: ["m"], outputs: ["f"] },
    { op: "MatMul", inputs: ["f", "ones"], outputs: ["y"] },
  ];
  const nhwc = makeModel({
    inputs: [{ name: "x", dtype: "float32", dims: ["N", H, W, C] }],
    outputs: [{ name: "y", dtype: "float32", dims: ["N", 1] }],
    initializers: { w: wts, ones },
    nodes: head("x"),
  });
  const nchw = makeModel({
    inputs: [{ name: "x", dtype: "float32", dims: ["N", C, H, W] }],
    outputs: [{ name: "y", dtype: "float32", dims: ["N", 1] }],
    initializers: { w: wts, ones },
    nodes: [{ op: "Transpose", inputs: ["x"], outputs: ["t"], attrs: { perm: [0, 2, 3, 1] } }, ...head("t")],
  });
  const xh = float32(
    [2, H, W, C],
    Array.from({ length: 2 * H * W * C }, () => rng.uniform()),
  );
  const xc = float32([2, C, H, W]);
  for (let n = 0; n < 2; n++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++)
          xc.data[((n * C + c) * H + h) * W + w] = xh.data[((n * H + h) * W + w) * C + c]!;
  const opts = { backend, maxSigma: 4, steps: 12, sqrt: true };
  const a = await blurIntegratedGradients(nhwc, { ...opts, inputs: { x: xh } });
  const b = await blurIntegratedGradients(nchw, { ...opts, inputs: { x: xc } });
  const bt = new Float64Array(a.attributions.x!.data.length);
  for (let n = 0; n < 2; n++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++)
          bt[((n * H + h) * W + w) * C + c] = b.attributions.x!.data[((n * C + c) * H + h) * W + w]!;
  assert.ok(relativeL2(a.attributions.x!.data, bt) < 1e-6);
  assert.ok(Math.max(...Array.from(a.attributions.x!.data, Math.abs)) > 0);
});

test("Blur IG: a non-image input is a ShapeMismatchError naming the shape", async () => {
  const tab = readModelFixture("models/tabular_mlp.onnx");
  await assert.rejects(
    blurIntegratedGradients(tab, { backend, inputs: { input: float32([2, 96]) } }),
    (e: Error) => e instanceof ShapeMismatchError && /\[2, 96\]/.test(e.message),
  );
});
