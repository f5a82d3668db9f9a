/**
 * Tabular explanations: a per-feature table for one row (value, attribution bar) and, for many
 * rows, a summary plot — features ranked by mean |attribution|, one dot per row coloured by the
 * feature's value (its own palette: low = dark blue, high = yellow, with a colour bar), an
 * attribution axis with ticks, and hover values.
 */
import type { TabularExplanation } from "../explain/tabular.js";
import {
  axisTicksSvg,
  divergingColor,
  escapeHtml,
  fmt,
  legendSvg,
  type ReportSection,
  valueColor,
  valueLegendSvg,
} from "./html.js";

/** Features by mean |attribution|, largest first. */
export function featureRanking(e: TabularExplanation): number[] {
  const d = e.features.length;
  const mean = e.features.map((_, j) => {
    let s = 0;
    for (let r = 0; r < e.rows; r++) s += Math.abs(e.attributions[r * d + j]!);
    return s / e.rows;
  });
  return mean.map((_, j) => j).sort((a, b) => mean[b]! - mean[a]!);
}

/** The table of one row's attributions (top `top` features by |attribution|). */
export function rowTable(e: TabularExplanation, row: number, top = 20): string {
  const d = e.features.length;
  const order = e.features
    .map((_, j) => j)
    .sort((a, b) => Math.abs(e.attributions[row * d + b]!) - Math.abs(e.attributions[row * d + a]!));
  const max = Math.max(1e-12, ...order.map((j) => Math.abs(e.attributions[row * d + j]!)));
  const rows = order.slice(0, top).map((j) => {
    const a = e.attributions[row * d + j]!;
    const w = Math.round((Math.abs(a) / max) * 120);
    return `<tr data-feature="${escapeHtml(e.features[j]!)}" data-value="${a}"><td class="name">${escapeHtml(e.features[j]!)}</td><td>${fmt(e.values[row * d + j]!, 4)}</td><td>${fmt(a, 4)}</td><td class="name"><svg width="130" height="12" aria-hidden="true"><rect x="0" y="1" width="${w}" height="10" fill="${divergingColor(a, max)}" stroke="#666" stroke-width="0.5"/></svg></td></tr>`;
  });
  return `<table class="row-table"><tr><th class="name">feature</th><th>value</th><th>attribution</th><th class="name"></th></tr>${rows.join("")}</table>`;
}

/** The summary plot (SVG) over all rows for the `top` features. */
export function summaryPlot(e: TabularExplanation, top = 15): string {
  const d = e.features.length;
  const feats = featureRanking(e).slice(0, top);
  const all = feats.flatMap((j) => Array.from({ length: e.rows }, (_, r) => e.attributions[r * d + j]!));
  const max = Math.max(1e-12, ...all.map(Math.abs));
  const left = 120;
  const width = 420;
  const rowH = 22;
  const h = feats.length * rowH + 44;
  const x = (v: number) => left + ((v + max) / (2 * max)) * width;
  const dots: string[] = [];
  feats.forEach((j, k) => {
    const vals = Array.from({ length: e.rows }, (_, r) => e.values[r * d + j]!);
    const lo = Math.min(...vals);
    const hi = Math.max(...vals);
    const y = k * rowH + 14;
    dots.push(
      `<text x="${left - 6}" y="${y + 4}" font-size="11" text-anchor="end">${escapeHtml(e.features[j]!)}</text>`,
    );
    for (let r = 0; r < e.rows; r++) {
      const a = e.attributions[r * d + j]!;
      const v = vals[r]!;
      const t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
      const jitter = (((r * 7919) % 11) - 5) * 0.9;
      dots.push(
        `<circle cx="${x(a).toFixed(1)}" cy="${(y + jitter).toFixed(1)}" r="3" fill="${valueColor(t)}" stroke="#333" stroke-width="0.3" data-feature="${escapeHtml(e.features[j]!)}" data-row="${r}" data-value="${a}"><title>${escapeHtml(e.features[j]!)} = ${fmt(v, 4)}: attribution ${fmt(a, 4)} (row ${r})</title></circle>`,
      );
    }
  });
  const axisY = feats.length * rowH + 8;
  const ticks = [-max, -max / 2, 0, max / 2, max];
  return `<figure><svg class="summary-plot" role="img" aria-label="summary plot: attribution per feature and row, colour = feature value" width="${left + width + 20}" height="${h}">
<line x1="${x(0)}" y1="0" x2="${x(0)}" y2="${axisY}" stroke="#999"/>${dots.join("")}
${axisTicksSvg(ticks, x, axisY, "attribution (IG)")}
</svg>${valueLegendSvg("low", "high", "feature value (per feature, min to max)")}<figcaption>One dot per row; features ranked by mean |attribution|.</figcaption></figure>`;
}

/** Report sections for a tabular explanation. */
export function tabularSections(name: string, e: TabularExplanation): ReportSection[] {
  const d = e.features.length;
  const first = `<p>Row 0: F(x) = ${fmt(e.outputAtInput[0]!, 4)}, F(baseline) = ${fmt(e.outputAtBaseline[0]!, 4)}, completeness delta ${fmt(e.delta[0]!, 2)} (${e.steps} steps).</p>${rowTable(e, 0)}`;
  const max = Math.max(1e-12, ...Array.from(e.attributions.subarray(0, d), Math.abs));
  const sections: ReportSection[] = [{ heading: `${name}: row 0`, html: `${first}${legendSvg(max)}` }];
  if (e.rows > 1) sections.push({ heading: `${name}: all ${e.rows} rows`, html: summaryPlot(e) });
  return sections;
}
