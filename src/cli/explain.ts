/**
 * `pathlens explain`: Integrated Gradients (optionally through a noise tunnel, or at a layer) of
 * an ONNX model on `.npy` inputs; writes attributions, deltas and a JSON summary atomically.
 */
import type { Baseline } from "../attribution/baselines.js";
import type { Attribution } from "../attribution/ig.js";
import { integratedGradients } from "../attribution/ig.js";
import { type NoiseTunnelType, noiseTunnel } from "../attribution/noise-tunnel.js";
import type { Progress } from "../attribution/path-engine.js";
import { QUADRATURE_METHODS, type QuadratureMethod } from "../attribution/quadrature.js";
import type { Target } from "../attribution/targets.js";
import { modelNotes } from "../autodiff/model-notes.js";
import { keepLowPrecision } from "../autodiff/precision-keep.js";
import { readNpy, writeNpyFiles } from "../io/npy.js";
import { dtypeOf, elemTypeOf } from "../onnx/model.js";
import type { ModelProto } from "../onnx/types.js";
import { castFloat, isFloat, type Tensor, tensor } from "../tensor/tensor.js";
import {
  CliError,
  type CommandSpec,
  choice,
  kebabList,
  type ParsedArgs,
  splitPair,
  UsageError,
} from "./args.js";
import { BATCH_AXIS_OPTION, readBatchAxes } from "./batch-axis.js";
import { loadCheckedModel } from "./check.js";
import { backendFor, DEVICE_OPTION } from "./device.js";
import { INTERACTION_METHODS, type InteractionMethod, runInteractionMethod } from "./explain-interactions.js";
import { PATH_EXPLAIN_METHODS, PATH_EXPLAIN_OPTIONS, runPathExplainIfAsked } from "./explain-paths.js";
import { readBaseline, readTarget } from "./paths-args.js";
import { progressReporter } from "./progress-line.js";

/** Noise tunnel types of `--noise-tunnel`. */
export const NT_TYPES: NoiseTunnelType[] = ["smoothgrad", "smoothgrad_sq", "vargrad"];

/** The declaration of `pathlens explain`. */
export const explainCommand: CommandSpec = {
  name: "explain",
  summary: "Integrated Gradients attributions of a model's output to its inputs (or a layer)",
  positionals: [{ name: "model.onnx", help: "the ONNX model (external data next to it is read)" }],
  options: {
    device: DEVICE_OPTION,
    input: {
      type: "string",
      multiple: true,
      required: true,
      value: "[NAME=]FILE.npy",
      help: "tensor to attribute (NAME may be left out for a one-input model)",
    },
    extra: { type: "string", multiple: true, value: "NAME=FILE.npy", help: "input passed through unchanged" },
    "batch-axis": BATCH_AXIS_OPTION,
    baseline: {
      type: "string",
      value: "zero|NUMBER|FILE.npy",
      help: "baseline: zero (default), a constant, or a file (one example or one per example)",
    },
    target: {
      type: "string",
      value: "N|FILE.npy",
      help: "class index, per-example indices (int .npy) or output weights (float .npy)",
    },
    output: { type: "string", value: "NAME", help: "output to explain (default: the first)" },
    method: {
      type: "string",
      value: "RULE|METHOD",
      help: `quadrature rule of IG: ${kebabList(QUADRATURE_METHODS)} (default gausslegendre); or another method: ${kebabList([...INTERACTION_METHODS, ...PATH_EXPLAIN_METHODS])}`,
    },
    references: {
      type: "string",
      value: "FILE.npy",
      help: "expected-gradients/expected-hessians: reference data",
    },
    softplus: { type: "string", value: "BETA", help: "Hessians: replace Relu by softplus(βx)/β first" },
    "interaction-index": { type: "string", value: "I[,J…]", help: "Hessians: only these features' rows" },
    steps: {
      type: "string",
      value: "N|auto",
      help: "quadrature points (default 50); auto refines to --tolerance",
    },
    tolerance: {
      type: "string",
      value: "T",
      help: "with --steps auto: |delta| ≤ T·|F(x) − F(x')| (default 1e-3)",
    },
    "max-steps": { type: "string", value: "N", help: "with --steps auto: the most points (default 1025)" },
    "max-points": {
      type: "string",
      value: "N",
      help: "refuse runs estimated above N path points, steps × examples (× steps for Hessians) (default 1e6)",
    },
    layer: { type: "string", value: "TENSOR", help: "attribute to this intermediate tensor" },
    "baseline-inputs": {
      type: "string",
      multiple: true,
      value: "NAME=FILE.npy",
      help: "with --layer: inputs whose layer value is the baseline (e.g. PAD ids)",
    },
    "no-multiply": { type: "boolean", help: "integrated gradient only, not multiplied by (x − x')" },
    "noise-tunnel": { type: "string", value: "TYPE", help: `${kebabList(NT_TYPES)} over IG` },
    samples: { type: "string", value: "N", help: "noise tunnel: noisy copies per example (default 5)" },
    stdev: { type: "string", value: "S", help: "noise tunnel: noise standard deviation (default 1)" },
    seed: { type: "string", value: "S", help: "seed of any randomness (default 0)" },
    "chunk-size": {
      type: "string",
      value: "N",
      help: "path points per onnxruntime run (default: from memory)",
    },
    "memory-budget": { type: "string", value: "MB", help: "memory for one chunk's tensors (default 512)" },
    report: { type: "boolean", help: "Hessian methods: also write report.html (matrix, scatter plots)" },
    quiet: { type: "boolean", help: "no progress bar" },
    "keep-precision": {
      type: "boolean",
      help: "float16/bfloat16 models: compute in the model's own precision (default: float32)",
    },
    json: { type: "boolean", help: "print the summary as JSON on stdout" },
    out: {
      type: "string",
      short: "o",
      required: true,
      value: "DIR",
      help: "output folder; created if missing",
    },
    ...PATH_EXPLAIN_OPTIONS,
  },
  notes: [
    "Writes DIR/attributions.npy (float32, the attributed tensor's shape; attributions_NAME.npy for",
    "each when several inputs are attributed), DIR/delta.npy (Σ attributions − (F(x) − F(x')) per",
    "example) and DIR/summary.json. Files appear only when the whole run succeeded.",
  ].join("\n"),
};

/** Runs `pathlens explain`; returns the lines to print on success. */
export async function runExplain(args: ParsedArgs): Promise<string[]> {
  const other = args.string("method");
  if (
    args.strings("batch-axis").length &&
    [...INTERACTION_METHODS, ...PATH_EXPLAIN_METHODS].some((m) => m === other)
  )
    throw new UsageError(
      `--batch-axis applies to Integrated Gradients and --noise-tunnel, not --method ${other}`,
      explainCommand,
    );
  const pathRun = await runPathExplainIfAsked(args);
  if (pathRun) return pathRun;
  const started = performance.now();
  const modelPath = args.positionals["model.onnx"]!;
  const keepPrecision = args.flag("keep-precision");
  const loaded = await loadCheckedModel(modelPath);
  const notes = modelNotes(loaded, { keepLowPrecision: keepPrecision });
  const model = keepPrecision ? keepLowPrecision(loaded) : loaded;
  for (const note of notes) process.stderr.write(`pathlens: warning: ${note}\n`);
  const inputNames = graphInputs(model);
  const layer = args.string("layer");
  if (layer !== undefined && layer.trim() === "")
    throw new UsageError("--layer needs a tensor name (got an empty string)", explainCommand);

  const inputs = await readNamed(args.strings("input"), model, modelPath, "--input");
  const extra = await readPairs(args.pairs("extra"), model, modelPath, "--extra");
  for (const k of Object.keys(extra)) {
    if (k in inputs) throw new UsageError(`"${k}" is given both as --input and --extra`, explainCommand);
  }
  const baselineInputs = layer
    ? await readPairs(args.pairs("baseline-inputs"), model, modelPath, "--baseline-inputs")
    : undefined;
  if (!layer && args.strings("baseline-inputs").length) {
    throw new UsageError("--baseline-inputs only applies with --layer", explainCommand);
  }
  if (!layer) {
    const missing = inputNames.filter((n) => !(n in inputs) && !(n in extra));
    if (missing.length) {
      throw new CliError(
        `${modelPath}: input(s) ${missing.map((m) => `"${m}"`).join(", ")} need a value: pass them with --extra NAME=FILE.npy`,
      );
    }
  }

  const steps = parseSteps(args.string("steps"));
  const methodName = choice(
    args.string("method"),
    [...QUADRATURE_METHODS, ...INTERACTION_METHODS, ...PATH_EXPLAIN_METHODS] as const,
    "--method",
    explainCommand,
  );
  const target = await readTarget(args.string("target"), explainCommand);
  const baselines =
    layer && !args.string("baseline")
      ? undefined
      : await readBaseline(args.string("baseline"), explainCommand);
  if ((INTERACTION_METHODS as readonly string[]).includes(methodName ?? "")) {
    if (steps === "auto")
      throw new UsageError(`--steps auto applies to Integrated Gradients only`, explainCommand);
    const progress = progressReporter({ quiet: args.flag("quiet") || args.flag("json"), label: methodName });
    try {
      const { files, summary } = await runInteractionMethod({
        method: methodName as InteractionMethod,
        model,
        modelPath,
        backend: backendFor(args),
        inputs,
        extra,
        target,
        output: args.string("output"),
        layer,
        baselineInputs,
        baselines: baselines as Baseline | undefined,
        steps,
        references: args.string("references"),
        samples: optionalNumber(args.string("samples"), "--samples", (v) => Number.isInteger(v) && v >= 1),
        seed: optionalNumber(args.string("seed"), "--seed", Number.isInteger),
        softplus: optionalNumber(args.string("softplus"), "--softplus", (v) => v > 0),
        maxPathPoints: maxPoints(args),
        interactionIndex: args
          .string("interaction-index")
          ?.split(",")
          .map((v) => optionalNumber(v, "--interaction-index", (n) => Number.isInteger(n) && n >= 0)!),
        onProgress: (p) => progress.update(p.done, p.total),
        onWarning: (m) => process.stderr.write(`pathlens: warning: ${m}\n`),
        report: args.flag("report"),
        out: args.string("out")!,
        started,
      });
      return args.flag("json") ? [JSON.stringify(summary)] : files.map((f) => `wrote ${f}`);
    } finally {
      progress.done();
    }
  }
  const method = methodName as QuadratureMethod | undefined;
  const nt = choice(args.string("noise-tunnel"), NT_TYPES, "--noise-tunnel", explainCommand);
  if (nt === undefined && (args.string("samples") || args.string("stdev"))) {
    throw new UsageError("--samples and --stdev apply to --noise-tunnel", explainCommand);
  }
  const progress = progressReporter({ quiet: args.flag("quiet") || args.flag("json"), label: "explain" });
  const common = {
    backend: backendFor(args),
    inputs,
    extra,
    batchAxes: readBatchAxes(args, model, { ...extra, ...inputs }, explainCommand),
    target,
    output: args.string("output"),
    steps,
    method,
    tolerance: optionalNumber(args.string("tolerance"), "--tolerance", (v) => v > 0),
    maxSteps: optionalNumber(args.string("max-steps"), "--max-steps", (v) => Number.isInteger(v) && v >= 2),
    maxPathPoints: maxPoints(args),
    multiplyByInputs: !args.flag("no-multiply"),
    chunkSize: optionalNumber(
      args.string("chunk-size"),
      "--chunk-size",
      (v) => Number.isInteger(v) && v >= 1,
    ),
    memoryBudget: mb(optionalNumber(args.string("memory-budget"), "--memory-budget", (v) => v > 0)),
    onProgress: (p: Progress) => progress.update(p.done, p.total),
  };
  let result: Attribution;
  try {
    result =
      nt !== undefined
        ? await noiseTunnel(model, {
            ...common,
            baselines: baselines as Baseline | undefined,
            type: nt,
            samples: optionalNumber(
              args.string("samples"),
              "--samples",
              (v) => Number.isInteger(v) && v >= 1,
            ),
            stdev: optionalNumber(args.string("stdev"), "--stdev", (v) => v >= 0),
            seed: optionalNumber(args.string("seed"), "--seed", Number.isInteger),
          })
        : await integratedGradients(model, { ...common, baselines, layer, baselineInputs });
  } finally {
    progress.done();
  }

  const names = Object.keys(result.attributions);
  const files: Record<string, Tensor> = {};
  for (const name of names) {
    const file = names.length === 1 ? "attributions.npy" : `attributions_${safeFileName(name)}.npy`;
    files[file] = castFloat(result.attributions[name]!, "float32");
  }
  files["delta.npy"] = tensor("float64", [result.delta.length], result.delta);
  const summary = {
    model: modelPath,
    method: result.method,
    steps: result.steps,
    stepsPerExample: result.stepsPerExample,
    converged: result.converged,
    noiseTunnel: nt
      ? {
          type: nt,
          samples: (result as { samples?: number }).samples,
          stdev: (result as { stdev?: number }).stdev,
        }
      : undefined,
    output: result.output,
    layer,
    target: describeTarget(target),
    attributed: Object.fromEntries(names.map((n) => [n, result.attributions[n]!.dims])),
    outputAtInput: Array.from(result.outputAtInput),
    outputAtBaseline: Array.from(result.outputAtBaseline),
    delta: Array.from(result.delta),
    chunkSize: result.chunkSize,
    chunking: result.chunking,
    seconds: (performance.now() - started) / 1000,
    // building and loading the gradient session (part of seconds); cacheHit: loaded from the disk cache
    startupSeconds: result.startupSeconds,
    cacheHit: result.cacheHit,
    notes: notes.length > 0 ? notes : undefined,
  };
  const written = await writeNpyFiles(args.string("out")!, {
    ...files,
    "summary.json": `${JSON.stringify(summary, null, 2)}\n`,
  });
  if (args.flag("json")) return [JSON.stringify(summary)];
  const worst = Math.max(...Array.from(result.delta, Math.abs));
  return [
    ...written.map((p) => `wrote ${p}`),
    `${result.delta.length} example(s), ${result.steps} steps (${result.method}), max |delta| ${worst.toExponential(2)}, ${summary.seconds.toFixed(2)} s`,
  ];
}

function graphInputs(model: ModelProto): string[] {
  const g = model.graph!;
  const inits = new Set(g.initializer.map((t) => t.name));
  return g.input.map((i) => i.name!).filter((n) => !inits.has(n));
}

/** Reads `--input [NAME=]FILE` values; a bare FILE names the model's only input. */
async function readNamed(
  raw: string[],
  model: ModelProto,
  modelPath: string,
  flag: string,
): Promise<Record<string, Tensor>> {
  const names = graphInputs(model);
  const pairs = new Map<string, string>();
  for (const r of raw) {
    const k = r.indexOf("=");
    const prefix = k > 0 ? r.slice(0, k) : undefined;
    // NAME=FILE when NAME is an input, or does not look like a path (then it is a wrong name).
    if (prefix !== undefined && (names.includes(prefix) || !/[/\\.]/.test(prefix))) {
      const [n, f] = splitPair(r, flag, explainCommand);
      if (pairs.has(n)) throw new UsageError(`${flag}: "${n}" is given twice`, explainCommand);
      pairs.set(n, f);
    } else {
      if (names.length !== 1) {
        throw new UsageError(
          `${flag} ${r}: the model has inputs ${names.join(", ")}; write ${flag} NAME=FILE.npy`,
          explainCommand,
        );
      }
      if (pairs.has(names[0]!)) throw new UsageError(`${flag}: "${names[0]}" is given twice`, explainCommand);
      pairs.set(names[0]!, r);
    }
  }
  return readPairs(pairs, model, modelPath, flag);
}

async function readPairs(
  pairs: Map<string, string>,
  model: ModelProto,
  modelPath: string,
  flag: string,
): Promise<Record<string, Tensor>> {
  const names = graphInputs(model);
  const out: Record<string, Tensor> = {};
  for (const [name, file] of pairs) {
    if (!names.includes(name)) {
      throw new CliError(`${modelPath}: has no input "${name}" (${flag}; inputs: ${names.join(", ")})`);
    }
    let t = await readNpy(file);
    const want = dtypeOf(elemTypeOf(model.graph!.input.find((i) => i.name === name)));
    if (want && want !== t.dtype) {
      if (isFloat(want) && isFloat(t.dtype)) t = castFloat(t, want);
      else throw new CliError(`${file}: holds ${t.dtype}, but input "${name}" of ${modelPath} is ${want}`);
    }
    out[name] = t;
  }
  return out;
}

/** Parses `--steps N|auto` (shared with `batch`, whose usage `spec` names). */
export function parseSteps(
  v: string | undefined,
  spec: CommandSpec = explainCommand,
): number | "auto" | undefined {
  if (v === undefined) return undefined;
  if (v === "auto") return "auto";
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--steps must be a positive integer or "auto", got "${v}"`, spec);
  return n;
}

/** Parses `--method` as a quadrature rule of IG (shared with `batch`). */
export function parseMethod(
  v: string | undefined,
  spec: CommandSpec = explainCommand,
): QuadratureMethod | undefined {
  if (v === undefined) return undefined;
  if (!(QUADRATURE_METHODS as readonly string[]).includes(v)) {
    throw new UsageError(`--method must be one of ${QUADRATURE_METHODS.join(", ")}, got "${v}"`, spec);
  }
  return v as QuadratureMethod;
}

/** Parses an optional numeric flag value that must pass `ok` (shared with `batch`). */
export function optionalNumber(
  v: string | undefined,
  flag: string,
  ok: (n: number) => boolean,
  spec: CommandSpec = explainCommand,
): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || !ok(n))
    throw new UsageError(`${flag}: invalid value "${v}"`, spec);
  return n;
}

function mb(v: number | undefined): number | undefined {
  return v === undefined ? undefined : v * 2 ** 20;
}

function describeTarget(t: Target | undefined): unknown {
  if (t === undefined) return 0;
  if (typeof t === "number" || Array.isArray(t)) return t;
  if ("position" in (t as object)) return t;
  return { weights: (t as Tensor).dims };
}

function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, "_");
}

/** `--max-points N`: the path-point budget (see attribution/budget.ts). */
function maxPoints(args: ParsedArgs): number | undefined {
  return optionalNumber(args.string("max-points"), "--max-points", (v) => v >= 1);
}
