/**
 * `pathlens evaluate` end to end: infidelity and sensitivity-max against Captum's references
 * through the CLI process, and a method comparison with its report.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { readNpy, writeNpy } from "../io/npy.js";
import { relativeL2, sliceRows, toFloat64 } from "../tensor/tensor.js";
import { runCli as cli } from "../testing/cli.js";
import { fixturePath, readNpyFixture } from "../testing/fixtures.js";
import { pairCases, pairNpy } from "../testing/pair.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pathlens-evaluate-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const model = fixturePath("models/digits_cnn.onnx");
const pair = (f: { file: string }) => fixturePath(`pair/${f.file}`);

for (const c of pairCases("infidelity")) {
  test(`CLI evaluate --metric infidelity matches Captum: ${c.id}`, async () => {
    const out = join(dir, c.id);
    const decorated = c.params.perturbation_style === "decorated";
    const r = await cli([
      "evaluate",
      model,
      "--input",
      pair(c.input),
      "--target",
      pair(c.target),
      "--metric",
      "infidelity",
      "--attributions",
      pair(c.attributions_f64!),
      "--noise",
      pair(c.noise!),
      ...(c.params.normalize ? ["--normalize"] : []),
      ...(decorated ? ["--baseline", pair(c.baseline!)] : []),
      "--out",
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const v = toFloat64(await readNpy(join(out, "infidelity.npy")));
    const err = relativeL2(v, toFloat64(pairNpy(c.expected)));
    console.log(`CLI ${c.id}: rel L2 ${err.toExponential(2)}`);
    assert.ok(err <= c.suggested_rel_l2_tolerance, `rel L2 ${err}`);
  });
}

const sens = pairCases("sensitivity_max")[0]!;
test(`CLI evaluate --metric sensitivity-max matches Captum: ${sens.id}`, async () => {
  const out = join(dir, "sens");
  const r = await cli([
    "evaluate",
    model,
    "--input",
    pair(sens.input),
    "--target",
    pair(sens.target),
    "--metric",
    "sensitivity-max",
    "--baseline",
    pair(sens.baseline!),
    "--noise",
    pair(sens.noise!),
    "--steps",
    String(sens.params.ig_n_steps),
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const v = toFloat64(await readNpy(join(out, "sensitivity.npy")));
  const err = relativeL2(v, toFloat64(pairNpy(sens.expected)));
  console.log(`CLI ${sens.id}: rel L2 ${err.toExponential(2)}`);
  assert.ok(err <= sens.suggested_rel_l2_tolerance, `rel L2 ${err}`);
});

test("CLI evaluate --compare ig,guided_ig,blur_ig --report on the digits CNN", async () => {
  const out = join(dir, "compare");
  const x = join(dir, "x.npy");
  const t = join(dir, "t.npy");
  await writeNpy(x, sliceRows(readNpyFixture("models/digits_X_test.npy") as never, 0, 4));
  await writeNpy(t, sliceRows(readNpyFixture("models/digits_y_test.npy") as never, 0, 4));
  const r = await cli([
    "evaluate",
    model,
    "--input",
    x,
    "--target",
    t,
    "--compare",
    "ig,guided_ig,blur_ig",
    "--steps",
    "16",
    "--samples",
    "3",
    "--report",
    "--quiet",
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const table = JSON.parse(await readFile(join(out, "comparison.json"), "utf8"));
  assert.deepEqual(
    table.methods.map((m: { method: string }) => m.method),
    ["ig", "guided_ig", "blur_ig"],
  );
  for (const m of table.methods)
    for (const k of ["seconds", "deletionAuc", "insertionAuc", "infidelity", "sensitivityMax"])
      assert.ok(Number.isFinite(m[k]), `${m.method} ${k}`);
  assert.ok(existsSync(join(out, "report.html")) && existsSync(join(out, "attributions_guided_ig.npy")));
  assert.match(r.stdout, /guided_ig .* deletion AUC/);
});

test("CLI evaluate: usage errors exit 2", async () => {
  const r = await cli([
    "evaluate",
    model,
    "--input",
    pair(sens.input),
    "--metric",
    "infidelity",
    "--out",
    join(dir, "bad"),
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /needs --attributions/);
});
