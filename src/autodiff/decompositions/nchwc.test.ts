/**
 * Graphs onnxruntime writes at level "all" (com.microsoft.nchwc ops in the blocked layout of this
 * machine's CPU), made at test time from seven small CNNs: the rewritten forward equals
 * onnxruntime's own run of the "all" graph; pathlens' gradient of the "all" graph equals its
 * gradient of the original model and central finite differences of the original model.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readNpy } from "../../io/npy.js";
import { encodeNpy } from "../../io/npy-format.js";
import { decodeModel, encodeModel } from "../../onnx/codec.js";
import { makeModel } from "../../onnx/make.js";
import { attrInt, ModelStructureError } from "../../onnx/model.js";
import type { ModelProto } from "../../onnx/types.js";
import { GradientSession } from "../../runtime/gradient-session.js";
import { nchwcBlockSize } from "../../runtime/nchwc-block.js";
import { nodeBackend } from "../../runtime/node.js";
import { onnxruntimeOptimized } from "../../runtime/ort-optimize.js";
import { probeShapes } from "../../runtime/probe.js";
import { type Tensor, tensor } from "../../tensor/tensor.js";
import { runCli } from "../../testing/cli.js";
import { decomposeModel } from "../decompose.js";
import { NCHWC_DOMAIN } from "./nchwc.js";

const ROOT = join(import.meta.dirname, "../../..");
const backend = nodeBackend();

interface Case {
  file: string;
  input: string;
  dims: number[];
  /** NCHWc ops onnxruntime must write (else the case would not test them). */
  ops: string[];
  /** onnxruntime must write both reorders with channels_last = 1. */
  channelsLast?: boolean;
}

const CASES: Case[] = [
  {
    file: "test/fixtures/models/digits_cnn.onnx",
    input: "input",
    dims: [2, 1, 8, 8],
    ops: ["Conv", "ReorderOutput"],
  },
  {
    file: "test/fixtures/contrib/cnn.onnx",
    input: "x",
    dims: [2, 3, 12, 12],
    ops: ["Conv", "ReorderOutput"],
  },
  {
    file: "test/fixtures/nchwc/resblock.onnx",
    input: "x",
    dims: [2, 16, 8, 8],
    ops: ["ReorderInput", "Conv", "MaxPool", "AveragePool", "ReorderOutput"],
  },
  {
    file: "test/fixtures/nchwc/mobileblock.onnx",
    input: "x",
    dims: [2, 3, 12, 12],
    ops: ["Conv", "GlobalAveragePool", "ReorderOutput"],
  },
  {
    file: "test/fixtures/nchwc/upblock.onnx",
    input: "x",
    dims: [2, 16, 5, 5],
    ops: ["ReorderInput", "Conv", "Upsample", "ReorderOutput"],
  },
  // 20 channels: ReorderInput pads to 32, the filter's input channels are padded too; GlobalMaxPool
  {
    file: "test/fixtures/nchwc/padblock.onnx",
    input: "x",
    dims: [2, 20, 6, 6],
    ops: ["ReorderInput", "Conv", "GlobalMaxPool", "ReorderOutput"],
  },
  // NHWC input and output: onnxruntime folds the Transposes into channels_last reorders
  {
    file: "test/fixtures/nchwc/nhwcblock.onnx",
    input: "x",
    dims: [2, 5, 5, 16],
    ops: ["ReorderInput", "Conv", "ReorderOutput"],
    channelsLast: true,
  },
];

/** Seeded uniform values in [-1, 1) (xorshift32). */
function seeded(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

function randomTensor(dims: number[], seed: number): Tensor {
  return tensor(
    "float32",
    dims,
    seeded(
      dims.reduce((a, d) => a * d, 1),
      seed,
    ),
  );
}

/** max |a − b| / max |b|. */
function relMax(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(Number(a[i]) - Number(b[i])));
    scale = Math.max(scale, Math.abs(Number(b[i])));
  }
  return err / scale;
}

async function runModel(model: ModelProto | Uint8Array, feeds: Record<string, Tensor>): Promise<Tensor> {
  const bytes = model instanceof Uint8Array ? model : encodeModel(model);
  const s = await backend.createSession(bytes, { optimization: "disabled" });
  try {
    const out = await s.run(feeds);
    return out[s.outputNames[0]!]!;
  } finally {
    await s.dispose();
  }
}

async function gradient(model: ModelProto, input: string, x: Tensor, seed: Tensor) {
  const s = await GradientSession.create(backend, model, { [input]: x }, { wrt: [input], cache: false });
  try {
    const r = await s.run({ [input]: x }, { [model.graph!.output[0]!.name!]: seed });
    return r.gradients[input]!.data as Float32Array;
  } finally {
    await s.dispose();
  }
}

for (const c of CASES) {
  test(`level-"all" graph of ${c.file}: decomposed forward = onnxruntime's, gradient = the original model's and finite differences`, async () => {
    const original = new Uint8Array(await readFile(join(ROOT, c.file)));
    const all = decodeModel(await onnxruntimeOptimized(original, "all"));
    const ops = new Set(all.graph!.node.filter((n) => n.domain === NCHWC_DOMAIN).map((n) => n.opType!));
    for (const op of c.ops) assert.ok(ops.has(op), `onnxruntime wrote ${[...ops].join(", ")}, not ${op}`);
    if (c.channelsLast)
      for (const op of ["ReorderInput", "ReorderOutput"])
        assert.ok(
          all.graph!.node.some((n) => n.opType === op && attrInt(n, "channels_last", 0) === 1),
          `no channels-last ${op}`,
        );
    const x = randomTensor(c.dims, 7);
    const block = await nchwcBlockSize(backend);

    // (1) forward of the rewritten graph = onnxruntime's run of the "all" graph
    const shapes = await probeShapes(backend, all, { [c.input]: x });
    const rewritten = decomposeModel(all, shapes, "cpu", { nchwcBlockSize: block });
    const left = rewritten.graph!.node.filter((n) => n.domain === NCHWC_DOMAIN).map((n) => n.opType);
    assert.deepEqual(left, [], "NCHWc ops left after decomposition");
    const ref = await runModel(encodeModel(all), { [c.input]: x });
    const y = await runModel(rewritten, { [c.input]: x });
    assert.deepEqual(y.dims, ref.dims);
    const fwd = relMax(y.data as Float32Array, ref.data as Float32Array);

    // (2) gradient of the "all" graph = gradient of the original model
    const seed = randomTensor([...ref.dims], 11);
    const gAll = await gradient(all, c.input, x, seed);
    const gOrig = await gradient(decodeModel(original), c.input, x, seed);
    const grad = relMax(gAll, gOrig);

    // (3) central differences of the original model's seeded output along the gradient
    // (the direction of largest change, so float32 rounding stays small against it)
    const gMax = gAll.reduce((m, gi) => Math.max(m, Math.abs(gi)), 0);
    const v = gAll.map((gi) => gi / gMax);
    const eps = 1e-3;
    const shifted = async (t: number) => {
      const xs = (x.data as Float32Array).map((xi, i) => xi + t * v[i]!);
      const out = await runModel(original, { [c.input]: tensor("float32", c.dims, xs) });
      return (out.data as Float32Array).reduce((a, yi, i) => a + yi * (seed.data as Float32Array)[i]!, 0);
    };
    const fd = ((await shifted(eps)) - (await shifted(-eps))) / (2 * eps);
    const analytic = gAll.reduce((a, gi, i) => a + gi * v[i]!, 0);
    const fdErr = Math.abs(fd - analytic) / Math.abs(analytic);
    console.log(
      `${c.file} (block ${block}, ${[...ops].sort().join(", ")}): forward rel ${fwd.toExponential(2)}, gradient vs original rel ${grad.toExponential(2)}, directional FD ${fd.toPrecision(6)} vs ${analytic.toPrecision(6)} (rel ${fdErr.toExponential(2)})`,
    );
    assert.ok(fwd <= 1e-5, `forward rel error ${fwd}`);
    assert.ok(grad <= 1e-5, `gradient rel error ${grad}`);
    assert.ok(fdErr <= 2e-3, `finite differences rel error ${fdErr}`);
  });
}

test("the NCHWc block size onnxruntime reports is MLAS's for this CPU (16 with AVX-512F, else 8)", async () => {
  const flags = readFileSync("/proc/cpuinfo", "utf8");
  const expected = /\bavx512f\b/.test(flags) ? 16 : 8;
  assert.equal(await nchwcBlockSize(backend), expected);
});

test("NCHWc filters decomposed with another block size or none: a wrong forward or a clear error", async () => {
  const original = new Uint8Array(await readFile(join(ROOT, "test/fixtures/nchwc/resblock.onnx")));
  const all = decodeModel(await onnxruntimeOptimized(original, "all"));
  const x = randomTensor([1, 16, 8, 8], 3);
  const shapes = await probeShapes(backend, all, { x });
  assert.throws(
    () => decomposeModel(all, shapes),
    (e: unknown) =>
      e instanceof ModelStructureError && /Conv node .*NCHWc block size .*not known/.test(e.message),
  );
  const block = await nchwcBlockSize(backend);
  const other = block === 16 ? 8 : 16;
  const ref = await runModel(encodeModel(all), { x });
  let wrong: number;
  try {
    const y = await runModel(decomposeModel(all, shapes, "cpu", { nchwcBlockSize: other }), { x });
    wrong = relMax(y.data as Float32Array, ref.data as Float32Array);
  } catch (e) {
    // a 16-channel filter is not aligned to 32-blocks etc.: refused with the reason
    assert.ok(e instanceof ModelStructureError && /block size/.test(e.message), String(e));
    return;
  }
  assert.ok(wrong > 1e-2, `block size ${other} instead of ${block} went unnoticed (rel ${wrong})`);
});

/** Runs `pathlens explain` on `model`; checks completeness; returns the attributions. */
async function explain(model: string, input: string, out: string): Promise<Float32Array> {
  const args = [
    "explain",
    model,
    "--input",
    input,
    "--target",
    "2",
    "--steps",
    "32",
    "--quiet",
    "--out",
    out,
  ];
  const r = await runCli(args);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(await readFile(join(out, "summary.json"), "utf8"));
  summary.delta.forEach((d: number, i: number) => {
    const change = Math.abs(summary.outputAtInput[i] - summary.outputAtBaseline[i]);
    assert.ok(Math.abs(d) <= 0.02 * change + 1e-4, `example ${i}: delta ${d} against ${change}`);
  });
  return (await readNpy(join(out, "attributions.npy"))).data as Float32Array;
}

test('pathlens check lists the NCHWc ops as supported; pathlens explain on a level-"all" graph = on the original', async () => {
  const dir = await mkdtemp(join(tmpdir(), "pathlens-nchwc-"));
  try {
    const allOf = async (file: string, path: string) =>
      writeFile(path, await onnxruntimeOptimized(new Uint8Array(await readFile(join(ROOT, file))), "all"));
    const resblock = join(dir, "resblock_all.onnx");
    await allOf("test/fixtures/nchwc/resblock.onnx", resblock);
    const check = await runCli(["check", resblock]);
    assert.equal(check.code, 0, check.stderr);
    for (const op of ["ReorderInput", "ReorderOutput", "Conv", "MaxPool", "AveragePool"])
      assert.match(check.stdout, new RegExp(`com\\.microsoft\\.nchwc\\.${op} +1 +\\d+ +decomposition`));
    assert.match(check.stdout, / 0 ops pathlens cannot differentiate/);
    // explain: padded channels (8 → the block), depthwise, Sum and HardSwish fusions
    const cnn = "test/fixtures/contrib/cnn.onnx";
    const cnnAll = join(dir, "cnn_all.onnx");
    await allOf(cnn, cnnAll);
    const input = join(dir, "x.npy");
    await writeFile(input, encodeNpy(randomTensor([2, 3, 12, 12], 5)));
    const fromAll = await explain(cnnAll, input, join(dir, "all"));
    const fromOriginal = await explain(join(ROOT, cnn), input, join(dir, "orig"));
    const rel = relMax(fromAll, fromOriginal);
    console.log(`${cnn} explain: "all" graph vs original attributions rel ${rel.toExponential(2)}`);
    assert.ok(rel <= 1e-5, `attributions differ: rel ${rel}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("NCHWc ops outside what onnxruntime writes are refused by node and attribute", () => {
  const one = (op: string, attrs: Record<string, number[] | number | string>) => {
    const m = makeModel({
      opset: 13,
      inputs: [{ name: "x", dtype: "float32", dims: [1, 16, 2, 2] }],
      outputs: [{ name: "y", dtype: "float32" }],
      nodes: [{ op, inputs: ["x"], outputs: ["y"], attrs, domain: NCHWC_DOMAIN, name: "the_op" }],
    });
    m.opsetImport.push({ domain: NCHWC_DOMAIN, version: 1 });
    return () => decomposeModel(m, undefined, "cpu", { nchwcBlockSize: 16 });
  };
  const refused = (f: () => unknown, what: RegExp) =>
    assert.throws(
      f,
      (e: unknown) => e instanceof ModelStructureError && /the_op/.test(e.message) && what.test(e.message),
    );
  refused(one("Upsample", { scales: [1, 2, 2, 2] }), /"scales" \[1, 2, 2, 2\]/);
  refused(one("Upsample", { scales: [1, 1, 2, 2], mode: "cubic" }), /mode "cubic"/);
  refused(one("ReorderOutput", { channels: 0 }), /"channels" must be positive/);
});
