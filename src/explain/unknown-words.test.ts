import assert from "node:assert/strict";
import { test } from "node:test";
import { nodeBackend } from "../runtime/node.js";
import { ROOT } from "../testing/cli.js";
import { explainText } from "./text.js";
import { loadTextModel } from "./text-model.js";

test("issue 12 regression: an out-of-vocabulary word ([UNK]) keeps its attribution, shown as its text", async () => {
  const tm = await loadTextModel(`${ROOT}/examples/text-sentiment`);
  const r = await explainText(tm, "a wonderful zqxjvk film", { backend: nodeBackend(), steps: 16 });
  const unk = r.tokens.find((t) => t.id === tm.tokenizer.token_to_id("[UNK]"));
  assert.ok(unk, "the example vocabulary should not know the word");
  assert.equal(unk.special, false);
  // the token stays [UNK]; its word shows the text it stands for
  assert.deepEqual(
    r.words.map((w) => w.word),
    ["a", "wonderful", "zqxjvk", "film"],
  );
  const word = r.words[unk.word]!;
  assert.equal(word.score, unk.score);
  assert.ok(Number.isFinite(word.score) && word.score !== 0);
  // Completeness over the words: every non-special token's score lands in exactly one word.
  const tokenSum = r.tokens.filter((t) => !t.special).reduce((a, t) => a + t.score, 0);
  const wordSum = r.words.reduce((a, w) => a + w.score, 0);
  assert.ok(Math.abs(tokenSum - wordSum) < 1e-9);
});
