/**
 * A dataset job's task: the serialisable {@link JobSpec} (what a worker receives), opened into a
 * model, row sources and a method, and the computation of one shard — rows [start, end) — into
 * float32 attributions, per-row records and the shard's sufficient statistics.
 */
import { readFile, stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { Preprocess } from "../explain/preprocess.js";
import { loadModel } from "../io/model-file.js";
import { readNpy } from "../io/npy.js";
import { dtypeOf, elemTypeOf } from "../onnx/model.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend, SessionOptions } from "../runtime/backend.js";
import { canonical, modelPreprocess, openRowSource, type RowSource, sha256 } from "./datasets.js";
import { DatasetError, JobSettingsError } from "./errors.js";
import { type JobMethodSettings, loadMethod } from "./method.js";
import type { ShardStats } from "./stats.js";
import { tensorShardRunner } from "./tensor-shard.js";

/** Version of the job files; part of the fingerprint. */
export const JOB_FORMAT = 1;

/** Everything that defines a dataset job, as JSON (paths absolute, so any worker can open them). */
export interface JobSpec {
  /** The ONNX model. */
  model: string;
  /** The attributed input: NAME → a .npy with a row axis, a .csv, or a folder of images. */
  input: { name: string; path: string };
  /** Other model inputs: NAME → .npy with the same row axis (attention masks, …). */
  extra: Record<string, string>;
  /** Image folders: how a picture becomes the input tensor (default: the model's config.json). */
  preprocess?: Preprocess;
  method: JobMethodSettings;
  /** .npy with one integer per row: 1 = class of interest, 0 = random set (class-wide significance). */
  groups?: string;
  /** Rows per shard. */
  shardRows: number;
}

/** The outcome of one row. */
export interface RowRecord {
  row: number;
  ok: boolean;
  /** argmax of the model's output for the row (−1 for a single-value output or a failed row). */
  predicted: number;
  /** The explained scalar F(x) (NaN for a failed row). */
  output: number;
  /** The explained class (−1 for a weight-vector target). */
  target: number;
  /** Completeness delta (NaN for a failed row). */
  delta: number;
  /** Why the row failed. */
  error?: string;
  /** Text rows: each word and its score. */
  words?: [string, number][];
}

/** One computed shard, before it is written. */
export interface ShardData {
  index: number;
  start: number;
  end: number;
  /** float32 attributions [end − start, …featureDims]; NaN rows where a row failed. */
  attributions: Float32Array;
  records: RowRecord[];
  stats: ShardStats;
}

/** An opened job: what every worker holds in memory once per job. */
export interface OpenedTask {
  spec: JobSpec;
  /** sha256 over the model, data, files and settings: a job is the same job only when it matches. */
  fingerprint: string;
  rows: number;
  /** Shape of one row's attributions. */
  featureDims: number[];
  shardCount: number;
  shardRange(index: number): { start: number; end: number };
  runShard(index: number, onProgress?: (done: number, total: number) => void): Promise<ShardData>;
  dispose(): Promise<void>;
}

function graphInputs(model: ModelProto): string[] {
  const g = model.graph!;
  const inits = new Set(g.initializer.map((t) => t.name));
  return g.input.map((i) => i.name!).filter((n) => !inits.has(n));
}

function layoutOf(model: ModelProto, name: string) {
  const vi = model.graph!.input.find((i) => i.name === name);
  const dims = (vi?.type?.tensorType?.shape?.dim ?? []).slice(1).map((d) => Number(d.dimValue ?? 0));
  return { dtype: dtypeOf(elemTypeOf(vi)) ?? undefined, rowDims: dims };
}

/** Makes the spec's paths absolute (workers may start in another folder). */
export function absoluteSpec(spec: JobSpec): JobSpec {
  const abs = (p: string | undefined) => (p === undefined ? undefined : resolve(p));
  const m = spec.method;
  return canonical({
    ...spec,
    model: resolve(spec.model),
    input: { name: spec.input.name, path: resolve(spec.input.path) },
    extra: Object.fromEntries(Object.entries(spec.extra).map(([k, v]) => [k, resolve(v)])),
    groups: abs(spec.groups),
    method: {
      ...m,
      target: typeof m.target === "string" ? resolve(m.target) : m.target,
      baseline: typeof m.baseline === "string" && m.baseline !== "zero" ? resolve(m.baseline) : m.baseline,
      references: abs(m.references),
      eig: m.eig && {
        ...m.eig,
        encoder: abs(m.eig.encoder),
        decoder: abs(m.eig.decoder),
        baselineData: abs(m.eig.baselineData),
        referenceData: abs(m.eig.referenceData),
      },
      baselineInputs: m.baselineInputs
        ? Object.fromEntries(Object.entries(m.baselineInputs).map(([k, v]) => [k, resolve(v)]))
        : undefined,
    },
  });
}

/**
 * Opens a job: reads the model and data, checks they fit, and computes the fingerprint.
 * @throws DatasetError / JobSettingsError naming the file or option that does not fit
 */
export async function openTask(
  spec: JobSpec,
  backend: Backend,
  session?: SessionOptions,
): Promise<OpenedTask> {
  if (!Number.isInteger(spec.shardRows) || spec.shardRows < 1)
    throw new JobSettingsError(`--shard-rows must be a positive integer, got ${spec.shardRows}`);
  if ((await stat(spec.model).catch(() => undefined))?.isDirectory()) {
    const { openTextTask } = await import("./text-task.js");
    return openTextTask(spec, backend);
  }
  if (spec.input.path.toLowerCase().endsWith(".jsonl"))
    throw new JobSettingsError(
      `${spec.input.path}: a JSONL of texts is explained with a text model folder (model.onnx, tokenizer.json), not ${spec.model}`,
    );
  const model = await loadModel(spec.model);
  const names = graphInputs(model);
  if (!spec.input.name && names.length !== 1)
    throw new JobSettingsError(
      `${spec.model}: has inputs ${names.join(", ")}; write --input NAME=${spec.input.path}`,
    );
  const name = spec.input.name || names[0]!;
  if (!names.includes(name) && !spec.method.layer)
    throw new JobSettingsError(`${spec.model}: has no input "${name}" (inputs: ${names.join(", ")})`);
  const preprocess = spec.preprocess ?? (await modelPreprocess(spec.model));
  const source = await openRowSource(spec.input.path, layoutOf(model, name), preprocess);
  const extra: Record<string, RowSource> = {};
  for (const [k, path] of Object.entries(spec.extra)) {
    if (!names.includes(k))
      throw new JobSettingsError(`${spec.model}: has no input "${k}" (--extra; inputs: ${names.join(", ")})`);
    extra[k] = await openRowSource(path, layoutOf(model, k));
    if (extra[k]!.rows !== source.rows)
      throw new DatasetError(
        `${path} (--extra ${k}): has ${extra[k]!.rows} rows, ${source.label} has ${source.rows}`,
      );
  }
  const missing = names.filter((n) => n !== name && !(n in extra));
  if (missing.length && !spec.method.layer)
    throw new JobSettingsError(
      `${spec.model}: input(s) ${missing.map((m) => `"${m}"`).join(", ")} need a value: pass them with --extra NAME=FILE.npy`,
    );
  const method = await loadMethod(spec.method, model, source.rows);
  let groups: Int32Array | undefined;
  let groupsDigest = "";
  if (spec.groups) {
    const g = await readNpy(spec.groups);
    groupsDigest = sha256(await readFile(spec.groups));
    if (g.data.length !== source.rows)
      throw new DatasetError(
        `${spec.groups} (--groups): has ${g.data.length} values, the data set ${source.rows} rows`,
      );
    groups = Int32Array.from(g.data as ArrayLike<number | bigint>, Number);
  }
  const fingerprint = sha256(
    JSON.stringify(
      canonical({
        format: JOB_FORMAT,
        model: sha256(await readFile(spec.model)),
        input: [name, source.digest],
        extra: Object.entries(extra).map(([k, s]) => [k, s.digest]),
        preprocess: source.label.endsWith("images)") ? (preprocess ?? null) : null,
        method: method.digest,
        groups: groupsDigest,
        shardRows: spec.shardRows,
      }),
    ),
  );
  const shardCount = Math.ceil(source.rows / spec.shardRows);
  const shardRange = (index: number) => ({
    start: index * spec.shardRows,
    end: Math.min(source.rows, (index + 1) * spec.shardRows),
  });
  // one row tells the attribution shape (a layer's shape is only known by running)
  const probe = spec.method.layer ? undefined : await source.read(0, 1);
  const runner = tensorShardRunner({
    model,
    name,
    source,
    extra,
    method,
    backend,
    session,
    groups,
    output: spec.method.output,
    shardRange,
    featureDims: probe?.tensor?.dims.slice(1),
  });
  return {
    spec,
    fingerprint,
    rows: source.rows,
    get featureDims() {
      const dims = runner.featureDims();
      if (!dims) throw new DatasetError("the attribution shape is not known before a shard ran");
      return dims;
    },
    shardCount,
    shardRange,
    runShard: runner.runShard,
    dispose: runner.dispose,
  };
}
