/**
 * `pathlens text`: explains a text classifier's prediction word by word (Integrated Gradients at
 * the word embeddings), with an optional self-contained HTML report.
 */
import { QUADRATURE_METHODS, type QuadratureMethod } from "../attribution/quadrature.js";
import { writeNpyFiles } from "../io/npy.js";
import { explainText } from "../text/explain-text.js";
import { loadTextModel } from "../text/model-folder.js";
import { renderReport } from "../viz/report.js";
import { CliError, type CommandSpec, type ParsedArgs, UsageError } from "./args.js";
import { backendFor, DEVICE_OPTION } from "./device.js";
import { progressReporter } from "./progress-line.js";

/** The declaration of `pathlens text`. */
export const textCommand: CommandSpec = {
  name: "text",
  summary: "Explain a text classifier (a Hugging Face / Optimum model folder) word by word",
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
    steps: { type: "string", value: "N", help: "quadrature points (default 50)" },
    method: { type: "string", value: "RULE", help: QUADRATURE_METHODS.join("|") },
    "baseline-token": { type: "string", value: "pad|unk|mask", help: "token of the baseline (default pad)" },
    layer: { type: "string", value: "TENSOR", help: "attribute here instead of the word embeddings" },
    truncate: { type: "boolean", help: "explain the start of a text longer than the model's maximum" },
    report: { type: "boolean", help: "also write DIR/report.html" },
    json: { type: "boolean", help: "print the explanation as JSON" },
    quiet: { type: "boolean", help: "no progress bar" },
    out: { type: "string", short: "o", required: true, value: "DIR", help: "output folder" },
  },
  notes:
    "Writes DIR/attributions.json (tokens, words, scores, delta, prediction) and, with --report, DIR/report.html.",
};

/** Runs `pathlens text`. */
export async function runText(args: ParsedArgs): Promise<string[]> {
  const text = args.positionals.text!;
  const tm = await loadTextModel(args.positionals.model!, args.string("tokenizer"));
  const method = args.string("method");
  if (method !== undefined && !(QUADRATURE_METHODS as readonly string[]).includes(method)) {
    throw new UsageError(`--method must be one of ${QUADRATURE_METHODS.join(", ")}`, textCommand);
  }
  const steps = args.string("steps") === undefined ? undefined : Number(args.string("steps"));
  if (steps !== undefined && !(Number.isInteger(steps) && steps >= 1))
    throw new UsageError("--steps must be a positive integer", textCommand);
  const bt = args.string("baseline-token");
  if (bt !== undefined && !["pad", "unk", "mask"].includes(bt))
    throw new UsageError("--baseline-token must be pad, unk or mask", textCommand);
  const t = args.string("target");
  const progress = progressReporter({ quiet: args.flag("quiet") || args.flag("json"), label: "text" });
  let e: Awaited<ReturnType<typeof explainText>>;
  try {
    e = await explainText(tm, text, {
      backend: backendFor(args),
      textPair: args.string("text-pair"),
      target: t === undefined ? undefined : /^\d+$/.test(t) ? Number(t) : t,
      steps,
      method: method as QuadratureMethod | undefined,
      baselineToken: bt as "pad" | "unk" | "mask" | undefined,
      layer: args.string("layer"),
      truncate: args.flag("truncate"),
      onProgress: (p) => progress.update(p.done, p.total),
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
  const json = { text, textPair: args.string("text-pair"), ...e };
  const files: Record<string, string> = { "attributions.json": `${JSON.stringify(json, null, 2)}\n` };
  if (args.flag("report")) files["report.html"] = renderReport(e, { text });
  const written = await writeNpyFiles(args.string("out")!, files);
  if (args.flag("json")) return [JSON.stringify(json)];
  const words = e.words.map((w) => `${w.word}(${w.score >= 0 ? "+" : ""}${w.score.toFixed(3)})`).join(" ");
  return [
    `prediction ${e.prediction.label} (p = ${e.prediction.probability.toFixed(3)}); explaining ${e.target.label}; delta ${e.delta.toExponential(1)}`,
    words,
    ...written.map((p) => `wrote ${p}`),
  ];
}
