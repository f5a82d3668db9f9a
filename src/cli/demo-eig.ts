/**
 * The digits example of Enhanced Integrated Gradients: which pixels make a 5 a 5 rather than a
 * 3? All four paths × six baselines on the bundled digits CNN and autoencoder, the class-wide
 * significance test against random digits, and an HTML report of the maps.
 */
import { join } from "node:path";
import { type EigBaselineKind, type EigPath, enhancedIntegratedGradients } from "../attribution/eig/eig.js";
import { loadModel } from "../io/model-file.js";
import { readNpy, writeNpyFiles } from "../io/npy.js";
import { nodeBackend } from "../runtime/node.js";
import { featureSignificance } from "../stats/significance.js";
import { Random } from "../tensor/random.js";
import { type Tensor, tensor } from "../tensor/tensor.js";
import { escapeHtml, fmt, heatmapSvg, legendSvg, reportPage } from "../viz/html.js";

const PATHS: EigPath[] = ["original-linear", "latent-linear", "original-neighbors", "latent-neighbors"];
const KINDS: EigBaselineKind[] = ["zero", "encoded-zero", "kmeans", "median", "close", "random"];

function pick(x: Tensor, rows: number[]): Tensor {
  const out = tensor("float32", [rows.length, 1, 8, 8]);
  rows.forEach((r, k) =>
    (out.data as Float32Array).set((x.data as Float32Array).subarray(r * 64, (r + 1) * 64), k * 64),
  );
  return out;
}

/**
 * Runs the 5-vs-3 study and writes `outDir/eig-digits/report.html`; returns summary lines.
 * `preview` receives a small heat map (original-linear path, zero baseline) for the demo's index.
 */
export async function eigDigitsExample(
  examples: string,
  outDir: string,
  perClass = 16,
  preview?: (html: string) => void,
): Promise<string[]> {
  const backend = nodeBackend();
  const dir = join(examples, "digits");
  const cnn = await loadModel(join(dir, "digits_cnn.onnx"));
  const encoder = await loadModel(join(dir, "digits_ae_encoder.onnx"));
  const decoder = await loadModel(join(dir, "digits_ae_decoder.onnx"));
  const x = await readNpy(join(dir, "digits_test.npy"));
  const labels = Array.from(
    (await readNpy(join(dir, "digits_test_labels.npy"))).data as BigInt64Array,
    Number,
  );
  const of = (c: number) => labels.flatMap((l, i) => (l === c ? [i] : []));
  const fives = of(5).slice(0, perClass);
  const threes = of(3);
  const rng = new Random(5);
  const randomRows = Array.from({ length: fives.length }, () => rng.int(labels.length));
  const five = pick(x, fives);
  const random = pick(x, randomRows);
  const baselineData = pick(x, threes);
  const reference = pick(
    x,
    labels.map((_, i) => i),
  );
  const sections = [];
  const lines = [
    `EIG digits: ${fives.length} fives vs ${threes.length} threes, 4 paths × 6 baselines, 50 segments (trapezoid)`,
  ];
  const files: Record<string, Tensor | string> = {};
  for (const path of PATHS) {
    const figures: string[] = [];
    for (const kind of KINDS) {
      const common = {
        backend,
        path,
        encoder,
        decoder,
        baselineKind: kind,
        baselineData,
        numBaselines: kind === "zero" || kind === "encoded-zero" ? 1 : 3,
        referenceData: reference,
        neighbors: 8,
        target: 5,
        steps: 50,
        seed: 1,
      };
      const cls = await enhancedIntegratedGradients(cnn, { ...common, inputs: { input: five } });
      const nul = await enhancedIntegratedGradients(cnn, { ...common, inputs: { input: random } });
      const sig = featureSignificance(cls.attributions.data, nul.attributions.data, 64, {
        alpha: 0.05,
        correction: "bonferroni",
      });
      const mean = new Float64Array(64);
      for (let s = 0; s < fives.length; s++)
        for (let j = 0; j < 64; j++) mean[j] += cls.attributions.data[s * 64 + j]! / fives.length;
      if (path === "original-linear" && kind === "zero")
        preview?.(
          heatmapSvg(mean, 8, 8, {
            cell: 12,
            title: "mean attribution of the fives (original-linear, zero)",
          }),
        );
      const worst = Math.max(...Array.from(cls.delta, Math.abs));
      files[`${path}__${kind}.npy`] = tensor(
        "float32",
        [fives.length, 64],
        Float32Array.from(cls.attributions.data),
      );
      figures.push(
        `<figure data-path="${path}" data-baseline="${kind}" data-significant="${sig.significant.join(",")}">${heatmapSvg(
          mean,
          8,
          8,
          {
            title: `${path}, ${kind}: mean attribution of the fives`,
            outline: new Set(sig.significant),
            labels: (i) => `pixel (${Math.floor(i / 8)}, ${i % 8}), adjusted p ${fmt(sig.adjusted[i]!, 2)}`,
          },
        )}<figcaption>${escapeHtml(kind)} — ${sig.significant.length} significant pixels (outlined); max |delta| ${fmt(worst, 2)}</figcaption></figure>`,
      );
      lines.push(
        `  ${path.padEnd(19)} ${kind.padEnd(13)} significant pixels ${String(sig.significant.length).padStart(2)}  max |delta| ${fmt(worst, 2)}`,
      );
    }
    sections.push({ heading: `Path: ${path}`, html: `<div class="grid">${figures.join("\n")}</div>` });
  }
  const intro = `<p class="meta">Enhanced Integrated Gradients on the digits CNN: target class 5, baselines from the class 3 (${threes.length} test digits), ${fives.length} fives explained; significance: per-pixel one-sided Welch t-test of attribution ranks, fives vs ${fives.length} random digits, Bonferroni α = 0.05.</p>${legendSvg(1, "relative attribution")}`;
  files["report.html"] = reportPage("Which pixels make a 5 a 5 rather than a 3?", sections, intro);
  await writeNpyFiles(join(outDir, "eig-digits"), files);
  lines.push(`  → ${join(outDir, "eig-digits", "report.html")}`);
  return lines;
}
