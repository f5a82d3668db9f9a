/**
 * renderReport / visualize for every kind of result, in headless Chromium: each page renders
 * (non-empty screenshot, no console errors), carries the computed values, and every highlighted
 * word is readable (black or white text by the fill's luminance, WCAG contrast ≥ 4.5). The demo's
 * index links a report (with a picture) for every example and names no machine path.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { enhancedIntegratedGradients } from "../attribution/eig/eig.js";
import { integratedGradients } from "../attribution/ig.js";
import { integratedHessians } from "../attribution/interactions.js";
import { ParsedArgs } from "../cli/args.js";
import { demoCommand, runDemo } from "../cli/demo.js";
import { explainImage } from "../explain/image.js";
import { explainTabular } from "../explain/tabular.js";
import { explainText } from "../explain/text.js";
import { loadTextModel } from "../explain/text-model.js";
import { readNumericCsv } from "../io/csv.js";
import { exampleFile } from "../io/examples.js";
import { readImage } from "../io/image.js";
import { loadModel } from "../io/model-file.js";
import { readNpy } from "../io/npy.js";
import { nodeBackend } from "../runtime/node.js";
import { chromiumPath, openReport } from "../testing/browser.js";
import { readModelFixture, readNpyFixture } from "../testing/fixtures.js";
import { readableTextColor } from "./html.js";
import { renderReport } from "./report.js";
import { visualize } from "./visualize.js";

const skip = chromiumPath()
  ? false
  : "no Chromium installed (tools/install-browser.sh installs Debian's chromium)";
const backend = nodeBackend();
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pathlens-render-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Opens a written report; returns the values its marks carry and checks the basics. */
async function visit(file: string, name: string) {
  const v = await openReport(
    file,
    () => ({
      values: Array.from(document.querySelectorAll("[data-value]")).map((e) =>
        Number(e.getAttribute("data-value")),
      ),
      words: Array.from(document.querySelectorAll("span.tok")).map((s) => {
        const st = getComputedStyle(s);
        return { fill: st.backgroundColor, color: st.color };
      }),
      svgs: document.querySelectorAll("svg").length,
      axes: document.querySelectorAll("g.axis").length,
    }),
    name,
  );
  assert.deepEqual(v.consoleErrors, [], `${name}: console errors`);
  assert.ok(statSync(v.screenshot).size > 5000, `${name}: the screenshot is not empty`);
  return v.result;
}

/** WCAG contrast ratio of two "rgb(r, g, b)" colours. */
function contrast(a: string, b: string): number {
  const lum = (c: string) => {
    const [r, g, bl] = (c.match(/\d+/g) ?? []).slice(0, 3).map((v) => {
      const x = Number(v) / 255;
      return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

test("readableTextColor picks white on the darkest fills and black on the lightest", () => {
  assert.equal(readableTextColor("rgb(45,0,75)"), "#fff");
  assert.equal(readableTextColor("rgb(127,59,8)"), "#fff");
  assert.equal(readableTextColor("rgb(247,247,247)"), "#000");
  assert.equal(readableTextColor("#fee0b6"), "#000");
});

test("renderReport: text (summary line, readable words), image, tabular, IG, EIG and interaction pages", {
  skip,
}, async () => {
  const text = "The movie was unwatchable.";
  const te = await explainText(await loadTextModel(exampleFile("text-sentiment")), text, {
    backend,
    steps: 32,
  });
  const textFile = await visualize(te, join(dir, "text.html"), { text, trueLabel: "NEGATIVE" });
  const html = readFileSync(textFile, "utf8");
  assert.match(html, /data-field="true-label">NEGATIVE</);
  assert.match(html, new RegExp(`data-field="predicted">${te.prediction.label} `));
  const score = te.words.reduce((s, w) => s + w.score, 0);
  assert.ok(
    html.includes(`data-value="${score}"`),
    "the attribution score is the sum of the word attributions",
  );
  const t = await visit(textFile, "render-text");
  assert.ok(
    t.words.length >= 2 * te.words.length,
    `words in the summary line and the body: ${t.words.length}`,
  );
  for (const w of t.words) assert.ok(contrast(w.fill, w.color) >= 4.5, `text ${w.color} on ${w.fill}`);
  for (const s of te.words) assert.ok(t.values.includes(s.score));

  const model = await loadModel(exampleFile("image-shapes/model.onnx"));
  const ie = await explainImage(model, await readImage(exampleFile("image-shapes/circle.png")), {
    backend,
    preprocess: { scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    steps: 16,
  });
  const i = await visit(await visualize(ie, join(dir, "image.html")), "render-image");
  assert.ok(i.values.length >= 32 * 32);

  const tab = await explainTabular(
    await loadModel(exampleFile("tabular/model.onnx")),
    await readNumericCsv(exampleFile("tabular/rows.csv")),
    { backend, steps: 16 },
  );
  const tb = await visit(await visualize(tab, join(dir, "tabular.html")), "render-tabular");
  assert.ok(tb.axes >= 1, "the summary plot has an attribution axis");
  assert.ok(readFileSync(join(dir, "tabular.html"), "utf8").includes("value-legend"), "a value colour bar");
  const row0 = Array.from(tab.attributions.subarray(0, tab.features.length));
  const strongest = row0.reduce((b, v) => (Math.abs(v) > Math.abs(b) ? v : b), 0);
  assert.ok(tb.values.includes(strongest), "row 0's strongest attribution is in its table");

  const digits = await loadModel(exampleFile("digits/digits_cnn.onnx"));
  const x = await readNpy(exampleFile("digits/digits_sample.npy"));
  const ig = await integratedGradients(digits, { backend, inputs: { input: x }, target: 3, steps: 16 });
  const g = await visit(await visualize(ig, join(dir, "ig.html")), "render-ig");
  assert.ok(g.values.includes(ig.attributions.input!.data[64 * 2 + 5]!), "sample 2's map carries its values");

  const eig = await enhancedIntegratedGradients(digits, {
    backend,
    inputs: { input: x },
    path: "original-linear",
    target: 5,
    steps: 16,
  });
  const e = await visit(await visualize(eig, join(dir, "eig.html")), "render-eig");
  assert.ok(e.values.includes(eig.attributions.data[7]!));

  const rows = readNpyFixture("refs/softplus_mlp_eg_background.npy");
  const ten = { ...rows, dims: [12, 10], data: rows.data.slice(0, 120) };
  const ih = await integratedHessians(readModelFixture("models/softplus_mlp.onnx"), {
    backend,
    inputs: { input: ten },
    steps: 6,
  });
  const names = Array.from({ length: 10 }, (_, k) => `f${k}`);
  const ihFile = await visualize(ih, join(dir, "ih.html"), { featureNames: names, values: ten });
  const m = await visit(ihFile, "render-interactions");
  assert.ok(m.axes >= 4, "every scatter plot has an x axis");
  const ihHtml = readFileSync(ihFile, "utf8");
  for (const n of names) assert.ok(ihHtml.includes(`>${n}</text>`), `matrix axis label ${n}`);
  assert.ok(m.values.includes(ih.interactions.data[3]!));
  assert.throws(() => renderReport({} as never), { name: "ReportError" });
});

test("the demo writes a report for every example and an index with pictures and no machine paths", {
  skip,
}, async () => {
  const out = join(dir, "demo");
  await runDemo(new ParsedArgs(demoCommand, {}, { out }));
  const index = readFileSync(join(out, "index.html"), "utf8");
  assert.ok(!index.includes(out), "no absolute path of this machine");
  for (const part of ["digits", "image", "tabular", "text", "eig-digits"]) {
    assert.ok(existsSync(join(out, part, "report.html")), `${part}/report.html`);
    assert.ok(index.includes(`href="${part}/report.html"`), `the index links ${part}`);
    if (part !== "eig-digits") await visit(join(out, part, "report.html"), `demo-${part}`);
  }
  const cards = index.split('<figure class="card">').slice(1);
  assert.equal(cards.length, 5, "a card per example");
  for (const card of cards)
    assert.match(
      card.split("</figure>")[0]!,
      /<svg class="heatmap"|<img |class="tok"|<ol>/,
      `a picture in ${card.slice(0, 80)}`,
    );
});
