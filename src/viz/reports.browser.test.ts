/**
 * The HTML reports render in headless Chromium without console errors, and the words/pixels
 * shown carry the computed values; screenshots go to out/screenshots/.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { eigDigitsExample } from "../cli/demo-eig.js";
import { explainImage } from "../explain/image.js";
import { explainTabular } from "../explain/tabular.js";
import { explainText } from "../explain/text.js";
import { loadTextModel } from "../explain/text-model.js";
import { parseNumericCsv } from "../io/csv.js";
import { readImage } from "../io/image.js";
import { loadModel } from "../io/model-file.js";
import { nodeBackend } from "../runtime/node.js";
import { chromiumPath, openReport } from "../testing/browser.js";
import { ROOT } from "../testing/cli.js";
import { reportPage } from "./html.js";
import { imageSections } from "./image-report.js";
import { tabularSections } from "./tabular.js";
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

test("image report: pictures load, the attribution grid carries the per-pixel values", { skip }, async () => {
  const dir0 = join(ROOT, "examples", "image-shapes");
  const config = JSON.parse(readFileSync(join(dir0, "config.json"), "utf8"));
  const e = await explainImage(
    await loadModel(join(dir0, "model.onnx")),
    await readImage(join(dir0, "triangle.png")),
    {
      backend: nodeBackend(),
      preprocess: config.preprocess,
      steps: 16,
    },
  );
  const file = join(dir, "image.html");
  await writeFile(file, reportPage("Image", imageSections("triangle.png", e)));
  const visit = await openReport(
    file,
    () => ({
      images: Array.from(document.querySelectorAll("img")).map((i) => (i as HTMLImageElement).naturalWidth),
      cells: Array.from(document.querySelectorAll("svg.heatmap rect")).map((r) =>
        Number(r.getAttribute("data-value")),
      ),
    }),
    "image-report",
  );
  assert.deepEqual(visit.consoleErrors, []);
  assert.equal(visit.result.images.length, 3);
  assert.ok(
    visit.result.images.every((w) => w > 0),
    "every picture decodes",
  );
  assert.equal(visit.result.cells.length, 32 * 32);
  visit.result.cells.forEach((v, i) => assert.equal(v, e.pixels[i]));
});

test("tabular report: the row table and the summary plot carry the attributions", { skip }, async () => {
  const tab = join(ROOT, "examples", "tabular");
  const table = parseNumericCsv(readFileSync(join(tab, "rows.csv"), "utf8"));
  const e = await explainTabular(await loadModel(join(tab, "model.onnx")), table, {
    backend: nodeBackend(),
    steps: 16,
  });
  const file = join(dir, "tabular.html");
  await writeFile(file, reportPage("Tabular", tabularSections("rows.csv", e)));
  const visit = await openReport(
    file,
    () => ({
      rows: Array.from(document.querySelectorAll("table.row-table tr[data-feature]")).map((r) => [
        r.getAttribute("data-feature"),
        Number(r.getAttribute("data-value")),
      ]),
      dots: Array.from(document.querySelectorAll("svg.summary-plot circle")).map((c) => [
        c.getAttribute("data-feature"),
        Number(c.getAttribute("data-row")),
        Number(c.getAttribute("data-value")),
      ]),
    }),
    "tabular-report",
  );
  assert.deepEqual(visit.consoleErrors, []);
  const d = e.features.length;
  for (const [f, v] of visit.result.rows as [string, number][])
    assert.equal(v, e.attributions[e.features.indexOf(f)]);
  assert.equal(visit.result.dots.length, 15 * e.rows);
  for (const [f, r, v] of visit.result.dots as [string, number, number][])
    assert.equal(v, e.attributions[r * d + e.features.indexOf(f)]);
});

test("EIG digits report: 4 paths × 6 baselines, outlined pixels are the significant ones", {
  skip,
}, async () => {
  await eigDigitsExample(join(ROOT, "examples"), dir, 8);
  const visit = await openReport(
    join(dir, "eig-digits", "report.html"),
    () =>
      Array.from(document.querySelectorAll("figure[data-path]")).map((f) => ({
        significant: f.getAttribute("data-significant"),
        marked: Array.from(f.querySelectorAll("rect.marked"))
          .map((r) => r.getAttribute("data-index"))
          .join(","),
        cells: f.querySelectorAll("rect").length,
      })),
    "eig-report",
  );
  assert.deepEqual(visit.consoleErrors, []);
  assert.equal(visit.result.length, 24);
  for (const f of visit.result) {
    assert.equal(f.cells, 64);
    assert.deepEqual(
      f.marked
        .split(",")
        .filter(Boolean)
        .map(Number)
        .sort((a, b) => a - b),
      (f.significant ?? "")
        .split(",")
        .filter(Boolean)
        .map(Number)
        .sort((a, b) => a - b),
    );
  }
});

test("interaction report: the matrix carries Γ of example 0, scatter dots carry Γ_ij per example", {
  skip,
}, async () => {
  const { integratedHessians } = await import("../attribution/interactions.js");
  const { readModelFixture, readNpyFixture } = await import("../testing/fixtures.js");
  const { interactionSections, topPairs } = await import("./interactions.js");
  const x = readNpyFixture("refs/softplus_mlp_eg_background.npy");
  const rows = { ...x, dims: [12, 10], data: x.data.slice(0, 120) };
  const r = await integratedHessians(readModelFixture("models/softplus_mlp.onnx"), {
    backend: nodeBackend(),
    inputs: { input: rows },
    steps: 8,
  });
  const view = {
    gamma: r.interactions.data,
    examples: 12,
    features: 10,
    values: Float64Array.from(rows.data as Float32Array),
  };
  const file = join(dir, "interactions.html");
  await writeFile(file, reportPage("Interactions", interactionSections(view)));
  const visit = await openReport(
    file,
    () => ({
      cells: Array.from(document.querySelectorAll("svg.heatmap rect")).map((c) =>
        Number(c.getAttribute("data-value")),
      ),
      dots: Array.from(document.querySelectorAll("svg.scatter")).map((s) =>
        Array.from(s.querySelectorAll("circle")).map((c) => Number(c.getAttribute("data-value"))),
      ),
    }),
    "interaction-report",
  );
  assert.deepEqual(visit.consoleErrors, []);
  visit.result.cells.forEach((v, k) => assert.equal(v, r.interactions.data[k]));
  const pairs = topPairs(view);
  assert.equal(visit.result.dots.length, pairs.length);
  visit.result.dots.forEach((dots, p) => {
    const [i, j] = pairs[p]!;
    dots.forEach((v, e) => assert.equal(v, r.interactions.data[(e * 10 + i) * 10 + j]));
  });
});
