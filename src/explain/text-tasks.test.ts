/**
 * Every transformer task on its test model (tools/make_task_models.py: generated data whose
 * right attributions are known): the trigger words get the top attributions, and completeness
 * holds, |delta| ≤ 1e-3 · |F(x) − F(x')|.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { nodeBackend } from "../runtime/node.js";
import { fixturePath } from "../testing/fixtures.js";
import type { LabelExplanation } from "./text-explanation.js";
import { loadTextModel } from "./text-model.js";
import { explainMultiLabel } from "./text-multi-label.js";
import { explainNer } from "./text-ner.js";
import { explainQa } from "./text-qa.js";
import { explainZeroShot } from "./text-zero-shot.js";

const backend = nodeBackend();
const STEPS = 50;

function complete(e: LabelExplanation): void {
  const gap = Math.abs(e.outputAtInput - e.outputAtBaseline);
  assert.ok(Math.abs(e.delta) <= 1e-3 * gap, `${e.label}: |delta| ${Math.abs(e.delta)} > 1e-3 · ${gap}`);
  const total = e.tokens.reduce((a, t) => a + t.score, 0);
  assert.ok(Math.abs(total - (e.outputAtInput - e.outputAtBaseline) - e.delta) < 1e-9);
}

/** Words by decreasing attribution (optionally only of one sequence). */
function ranked(e: LabelExplanation, sequence?: number): string[] {
  return e.words
    .filter((w) => sequence === undefined || w.sequence === sequence)
    .sort((a, b) => b.score - a.score)
    .map((w) => w.word);
}

test("multi-label: each label's trigger word gets its top attribution; all labels or a chosen set", async () => {
  const tm = await loadTextModel(fixturePath("tasks/multi-label"));
  const r = await explainMultiLabel(tm, "the minister watched the football game in the thunderstorm .", {
    backend,
    steps: STEPS,
  });
  assert.deepEqual(
    r.predictions.map((p) => [p.label, p.predicted]),
    [
      ["sports", true],
      ["politics", true],
      ["weather", true],
    ],
  );
  const top = Object.fromEntries(r.explanations.map((e) => [e.label, ranked(e)[0]]));
  assert.deepEqual(top, { sports: "football", politics: "minister", weather: "thunderstorm" });
  r.explanations.forEach(complete);
  const thunder = r.explanations[2]!.words.find((w) => w.word === "thunderstorm")!;
  assert.equal(thunder.tokens.length, 2, "thunder ##storm merged into one word");
  const one = await explainMultiLabel(tm, "rain and more rain .", {
    backend,
    steps: STEPS,
    labels: ["weather"],
    score: "probability",
  });
  assert.deepEqual(
    one.explanations.map((e) => e.label),
    ["weather"],
  );
  assert.equal(ranked(one.explanations[0]!)[0], "rain");
  complete(one.explanations[0]!);
  assert.ok(one.explanations[0]!.outputAtInput > 0.5 && one.explanations[0]!.outputAtInput < 1, "a sigmoid");
});

test("zero-shot: the premise word of the topic decides; template, single- and multi-label modes", async () => {
  const tm = await loadTextModel(fixturePath("tasks/zero-shot"));
  // premises in the words the generator uses (a model of generated data knows no others)
  const r = await explainZeroShot(tm, "it was a very big rain today .", ["weather", "sports", "food"], {
    backend,
    steps: 100,
  });
  assert.equal(r.predicted, "weather");
  assert.equal(r.predictions[0]!.hypothesis, "This example is weather.");
  assert.ok(
    Math.abs(r.predictions.reduce((a, p) => a + p.probability, 0) - 1) < 1e-12,
    "single-label: a softmax",
  );
  assert.equal(ranked(r.explanations[0]!, 0)[0], "rain");
  r.explanations.forEach(complete);
  const multi = await explainZeroShot(tm, "a new soup then cheese today .", ["food", "politics"], {
    backend,
    steps: 100,
    multiLabel: true,
    template: "The topic is {}.",
    score: "entailment-vs-contradiction",
  });
  assert.equal(multi.predictions[0]!.hypothesis, "The topic is food.");
  assert.ok(multi.predictions[0]!.probability > 0.5 && multi.predictions[1]!.probability < 0.5);
  assert.ok(["soup", "cheese"].includes(ranked(multi.explanations[0]!, 0)[0]!));
  for (const [k, e] of multi.explanations.entries()) {
    complete(e);
    const p = multi.predictions[k]!;
    assert.ok(Math.abs(e.outputAtInput - (p.entailmentLogit - p.contradictionLogit)) < 1e-4);
  }
  // steps "auto" refines until completeness holds (50 Gauss–Legendre points leave 3.4e-3 here)
  const auto = await explainZeroShot(tm, "it was a very big rain today .", ["weather"], {
    backend,
    steps: "auto",
  });
  complete(auto.explanations[0]!);
  assert.ok(auto.steps > 2, `${auto.steps} points`);
  await assert.rejects(
    () => explainZeroShot(tm, "x", ["a"], { backend, template: "no placeholder" }),
    /has no \{\} for the label/,
  );
});

test("NER: entities merged over pieces; the preceding Mr carries a person's attribution", async () => {
  const tm = await loadTextModel(fixturePath("tasks/ner"));
  const r = await explainNer(tm, "Mr Johnson went to the market in Paris .", { backend, steps: STEPS });
  assert.deepEqual(
    r.entities.map((e) => [e.label, e.text, e.tokens.length]),
    [
      ["PER", "Johnson", 2],
      ["LOC", "Paris", 1],
    ],
  );
  // "O" is ignored by default: one explanation per entity token
  assert.deepEqual(
    r.explanations.map((e) => [e.label, r.predictions[e.position as number]!.token]),
    [
      ["B-PER", "John"],
      ["I-PER", "##son"],
      ["B-LOC", "Paris"],
    ],
  );
  r.explanations.forEach(complete);
  const contextTop = (e: LabelExplanation) => {
    const own = r.predictions[e.position as number]!.word;
    return e.words.filter((_, k) => k !== own).sort((a, b) => b.score - a.score)[0]!.word;
  };
  assert.equal(contextTop(r.explanations[0]!), "Mr");
  // (B-LOC at "Paris" is not asserted: from the [PAD] baseline its logit moves little, and "in"
  // does not stand out — measured: in +0.01, market +1.12 of F(x) − F(x') ≈ 1.1)
  const smith = await explainNer(tm, "Mr Smith lived in Berlin .", { backend, steps: STEPS });
  assert.equal(smith.explanations[0]!.label, "B-PER");
  assert.equal(ranked(smith.explanations[0]!)[0], "Mr");
  smith.explanations.forEach(complete);
  // the same names swapped: the context word decides
  const swapped = await explainNer(tm, "Mr Paris went to the market in Johnson .", { backend, steps: 8 });
  assert.deepEqual(
    swapped.entities.map((e) => [e.label, e.text]),
    [
      ["PER", "Paris"],
      ["LOC", "Johnson"],
    ],
  );
  const chosen = await explainNer(tm, "Mr Johnson went to the market in Paris .", {
    backend,
    steps: 8,
    label: "B-LOC",
    ignoredLabels: [],
    ignoredIndexes: [2, 3, 4, 5, 6, 7, 8, 9, 10],
  });
  assert.deepEqual(
    chosen.explanations.map((e) => [e.label, e.position]),
    [["B-LOC", 1]],
  );
});

test("QA: the answer after the asked marker, pieces joined; start and end explained over both texts", async () => {
  const tm = await loadTextModel(fixturePath("tasks/qa"));
  const r = await explainQa(tm, "what is the key ?", "the code red was said , then key ultraviolet .", {
    backend,
    steps: STEPS,
  });
  assert.equal(r.answer.text, "ultraviolet");
  assert.deepEqual(
    r.explanations.map((e) => [e.position, e.label]),
    [
      ["start", "ultra"],
      ["end", "##violet"],
    ],
  );
  r.explanations.forEach(complete);
  // the marker the question asks for, right before the answer, carries the start
  const start = r.explanations[0]!;
  const top = start.words.reduce((a, w) => (w.score > a.score ? w : a));
  assert.deepEqual([top.word, top.sequence], ["key", 1]);
  for (const e of r.explanations) {
    assert.ok(ranked(e).slice(0, 2).includes("ultraviolet"), `${e.position}: ${ranked(e).slice(0, 3)}`);
    assert.ok(e.words.some((w) => w.sequence === 0) && e.words.some((w) => w.sequence === 1));
  }
  const code = await explainQa(tm, "what is the code ?", "the code red was said , then key ultraviolet .", {
    backend,
    steps: 16,
  });
  assert.equal(code.answer.text, "red");
  for (const e of code.explanations) assert.equal(ranked(e)[0], "red");
  const given = await explainQa(tm, "what is the key ?", "the code red was said , then key ultraviolet .", {
    backend,
    steps: 8,
    answer: "red",
  });
  assert.equal(given.answer.text, "red");
  assert.equal(given.explanations[0]!.label, "red");
  await assert.rejects(
    () => explainQa(tm, "what is the key ?", "the code red .", { backend, answer: "purple" }),
    /"purple" is not in the context/,
  );
});
