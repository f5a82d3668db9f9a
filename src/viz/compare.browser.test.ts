/**
 * The comparison reports of the demo models (digits CNN, shapes model) render in headless
 * Chromium without console errors, with one table row and two curves per method carrying the
 * computed numbers, and the XRAI map; screenshots go to out/screenshots/.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { compareDemoModels } from "../cli/demo-compare.js";
import { mean } from "../explain/compare.js";
import { explainImage } from "../explain/image.js";
import { readImage } from "../io/image.js";
import { loadModel } from "../io/model-file.js";
import { nodeBackend } from "../runtime/node.js";
import { chromiumPath, openReport } from "../testing/browser.js";
import { ROOT } from "../testing/cli.js";
import { imageXraiSections } from "./compare.js";
import { reportPage } from "./html.js";
import { imageSections } from "./image-report.js";

const skip = chromiumPath()
  ? false
  : "no Chromium installed (tools/install-browser.sh installs Debian's chromium)";
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pathlens-compare-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("comparison reports of the digits CNN and the shapes model render with their curves", {
  skip,
}, async () => {
  const results = await compareDemoModels(join(ROOT, "examples"), dir, { steps: 12, sensitivitySamples: 2 });
  for (const r of results) {
    const file = join(dir, `${r.name.replace(/\W+/g, "-")}.html`);
    await writeFile(file, r.report);
    const visit = await openReport(
      file,
      () => ({
        rows: Array.from(document.querySelectorAll("table.comparison tbody tr")).map((tr) => ({
          method: tr.getAttribute("data-method"),
          values: Array.from(tr.querySelectorAll("td[data-value]")).map((td) =>
            Number(td.getAttribute("data-value")),
          ),
        })),
        curves: Array.from(document.querySelectorAll("figure.chart")).map((f) => ({
          kind: f.getAttribute("data-kind"),
          lines: Array.from(f.querySelectorAll("polyline.curve")).map((p) => ({
            method: p.getAttribute("data-method"),
            auc: Number(p.getAttribute("data-auc")),
            points: (p.getAttribute("points") ?? "").trim().split(/\s+/).length,
            width: (p as SVGGraphicsElement).getBBox().width,
          })),
        })),
        xraiCells: document.querySelectorAll("figure.xrai svg rect").length,
        maps: document.querySelectorAll("figure[data-method] svg.heatmap").length,
      }),
      `compare-${r.name.replace(/\W+/g, "-")}`,
    );
    assert.deepEqual(visit.consoleErrors, []);
    const names = r.comparison.rows.map((m) => m.name);
    assert.deepEqual(
      visit.result.rows.map((x) => x.method),
      names,
    );
    visit.result.rows.forEach((row, k) => {
      const m = r.comparison.rows[k]!;
      assert.deepEqual(row.values.slice(0, 5), [
        m.seconds,
        m.deletion.meanAuc,
        m.insertion.meanAuc,
        mean(m.infidelity!),
        mean(m.sensitivity!),
      ]);
    });
    assert.deepEqual(
      visit.result.curves.map((c) => c.kind),
      ["deletion", "insertion"],
    );
    for (const c of visit.result.curves) {
      assert.deepEqual(
        c.lines.map((l) => l.method),
        names,
      );
      c.lines.forEach((l, k) => {
        assert.equal(l.points, 17, "16 curve steps + the start");
        assert.ok(l.width > 300, `the ${l.method} curve spans the chart`);
        assert.equal(l.auc, r.comparison.rows[k]![c.kind as "deletion" | "insertion"].meanAuc);
      });
    }
    assert.equal(visit.result.maps, names.length);
    const { height, width } = {
      height: r.comparison.rows[0]!.attributions.dims[2]!,
      width: r.comparison.rows[0]!.attributions.dims[3]!,
    };
    assert.equal(visit.result.xraiCells, height * width);
  }
});

test("image report with XRAI regions (pathlens image --report --xrai): the region map renders", {
  skip,
}, async () => {
  const shapes = join(ROOT, "examples", "image-shapes");
  const config = JSON.parse(readFileSync(join(shapes, "config.json"), "utf8"));
  const e = await explainImage(
    await loadModel(join(shapes, "model.onnx")),
    await readImage(join(shapes, "square.png")),
    {
      backend: nodeBackend(),
      preprocess: config.preprocess,
      steps: 16,
    },
  );
  const sections = imageXraiSections(e);
  const file = join(dir, "image-xrai.html");
  await writeFile(file, reportPage("Image", [...imageSections("square.png", e), ...sections]));
  const visit = await openReport(
    file,
    () => ({
      cells: Array.from(document.querySelectorAll("figure.xrai svg rect")).map((r) =>
        Number(r.getAttribute("data-value")),
      ),
      gains: Array.from(document.querySelectorAll("ol.regions li")).map((li) =>
        Number(li.getAttribute("data-gain")),
      ),
    }),
    "image-xrai",
  );
  assert.deepEqual(visit.consoleErrors, []);
  assert.equal(visit.result.cells.length, 32 * 32);
  assert.ok(visit.result.gains.length >= 2);
  // regions are listed by decreasing gain, and every pixel shows one of the region gains
  for (let k = 1; k < visit.result.gains.length; k++)
    assert.ok(visit.result.gains[k]! <= visit.result.gains[k - 1]!);
  assert.ok(visit.result.cells.includes(visit.result.gains[0]!));
});
