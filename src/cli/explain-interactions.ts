/**
 * The sampled and second-order methods of `pathlens explain` (`--method expected_gradients |
 * integrated_hessians | expected_hessians`): computes, then writes attributions.npy,
 * interactions.npy (second-order methods), delta.npy and summary.json as one atomic set.
 */
import type { Baseline } from "../attribution/baselines.js";
import { expectedGradients } from "../attribution/expected-gradients.js";
import { expectedHessians, type Interactions, integratedHessians } from "../attribution/interactions.js";
import type { Progress } from "../attribution/path-engine.js";
import type { Target } from "../attribution/targets.js";
import { readNpy, writeNpyFiles } from "../io/npy.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend } from "../runtime/backend.js";
import { castFloat, isFloat, type Tensor, tensor } from "../tensor/tensor.js";
import { renderReport } from "../viz/report.js";
import { CliError } from "./args.js";

/** The explain methods handled here. */
export const INTERACTION_METHODS = [
  "expected_gradients",
  "integrated_hessians",
  "expected_hessians",
] as const;
/** One of {@link INTERACTION_METHODS}. */
export type InteractionMethod = (typeof INTERACTION_METHODS)[number];

/** What `pathlens explain` hands over after parsing its arguments. */
export interface InteractionRun {
  method: InteractionMethod;
  model: ModelProto;
  modelPath: string;
  backend: Backend;
  inputs: Record<string, Tensor>;
  extra: Record<string, Tensor>;
  target?: Target;
  output?: string;
  layer?: string;
  baselineInputs?: Record<string, Tensor>;
  baselines?: Baseline;
  /** Integrated Hessians: Gauss–Legendre nodes per variable (N² points). */
  steps?: number;
  /** Sampled methods: the reference data file. */
  references?: string;
  samples?: number;
  seed?: number;
  softplus?: number;
  /** Path-point budget (`--max-points`). */
  maxPathPoints?: number;
  interactionIndex?: number[];
  onProgress?: (p: Progress) => void;
  onWarning?: (m: string) => void;
  /** Also write report.html (matrix heat map, scatter plots). */
  report?: boolean;
  out: string;
  started: number;
}

/** Runs one of {@link INTERACTION_METHODS}; returns the summary written to summary.json. */
export async function runInteractionMethod(
  run: InteractionRun,
): Promise<{ files: string[]; summary: Record<string, unknown> }> {
  const references = run.references === undefined ? undefined : await readNpy(run.references);
  if (run.method !== "integrated_hessians") {
    if (!references)
      throw new CliError(`--method ${run.method} needs --references data.npy (the reference distribution)`);
    if (!isFloat(references.dtype))
      throw new CliError(`${run.references}: holds ${references.dtype}; float references are needed`);
  }
  const common = {
    backend: run.backend,
    inputs: run.inputs,
    extra: run.extra,
    target: run.target,
    output: run.output,
    layer: run.layer,
    baselineInputs: run.baselineInputs,
    onProgress: run.onProgress,
    maxPathPoints: run.maxPathPoints,
  };
  const files: Record<string, Tensor | string> = {};
  let summary: Record<string, unknown>;
  if (run.method === "expected_gradients") {
    const r = await expectedGradients(run.model, {
      ...common,
      references: references!,
      samples: run.samples,
      seed: run.seed,
    });
    const [name, attr] = Object.entries(r.attributions)[0]!;
    files["attributions.npy"] = castFloat(attr, "float32");
    files["delta.npy"] = tensor("float64", [r.delta.length], r.delta);
    summary = {
      method: run.method,
      attributed: { [name]: attr.dims },
      samples: r.samples,
      seed: run.seed ?? 0,
      outputAtInput: Array.from(r.outputAtInput),
      outputAtReferences: Array.from(r.outputAtReferences),
      delta: Array.from(r.delta),
    };
  } else {
    const opts = {
      ...common,
      softplus: run.softplus,
      interactionIndex: run.interactionIndex,
      onWarning: run.onWarning,
    };
    const r: Interactions =
      run.method === "integrated_hessians"
        ? await integratedHessians(run.model, { ...opts, baselines: run.baselines, steps: run.steps })
        : await expectedHessians(run.model, {
            ...opts,
            references: references!,
            samples: run.samples,
            seed: run.seed,
          });
    files["interactions.npy"] = castFloat(r.interactions, "float32");
    if (run.report && r.rows.length === r.features) {
      const x = Object.values(run.inputs)[0]!;
      const values =
        run.layer || x.data.length !== r.features * r.interactions.dims[0]!
          ? undefined
          : Float64Array.from(x.data as Float32Array);
      files["report.html"] = renderReport(r, {
        title: run.method === "integrated_hessians" ? "Integrated Hessians" : "Expected Hessians",
        values: values && tensor("float64", [r.interactions.dims[0]!, r.features], values),
      });
    }
    files["attributions.npy"] = castFloat(r.attributions, "float32");
    if (r.completenessDelta)
      files["delta.npy"] = tensor("float64", [r.completenessDelta.length], r.completenessDelta);
    summary = {
      method: run.method,
      features: r.features,
      rows: r.rows,
      pointsPerExample: r.points,
      steps: run.method === "integrated_hessians" ? (run.steps ?? 50) : undefined,
      samples: run.method === "expected_hessians" ? (run.samples ?? 200) : undefined,
      seed: run.method === "expected_hessians" ? (run.seed ?? 0) : undefined,
      softplus: run.softplus,
      outputAtInput: Array.from(r.outputAtInput),
      outputAtBaseline: Array.from(r.outputAtBaseline),
      completenessDelta: r.completenessDelta ? Array.from(r.completenessDelta) : undefined,
      rowSumDelta: r.rowSumDelta ? Array.from(r.rowSumDelta) : undefined,
      warnings: r.warnings,
    };
  }
  summary = { model: run.modelPath, ...summary, seconds: (performance.now() - run.started) / 1000 };
  files["summary.json"] = `${JSON.stringify(summary, null, 2)}\n`;
  return { files: await writeNpyFiles(run.out, files), summary };
}
