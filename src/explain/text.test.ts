import assert from "node:assert/strict";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { nodeBackend } from "../runtime/node.js";
import { relativeL2, toFloat64 } from "../tensor/tensor.js";
import { fixturePath, readJsonFixture, readNpyFixture } from "../testing/fixtures.js";
import { explainText, mergeWords, TextExplainError } from "./text.js";
import { loadTextModel } from "./text-model.js";

const backend = nodeBackend();
const EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples", "text-sentiment");

/** A WordPiece tokenizer.json over tiny BERT's 1000 ids ([PAD] 0, [CLS] 1, [SEP] 2, [UNK] 3, w4 …). */
function tinyBertTokenizer(): unknown {
  const vocab: Record<string, number> = { "[PAD]": 0, "[CLS]": 1, "[SEP]": 2, "[UNK]": 3 };
  for (let i = 4; i < 1000; i++) vocab[`w${i}`] = i;
  return {
    version: "1.0",
    added_tokens: ["[PAD]", "[CLS]", "[SEP]", "[UNK]"].map((t, id) => ({
      id,
      content: t,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: "[SEP]", type_id: 1 } },
      ],
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [1], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [2], tokens: ["[SEP]"] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

test("a model folder with tokenizer.json reproduces tiny BERT's layer-IG per-token numbers (same ids)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "pathlens-text-"));
  try {
    await copyFile(fixturePath("models/tiny_bert.onnx"), join(dir, "model.onnx"));
    await writeFile(join(dir, "tokenizer.json"), JSON.stringify(tinyBertTokenizer()));
    await writeFile(
      join(dir, "config.json"),
      JSON.stringify({ id2label: { 0: "NEG", 1: "POS" }, max_position_embeddings: 128 }),
    );
    const tm = await loadTextModel(dir);
    const manifest = readJsonFixture<{
      cases: { id: string; target: { file: string }; expected_per_token?: { file: string } }[];
    }>("refs/manifest.json");
    const c = manifest.cases.find((k) => k.id === "tiny_bert_lig__gausslegendre")!;
    const ids = readNpyFixture("refs/tiny_bert_lig_input_ids.npy");
    const mask = readNpyFixture("refs/tiny_bert_lig_attention_mask.npy");
    const targets = Array.from(readNpyFixture(c.target.file).data, Number);
    const perToken = toFloat64(readNpyFixture(c.expected_per_token!.file));
    const t = ids.dims[1]!;
    for (let e = 0; e < ids.dims[0]!; e++) {
      const len = Array.from(mask.data.subarray(e * t, (e + 1) * t) as BigInt64Array).filter(
        (v) => v === 1n,
      ).length;
      const rowIds = Array.from(ids.data.subarray(e * t, e * t + len) as BigInt64Array, Number);
      const r = await explainText(tm, "", {
        backend,
        ids: rowIds,
        target: targets[e]!,
        steps: 50,
        method: "gausslegendre",
        layer: "/embeddings/LayerNorm/Add_1_output_0", // the layer the Captum reference attributes at
      });
      const got = r.tokens.map((k) => k.score);
      const want = Array.from(perToken.subarray(e * t, e * t + len));
      assert.ok(relativeL2(got, want) <= 1e-4, `example ${e}: relative L2 ${relativeL2(got, want)}`);
      assert.equal(r.target.label, targets[e] ? "POS" : "NEG");
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("explainText on the bundled sentiment model: words merge their pieces, completeness holds, pairs work", async () => {
  const tm = await loadTextModel(EXAMPLE);
  const r = await explainText(tm, "The movie was unwatchable.", { backend, steps: 64 });
  assert.equal(r.prediction.label, "NEGATIVE");
  assert.deepEqual(
    r.words.map((w) => w.word),
    ["The", "movie", "was", "unwatchable", "."], // as written: the tokenizer lower-cases
  );
  const unw = r.words[3]!;
  assert.equal(unw.tokens.length, 3);
  assert.ok(Math.abs(unw.score - unw.tokens.reduce((s, i) => s + r.tokens[i]!.score, 0)) < 1e-12);
  const total = r.tokens.reduce((s, t) => s + t.score, 0);
  assert.ok(Math.abs(total - (r.outputAtInput - r.outputAtBaseline) - r.delta) < 1e-9);
  assert.ok(Math.abs(r.delta) < 0.05 * Math.abs(r.outputAtInput - r.outputAtBaseline) + 1e-3);
  assert.ok(unw.score < 0 === (r.target.label === "POSITIVE"), "the negative word pushes towards NEGATIVE");
  const pair = await explainText(tm, "great film", {
    backend,
    textPair: "awful plot",
    steps: 16,
    target: "POSITIVE",
  });
  assert.deepEqual(
    pair.tokens.map((t) => t.token),
    ["[CLS]", "great", "film", "[SEP]", "awful", "plot", "[SEP]"],
  );
  assert.equal(pair.target.label, "POSITIVE");
});

test("an [UNK] word keeps its place, its original spelling and its attribution; its baseline is [PAD]", async () => {
  const tm = await loadTextModel(EXAMPLE);
  const r = await explainText(tm, "The Zorblaxian film was wonderful", { backend, steps: 32 });
  const unk = r.tokens.find((t) => t.token === "[UNK]")!;
  assert.equal(unk.special, false);
  assert.notEqual(unk.score, 0, "a [PAD] baseline moves the [UNK] embedding, so it gets an attribution");
  assert.deepEqual(
    r.words.map((w) => w.word),
    ["The", "Zorblaxian", "film", "was", "wonderful"],
  );
  assert.equal(r.words[1]!.score, unk.score);
  const total = r.tokens.reduce((s, t) => s + t.score, 0);
  assert.ok(Math.abs(r.delta) <= 1e-3 * Math.abs(r.outputAtInput - r.outputAtBaseline), `delta ${r.delta}`);
  assert.ok(Math.abs(total - (r.outputAtInput - r.outputAtBaseline) - r.delta) < 1e-9);
});

test("long texts are truncated with a warning, or refused; bad targets and missing tokenizers are clear errors", async () => {
  const tm = await loadTextModel(EXAMPLE);
  const long = Array.from({ length: 40 }, () => "good").join(" ");
  const r = await explainText(tm, long, { backend, steps: 4 });
  assert.equal(r.tokens.length, 32);
  assert.match(r.warnings[0]!, /42 tokens/);
  await assert.rejects(
    () => explainText(tm, long, { backend, truncate: false }),
    (e: Error) => e instanceof TextExplainError && /at most 32/.test(e.message),
  );
  await assert.rejects(
    () => explainText(tm, "fine", { backend, target: "MAYBE" }),
    /not a label of the model \(NEGATIVE, POSITIVE\)/,
  );
  await assert.rejects(
    () => loadTextModel(fixturePath("models")),
    (e: Error) => e instanceof TextExplainError,
  );
  const dir = await mkdtemp(join(tmpdir(), "pathlens-notok-"));
  await copyFile(join(EXAMPLE, "model.onnx"), join(dir, "model.onnx"));
  await assert.rejects(() => loadTextModel(dir), /no tokenizer\.json/);
  await rm(dir, { recursive: true, force: true });
});

test("mergeWords: WordPiece continuation pieces and byte-level word starts", () => {
  const wp = mergeWords(
    ["[CLS]", "un", "##watch", "##able", "film", "[SEP]"],
    [0, 1, 2, 3, 4, 0],
    [true, false, false, false, false, true],
  );
  assert.deepEqual(
    wp.list.map((w) => [w.word, w.score]),
    [
      ["unwatchable", 6],
      ["film", 4],
    ],
  );
  const bl = mergeWords(
    ["<s>", "Ġgreat", "Ġfil", "m", "</s>"],
    [0, 1, 2, 3, 0],
    [true, false, false, false, true],
  );
  assert.deepEqual(
    bl.list.map((w) => [w.word, w.score]),
    [
      ["great", 1],
      ["film", 5],
    ],
  );
});
