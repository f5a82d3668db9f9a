/**
 * `pathlens explain` end to end: every Integrated Gradients case of the Captum reference
 * manifest through the CLI process, plus outputs, noise tunnel and errors.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { readNpy, writeNpy } from "../io/npy.js";
import { float32, relativeL2, toFloat64 } from "../tensor/tensor.js";
import { runCli as cli } from "../testing/cli.js";
import { fixturePath, readJsonFixture } from "../testing/fixtures.js";

interface Case {
  id: string;
  kind: string;
  model: string;
  method: string;
  n_steps: number;
  onnx_input_name?: string;
  input?: { file: string };
  baseline?: { file: string };
  target: { file: string };
  input_ids?: { file: string };
  attention_mask?: { file: string };
  baseline_ids?: { file: string };
  expected: { file: string };
  convergence_delta: { file: string };
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pathlens-explain-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cases = readJsonFixture<{ cases: Case[] }>("refs/manifest.json").cases.filter((c) =>
  ["integrated_gradients", "layer_integrated_gradients"].includes(c.kind),
);

for (const c of cases) {
  const present = existsSync(fixturePath(c.model)) && existsSync(fixturePath(c.expected.file));
  test(`CLI explain matches Captum: ${c.id}`, { skip: !present && "large model not available" }, async () => {
    const out = join(dir, c.id);
    const f = fixturePath;
    const args = [
      "explain",
      f(c.model),
      "--method",
      c.method,
      "--steps",
      String(c.n_steps),
      "--target",
      f(c.target.file),
      "--out",
      out,
      "--quiet",
    ];
    if (c.kind === "layer_integrated_gradients") {
      args.push(
        "--input",
        `input_ids=${f(c.input_ids!.file)}`,
        "--extra",
        `attention_mask=${f(c.attention_mask!.file)}`,
      );
      args.push(
        "--layer",
        "/embeddings/LayerNorm/Add_1_output_0",
        "--baseline-inputs",
        `input_ids=${f(c.baseline_ids!.file)}`,
      );
    } else {
      args.push("--input", f(c.input!.file), "--baseline", f(c.baseline!.file));
    }
    const r = await cli(args);
    assert.equal(r.code, 0, r.stderr);
    const ours = await readNpy(join(out, "attributions.npy"));
    assert.equal(ours.dtype, "float32");
    const scale = c.method === "riemann_trapezoid" ? c.n_steps / (c.n_steps - 1) : 1; // Captum's (n−1)/n weights
    const expected = toFloat64(await readNpy(f(c.expected.file))).map((v) => v * scale);
    const bar = c.model.includes("resnet18") ? 1e-2 : 1e-4;
    assert.deepEqual(ours.dims, Array.from((await readNpy(f(c.expected.file))).dims));
    assert.ok(
      relativeL2(toFloat64(ours), expected) <= bar,
      `relative L2 ${relativeL2(toFloat64(ours), expected)}`,
    );
    const summary = JSON.parse(await readFile(join(out, "summary.json"), "utf8"));
    assert.equal(summary.steps, c.n_steps);
    assert.equal(summary.method, c.method);
    assert.ok(summary.seconds > 0);
    const delta = await readNpy(join(out, "delta.npy"));
    const fx = summary.outputAtInput as number[];
    const fb = summary.outputAtBaseline as number[];
    // Completeness: Σ attributions − (F(x) − F(x')) recomputed from the written files.
    const rows = ours.dims[0]!;
    const row = ours.data.length / rows;
    for (let i = 0; i < rows; i++) {
      let s = 0;
      for (let j = 0; j < row; j++) s += Number(ours.data[i * row + j]);
      const d = Number(delta.data[i]);
      assert.ok(
        Math.abs(s - (fx[i]! - fb[i]!) - d) <= 1e-3 * Math.max(1, Math.abs(fx[i]! - fb[i]!)),
        `delta ${i}`,
      );
    }
  });
}

test("explain: noise tunnel, --json, auto steps", async () => {
  const out = join(dir, "nt");
  const r = await cli([
    "explain",
    fixturePath("models/tabular_mlp.onnx"),
    "--input",
    fixturePath("refs/tabular_mlp_input.npy"),
    "--noise-tunnel",
    "smoothgrad",
    "--samples",
    "3",
    "--stdev",
    "0.1",
    "--seed",
    "2",
    "--steps",
    "auto",
    "--json",
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.deepEqual(summary.noiseTunnel, { type: "smoothgrad", samples: 3, stdev: 0.1 });
  assert.deepEqual((await readdir(out)).sort(), ["attributions.npy", "delta.npy", "summary.json"]);
});

test("explain: errors exit non-zero, name the problem and leave no files", async () => {
  const out = join(dir, "bad");
  const model = fixturePath("models/tabular_mlp.onnx");
  const wrong = join(dir, "wrong.npy");
  await writeNpy(wrong, float32([2, 5]));
  let r = await cli(["explain", model, "--input", wrong, "--out", out]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /shape|5|96/);
  r = await cli([
    "explain",
    model,
    "--input",
    fixturePath("refs/tabular_mlp_input.npy"),
    "--target",
    "7",
    "--out",
    out,
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /target/i);
  r = await cli([
    "explain",
    model,
    "--input",
    fixturePath("refs/tabular_mlp_input.npy"),
    "--steps",
    "many",
    "--out",
    out,
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--steps/);
  r = await cli([
    "explain",
    model,
    "--input",
    `nosuch=${fixturePath("refs/tabular_mlp_input.npy")}`,
    "--out",
    out,
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no input "nosuch"/);
  const nan = join(dir, "nan.npy");
  await writeNpy(nan, float32([1, 96], new Array(96).fill(Number.NaN)));
  r = await cli(["explain", model, "--input", nan, "--out", out]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /NaN|finite/i);
  assert.equal(existsSync(out), false, "no output folder content after failures");
  await writeFile(join(dir, "keep.txt"), "x");
});

test("explain --method integrated_hessians writes N×d×d interactions matching the reference", async () => {
  const out = join(dir, "ih");
  const r = await cli([
    "explain",
    fixturePath("models/softplus_mlp.onnx"),
    "--input",
    fixturePath("refs/softplus_mlp_ih_zero_input.npy"),
    "--baseline",
    fixturePath("refs/softplus_mlp_ih_zero_baseline.npy"),
    "--method",
    "integrated_hessians",
    "--steps",
    "64",
    "--quiet",
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const gamma = await readNpy(join(out, "interactions.npy"));
  assert.deepEqual(gamma.dims, [4, 10, 10]);
  const err = relativeL2(
    toFloat64(gamma),
    toFloat64(await readNpy(fixturePath("refs/softplus_mlp_ih_zero__exact.npy"))),
  );
  assert.ok(err <= 1e-3, `relative L2 ${err}`);
  assert.deepEqual((await readNpy(join(out, "attributions.npy"))).dims, [4, 10]);
  const summary = JSON.parse(await readFile(join(out, "summary.json"), "utf8"));
  assert.equal(summary.pointsPerExample, 64 * 64);
});

test("explain --method expected_gradients / expected_hessians need --references and are seeded", async () => {
  const model = fixturePath("models/softplus_mlp.onnx");
  const input = fixturePath("refs/softplus_mlp_eg_input.npy");
  const refs = fixturePath("refs/softplus_mlp_eg_background.npy");
  let r = await cli([
    "explain",
    model,
    "--input",
    input,
    "--method",
    "expected_gradients",
    "--out",
    join(dir, "eg0"),
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--references/);
  const runs = [];
  for (const k of [1, 2]) {
    r = await cli([
      "explain",
      model,
      "--input",
      input,
      "--method",
      "expected_hessians",
      "--references",
      refs,
      "--samples",
      "50",
      "--seed",
      "5",
      "--quiet",
      "--out",
      join(dir, `eh${k}`),
    ]);
    assert.equal(r.code, 0, r.stderr);
    runs.push(await readNpy(join(dir, `eh${k}`, "interactions.npy")));
  }
  assert.deepEqual(runs[0]!.dims, [4, 10, 10]);
  assert.deepEqual(Array.from(runs[0]!.data as Float32Array), Array.from(runs[1]!.data as Float32Array));
  r = await cli([
    "explain",
    model,
    "--input",
    input,
    "--method",
    "expected_gradients",
    "--references",
    refs,
    "--samples",
    "64",
    "--quiet",
    "--out",
    join(dir, "eg"),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((await readNpy(join(dir, "eg", "attributions.npy"))).dims, [4, 10]);
});
