/**
 * `pathlens explain --batch-axis NAME=AXIS` on a sequence-first recurrent export (rnn_relu_bi:
 * x as time × batch × features, y as time × batch × 2·hidden): the written attributions equal
 * torch float64 IG at the same quadrature nodes (test/fixtures/batchaxis/refs.json, from
 * tools/make_batchaxis_refs.py), and bad values are usage errors naming the flag.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { readNpy, writeNpy } from "../io/npy.js";
import { float32, toFloat64 } from "../tensor/tensor.js";
import { FIXTURES, readJsonFixture } from "../testing/fixtures.js";
import { parseCommand, UsageError } from "./args.js";
import { explainCommand, runExplain } from "./explain.js";

process.env.PATHLENS_CACHE = "0";

interface Json {
  dims: number[];
  data: number[];
}
const refs = readJsonFixture<{
  steps: number;
  cases: Record<string, { attributions: Record<string, Json> }>;
}>("batchaxis/refs.json");
const fixture = (name: string) =>
  readJsonFixture<{ inputs: Record<string, Json>; seeds: Record<string, Json> }>(`rnn/${name}.json`);
const f32 = (j: Json) => float32(j.dims, j.data);

const work = await mkdtemp(join(tmpdir(), "pathlens-batch-axis-"));
after(() => rm(work, { recursive: true, force: true }));

test("pathlens explain --batch-axis on rnn_relu_bi writes torch's IG in the model's layout", async () => {
  const c = fixture("rnn_relu_bi");
  const ref = refs.cases.rnn_relu_bi!;
  await writeNpy(join(work, "x.npy"), f32(c.inputs.x!));
  await writeNpy(join(work, "seed.npy"), f32(c.seeds.y!));
  const modelPath = join(FIXTURES, "rnn", "rnn_relu_bi_opset17.onnx");
  const argv = [modelPath, "--input", join(work, "x.npy"), "--target", join(work, "seed.npy")];
  argv.push(
    "--batch-axis",
    "x=1",
    "--batch-axis",
    "y=1",
    "--steps",
    String(refs.steps),
    "-o",
    work,
    "--quiet",
  );
  const parsed = parseCommand(explainCommand, argv);
  assert.ok(!parsed.help);
  await runExplain(parsed.args);
  const a = await readNpy(join(work, "attributions.npy"));
  assert.deepEqual(a.dims, ref.attributions.x!.dims);
  const want = ref.attributions.x!.data;
  const got = toFloat64(a);
  const err = Math.hypot(...want.map((w, i) => got[i]! - w)) / Math.hypot(...want);
  assert.ok(err < 1e-4, `relative L2 ${err.toExponential(2)}`);

  for (const [flag, pattern] of [
    ["h=1", /no input or output of the model/],
    ["x=3", /out of range/],
    ["x=one", /must be an integer/],
  ] as const) {
    const bad = parseCommand(explainCommand, [...argv.slice(0, 3), "--batch-axis", flag, "-o", work]);
    assert.ok(!bad.help);
    await assert.rejects(
      runExplain(bad.args),
      (e: Error) => e instanceof UsageError && pattern.test(e.message),
    );
  }
});
