/**
 * The attribution method of a dataset job as plain, serialisable settings (so a worker on another
 * machine rebuilds exactly the same method), and the runner that applies them to a range of rows.
 * Per-example values (target indices, per-row baselines, extra inputs) are sliced to the range;
 * seeded methods use `seed + first row` so each shard draws its own noise, the same in every mode.
 */
import { readFile } from "node:fs/promises";
import type { Baseline } from "../attribution/baselines.js";
import { type EigBaselineKind, type EigPath, enhancedIntegratedGradients } from "../attribution/eig/eig.js";
import type { PathRule } from "../attribution/eig/path-attribution.js";
import { expectedGradients } from "../attribution/expected-gradients.js";
import { integratedGradients } from "../attribution/ig.js";
import { type NoiseTunnelType, noiseTunnel } from "../attribution/noise-tunnel.js";
import type { QuadratureMethod } from "../attribution/quadrature.js";
import type { Target } from "../attribution/targets.js";
import { loadModel } from "../io/model-file.js";
import { readNpy } from "../io/npy.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend, SessionOptions } from "../runtime/backend.js";
import { isFloat, shapeString, sliceRows, type Tensor } from "../tensor/tensor.js";
import { canonical, sha256 } from "./datasets.js";
import { JobSettingsError } from "./errors.js";

/** The method part of a job: what `pathlens explain` takes, with files kept as paths. */
export interface JobMethodSettings {
  /** A quadrature rule of IG (default gausslegendre), "expected_gradients", or "eig" (Enhanced IG, with `eig`). */
  method?: QuadratureMethod | "expected_gradients" | "eig";
  /** Enhanced Integrated Gradients: the options of `pathlens eig`, files as paths. */
  eig?: EigSettings;
  steps?: number | "auto";
  tolerance?: number;
  maxSteps?: number;
  /** Integrated gradient only, not multiplied by (x − x'). */
  noMultiply?: boolean;
  noiseTunnel?: NoiseTunnelType;
  samples?: number;
  stdev?: number;
  seed?: number;
  /** expected_gradients: reference data (.npy). */
  references?: string;
  /** A class index, or a .npy of per-row indices (int) or output weights (float). */
  target?: number | string;
  /** "zero", a constant, or a .npy (one example, or one per row). */
  baseline?: "zero" | number | string;
  output?: string;
  layer?: string;
  /** With `layer`: NAME → .npy whose layer value is the baseline. */
  baselineInputs?: Record<string, string>;
  chunkSize?: number;
  /** Bytes for one chunk's tensors. */
  memoryBudget?: number;
}

/** The settings of `pathlens eig` (paths to files). */
export interface EigSettings {
  path: EigPath;
  encoder?: string;
  decoder?: string;
  baselineKind?: EigBaselineKind;
  baselineData?: string;
  numBaselines?: number;
  referenceData?: string;
  neighbors?: number;
  rule?: PathRule;
  aggregate?: "mean" | "median";
}

/** What a method gives for a range of rows. */
export interface MethodResult {
  /** float64 attributions of the attributed tensor, [rows, …]. */
  attributions: Tensor<"float64">;
  delta: Float64Array;
  outputAtInput: Float64Array;
  /** The output explained. */
  output: string;
}

/** A loaded method: files read once, applied to any row range. */
export interface MethodRunner {
  /** sha256 of the settings and of every file they name. */
  readonly digest: string;
  /** The explained class of each absolute row (−1 where the target is a weight vector). */
  targetOf(row: number): number;
  run(
    backend: Backend,
    inputs: Record<string, Tensor>,
    extra: Record<string, Tensor>,
    rows: readonly number[],
    onProgress?: (done: number, total: number) => void,
    session?: SessionOptions,
  ): Promise<MethodResult>;
}

/** Picks rows (absolute indices) out of a per-row tensor. */
export function pickRows(t: Tensor, rows: readonly number[]): Tensor {
  if (rows.length && rows.every((r, k) => r === rows[0]! + k))
    return sliceRows(t, rows[0]!, rows[0]! + rows.length);
  const parts = rows.map((r) => sliceRows(t, r, r + 1));
  const row = parts[0]?.data.length ?? 0;
  const data = new (t.data.constructor as new (n: number) => typeof t.data)(rows.length * row);
  parts.forEach((p, k) => (data as { set(a: unknown, o: number): void }).set(p.data, k * row));
  return { dtype: t.dtype, dims: [rows.length, ...t.dims.slice(1)], data } as Tensor;
}

/**
 * Reads the files the settings name and returns a runner for `totalRows` rows.
 * @throws JobSettingsError when a file does not fit (a target file with another row count, …)
 */
export async function loadMethod(
  settings: JobMethodSettings,
  model: ModelProto,
  totalRows: number,
): Promise<MethodRunner> {
  const digests: Record<string, string> = {};
  const file = async (path: string, what: string) => {
    digests[what] = sha256(await readFile(path));
    return readNpy(path);
  };
  let target: Target | undefined;
  let perRowTarget: number[] | undefined;
  let weightRows = false;
  if (typeof settings.target === "number") target = settings.target;
  else if (typeof settings.target === "string") {
    const t = await file(settings.target, "target");
    if (isFloat(t.dtype)) {
      target = t;
      weightRows = t.dims.length > 1 && t.dims[0] === totalRows;
    } else {
      perRowTarget = Array.from(t.data as ArrayLike<number | bigint>, Number);
      if (t.dims.length !== 1 || perRowTarget.length !== totalRows)
        throw new JobSettingsError(
          `${settings.target} (--target): integer targets must be one per row (${totalRows}), got shape ${shapeString(t.dims)}`,
        );
    }
  }
  let baseline: Baseline | undefined = settings.layer && settings.baseline === undefined ? undefined : "zero";
  let baselineRows = false;
  if (typeof settings.baseline === "number") baseline = settings.baseline;
  else if (typeof settings.baseline === "string" && settings.baseline !== "zero") {
    const t = await file(settings.baseline, "baseline");
    if (!isFloat(t.dtype))
      throw new JobSettingsError(
        `${settings.baseline} (--baseline): holds ${t.dtype}; a float array is needed`,
      );
    baseline = t;
    baselineRows = totalRows > 1 && t.dims[0] === totalRows;
  }
  const baselineInputs: Record<string, Tensor> = {};
  for (const [name, path] of Object.entries(settings.baselineInputs ?? {}))
    baselineInputs[name] = await file(path, `baseline-inputs:${name}`);
  const references = settings.references ? await file(settings.references, "references") : undefined;
  const eig = settings.method === "eig" ? await loadEig(settings.eig, digests) : undefined;
  if (settings.method === "expected_gradients" && !references)
    throw new JobSettingsError(
      "--method expected_gradients needs --references data.npy (the reference distribution)",
    );
  // files enter by content (digests), not by path; every other setting by value
  const asFile = (v: unknown) => (typeof v === "string" && v !== "zero" ? "file" : v);
  const digest = sha256(
    JSON.stringify(
      canonical({
        settings: {
          ...settings,
          target: asFile(settings.target),
          baseline: asFile(settings.baseline),
          references: asFile(settings.references),
          baselineInputs: Object.keys(settings.baselineInputs ?? {}),
        },
        digests,
      }),
    ),
  );
  const rule =
    settings.method === "expected_gradients" || settings.method === "eig" ? undefined : settings.method;

  return {
    digest,
    targetOf(row) {
      if (perRowTarget) return perRowTarget[row]!;
      if (typeof target === "number") return target;
      return -1;
    },
    async run(backend, inputs, extra, rows, onProgress, session) {
      const rowTarget: Target | undefined = perRowTarget
        ? rows.map((r) => perRowTarget![r]!)
        : weightRows
          ? pickRows(target as Tensor, rows)
          : target;
      const rowBaseline = baselineRows ? pickRows(baseline as Tensor, rows) : baseline;
      const rowBaselineInputs = Object.fromEntries(
        Object.entries(baselineInputs).map(([k, t]) => [
          k,
          t.dims[0] === totalRows && totalRows > 1 ? pickRows(t, rows) : t,
        ]),
      );
      const seed = (settings.seed ?? 0) + rows[0]!;
      const progress = onProgress && ((p: { done: number; total: number }) => onProgress(p.done, p.total));
      const common = {
        backend,
        inputs,
        extra,
        target: rowTarget,
        output: settings.output,
        chunkSize: settings.chunkSize,
        memoryBudget: settings.memoryBudget,
        onProgress: progress,
        session,
      };
      let r: {
        attributions: Record<string, Tensor<"float64">>;
        delta: Float64Array;
        outputAtInput: Float64Array;
        output?: string;
      };
      if (eig) {
        const e = await enhancedIntegratedGradients(model, {
          ...eig,
          backend,
          inputs,
          baseline: rowBaseline === "zero" || rowBaseline === undefined ? undefined : (rowBaseline as Tensor),
          target: rowTarget,
          output: settings.output,
          steps: settings.steps as number | undefined,
          seed: settings.seed,
          onProgress: progress,
          session,
        });
        r = {
          attributions: { [Object.keys(inputs)[0]!]: e.attributions },
          delta: e.delta,
          outputAtInput: e.fEnd,
        };
      } else if (settings.method === "expected_gradients") {
        r = await expectedGradients(model, {
          ...common,
          layer: settings.layer,
          references: references!,
          samples: settings.samples,
          seed,
        });
      } else if (settings.noiseTunnel) {
        r = await noiseTunnel(model, {
          ...common,
          steps: settings.steps,
          method: rule,
          tolerance: settings.tolerance,
          maxSteps: settings.maxSteps,
          multiplyByInputs: !settings.noMultiply,
          baselines: rowBaseline,
          type: settings.noiseTunnel,
          samples: settings.samples,
          stdev: settings.stdev,
          seed,
        });
      } else {
        r = await integratedGradients(model, {
          ...common,
          steps: settings.steps,
          method: rule,
          tolerance: settings.tolerance,
          maxSteps: settings.maxSteps,
          multiplyByInputs: !settings.noMultiply,
          baselines: rowBaseline,
          layer: settings.layer,
          baselineInputs: settings.layer ? rowBaselineInputs : undefined,
        });
      }
      const names = Object.keys(r.attributions);
      if (names.length !== 1)
        throw new JobSettingsError(
          `a dataset job attributes one tensor; got ${names.join(", ")} (pass the others with --extra)`,
        );
      return {
        attributions: r.attributions[names[0]!]!,
        delta: r.delta,
        outputAtInput: r.outputAtInput,
        output: r.output ?? settings.output ?? "",
      };
    },
  };
}

/** Reads the models and data sets of Enhanced IG (recording their digests). */
async function loadEig(e: EigSettings | undefined, digests: Record<string, string>) {
  if (!e) throw new JobSettingsError("--method eig needs --path (and the options of pathlens eig)");
  const bytes = async (path: string | undefined, what: string) => {
    if (path === undefined) return undefined;
    digests[what] = sha256(await readFile(path));
    return path;
  };
  const npy = async (path: string | undefined, what: string) =>
    (await bytes(path, what)) ? readNpy(path!) : undefined;
  const onnx = async (path: string | undefined, what: string) =>
    (await bytes(path, what)) ? loadModel(path!) : undefined;
  return {
    path: e.path,
    encoder: await onnx(e.encoder, "encoder"),
    decoder: await onnx(e.decoder, "decoder"),
    baselineKind: e.baselineKind,
    baselineData: await npy(e.baselineData, "baseline-data"),
    numBaselines: e.numBaselines,
    referenceData: await npy(e.referenceData, "reference-data"),
    neighbors: e.neighbors,
    rule: e.rule,
    aggregate: e.aggregate,
  };
}
