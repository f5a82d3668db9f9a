/**
 * Dataset jobs in one process: attributions equal Integrated Gradients on the whole table, the
 * row summaries read back from Parquet, failing rows are recorded (or stop the job with failFast),
 * a changed option set is refused unless restart, and the dataset-level statistics equal those
 * computed from all rows at once.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parquetReadObjects } from "hyparquet";
import { enhancedIntegratedGradients } from "../attribution/eig/eig.js";
import { integratedGradients } from "../attribution/ig.js";
import { explainText } from "../explain/text.js";
import { loadTextModel } from "../explain/text-model.js";
import { readNumericCsv } from "../io/csv.js";
import { loadModel } from "../io/model-file.js";
import { encodeNpy, readNpy, writeNpy } from "../io/npy.js";
import { nodeBackend } from "../runtime/node.js";
import { featureSignificance } from "../stats/significance.js";
import { float32, int64 } from "../tensor/tensor.js";
import { removeStaleTemps, writeFileAtomic } from "./atomic.js";
import { explainDataset, type JobProgress } from "./engine.js";
import { float32NpyHeader } from "./npy-stream.js";
import { addRowStats, emptyShardStats, groupSignificance, mergeShardStats } from "./stats.js";
import type { JobSpec } from "./task.js";

const backend = nodeBackend();
const tmp = () => mkdtemp(join(tmpdir(), "pathlens-jobs-"));

async function parquetRows(path: string): Promise<Record<string, unknown>[]> {
  const b = await readFile(path);
  return parquetReadObjects({
    file: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer,
  });
}

test("a CSV job equals Integrated Gradients on the whole table; summaries read back from Parquet", async () => {
  const dir = await tmp();
  try {
    const spec: JobSpec = {
      model: "examples/tabular/model.onnx",
      input: { name: "", path: "examples/tabular/rows.csv" },
      extra: {},
      method: { steps: 16 },
      shardRows: 16,
    };
    const progress: JobProgress[] = [];
    const r = await explainDataset(spec, { backend, out: dir, onProgress: (p) => progress.push(p) });
    assert.equal(r.status, "done");
    assert.equal(r.shardsComputed, 3);
    assert.deepEqual(
      progress.map((p) => p.rowsDone),
      [0, 16, 32, 40],
    );
    const last = progress.at(-1)!;
    assert.ok(last.rowsPerSecond > 0 && last.etaSeconds === 0 && Number.isNaN(progress[0]!.etaSeconds));
    const table = await readNumericCsv("examples/tabular/rows.csv");
    const model = await loadModel("examples/tabular/model.onnx");
    const name = model.graph!.input[0]!.name!;
    const ref = await integratedGradients(model, {
      backend,
      inputs: { [name]: float32([table.rows, table.header.length], table.values) },
      steps: 16,
    });
    const attr = await readNpy(join(dir, "attributions.npy"));
    assert.deepEqual(attr.dims, [40, 96]);
    const want = ref.attributions[name]!.data;
    for (let i = 0; i < want.length; i++)
      assert.ok(
        Math.abs((attr.data[i] as number) - want[i]!) <= 1e-5 * (1 + Math.abs(want[i]!)),
        `attribution ${i}`,
      );
    const delta = (await readNpy(join(dir, "delta.npy"))).data as Float64Array;
    for (let i = 0; i < 40; i++) assert.ok(Math.abs(delta[i]! - ref.delta[i]!) < 1e-5);
    const rows = await parquetRows(join(dir, "rows.parquet"));
    assert.equal(rows.length, 40);
    assert.deepEqual(
      rows.map((x) => x.row),
      Array.from({ length: 40 }, (_, k) => k),
    );
    for (const [k, x] of rows.entries()) {
      assert.equal(x.ok, true);
      assert.equal(x.predicted, -1, "a single-value output has no class");
      assert.ok(Math.abs((x.output as number) - ref.outputAtInput[k]!) < 1e-5);
      assert.equal(x.delta, delta[k]);
    }
    // mean |attribution| per feature from the shard sums = from all rows
    const summary = JSON.parse(await readFile(join(dir, "dataset.json"), "utf8"));
    for (let j = 0; j < 96; j++) {
      let s = 0;
      for (let i = 0; i < 40; i++) s += Math.abs(attr.data[i * 96 + j] as number);
      assert.ok(Math.abs(summary.meanAbsAttribution[j] - s / 40) <= 1e-12 * (1 + s));
    }
    const again = await explainDataset(spec, { backend, out: dir });
    assert.equal(again.status, "already-done");
    assert.equal(again.shardsComputed, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a changed option set is refused unless restart", async () => {
  const dir = await tmp();
  try {
    const spec: JobSpec = {
      model: "examples/tabular/model.onnx",
      input: { name: "", path: "examples/tabular/rows.csv" },
      extra: {},
      method: { steps: 8 },
      shardRows: 20,
    };
    await explainDataset(spec, { backend, out: dir });
    const changed = { ...spec, method: { steps: 9 } };
    await assert.rejects(explainDataset(changed, { backend, out: dir }), {
      name: "JobChangedError",
      message: /--restart/,
    });
    const r = await explainDataset(changed, { backend, out: dir, restart: true });
    assert.equal(r.status, "done");
    assert.equal(r.shardsComputed, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("failing rows are recorded with their reason and the job goes on; failFast stops it", async () => {
  const dir = await tmp();
  try {
    const x = await readNpy("examples/digits/digits_sample.npy");
    const data = Float32Array.from(x.data as Float32Array);
    data.fill(Number.NaN, 5 * 64, 6 * 64); // row 5 is not a number
    await writeNpy(join(dir, "rows.npy"), float32(x.dims, data));
    const spec: JobSpec = {
      model: "examples/digits/digits_cnn.onnx",
      input: { name: "", path: join(dir, "rows.npy") },
      extra: {},
      method: { target: 3, steps: 4 },
      shardRows: 4,
    };
    const r = await explainDataset(spec, { backend, out: join(dir, "job") });
    assert.equal(r.summary.ok, 11);
    assert.deepEqual(
      r.summary.failed.map((f) => f.row),
      [5],
    );
    assert.match(r.summary.failed[0]!.error, /NaN|finite/i);
    const rows = await parquetRows(join(dir, "job", "rows.parquet"));
    assert.equal(rows[5]!.ok, false);
    assert.equal(rows[5]!.delta, null, "a failed row has a null delta in Parquet");
    assert.match(String(rows[5]!.error), /NaN|finite/i);
    assert.equal(rows[4]!.ok, true);
    const attr = (await readNpy(join(dir, "job", "attributions.npy"))).data as Float32Array;
    assert.ok(attr.subarray(5 * 64, 6 * 64).every(Number.isNaN));
    assert.ok(attr.subarray(4 * 64, 5 * 64).every(Number.isFinite));
    await assert.rejects(explainDataset(spec, { backend, out: join(dir, "ff"), failFast: true }), {
      name: "RowFailedError",
      message: /row 5 failed/,
    });
    const m = JSON.parse(await readFile(join(dir, "ff", "manifest.json"), "utf8"));
    assert.deepEqual(
      m.shards.map((s: { index: number }) => s.index),
      [0],
      "the shard with the failing row is not committed",
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a folder of images: preprocessed by the model's config.json; a broken file is a failed row", async () => {
  const dir = await tmp();
  try {
    const images = join(dir, "images");
    await mkdir(images);
    for (const n of ["circle", "square", "triangle"])
      await copyFile(`examples/image-shapes/${n}.png`, join(images, `${n}.png`));
    await writeFile(join(images, "broken.png"), "not a png");
    const spec: JobSpec = {
      model: "examples/image-shapes/model.onnx",
      input: { name: "", path: images },
      extra: {},
      method: { target: 0, steps: 8 },
      shardRows: 2,
    };
    const r = await explainDataset(spec, { backend, out: join(dir, "job") });
    // file-name order: broken, circle, square, triangle
    assert.deepEqual(
      r.summary.failed.map((f) => f.row),
      [0],
    );
    assert.match(r.summary.failed[0]!.error, /broken\.png/);
    assert.deepEqual(r.summary.featureDims, [3, 32, 32]);
    const rows = await parquetRows(join(dir, "job", "rows.parquet"));
    assert.deepEqual(
      rows.map((x) => x.predicted),
      [-1, 0, 1, 2],
      "the shapes model predicts circle, square, triangle",
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("class-wide significance from merged shard sums equals featureSignificance over all rows", async () => {
  const dir = await tmp();
  try {
    const labels = await readNpy("examples/digits/digits_test_labels.npy");
    const groups = int64(
      [360],
      Array.from(labels.data as BigInt64Array, (v) => (v === 5n ? 1 : 0)),
    );
    await writeNpy(join(dir, "groups.npy"), groups);
    const spec: JobSpec = {
      model: "examples/digits/digits_cnn.onnx",
      input: { name: "", path: "examples/digits/digits_test.npy" },
      extra: {},
      method: { target: 5, steps: 4 },
      groups: join(dir, "groups.npy"),
      shardRows: 50,
    };
    const r = await explainDataset(spec, { backend, out: join(dir, "job") });
    const attr = (await readNpy(join(dir, "job", "attributions.npy"))).data as Float32Array;
    const pick = (g: number) =>
      Array.from({ length: 360 }, (_, i) => i)
        .filter((i) => groups.data[i] === BigInt(g))
        .flatMap((i) => Array.from(attr.subarray(i * 64, (i + 1) * 64)));
    const ref = featureSignificance(pick(1), pick(0), 64);
    const got = r.summary.significance!;
    assert.equal(got.classRows + got.nullRows, 360);
    for (let j = 0; j < 64; j++) {
      if (Number.isNaN(ref.pValues[j]!)) assert.ok(Number.isNaN(got.pValues[j]!));
      else
        assert.ok(
          Math.abs(got.pValues[j]! - ref.pValues[j]!) <= 1e-9 * Math.max(1e-300, ref.pValues[j]!) + 1e-15,
          `p-value of feature ${j}`,
        );
    }
    assert.deepEqual(got.significant, ref.significant);
    assert.ok(got.significant.length > 0, "some pixels separate fives from the rest");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("shard statistics merge exactly: any split of the rows gives the same sums, bit for bit", () => {
  let seed = 7;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const d = 9;
  const rows = Array.from({ length: 101 }, () => Float32Array.from({ length: d }, next));
  const group = (i: number) => (i % 3 === 0 ? 1 : 0);
  const part = (a: number, b: number) => {
    const s = emptyShardStats(d);
    for (let i = a; i < b; i++) addRowStats(s, rows[i]!, group(i));
    return s;
  };
  const one = mergeShardStats([part(0, 101)], d);
  const many = mergeShardStats([part(60, 101), part(0, 7), part(7, 60)], d);
  assert.deepEqual(many.classGroup, one.classGroup);
  assert.deepEqual(many.nullGroup, one.nullGroup);
  assert.deepEqual(groupSignificance(many), groupSignificance(one));
});

test("a JSONL of texts: each row as explainText gives it, words in Parquet, mean |score| per word", async () => {
  const dir = await tmp();
  try {
    const texts = ["a wonderful film", "a terrible film", "not a text", "a wonderful wonderful day"];
    const jsonl = [
      JSON.stringify({ text: texts[0] }),
      JSON.stringify(texts[1]),
      "{not json",
      JSON.stringify({ text: texts[3] }),
    ].join("\n");
    await writeFile(join(dir, "texts.jsonl"), `${jsonl}\n`);
    const spec: JobSpec = {
      model: "examples/text-sentiment",
      input: { name: "", path: join(dir, "texts.jsonl") },
      extra: {},
      method: { steps: 8 },
      shardRows: 3,
    };
    const r = await explainDataset(spec, { backend, out: join(dir, "job") });
    assert.deepEqual(
      r.summary.failed.map((f) => f.row),
      [2],
    );
    assert.match(r.summary.failed[0]!.error, /line 3: not JSON/);
    const textModel = await loadTextModel("examples/text-sentiment");
    const rows = await parquetRows(join(dir, "job", "rows.parquet"));
    const attr = await readNpy(join(dir, "job", "attributions.npy"));
    assert.deepEqual(attr.dims, [4, 32]);
    const byWord = new Map<string, number[]>();
    for (const k of [0, 1, 3]) {
      const ref = await explainText(textModel, texts[k]!, { backend, steps: 8 });
      assert.equal(rows[k]!.predicted, ref.prediction.index);
      assert.equal(rows[k]!.delta, ref.delta);
      assert.deepEqual(
        JSON.parse(rows[k]!.words as string),
        ref.words.map((w) => [w.word, w.score]),
      );
      ref.tokens.forEach((t, j) => assert.equal(attr.data[k * 32 + j], Math.fround(t.score)));
      assert.ok(Number.isNaN(attr.data[k * 32 + ref.tokens.length] as number), "padding is NaN");
      for (const w of ref.words) byWord.set(w.word, [...(byWord.get(w.word) ?? []), Math.abs(w.score)]);
    }
    const wonderful = r.summary.meanAbsByWord!.find((w) => w.word === "wonderful")!;
    const want = byWord.get("wonderful")!;
    assert.equal(wonderful.count, 3);
    assert.ok(Math.abs(wonderful.meanAbs - want.reduce((a, b) => a + b) / 3) < 1e-12);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("Enhanced IG as a dataset job equals enhancedIntegratedGradients on all rows at once", async () => {
  const dir = await tmp();
  try {
    const x = await readNpy("examples/digits/digits_test.npy");
    const labels = Array.from(
      (await readNpy("examples/digits/digits_test_labels.npy")).data as BigInt64Array,
      Number,
    );
    const rowsOf = (c: number) => labels.flatMap((l, i) => (l === c ? [i] : []));
    const pick = (rows: number[]) =>
      float32(
        [rows.length, 64],
        rows.flatMap((i) => Array.from((x.data as Float32Array).subarray(i * 64, (i + 1) * 64))),
      );
    const fives = pick(rowsOf(5).slice(0, 20));
    const threes = pick(rowsOf(3));
    await writeNpy(join(dir, "fives.npy"), fives);
    await writeNpy(join(dir, "threes.npy"), threes);
    const eig = {
      path: "latent-linear" as const,
      encoder: "examples/digits/digits_ae_encoder.onnx",
      decoder: "examples/digits/digits_ae_decoder.onnx",
      baselineKind: "kmeans" as const,
      baselineData: join(dir, "threes.npy"),
      numBaselines: 2,
    };
    const spec: JobSpec = {
      model: "examples/digits/digits_cnn.onnx",
      input: { name: "", path: join(dir, "fives.npy") },
      extra: {},
      method: { method: "eig", eig, target: 5, steps: 8 },
      shardRows: 8,
    };
    const r = await explainDataset(spec, { backend, out: join(dir, "job") });
    assert.equal(r.summary.ok, 20);
    const ref = await enhancedIntegratedGradients(await loadModel("examples/digits/digits_cnn.onnx"), {
      backend,
      inputs: { input: { ...fives, dims: [20, 1, 8, 8] } },
      path: "latent-linear",
      encoder: await loadModel(eig.encoder),
      decoder: await loadModel(eig.decoder),
      baselineKind: "kmeans",
      baselineData: threes,
      numBaselines: 2,
      target: 5,
      steps: 8,
    });
    const attr = (await readNpy(join(dir, "job", "attributions.npy"))).data as Float32Array;
    const want = ref.attributions.data;
    let worst = 0;
    for (let i = 0; i < want.length; i++)
      worst = Math.max(worst, Math.abs(attr[i]! - want[i]!) / (1e-3 + Math.abs(want[i]!)));
    assert.ok(worst < 1e-4, `largest relative difference ${worst}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("stale temporary files of killed writers are removed; others are left alone", async () => {
  const dir = await tmp();
  try {
    await writeFile(join(dir, ".00001.npy.4242.deadbeef.tmp"), "half a shard");
    await writeFile(join(dir, ".hidden"), "not ours");
    await writeFileAtomic(join(dir, "a.json"), "{}");
    await removeStaleTemps(dir);
    assert.deepEqual((await readdir(dir)).sort(), [".hidden", "a.json"]);
    assert.equal(await readFile(join(dir, "a.json"), "utf8"), "{}");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the streamed .npy header is byte for byte encodeNpy's", () => {
  for (const dims of [[3], [2, 64], [5, 1, 8, 8], [10, 3, 224, 224], [0, 4]]) {
    const full = encodeNpy(float32(dims), "x.npy");
    const header = float32NpyHeader(dims);
    assert.ok(Buffer.from(full.subarray(0, header.length)).equals(Buffer.from(header)), `dims ${dims}`);
    assert.equal(full.length - header.length, dims.reduce((a, b) => a * b, 1) * 4);
  }
});
