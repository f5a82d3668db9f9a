/**
 * The HTML reports render in headless Chromium without console errors, and the words/pixels
 * shown carry the computed values; screenshots go to out/screenshots/.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { nodeBackend } from "../runtime/node.js";
import { chromiumPath, openReport } from "../testing/browser.js";
import { ROOT } from "../testing/cli.js";
import { explainText } from "../text/explain-text.js";
import { loadTextModel } from "../text/model-folder.js";
import { textReport } from "./text.js";

const skip = chromiumPath()
  ? false
  : "no Chromium installed (tools/install-browser.sh installs Debian's chromium)";
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pathlens-report-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("text report: renders, no console errors, each word shows its attribution", { skip }, async () => {
  const tm = await loadTextModel(join(ROOT, "examples", "text-sentiment"));
  const e = await explainText(tm, "The movie was unwatchable.", { backend: nodeBackend(), steps: 32 });
  const file = join(dir, "text.html");
  await writeFile(file, textReport("Text", [{ text: "The movie was unwatchable.", explanation: e }]));
  const visit = await openReport(
    file,
    () =>
      Array.from(document.querySelectorAll('p.tokens[data-level="words"] span.tok')).map((s) => ({
        text: s.textContent,
        value: Number((s as HTMLElement).dataset.value),
        title: s.getAttribute("title"),
        visible: (s as HTMLElement).offsetWidth > 0,
      })),
    "text-report",
  );
  assert.deepEqual(visit.consoleErrors, []);
  assert.deepEqual(
    visit.result.map((w) => w.text),
    e.words.map((w) => w.word),
  );
  visit.result.forEach((w, i) => {
    assert.equal(w.value, e.words[i]!.score);
    assert.ok(w.visible);
    assert.match(w.title!, /: -?\d/);
  });
});
