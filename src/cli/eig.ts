/**
 * `pathlens eig` (Enhanced Integrated Gradients) and `pathlens significance` (class-wide
 * feature significance of attributions).
 */

import { DEFAULT_MAX_PATH_POINTS } from "../attribution/budget.js";
import { type EigBaselineKind, type EigPath, enhancedIntegratedGradients } from "../attribution/eig/eig.js";
import type { PathRule } from "../attribution/eig/path-attribution.js";
import type { Target } from "../attribution/targets.js";
import { loadModel } from "../io/model-file.js";
import { readNpy, writeNpyFiles } from "../io/npy.js";
import { featureSignificance } from "../stats/significance.js";
import type { Correction } from "../stats/tests.js";
import { castFloat, isFloat, sizeOf, tensor } from "../tensor/tensor.js";
import { CliError, type CommandSpec, choice, type ParsedArgs, splitPair, UsageError } from "./args.js";
import { loadCheckedModel } from "./check.js";
import { backendFor, DEVICE_OPTION } from "./device.js";
import { progressReporter } from "./progress-line.js";

const PATHS: EigPath[] = ["original-linear", "latent-linear", "original-neighbors", "latent-neighbors"];
const KINDS: EigBaselineKind[] = ["zero", "encoded-zero", "kmeans", "median", "close", "random"];

/** The declaration of `pathlens eig`. */
export const eigCommand: CommandSpec = {
  name: "eig",
  summary: "Enhanced Integrated Gradients: latent/neighbour paths and class baselines",
  positionals: [{ name: "model.onnx", help: "the classifier" }],
  options: {
    device: DEVICE_OPTION,
    input: { type: "string", required: true, value: "[NAME=]FILE.npy", help: "samples to explain" },
    path: { type: "string", required: true, value: "KIND", help: PATHS.join("|") },
    encoder: { type: "string", value: "enc.onnx", help: "autoencoder encoder (latent paths, encoded-zero)" },
    decoder: { type: "string", value: "dec.onnx", help: "autoencoder decoder" },
    baseline: {
      type: "string",
      value: "FILE.npy",
      help: "explicit baselines (one example, [N,…] or [N,K,…])",
    },
    "baseline-kind": { type: "string", value: "KIND", help: KINDS.join("|") },
    "baseline-data": { type: "string", value: "FILE.npy", help: "baseline-class data set" },
    "num-baselines": { type: "string", value: "K", help: "baselines per sample (default 1)" },
    "reference-data": { type: "string", value: "FILE.npy", help: "data for the neighbour graph" },
    neighbors: { type: "string", value: "k", help: "neighbours per point (default 5)" },
    target: { type: "string", value: "N|FILE.npy", help: "class index or per-sample indices" },
    steps: { type: "string", value: "N", help: "path segments (default 50)" },
    rule: { type: "string", value: "left|trapezoid", help: "discretisation (default trapezoid)" },
    aggregate: { type: "string", value: "mean|median", help: "combining several baselines (default mean)" },
    seed: { type: "string", value: "S", help: "seed of k-means++ and random baselines (default 0)" },
    "max-points": {
      type: "string",
      value: "N",
      help: `most path points (samples × baselines × (steps + 1)) before refusing (default ${DEFAULT_MAX_PATH_POINTS.toLocaleString("en-US")})`,
    },
    quiet: { type: "boolean", help: "no progress bar" },
    json: { type: "boolean", help: "print the summary as JSON" },
    out: { type: "string", short: "o", required: true, value: "DIR", help: "output folder" },
  },
  notes: "Writes DIR/attributions.npy, DIR/delta.npy and DIR/summary.json (only when the run succeeded).",
};

function int(v: string | undefined, flag: string, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`${flag} must be an integer ≥ ${min}, got "${v}"`, eigCommand);
  return n;
}

/** Runs `pathlens eig`. */
export async function runEig(args: ParsedArgs): Promise<string[]> {
  const started = performance.now();
  const modelPath = args.positionals["model.onnx"]!;
  const model = await loadCheckedModel(modelPath);
  const names = model
    .graph!.input.map((i) => i.name!)
    .filter((n) => !model.graph!.initializer.some((t) => t.name === n));
  const raw = args.string("input")!;
  const [name, file] =
    raw.includes("=") && names.includes(raw.slice(0, raw.indexOf("=")))
      ? splitPair(raw, "--input")
      : [names[0]!, raw];
  let x = await readNpy(file);
  if (!isFloat(x.dtype)) throw new CliError(`${file}: holds ${x.dtype}; samples must be float`);
  // samples may be stored flat (e.g. 64 pixels) for a model taking (N, 1, 8, 8)
  const vi = model.graph!.input.find((i) => i.name === name);
  const dims = (vi?.type?.tensorType?.shape?.dim ?? []).slice(1).map((d) => Number(d.dimValue ?? 0));
  if (dims.length && dims.every((d) => d > 0) && sizeOf(dims) === sizeOf(x.dims.slice(1)))
    x = { ...x, dims: [x.dims[0]!, ...dims] };
  const path = choice(args.string("path"), PATHS, "--path", eigCommand)!;
  const kind = choice(args.string("baseline-kind"), KINDS, "--baseline-kind", eigCommand);
  if (args.string("baseline") && kind)
    throw new UsageError("give --baseline or --baseline-kind, not both", eigCommand);
  const targetRaw = args.string("target");
  let target: Target | undefined;
  if (targetRaw !== undefined) {
    if (/^\d+$/.test(targetRaw)) target = Number(targetRaw);
    else {
      const t = await readNpy(targetRaw);
      if (t.dtype === "bool" || isFloat(t.dtype))
        throw new CliError(
          `${targetRaw} (--target): holds ${t.dtype}; give one integer class index per sample`,
        );
      target = Array.from(t.data as ArrayLike<number | bigint>, Number);
    }
  }
  const baseline = args.string("baseline") ? await readNpy(args.string("baseline")!) : undefined;
  const steps = int(args.string("steps"), "--steps");
  const maxPoints = int(args.string("max-points"), "--max-points");
  const progress = progressReporter({ quiet: args.flag("quiet") || args.flag("json"), label: "eig" });
  let r: Awaited<ReturnType<typeof enhancedIntegratedGradients>>;
  try {
    r = await enhancedIntegratedGradients(model, {
      backend: backendFor(args),
      inputs: { [name]: x },
      path,
      encoder: args.string("encoder") ? await loadModel(args.string("encoder")!) : undefined,
      decoder: args.string("decoder") ? await loadModel(args.string("decoder")!) : undefined,
      baseline,
      baselineKind: kind,
      baselineData: args.string("baseline-data") ? await readNpy(args.string("baseline-data")!) : undefined,
      numBaselines: int(args.string("num-baselines"), "--num-baselines"),
      referenceData: args.string("reference-data")
        ? await readNpy(args.string("reference-data")!)
        : undefined,
      neighbors: int(args.string("neighbors"), "--neighbors"),
      target,
      steps,
      maxPathPoints: maxPoints,
      rule: choice(args.string("rule"), ["left", "trapezoid"] as PathRule[], "--rule", eigCommand),
      aggregate: choice(args.string("aggregate"), ["mean", "median"] as const, "--aggregate", eigCommand),
      seed: int(args.string("seed"), "--seed", 0),
      onProgress: (p) => progress.update(p.done, p.total),
    });
  } finally {
    progress.done();
  }
  const summary = {
    model: modelPath,
    path,
    baseline: args.string("baseline") ?? kind ?? "zero",
    baselinesPerSample: r.baselinesPerSample,
    steps: int(args.string("steps"), "--steps") ?? 50,
    rule: args.string("rule") ?? "trapezoid",
    target: target ?? 0,
    fStart: Array.from(r.fStart),
    fEnd: Array.from(r.fEnd),
    delta: Array.from(r.delta),
    seconds: (performance.now() - started) / 1000,
  };
  const written = await writeNpyFiles(args.string("out")!, {
    "attributions.npy": castFloat(r.attributions, "float32"),
    "delta.npy": tensor("float64", [r.delta.length], r.delta),
    "summary.json": `${JSON.stringify(summary, null, 2)}\n`,
  });
  return args.flag("json") ? [JSON.stringify(summary)] : written.map((p) => `wrote ${p}`);
}

/** The declaration of `pathlens significance`. */
export const significanceCommand: CommandSpec = {
  name: "significance",
  summary: "Which features are ranked higher in a class's attributions than in a random set",
  positionals: [],
  options: {
    attributions: {
      type: "string",
      required: true,
      value: "A.npy",
      help: "attributions of the class of interest [n, …]",
    },
    null: { type: "string", required: true, value: "B.npy", help: "attributions of random samples [m, …]" },
    alpha: { type: "string", value: "A", help: "significance level (default 0.05)" },
    correction: {
      type: "string",
      value: "bonferroni|bh|none",
      help: "multiple-testing correction (default bonferroni)",
    },
    absolute: { type: "boolean", help: "rank |attribution|" },
    json: { type: "boolean", help: "print the result as JSON" },
    out: { type: "string", short: "o", required: true, value: "DIR", help: "output folder" },
  },
  notes: "Writes DIR/p_values.npy, DIR/adjusted_p_values.npy, DIR/statistics.npy and DIR/significance.json.",
};

/** Runs `pathlens significance`. */
export async function runSignificance(args: ParsedArgs): Promise<string[]> {
  const a = await readNpy(args.string("attributions")!);
  const b = await readNpy(args.string("null")!);
  const features = sizeOf(a.dims.slice(1));
  if (sizeOf(b.dims.slice(1)) !== features) {
    throw new CliError(
      `${args.string("null")}: rows of ${sizeOf(b.dims.slice(1))} values; the attributions have ${features} per row`,
    );
  }
  if ((a.dims[0] ?? 0) < 2 || (b.dims[0] ?? 0) < 2)
    throw new CliError("each set needs at least two samples for a t-test");
  const alpha = args.string("alpha") === undefined ? 0.05 : Number(args.string("alpha"));
  if (!(alpha > 0 && alpha < 1))
    throw new UsageError(`--alpha must be in (0, 1), got "${args.string("alpha")}"`, significanceCommand);
  const correction =
    choice(
      args.string("correction"),
      ["bonferroni", "bh", "none"] as Correction[],
      "--correction",
      significanceCommand,
    ) ?? "bonferroni";
  const r = featureSignificance(
    Float64Array.from(a.data as ArrayLike<number>, Number),
    Float64Array.from(b.data as ArrayLike<number>, Number),
    features,
    { alpha, correction, absolute: args.flag("absolute") },
  );
  const summary = {
    features,
    samples: a.dims[0],
    nullSamples: b.dims[0],
    alpha,
    correction,
    significant: r.significant,
    pValues: Array.from(r.pValues),
    adjusted: Array.from(r.adjusted),
  };
  const written = await writeNpyFiles(args.string("out")!, {
    "p_values.npy": tensor("float64", a.dims.slice(1), r.pValues),
    "adjusted_p_values.npy": tensor("float64", a.dims.slice(1), r.adjusted),
    "statistics.npy": tensor("float64", a.dims.slice(1), r.statistic),
    "significance.json": `${JSON.stringify(summary, null, 2)}\n`,
  });
  if (args.flag("json")) return [JSON.stringify(summary)];
  return [
    ...written.map((p) => `wrote ${p}`),
    `${r.significant.length} of ${features} features significant (${correction}, α = ${alpha})`,
  ];
}
