/**
 * Issue 12 regression cases outside the decoders: boolean targets, a tokenizer.json that only
 * fails once a text is encoded, graphs without inputs or outputs handed to prepareAttribution.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Tokenizer } from "@huggingface/tokenizers";
import { TargetError } from "../attribution/errors.js";
import { prepareAttribution } from "../attribution/prepare.js";
import { seedsForTarget } from "../attribution/targets.js";
import { explainCommand } from "../cli/explain.js";
import { readTarget } from "../cli/paths-args.js";
import { PathlensError } from "../errors.js";
import { encodeText, TextExplainError, type TextModel } from "../explain/text-encode.js";
import { encodeNpy } from "../io/npy.js";
import { ModelStructureError } from "../onnx/model.js";
import type { ModelProto } from "../onnx/types.js";
import { nodeBackend } from "../runtime/node.js";
import { float32, tensor } from "../tensor/tensor.js";
import { ROOT } from "./cli.js";

test("a boolean target array is refused, in the library and from a .npy file", async () => {
  const bools = tensor("bool", [3], Uint8Array.from([1, 0, 1]));
  assert.throws(() => seedsForTarget(bools, [1, 3], 1, "float32", "logits"), TargetError);
  const dir = await mkdtemp(join(tmpdir(), "pathlens-target-"));
  try {
    const file = join(dir, "t.npy");
    await writeFile(file, encodeNpy(bools));
    await assert.rejects(
      readTarget(file, explainCommand),
      (e: unknown) => e instanceof PathlensError && /t\.npy \(--target\): holds bool/.test(e.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

function textModelWith(edit: (json: Record<string, unknown>) => void): TextModel {
  const json = JSON.parse(readFileSync(join(ROOT, "examples/text-sentiment/tokenizer.json"), "utf8"));
  edit(json);
  return {
    model: {} as ModelProto,
    tokenizer: new Tokenizer(json, {}),
    tokenizerFile: "/models/sentiment/tokenizer.json",
  };
}

test("a tokenizer.json that loads but fails on a text gives a typed error naming the file", () => {
  // A post-processor whose template is not a list: the constructor accepts it, encode throws.
  const broken = textModelWith((j) => {
    j.post_processor = { type: "TemplateProcessing", single: 5 };
  });
  assert.throws(
    () => encodeText(broken, "a wonderful film"),
    (e: unknown) =>
      e instanceof TextExplainError &&
      /^\/models\/sentiment\/tokenizer\.json: the tokenizer failed/.test(e.message),
  );
  // No unk_token and no vocab: ids come back undefined instead of throwing.
  const noVocab = textModelWith((j) => {
    const model = j.model as Record<string, unknown>;
    model.vocab = {};
    delete model.unk_token;
  });
  assert.throws(() => encodeText(noVocab, "a wonderful film"), /tokenizer\.json: the tokenizer gave no id/);
  // The intact file still encodes.
  assert.ok(
    encodeText(
      textModelWith(() => {}),
      "a wonderful film",
    ).ids.length > 2,
  );
});

test("prepareAttribution on a graph without inputs or outputs is a typed error", async () => {
  const empty = (input: boolean, output: boolean): ModelProto => ({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    metadataProps: [],
    trainingInfo: [],
    functions: [],
    graph: {
      node: [],
      name: "g",
      initializer: [],
      sparseInitializer: [],
      input: input ? [{ name: "x" }] : [],
      output: output ? [{ name: "x" }] : [],
      valueInfo: [],
      quantizationAnnotation: [],
      metadataProps: [],
    } as unknown as NonNullable<ModelProto["graph"]>,
  });
  const options = { backend: nodeBackend(), inputs: { x: float32([1, 2], [1, 2]) } };
  await assert.rejects(prepareAttribution(empty(false, true), options), /has no inputs/);
  await assert.rejects(prepareAttribution(empty(true, false), options), ModelStructureError);
  await assert.rejects(prepareAttribution({ ...empty(true, true), graph: undefined }, options), /no graph/);
});

test("pathlens eig: samples × baselines × path points are budgeted before any session (--max-points)", async () => {
  const { eigCommand, runEig } = await import("../cli/eig.js");
  const { parseCommand } = await import("../cli/args.js");
  const { BudgetError } = await import("../attribution/budget.js");
  const dir = await mkdtemp(join(tmpdir(), "pathlens-eig-"));
  try {
    const argv = (extra: string[]) => [
      join(ROOT, "examples/digits/digits_cnn.onnx"),
      "--input",
      join(ROOT, "examples/digits/digits_sample.npy"),
      "--path",
      "original-linear",
      "--out",
      join(dir, "out"),
      "--quiet",
      ...extra,
    ];
    const parsed = (extra: string[]) => {
      const r = parseCommand(eigCommand, argv(extra));
      assert.ok(!r.help);
      return r.args;
    };
    await assert.rejects(
      runEig(parsed(["--steps", "1000000"])),
      (e: unknown) =>
        e instanceof BudgetError && e.message.includes("12 sample(s) × 1 baseline(s) × 1000001 path points"),
    );
    await assert.rejects(runEig(parsed(["--max-points", "100"])), /612 path points .* limit of 100/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
