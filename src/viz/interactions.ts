/**
 * Interaction reports (Integrated/Expected Hessians): the interaction matrix of one example as a
 * heat map, and, over many examples, interaction-vs-feature-value scatter plots (as the heart
 * disease and pulsar figures of the path_explain paper).
 */
import { divergingColor, escapeHtml, fmt, heatmapSvg, legendSvg, type ReportSection } from "./html.js";

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
  const W = 260;
  const H = 180;
  const px = (x: number) => 30 + ((x - x0) / (x1 - x0 || 1)) * (W - 40);
  const py = (y: number) => H / 2 - 10 - (y / ymax) * (H / 2 - 20);
  const dots = xs
    .map((x, e) => {
      const t = c1 > c0 ? ((cs[e]! - c0) / (c1 - c0)) * 2 - 1 : 0;
      return `<circle cx="${px(x).toFixed(1)}" cy="${py(ys[e]!).toFixed(1)}" r="3" fill="${divergingColor(t, 1)}" stroke="#333" stroke-width="0.3" data-example="${e}" data-value="${ys[e]}"><title>example ${e}: ${escapeHtml(name(i))} = ${fmt(x, 4)}, ${escapeHtml(name(j))} = ${fmt(cs[e]!, 4)}, interaction ${fmt(ys[e]!, 4)}</title></circle>`;
    })
    .join("");
  return `<figure><svg class="scatter" role="img" aria-label="interaction of ${escapeHtml(name(i))} and ${escapeHtml(name(j))} against ${escapeHtml(name(i))}" width="${W}" height="${H}"><line x1="30" x2="${W - 10}" y1="${py(0)}" y2="${py(0)}" stroke="#999"/>${dots}<text x="${W / 2}" y="${H - 4}" font-size="11" text-anchor="middle">${escapeHtml(name(i))}</text></svg><figcaption>Γ(${escapeHtml(name(i))}, ${escapeHtml(name(j))}) vs ${escapeHtml(name(i))}; colour: ${escapeHtml(name(j))} (purple low, orange high)</figcaption></figure>`;
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
      html: `${heatmapSvg(first, d, d, { max, cell: Math.max(8, Math.min(36, Math.floor(480 / d))), title: "interaction matrix", labels: (k) => `${name(Math.floor(k / d))} × ${name(k % d)}` })}${legendSvg(max, "interaction")}<p class="meta">Diagonal: self-interaction (main effect); rows sum to the feature's attribution.</p>`,
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
