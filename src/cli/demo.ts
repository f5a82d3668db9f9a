/**
 * `pathlens demo`: explains the example models bundled in `examples/` and writes the results
 * (attributions, summaries, reports) into one folder — what `npm run demo` runs.
 */
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { integratedGradients } from "../attribution/ig.js";
import { explainImage } from "../explain/image.js";
import type { Preprocess } from "../explain/preprocess.js";
import { explainTabular } from "../explain/tabular.js";
import { explainText } from "../explain/text.js";
import { loadTextModel } from "../explain/text-model.js";
import { readNumericCsv } from "../io/csv.js";
import { encodePng, readImage } from "../io/image.js";
import { loadModel } from "../io/model-file.js";
import { readNpy, writeNpyFiles } from "../io/npy.js";
import { commitStagedFolder, stagingFolderFor } from "../io/output-set.js";
import { nodeBackend } from "../runtime/node.js";
import { castFloat, type Tensor, tensor } from "../tensor/tensor.js";
import { escapeHtml, heatmapSvg, reportPage } from "../viz/html.js";
import { imageSections } from "../viz/image-report.js";
import { renderReport } from "../viz/report.js";
import { featureRanking, tabularSections } from "../viz/tabular.js";
import { highlightedWords, textReport } from "../viz/text.js";
import type { CommandSpec, ParsedArgs } from "./args.js";
import { eigDigitsExample } from "./demo-eig.js";

/** Folder of the bundled example models (beside dist/ or src/ in the package). */
export const EXAMPLES = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples");

/** One part of the demo: explains one example, writes into `outDir`, returns summary lines. */
export interface DemoPart {
  name: string;
  run(outDir: string): Promise<string[]>;
}

/** The declaration of `pathlens demo`. */
export const demoCommand: CommandSpec = {
  name: "demo",
  summary: "Explain the bundled example models and write their reports",
  positionals: [],
  options: {
    out: { type: "string", short: "o", value: "DIR", help: "output folder (default out/demo)" },
  },
};

/** Digits CNN: IG of the predicted class for a dozen test digits, with a text heat map. */
async function digitsPart(outDir: string): Promise<string[]> {
  const backend = nodeBackend();
  const model = await loadModel(join(EXAMPLES, "digits", "digits_cnn.onnx"));
  const x = await readNpy(join(EXAMPLES, "digits", "digits_sample.npy"));
  const labels = await readNpy(join(EXAMPLES, "digits", "digits_sample_labels.npy"));
  const session = await backend.createSession(
    new Uint8Array(await readFile(join(EXAMPLES, "digits", "digits_cnn.onnx"))),
  );
  const logits = (await session.run({ input: x }))[session.outputNames[0]!]!;
  await session.dispose();
  const n = x.dims[0]!;
  const predicted = Array.from({ length: n }, (_, i) => argmax(logits.data as Float32Array, i * 10, 10));
  const r = await integratedGradients(model, { backend, inputs: { input: x }, target: predicted, steps: 50 });
  const attr = r.attributions.input!;
  const lines = [`digits CNN (8×8 digits), Integrated Gradients, 50 Gauss–Legendre steps, zero baseline`];
  for (let i = 0; i < Math.min(n, 4); i++) {
    lines.push(
      `  digit ${i}: label ${Number(labels.data[i])}, predicted ${predicted[i]}, F(x) − F(x') = ${(r.outputAtInput[i]! - r.outputAtBaseline[i]!).toFixed(3)}, delta ${r.delta[i]!.toExponential(1)}`,
    );
    lines.push(...asciiMap(attr.data, i * 64, 8, 8).map((l) => `    ${l}`));
  }
  const summary = {
    model: "examples/digits/digits_cnn.onnx",
    labels: Array.from(labels.data as ArrayLike<bigint | number>, Number),
    predicted,
    outputAtInput: Array.from(r.outputAtInput),
    outputAtBaseline: Array.from(r.outputAtBaseline),
    delta: Array.from(r.delta),
    steps: r.steps,
    method: r.method,
  };
  await writeNpyFiles(join(outDir, "digits"), {
    "attributions.npy": castFloat(attr, "float32"),
    "delta.npy": tensor("float64", [n], r.delta),
    "summary.json": `${JSON.stringify(summary, null, 2)}\n`,
    "summary.txt": `${lines.join("\n")}\n`,
    "report.html": renderReport(r, { title: "Digits: which pixels make each digit its predicted class?" }),
  });
  PREVIEWS.set("digits", meanMap(attr.data, n, 8, 8));
  lines.push(
    `  → ${join(outDir, "digits")}/ (report.html, attributions.npy, delta.npy, summary.json, summary.txt)`,
  );
  return lines;
}

function argmax(d: Float32Array, off: number, len: number): number {
  let best = 0;
  for (let k = 1; k < len; k++) if (d[off + k]! > d[off + best]!) best = k;
  return best;
}

/** A small picture per report for the index page (trusted HTML, links relative to the demo folder). */
const PREVIEWS = new Map<string, string>();

/** The mean attribution map of n h×w examples as a small heat map. */
function meanMap(data: ArrayLike<number>, n: number, h: number, w: number): string {
  const mean = new Float64Array(h * w);
  for (let s = 0; s < n; s++) for (let j = 0; j < h * w; j++) mean[j]! += Number(data[s * h * w + j]) / n;
  return heatmapSvg(mean, h, w, { cell: 12, title: "mean attribution" });
}

/** An attribution map as text: '+'/'#' positive, '-'/'=' negative, '.' near zero. */
function asciiMap(data: Tensor["data"], off: number, h: number, w: number): string[] {
  let max = 0;
  for (let k = 0; k < h * w; k++) max = Math.max(max, Math.abs(Number(data[off + k])));
  const rows: string[] = [];
  for (let r = 0; r < h; r++) {
    let line = "";
    for (let c = 0; c < w; c++) {
      const v = Number(data[off + r * w + c]) / (max || 1);
      line += v > 0.5 ? "#" : v > 0.15 ? "+" : v < -0.5 ? "=" : v < -0.15 ? "-" : ".";
    }
    rows.push(line);
  }
  return rows;
}

/** The shapes example: three images, one report with overlays and windows. */
async function imagePart(outDir: string): Promise<string[]> {
  const dir = join(EXAMPLES, "image-shapes");
  const model = await loadModel(join(dir, "model.onnx"));
  const config = JSON.parse(await readFile(join(dir, "config.json"), "utf8")) as {
    id2label: Record<string, string>;
    preprocess: Preprocess;
  };
  const labels = Object.keys(config.id2label).map((k) => config.id2label[k]!);
  const lines = ["image shapes (small CNN, 32×32 RGB): IG from a black baseline, 50 steps"];
  const sections = [];
  const files: Record<string, Uint8Array | string> = {};
  for (const name of ["circle", "square", "triangle"]) {
    const e = await explainImage(model, await readImage(join(dir, `${name}.png`)), {
      backend: nodeBackend(),
      preprocess: config.preprocess,
      labels,
    });
    sections.push(...imageSections(`${name}.png`, e));
    files[`${name}_overlay.png`] = encodePng(e.overlay);
    files[`${name}_window.png`] = encodePng(e.window);
    if (name === "circle")
      PREVIEWS.set(
        "image",
        `<img src="image/circle_overlay.png" alt="attribution overlay of circle.png" width="96" height="96" style="image-rendering: pixelated">`,
      );
    lines.push(
      `  ${name}.png → ${e.prediction.label} (p = ${e.prediction.probability.toFixed(3)}), delta ${e.delta.toExponential(1)}`,
    );
  }
  files["report.html"] = reportPage("Shapes: which pixels decided?", sections);
  await writeNpyFiles(join(outDir, "image"), files);
  lines.push(`  → ${join(outDir, "image", "report.html")}`);
  return lines;
}

/** The tabular example: 40 rows of the synthetic regression, with its summary plot. */
async function tabularPart(outDir: string): Promise<string[]> {
  const dir = join(EXAMPLES, "tabular");
  const e = await explainTabular(
    await loadModel(join(dir, "model.onnx")),
    await readNumericCsv(join(dir, "rows.csv")),
    { backend: nodeBackend() },
  );
  const top = featureRanking(e)
    .slice(0, 6)
    .map((j) => e.features[j]);
  PREVIEWS.set(
    "tabular",
    `<ol>${top
      .slice(0, 3)
      .map((f) => `<li>${escapeHtml(f!)}</li>`)
      .join("")}</ol>`,
  );
  await writeNpyFiles(join(outDir, "tabular"), {
    "report.html": reportPage("Tabular regression: which features matter?", tabularSections("rows.csv", e)),
  });
  return [
    `tabular regression (MLP, 96 features, 40 rows): IG from a zero baseline, 50 steps`,
    `  most important features: ${top.join(", ")} (NOISE features should not appear)`,
    `  max |delta| ${Math.max(...Array.from(e.delta, Math.abs)).toExponential(1)}`,
    `  → ${join(outDir, "tabular", "report.html")}`,
  ];
}

/** The sentiment example: three sentences, one report. */
async function textPart(outDir: string): Promise<string[]> {
  const tm = await loadTextModel(join(EXAMPLES, "text-sentiment"));
  const texts = [
    "The movie was unwatchable.",
    "a wonderful film, really enjoyable!",
    "the plot was not dull .",
  ];
  const items = [];
  const lines = [
    "text sentiment (tiny BERT-like classifier, tokenizer.json): IG at the word embeddings, 50 steps",
  ];
  for (const text of texts) {
    const e = await explainText(tm, text, { backend: nodeBackend() });
    items.push({ text, explanation: e });
    lines.push(
      `  "${text}" → ${e.prediction.label} (p = ${e.prediction.probability.toFixed(3)}), delta ${e.delta.toExponential(1)}`,
    );
    lines.push(
      `    ${e.words.map((w) => `${w.word}(${w.score >= 0 ? "+" : ""}${w.score.toFixed(2)})`).join(" ")}`,
    );
  }
  PREVIEWS.set("text", highlightedWords(items[1]!.explanation).replace(/<svg[\s\S]*<\/svg>$/, ""));
  await writeNpyFiles(join(outDir, "text"), {
    "report.html": textReport("Sentiment: which words decided?", items),
    "attributions.json": `${JSON.stringify(items, null, 2)}\n`,
  });
  lines.push(`  → ${join(outDir, "text", "report.html")}`);
  return lines;
}

/** The demo's parts, in order. Each explains one example model. */
export const DEMO_PARTS: DemoPart[] = [
  { name: "digits", run: digitsPart },
  { name: "image", run: imagePart },
  { name: "tabular", run: tabularPart },
  { name: "text", run: textPart },
  {
    name: "eig-digits",
    run: (out) => eigDigitsExample(EXAMPLES, out, 16, (html) => PREVIEWS.set("eig-digits", html)),
  },
];

/** Runs `pathlens demo`. */
export async function runDemo(args: ParsedArgs): Promise<string[]> {
  const outDir = resolve(args.string("out") ?? join("out", "demo"));
  // Every part writes into a staging folder; all of it moves into `outDir` at the end, or none.
  const stage = await stagingFolderFor(outDir);
  try {
    const lines = await runDemoParts(stage, outDir);
    await commitStagedFolder(stage, outDir);
    lines.push("", `open ${join(outDir, "index.html")}`);
    return lines;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

async function runDemoParts(stage: string, outDir: string): Promise<string[]> {
  let lines: string[] = [`pathlens demo → ${outDir}`];
  for (const part of DEMO_PARTS) {
    const started = performance.now();
    const got = await part.run(stage);
    lines.push("", ...got, `  (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  lines = lines.map((l) => l.split(stage).join(outDir));
  const reports = DEMO_PARTS.map((p) => p.name).filter((n) => existsSync(join(stage, n, "report.html")));
  // the log without this machine's folder: the index can be shared
  const log = lines.map((l) => l.split(`${outDir}/`).join("").split(outDir).join("."));
  const cards = reports
    .map(
      (n) =>
        `<figure class="card"><a href="${n}/report.html">${PREVIEWS.get(n) ?? ""}</a><figcaption><a href="${n}/report.html">${escapeHtml(n)}</a></figcaption></figure>`,
    )
    .join("");
  const index = reportPage("pathlens demo", [
    { heading: "Reports", html: `<div class="grid">${cards}</div>` },
    { heading: "Log", html: `<pre>${escapeHtml(log.join("\n"))}</pre>` },
  ]);
  await writeNpyFiles(stage, { "summary.txt": `${lines.join("\n")}\n`, "index.html": index });
  return lines;
}
