/**
 * The task reports render in headless Chromium without console errors: one summary row per
 * explained output (zero-shot: per candidate; NER: once per entity; QA: start and end), every
 * word carrying its attribution, and the word-pair interaction matrix when computed.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadTextModel } from "../explain/text-model.js";
import { explainMultiLabel } from "../explain/text-multi-label.js";
import { explainNer } from "../explain/text-ner.js";
import { explainQa } from "../explain/text-qa.js";
import { explainZeroShot } from "../explain/text-zero-shot.js";
import { nodeBackend } from "../runtime/node.js";
import { chromiumPath, openReport } from "../testing/browser.js";
import { fixturePath } from "../testing/fixtures.js";
import { type TextTaskExplanation, visualizeText } from "./text-tasks.js";

const skip = chromiumPath()
  ? false
  : "no Chromium installed (tools/install-browser.sh installs Debian's chromium)";
const backend = nodeBackend();
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pathlens-task-report-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Seen {
  tables: { explained: string; words: { text: string; value: number; visible: boolean }[] }[][];
  heatmapCells: number;
}

function probe(): Seen {
  return {
    tables: Array.from(document.querySelectorAll("table.summary")).map((table) =>
      Array.from(table.querySelectorAll("tr[data-row]")).map((tr) => ({
        explained: tr.querySelector("td.explained")!.textContent ?? "",
        words: Array.from(tr.querySelectorAll("span.tok")).map((s) => ({
          text: s.textContent ?? "",
          value: Number((s as HTMLElement).dataset.value),
          visible: (s as HTMLElement).offsetWidth > 0,
        })),
      })),
    ),
    heatmapCells: document.querySelectorAll("figure.interactions svg.heatmap rect").length,
  };
}

test("task reports: a row per label / candidate, NER once per entity, QA start and end, interactions", {
  skip,
}, async () => {
  const ml = await explainMultiLabel(
    await loadTextModel(fixturePath("tasks/multi-label")),
    "the minister saw the match .",
    { backend, steps: 16 },
  );
  const zs = await explainZeroShot(
    await loadTextModel(fixturePath("tasks/zero-shot")),
    "the vote was today .",
    ["politics", "weather", "food"],
    { backend, steps: 16 },
  );
  const ner = await explainNer(
    await loadTextModel(fixturePath("tasks/ner")),
    "Mr Johnson lived in Berlin .",
    {
      backend,
      steps: 16,
    },
  );
  const qa = await explainQa(
    await loadTextModel(fixturePath("tasks/qa")),
    "what is the code ?",
    "the code blue was said , then key green .",
    { backend, steps: 16, interactions: true, interactionSteps: 6 },
  );
  const results: TextTaskExplanation[] = [ml, zs, ner, qa];
  const file = join(dir, "tasks.html");
  await writeFile(file, visualizeText(results, { trueLabel: "n/a" }));
  const visit = await openReport(file, probe, "text-tasks-report");
  assert.deepEqual(visit.consoleErrors, []);
  const [m, z, n, q] = visit.result.tables as [
    Seen["tables"][0],
    Seen["tables"][0],
    Seen["tables"][0],
    Seen["tables"][0],
  ];
  for (const table of visit.result.tables)
    for (const r of table) for (const w of r.words) assert.ok(w.visible, `${w.text} shown`);
  assert.deepEqual(
    m.map((r) => r.explained),
    ["sports", "politics", "weather"],
  );
  m.forEach((r, k) => {
    assert.deepEqual(
      r.words.map((w) => w.value),
      ml.explanations[k]!.words.map((w) => w.score),
    );
  });
  assert.equal(z.length, 3);
  assert.deepEqual(
    z.map((r) => r.words.map((w) => w.text).join(" ")),
    zs.explanations.map((e) => e.words.map((w) => w.word).join(" ")),
  );
  assert.equal(n.length, ner.entities.length);
  assert.equal(n[0]!.explained, "B-PER @ John + I-PER @ ##son");
  const sum = ner.explanations[0]!.words.map((w, k) => w.score + ner.explanations[1]!.words[k]!.score);
  n[0]!.words.forEach((w, k) => assert.ok(Math.abs(w.value - sum[k]!) < 1e-12));
  assert.deepEqual(
    q.map((r) => r.explained),
    ["start: blue", "end: blue"],
  );
  const w = qa.explanations[0]!.words.length;
  assert.equal(visit.result.heatmapCells, 2 * w * w, "one word × word matrix per explained output");
});
