/**
 * End to end on a recurrent model (tools/make_rnn_models.py: an LSTM over (batch, time,
 * features) whose last hidden state feeds a 3-class head, exported by torch at opset 17):
 * Integrated Gradients through the decomposed LSTM satisfies completeness, matches torch's
 * float64 output, and `pathlens explain` runs on it.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { integratedGradients } from "../../attribution/ig.js";
import { readNpy } from "../../io/npy.js";
import { nodeBackend } from "../../runtime/node.js";
import { runCli } from "../../testing/cli.js";
import { fixturePath, readJsonFixture, readModelFixture, readNpyFixture } from "../../testing/fixtures.js";

const MODEL = "rnn/lstm_classifier_opset17.onnx";
const INPUT = "rnn/lstm_classifier_x.npy";
const torchLogits = readJsonFixture<{ outputs: { logits: { data: number[] } } }>("rnn/lstm_classifier.json")
  .outputs.logits.data;

test("integrated gradients on an LSTM classifier: completeness holds and F(x) is torch's", async () => {
  const x = readNpyFixture(INPUT);
  const r = await integratedGradients(readModelFixture(MODEL), {
    backend: nodeBackend(),
    inputs: { x },
    target: 2,
    steps: 32,
  });
  assert.deepEqual(r.attributions.x!.dims, x.dims);
  for (let e = 0; e < x.dims[0]!; e++) {
    const gap = Math.abs(r.outputAtInput[e]! - r.outputAtBaseline[e]!);
    assert.ok(gap > 1e-2, `F(x) − F(x') = ${gap} is large enough to test completeness`);
    assert.ok(Math.abs(r.delta[e]!) <= 1e-4 * Math.max(1, gap), `example ${e}: delta ${r.delta[e]}`);
    assert.ok(Math.abs(r.outputAtInput[e]! - torchLogits[e * 3 + 2]!) <= 1e-5, `example ${e}: F(x) vs torch`);
  }
});

test("pathlens explain runs on the LSTM classifier", async () => {
  const dir = await mkdtemp(join(tmpdir(), "pathlens-rnn-"));
  try {
    const out = join(dir, "ig");
    const run = await runCli([
      "explain",
      fixturePath(MODEL),
      "--input",
      fixturePath(INPUT),
      "--target",
      "1",
      "--steps",
      "16",
      "--out",
      out,
      "--quiet",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const attributions = await readNpy(join(out, "attributions.npy"));
    assert.deepEqual(attributions.dims, [2, 6, 5]);
    const summary = JSON.parse(await readFile(join(out, "summary.json"), "utf8")) as {
      delta: number[];
      outputAtInput: number[];
    };
    summary.delta.forEach((d, e) => assert.ok(Math.abs(d) <= 1e-3, `example ${e}: delta ${d}`));
    summary.outputAtInput.forEach((f, e) => assert.ok(Math.abs(f - torchLogits[e * 3 + 1]!) <= 1e-5));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
