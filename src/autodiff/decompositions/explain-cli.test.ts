/**
 * `pathlens explain` on a quantized, a float16 and an onnxruntime-optimized model: the run
 * succeeds, the note about how the model is differentiated is printed once and recorded in
 * summary.json, and completeness holds (|delta| small against F(x) − F(x')).
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { onnxruntimeOptimized } from "../../runtime/ort-optimize.js";
import { ROOT, runCli } from "../../testing/cli.js";

const DIR = join(ROOT, "test/fixtures/contrib");

async function explain(
  model: string,
  input: string,
  note: RegExp | undefined,
  steps = 32,
  more: string[] = [],
) {
  const out = await mkdtemp(join(tmpdir(), "pathlens-contrib-"));
  try {
    const r = await runCli([
      "explain",
      model,
      "--input",
      input,
      "--target",
      "1",
      "--steps",
      String(steps),
      "--quiet",
      "--out",
      out,
      ...more,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const warnings = r.stderr.split("\n").filter((l) => l.startsWith("pathlens: warning:"));
    const summary = JSON.parse(await readFile(join(out, "summary.json"), "utf8"));
    if (note) {
      assert.equal(warnings.filter((w) => note.test(w)).length, 1, `one note: ${r.stderr}`);
      assert.ok(
        summary.notes?.some((n: string) => note.test(n)),
        "the note is in summary.json",
      );
    } else assert.equal(summary.notes, undefined);
    summary.delta.forEach((d: number, i: number) => {
      const change = Math.abs(summary.outputAtInput[i] - summary.outputAtBaseline[i]);
      assert.ok(
        Math.abs(d) <= 0.02 * change + 1e-4,
        `example ${i}: delta ${d} against F(x) − F(x') ${change}`,
      );
    });
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

test("explain: a QDQ model says once that it explains the dequantized network", async () => {
  // clips and ReLUs make the path piecewise linear: more quadrature points for completeness
  await explain(join(DIR, "qdq_cnn.onnx"), join(DIR, "qdq_cnn.input.npy"), /dequantized network/, 256);
});

test("explain: a float16 model says once that it is differentiated in float32", async () => {
  await explain(
    join(DIR, "half_cnn_fp16.onnx"),
    join(DIR, "half_cnn.input.npy"),
    /float16: gradients are computed in float32/,
  );
});

test("explain --keep-precision: a float16 model computed in float16 says so once", async () => {
  await explain(
    join(DIR, "half_cnn_fp16.onnx"),
    join(DIR, "half_cnn.input.npy"),
    /float16: it is computed in its own precision/,
    32,
    ["--keep-precision"],
  );
});

test("explain: a CNN as onnxruntime's optimizer writes it (FusedConv, FusedGemm)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "pathlens-opt-"));
  try {
    const path = join(dir, "cnn_optimized.onnx");
    await writeFile(
      path,
      await onnxruntimeOptimized(new Uint8Array(await readFile(join(DIR, "cnn.onnx"))), "extended"),
    );
    await explain(path, join(DIR, "cnn.input.npy"), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
