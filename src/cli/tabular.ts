/**
 * `pathlens tabular`: explains a model on the rows of a CSV table (header = feature names).
 */
import { explainTabular } from "../explain/tabular.js";
import { readNumericCsv } from "../io/csv.js";
import { writeNpyFiles } from "../io/npy.js";
import { float32 } from "../tensor/tensor.js";
import { renderReport } from "../viz/report.js";
import { featureRanking } from "../viz/tabular.js";
import { CliError, type CommandSpec, type ParsedArgs, UsageError } from "./args.js";
import { loadCheckedModel } from "./check.js";
import { backendFor, DEVICE_OPTION } from "./device.js";
import { progressReporter } from "./progress-line.js";

/** The declaration of `pathlens tabular`. */
export const tabularCommand: CommandSpec = {
  name: "tabular",
  summary: "Explain a model on the rows of a CSV table (header = feature names)",
  positionals: [
    { name: "model.onnx", help: "a model taking [rows, features]" },
    { name: "data.csv", help: "numeric table with a header row" },
  ],
  options: {
    device: DEVICE_OPTION,
    target: { type: "string", value: "N", help: "output index (default 0)" },
    baseline: { type: "string", value: "zero|mean|FILE.csv", help: "baseline row (default zero)" },
    steps: { type: "string", value: "N", help: "quadrature points (default 50)" },
    report: { type: "boolean", help: "also write DIR/report.html" },
    json: { type: "boolean", help: "print the summary as JSON" },
    quiet: { type: "boolean", help: "no progress bar" },
    out: { type: "string", short: "o", required: true, value: "DIR", help: "output folder" },
  },
  notes:
    "Writes DIR/attributions.npy (rows × features), DIR/attributions.csv, DIR/summary.json and, with --report, DIR/report.html.",
};

/** Runs `pathlens tabular`. */
export async function runTabular(args: ParsedArgs): Promise<string[]> {
  const model = await loadCheckedModel(args.positionals["model.onnx"]!);
  const table = await readNumericCsv(args.positionals["data.csv"]!);
  const b = args.string("baseline") ?? "zero";
  let baseline: "zero" | "mean" | number[] = "zero";
  if (b === "mean" || b === "zero") baseline = b;
  else {
    const t = await readNumericCsv(b);
    if (t.header.join(",") !== table.header.join(","))
      throw new CliError(`${b}: its columns differ from ${args.positionals["data.csv"]}`);
    baseline = Array.from(t.values.subarray(0, t.header.length));
  }
  const target = args.string("target");
  if (target !== undefined && !/^\d+$/.test(target))
    throw new UsageError("--target must be an output index", tabularCommand);
  const steps = args.string("steps") === undefined ? undefined : Number(args.string("steps"));
  if (steps !== undefined && !(Number.isInteger(steps) && steps > 0))
    throw new UsageError("--steps must be a positive integer", tabularCommand);
  const progress = progressReporter({ quiet: args.flag("quiet") || args.flag("json"), label: "tabular" });
  let e: Awaited<ReturnType<typeof explainTabular>>;
  try {
    e = await explainTabular(model, table, {
      backend: backendFor(args),
      target: target === undefined ? undefined : Number(target),
      baseline,
      steps,
      onProgress: (p) => progress.update(p.done, p.total),
    });
  } finally {
    progress.done();
  }
  const d = e.features.length;
  const csv = [
    e.features.join(","),
    ...Array.from({ length: e.rows }, (_, r) =>
      Array.from(e.attributions.subarray(r * d, (r + 1) * d), (v) => v.toPrecision(8)).join(","),
    ),
  ].join("\n");
  const ranking = featureRanking(e)
    .slice(0, 10)
    .map((j) => e.features[j]);
  const summary = {
    rows: e.rows,
    features: d,
    topFeatures: ranking,
    steps: e.steps,
    delta: Array.from(e.delta),
    outputAtInput: Array.from(e.outputAtInput),
    outputAtBaseline: Array.from(e.outputAtBaseline),
  };
  const files: Record<string, string | ReturnType<typeof float32>> = {
    "attributions.npy": float32([e.rows, d], e.attributions),
    "attributions.csv": `${csv}\n`,
    "summary.json": `${JSON.stringify(summary, null, 2)}\n`,
  };
  if (args.flag("report")) files["report.html"] = renderReport(e, { name: args.positionals["data.csv"]! });
  const written = await writeNpyFiles(args.string("out")!, files);
  if (args.flag("json")) return [JSON.stringify(summary)];
  return [
    `${e.rows} rows × ${d} features; most important: ${ranking.slice(0, 5).join(", ")}`,
    ...written.map((p) => `wrote ${p}`),
  ];
}
