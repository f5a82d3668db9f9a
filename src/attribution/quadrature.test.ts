import assert from "node:assert/strict";
import { test } from "node:test";
import { readNpyFixture } from "../testing/fixtures.js";
import { gaussLegendre, quadrature } from "./quadrature.js";

test("Gauss–Legendre nodes and weights match numpy's leggauss (Captum's rule) for n = 50", () => {
  const q = quadrature("gausslegendre", 50);
  const alphas = readNpyFixture("refs/quadrature_gausslegendre_n50_alphas.npy");
  const weights = readNpyFixture("refs/quadrature_gausslegendre_n50_weights.npy");
  for (let k = 0; k < 50; k++) {
    assert.ok(Math.abs(q.alphas[k]! - Number(alphas.data[k])) < 1e-14, `alpha ${k}`);
    // The fixture stores Captum's weights as float32.
    const tol = weights.dtype === "float32" ? 1e-7 * Math.abs(q.weights[k]!) : 1e-14;
    assert.ok(Math.abs(q.weights[k]! - Number(weights.data[k])) <= tol, `weight ${k}`);
  }
});

test("Gauss–Legendre with n points integrates polynomials of degree 2n − 1 exactly", () => {
  for (const n of [1, 2, 3, 7, 20, 64]) {
    const q = quadrature("gausslegendre", n);
    for (const deg of [0, 1, 2 * n - 1]) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q.weights[k]! * q.alphas[k]! ** deg;
      assert.ok(Math.abs(s - 1 / (deg + 1)) < 1e-13, `n=${n} degree ${deg}: ${s}`);
    }
  }
  const [x] = gaussLegendre(5);
  assert.ok(Math.abs(x[2]!) < 1e-15);
  assert.ok(Math.abs(x[4]! - Math.sqrt(5 + 2 * Math.sqrt(10 / 7)) / 3) < 1e-15);
});

test("true trapezoid weights sum to 1; Captum's sum to (n − 1)/n", () => {
  const q = quadrature("riemann_trapezoid", 50);
  const captumWeights = readNpyFixture("refs/quadrature_riemann_trapezoid_n50_weights.npy");
  const captumAlphas = readNpyFixture("refs/quadrature_riemann_trapezoid_n50_alphas.npy");
  let sum = 0;
  let captumSum = 0;
  for (let k = 0; k < 50; k++) {
    sum += q.weights[k]!;
    captumSum += Number(captumWeights.data[k]);
    assert.ok(Math.abs(q.alphas[k]! - Number(captumAlphas.data[k])) < 1e-7);
    // each true weight is Captum's × n/(n − 1)
    assert.ok(Math.abs(q.weights[k]! - (Number(captumWeights.data[k]) * 50) / 49) < 1e-7);
  }
  assert.ok(Math.abs(sum - 1) < 1e-14);
  assert.ok(Math.abs(captumSum - 49 / 50) < 1e-6);
});

test("Riemann rules: left, right and middle nodes", () => {
  assert.deepEqual(Array.from(quadrature("riemann_left", 4).alphas), [0, 0.25, 0.5, 0.75]);
  assert.deepEqual(Array.from(quadrature("riemann_right", 4).alphas), [0.25, 0.5, 0.75, 1]);
  assert.deepEqual(Array.from(quadrature("riemann_middle", 4).alphas), [0.125, 0.375, 0.625, 0.875]);
  assert.throws(() => quadrature("riemann_trapezoid", 1), /at least 2/);
  assert.throws(() => quadrature("simpson" as never, 4), /unknown method/);
});
