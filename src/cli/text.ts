/**
 * `pathlens text`: explains a text classifier's prediction word by word (Integrated Gradients at
 * the word embeddings), or with `--task` a multi-label, zero-shot, token-classification or
 * question-answering model, with an optional self-contained HTML report.
 */

import { QUADRATURE_METHODS, type QuadratureMethod } from "../attribution/quadrature.js";
import { assertModelSupported } from "../autodiff/op-support.js";
import { explainText } from "../explain/text.js";
import type { TextAttributionOptions } from "../explain/text-attribution.js";
import { EMBEDDING_CHOICES } from "../explain/text-embeddings.js";
import { loadTextModel } from "../explain/text-model.js";
import { explainMultiLabel } from "../explain/text-multi-label.js";
import { explainNer } from "../explain/text-ner.js";
import { explainQa } from "../explain/text-qa.js";
import { explainZeroShot } from "../explain/text-zero-shot.js";
import { writeNpyFiles } from "../io/npy.js";
import { renderReport } from "../viz/report.js";
import { type TextTaskExplanation, visualizeText } from "../viz/text-tasks.js";
import { CliError, type CommandSpec, type ParsedArgs, UsageError } from "./args.js";
import { backendFor, DEVICE_OPTION } from "./device.js";
import { progressReporter } from "./progress-line.js";

/** The tasks of `--task`. */
export const TEXT_TASKS = ["multi-label", "zero-shot", "ner", "qa"] as const;

/** The declaration of `pathlens text`. */
export const textCommand: CommandSpec = {
  name: "text",
  summary:
    "Explain a text model (a Hugging Face / Optimum folder) word by word: classification, or --task multi-label / zero-shot / ner / qa",
  positionals: [
    { name: "model", help: "model folder (model.onnx, tokenizer.json, config.json) or model.onnx" },
    { name: "text", help: "the text to explain" },
  ],
  options: {
    device: DEVICE_OPTION,
    "text-pair": { type: "string", value: "TEXT", help: "second text of a pair" },
    tokenizer: {
      type: "string",
      value: "tokenizer.json",
      help: "tokenizer file (default: next to the model)",
    },
    target: { type: "string", value: "N|LABEL", help: "class to explain (default: the predicted one)" },
    steps: {
      type: "string",
      value: "N|auto",
      help: "quadrature points (default 50), or auto (until --tolerance)",
    },
    tolerance: {
      type: "string",
      value: "T",
      help: "with --steps auto: |delta| ≤ T·|F(x) − F(x')| (default 1e-3)",
    },
    method: { type: "string", value: "RULE", help: QUADRATURE_METHODS.join("|") },
    "baseline-token": { type: "string", value: "pad|unk|mask", help: "token of the baseline (default pad)" },
    task: { type: "string", value: TEXT_TASKS.join("|"), help: "explain another task than classification" },
    labels: {
      type: "string",
      value: "L1,L2,…",
      help: "multi-label: labels to explain (default all); zero-shot: the candidate labels; ner: the label to explain",
    },
    template: {
      type: "string",
      value: "T",
      help: 'zero-shot hypothesis, {} = the label (default "This example is {}.")',
    },
    "multi-label": { type: "boolean", help: "zero-shot: candidates are independent (default: they compete)" },
    score: {
      type: "string",
      value: "KIND",
      help: "multi-label: logit|probability; zero-shot: entailment|entailment-vs-contradiction",
    },
    question: { type: "string", value: "TEXT", help: "qa: the question (<text> is the context)" },
    answer: {
      type: "string",
      value: "TEXT",
      help: "qa: explain this answer (text in the context) instead of the predicted one",
    },
    "ignored-labels": { type: "string", value: "L1,L2", help: 'ner: labels not explained (default "O")' },
    "ignored-indexes": { type: "string", value: "I1,I2", help: "ner: token indices not explained" },
    embedding: {
      type: "string",
      value: EMBEDDING_CHOICES.join("|"),
      help: "embeddings to attribute to (default word; all: the three summed per token)",
    },
    interactions: {
      type: "boolean",
      help: "also token-pair Integrated Hessians (interactions in the JSON and report)",
    },
    "interaction-steps": {
      type: "string",
      value: "N",
      help: "Integrated Hessians points per axis (default 16)",
    },
    layer: { type: "string", value: "TENSOR", help: "attribute here instead of the word embeddings" },
    truncate: { type: "boolean", help: "explain the start of a text longer than the model's maximum" },
    report: { type: "boolean", help: "also write DIR/report.html" },
    json: { type: "boolean", help: "print the explanation as JSON" },
    quiet: { type: "boolean", help: "no progress bar" },
    out: { type: "string", short: "o", required: true, value: "DIR", help: "output folder" },
  },
  notes:
    "Writes DIR/attributions.json (tokens, words, scores, delta, prediction; with --task: explanations, each with label, position, tokens, words, delta) and, with --report, DIR/report.html.",
};

function list(v: string | undefined): string[] | undefined {
  return v === undefined
    ? undefined
    : v
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean);
}

function positiveInt(args: ParsedArgs, name: string): number | undefined {
  const v = args.string(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(Number.isInteger(n) && n >= 1))
    throw new UsageError(`--${name} must be a positive integer`, textCommand);
  return n;
}

function oneOf<T extends string>(args: ParsedArgs, name: string, allowed: readonly T[]): T | undefined {
  const v = args.string(name);
  if (v !== undefined && !(allowed as readonly string[]).includes(v))
    throw new UsageError(`--${name} must be one of ${allowed.join(", ")}`, textCommand);
  return v as T | undefined;
}

/** Flags that only some tasks read: naming one with another task is a usage error. */
const TASK_FLAGS: Record<string, readonly string[]> = {
  labels: ["multi-label", "zero-shot", "ner"],
  template: ["zero-shot"],
  "multi-label": ["zero-shot"],
  score: ["multi-label", "zero-shot"],
  question: ["qa"],
  answer: ["qa"],
  "ignored-labels": ["ner"],
  "ignored-indexes": ["ner"],
};

/** Runs one task explainer from the parsed flags. */
async function runTask(
  task: (typeof TEXT_TASKS)[number],
  tm: Awaited<ReturnType<typeof loadTextModel>>,
  text: string,
  args: ParsedArgs,
  common: TextAttributionOptions & { truncate: boolean },
): Promise<TextTaskExplanation> {
  for (const [flag, tasks] of Object.entries(TASK_FLAGS)) {
    const given = flag === "multi-label" ? args.flag(flag) : args.string(flag) !== undefined;
    if (given && !tasks.includes(task))
      throw new UsageError(`--${flag} applies to --task ${tasks.join(" / ")}, not ${task}`, textCommand);
  }
  const labels = list(args.string("labels"));
  switch (task) {
    case "multi-label":
      return explainMultiLabel(tm, text, {
        ...common,
        labels,
        score: oneOf(args, "score", ["logit", "probability"] as const),
      });
    case "zero-shot":
      if (!labels?.length)
        throw new UsageError("--task zero-shot needs --labels (the candidate labels)", textCommand);
      return explainZeroShot(tm, text, labels, {
        ...common,
        template: args.string("template"),
        multiLabel: args.flag("multi-label"),
        score: oneOf(args, "score", ["entailment", "entailment-vs-contradiction"] as const),
      });
    case "ner": {
      if (labels && labels.length > 1)
        throw new UsageError("--task ner explains one --labels label", textCommand);
      const indexes = list(args.string("ignored-indexes"))?.map(Number);
      if (indexes?.some((i) => !Number.isInteger(i) || i < 0))
        throw new UsageError("--ignored-indexes must be token indices (0, 1, …)", textCommand);
      return explainNer(tm, text, {
        ...common,
        label: labels?.[0],
        ignoredLabels: list(args.string("ignored-labels")),
        ignoredIndexes: indexes,
      });
    }
    case "qa": {
      const question = args.string("question");
      if (question === undefined)
        throw new UsageError("--task qa needs --question (<text> is the context)", textCommand);
      return explainQa(tm, question, text, { ...common, answer: args.string("answer") });
    }
  }
}

/** Runs `pathlens text`. */
export async function runText(args: ParsedArgs): Promise<string[]> {
  const text = args.positionals.text!;
  const task = oneOf(args, "task", TEXT_TASKS);
  const method = oneOf(args, "method", QUADRATURE_METHODS);
  const steps = args.string("steps") === "auto" ? ("auto" as const) : positiveInt(args, "steps");
  const tolerance = args.string("tolerance") === undefined ? undefined : Number(args.string("tolerance"));
  if (tolerance !== undefined && !(tolerance > 0))
    throw new UsageError("--tolerance must be a positive number", textCommand);
  if (tolerance !== undefined && steps !== "auto")
    throw new UsageError("--tolerance needs --steps auto", textCommand);
  const interactionSteps = positiveInt(args, "interaction-steps");
  const bt = oneOf(args, "baseline-token", ["pad", "unk", "mask"] as const);
  const embedding = oneOf(args, "embedding", EMBEDDING_CHOICES);
  if (
    task &&
    (args.string("text-pair") !== undefined || args.string("target") !== undefined || args.string("layer"))
  )
    throw new UsageError(
      "--text-pair, --target and --layer are for classification (without --task)",
      textCommand,
    );
  if (!task)
    for (const flag of Object.keys(TASK_FLAGS)) {
      const given = flag === "multi-label" ? args.flag(flag) : args.string(flag) !== undefined;
      if (given)
        throw new UsageError(`--${flag} needs --task (${TASK_FLAGS[flag]!.join(" / ")})`, textCommand);
    }
  const tm = await loadTextModel(args.positionals.model!, args.string("tokenizer"));
  assertModelSupported(tm.model, args.positionals.model!);
  const t = args.string("target");
  const progress = progressReporter({ quiet: args.flag("quiet") || args.flag("json"), label: "text" });
  const common = {
    backend: backendFor(args),
    steps,
    tolerance,
    method: method as QuadratureMethod | undefined,
    baselineToken: bt,
    embedding,
    interactions: args.flag("interactions"),
    interactionSteps,
    truncate: args.flag("truncate"),
    onProgress: (p: { done: number; total: number }) => progress.update(p.done, p.total),
  };
  let e: TextTaskExplanation;
  try {
    e = task
      ? await runTask(task, tm, text, args, common)
      : await explainText(tm, text, {
          ...common,
          textPair: args.string("text-pair"),
          target: t === undefined ? undefined : /^\d+$/.test(t) ? Number(t) : t,
          layer: args.string("layer"),
        });
  } catch (err) {
    if ((err as Error).name === "TextExplainError" && /at most/.test((err as Error).message)) {
      throw new CliError(`${(err as Error).message}; pass --truncate to explain its beginning`);
    }
    throw err;
  } finally {
    progress.done();
  }
  for (const w of e.warnings) process.stderr.write(`pathlens: warning: ${w}\n`);
  const json = e.task === "classification" ? { text, textPair: args.string("text-pair"), ...e } : e;
  const files: Record<string, string> = { "attributions.json": `${JSON.stringify(json, null, 2)}\n` };
  if (args.flag("report"))
    files["report.html"] =
      e.task === "classification" && !e.interactions ? renderReport(e, { text }) : visualizeText(e);
  const written = await writeNpyFiles(args.string("out")!, files);
  if (args.flag("json")) return [JSON.stringify(json)];
  return [...summaryLines(e), ...written.map((p) => `wrote ${p}`)];
}

function wordsLine(words: { word: string; score: number }[]): string {
  return words.map((w) => `${w.word}(${w.score >= 0 ? "+" : ""}${w.score.toFixed(3)})`).join(" ");
}

/** What the terminal shows: the prediction, then one line of words per explanation. */
function summaryLines(e: TextTaskExplanation): string[] {
  if (e.task === "classification")
    return [
      `prediction ${e.prediction.label} (p = ${e.prediction.probability.toFixed(3)}); explaining ${e.target.label}; delta ${e.delta.toExponential(1)}`,
      wordsLine(e.words),
    ];
  const head =
    e.task === "qa"
      ? `answer "${e.answer.text}" (p = ${e.answer.probability.toFixed(3)})`
      : e.task === "ner"
        ? `entities: ${e.entities.map((x) => `${x.text} (${x.label})`).join(", ") || "none"}`
        : e.task === "zero-shot"
          ? `predicted ${e.predicted}; ${e.predictions.map((p) => `${p.label} ${p.probability.toFixed(3)}`).join(", ")}`
          : `labels ${e.predictions.map((p) => `${p.label} ${p.probability.toFixed(3)}`).join(", ")}`;
  return [
    head,
    ...e.explanations.map(
      (x) =>
        `${x.label}${x.position !== undefined ? ` @ ${x.position}` : ""} (delta ${x.delta.toExponential(1)}): ${wordsLine(x.words)}`,
    ),
  ];
}
