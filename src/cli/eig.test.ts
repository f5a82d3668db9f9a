import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { readNpy, writeNpy } from "../io/npy.js";
import { featureSignificance } from "../stats/significance.js";
import { Random } from "../tensor/random.js";
import { float32, relativeL2, toFloat64 } from "../tensor/tensor.js";
import { runCli as cli } from "../testing/cli.js";
import { fixturePath } from "../testing/fixtures.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pathlens-eig-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("pathlens eig: latent-linear path (flat 64-pixel samples reshaped for the CNN) matches the reference", async () => {
  const out = join(dir, "latent");
  const r = await cli([
    "eig",
    fixturePath("models/digits_cnn.onnx"),
    "--input",
    fixturePath("refs/digits_latent_path_ig_input.npy"),
    "--path",
    "latent-linear",
    "--encoder",
    fixturePath("models/digits_ae_encoder.onnx"),
    "--decoder",
    fixturePath("models/digits_ae_decoder.onnx"),
    "--baseline",
    fixturePath("refs/digits_latent_path_ig_baseline.npy"),
    "--target",
    fixturePath("refs/digits_latent_path_ig_target.npy"),
    "--steps",
    "50",
    "--rule",
    "left",
    "--quiet",
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const a = await readNpy(join(out, "attributions.npy"));
  const err = relativeL2(
    toFloat64(a),
    toFloat64(await readNpy(fixturePath("refs/digits_latent_path_ig__left_f64.npy"))),
  );
  assert.ok(err <= 1e-4, `relative L2 ${err}`);
  const summary = JSON.parse(await readFile(join(out, "summary.json"), "utf8"));
  assert.equal(summary.path, "latent-linear");
  assert.equal(summary.delta.length, 4);
});

test("pathlens eig: a latent path without the autoencoder is a clear error and writes nothing", async () => {
  const out = join(dir, "bad");
  const r = await cli([
    "eig",
    fixturePath("models/digits_cnn.onnx"),
    "--input",
    fixturePath("refs/digits_latent_path_ig_input.npy"),
    "--path",
    "latent-linear",
    "--out",
    out,
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /encoder and decoder/);
  assert.equal(existsSync(out), false);
});

test("pathlens significance equals the library test and writes p-values", async () => {
  const rng = new Random(2);
  const n = 12;
  const d = 5;
  const a = Array.from({ length: n * d }, (_, i) => rng.normal() + (i % d === 3 ? 3 : 0));
  const b = Array.from({ length: n * d }, () => rng.normal());
  await writeNpy(join(dir, "a.npy"), float32([n, d], a));
  await writeNpy(join(dir, "b.npy"), float32([n, d], b));
  const out = join(dir, "sig");
  const r = await cli([
    "significance",
    "--attributions",
    join(dir, "a.npy"),
    "--null",
    join(dir, "b.npy"),
    "--correction",
    "bh",
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const lib = featureSignificance(Float32Array.from(a), Float32Array.from(b), d, { correction: "bh" });
  const p = await readNpy(join(out, "adjusted_p_values.npy"));
  assert.ok(relativeL2(toFloat64(p), lib.adjusted) < 1e-12);
  const json = JSON.parse(await readFile(join(out, "significance.json"), "utf8"));
  assert.deepEqual(json.significant, lib.significant);
  assert.ok(json.significant.includes(3));
  const bad = await cli([
    "significance",
    "--attributions",
    join(dir, "a.npy"),
    "--null",
    join(dir, "b.npy"),
    "--alpha",
    "2",
    "--out",
    out,
  ]);
  assert.equal(bad.code, 2);
});
