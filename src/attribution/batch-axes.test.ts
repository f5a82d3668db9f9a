/**
 * `batchAxes`: Integrated Gradients, noise tunnel and Expected Gradients of torch's
 * sequence-first recurrent exports (test/fixtures/rnn: lstm2, rnn_tanh2 and rnn_relu_bi with x
 * as time × batch × features; lstm_bi_bf and gru2_bi_bf batch-first x but states
 * layers·directions × batch × hidden),
 * given and returned in the models' own layouts. Reference: torch float64 autograd at the same
 * quadrature nodes (tools/make_batchaxis_refs.py → test/fixtures/batchaxis/refs.json), from the
 * rebuilt torch nets checked against the stored outputs — nothing computed by pathlens.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BatchAxisError, batchFirstModel } from "../onnx/batch-axes.js";
import { declaredDims } from "../onnx/model.js";
import { nodeBackend } from "../runtime/node.js";
import { float32, type Tensor, toFloat64 } from "../tensor/tensor.js";
import { readJsonFixture, readModelFixture } from "../testing/fixtures.js";
import { ShapeMismatchError } from "./errors.js";
import { expectedGradients } from "./expected-gradients.js";
import { integratedGradients } from "./ig.js";
import { noiseTunnel } from "./noise-tunnel.js";

process.env.PATHLENS_CACHE = "0";

interface Json {
  dims: number[];
  data: number[];
}
interface Case {
  inputs: Record<string, Json>;
  seeds: Record<string, Json>;
}
interface Refs {
  steps: number;
  cases: Record<
    string,
    { output: string; attributions: Record<string, Json>; outputAtInput: number; outputAtBaseline: number }
  >;
  expectedGradients: {
    output: string;
    references: Json;
    referenceIndex: number[];
    alpha: number[];
    attributions: Record<string, Json>;
  };
}

const refs = readJsonFixture<Refs>("batchaxis/refs.json");
const backend = nodeBackend();
const f32 = (j: Json) => float32(j.dims, j.data);
const fixture = (name: string) => readJsonFixture<Case>(`rnn/${name}.json`);
const model = (name: string) => readModelFixture(`rnn/${name}_opset17.onnx`);

/** ‖a − b‖ / ‖b‖ over all values. */
function relErr(a: Tensor, b: Json): number {
  assert.deepEqual(a.dims, b.dims);
  const x = toFloat64(a);
  let num = 0;
  let den = 0;
  for (let i = 0; i < x.length; i++) {
    num += (x[i]! - b.data[i]!) ** 2;
    den += b.data[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

/** The batch axes of each case: its inputs and the explained output, in the models' layouts. */
const AXES: Record<string, Record<string, number>> = {
  lstm2: { x: 1, h0: 1, c0: 1, y: 1 },
  rnn_relu_bi: { x: 1, y: 1 },
  lstm_bi_bf: { h0: 1, c0: 1, hn: 1 },
  gru2_bi_bf: { h0: 1, hn: 1 },
  rnn_tanh2: { x: 1, h0: 1, y: 1 },
};

for (const [name, batchAxes] of Object.entries(AXES)) {
  test(`${name}: IG with batchAxes equals torch float64 IG at the same nodes, in the model's layout`, async () => {
    const ref = refs.cases[name]!;
    const c = fixture(name);
    const inputs = Object.fromEntries(Object.keys(ref.attributions).map((k) => [k, f32(c.inputs[k]!)]));
    const r = await integratedGradients(model(name), {
      backend,
      inputs,
      batchAxes,
      output: ref.output,
      target: f32(c.seeds[ref.output]!),
      steps: refs.steps,
    });
    for (const [k, want] of Object.entries(ref.attributions)) {
      const err = relErr(r.attributions[k]!, want);
      assert.ok(err < 1e-5, `${name} ${k}: relative L2 ${err.toExponential(2)}`);
    }
    const fx = r.outputAtInput.reduce((a, b) => a + b, 0);
    const fb = r.outputAtBaseline.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(fx - ref.outputAtInput) < 1e-5 * (1 + Math.abs(ref.outputAtInput)), `F(x) ${fx}`);
    assert.ok(
      Math.abs(fb - ref.outputAtBaseline) < 1e-5 * (1 + Math.abs(ref.outputAtBaseline)),
      `F(0) ${fb}`,
    );
    // completeness: pathlens's delta is the torch reference's own quadrature gap
    const sumRef = Object.values(ref.attributions).reduce((s, a) => s + a.data.reduce((p, q) => p + q, 0), 0);
    const deltaRef = sumRef - (ref.outputAtInput - ref.outputAtBaseline);
    const delta = r.delta.reduce((a, b) => a + b, 0);
    const scale = Math.abs(ref.outputAtInput - ref.outputAtBaseline);
    assert.ok(Math.abs(delta - deltaRef) < 1e-4 * scale, `delta ${delta} vs torch ${deltaRef}`);
    if (name !== "rnn_relu_bi") assert.ok(Math.abs(delta) < 1e-3 * scale, `completeness gap ${delta}`);
  });
}

test("lstm2 without batchAxes: a typed error that names axis 0, batchAxes and --batch-axis", async () => {
  const c = fixture("lstm2");
  const inputs = { x: f32(c.inputs.x!), h0: f32(c.inputs.h0!), c0: f32(c.inputs.c0!) };
  await assert.rejects(
    integratedGradients(model("lstm2"), { backend, inputs, target: f32(c.seeds.y!) }),
    (e: Error) =>
      e instanceof ShapeMismatchError &&
      /"x" is declared \[6, batch, 5\]/.test(e.message) &&
      /axis 0/.test(e.message) &&
      /batchAxes: \{ x: 1 \}/.test(e.message) &&
      /--batch-axis x=1/.test(e.message),
  );
  // batch-first x but states on axis 1 (lstm_bi_bf): the inputs disagree on axis 0
  const bf = fixture("lstm_bi_bf");
  const badInputs = { x: f32(bf.inputs.x!), h0: f32(bf.inputs.h0!), c0: f32(bf.inputs.c0!) };
  await assert.rejects(
    integratedGradients(model("lstm_bi_bf"), { backend, inputs: badInputs, target: 0, output: "hn" }),
    (e: Error) => e instanceof ShapeMismatchError && /--batch-axis/.test(e.message),
  );
});

test("batchAxes naming no input or output, or an axis out of range: BatchAxisError", async () => {
  const c = fixture("rnn_relu_bi");
  const run = (batchAxes: Record<string, number>) =>
    integratedGradients(model("rnn_relu_bi"), {
      backend,
      inputs: { x: f32(c.inputs.x!) },
      batchAxes,
      target: 0,
    });
  await assert.rejects(
    run({ x: 1, hidden: 1 }),
    (e: Error) => e instanceof BatchAxisError && /"hidden"/.test(e.message),
  );
  await assert.rejects(
    run({ x: 3 }),
    (e: Error) => e instanceof BatchAxisError && /out of range.*3 axes/.test(e.message),
  );
  const flat = float32([6, 10], c.inputs.x!.data);
  await assert.rejects(
    integratedGradients(model("rnn_relu_bi"), {
      backend,
      inputs: { x: flat },
      batchAxes: { x: 1 },
      target: 0,
    }),
    (e: Error) =>
      e instanceof ShapeMismatchError && /"x" has shape \[6, 10\]; the model declares 3 axes/.test(e.message),
  );
});

test("the wrapper keeps input and output names and moves only the declared batch axis", () => {
  const m = batchFirstModel(model("lstm2"), { x: 1, h0: 1, y: -2 });
  const g = m.graph!;
  assert.deepEqual(declaredDims(g.input.find((i) => i.name === "x")), ["batch", 6, 5]);
  assert.deepEqual(declaredDims(g.input.find((i) => i.name === "h0")), ["batch", 2, 8]);
  assert.deepEqual(
    g.output.map((o) => o.name),
    ["y", "hn", "cn"],
  );
  assert.equal(declaredDims(g.output.find((o) => o.name === "y"))![1], 6);
});

test("noise tunnel with batchAxes (stdev 0: every copy is the input) equals torch IG", async () => {
  const ref = refs.cases.lstm2!;
  const c = fixture("lstm2");
  const inputs = { x: f32(c.inputs.x!), h0: f32(c.inputs.h0!), c0: f32(c.inputs.c0!) };
  const r = await noiseTunnel(model("lstm2"), {
    backend,
    inputs,
    batchAxes: AXES.lstm2,
    target: f32(c.seeds.y!),
    steps: refs.steps,
    samples: 2,
    stdev: 0,
  });
  for (const [k, want] of Object.entries(ref.attributions)) {
    const err = relErr(r.attributions[k]!, want);
    assert.ok(err < 1e-5, `${k}: relative L2 ${err.toExponential(2)}`);
  }
});

test("expected gradients with batchAxes (x and states on axis 1) equal torch float64 at the same draws", async () => {
  const eg = refs.expectedGradients;
  const c = fixture("lstm2");
  const r = await expectedGradients(model("lstm2"), {
    backend,
    inputs: { x: f32(c.inputs.x!) },
    extra: { h0: f32(c.inputs.h0!), c0: f32(c.inputs.c0!) },
    batchAxes: AXES.lstm2,
    references: f32(eg.references),
    target: f32(c.seeds.y!),
    draws: { referenceIndex: eg.referenceIndex, alpha: eg.alpha },
  });
  const err = relErr(r.attributions.x!, eg.attributions.x!);
  assert.ok(err < 1e-5, `relative L2 ${err.toExponential(2)}`);
});

test("a layer whose axis 0 is not the batch (lstm2's first LSTM output, time × batch × hidden) is refused", async () => {
  const c = fixture("lstm2");
  const inputs = { x: f32(c.inputs.x!), h0: f32(c.inputs.h0!), c0: f32(c.inputs.c0!) };
  await assert.rejects(
    integratedGradients(model("lstm2"), {
      backend,
      inputs,
      batchAxes: AXES.lstm2,
      layer: "/rnn/Squeeze_output_0",
      target: f32(c.seeds.y!),
    }),
    (e: Error) =>
      e instanceof ShapeMismatchError &&
      /layer "\/rnn\/Squeeze_output_0" has shape \[6, 2, 8\]/.test(e.message),
  );
});
