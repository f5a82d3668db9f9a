import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { readNpy, writeNpy } from "../io/npy.js";
import { float64, relativeL2, sliceRows, toFloat64 } from "../tensor/tensor.js";
import { type CliRun, runCli as cli, ROOT } from "../testing/cli.js";
import { fixturePath, readNpyFixture } from "../testing/fixtures.js";

const MODEL = fixturePath("models/tabular_mlp.onnx");
const INPUT = fixturePath("grads/tabular_mlp_input.npy"); // (6, 96) float32
const SEED = fixturePath("grads/tabular_mlp_seed.npy"); // (6, 1) float32

/** Exit code 1 with exactly one line on stderr, matching `pattern`, no stack trace. */
function assertError(r: CliRun, pattern: RegExp): void {
  assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line expected: ${r.stderr}`);
  assert.match(lines[0]!, /^pathlens: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

/** Exit code 2; on stderr the message and where to read the usage (not the whole help). */
function assertUsage(r: CliRun, pattern: RegExp, usage = /^see "pathlens gradient --help"/m): void {
  assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.match(r.stderr, usage);
  assert.doesNotMatch(r.stderr, /Usage:/);
  assert.equal(r.stderr.trim().split("\n").length, 2, r.stderr);
  assert.equal(r.stdout, "");
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pathlens-cli-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = (out: string) => [
  "gradient",
  MODEL,
  "--input",
  `input=${INPUT}`,
  "--wrt",
  "input",
  "--cotangent",
  SEED,
  "--out",
  out,
];

test("help: pathlens --help and pathlens gradient --help print usage and exit 0", async () => {
  const top = await cli(["--help"]);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /Usage: pathlens <command>/);
  assert.match(top.stdout, /gradient\s+Gradient/);
  const sub = await cli(["gradient", "--help"]);
  assert.equal(sub.code, 0);
  for (const flag of [
    "--input NAME=FILE.npy",
    "--wrt NAME",
    "--cotangent FILE.npy",
    "--seed",
    "-o, --out DIR",
    "--output NAME",
    "--hvp FILE.npy",
    "--out DIR",
  ]) {
    assert.ok(sub.stdout.includes(flag), flag);
  }
  const version = await cli(["--version"]);
  assert.equal(version.code, 0);
  assert.equal(version.stdout.trim(), JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")).version);
});

test("usage errors exit 2 with a message and where to read the usage", async () => {
  const top = /^see "pathlens --help"/m;
  assertUsage(await cli([]), /no command given/, top);
  assertUsage(await cli(["explode"]), /unknown command "explode"/, top);
  assertUsage(await cli(["--frobnicate"]), /unknown option "--frobnicate"/, top);
  const out = join(dir, "usage");
  assertUsage(await cli([...base(out), "--bogus"]), /unknown option '--bogus'/);
  assertUsage(await cli(base(out).slice(0, -2)), /missing required option --out DIR/);
  assertUsage(await cli([...base(out), "--wrt", "input"]), /--wrt may be given only once/);
  assertUsage(await cli([...base(out), "extra.onnx"]), /unexpected argument "extra\.onnx"/);
  assertUsage(
    await cli(["gradient", MODEL, "--input", INPUT, "--wrt", "input", "--cotangent", SEED, "--out", out]),
    /--input expects NAME=VALUE/,
  );
  assertUsage(await cli([...base(out), "--input", `input=${INPUT}`]), /--input: "input" is given twice/);
  assertUsage(await cli(["gradient", "--wrt", "input"]), /missing required option --input/);
  assertUsage(await cli([...base(out), "--cotangent"]), /--cotangent/);
  assert.equal(existsSync(out), false);
});

test("mistyped commands and flags get a suggestion", async () => {
  const top = /^see "pathlens --help"/m;
  assertUsage(await cli(["gradeint"]), /unknown command "gradeint"; did you mean "gradient"\?/, top);
  assertUsage(await cli(["explian", "m.onnx"]), /did you mean "explain"\?/, top);
  assertUsage(await cli(["florp"]), /unknown command "florp"$/m, top);
  const out = join(dir, "typo");
  assertUsage(
    await cli([...base(out), "--ouptut", "y"]),
    /unknown option '--ouptut'; did you mean --output\?/,
  );
  assertUsage(await cli([...base(out), "--hpv", "v.npy"]), /did you mean --hvp\?/);
  const method = await cli(["explain", MODEL, "--input", INPUT, "--method", "riemann-lft", "--out", out]);
  assert.equal(method.code, 2);
  for (const m of [
    "gausslegendre",
    "riemann-trapezoid",
    "expected-gradients",
    "integrated-hessians",
    "expected-hessians",
  ])
    assert.ok(method.stderr.includes(m), `--method error lists ${m}: ${method.stderr}`);
  assert.match(method.stderr, /did you mean riemann-left\?/);
});

test("gradient: the deprecated --seed still names the cotangent (with a warning); -o is --out", async () => {
  const out = join(dir, "old-seed");
  const args = base(out).map((a) => (a === "--cotangent" ? "--seed" : a === "--out" ? "-o" : a));
  const r = await cli(args);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: gradient --seed is deprecated; use --cotangent/);
  const g = await readNpy(join(out, "gradient.npy"));
  assert.ok(relativeL2(toFloat64(g), toFloat64(readNpyFixture("grads/tabular_mlp_grad.npy"))) <= 1e-5);
});

test("gradient writes DIR/gradient.npy (creating DIR) equal to PyTorch's", async () => {
  const out = join(dir, "a", "b", "c");
  const r = await cli(base(out));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote .*gradient\.npy \(float32 \[6, 96\]\)/);
  const g = await readNpy(join(out, "gradient.npy"));
  assert.equal(g.dtype, "float32");
  const ref = readNpyFixture("grads/tabular_mlp_grad.npy");
  assert.ok(relativeL2(toFloat64(g), toFloat64(ref)) <= 1e-5);
  assert.deepEqual(await readdir(out), ["gradient.npy"]); // no temporary files left
});

test("a float64 seed is converted; gradient is linear in the seed", async () => {
  const seed = toFloat64(readNpyFixture("grads/tabular_mlp_seed.npy")).map((s) => 2 * s);
  const seedFile = join(dir, "seed2.npy");
  await writeNpy(seedFile, float64([6, 1], seed));
  const out = join(dir, "seed2");
  const r = await cli([
    "gradient",
    MODEL,
    "--input",
    `input=${INPUT}`,
    "--wrt",
    "input",
    "--cotangent",
    seedFile,
    "--output",
    "output",
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const g = await readNpy(join(out, "gradient.npy"));
  const ref = toFloat64(readNpyFixture("grads/tabular_mlp_grad.npy")).map((x) => 2 * x);
  assert.equal(g.dtype, "float32");
  assert.ok(relativeL2(toFloat64(g), ref) <= 1e-5);
});

test("errors exit 1 with one line naming the problem", async () => {
  const out = join(dir, "errors");
  assertError(await cli(["gradient", join(dir, "nope.onnx"), ...base(out).slice(2)]), /nope\.onnx.*ENOENT/);
  assertError(
    await cli([...base(out).slice(0, 2), "--input", `input=${join(dir, "nope.npy")}`, ...base(out).slice(4)]),
    /nope\.npy.*ENOENT/,
  );
  assertError(
    await cli([...base(out), "--input", `x=${INPUT}`]),
    /tabular_mlp\.onnx: has no input "x" \(inputs: input\)/,
  );
  assertError(await cli([...base(out), "--output", "logits"]), /has no output "logits" \(outputs: output\)/);
  const f64 = fixturePath("npy/f8_2x3.npy");
  assertError(
    await cli([
      "gradient",
      MODEL,
      "--input",
      `input=${f64}`,
      "--wrt",
      "input",
      "--cotangent",
      SEED,
      "--out",
      out,
    ]),
    /f8_2x3\.npy: holds float64, but input "input" of .*tabular_mlp\.onnx is float32/,
  );
  const i4 = fixturePath("npy/i4_5.npy");
  assertError(
    await cli([...base(out).slice(0, 6), "--cotangent", i4, "--out", out]),
    /i4_5\.npy \(--cotangent\): holds int32/,
  );
  const seedWide = join(dir, "seed_6x2.npy");
  await writeNpy(seedWide, float64([6, 2]));
  assertError(
    await cli([...base(out).slice(0, 6), "--cotangent", seedWide, "--out", out]),
    /seed_6x2\.npy \(--cotangent\): shape \[6, 2\] does not fit output "output"/,
  );
  assertError(
    await cli([...base(out).slice(0, 4), "--wrt", "nothing", "--cotangent", SEED, "--out", out]),
    /unknown tensor to differentiate "nothing"/,
  );
  assertError(
    await cli([...base(out), "--hvp", fixturePath("npy/b1_2x3.npy")]),
    /b1_2x3\.npy \(--hvp\): holds bool/,
  );
  const bert = fixturePath("models/tiny_bert_emb2logits.onnx");
  assertError(
    await cli([
      "gradient",
      bert,
      "--input",
      `embeddings=${fixturePath("grads/tiny_bert_emb2logits_input.npy")}`,
      "--wrt",
      "embeddings",
      "--cotangent",
      SEED,
      "--out",
      out,
    ]),
    /input "attention_mask" needs a value: --input attention_mask=FILE\.npy/,
  );
  const badNpy = join(dir, "bad.npy");
  await writeFile(badNpy, "hello");
  assertError(
    await cli([...base(out).slice(0, 6), "--cotangent", badNpy, "--out", out]),
    /bad\.npy: not a \.npy file/,
  );
  assert.equal(existsSync(out), false, "nothing written on errors");
});

test("a failing run writes nothing and keeps earlier files", async () => {
  const out = join(dir, "keep");
  assert.equal((await cli(base(out))).code, 0);
  const before = await readFile(join(out, "gradient.npy"));
  const v = join(dir, "v.npy");
  await writeNpy(v, float64([6, 96]));
  // seed for 5 rows while the input has 6 (caught against the probe's shapes)
  const seed5 = join(dir, "seed5.npy");
  await writeNpy(seed5, float64([5, 1], [1, 1, 1, 1, 1]));
  assertError(
    await cli([...base(out).slice(0, 6), "--cotangent", seed5, "--out", out, "--hvp", v]),
    /seed5\.npy \(--cotangent\): the cotangent has shape \[5, 1\], output "output" has shape \[6, 1\]/,
  );
  // one input row (the probe tiles it to 2) with a 2-row seed: only the run reveals the mismatch
  const x1 = join(dir, "x1.npy");
  await writeNpy(x1, sliceRows(readNpyFixture("grads/tabular_mlp_input.npy"), 0, 1));
  const seed2 = join(dir, "seed2rows.npy");
  await writeNpy(seed2, float64([2, 1], [1, 1]));
  assertError(
    await cli([
      "gradient",
      MODEL,
      "--input",
      `input=${x1}`,
      "--wrt",
      "input",
      "--cotangent",
      seed2,
      "--out",
      out,
    ]),
    /seed|shape/,
  );
  // v of the wrong shape
  const v5 = join(dir, "v5.npy");
  await writeNpy(v5, float64([5, 96]));
  assertError(
    await cli([...base(out), "--hvp", v5]),
    /v5\.npy \(--hvp\): v has shape \[5, 96\], "input" has shape \[6, 96\]/,
  );
  assert.deepEqual(await readFile(join(out, "gradient.npy")), before);
  assert.deepEqual(await readdir(out), ["gradient.npy"]);
});

test("--out naming an existing file is an error", async () => {
  const file = join(dir, "a-file");
  await writeFile(file, "x");
  assertError(await cli(base(file)), /a-file: cannot create the output folder/);
});

test("PATHLENS_DEBUG=1 prints the stack", async () => {
  const r = await cli(["gradient", join(dir, "nope.onnx"), ...base(dir).slice(2)], { PATHLENS_DEBUG: "1" });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /ModelFileError: .*nope\.onnx/);
  assert.match(r.stderr, /\n\s+at /);
});
