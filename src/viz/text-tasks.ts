/**
 * Reports for every text task (classification, multi-label, zero-shot, NER, question
 * answering) in the house style: a summary table — true / predicted / explained label,
 * attribution score (Σ attributions) and the words coloured on the diverging palette — one row
 * per explained output (zero-shot: per candidate; NER: the sentence once per entity; QA: start
 * and end), and the token-pair interaction matrix per text when it was computed.
 */
import type { TextExplanation } from "../explain/text.js";
import type { LabelExplanation, WordAttribution } from "../explain/text-explanation.js";
import type { MultiLabelExplanation } from "../explain/text-multi-label.js";
import type { NerExplanation } from "../explain/text-ner.js";
import type { QaExplanation } from "../explain/text-qa.js";
import type { ZeroShotExplanation } from "../explain/text-zero-shot.js";
import { divergingColor, escapeHtml, fmt, legendSvg, type ReportSection, reportPage } from "./html.js";

/** The result of any text explainer. */
export type TextTaskExplanation =
  | TextExplanation
  | MultiLabelExplanation
  | ZeroShotExplanation
  | NerExplanation
  | QaExplanation;

/** Options of {@link visualizeText}. */
export interface VisualizeTextOptions {
  title?: string;
  /** The true label(s), when known: shown in the table ("n/a" otherwise). */
  trueLabel?: string | string[];
}

/** One row of the summary table. */
interface Row {
  trueLabel: string;
  predicted: string;
  explained: string;
  words: WordAttribution[];
  /** Words drawn with an outline (the explained token's word, the answer). */
  marked?: Set<number>;
  interactions?: { words: number[] };
}

function sum(words: WordAttribution[]): number {
  return words.reduce((a, w) => a + w.score, 0);
}

function wordSpans(words: WordAttribution[], max: number, marked?: Set<number>): string {
  return words
    .map(
      (w, k) =>
        `<span class="tok${marked?.has(k) ? " marked" : ""}" data-index="${k}" data-value="${w.score}" style="background:${divergingColor(w.score, max)}${Math.abs(w.score) > 0.6 * max ? ";color:#fff" : ""}${marked?.has(k) ? ";outline:2px solid #000" : ""}" title="${escapeHtml(w.word)}: ${fmt(w.score, 4)}">${escapeHtml(w.word)}</span>`,
    )
    .join(" ");
}

function table(rows: Row[]): string {
  const max = Math.max(1e-12, ...rows.flatMap((r) => r.words.map((w) => Math.abs(w.score))));
  const body = rows
    .map(
      (r, i) =>
        `<tr data-row="${i}"><td class="name">${escapeHtml(r.trueLabel)}</td><td class="name">${escapeHtml(r.predicted)}</td><td class="name explained">${escapeHtml(r.explained)}</td><td>${fmt(sum(r.words), 4)}</td><td class="name"><p class="tokens" data-level="words">${wordSpans(r.words, max, r.marked)}</p></td></tr>`,
    )
    .join("");
  return `<table class="summary"><tr><th class="name">True label</th><th class="name">Predicted label</th><th class="name">Explained label</th><th>Attribution score</th><th class="name">Word importance</th></tr>${body}</table>${legendSvg(max)}`;
}

/** A word × word matrix with the words along both axes; colours scaled to the largest off-diagonal |Γ|. */
function wordMatrixSvg(words: WordAttribution[], m: number[], label: string): { svg: string; max: number } {
  const w = words.length;
  let max = 1e-12;
  for (let i = 0; i < w; i++)
    for (let j = 0; j < w; j++) if (i !== j) max = Math.max(max, Math.abs(m[i * w + j]!));
  const cell = Math.max(12, Math.min(30, Math.floor(420 / w)));
  const margin = 90;
  const cells: string[] = [];
  const names = words.map((x) => escapeHtml(x.word));
  for (let i = 0; i < w; i++)
    for (let j = 0; j < w; j++) {
      const v = m[i * w + j]!;
      cells.push(
        `<rect x="${margin + j * cell}" y="${margin + i * cell}" width="${cell}" height="${cell}" fill="${divergingColor(v, max)}" stroke="#fff" stroke-width="0.5" data-value="${v}"><title>${names[i]} × ${names[j]}: ${fmt(v, 4)}</title></rect>`,
      );
    }
  const left = names.map(
    (n, i) =>
      `<text x="${margin - 4}" y="${margin + (i + 0.7) * cell}" font-size="11" text-anchor="end">${n}</text>`,
  );
  const top = names.map(
    (n, j) =>
      `<text transform="translate(${margin + (j + 0.7) * cell},${margin - 4}) rotate(-60)" font-size="11">${n}</text>`,
  );
  const size = margin + w * cell + 4;
  return {
    svg: `<svg class="heatmap" role="img" aria-label="${escapeHtml(label)}" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}">${left.join("")}${top.join("")}${cells.join("")}</svg>`,
    max,
  };
}

function interactionBlocks(rows: Row[]): string {
  return rows
    .filter((r) => r.interactions)
    .map((r) => {
      const { svg, max } = wordMatrixSvg(
        r.words,
        r.interactions!.words,
        `word-pair interactions for ${r.explained}`,
      );
      return `<figure class="interactions"><figcaption>Integrated Hessians, ${escapeHtml(r.explained)}: Γ between words (colours clipped at the largest off-diagonal value; the diagonal holds each word's main effect)</figcaption>${svg}${legendSvg(max, "interaction")}</figure>`;
    })
    .join("");
}

function trueAt(option: VisualizeTextOptions["trueLabel"], k: number): string {
  if (option === undefined) return "n/a";
  return Array.isArray(option) ? (option[k] ?? "n/a") : option;
}

function withInteractions(e: LabelExplanation): Pick<Row, "interactions"> {
  return e.interactions ? { interactions: { words: e.interactions.words } } : {};
}

/** Summary rows of one result. */
function rowsOf(e: TextTaskExplanation, options: VisualizeTextOptions): Row[] {
  switch (e.task) {
    case "classification":
      return [
        {
          trueLabel: trueAt(options.trueLabel, 0),
          predicted: `${e.prediction.label} (${fmt(e.prediction.probability, 3)})`,
          explained: e.target.label,
          words: e.words,
          ...(e.interactions ? { interactions: { words: e.interactions.words } } : {}),
        },
      ];
    case "multi-label":
      return e.explanations.map((x, k) => {
        const p = e.predictions.find((q) => q.label === x.label)!;
        return {
          trueLabel: trueAt(options.trueLabel, k),
          predicted: `${p.predicted ? "yes" : "no"} (${fmt(p.probability, 3)})`,
          explained: x.label,
          words: x.words,
          ...withInteractions(x),
        };
      });
    case "zero-shot":
      return e.explanations.map((x, k) => ({
        trueLabel: trueAt(options.trueLabel, k),
        predicted: `${x.label === e.predicted ? "★ " : ""}${x.label} (${fmt(e.predictions[k]!.probability, 3)})`,
        explained: `${x.label} (${e.score})`,
        words: x.words,
        ...withInteractions(x),
      }));
    case "ner":
      return nerRows(e, options);
    case "qa":
      return e.explanations.map((x, k) => ({
        trueLabel: trueAt(options.trueLabel, k),
        predicted: `${e.answer.text} (${fmt(e.answer.probability, 3)})`,
        explained: `${x.position}: ${x.label}`,
        words: x.words,
        marked: new Set([...new Set(x.tokens.slice(e.answer.start, e.answer.end + 1).map((t) => t.word))]),
        ...withInteractions(x),
      }));
  }
}

/** NER: one row per entity (its tokens' explanations summed), then explained tokens outside entities. */
function nerRows(e: NerExplanation, options: VisualizeTextOptions): Row[] {
  const byToken = new Map(e.explanations.map((x) => [x.position as number, x]));
  const used = new Set<number>();
  const rows: Row[] = [];
  for (const entity of e.entities) {
    const parts = entity.tokens.map((t) => byToken.get(t)).filter((x): x is LabelExplanation => !!x);
    if (parts.length === 0) continue;
    for (const p of parts) used.add(p.position as number);
    const words = parts[0]!.words.map((w, k) => ({
      ...w,
      score: parts.reduce((a, p) => a + p.words[k]!.score, 0),
    }));
    rows.push({
      trueLabel: trueAt(options.trueLabel, rows.length),
      predicted: `${entity.label}: ${entity.text} (${fmt(entity.score, 3)})`,
      explained: parts.map((p) => `${p.label} @ ${p.tokens[p.position as number]!.token}`).join(" + "),
      words,
      marked: new Set(entity.words),
      ...(parts.length === 1 ? withInteractions(parts[0]!) : {}),
    });
  }
  for (const x of e.explanations) {
    if (used.has(x.position as number)) continue;
    const token = x.tokens[x.position as number]!;
    const p = e.predictions[x.position as number]!;
    rows.push({
      trueLabel: trueAt(options.trueLabel, rows.length),
      predicted: `${p.label} (${fmt(p.probability, 3)})`,
      explained: `${x.label} @ ${token.token}`,
      words: x.words,
      marked: new Set(token.word >= 0 ? [token.word] : []),
      ...withInteractions(x),
    });
  }
  return rows;
}

function heading(e: TextTaskExplanation): string {
  switch (e.task) {
    case "qa":
      return `Question: “${e.question}” — context: “${e.context}”`;
    case "classification":
      return "Text classification";
    default:
      return `“${e.text}”`;
  }
}

function meta(e: TextTaskExplanation): string {
  const deltas =
    e.task === "classification" ? [e.delta] : e.explanations.map((x: LabelExplanation) => x.delta);
  const worst = Math.max(0, ...deltas.map(Math.abs));
  const extra =
    e.task === "zero-shot"
      ? ` Template “${escapeHtml(e.template)}”, ${e.multiLabel ? "multi-label" : "single-label"}.`
      : e.task === "multi-label"
        ? ` Explained: each label's ${e.score}.`
        : "";
  return `<p class="meta">Integrated Gradients at the ${escapeHtml(e.embedding)} embeddings (<code>${escapeHtml(e.layer)}</code>), ${e.steps} steps (${e.method}); largest |completeness delta| ${fmt(worst, 2)}.${extra}</p>${e.warnings.map((w) => `<p class="meta">⚠ ${escapeHtml(w)}</p>`).join("")}`;
}

/** Report sections for one result of a text explainer. */
export function textTaskSections(
  e: TextTaskExplanation,
  options: VisualizeTextOptions = {},
): ReportSection[] {
  const rows = rowsOf(e, options);
  const inter = interactionBlocks(rows);
  return [
    {
      heading: heading(e),
      html: `${meta(e)}${table(rows)}${inter ? `<h3>Word-pair interactions</h3><div class="grid">${inter}</div>` : ""}`,
    },
  ];
}

/** A complete self-contained HTML report of one (or several) text explanations. */
export function visualizeText(
  results: TextTaskExplanation | TextTaskExplanation[],
  options: VisualizeTextOptions = {},
): string {
  const list = Array.isArray(results) ? results : [results];
  const title =
    options.title ??
    `${{ classification: "Text classification", "multi-label": "Multi-label classification", "zero-shot": "Zero-shot classification", ner: "Token classification", qa: "Question answering" }[list[0]?.task ?? "classification"]} explained`;
  return reportPage(
    title,
    list.flatMap((r) => textTaskSections(r, options)),
  );
}
