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
import { ROOT } from "./cli.js";
import { checkModelEdits, exampleModels, fuzzCliFlags, fuzzImages, fuzzModelBytes, fuzzNpy } from "./fuzz.js";

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
  await fuzzModelBytes({ numRuns: 300, seed: SEED, timeLimitMs: 8000 }, exampleModels(ROOT));
});

test("fuzz: every semantic edit the issue found reaching onnxruntime is caught by the checker", () => {
  const models = exampleModels(ROOT);
  checkModelEdits(models[0]!); // digits CNN: Conv, Gemm, initializers
  assert.ok(models.length > 1);
});

test("fuzz: mutated and crafted .npy files (nested, escaped, 200 kB headers)", async () => {
  await fuzzNpy({ numRuns: 300, seed: SEED, timeLimitMs: 6000 });
});

test("fuzz: mutated PNG and JPEG files decode consistently or fail typed", async () => {
  await fuzzImages({ numRuns: 300, seed: SEED, timeLimitMs: 6000 }, ROOT);
});

test("fuzz: CLI flag values for every command", async () => {
  await fuzzCliFlags({ numRuns: 500, seed: SEED, timeLimitMs: 4000 }, SPECS);
});
