import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { makeModel } from "../onnx/make.js";
import { nodeBackend } from "../runtime/node.js";
import { float32, int64, relativeL2, toFloat64 } from "../tensor/tensor.js";
import { fixturePath, readJsonFixture, readNpyFixture } from "../testing/fixtures.js";
import { explainText } from "./text.js";
import { EmbeddingNotFoundError, embeddingLookups, findEmbeddings } from "./text-embeddings.js";
import { loadTextModel } from "./text-model.js";
import { explainQa } from "./text-qa.js";

const backend = nodeBackend();
const EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples", "text-sentiment");

interface RefManifest {
  question: string;
  context: string;
  input_ids: number[];
  token_type_ids: number[];
  target: { output: string; position: number };
  steps: number;
  cases: Record<string, { file: string; f_x: number; f_baseline: number; delta: number }>;
}

test("word, position, token-type and all-three attributions match float64 torch layer IG (QA model, start logit)", async () => {
  const m = readJsonFixture<RefManifest>("tasks/refs/manifest.json");
  const tm = await loadTextModel(fixturePath("tasks/qa"));
  for (const kind of ["word", "position", "token-type", "all"] as const) {
    const r = await explainQa(tm, m.question, m.context, {
      backend,
      embedding: kind,
      steps: m.steps,
      method: "gausslegendre",
    });
    const start = r.explanations[0]!;
    assert.deepEqual(
      start.tokens.map((t) => t.id),
      m.input_ids,
      "the JS tokenizer gives the generator's ids",
    );
    assert.equal(r.answer.start, m.target.position);
    const ref = toFloat64(readNpyFixture(m.cases[kind]!.file)); // [tokens, hidden]
    const t = m.input_ids.length;
    const h = ref.length / t;
    const want = Array.from({ length: t }, (_, i) =>
      ref.subarray(i * h, (i + 1) * h).reduce((a, b) => a + b, 0),
    );
    const got = start.tokens.map((x) => x.score);
    const err = relativeL2(got, want);
    assert.ok(err <= 1e-4, `${kind}: relative L2 ${err}`);
    const c = m.cases[kind]!;
    assert.ok(Math.abs(start.outputAtBaseline - c.f_baseline) <= 1e-4 * Math.max(1, Math.abs(c.f_baseline)));
    assert.ok(Math.abs(start.outputAtInput - c.f_x) <= 1e-4 * Math.max(1, Math.abs(c.f_x)));
    if (kind === "position") {
      // position 0's own embedding is its baseline: no attribution at [CLS]
      assert.equal(start.tokens[0]!.score, 0);
    }
  }
});

test("a model without a kind of embedding is a clear EmbeddingNotFoundError", async () => {
  const tm = await loadTextModel(EXAMPLE); // word + position embeddings, no token types
  await assert.rejects(
    () => explainText(tm, "a wonderful film", { backend, embedding: "token-type", steps: 4 }),
    (e: Error) =>
      e instanceof EmbeddingNotFoundError &&
      /no token-type embedding/.test(e.message) &&
      /found: word, position/.test(e.message),
  );
  await assert.rejects(
    () => explainText(tm, "a wonderful film", { backend, embedding: "all", steps: 4 }),
    EmbeddingNotFoundError,
  );
  const r = await explainText(tm, "a wonderful film", { backend, embedding: "position", steps: 32 });
  assert.ok(Math.abs(r.delta) <= 1e-3 * Math.abs(r.outputAtInput - r.outputAtBaseline));
});

test("findEmbeddings: by the ids input, by table names (buffered token types), by config sizes", async () => {
  const ner = await loadTextModel(fixturePath("tasks/ner")); // no token_type_ids input
  const found = findEmbeddings(ner.model);
  assert.deepEqual(Object.keys(found).sort(), ["position", "token-type", "word"]);
  assert.equal(found["token-type"]!.rows, 2);
  // a graph whose names say nothing: position and token-type tables told apart by their sizes
  const model = makeModel({
    opset: 14,
    inputs: [{ name: "input_ids", dtype: "int64", dims: [1, 3] }],
    outputs: [{ name: "y", dtype: "float32", dims: [1, 3, 4] }],
    initializers: {
      a: float32([10, 4], new Float32Array(40).fill(0.5)),
      b: float32([8, 4], new Float32Array(32).fill(0.25)),
      c: float32([2, 4], new Float32Array(8).fill(0.125)),
      p: int64([1, 3], [0, 1, 2]),
      z: int64([1, 3], [0, 0, 0]),
    },
    nodes: [
      { op: "Gather", inputs: ["a", "input_ids"], outputs: ["g1"] },
      { op: "Gather", inputs: ["b", "p"], outputs: ["g2"] },
      { op: "Gather", inputs: ["c", "z"], outputs: ["g3"] },
      { op: "Add", inputs: ["g1", "g2"], outputs: ["s"] },
      { op: "Add", inputs: ["s", "g3"], outputs: ["y"] },
    ],
  });
  assert.deepEqual(Object.keys(findEmbeddings(model)), ["word"]);
  assert.throws(() => embeddingLookups(model, "position"), /no position embedding.*found: word/);
  const hinted = findEmbeddings(model, { maxPositions: 8, typeVocabSize: 2 });
  assert.equal(hinted.position!.table, "b");
  assert.equal(hinted["token-type"]!.table, "c");
});
