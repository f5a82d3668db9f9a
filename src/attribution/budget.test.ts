import assert from "node:assert/strict";
import { test } from "node:test";
import type { Backend } from "../runtime/backend.js";
import { float32 } from "../tensor/tensor.js";
import { readModelFixture } from "../testing/fixtures.js";
import { BudgetError, DEFAULT_MAX_PATH_POINTS } from "./budget.js";
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
