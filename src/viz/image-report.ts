/**
 * The image report: the picture the model saw, the heat-map overlay, the window, and a grid of
 * per-pixel (or per-block) attributions whose cells carry their values.
 */
import type { ImageExplanation } from "../explain/image.js";
import { escapeHtml, fmt, heatmapSvg, legendSvg, type ReportSection } from "./html.js";
import { encodePngRgba, pngDataUri } from "./png.js";

/** Per-block sums so the grid has at most `max` cells a side. */
function blocks(
  v: Float64Array,
  h: number,
  w: number,
  max = 48,
): { values: Float64Array; rows: number; cols: number; size: number } {
  const size = Math.max(1, Math.ceil(Math.max(h, w) / max));
  const rows = Math.ceil(h / size);
  const cols = Math.ceil(w / size);
  const out = new Float64Array(rows * cols);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) out[Math.floor(y / size) * cols + Math.floor(x / size)] += v[y * w + x]!;
  return { values: out, rows, cols, size };
}

/** Report sections for one explained image. */
export function imageSections(name: string, e: ImageExplanation): ReportSection[] {
  const factor = Math.max(1, Math.floor(224 / Math.max(e.image.width, e.image.height)));
  const img = (im: typeof e.image, alt: string, cls: string) =>
    `<figure><img class="${cls}" alt="${escapeHtml(alt)}" src="${pngDataUri(encodePngRgba(im.width, im.height, im.data))}" width="${im.width * factor}" height="${im.height * factor}" style="image-rendering: pixelated"><figcaption>${escapeHtml(alt)}</figcaption></figure>`;
  const b = blocks(e.pixels, e.image.height, e.image.width);
  const max = Math.max(1e-12, ...Array.from(b.values, Math.abs));
  return [
    {
      heading: name,
      html: `<p>Prediction: <strong>${escapeHtml(e.prediction.label)}</strong> (p = ${fmt(e.prediction.probability, 3)}); explained class: <strong>${escapeHtml(e.target.label)}</strong> (p = ${fmt(e.target.probability, 3)}).</p>
<p class="meta">Integrated Gradients, ${e.steps} steps; F(x) − F(baseline) = ${fmt(e.outputAtInput - e.outputAtBaseline, 4)}; completeness delta ${fmt(e.delta, 2)}.</p>
<div class="grid">${img(e.image, "input (as the model sees it)", "input")}${img(e.overlay, "attribution overlay", "overlay")}${img(e.window, "window: |attribution| as a mask", "window")}
<figure>${heatmapSvg(b.values, b.rows, b.cols, { max, cell: Math.max(4, Math.floor(224 / Math.max(b.rows, b.cols))), title: "per-pixel attributions", labels: (i) => `${b.size > 1 ? "block" : "pixel"} (${Math.floor(i / b.cols)}, ${i % b.cols})` })}<figcaption>attribution per ${b.size > 1 ? `${b.size}×${b.size} block` : "pixel"} (channels summed); hover for values</figcaption></figure></div>
${legendSvg(max)}`,
    },
  ];
}
