import assert from "node:assert/strict";
import { test } from "node:test";
import { makeModel } from "../onnx/make.js";
import { nodeBackend } from "../runtime/node.js";
import { float32, float64, relativeL2, toFloat64 } from "../tensor/tensor.js";
import { readJsonFixture, readModelFixture, readNpyFixture } from "../testing/fixtures.js";
import { expectedGradients } from "./expected-gradients.js";
import { expectedHessians, integratedHessians } from "./interactions.js";

const backend = nodeBackend();
interface Ref {
  file: string;
}
interface Case {
  id: string;
  kind: string;
  model: string;
  input: Ref;
  baseline?: Ref;
  expected: Ref;
  background?: Ref;
  reference_index?: Ref;
  alphas?: Ref;
  model_output_at_input?: Ref;
  model_output_at_baseline?: Ref;
}
const cases = readJsonFixture<{ cases: Case[] }>("refs/manifest.json").cases;

/** XOR on two binary features as the polynomial x₁ + x₂ − 2x₁x₂ (exact on {0,1}², smooth). */
const xor = makeModel({
  inputs: [{ name: "x", dtype: "float64", dims: ["N", 2] }],
  outputs: [{ name: "y", dtype: "float64" }],
  initializers: { ones: float64([2, 1], [1, 1]), m2: float64([], [-2]) },
  nodes: [
    { op: "MatMul", inputs: ["x", "ones"], outputs: ["s"] },
    { op: "Slice", inputs: ["x", "st", "en", "ax"], outputs: ["x1"] },
    { op: "Slice", inputs: ["x", "en", "en2", "ax"], outputs: ["x2"] },
    { op: "Mul", inputs: ["x1", "x2"], outputs: ["p"] },
    { op: "Mul", inputs: ["p", "m2"], outputs: ["q"] },
    { op: "Add", inputs: ["s", "q"], outputs: ["y"] },
  ],
});
xor.graph!.initializer.push(
  ...makeModel({
    inputs: [],
    outputs: [],
    nodes: [],
    initializers: {
      st: { dtype: "int64", dims: [1], data: BigInt64Array.of(0n) },
      en: { dtype: "int64", dims: [1], data: BigInt64Array.of(1n) },
      en2: { dtype: "int64", dims: [1], data: BigInt64Array.of(2n) },
      ax: { dtype: "int64", dims: [1], data: BigInt64Array.of(1n) },
    },
  }).graph!.initializer,
);

for (const id of ["softplus_mlp_ih_zero", "softplus_mlp_ih_randbase"]) {
  test(`Integrated Hessians match the float64 reference: ${id} (64×64 Gauss–Legendre)`, async () => {
    const c = cases.find((k) => k.id === id)!;
    const r = await integratedHessians(readModelFixture(c.model), {
      backend,
      inputs: { input: readNpyFixture(c.input.file) },
      baselines: readNpyFixture(c.baseline!.file),
      steps: 64,
    });
    const expected = toFloat64(readNpyFixture(c.expected.file));
    const err = relativeL2(r.interactions.data, expected);
    assert.ok(err <= 1e-3, `relative L2 ${err}`);
    // interaction completeness: Σ_ij Γ_ij = F(x) − F(x'), and rows sum to IG
    const fx = toFloat64(readNpyFixture(c.model_output_at_input!.file));
    const fb = toFloat64(readNpyFixture(c.model_output_at_baseline!.file));
    r.completenessDelta!.forEach((d, e) => {
      const span = Math.abs(fx[e]! - fb[e]!);
      assert.ok(
        Math.abs(d) <= 1e-3 * Math.max(span, 1e-6) + 1e-5,
        `example ${e}: completeness ${d} vs span ${span}`,
      );
    });
    assert.ok(
      r.rowSumDelta!.every((d) => d < 1e-4),
      `row sums vs IG: ${Array.from(r.rowSumDelta!)}`,
    );
  });
}

test("Expected Gradients with the fixture's (reference, α) draws match the reference", async () => {
  const c = cases.find((k) => k.id === "softplus_mlp_eg")!;
  const idx = readNpyFixture(c.reference_index!.file);
  const r = await expectedGradients(readModelFixture(c.model), {
    backend,
    inputs: { input: readNpyFixture(c.input.file) },
    references: readNpyFixture(c.background!.file),
    draws: {
      referenceIndex: idx.data as BigInt64Array,
      alpha: readNpyFixture(c.alphas!.file).data as Float32Array,
    },
  });
  const err = relativeL2(r.attributions.input!.data, toFloat64(readNpyFixture(c.expected.file)));
  assert.ok(err <= 1e-4, `relative L2 ${err}`);
  assert.equal(r.samples, 200);
});

test("XOR (paper's example): IG is 0 for both features at (1,1); IH: negative interaction, positive self-interaction", async () => {
  const x = float64([2, 2], [0, 0, 1, 1]);
  const r = await integratedHessians(xor, { backend, inputs: { x }, steps: 8 });
  const g = r.interactions.data;
  // (0,0) equals the baseline: all zero
  for (let k = 0; k < 4; k++) assert.ok(Math.abs(g[k]!) < 1e-12);
  // closed forms at (1,1): Γ₁₂ = −2·∫∫αβ = −1/2, Γ₁₁ = ∫∫(1 − 2αβ) = 1/2
  const [g11, g12, g21, g22] = [g[4]!, g[5]!, g[6]!, g[7]!];
  assert.ok(Math.abs(g12 + 0.5) < 1e-12 && Math.abs(g21 + 0.5) < 1e-12, `${g12} ${g21}`);
  assert.ok(Math.abs(g11 - 0.5) < 1e-12 && Math.abs(g22 - 0.5) < 1e-12, `${g11} ${g22}`);
  // rows sum to IG, which is 0 for both features at (1,1)
  assert.ok(Math.abs(r.attributions.data[2]!) < 1e-12 && Math.abs(r.attributions.data[3]!) < 1e-12);
  assert.ok(Math.abs(r.completenessDelta![1]!) < 1e-12);
});

test("Expected Hessians converge to Integrated Hessians when the only reference is the baseline", async () => {
  const x = float64([1, 2], [1, 1]);
  const r = await expectedHessians(xor, {
    backend,
    inputs: { x },
    references: float64([1, 2], [0, 0]),
    samples: 4000,
    seed: 3,
  });
  const [g11, g12] = [r.interactions.data[0]!, r.interactions.data[1]!];
  assert.ok(Math.abs(g12 + 0.5) < 0.03, `Γ12 ${g12}`);
  assert.ok(Math.abs(g11 - 0.5) < 0.03, `Γ11 ${g11}`);
  const again = await expectedHessians(xor, {
    backend,
    inputs: { x },
    references: float64([1, 2], [0, 0]),
    samples: 4000,
    seed: 3,
  });
  assert.deepEqual(Array.from(again.interactions.data), Array.from(r.interactions.data), "seeded");
});

test("groups (sum over an axis) and interactionIndex are the sums/rows of the full matrix", async () => {
  const c = cases.find((k) => k.id === "softplus_mlp_ih_zero")!;
  const model = readModelFixture(c.model);
  const x = readNpyFixture(c.input.file);
  const full = await integratedHessians(model, { backend, inputs: { input: x }, steps: 12 });
  const row3 = await integratedHessians(model, {
    backend,
    inputs: { input: x },
    steps: 12,
    interactionIndex: 3,
  });
  const d = full.features;
  for (let e = 0; e < 4; e++)
    for (let j = 0; j < d; j++)
      assert.ok(
        Math.abs(row3.interactions.data[e * d + j]! - full.interactions.data[(e * d + 3) * d + j]!) < 1e-9,
      );
  // the same 10 features seen as [2, 5]: grouping axis 1 gives 2 groups of 5 features
  const reshaped = { ...x, dims: [4, 2, 5] };
  const grouped = await integratedHessians(reshapeInput(model), {
    backend,
    inputs: { input: reshaped },
    steps: 12,
    groupAxes: [1],
  });
  assert.equal(grouped.features, 2);
  for (let e = 0; e < 4; e++)
    for (let a = 0; a < 2; a++)
      for (let b = 0; b < 2; b++) {
        let s = 0;
        for (let i = 0; i < 5; i++)
          for (let j = 0; j < 5; j++) s += full.interactions.data[(e * d + a * 5 + i) * d + b * 5 + j]!;
        assert.ok(
          Math.abs(grouped.interactions.data[(e * 2 + a) * 2 + b]! - s) < 1e-6,
          `block ${a},${b}: ${s}`,
        );
      }
});

test("second derivatives of a ReLU model warn unless the softplus rewrite is asked for", async () => {
  const relu = makeModel({
    inputs: [{ name: "x", dtype: "float32", dims: ["N", 2] }],
    outputs: [{ name: "y", dtype: "float32" }],
    initializers: { w: float32([2, 2], [1, -1, 0.5, 2]), v: float32([2, 1], [1, 1]) },
    nodes: [
      { op: "MatMul", inputs: ["x", "w"], outputs: ["h"] },
      { op: "Relu", inputs: ["h"], outputs: ["r"] },
      { op: "MatMul", inputs: ["r", "v"], outputs: ["y"] },
    ],
  });
  const x = float32([1, 2], [1, 2]);
  const seen: string[] = [];
  const plain = await integratedHessians(relu, {
    backend,
    inputs: { x },
    steps: 4,
    onWarning: (m) => seen.push(m),
  });
  assert.equal(plain.warnings.length, 1);
  assert.match(seen[0]!, /Relu/);
  const smooth = await integratedHessians(relu, { backend, inputs: { x }, steps: 16, softplus: 10 });
  assert.equal(smooth.warnings.length, 0);
  assert.ok(
    smooth.interactions.data.some((v) => Math.abs(v) > 1e-3),
    "softplus gives non-zero second-order terms",
  );
});

/** The softplus MLP with its input reshaped from [N, 2, 5] to [N, 10] first. */
function reshapeInput(model: ReturnType<typeof readModelFixture>) {
  const m = structuredClone(model);
  const g = m.graph!;
  const inner = "input_flat";
  for (const n of g.node) n.input = n.input.map((i) => (i === "input" ? inner : i));
  g.initializer.push(
    ...makeModel({
      inputs: [],
      outputs: [],
      nodes: [],
      initializers: { flat_shape: { dtype: "int64", dims: [2], data: BigInt64Array.of(-1n, 10n) } },
    }).graph!.initializer,
  );
  g.node.unshift({
    opType: "Reshape",
    input: ["input", "flat_shape"],
    output: [inner],
    name: "flatten_input",
    attribute: [],
    metadataProps: [],
  } as never);
  const vi = g.input.find((i) => i.name === "input")!;
  const shape = vi.type?.tensorType?.shape;
  if (shape) shape.dim = [shape.dim[0]!, { dimValue: 2 } as never, { dimValue: 5 } as never];
  return m;
}

test("token interactions at tiny BERT's embedding layer (embedding dims summed) are complete", async () => {
  const ids = readNpyFixture("refs/tiny_bert_lig_input_ids.npy");
  const mask = readNpyFixture("refs/tiny_bert_lig_attention_mask.npy");
  const base = readNpyFixture("refs/tiny_bert_lig_baseline_ids.npy");
  const t = 12; // the first 12 tokens of example 0, all real tokens, ending with [SEP]
  const row = Array.from(ids.data.subarray(0, t) as BigInt64Array);
  row[t - 1] = 2n;
  const baseRow = Array.from(base.data.subarray(0, t) as BigInt64Array);
  baseRow[t - 1] = 2n;
  const r = await integratedHessians(readModelFixture("models/tiny_bert.onnx"), {
    backend,
    inputs: { input_ids: { dtype: "int64", dims: [1, t], data: BigInt64Array.from(row) } },
    extra: {
      attention_mask: {
        dtype: "int64",
        dims: [1, t],
        data: BigInt64Array.from(mask.data.subarray(0, t) as BigInt64Array),
      },
    },
    layer: "/embeddings/LayerNorm/Add_1_output_0",
    baselineInputs: { input_ids: { dtype: "int64", dims: [1, t], data: BigInt64Array.from(baseRow) } },
    groupAxes: [1],
    target: 1,
    steps: 16,
  });
  assert.equal(r.features, t);
  assert.deepEqual(r.interactions.dims, [1, t, t]);
  const span = Math.abs(r.outputAtInput[0]! - r.outputAtBaseline[0]!);
  assert.ok(
    Math.abs(r.completenessDelta![0]!) <= 1e-2 * span,
    `completeness ${r.completenessDelta![0]} vs span ${span}`,
  );
  // symmetric off the diagonal (Hessians are symmetric; the diagonal also holds the main effect)
  for (let i = 0; i < t; i++)
    for (let j = i + 1; j < t; j++) {
      const a = r.interactions.data[i * t + j]!;
      const b = r.interactions.data[j * t + i]!;
      assert.ok(Math.abs(a - b) <= 1e-3 * Math.max(1, Math.abs(a)), `Γ[${i},${j}] ${a} vs ${b}`);
    }
});
