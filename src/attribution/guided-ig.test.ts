import assert from "node:assert/strict";
import { test } from "node:test";
import { nodeBackend } from "../runtime/node.js";
import { float32, toFloat64 } from "../tensor/tensor.js";
import { readModelFixture } from "../testing/fixtures.js";
import { pairCases, pairNpy, rowErrors } from "../testing/pair.js";
import { OptionError, ShapeMismatchError } from "./errors.js";
import { guidedIntegratedGradients, lowerQuantile } from "./guided-ig.js";

const backend = nodeBackend();
const model = readModelFixture("models/digits_cnn.onnx");

for (const c of pairCases("guided_ig")) {
  test(`Guided IG matches PAIR saliency: ${c.id}`, async () => {
    const x = pairNpy(c.input);
    const r = await guidedIntegratedGradients(model, {
      backend,
      inputs: { input: x },
      baselines: pairNpy(c.baseline!),
      target: Array.from(pairNpy(c.target).data, Number),
      steps: c.params.x_steps as number,
      fraction: c.params.fraction as number,
      maxDist: c.params.max_dist as number,
    });
    const expected = toFloat64(pairNpy(c.expected));
    const err = rowErrors(r.attributions.input!.data, expected, x.dims[0]!);
    const tol = c.suggested_rel_l2_tolerance;
    console.log(
      `${c.id}: rel L2 per row ${err.rows.map((e) => e.toExponential(2)).join(", ")} (tolerance ${tol})`,
    );
    for (const e of [...err.rows, err.all]) assert.ok(e <= tol, `rel L2 ${e} > ${tol}`);
    // completeness is reported, and is the reference's gap (PAIR's path ends exactly at x)
    r.delta.forEach((d, i) => {
      const ref = c.completeness_gap_f64![i]!;
      assert.ok(
        Math.abs(d - ref) <= 1e-4 * Math.max(1, Math.abs(r.outputAtInput[i]!)),
        `delta ${d} vs ${ref}`,
      );
    });
  });
}

test("numpy's lower quantile: ⌊(n − 1)q⌋-th smallest, infinities last", () => {
  const v = Float64Array.from([5, Number.POSITIVE_INFINITY, 1, 3, 2, 4, 0, 6, 7, 8]);
  assert.equal(lowerQuantile(v, 0.25), 2); // ⌊9·0.25⌋ = 2 → sorted [0,1,2,…]
  assert.equal(lowerQuantile(v, 0.1), 0);
  assert.equal(lowerQuantile(v, 1), Number.POSITIVE_INFINITY);
});

test("Guided IG with maxDist 0 is IG on the straight line (left Riemann sum)", async () => {
  const c = pairCases("guided_ig")[0]!;
  const x = pairNpy(c.input);
  const target = Array.from(pairNpy(c.target).data, Number);
  const r = await guidedIntegratedGradients(model, {
    backend,
    inputs: { input: x },
    target,
    steps: 8,
    maxDist: 0,
  });
  // with no deviation each step moves every feature by 1/steps of (x − x'): Σ_k g(k/steps)·(x − x')/steps
  const { integratedGradients } = await import("./ig.js");
  const ig = await integratedGradients(model, {
    backend,
    inputs: { input: x },
    target,
    steps: 8,
    method: "riemann_left",
  });
  const err = rowErrors(r.attributions.input!.data, ig.attributions.input!.data, 3).all;
  assert.ok(err < 1e-6, `rel L2 ${err}`);
});

test("Guided IG: bad options are OptionErrors", async () => {
  const x = pairNpy(pairCases("guided_ig")[0]!.input);
  for (const bad of [{ fraction: 0 }, { maxDist: 2 }, { steps: 0 }]) {
    await assert.rejects(
      guidedIntegratedGradients(model, { backend, inputs: { input: x }, target: 0, ...bad }),
      OptionError,
    );
  }
});

test("Guided IG: several attributed inputs or a wrongly shaped baseline are clear errors", async () => {
  const x = pairNpy(pairCases("guided_ig")[0]!.input);
  await assert.rejects(
    guidedIntegratedGradients(model, { backend, inputs: { input: x, other: x }, target: 0 }),
    (e: Error) => e instanceof OptionError && /one input tensor; got 2/.test(e.message),
  );
  await assert.rejects(
    guidedIntegratedGradients(model, { backend, inputs: { input: x }, target: 0, baselines: float32([5]) }),
    (e: Error) => e instanceof ShapeMismatchError && /baseline/.test(e.message),
  );
});

test("Guided IG: an example equal to its baseline gets zero attributions and zero gap (as PAIR)", async () => {
  const c = pairCases("guided_ig")[2]!;
  const x = pairNpy(c.input);
  const base = pairNpy(c.baseline!);
  const same = float32(x.dims, x.data as Float32Array);
  same.data.set((base.data as Float32Array).subarray(64, 128), 64); // row 1 := its baseline
  const r = await guidedIntegratedGradients(model, {
    backend,
    inputs: { input: same },
    baselines: base,
    target: 0,
    steps: 5,
  });
  const a = r.attributions.input!.data;
  assert.ok(a.subarray(64, 128).every((v) => v === 0));
  assert.ok(a.subarray(0, 64).some((v) => v !== 0));
  assert.ok(Math.abs(r.delta[1]!) < 1e-6);
});
