/**
 * `pathlens evaluate`: how faithful and stable an attribution is — infidelity, max-sensitivity,
 * deletion / insertion curves — or a comparison of several methods on the same inputs with a
 * report. Outputs appear only when the whole run succeeded.
 */
import type { ImageLayout } from "../attribution/blur-ig.js";
import { imageLayout } from "../attribution/blur-ig.js";
import { deletionCurve, insertionCurve } from "../attribution/metrics/curves.js";
import {
  explanationFunction,
  type MethodSettings,
  PATH_METHODS,
  type PathMethod,
} from "../attribution/metrics/explainers.js";
import { infidelity } from "../attribution/metrics/infidelity.js";
import { sensitivityMax } from "../attribution/metrics/sensitivity.js";
import { xrai } from "../attribution/xrai.js";
import { compareAttributions, mean } from "../explain/compare.js";
import { writeNpyFiles } from "../io/npy.js";
import { nodeBackend } from "../runtime/node.js";
import { castFloat, shapeString, type Tensor, tensor } from "../tensor/tensor.js";
import { comparisonReport } from "../viz/compare.js";
import { CliError, type CommandSpec, type ParsedArgs, UsageError } from "./args.js";
import {
  numberOption,
  positiveInteger,
  readBaseline,
  readFloatFile,
  readModelAndInputs,
  readTarget,
} from "./paths-args.js";

const METRICS = ["infidelity", "sensitivity-max", "deletion", "insertion"] as const;

/** The declaration of `pathlens evaluate`. */
export const evaluateCommand: CommandSpec = {
  name: "evaluate",
  summary:
    "faithfulness metrics of attributions (infidelity, sensitivity-max, deletion/insertion), or a comparison of methods",
  positionals: [{ name: "model.onnx", help: "the ONNX model" }],
  options: {
    input: {
      type: "string",
      multiple: true,
      required: true,
      value: "[NAME=]FILE.npy",
      help: "the explained input",
    },
    extra: { type: "string", multiple: true, value: "NAME=FILE.npy", help: "input passed through unchanged" },
    target: {
      type: "string",
      value: "N|FILE.npy",
      help: "class index, per-example indices (int .npy) or output weights",
    },
    output: { type: "string", value: "NAME", help: "output to explain (default: the first)" },
    metric: { type: "string", value: METRICS.join("|"), help: "the metric to compute" },
    attributions: {
      type: "string",
      value: "FILE.npy",
      help: "infidelity, deletion, insertion: the attributions (shaped like the input)",
    },
    noise: {
      type: "string",
      value: "FILE.npy",
      help: "explicit perturbations, (N·n, …): sample k of example i at row i·n + k",
    },
    normalize: { type: "boolean", help: "infidelity: rescale the attributions by the best β first" },
    baseline: {
      type: "string",
      value: "zero|NUMBER|FILE.npy",
      help: "infidelity: Captum's baseline-scaled perturbation; sensitivity-max, compare: the methods' baseline",
    },
    method: {
      type: "string",
      value: PATH_METHODS.join("|"),
      help: "sensitivity-max: the explanation method (default ig)",
    },
    steps: { type: "string", value: "N", help: "steps of the explanation method (IG default 50)" },
    samples: { type: "string", value: "N", help: "perturbations per example without --noise (default 10)" },
    radius: {
      type: "string",
      value: "R",
      help: "sensitivity-max: uniform noise radius without --noise (default 0.02)",
    },
    stdev: {
      type: "string",
      value: "S",
      help: "infidelity: Gaussian noise stdev without --noise (default 0.1)",
    },
    seed: { type: "string", value: "S", help: "seed of generated noise (default 0)" },
    fill: {
      type: "string",
      value: "NUMBER|blur:SIGMA",
      help: "deletion, insertion, compare: what removed features become (default 0)",
    },
    "curve-steps": {
      type: "string",
      value: "K",
      help: "deletion, insertion: points on the curve (default min(features, 32))",
    },
    softmax: {
      type: "boolean",
      help: "deletion, insertion, compare: score the softmax probability instead of the raw output",
    },
    "group-axis": {
      type: "string",
      value: "A",
      help: "deletion, insertion: rank whole pixels over this axis of one example (e.g. 0 for C of C,H,W)",
    },
    compare: {
      type: "string",
      value: "M1,M2,…",
      help: `compare methods (${PATH_METHODS.join(", ")}) on the same inputs`,
    },
    "no-sensitivity": { type: "boolean", help: "compare: skip max-sensitivity (it reruns every method)" },
    layout: {
      type: "string",
      value: "NCHW|NHWC|NHW",
      help: "image layout for blur fills, Blur IG and the report's maps",
    },
    report: { type: "boolean", help: "compare: also write report.html (table, curves, maps)" },
    json: { type: "boolean", help: "print the summary as JSON on stdout" },
    quiet: { type: "boolean", help: "no progress output" },
    out: { type: "string", required: true, value: "DIR", help: "output folder; created if missing" },
  },
  notes: [
    "Writes DIR/infidelity.npy or DIR/sensitivity.npy (one value per example), DIR/deletion.npy and",
    "DIR/deletion_auc.npy (insertion likewise), or with --compare DIR/comparison.json,",
    "DIR/attributions_<method>.npy and with --report DIR/report.html; plus DIR/summary.json.",
  ].join("\n"),
};

function parseFill(v: string | undefined): number | { blur: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^blur:(.+)$/.exec(v);
  const n = Number(m ? m[1] : v);
  if (v.trim() === "" || !Number.isFinite(n) || (m && !(n > 0))) {
    throw new UsageError(`--fill must be a number or blur:SIGMA, got "${v}"`, evaluateCommand);
  }
  return m ? { blur: n } : n;
}

/** Runs `pathlens evaluate`; returns the lines to print. */
export async function runEvaluate(args: ParsedArgs): Promise<string[]> {
  const started = performance.now();
  const spec = evaluateCommand;
  const metric = args.string("metric");
  const compare = args.string("compare");
  if ((metric === undefined) === (compare === undefined))
    throw new UsageError("give --metric or --compare (one of them)", spec);
  if (metric !== undefined && !(METRICS as readonly string[]).includes(metric)) {
    throw new UsageError(`--metric must be one of ${METRICS.join(", ")}, got "${metric}"`, spec);
  }
  if (args.flag("report") && !compare) throw new UsageError("--report applies to --compare", spec);
  const { model, modelPath, name, x, extra } = await readModelAndInputs(args, spec);
  const target = await readTarget(args.string("target"), spec);
  const layout = args.string("layout") as ImageLayout | undefined;
  if (layout !== undefined && !["NCHW", "NHWC", "NHW"].includes(layout))
    throw new UsageError(`--layout must be NCHW, NHWC or NHW, got "${layout}"`, spec);
  const backend = nodeBackend();
  const common = { backend, inputs: { [name]: x }, extra, target, output: args.string("output") };
  const steps = numberOption(args, "steps", spec, positiveInteger);
  const samples = numberOption(args, "samples", spec, positiveInteger);
  const seed = numberOption(args, "seed", spec, Number.isInteger);
  const noise = await readFloatFile(args, "noise");
  const attributions = await readFloatFile(args, "attributions");
  const methodName = args.string("method") ?? "ig";
  if (!(PATH_METHODS as readonly string[]).includes(methodName))
    throw new UsageError(`--method must be one of ${PATH_METHODS.join(", ")}, got "${methodName}"`, spec);
  const baselineRaw = args.string("baseline");
  const baselines = baselineRaw === undefined ? undefined : await readBaseline(baselineRaw, spec);
  const settings: Partial<MethodSettings> = { baselines, steps, chunkSize: undefined };
  const files: Record<string, Tensor | string> = {};
  const summary: Record<string, unknown> = { model: modelPath, input: name, shape: x.dims };
  const lines: string[] = [];
  const needAttributions = () => {
    if (!attributions) throw new UsageError(`--metric ${metric} needs --attributions FILE.npy`, spec);
    if (attributions.data.length !== x.data.length) {
      throw new CliError(
        `--attributions of shape ${shapeString(attributions.dims)} do not fit the input "${name}" of shape ${shapeString(x.dims)}`,
      );
    }
    return attributions;
  };
  if (metric === "infidelity") {
    const v = await infidelity(model, {
      ...common,
      attributions: needAttributions(),
      noise,
      samples,
      stdev: numberOption(args, "stdev", spec, (n) => n > 0),
      seed,
      baselines,
      normalize: args.flag("normalize"),
    });
    files["infidelity.npy"] = tensor("float64", [v.length], v);
    Object.assign(summary, {
      metric,
      normalize: args.flag("normalize"),
      infidelity: Array.from(v),
      mean: mean(v),
    });
    lines.push(`infidelity: mean ${mean(v).toExponential(3)} over ${v.length} example(s)`);
  } else if (metric === "sensitivity-max") {
    const explain = explanationFunction(
      model,
      methodName as PathMethod,
      { ...settings, backend, name, extra, target, output: args.string("output") },
      x.dims[0]!,
    );
    const r = await sensitivityMax(explain, {
      input: x,
      noise,
      samples,
      radius: numberOption(args, "radius", spec, (n) => n > 0),
      seed,
    });
    files["sensitivity.npy"] = tensor("float64", [r.sensitivity.length], r.sensitivity);
    files["sensitivity_per_sample.npy"] = tensor(
      "float64",
      [x.dims[0]!, r.perSample.length / x.dims[0]!],
      r.perSample,
    );
    Object.assign(summary, {
      metric,
      method: methodName,
      steps,
      sensitivity: Array.from(r.sensitivity),
      mean: mean(r.sensitivity),
    });
    lines.push(
      `sensitivity-max (${methodName}): mean ${mean(r.sensitivity).toExponential(3)} over ${r.sensitivity.length} example(s)`,
    );
  } else if (metric === "deletion" || metric === "insertion") {
    const opts = {
      ...common,
      attributions: needAttributions(),
      fill: parseFill(args.string("fill")),
      steps: numberOption(args, "curve-steps", spec, positiveInteger),
      groupAxis: numberOption(args, "group-axis", spec, (n) => Number.isInteger(n) && n >= 0),
      softmax: args.flag("softmax"),
      layout,
    };
    const c = metric === "deletion" ? await deletionCurve(model, opts) : await insertionCurve(model, opts);
    files[`${metric}.npy`] = tensor("float64", [x.dims[0]!, c.fractions.length], c.scores);
    files[`${metric}_auc.npy`] = tensor("float64", [c.auc.length], c.auc);
    Object.assign(summary, { metric, fractions: c.fractions, auc: Array.from(c.auc), meanAuc: c.meanAuc });
    lines.push(`${metric} AUC: mean ${c.meanAuc.toExponential(3)} over ${c.auc.length} example(s)`);
  } else {
    const methods = compare!.split(",").map((m) => m.trim());
    for (const m of methods) {
      if (!(PATH_METHODS as readonly string[]).includes(m))
        throw new UsageError(`--compare: unknown method "${m}"; known: ${PATH_METHODS.join(", ")}`, spec);
    }
    const quiet = args.flag("quiet") || args.flag("json");
    const c = await compareAttributions(model, {
      ...common,
      methods: methods as PathMethod[],
      settings: { ...settings, ...(steps === undefined ? {} : { steps }) },
      curves: {
        fill: parseFill(args.string("fill")),
        steps: numberOption(args, "curve-steps", spec, positiveInteger),
        groupAxis: numberOption(args, "group-axis", spec, (n) => Number.isInteger(n) && n >= 0),
        softmax: args.flag("softmax"),
        layout,
      },
      infidelity: { samples, seed, stdev: numberOption(args, "stdev", spec, (n) => n > 0) },
      sensitivity: args.flag("no-sensitivity")
        ? false
        : { samples: samples ?? 4, seed, radius: numberOption(args, "radius", spec, (n) => n > 0) },
      onMethod: (m) => {
        if (!quiet) process.stderr.write(`pathlens: ${m}…\n`);
      },
    });
    const table = c.rows.map((r) => ({
      method: r.name,
      seconds: r.seconds,
      deletionAuc: r.deletion.meanAuc,
      insertionAuc: r.insertion.meanAuc,
      infidelity: r.infidelity && mean(r.infidelity),
      sensitivityMax: r.sensitivity && mean(r.sensitivity),
      sensitivitySeconds: r.sensitivitySeconds,
      relativeCompletenessGap: r.relativeGap,
    }));
    for (const r of c.rows) files[`attributions_${r.name}.npy`] = castFloat(r.attributions, "float32");
    files["comparison.json"] =
      `${JSON.stringify({ numExamples: c.numExamples, fill: c.fill, methods: table }, null, 2)}\n`;
    Object.assign(summary, { compare: methods, methods: table });
    if (args.flag("report")) {
      const image = x.dims.length === 4 || (x.dims.length === 3 && layout === "NHW");
      const imgLayout = image ? imageLayout(x.dims, layout) : undefined;
      const ig = c.rows.find((r) => r.method === "ig");
      const first = (t: Tensor) =>
        ({
          ...t,
          dims: [1, ...t.dims.slice(1)],
          data: t.data.subarray(0, t.data.length / t.dims[0]!),
        }) as Tensor;
      const regions =
        image && ig
          ? (
              await xrai(model, {
                ...common,
                inputs: { [name]: first(x) },
                extra: undefined,
                target: Array.isArray(target) ? [target[0]!] : target,
                attributions: first(ig.attributions),
                layout,
              })
            ).examples[0]
          : undefined;
      files["report.html"] = comparisonReport(
        `Attribution methods compared: ${modelPath.split("/").pop()}`,
        c,
        { model: modelPath, layout: imgLayout, xrai: regions },
      );
    }
    for (const t of table) {
      lines.push(
        `${t.method.padEnd(11)} ${t.seconds.toFixed(2).padStart(7)} s  deletion AUC ${t.deletionAuc.toFixed(4)}  insertion AUC ${t.insertionAuc.toFixed(4)}  infidelity ${t.infidelity?.toExponential(2) ?? "—"}  sensitivity ${t.sensitivityMax?.toExponential(2) ?? "—"}`,
      );
    }
  }
  summary.seconds = (performance.now() - started) / 1000;
  const written = await writeNpyFiles(args.string("out")!, {
    ...files,
    "summary.json": `${JSON.stringify(summary, null, 2)}\n`,
  });
  if (args.flag("json")) return [JSON.stringify(summary)];
  return [...written.map((p) => `wrote ${p}`), ...lines];
}
