import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { makeModel } from "../onnx/make.js";
import { nodeBackend } from "../runtime/node.js";
import { float32, relativeL2, type Tensor, toFloat64 } from "../tensor/tensor.js";
import { fixturePath, readJsonFixture, readModelFixture, readNpyFixture } from "../testing/fixtures.js";
import { NonFloatInputError, ShapeMismatchError, TargetError } from "./errors.js";
import { integratedGradients } from "./ig.js";

interface FileRef {
  file: string;
}
interface Case {
  id: string;
  kind: string;
  model: string;
  method: "gausslegendre" | "riemann_trapezoid";
  n_steps: number;
  onnx_input_name?: string;
  onnx_output_name?: string;
  input?: FileRef;
  baseline?: FileRef;
  target: FileRef;
  input_ids?: FileRef;
  attention_mask?: FileRef;
  baseline_ids?: FileRef;
  expected: FileRef;
  expected_per_token?: FileRef;
  model_output_at_input: FileRef;
  model_output_at_baseline: FileRef;
  suggested_rel_l2_tolerance: number;
}

const backend = nodeBackend();
const manifest = readJsonFixture<{ cases: Case[] }>("refs/manifest.json");

/** Captum's trapezoid weights sum to (n−1)/n; the true rule's result is Captum's × n/(n−1). */
function captumScale(c: Case): number {
  return c.method === "riemann_trapezoid" ? c.n_steps / (c.n_steps - 1) : 1;
}

function targetValues(out: Tensor, target: Tensor): number[] {
  const n = out.dims[0]!;
  const row = out.data.length / n;
  return Array.from({ length: n }, (_, i) => Number(out.data[i * row + Number(target.data[i])]));
}

function expectedDelta(c: Case, expected: Float64Array, n: number): number[] {
  const target = readNpyFixture(c.target.file);
  const fx = targetValues(readNpyFixture(c.model_output_at_input.file), target);
  const fb = targetValues(readNpyFixture(c.model_output_at_baseline.file), target);
  const row = expected.length / n;
  return fx.map((f, i) => {
    let s = 0;
    for (let j = i * row; j < (i + 1) * row; j++) s += expected[j]!;
    return s - (f - fb[i]!);
  });
}

for (const c of manifest.cases.filter(
  (x) => x.kind === "integrated_gradients" || x.kind === "layer_integrated_gradients",
)) {
  const present = existsSync(fixturePath(c.model)) && existsSync(fixturePath(c.expected.file));
  test(`Integrated Gradients matches Captum: ${c.id}`, {
    skip: !present && "model not in test/fixtures (benchmark only)",
  }, async () => {
    const model = readModelFixture(c.model);
    const target = Array.from(readNpyFixture(c.target.file).data, Number);
    const common = { backend, target, steps: c.n_steps, method: c.method };
    const r =
      c.kind === "layer_integrated_gradients"
        ? await integratedGradients(model, {
            ...common,
            inputs: { input_ids: readNpyFixture(c.input_ids!.file) },
            extra: { attention_mask: readNpyFixture(c.attention_mask!.file) },
            layer: "/embeddings/LayerNorm/Add_1_output_0",
            baselineInputs: { input_ids: readNpyFixture(c.baseline_ids!.file) },
          })
        : await integratedGradients(model, {
            ...common,
            inputs: { [c.onnx_input_name!]: readNpyFixture(c.input!.file) },
            baselines: readNpyFixture(c.baseline!.file),
          });
    const ours = Object.values(r.attributions)[0]!;
    const expected = toFloat64(readNpyFixture(c.expected.file)).map((v) => v * captumScale(c));
    // The bars: 1e-4 relative L2; resnet18 1e-2 (float32 ReLU/max-pool decisions flip).
    const bar = c.model.includes("resnet18") ? 1e-2 : 1e-4;
    const err = relativeL2(ours.data, expected);
    assert.ok(err <= bar, `relative L2 ${err} > ${bar}`);
    const n = ours.dims[0]!;
    const dExp = expectedDelta(c, expected, n);
    r.delta.forEach((d, i) => {
      assert.ok(
        Math.abs(d - dExp[i]!) <= bar * Math.max(1, Math.abs(r.outputAtInput[i]! - r.outputAtBaseline[i]!)),
        `delta ${i}: ${d} vs ${dExp[i]}`,
      );
    });
  });
}

test("IG recovers coef·x on the synthetic linear target (integrated-gradients-pytorch write-up)", async () => {
  const model = readModelFixture("models/tabular_mlp.onnx");
  const X = readNpyFixture("models/tabular_X_test.npy");
  const coef = toFloat64(readNpyFixture("models/tabular_coef.npy"));
  const rows = X.dims[0]!;
  const d = X.dims[1]!;
  const r = await integratedGradients(model, { backend, inputs: { input: X }, steps: 50 });
  const a = r.attributions.input!.data;
  const xs = toFloat64(X);
  const truth = xs.map((v, i) => v * coef[i % d]!);
  // Pearson correlation over all rows and features
  const mean = (v: ArrayLike<number>) => Array.from(v).reduce((s, x) => s + x, 0) / v.length;
  const ma = mean(a);
  const mt = mean(truth);
  let sab = 0;
  let saa = 0;
  let stt = 0;
  for (let i = 0; i < a.length; i++) {
    sab += (a[i]! - ma) * (truth[i]! - mt);
    saa += (a[i]! - ma) ** 2;
    stt += (truth[i]! - mt) ** 2;
  }
  const corr = sab / Math.sqrt(saa * stt);
  assert.ok(corr >= 0.99, `correlation ${corr}`);
  const names = readJsonFixture<string[]>("models/tabular_feature_names.json");
  const noise = names.map((nm, i) => (nm.startsWith("NOISE") ? i : -1)).filter((i) => i >= 0);
  assert.ok(noise.length > 0);
  let s = 0;
  for (let row = 0; row < rows; row++) for (const j of noise) s += Math.abs(a[row * d + j]!);
  assert.ok(
    s / (rows * noise.length) <= 0.01,
    `mean |attribution| of NOISE features ${s / (rows * noise.length)}`,
  );
});

/** y = Σ w_i x_i² (float64): IG from zero is exactly w_i x_i², F(0) = 0. */
function quadraticModel() {
  return makeModel({
    inputs: [{ name: "x", dtype: "float32", dims: ["N", 3] }],
    outputs: [{ name: "y", dtype: "float32", dims: ["N", 1] }],
    initializers: { w: float32([3, 1], [1, -2, 0.5]) },
    nodes: [
      { op: "Mul", inputs: ["x", "x"], outputs: ["sq"] },
      { op: "MatMul", inputs: ["sq", "w"], outputs: ["y"] },
    ],
  });
}

test("steps: 'auto' refines until the tolerance and reports the steps", async () => {
  const x = float32([2, 3], [1, 2, 3, -1, 0.5, 2]);
  const r = await integratedGradients(quadraticModel(), {
    backend,
    inputs: { x },
    steps: "auto",
    tolerance: 1e-6,
  });
  assert.ok(r.converged!.every(Boolean));
  // the trapezoid rule integrates the linear gradient path exactly: 9 points suffice
  assert.deepEqual(r.stepsPerExample, [9, 9]);
  const exp = [1, -8, 4.5, 1, -0.5, 2];
  r.attributions.x!.data.forEach((v, i) => assert.ok(Math.abs(v - exp[i]!) < 1e-5, `${v} vs ${exp[i]}`));
});

test("multiple baselines are averaged; constant baselines; multiplyByInputs off", async () => {
  const x = float32([1, 3], [1, 2, 3]);
  const m = quadraticModel();
  const r = await integratedGradients(m, { backend, inputs: { x }, baselines: [0, 1], steps: 8 });
  // from 0: w x²; from 1: w (x² − 1)
  const exp = [1, -2, 0.5].map((w, i) => (w * [1, 2, 3][i]! ** 2 + w * ([1, 2, 3][i]! ** 2 - 1)) / 2);
  r.attributions.x!.data.forEach((v, i) => assert.ok(Math.abs(v - exp[i]!) < 1e-4, `${v} vs ${exp[i]}`));
  const g = await integratedGradients(m, { backend, inputs: { x }, steps: 8, multiplyByInputs: false });
  // mean gradient along the path: ∫ 2 w α x dα = w x
  [1, -4, 1.5].forEach((e, i) => assert.ok(Math.abs(g.attributions.x!.data[i]! - e) < 1e-4));
});

test("bad input gives typed errors", async () => {
  const m = quadraticModel();
  const x = float32([2, 3], [1, 2, 3, 4, 5, 6]);
  await assert.rejects(
    integratedGradients(m, { backend, inputs: { x }, baselines: float32([4], [0, 0, 0, 0]) }),
    ShapeMismatchError,
  );
  await assert.rejects(integratedGradients(m, { backend, inputs: { x }, target: 1 }), TargetError);
  await assert.rejects(
    integratedGradients(m, { backend, inputs: { nope: x } }),
    /unknown model input "nope".*"x"/,
  );
  const nan = float32([1, 3], [1, Number.NaN, 3]);
  await assert.rejects(integratedGradients(m, { backend, inputs: { x: nan } }), /NaN/);
  const ids = { dtype: "int64", dims: [1, 3], data: BigInt64Array.of(1n, 2n, 3n) } as Tensor;
  await assert.rejects(integratedGradients(m, { backend, inputs: { x: ids } }), NonFloatInputError);
});

test("progress reports every evaluation and AbortSignal cancels", async () => {
  const x = float32(
    [4, 3],
    Array.from({ length: 12 }, (_, i) => i / 10),
  );
  const seen: number[] = [];
  await integratedGradients(quadraticModel(), {
    backend,
    inputs: { x },
    steps: 10,
    chunkSize: 7,
    onProgress: (p) => seen.push(p.done / p.total),
  });
  assert.equal(seen.at(-1), 1);
  assert.ok(seen.length >= 6);
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(
    integratedGradients(quadraticModel(), { backend, inputs: { x }, signal: ac.signal }),
    /cancelled/,
  );
});

test("steps 'auto' reaches |delta| ≤ 1e-3·|F(x) − F(x')| on the digits CNN and tiny BERT cases", async () => {
  const byId = (id: string) => manifest.cases.find((c) => c.id === id)!;
  const digits = byId("digits_cnn__gausslegendre");
  const bert = byId("tiny_bert_lig__gausslegendre");
  const runs = [
    await integratedGradients(readModelFixture(digits.model), {
      backend,
      inputs: { input: readNpyFixture(digits.input!.file) },
      baselines: readNpyFixture(digits.baseline!.file),
      target: Array.from(readNpyFixture(digits.target.file).data, Number),
      steps: "auto",
      tolerance: 1e-3,
    }),
    await integratedGradients(readModelFixture(bert.model), {
      backend,
      inputs: { input_ids: readNpyFixture(bert.input_ids!.file) },
      extra: { attention_mask: readNpyFixture(bert.attention_mask!.file) },
      layer: "/embeddings/LayerNorm/Add_1_output_0",
      baselineInputs: { input_ids: readNpyFixture(bert.baseline_ids!.file) },
      target: Array.from(readNpyFixture(bert.target.file).data, Number),
      steps: "auto",
      tolerance: 1e-3,
    }),
  ];
  for (const r of runs) {
    assert.ok(r.converged!.every(Boolean), `converged: ${r.converged}`);
    r.delta.forEach((d, i) => {
      const span = Math.abs(r.outputAtInput[i]! - r.outputAtBaseline[i]!);
      assert.ok(Math.abs(d) <= 1e-3 * span, `example ${i}: |delta| ${Math.abs(d)} > 1e-3 × ${span}`);
    });
    assert.ok(r.stepsPerExample.every((s) => s >= 9 && s <= 1025));
    assert.equal(r.steps, Math.max(...r.stepsPerExample));
  }
});

test("Integrated Gradients through onnxruntime-web (wasm) equals onnxruntime-node", async () => {
  const { webBackend } = await import("../runtime/web.js");
  const c = manifest.cases.find((k) => k.id === "tabular_mlp__gausslegendre")!;
  const opts = {
    inputs: { input: readNpyFixture(c.input!.file) },
    baselines: readNpyFixture(c.baseline!.file),
    target: Array.from(readNpyFixture(c.target.file).data, Number),
    steps: 16,
  };
  const web = await integratedGradients(readModelFixture(c.model), { ...opts, backend: webBackend() });
  const node = await integratedGradients(readModelFixture(c.model), { ...opts, backend });
  assert.ok(relativeL2(web.attributions.input!.data, node.attributions.input!.data) < 1e-6);
});

test("a model exported with a fixed batch of 1 is evaluated one path point at a time", async () => {
  const fixed = makeModel({
    inputs: [{ name: "x", dtype: "float32", dims: [1, 3] }],
    outputs: [{ name: "y", dtype: "float32", dims: [1, 1] }],
    initializers: { w: float32([3, 1], [1, -2, 0.5]) },
    nodes: [
      { op: "Mul", inputs: ["x", "x"], outputs: ["sq"] },
      { op: "MatMul", inputs: ["sq", "w"], outputs: ["y"] },
    ],
  });
  const x = float32([1, 3], [1, 2, 3]);
  const r = await integratedGradients(fixed, { backend, inputs: { x }, steps: 16 });
  assert.equal(r.chunkSize, 1);
  // w·x² from a zero baseline: attributions w_i x_i²
  [1, -8, 4.5].forEach((e, i) =>
    assert.ok(Math.abs(r.attributions.x!.data[i]! - e) < 1e-4, `${r.attributions.x!.data[i]} vs ${e}`),
  );
});
