import assert from "node:assert/strict";
import { test } from "node:test";
import { makeModel } from "../../onnx/make.js";
import { nodeBackend } from "../../runtime/node.js";
import { Random } from "../../tensor/random.js";
import { float32, sliceRows, toFloat64 } from "../../tensor/tensor.js";
import { readModelFixture, readNpyFixture } from "../../testing/fixtures.js";
import { integratedGradients } from "../ig.js";
import { deletionCurve, insertionCurve } from "./curves.js";

const backend = nodeBackend();
const coef = Array.from(toFloat64(readNpyFixture("models/tabular_coef.npy")));
const X = sliceRows(readNpyFixture("models/tabular_X_test.npy") as ReturnType<typeof float32>, 0, 16);
const d = coef.length;

/** target = Σ coef·x exactly. */
const linear = makeModel({
  inputs: [{ name: "input", dtype: "float32", dims: ["N", d] }],
  outputs: [{ name: "output", dtype: "float32", dims: ["N", 1] }],
  initializers: { w: float32([d, 1], coef) },
  nodes: [{ op: "MatMul", inputs: ["input", "w"], outputs: ["output"] }],
});

function randomAttributions(seed: number) {
  const rng = new Random(seed);
  return float32(
    X.dims,
    Array.from({ length: X.data.length }, () => rng.normal()),
  );
}

test("deletion curve of the linear model Σ coef·x is the closed form Σ over kept features", async () => {
  const attributions = await integratedGradients(linear, { backend, inputs: { input: X }, steps: 8 });
  const c = await deletionCurve(linear, {
    backend,
    inputs: { input: X },
    attributions: attributions.attributions.input!,
    steps: 12,
  });
  const xs = toFloat64(X);
  for (let i = 0; i < 3; i++) {
    const contrib = coef.map((cf, j) => cf * xs[i * d + j]!);
    const order = contrib.map((_, j) => j).sort((a, b) => contrib[b]! - contrib[a]! || a - b);
    c.fractions.forEach((f, k) => {
      const removed = new Set(order.slice(0, Math.round(f * d)));
      const expect = contrib.reduce((s, v, j) => s + (removed.has(j) ? 0 : v), 0);
      assert.ok(
        Math.abs(c.scores[i * 13 + k]! - expect) < 1e-4,
        `example ${i}, f ${f}: ${c.scores[i * 13 + k]} vs ${expect}`,
      );
    });
  }
});

for (const [label, model] of [
  ["the exact linear model", linear],
  ["the MLP fit to it (tabular_mlp)", readModelFixture("models/tabular_mlp.onnx")],
] as const) {
  test(`on target = Σ coef·x (${label}) IG's deletion AUC beats random orderings', and its insertion AUC too`, async () => {
    const ig = (await integratedGradients(model, { backend, inputs: { input: X }, steps: 32 })).attributions
      .input!;
    const del = await deletionCurve(model, { backend, inputs: { input: X }, attributions: ig });
    const ins = await insertionCurve(model, { backend, inputs: { input: X }, attributions: ig });
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = randomAttributions(seed);
      const rd = await deletionCurve(model, { backend, inputs: { input: X }, attributions: r });
      const ri = await insertionCurve(model, { backend, inputs: { input: X }, attributions: r });
      assert.ok(del.meanAuc < rd.meanAuc, `deletion: IG ${del.meanAuc} vs random ${rd.meanAuc}`);
      assert.ok(ins.meanAuc > ri.meanAuc, `insertion: IG ${ins.meanAuc} vs random ${ri.meanAuc}`);
    }
    // both curves start and end at the same two points: F(x) and F(fill)
    for (let i = 0; i < 16; i++) {
      assert.equal(del.scores[i * 33], ins.scores[i * 33 + 32]);
      assert.equal(del.scores[i * 33 + 32], ins.scores[i * 33]);
    }
  });
}

test("curves: groupAxis ranks whole pixels; blur fill needs an image", async () => {
  const digits = readModelFixture("models/digits_cnn.onnx");
  const x = sliceRows(readNpyFixture("models/digits_X_test.npy") as ReturnType<typeof float32>, 0, 2);
  const attributions = (
    await integratedGradients(digits, { backend, inputs: { input: x }, target: [0, 1], steps: 16 })
  ).attributions.input!;
  const c = await deletionCurve(digits, {
    backend,
    inputs: { input: x },
    attributions,
    target: [0, 1],
    groupAxis: 0,
    fill: { blur: 2 },
    steps: 8,
  });
  assert.equal(c.scores.length, 2 * 9);
  assert.ok(c.auc.every(Number.isFinite));
  await assert.rejects(
    deletionCurve(linear, { backend, inputs: { input: X }, attributions: X, fill: { blur: 1 } }),
    /image batch/,
  );
});
