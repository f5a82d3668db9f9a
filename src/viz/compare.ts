/**
 * The comparison report: one row per method (time cost, deletion / insertion AUC, infidelity,
 * max-sensitivity, completeness gap), the mean deletion and insertion curves of every method, and
 * for images each method's map of the first example and, when given, its XRAI regions.
 */

import type { ImageLayout } from "../attribution/blur-ig.js";
import { type XraiExplanation, xraiOfImage } from "../attribution/xrai.js";
import { type Comparison, mean } from "../explain/compare.js";
import type { ImageExplanation } from "../explain/image.js";
import { escapeHtml, fmt, heatmapSvg, legendSvg, type ReportSection, reportPage } from "./html.js";

/** Okabe–Ito: a qualitative palette readable with colour-blindness. */
const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000"];

/** Options of {@link comparisonReport}. */
export interface ComparisonReportOptions {
  /** Model name or path, shown in the title line. */
  model?: string;
  /** Draw each method's first-example map (image inputs): its layout. */
  layout?: ImageLayout;
  /** XRAI regions of the first example (drawn as a ranked map). */
  xrai?: XraiExplanation;
}

/** Mean curve over examples. */
function meanCurve(scores: Float64Array, points: number): number[] {
  const n = scores.length / points;
  return Array.from({ length: points }, (_, k) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += scores[i * points + k]!;
    return s / n;
  });
}

/** An SVG line chart of one curve per method. */
function curveChart(c: Comparison, kind: "deletion" | "insertion"): string {
  const W = 460;
  const H = 260;
  const pad = { l: 56, r: 12, t: 12, b: 40 };
  const series = c.rows.map((r) => ({
    name: r.name,
    fractions: r[kind].fractions,
    y: meanCurve(r[kind].scores, r[kind].fractions.length),
    auc: r[kind].meanAuc,
  }));
  let lo = Math.min(...series.flatMap((s) => s.y));
  let hi = Math.max(...series.flatMap((s) => s.y));
  if (!(hi > lo)) {
    lo -= 1;
    hi += 1;
  }
  const px = (f: number) => pad.l + f * (W - pad.l - pad.r);
  const py = (v: number) => pad.t + (1 - (v - lo) / (hi - lo)) * (H - pad.t - pad.b);
  const lines = series
    .map((s, k) => {
      const pts = s.y.map((v, i) => `${px(s.fractions[i]!).toFixed(1)},${py(v).toFixed(1)}`).join(" ");
      return `<polyline class="curve" data-method="${escapeHtml(s.name)}" data-auc="${s.auc}" data-values="${s.y.join(",")}" fill="none" stroke="${PALETTE[k % PALETTE.length]}" stroke-width="2" points="${pts}"><title>${escapeHtml(s.name)}: AUC ${fmt(s.auc, 4)}</title></polyline>`;
    })
    .join("");
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => `<text x="${px(f)}" y="${H - pad.b + 16}" font-size="11" text-anchor="middle">${f}</text>`)
    .join("");
  const yTicks = [lo, (lo + hi) / 2, hi]
    .map(
      (v) => `<text x="${pad.l - 6}" y="${py(v) + 4}" font-size="11" text-anchor="end">${fmt(v, 3)}</text>`,
    )
    .join("");
  const legend = series
    .map(
      (s, k) =>
        `<span class="key"><span style="display:inline-block;width:14px;height:3px;background:${PALETTE[k % PALETTE.length]};vertical-align:middle"></span> ${escapeHtml(s.name)}</span>`,
    )
    .join(" ");
  const what =
    kind === "deletion" ? "most important features removed first" : "most important features inserted first";
  return `<figure class="chart" data-kind="${kind}"><svg role="img" aria-label="${kind} curves" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">
<rect x="${pad.l}" y="${pad.t}" width="${W - pad.l - pad.r}" height="${H - pad.t - pad.b}" fill="none" stroke="#999"/>${ticks}${yTicks}
<text x="${(W + pad.l) / 2}" y="${H - 6}" font-size="12" text-anchor="middle">fraction of features ${kind === "deletion" ? "removed" : "inserted"}</text>${lines}</svg>
<figcaption style="max-width:${W}px">${kind} curve (${what}); mean explained output over the examples. ${legend}</figcaption></figure>`;
}

/** The metrics table. */
function table(c: Comparison): string {
  const cell = (v: number | undefined, digits = 4) =>
    v === undefined ? `<td data-value="">—</td>` : `<td data-value="${v}">${fmt(v, digits)}</td>`;
  const rows = c.rows
    .map(
      (r) =>
        `<tr data-method="${escapeHtml(r.name)}"><td class="name">${escapeHtml(r.name)}</td>${cell(r.seconds, 3)}${cell(r.deletion.meanAuc)}${cell(r.insertion.meanAuc)}${cell(r.infidelity && mean(r.infidelity))}${cell(r.sensitivity && mean(r.sensitivity))}${cell(r.relativeGap, 3)}</tr>`,
    )
    .join("\n");
  return `<table class="comparison"><thead><tr><th class="name">method</th><th>seconds</th><th>deletion AUC ↓</th><th>insertion AUC ↑</th><th>infidelity ↓</th><th>max-sensitivity ↓</th><th>completeness gap (relative) ↓</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p class="meta">Means over ${c.numExamples} example(s). Deletion / insertion: area under the explained output as the top-ranked features are replaced by (or restored from) ${escapeHtml(c.fill)}. Infidelity: Captum's, normalised (best scale of the attributions). Max-sensitivity: largest relative change of the attributions under small uniform noise. Completeness gap: mean |Σ attributions − (F(x) − F(path start))| over mean |F(x) − F(path start)|; Blur IG's path starts at the blurred input.</p>`;
}

/** One example's map per method (channels summed), for image inputs. */
function maps(c: Comparison, layout: ImageLayout): string {
  const dims = c.rows[0]!.attributions.dims;
  const [C, H, W] =
    layout === "NCHW"
      ? [dims[1]!, dims[2]!, dims[3]!]
      : layout === "NHWC"
        ? [dims[3]!, dims[1]!, dims[2]!]
        : [1, dims[1]!, dims[2]!];
  const figures = c.rows.map((r) => {
    const a = r.attributions.data;
    const v = new Float64Array(H * W);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        for (let ch = 0; ch < C; ch++)
          v[y * W + x]! += a[layout === "NCHW" ? (ch * H + y) * W + x : (y * W + x) * C + ch]!;
    const max = Math.max(1e-12, ...Array.from(v, Math.abs));
    const cell = Math.max(2, Math.floor(160 / Math.max(H, W)));
    return `<figure data-method="${escapeHtml(r.name)}">${heatmapSvg(v, H, W, { max, cell, title: `${r.name} attributions` })}<figcaption>${escapeHtml(r.name)} (scale ±${fmt(max, 3)})</figcaption></figure>`;
  });
  return `<div class="grid">${figures.join("")}</div>${legendSvg(1, "attribution / max")}`;
}

/** XRAI's ranked regions of one image: each pixel coloured by the gain of its region. */
export function xraiFigure(e: XraiExplanation, caption = "XRAI regions"): string {
  const max = Math.max(1e-12, ...Array.from(e.map, Math.abs));
  const cell = Math.max(1, Math.floor(224 / Math.max(e.height, e.width)));
  const top = e.regions
    .slice(0, 5)
    .map(
      (r, k) =>
        `<li data-rank="${k + 1}" data-gain="${r.gain}">region ${k + 1}: ${r.pixels.length} pixels, mean attribution ${fmt(r.gain, 3)}</li>`,
    )
    .join("");
  return `<figure class="xrai">${heatmapSvg(e.map, e.height, e.width, { max, cell, title: caption, labels: (i) => `pixel (${Math.floor(i / e.width)}, ${i % e.width}), region rank ${e.ranks[i]}` })}<figcaption>${escapeHtml(caption)}: each pixel shows the mean attribution of the region that covered it; regions ranked by that gain.</figcaption></figure><ol class="regions">${top}</ol>`;
}

/** Report sections of a comparison (to embed in another report). */
export function comparisonSections(c: Comparison, o: ComparisonReportOptions = {}): ReportSection[] {
  const sections: ReportSection[] = [
    { heading: "Metrics", html: table(c) },
    {
      heading: "Deletion and insertion curves",
      html: `<div class="grid">${curveChart(c, "deletion")}${curveChart(c, "insertion")}</div>`,
    },
  ];
  if (o.layout) sections.push({ heading: "First example, per method", html: maps(c, o.layout) });
  if (o.xrai) sections.push({ heading: "XRAI regions (first example)", html: xraiFigure(o.xrai) });
  return sections;
}

/** A complete comparison report page. */
export function comparisonReport(title: string, c: Comparison, o: ComparisonReportOptions = {}): string {
  const intro = o.model
    ? `<p class="meta">Model: <code>${escapeHtml(o.model)}</code>; ${c.rows.length} method(s) on the same ${c.numExamples} example(s).</p>`
    : "";
  return reportPage(title, comparisonSections(c, o), intro);
}

/**
 * The image report's XRAI section: regions of the explained image (segmented on the picture the
 * model saw) ranked by the mean of its attribution's channel max.
 */
export function imageXraiSections(e: ImageExplanation): ReportSection[] {
  const { width: W, height: H } = e.image;
  const rgb = new Float64Array(H * W * 3);
  for (let p = 0; p < H * W; p++) for (let c = 0; c < 3; c++) rgb[p * 3 + c] = e.image.data[p * 4 + c]!;
  const a = e.attributions;
  const nchw = a.dims.length === 4 && a.dims[2] === H && a.dims[3] === W;
  const C = a.data.length / (H * W);
  const hwc = new Float64Array(a.data.length);
  for (let p = 0; p < H * W; p++)
    for (let c = 0; c < C; c++) hwc[p * C + c] = a.data[nchw ? c * H * W + p : p * C + c]!;
  const x = xraiOfImage(rgb, [H, W, 3], hwc);
  return [{ heading: "XRAI regions", html: xraiFigure(x, "XRAI regions of the integrated gradients") }];
}
