/**
 * `pathlens explain --batch-axis NAME=AXIS` on a sequence-first recurrent export (rnn_relu_bi:
 * x as time × batch × features, y as time × batch × 2·hidden): the written attributions equal
 * torch float64 IG at the same quadrature nodes (test/fixtures/batchaxis/refs.json, from
 * tools/make_batchaxis_refs.py), and bad values are usage errors naming the flag.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
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
  cases: Record<string, { attributions: Record<string, Json>; outputAtInput: number }>;
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
  assert.ok(err < 1e-5, `relative L2 ${err.toExponential(2)}`);

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
  const hessians = parseCommand(explainCommand, [
    ...argv.slice(0, 3),
    "--batch-axis",
    "x=1",
    "--method",
    "integrated_hessians",
    "-o",
    work,
  ]);
  assert.ok(!hessians.help);
  await assert.rejects(
    runExplain(hessians.args),
    (e: Error) => e instanceof UsageError && /not --method integrated_hessians/.test(e.message),
  );
});

test("pathlens explain --batch-axis on lstm2 with the states as --extra (the README's example)", async () => {
  const c = fixture("lstm2");
  const ref = refs.cases.lstm2_x!;
  for (const k of ["x", "h0", "c0"]) await writeNpy(join(work, `${k}.npy`), f32(c.inputs[k]!));
  await writeNpy(join(work, "seed.npy"), f32(c.seeds.y!));
  const out = join(work, "lstm2");
  const argv = [join(FIXTURES, "rnn", "lstm2_opset17.onnx"), "--input", `x=${join(work, "x.npy")}`];
  for (const k of ["h0", "c0"]) argv.push("--extra", `${k}=${join(work, `${k}.npy`)}`);
  for (const k of ["x", "h0", "c0", "y"]) argv.push("--batch-axis", `${k}=1`);
  argv.push("--target", join(work, "seed.npy"), "--steps", String(refs.steps), "-o", out, "--quiet");
  const parsed = parseCommand(explainCommand, argv);
  assert.ok(!parsed.help);
  await runExplain(parsed.args);
  const a = await readNpy(join(out, "attributions.npy"));
  assert.deepEqual(a.dims, ref.attributions.x!.dims);
  const want = ref.attributions.x!.data;
  const got = toFloat64(a);
  const err = Math.hypot(...want.map((w, i) => got[i]! - w)) / Math.hypot(...want);
  assert.ok(err < 1e-5, `relative L2 ${err.toExponential(2)}`);
  const summary = JSON.parse(await readFile(join(out, "summary.json"), "utf8"));
  const fx = summary.outputAtInput.reduce((s: number, v: number) => s + v, 0);
  assert.ok(Math.abs(fx - ref.outputAtInput) < 1e-5, `F(x) ${fx} vs torch ${ref.outputAtInput}`);
});
