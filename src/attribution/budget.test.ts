import assert from "node:assert/strict";
import { test } from "node:test";
import type { Backend } from "../runtime/backend.js";
import { float32 } from "../tensor/tensor.js";
import { readModelFixture } from "../testing/fixtures.js";
import { BudgetError, DEFAULT_MAX_PATH_POINTS } from "./budget.js";
import { enhancedIntegratedGradients } from "./eig/eig.js";
import { integratedGradients } from "./ig.js";
import { integratedHessians } from "./interactions.js";

/** A backend that must never be reached: the budget is checked before any session exists. */
const unreachable: Backend = {
  name: "unreachable",
  createSession() {
    throw new Error("a session was created although the budget should have refused the run");
  },
};

test("runs above the path-point budget are refused up front with the numbers and the option", async () => {
  const model = readModelFixture("models/digits_cnn.onnx");
  const x = float32([2, 1, 8, 8], new Array(128).fill(0.5));
  await assert.rejects(
    integratedGradients(model, { backend: unreachable, inputs: { input: x }, target: 0, steps: 1e7 }),
    (e: unknown) =>
      e instanceof BudgetError &&
      e.message.includes("20,000,000 path points (10000000 steps × 2 example(s))") &&
      e.message.includes("maxPathPoints; CLI: --max-points"),
  );
  await assert.rejects(
    integratedGradients(model, {
      backend: unreachable,
      inputs: { input: x },
      target: 0,
      steps: "auto",
      maxSteps: 1e9,
    }),
    BudgetError,
  );
  await assert.rejects(
    integratedHessians(model, { backend: unreachable, inputs: { input: x }, target: 0, steps: 1000 }),
    /2,000,000 path points \(1000² steps × 2 example\(s\)\)/,
  );
  // Raising the limit lets the estimate through (then the unreachable backend is reached).
  await assert.rejects(
    integratedGradients(model, {
      backend: unreachable,
      inputs: { input: x },
      target: 0,
      steps: 1e7,
      maxPathPoints: 1e8,
    }),
    /a session was created/,
  );
  assert.equal(DEFAULT_MAX_PATH_POINTS, 1_000_000);
});

test("Expected Gradients: samples × examples are budgeted before any draw or session", async () => {
  const { expectedGradients } = await import("./expected-gradients.js");
  const model = readModelFixture("models/digits_cnn.onnx");
  const x = float32([2, 1, 8, 8], new Array(128).fill(0.5));
  const references = float32([3, 1, 8, 8], new Array(192).fill(0));
  await assert.rejects(
    expectedGradients(model, {
      backend: unreachable,
      inputs: { input: x },
      references,
      target: 0,
      samples: 1e8,
    }),
    (e: unknown) =>
      e instanceof BudgetError &&
      e.message.includes("200,000,002 path points (100000000 samples + 1 × 2 example(s))"),
  );
  await assert.rejects(
    expectedGradients(model, {
      backend: unreachable,
      inputs: { input: x },
      references,
      target: 0,
      samples: 100,
      maxPathPoints: 100,
    }),
    /202 path points .* more than the limit of 100/,
  );
});

test("EIG: samples × baselines × path points counted before any session", async () => {
  const model = readModelFixture("models/digits_cnn.onnx");
  const x = float32([4, 1, 8, 8], new Array(256).fill(0.5));
  await assert.rejects(
    enhancedIntegratedGradients(model, {
      backend: unreachable,
      inputs: { input: x },
      path: "original-linear",
      baselineKind: "kmeans",
      baselineData: float32([3, 1, 8, 8], new Array(192).fill(0)),
      numBaselines: 3,
      steps: 99,
      maxPathPoints: 1000,
    }),
    (e: unknown) =>
      e instanceof BudgetError &&
      e.message.includes("1,200 path points (4 sample(s) × 3 baseline(s) × 100 path points)") &&
      e.message.includes("--max-points"),
  );
  // [N, K, …] baselines: K per sample
  await assert.rejects(
    enhancedIntegratedGradients(model, {
      backend: unreachable,
      inputs: { input: x },
      path: "original-linear",
      baseline: float32([4, 5, 1, 8, 8], new Array(4 * 5 * 64).fill(0)),
      steps: 1e6,
    }),
    /20,000,020 path points \(4 sample\(s\) × 5 baseline\(s\)/,
  );
});

test("memory: one path point above the limit is refused with the estimate and the option", async () => {
  const { autoChunkRows, DEFAULT_MEMORY_LIMIT } = await import("./chunking.js");
  // A probe at batch 2 with a [2, 2²⁹] float32 activation: 2 GiB per example, × 2.5 for the gradients.
  const shapes = new Map([
    ["x", { dims: [2, 4], dtype: "float32" as const }],
    ["big", { dims: [2, 2 ** 29], dtype: "float32" as const }],
  ]);
  assert.throws(
    () => autoChunkRows(shapes as never),
    (e: unknown) =>
      e instanceof BudgetError &&
      /needs about 5,121 MB .* memory limit of 4,096 MB/.test(e.message) &&
      e.message.includes("--memory-budget"),
  );
  assert.equal(DEFAULT_MEMORY_LIMIT, 4 * 2 ** 30);
  // An explicit budget that holds one point is honoured (one row per run).
  assert.equal(autoChunkRows(shapes as never, 6 * 2 ** 30), 1);
});
