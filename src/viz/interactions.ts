/**
 * Interaction reports (Integrated/Expected Hessians): the interaction matrix of one example as a
 * heat map, and, over many examples, interaction-vs-feature-value scatter plots (as the heart
 * disease and pulsar figures of the path_explain paper).
 */
import {
  axisTicksSvg,
  escapeHtml,
  fmt,
  heatmapSvg,
  legendSvg,
  type ReportSection,
  valueColor,
  valueLegendSvg,
} from "./html.js";

/** Inputs of {@link interactionSections}. */
export interface InteractionView {
  /** Γ, examples × features × features (row-major). */
  gamma: ArrayLike<number>;
  examples: number;
  features: number;
  names?: string[];
  /** Feature values per example (examples × features), for the scatter plots. */
  values?: ArrayLike<number>;
}

/** Strongest off-diagonal pairs by mean |Γ_ij| over the examples. */
export function topPairs(v: InteractionView, count = 4): [number, number][] {
  const d = v.features;
  const pairs: { i: number; j: number; m: number }[] = [];
  for (let i = 0; i < d; i++)
    for (let j = i + 1; j < d; j++) {
      let m = 0;
      for (let e = 0; e < v.examples; e++) m += Math.abs(v.gamma[(e * d + i) * d + j]!);
      pairs.push({ i, j, m });
    }
  return pairs
    .sort((a, b) => b.m - a.m)
    .slice(0, count)
    .map((p) => [p.i, p.j]);
}

/** One scatter plot: Γ_ij against the value of feature i, coloured by the value of feature j. */
function scatter(v: InteractionView, i: number, j: number): string {
  const d = v.features;
  const name = (k: number) => v.names?.[k] ?? `feature ${k}`;
  const xs = Array.from({ length: v.examples }, (_, e) => v.values![e * d + i]!);
  const cs = Array.from({ length: v.examples }, (_, e) => v.values![e * d + j]!);
  const ys = Array.from({ length: v.examples }, (_, e) => v.gamma[(e * d + i) * d + j]!);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [c0, c1] = [Math.min(...cs), Math.max(...cs)];
  const ymax = Math.max(1e-12, ...ys.map(Math.abs));
  const W = 300;
  const H = 220;
  const left = 56;
  const plotBottom = H - 40;
  const px = (x: number) => left + ((x - x0) / (x1 - x0 || 1)) * (W - left - 10);
  const py = (y: number) => plotBottom / 2 - (y / ymax) * (plotBottom / 2 - 8);
  const dots = xs
    .map((x, e) => {
      const t = c1 > c0 ? (cs[e]! - c0) / (c1 - c0) : 0.5;
      return `<circle cx="${px(x).toFixed(1)}" cy="${py(ys[e]!).toFixed(1)}" r="3" fill="${valueColor(t)}" stroke="#333" stroke-width="0.3" data-example="${e}" data-value="${ys[e]}"><title>example ${e}: ${escapeHtml(name(i))} = ${fmt(x, 4)}, ${escapeHtml(name(j))} = ${fmt(cs[e]!, 4)}, interaction ${fmt(ys[e]!, 4)}</title></circle>`;
    })
    .join("");
  const yTicks = [-ymax, 0, ymax]
    .map(
      (t) =>
        `<line x1="${left - 4}" x2="${left}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#333"/><text x="${left - 6}" y="${(py(t) + 3).toFixed(1)}" font-size="10" text-anchor="end">${fmt(t, 2)}</text>`,
    )
    .join("");
  const yAxis = `<g class="axis"><line x1="${left}" x2="${left}" y1="${py(ymax)}" y2="${py(-ymax)}" stroke="#333"/>${yTicks}<text transform="translate(12 ${plotBottom / 2}) rotate(-90)" font-size="11" text-anchor="middle">Γ(${escapeHtml(name(i))}, ${escapeHtml(name(j))})</text></g>`;
  const xTicks = x1 > x0 ? [x0, (x0 + x1) / 2, x1] : [x0];
  return `<figure><svg class="scatter" role="img" aria-label="interaction of ${escapeHtml(name(i))} and ${escapeHtml(name(j))} against ${escapeHtml(name(i))}" width="${W}" height="${H}"><line x1="${left}" x2="${W - 10}" y1="${py(0)}" y2="${py(0)}" stroke="#bbb"/>${dots}${yAxis}${axisTicksSvg(xTicks, px, plotBottom + 2, `${name(i)} (value)`)}</svg>${valueLegendSvg(c0, c1, `${name(j)} (value)`)}<figcaption>Γ(${escapeHtml(name(i))}, ${escapeHtml(name(j))}) against the value of ${escapeHtml(name(i))}; colour: the value of ${escapeHtml(name(j))}</figcaption></figure>`;
}

/** Report sections: the matrix of example 0 and, for several examples, the top-pair scatter plots. */
export function interactionSections(v: InteractionView, title = "Interactions"): ReportSection[] {
  const d = v.features;
  const first = Array.from({ length: d * d }, (_, k) => v.gamma[k]!);
  const max = Math.max(1e-12, ...first.map(Math.abs));
  const name = (k: number) => v.names?.[k] ?? `feature ${k}`;
  const sections: ReportSection[] = [
    {
      heading: `${title}: example 0`,
      html: `${labelledMatrix(first, d, max, name)}${legendSvg(max, "interaction")}<p class="meta">Diagonal: self-interaction (main effect); rows sum to the feature's attribution.</p>`,
    },
  ];
  if (v.values && v.examples > 1) {
    sections.push({
      heading: `${title}: strongest pairs over ${v.examples} examples`,
      html: `<div class="grid">${topPairs(v)
        .map(([i, j]) => scatter(v, i, j))
        .join("")}</div>`,
    });
  }
  return sections;
}

/** The d × d matrix as a heat map with feature names along both axes (rows i, columns j). */
function labelledMatrix(values: number[], d: number, max: number, name: (k: number) => string): string {
  const cell = Math.max(8, Math.min(36, Math.floor(480 / d)));
  const every = Math.max(1, Math.ceil(11 / cell)); // label every feature when the cells fit the text
  const labels = Array.from({ length: d }, (_, k) => k).filter((k) => k % every === 0);
  const margin = 90;
  const map = heatmapSvg(values, d, d, {
    max,
    cell,
    title: "interaction matrix",
    labels: (k) => `${name(Math.floor(k / d))} × ${name(k % d)}`,
  });
  const rowNames = labels
    .map(
      (k) =>
        `<text x="${margin - 4}" y="${margin + k * cell + cell / 2 + 3}" font-size="10" text-anchor="end">${escapeHtml(name(k))}</text>`,
    )
    .join("");
  const colNames = labels
    .map(
      (k) =>
        `<text transform="translate(${margin + k * cell + cell / 2 + 3} ${margin - 4}) rotate(-90)" font-size="10">${escapeHtml(name(k))}</text>`,
    )
    .join("");
  const size = margin + d * cell;
  return `<svg class="interaction-matrix" role="img" aria-label="interaction matrix with feature names: rows i, columns j" width="${size + 10}" height="${size + 24}">${rowNames}${colNames}<g transform="translate(${margin} ${margin})">${map}</g><text x="${margin + (d * cell) / 2}" y="${size + 18}" font-size="11" text-anchor="middle">feature j (columns); rows: feature i</text></svg>`;
}
