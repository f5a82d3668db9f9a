/**
 * `pathlens explain --method guided_ig | blur_ig | xrai`: the adaptive and blur paths, and XRAI
 * regions. Writes attributions.npy (float32), delta.npy and summary.json as Integrated Gradients
 * does (XRAI adds xrai_map.npy and xrai_ranks.npy, one H×W map per example), as one atomic set.
 */
import type { ImageLayout } from "../attribution/blur-ig.js";
import { blurIntegratedGradients } from "../attribution/blur-ig.js";
import { guidedIntegratedGradients, type PathMethodResult } from "../attribution/guided-ig.js";
import type { PathSessionOptions } from "../attribution/path-session.js";
import { xrai } from "../attribution/xrai.js";
import { writeNpyFiles } from "../io/npy.js";
import type { ModelProto } from "../onnx/types.js";
import { nodeBackend } from "../runtime/node.js";
import { castFloat, type Tensor, tensor } from "../tensor/tensor.js";
import { type OptionSpec, type ParsedArgs, UsageError } from "./args.js";
import { numberOption, positiveInteger, readBaseline, readModelAndInputs, readTarget } from "./paths-args.js";
import { progressReporter } from "./progress-line.js";

/** The methods handled here. */
export const PATH_EXPLAIN_METHODS = ["guided_ig", "blur_ig", "xrai"] as const;

/** The options `explain` declares for these methods (spread into its spec). */
export const PATH_EXPLAIN_OPTIONS: Record<string, OptionSpec> = {
  fraction: {
    type: "string",
    value: "F",
    help: "guided_ig: fraction of features moved per selection (default 0.25)",
  },
  "max-dist": {
    type: "string",
    value: "D",
    help: "guided_ig: largest relative L1 deviation from the straight line (default 0.02)",
  },
  "max-sigma": { type: "string", value: "S", help: "blur_ig: the largest blur σ (default 50)" },
  "grad-step": {
    type: "string",
    value: "G",
    help: "blur_ig: σ step of the finite difference (default 0.01)",
  },
  sqrt: { type: "boolean", help: "blur_ig: space the σ's as √(i·max-sigma/steps)" },
  layout: {
    type: "string",
    value: "NCHW|NHWC|NHW",
    help: "blur_ig, xrai: the image layout (default: guessed from the shape)",
  },
};

const ONLY: Record<string, string> = {
  fraction: "guided_ig",
  "max-dist": "guided_ig",
  "max-sigma": "blur_ig",
  "grad-step": "blur_ig",
  sqrt: "blur_ig",
  layout: "blur_ig or xrai",
};

/**
 * The hook `explain` calls first: runs the method when it is one of {@link PATH_EXPLAIN_METHODS}
 * (returns the lines to print), else checks that no option of these methods was given and
 * returns undefined.
 */
export async function runPathExplainIfAsked(args: ParsedArgs): Promise<string[] | undefined> {
  const method = args.string("method")?.replace(/-/g, "_"); // kebab-case spellings too (riemann-left, guided-ig)
  const mine = (PATH_EXPLAIN_METHODS as readonly string[]).includes(method ?? "");
  for (const [flag, owner] of Object.entries(ONLY)) {
    const given = flag === "sqrt" ? args.flag(flag) : args.string(flag) !== undefined;
    if (given && !owner.split(" or ").includes(method ?? "")) {
      throw new UsageError(`--${flag} applies to --method ${owner}`, args.command);
    }
  }
  if (!mine) return undefined;
  for (const flag of ["layer", "noise-tunnel", "references", "tolerance", "max-steps"]) {
    if (args.string(flag) !== undefined)
      throw new UsageError(`--${flag} does not apply to --method ${method}`, args.command);
  }
  return runPathExplain(args, method as PathExplainMethod);
}

type PathExplainMethod = (typeof PATH_EXPLAIN_METHODS)[number];

/** The options every method gets. */
interface Common extends PathSessionOptions {
  inputs: Record<string, Tensor>;
}

/** A method's output: the attributions, its result with the completeness gap (not XRAI), extra files. */
interface Computed {
  attributions: Tensor<"float64">;
  result?: PathMethodResult;
  params: Record<string, unknown>;
  files: Record<string, Tensor>;
}

async function computeXrai(
  model: ModelProto,
  common: Common,
  steps: number,
  layout?: ImageLayout,
): Promise<Computed> {
  const r = await xrai(model, { ...common, steps, layout });
  const { height: H, width: W } = r.examples[0]!;
  const N = r.examples.length;
  const map = new Float32Array(N * H * W);
  const ranks = new Int32Array(N * H * W);
  r.examples.forEach((e, i) => {
    map.set(Float32Array.from(e.map), i * H * W);
    ranks.set(e.ranks, i * H * W);
  });
  return {
    attributions: r.baseAttribution,
    params: { steps, baselines: "black and white (min and max of each image)", layout },
    files: {
      "xrai_map.npy": tensor("float32", [N, H, W], map),
      "xrai_ranks.npy": tensor("int32", [N, H, W], ranks),
    },
  };
}

async function compute(
  args: ParsedArgs,
  method: PathExplainMethod,
  model: ModelProto,
  common: Common,
  name: string,
): Promise<Computed> {
  const spec = args.command;
  if (args.string("steps") === "auto")
    throw new UsageError(`--steps auto applies to Integrated Gradients only`, spec);
  const steps = numberOption(args, "steps", spec, positiveInteger);
  const layout = args.string("layout") as ImageLayout | undefined;
  if (layout !== undefined && !["NCHW", "NHWC", "NHW"].includes(layout)) {
    throw new UsageError(`--layout must be NCHW, NHWC or NHW, got "${layout}"`, spec);
  }
  if (method === "guided_ig") {
    const params = {
      steps: steps ?? 200,
      fraction: numberOption(args, "fraction", spec, (v) => v > 0 && v <= 1) ?? 0.25,
      maxDist: numberOption(args, "max-dist", spec, (v) => v >= 0 && v <= 1) ?? 0.02,
    };
    const baselines = await readBaseline(args.string("baseline"), spec);
    const result = await guidedIntegratedGradients(model, { ...common, baselines, ...params });
    return { attributions: result.attributions[name]!, result, params, files: {} };
  }
  if (args.string("baseline") !== undefined) {
    throw new UsageError(`${method} chooses its own baselines: --baseline does not apply`, spec);
  }
  if (method === "xrai") return computeXrai(model, common, steps ?? 50, layout);
  const params = {
    steps: steps ?? 100,
    maxSigma: numberOption(args, "max-sigma", spec, (v) => v > 0) ?? 50,
    gradStep: numberOption(args, "grad-step", spec, (v) => v > 0) ?? 0.01,
    sqrt: args.flag("sqrt"),
    layout,
  };
  const result = await blurIntegratedGradients(model, { ...common, ...params });
  return { attributions: result.attributions[name]!, result, params, files: {} };
}

async function runPathExplain(args: ParsedArgs, method: PathExplainMethod): Promise<string[]> {
  const started = performance.now();
  const spec = args.command;
  const { model, modelPath, name, x, extra } = await readModelAndInputs(args, spec);
  const target = await readTarget(args.string("target"), spec);
  const progress = progressReporter({ quiet: args.flag("quiet") || args.flag("json"), label: method });
  let c: Computed;
  try {
    c = await compute(
      args,
      method,
      model,
      {
        backend: nodeBackend(),
        inputs: { [name]: x },
        extra,
        target,
        output: args.string("output"),
        chunkSize: numberOption(args, "chunk-size", spec, positiveInteger),
        onProgress: (p) => progress.update(p.done, p.total),
      },
      name,
    );
  } finally {
    progress.done();
  }
  const r = c.result;
  const files: Record<string, Tensor | string> = {
    ...c.files,
    "attributions.npy": castFloat(c.attributions, "float32"),
  };
  if (r) files["delta.npy"] = tensor("float64", [r.delta.length], r.delta);
  const summary = {
    model: modelPath,
    method,
    ...c.params,
    output: r?.output,
    target: Array.isArray(target) || typeof target === "number" || target === undefined ? target : "weights",
    attributed: { [name]: x.dims },
    outputAtInput: r && Array.from(r.outputAtInput),
    outputAtBaseline: r && Array.from(r.outputAtBaseline),
    delta: r && Array.from(r.delta),
    seconds: (performance.now() - started) / 1000,
  };
  const written = await writeNpyFiles(args.string("out")!, {
    ...files,
    "summary.json": `${JSON.stringify(summary, null, 2)}\n`,
  });
  if (args.flag("json")) return [JSON.stringify(summary)];
  return [
    ...written.map((p) => `wrote ${p}`),
    r
      ? `${x.dims[0]} example(s), ${method}, ${r.steps} steps, max |delta| ${Math.max(...Array.from(r.delta, Math.abs)).toExponential(2)} (completeness gap), ${summary.seconds.toFixed(2)} s`
      : `${x.dims[0]} image(s), XRAI regions over IG (${c.params.steps} steps), ${summary.seconds.toFixed(2)} s`,
  ];
}
