/**
 * Reports as a library call: {@link renderReport} turns any pathlens explanation (text, image,
 * tabular, Enhanced IG, interactions) into one self-contained HTML page — in Node or a browser.
 * `visualize(result, "report.html")` (pathlens/node) writes it to a file.
 */
import type { EigResult } from "../attribution/eig/eig.js";
import type { Attribution } from "../attribution/ig.js";
import type { Interactions } from "../attribution/interactions.js";
import { PathlensError } from "../errors.js";
import type { ImageExplanation } from "../explain/image.js";
import type { TabularExplanation } from "../explain/tabular.js";
import type { TextExplanation } from "../explain/text.js";
import { sizeOf, type TensorLike, toTensor } from "../tensor/tensor.js";
import { escapeHtml, fmt, heatmapSvg, legendSvg, type ReportSection, reportPage } from "./html.js";
import { imageSections } from "./image-report.js";
import { interactionSections } from "./interactions.js";
import { tabularSections } from "./tabular.js";
import { textSections } from "./text.js";

/** The results {@link renderReport} draws. */
export type ReportableResult =
  | TextExplanation
  | ImageExplanation
  | TabularExplanation
  | EigResult
  | Interactions
  | Attribution;

/** Options of {@link renderReport}. */
export interface ReportOptions {
  /** Page title (default: by the kind of result). */
  title?: string;
  /** Text results: the explained text (the heading; default: the words joined). */
  text?: string;
  /** Text results: the known true label, shown in the summary line. */
  trueLabel?: string;
  /** Image, tabular results: a name for the input (heading). */
  name?: string;
  /** Interactions: feature names. */
  featureNames?: string[];
  /** Interactions: feature values per example [N, features], for the scatter plots. */
  values?: TensorLike;
  /** EIG and Integrated Gradients results: the [height, width] of one example's map (default: its last two axes). */
  mapShape?: [number, number];
}

/** A result that {@link renderReport} does not know how to draw. */
export class ReportError extends PathlensError {
  override name = "ReportError";
}

/** What kind of result this is (by its fields). */
export function reportKind(
  result: ReportableResult,
): "text" | "image" | "tabular" | "eig" | "interactions" | "attribution" {
  const r = result as unknown as Record<string, unknown>;
  if ("words" in r && "layer" in r) return "text";
  if ("overlay" in r && "window" in r) return "image";
  if ("features" in r && Array.isArray(r.features) && "values" in r) return "tabular";
  if ("path" in r && "baselinesPerSample" in r) return "eig";
  if ("interactions" in r && "rows" in r) return "interactions";
  if ("attributions" in r && "stepsPerExample" in r) return "attribution";
  throw new ReportError(
    "renderReport draws results of explainText, explainImage, explainTabular, integratedGradients/noiseTunnel, enhancedIntegratedGradients and integratedHessians/expectedHessians; this is none of them",
  );
}

/**
 * One self-contained HTML page (inline CSS and SVG, no scripts) for an explanation.
 *
 * @example
 * ```ts
 * const html = renderReport(await explainText(model, "a wonderful film", { backend }), { trueLabel: "POSITIVE" });
 * ```
 * @throws ReportError for a value that is not a pathlens explanation
 */
export function renderReport(result: ReportableResult, options: ReportOptions = {}): string {
  switch (reportKind(result)) {
    case "text": {
      const e = result as TextExplanation;
      const text = options.text ?? e.words.map((w) => w.word).join(" ");
      return reportPage(options.title ?? "Text explanation", textSections(text, e, options.trueLabel));
    }
    case "image":
      return reportPage(
        options.title ?? "Image explanation",
        imageSections(options.name ?? "image", result as ImageExplanation),
      );
    case "tabular":
      return reportPage(
        options.title ?? "Tabular explanation",
        tabularSections(options.name ?? "rows", result as TabularExplanation),
      );
    case "eig": {
      const r = result as EigResult;
      const worst = Math.max(...Array.from(r.delta, Math.abs));
      const meta = `Path <code>${escapeHtml(r.path)}</code>, ${r.baselinesPerSample} baseline(s) per sample; max |completeness delta| ${fmt(worst, 2)}.`;
      return reportPage(
        options.title ?? "Enhanced Integrated Gradients",
        mapSections(r.attributions.data, r.attributions.dims, meta, r.fStart, r.fEnd, r.delta, options),
      );
    }
    case "attribution": {
      const r = result as Attribution;
      const worst = Math.max(...Array.from(r.delta, Math.abs));
      return reportPage(
        options.title ?? "Integrated Gradients",
        Object.entries(r.attributions).flatMap(([name, a]) => {
          const meta = `Input <code>${escapeHtml(name)}</code>, output <code>${escapeHtml(r.output)}</code>; ${r.steps} steps (${escapeHtml(r.method)}); max |completeness delta| ${fmt(worst, 2)}.`;
          return mapSections(a.data, a.dims, meta, r.outputAtBaseline, r.outputAtInput, r.delta, options);
        }),
      );
    }
    case "interactions": {
      const r = result as Interactions;
      if (r.rows.length !== r.features)
        throw new ReportError(
          `the interaction report draws the full matrix; this result has ${r.rows.length} of ${r.features} rows (computed with interactionIndex)`,
        );
      const values = options.values ? toTensor(options.values, "values") : undefined;
      return reportPage(
        options.title ?? "Interactions",
        interactionSections({
          gamma: r.interactions.data,
          examples: r.interactions.dims[0]!,
          features: r.features,
          names: options.featureNames,
          values: values ? Float64Array.from(values.data as ArrayLike<number>, Number) : undefined,
        }),
      );
    }
  }
}

/** Attribution maps: the mean over the samples and the first samples' maps, each with its scale. */
function mapSections(
  data: Float64Array,
  dims: readonly number[],
  meta: string,
  fStart: Float64Array,
  fEnd: Float64Array,
  delta: Float64Array,
  options: ReportOptions,
): ReportSection[] {
  const n = dims[0]!;
  const d = sizeOf(dims.slice(1));
  const [h, w] = options.mapShape ?? (dims.length >= 3 ? [dims.at(-2)!, dims.at(-1)!] : [1, d]);
  if (h * w !== d) throw new ReportError(`mapShape [${h}, ${w}] does not hold one example's ${d} values`);
  const mean = new Float64Array(d);
  for (let s = 0; s < n; s++) for (let j = 0; j < d; j++) mean[j]! += data[s * d + j]! / n;
  const max = Math.max(1e-12, ...Array.from(mean, Math.abs));
  const cell = Math.max(4, Math.min(24, Math.floor(240 / Math.max(h, w))));
  const label = (i: number) => `(${Math.floor(i / w)}, ${i % w})`;
  const samples = Array.from({ length: Math.min(n, 12) }, (_, s) => {
    const v = data.subarray(s * d, (s + 1) * d);
    const m = Math.max(1e-12, ...Array.from(v, Math.abs));
    return `<figure>${heatmapSvg(v, h, w, { max: m, cell: Math.max(3, Math.floor(cell / 2)), title: `sample ${s}`, labels: label })}<figcaption>sample ${s}: F ${fmt(fStart[s]!, 3)} → ${fmt(fEnd[s]!, 3)}, delta ${fmt(delta[s]!, 2)}; scale ±${fmt(m, 2)}</figcaption></figure>`;
  }).join("");
  return [
    {
      heading: `Mean attribution over ${n} samples`,
      html: `<p class="meta">${meta}</p><figure>${heatmapSvg(mean, h, w, { max, cell, title: "mean attribution", labels: label })}<figcaption>rows 0–${h - 1} (top to bottom), columns 0–${w - 1} (left to right)</figcaption></figure>${legendSvg(max)}`,
    },
    { heading: "Samples", html: `<div class="grid">${samples}</div>` },
  ];
}
