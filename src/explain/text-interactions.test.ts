/**
 * Token-pair Integrated Hessians for a transformer task (NER here; every task shares the
 * engine): Σ_j Γ_ij reproduces each token's attribution and Σ_ij Γ_ij = F(x) − F(x′).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { nodeBackend } from "../runtime/node.js";
import { fixturePath } from "../testing/fixtures.js";
import { loadTextModel } from "./text-model.js";
import { explainNer } from "./text-ner.js";

const backend = nodeBackend();

test("token-pair Integrated Hessians for a task: rows sum to the attributions, completeness holds", async () => {
  const tm = await loadTextModel(fixturePath("tasks/ner"));
  const r = await explainNer(tm, "Mr Smith lived in Berlin .", {
    backend,
    steps: 16,
    interactions: true,
    interactionSteps: 16,
    ignoredIndexes: [4],
  });
  const e = r.explanations[0]!;
  const t = e.tokens.length;
  const gamma = e.interactions!.tokens;
  assert.equal(gamma.length, t * t);
  const gap = Math.abs(e.outputAtInput - e.outputAtBaseline);
  assert.ok(Math.abs(e.interactions!.delta!) <= 1e-3 * gap, `interaction delta ${e.interactions!.delta}`);
  for (let i = 0; i < t; i++) {
    const row = gamma.slice(i * t, (i + 1) * t).reduce((a, b) => a + b, 0);
    assert.ok(
      Math.abs(row - e.tokens[i]!.score) <= 2e-3 * gap,
      `row ${i}: Σ_j Γ ${row} vs IG ${e.tokens[i]!.score}`,
    );
  }
  const w = e.words.length;
  assert.equal(e.interactions!.words.length, w * w);
});
