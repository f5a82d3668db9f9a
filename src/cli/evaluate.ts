/**
 * `pathlens evaluate`: how faithful and stable an attribution is — infidelity, max-sensitivity,
 * deletion / insertion curves — or a comparison of several methods on the same inputs with a
 * report. Outputs appear only when the whole run succeeded.
 */

import type { Baseline } from "../attribution/baselines.js";
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
import type { Target } from "../attribution/targets.js";
import { xrai } from "../attribution/xrai.js";
import { type Comparison, compareAttributions, mean } from "../explain/compare.js";
import { writeNpyFiles } from "../io/npy.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend } from "../runtime/backend.js";
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

/** What every evaluation reads from the command line. */
interface EvalContext {
  args: ParsedArgs;
  model: ModelProto;
  modelPath: string;
  name: string;
  x: Tensor;
  common: {
    backend: Backend;
    inputs: Record<string, Tensor>;
    extra: Record<string, Tensor>;
    target?: Target;
    output?: string;
  };
  layout?: ImageLayout;
  steps?: number;
  samples?: number;
  seed?: number;
  noise?: Tensor;
  attributions?: Tensor;
  baselines?: Baseline;
}

/** What an evaluation produced: files, summary fields and lines to print. */
interface EvalOutcome {
  files: Record<string, Tensor | string>;
  summary: Record<string, unknown>;
  lines: string[];
}

const spec = evaluateCommand;

function needAttributions(c: EvalContext): Tensor {
  const a = c.attributions;
  if (!a) throw new UsageError(`--metric ${c.args.string("metric")} needs --attributions FILE.npy`, spec);
  if (a.data.length !== c.x.data.length) {
    throw new CliError(
      `--attributions of shape ${shapeString(a.dims)} do not fit the input "${c.name}" of shape ${shapeString(c.x.dims)}`,
    );
  }
  return a;
}

async function evalInfidelity(c: EvalContext): Promise<EvalOutcome> {
  const normalize = c.args.flag("normalize");
  const v = await infidelity(c.model, {
    ...c.common,
    attributions: needAttributions(c),
    noise: c.noise,
    samples: c.samples,
    stdev: numberOption(c.args, "stdev", spec, (n) => n > 0),
    seed: c.seed,
    baselines: c.baselines,
    normalize,
  });
  return {
    files: { "infidelity.npy": tensor("float64", [v.length], v) },
    summary: { metric: "infidelity", normalize, infidelity: Array.from(v), mean: mean(v) },
    lines: [`infidelity: mean ${mean(v).toExponential(3)} over ${v.length} example(s)`],
  };
}

async function evalSensitivity(c: EvalContext): Promise<EvalOutcome> {
  const method = c.args.string("method") ?? "ig";
  if (!(PATH_METHODS as readonly string[]).includes(method))
    throw new UsageError(`--method must be one of ${PATH_METHODS.join(", ")}, got "${method}"`, spec);
  const N = c.x.dims[0]!;
  const settings: MethodSettings = { ...c.common, name: c.name, baselines: c.baselines, steps: c.steps };
  const r = await sensitivityMax(explanationFunction(c.model, method as PathMethod, settings, N), {
    input: c.x,
    noise: c.noise,
    samples: c.samples,
    radius: numberOption(c.args, "radius", spec, (n) => n > 0),
    seed: c.seed,
  });
  return {
    files: {
      "sensitivity.npy": tensor("float64", [N], r.sensitivity),
      "sensitivity_per_sample.npy": tensor("float64", [N, r.perSample.length / N], r.perSample),
    },
    summary: {
      metric: "sensitivity-max",
      method,
      steps: c.steps,
      sensitivity: Array.from(r.sensitivity),
      mean: mean(r.sensitivity),
    },
    lines: [`sensitivity-max (${method}): mean ${mean(r.sensitivity).toExponential(3)} over ${N} example(s)`],
  };
}

function curveOptions(c: EvalContext) {
  return {
    fill: parseFill(c.args.string("fill")),
    steps: numberOption(c.args, "curve-steps", spec, positiveInteger),
    groupAxis: numberOption(c.args, "group-axis", spec, (n) => Number.isInteger(n) && n >= 0),
    softmax: c.args.flag("softmax"),
    layout: c.layout,
  };
}

async function evalCurve(c: EvalContext, kind: "deletion" | "insertion"): Promise<EvalOutcome> {
  const opts = { ...c.common, ...curveOptions(c), attributions: needAttributions(c) };
  const r = kind === "deletion" ? await deletionCurve(c.model, opts) : await insertionCurve(c.model, opts);
  return {
    files: {
      [`${kind}.npy`]: tensor("float64", [c.x.dims[0]!, r.fractions.length], r.scores),
      [`${kind}_auc.npy`]: tensor("float64", [r.auc.length], r.auc),
    },
    summary: { metric: kind, fractions: r.fractions, auc: Array.from(r.auc), meanAuc: r.meanAuc },
    lines: [`${kind} AUC: mean ${r.meanAuc.toExponential(3)} over ${r.auc.length} example(s)`],
  };
}

/** The first example of a batch, as a batch of one. */
function firstRow(t: Tensor): Tensor {
  return {
    ...t,
    dims: [1, ...t.dims.slice(1)],
    data: t.data.subarray(0, t.data.length / t.dims[0]!),
  } as Tensor;
}

async function evalCompare(c: EvalContext, list: string): Promise<EvalOutcome> {
  const methods = list.split(",").map((m) => m.trim());
  for (const m of methods) {
    if (!(PATH_METHODS as readonly string[]).includes(m))
      throw new UsageError(`--compare: unknown method "${m}"; known: ${PATH_METHODS.join(", ")}`, spec);
  }
  const quiet = c.args.flag("quiet") || c.args.flag("json");
  const r = await compareAttributions(c.model, {
    ...c.common,
    methods: methods as PathMethod[],
    settings: { baselines: c.baselines, ...(c.steps === undefined ? {} : { steps: c.steps }) },
    curves: curveOptions(c),
    infidelity: {
      samples: c.samples,
      seed: c.seed,
      stdev: numberOption(c.args, "stdev", spec, (n) => n > 0),
    },
    sensitivity: c.args.flag("no-sensitivity")
      ? false
      : { samples: c.samples ?? 4, seed: c.seed, radius: numberOption(c.args, "radius", spec, (n) => n > 0) },
    onMethod: (m) => {
      if (!quiet) process.stderr.write(`pathlens: ${m}…\n`);
    },
  });
  const table = r.rows.map((m) => ({
    method: m.name,
    seconds: m.seconds,
    deletionAuc: m.deletion.meanAuc,
    insertionAuc: m.insertion.meanAuc,
    infidelity: m.infidelity && mean(m.infidelity),
    sensitivityMax: m.sensitivity && mean(m.sensitivity),
    sensitivitySeconds: m.sensitivitySeconds,
    relativeCompletenessGap: m.relativeGap,
  }));
  const files: Record<string, Tensor | string> = {};
  for (const m of r.rows) files[`attributions_${m.name}.npy`] = castFloat(m.attributions, "float32");
  files["comparison.json"] =
    `${JSON.stringify({ numExamples: r.numExamples, fill: r.fill, methods: table }, null, 2)}\n`;
  if (c.args.flag("report")) files["report.html"] = await compareReport(c, r);
  const lines = table.map(
    (t) =>
      `${t.method.padEnd(11)} ${t.seconds.toFixed(2).padStart(7)} s  deletion AUC ${t.deletionAuc.toFixed(4)}  insertion AUC ${t.insertionAuc.toFixed(4)}  infidelity ${t.infidelity?.toExponential(2) ?? "—"}  sensitivity ${t.sensitivityMax?.toExponential(2) ?? "—"}`,
  );
  return { files, summary: { compare: methods, methods: table }, lines };
}

/** The report; image inputs also get each method's map and XRAI regions of IG (first example). */
async function compareReport(c: EvalContext, r: Comparison): Promise<string> {
  const image = c.x.dims.length === 4 || (c.x.dims.length === 3 && c.layout === "NHW");
  const layout = image ? imageLayout(c.x.dims, c.layout) : undefined;
  const ig = r.rows.find((m) => m.method === "ig");
  const regions =
    image && ig
      ? (
          await xrai(c.model, {
            ...c.common,
            inputs: { [c.name]: firstRow(c.x) },
            extra: undefined,
            target: undefined,
            attributions: firstRow(ig.attributions),
            layout: c.layout,
          })
        ).examples[0]
      : undefined;
  return comparisonReport(`Attribution methods compared: ${c.modelPath.split("/").pop()}`, r, {
    model: c.modelPath,
    layout,
    xrai: regions,
  });
}

/** Runs `pathlens evaluate`; returns the lines to print. */
export async function runEvaluate(args: ParsedArgs): Promise<string[]> {
  const started = performance.now();
  const metric = args.string("metric");
  const compare = args.string("compare");
  if ((metric === undefined) === (compare === undefined))
    throw new UsageError("give --metric or --compare (one of them)", spec);
  if (metric !== undefined && !(METRICS as readonly string[]).includes(metric)) {
    throw new UsageError(`--metric must be one of ${METRICS.join(", ")}, got "${metric}"`, spec);
  }
  if (args.flag("report") && !compare) throw new UsageError("--report applies to --compare", spec);
  const { model, modelPath, name, x, extra } = await readModelAndInputs(args, spec);
  const layout = args.string("layout") as ImageLayout | undefined;
  if (layout !== undefined && !["NCHW", "NHWC", "NHW"].includes(layout))
    throw new UsageError(`--layout must be NCHW, NHWC or NHW, got "${layout}"`, spec);
  const baselineRaw = args.string("baseline");
  const c: EvalContext = {
    args,
    model,
    modelPath,
    name,
    x,
    common: {
      backend: nodeBackend(),
      inputs: { [name]: x },
      extra,
      target: await readTarget(args.string("target"), spec),
      output: args.string("output"),
    },
    layout,
    steps: numberOption(args, "steps", spec, positiveInteger),
    samples: numberOption(args, "samples", spec, positiveInteger),
    seed: numberOption(args, "seed", spec, Number.isInteger),
    noise: await readFloatFile(args, "noise"),
    attributions: await readFloatFile(args, "attributions"),
    baselines: baselineRaw === undefined ? undefined : await readBaseline(baselineRaw, spec),
  };
  const outcome =
    metric === "infidelity"
      ? await evalInfidelity(c)
      : metric === "sensitivity-max"
        ? await evalSensitivity(c)
        : metric === "deletion" || metric === "insertion"
          ? await evalCurve(c, metric)
          : await evalCompare(c, compare!);
  const summary = {
    model: modelPath,
    input: name,
    shape: x.dims,
    ...outcome.summary,
    seconds: (performance.now() - started) / 1000,
  };
  const written = await writeNpyFiles(args.string("out")!, {
    ...outcome.files,
    "summary.json": `${JSON.stringify(summary, null, 2)}\n`,
  });
  if (args.flag("json")) return [JSON.stringify(summary)];
  return [...written.map((p) => `wrote ${p}`), ...outcome.lines];
}
