/**
 * Text explanations as HTML: words highlighted by attribution (PuOr), a legend, and a token
 * table; every word carries its value (title on hover, data-value for tools and tests).
 */
import type { TextExplanation } from "../explain/text.js";
import {
  divergingColor,
  escapeHtml,
  fmt,
  legendSvg,
  type ReportSection,
  readableTextColor,
  reportPage,
} from "./html.js";

/** The highlighted words of one explanation. */
export function highlightedWords(e: TextExplanation, level: "words" | "tokens" = "words"): string {
  const items =
    level === "words"
      ? e.words.map((w) => ({ text: w.word, score: w.score }))
      : e.tokens.map((t) => ({ text: t.token, score: t.score }));
  const max = Math.max(1e-12, ...items.map((i) => Math.abs(i.score)));
  const spans = items.map((i, k) => {
    const fill = divergingColor(i.score, max);
    return `<span class="tok" data-index="${k}" data-value="${i.score}" style="background:${fill};color:${readableTextColor(fill)}" title="${escapeHtml(i.text)}: ${fmt(i.score, 4)}">${escapeHtml(i.text)}</span>`;
  });
  return `<p class="tokens" data-level="${level}">${spans.join(" ")}</p>${legendSvg(max)}`;
}

/**
 * The summary line of transformers-interpret's visualisation: true label (when known), predicted
 * label, explained label, attribution score (the sum of the word attributions) and the words.
 */
export function textSummaryTable(e: TextExplanation, trueLabel?: string): string {
  const score = e.words.reduce((s, w) => s + w.score, 0);
  return `<table class="summary"><tr><th class="name">True label</th><th class="name">Predicted label</th><th class="name">Attribution label</th><th>Attribution score</th><th class="name">Word importance</th></tr>
<tr><td class="name" data-field="true-label">${escapeHtml(trueLabel ?? "—")}</td><td class="name" data-field="predicted">${escapeHtml(e.prediction.label)} (${fmt(e.prediction.probability, 2)})</td><td class="name" data-field="explained">${escapeHtml(e.target.label)}</td><td data-field="attribution-score" data-value="${score}">${fmt(score, 3)}</td><td class="name">${highlightedWords(
    e,
    "words",
  )
    .replace(/<svg[\s\S]*<\/svg>$/, "")
    .replace('data-level="words"', 'data-level="summary"')}</td></tr></table>`;
}

/** Report sections for one explanation (`trueLabel`: the known class, for the summary line). */
export function textSections(text: string, e: TextExplanation, trueLabel?: string): ReportSection[] {
  const rows = e.tokens
    .map(
      (t) =>
        `<tr><td class="name">${escapeHtml(t.token)}</td><td>${t.id}</td><td>${fmt(t.score, 4)}</td></tr>`,
    )
    .join("");
  const warn = e.warnings.map((w) => `<p class="meta">⚠ ${escapeHtml(w)}</p>`).join("");
  return [
    {
      heading: `“${text}”`,
      html: `${textSummaryTable(e, trueLabel)}<p>Prediction: <strong>${escapeHtml(e.prediction.label)}</strong> (p = ${fmt(e.prediction.probability, 3)}); explained class: <strong>${escapeHtml(e.target.label)}</strong> (p = ${fmt(e.target.probability, 3)}).</p>
<p class="meta">Integrated Gradients at <code>${escapeHtml(e.layer)}</code>, ${e.steps} steps (${e.method}); F(x) − F(baseline) = ${fmt(e.outputAtInput - e.outputAtBaseline, 4)}; completeness delta ${fmt(e.delta, 2)}.</p>
${warn}
<h3>Words</h3>${highlightedWords(e, "words")}
<details><summary>Tokens</summary>${highlightedWords(e, "tokens")}<table><tr><th class="name">token</th><th>id</th><th>attribution</th></tr>${rows}</table></details>`,
    },
  ];
}

/** A complete report for several explained texts. */
export function textReport(
  title: string,
  items: { text: string; explanation: TextExplanation; trueLabel?: string }[],
): string {
  return reportPage(
    title,
    items.flatMap((i) => textSections(i.text, i.explanation, i.trueLabel)),
  );
}
