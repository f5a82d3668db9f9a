/**
 * Self-contained HTML reports: one file, inline CSS and SVG, no scripts from the network.
 * Colours use a colour-blind-safe diverging palette (PuOr: orange = positive, purple =
 * negative) with a legend; every coloured mark carries its value as a hover title and a
 * data-value attribute (so tests and users can read the numbers back).
 */

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** PuOr stops from −1 (purple) through 0 (white) to +1 (orange). */
const STOPS: [number, number, number][] = [
  [45, 0, 75],
  [84, 39, 136],
  [128, 115, 172],
  [178, 171, 210],
  [216, 218, 235],
  [247, 247, 247],
  [254, 224, 182],
  [253, 184, 99],
  [224, 130, 20],
  [179, 88, 6],
  [127, 59, 8],
];

/** The diverging colour of `v` on the scale [−max, max] (values beyond are clipped). */
export function divergingColor(v: number, max: number): string {
  const t = max > 0 && Number.isFinite(v) ? Math.max(-1, Math.min(1, v / max)) : 0;
  const pos = ((t + 1) / 2) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(pos));
  const f = pos - i;
  const a = STOPS[i]!;
  const b = STOPS[i + 1]!;
  const c = a.map((x, k) => Math.round(x + f * (b[k]! - x)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/**
 * Black or white, whichever reads better on `fill` ("rgb(r,g,b)" or "#rrggbb"): WCAG relative
 * luminance against the 0.179 crossover, so text stays legible on the strongest colours.
 */
export function readableTextColor(fill: string): "#000" | "#fff" {
  const m = /rgb\((\d+),\s*(\d+),\s*(\d+)\)/.exec(fill);
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(fill);
  const rgb = m
    ? m.slice(1, 4).map(Number)
    : hex
      ? hex.slice(1, 4).map((h) => Number.parseInt(h, 16))
      : [255, 255, 255];
  const lin = rgb.map((c) => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  const luminance = 0.2126 * lin[0]! + 0.7152 * lin[1]! + 0.0722 * lin[2]!;
  return luminance > 0.179 ? "#000" : "#fff";
}

/** Cividis stops (dark blue → yellow): the palette of feature values, distinct from attributions'. */
const VALUE_STOPS: [number, number, number][] = [
  [0, 34, 78],
  [49, 68, 107],
  [102, 105, 112],
  [149, 145, 119],
  [203, 186, 105],
  [253, 234, 69],
];

/** The colour of a feature value at `t` ∈ [0, 1] (low = dark blue, high = yellow). */
export function valueColor(t: number): string {
  const u = Number.isFinite(t) ? Math.max(0, Math.min(1, t)) : 0;
  const pos = u * (VALUE_STOPS.length - 1);
  const i = Math.min(VALUE_STOPS.length - 2, Math.floor(pos));
  const f = pos - i;
  const a = VALUE_STOPS[i]!;
  const b = VALUE_STOPS[i + 1]!;
  const c = a.map((x, k) => Math.round(x + f * (b[k]! - x)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** A colour bar of the value palette from `low` to `high`, with its label. */
export function valueLegendSvg(low: number | string, high: number | string, label = "feature value"): string {
  const stops = VALUE_STOPS.map(
    (_, k) =>
      `<stop offset="${((k / (VALUE_STOPS.length - 1)) * 100).toFixed(1)}%" stop-color="${valueColor(k / (VALUE_STOPS.length - 1))}"/>`,
  ).join("");
  const id = `vl${Math.random().toString(36).slice(2, 8)}`;
  const show = (v: number | string) => escapeHtml(typeof v === "number" ? fmt(v) : v);
  return `<svg class="legend value-legend" role="img" aria-label="colour legend: ${escapeHtml(label)} from ${show(low)} (dark blue) to ${show(high)} (yellow)" width="260" height="40" viewBox="0 0 260 40">
<defs><linearGradient id="${id}">${stops}</linearGradient></defs>
<rect x="10" y="4" width="240" height="14" fill="url(#${id})" stroke="#888"/>
<text x="10" y="34" font-size="11">${show(low)}</text><text x="130" y="34" font-size="11" text-anchor="middle">${escapeHtml(label)}</text><text x="250" y="34" font-size="11" text-anchor="end">${show(high)}</text>
</svg>`;
}

/** SVG tick marks and labels of a horizontal axis at `y` for values `ticks`, placed by `x`. */
export function axisTicksSvg(
  ticks: number[],
  x: (v: number) => number,
  y: number,
  title?: string,
  titleX?: number,
): string {
  const marks = ticks
    .map(
      (t) =>
        `<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${y}" y2="${y + 4}" stroke="#333"/><text x="${x(t).toFixed(1)}" y="${y + 15}" font-size="10" text-anchor="middle">${fmt(t, 2)}</text>`,
    )
    .join("");
  const label = title
    ? `<text x="${titleX ?? x((ticks[0]! + ticks[ticks.length - 1]!) / 2)}" y="${y + 28}" font-size="11" text-anchor="middle">${escapeHtml(title)}</text>`
    : "";
  const [a, b] = [x(ticks[0]!), x(ticks[ticks.length - 1]!)];
  return `<g class="axis"><line x1="${a}" x2="${b}" y1="${y}" y2="${y}" stroke="#333"/>${marks}${label}</g>`;
}

/** Short number formatting for labels and titles. */
export function fmt(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(digits - 1);
  return Number(v.toPrecision(digits)).toString();
}

/** A horizontal colour legend for the scale [−max, max]. */
export function legendSvg(max: number, label = "attribution"): string {
  const stops = STOPS.map((_, k) => {
    const t = k / (STOPS.length - 1);
    return `<stop offset="${(t * 100).toFixed(1)}%" stop-color="${divergingColor((2 * t - 1) * max, max)}"/>`;
  }).join("");
  const id = `lg${Math.random().toString(36).slice(2, 8)}`;
  return `<svg class="legend" role="img" aria-label="colour legend: ${escapeHtml(label)} from ${fmt(-max)} (purple) to ${fmt(max)} (orange)" width="260" height="40" viewBox="0 0 260 40">
<defs><linearGradient id="${id}">${stops}</linearGradient></defs>
<rect x="10" y="4" width="240" height="14" fill="url(#${id})" stroke="#888"/>
<text x="10" y="34" font-size="11">${fmt(-max)}</text><text x="130" y="34" font-size="11" text-anchor="middle">0 (${escapeHtml(label)})</text><text x="250" y="34" font-size="11" text-anchor="end">${fmt(max)}</text>
</svg>`;
}

/**
 * A heat map of an h×w grid (row-major values) as SVG cells, each with a hover title and a
 * data-value. `outline` marks cells (e.g. significant features) with a thick border.
 */
export function heatmapSvg(
  values: ArrayLike<number>,
  h: number,
  w: number,
  options: {
    max?: number;
    cell?: number;
    title?: string;
    outline?: Set<number>;
    labels?: (i: number) => string;
  } = {},
): string {
  const cell = options.cell ?? 18;
  let max = options.max ?? 0;
  if (!options.max) for (let i = 0; i < h * w; i++) max = Math.max(max, Math.abs(values[i]!));
  const cells: string[] = [];
  for (let r = 0; r < h; r++)
    for (let c = 0; c < w; c++) {
      const i = r * w + c;
      const v = values[i]!;
      const name = options.labels ? options.labels(i) : `(${r}, ${c})`;
      const thick = options.outline?.has(i);
      cells.push(
        `<rect x="${c * cell}" y="${r * cell}" width="${cell}" height="${cell}" fill="${divergingColor(v, max)}" data-index="${i}" data-value="${v}"${thick ? ' stroke="#000" stroke-width="2.5" class="marked"' : ' stroke="#fff" stroke-width="0.5"'}><title>${escapeHtml(name)}: ${fmt(v, 4)}</title></rect>`,
      );
    }
  const label = options.title ? escapeHtml(options.title) : "heat map";
  return `<svg class="heatmap" role="img" aria-label="${label}" width="${w * cell}" height="${h * cell}" viewBox="0 0 ${w * cell} ${h * cell}">${cells.join("")}</svg>`;
}

/** One section of a report. */
export interface ReportSection {
  heading: string;
  /** Trusted HTML (built with the helpers here; text must be escaped). */
  html: string;
}

/** A complete, self-contained report page. */
export function reportPage(title: string, sections: ReportSection[], intro = ""): string {
  const body = sections
    .map((s) => `<section><h2>${escapeHtml(s.heading)}</h2>\n${s.html}\n</section>`)
    .join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1b1b; background: #fff; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0; } th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: right; } th { background: #f3f3f3; }
td.name, th.name { text-align: left; }
.grid { display: flex; flex-wrap: wrap; gap: 1rem; } .card { border: 1px solid #ddd; border-radius: 6px; padding: .5rem; min-width: 140px; } .card > a { text-decoration: none; color: inherit; } figure { margin: 0; } figcaption { font-size: .85rem; color: #444; max-width: 240px; }
.tokens span.tok { padding: .1rem .2rem; margin: .1rem; border-radius: 3px; display: inline-block; }
.meta { color: #444; } code { background: #f3f3f3; padding: 0 .2rem; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${intro}
${body}
<footer class="meta"><p>Made by pathlens. Colours: orange = pushes the explained output up, purple = pushes it down (PuOr, colour-blind safe). Hover any cell or word for its value.</p></footer>
</body>
</html>
`;
}
