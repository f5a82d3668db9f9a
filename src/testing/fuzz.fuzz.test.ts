/**
 * Short seeded fuzz runs (the long run is `npm run fuzz`) and the issue 12 regression cases.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkCommand } from "../cli/check.js";
import { eigCommand, significanceCommand } from "../cli/eig.js";
import { explainCommand } from "../cli/explain.js";
import { gradientCommand } from "../cli/gradient.js";
import { imageCommand } from "../cli/image.js";
import { tabularCommand } from "../cli/tabular.js";
import { textCommand } from "../cli/text.js";
import { NpyError, parseNpy } from "../io/npy-format.js";
import { ROOT } from "./cli.js";
import {
  checkModelEdits,
  exampleModels,
  fuzzCliFlags,
  fuzzImages,
  fuzzModelBytes,
  fuzzModelEdits,
  fuzzNpy,
} from "./fuzz.js";

const SEED = 12;
const SPECS = [
  explainCommand,
  gradientCommand,
  eigCommand,
  significanceCommand,
  textCommand,
  imageCommand,
  tabularCommand,
  checkCommand,
];

test("fuzz: mutated ONNX bytes give a model or a typed one-line error (decoder, checker, op table)", async () => {
  await fuzzModelBytes({ numRuns: 1000, seed: SEED, timeLimitMs: 10000 }, exampleModels(ROOT));
});

test("fuzz: every semantic edit the issue found reaching onnxruntime is caught by the checker", () => {
  const models = exampleModels(ROOT);
  checkModelEdits(models[0]!); // digits CNN: Conv, Gemm, initializers
  assert.ok(models.length > 1);
});

test("fuzz: random semantic edits of the example models (types, dims, names, versions, nodes)", async () => {
  await fuzzModelEdits({ numRuns: 500, seed: SEED, timeLimitMs: 5000 }, exampleModels(ROOT));
});

test("fuzz: mutated and crafted .npy files (nested, escaped, 200 kB headers)", async () => {
  await fuzzNpy({ numRuns: 500, seed: SEED, timeLimitMs: 5000 });
});

test("fuzz: mutated PNG and JPEG files decode consistently or fail typed", async () => {
  await fuzzImages({ numRuns: 500, seed: SEED, timeLimitMs: 5000 }, ROOT);
});

test("fuzz: CLI flag values for every command", async () => {
  await fuzzCliFlags({ numRuns: 1000, seed: SEED, timeLimitMs: 3000 }, SPECS);
});

test("issue 12 regressions: a 1 MB .npy header, a deeply nested one and an escaped dtype are typed errors", () => {
  const npy = (header: string, version: number) => {
    const text = new TextEncoder().encode(header);
    const pre = version === 1 ? 10 : 12;
    const out = new Uint8Array(pre + text.length);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
    if (version === 1) new DataView(out.buffer).setUint16(8, text.length, true);
    else new DataView(out.buffer).setUint32(8, text.length, true);
    out.set(text, pre);
    return out;
  };
  const big = `{'descr': '<f4', 'fortran_order': False, 'shape': ${"(".repeat(2 ** 20)}`;
  assert.throws(
    () => parseNpy(npy(big, 2), "big.npy"),
    /big\.npy: the header is 1048626 bytes long, more than the 10000/,
  );
  const nested = `{'descr': ${"[".repeat(4000)}${"]".repeat(4000)}, 'fortran_order': False, 'shape': (1,), }`;
  assert.throws(() => parseNpy(npy(nested, 1), "nested.npy"), NpyError);
  const escaped = "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (1,), }";
  assert.throws(
    () => parseNpy(npy(escaped, 1), "esc.npy"),
    /escape sequences in header strings are not supported/,
  );
});

test("fuzz: CSV tables, tokenizer.json and config.json fail typed and name the file", async () => {
  const { fuzzCsv, fuzzTextFiles } = await import("./fuzz-files.js");
  await fuzzCsv({ numRuns: 500, seed: SEED, timeLimitMs: 3000 });
  await fuzzTextFiles({ numRuns: 60, seed: SEED, timeLimitMs: 8000 }, ROOT);
});

test("fuzz: whole explain runs on mutated inputs and bombs: no partial output, no exit 0 on garbage", async () => {
  const { fuzzExplainRuns } = await import("./fuzz-files.js");
  const r = await fuzzExplainRuns({ numRuns: 25, seed: SEED, timeLimitMs: 15000 }, ROOT);
  assert.ok(r.succeeded + [...r.refused.values()].reduce((a, b) => a + b, 0) > 0);
});
