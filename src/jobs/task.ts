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
import { encodeModel } from "../onnx/codec.js";
import { dtypeOf, elemTypeOf } from "../onnx/model.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend, Session, SessionOptions } from "../runtime/backend.js";
import { sizeOf, type Tensor } from "../tensor/tensor.js";
import { canonical, modelPreprocess, openRowSource, type RowSource, sha256 } from "./datasets.js";
import { DatasetError, JobSettingsError } from "./errors.js";
import { loadMethod, type MethodSettings, pickRows } from "./method.js";
import { addRowStats, emptyShardStats, type ShardStats } from "./stats.js";

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
  method: MethodSettings;
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
  const probe = await source.read(0, Math.min(source.rows, spec.shardRows));
  let featureDims: number[] | undefined = spec.method.layer ? undefined : probe.tensor?.dims.slice(1);
  let forward: Session | undefined;
  const outputName = spec.method.output;

  const predict = async (feeds: Record<string, Tensor>, n: number): Promise<Int32Array> => {
    forward ??= await backend.createSession(encodeModel(model), session);
    const out = (await forward.run(feeds, [outputName ?? forward.outputNames[0]!]))[
      outputName ?? forward.outputNames[0]!
    ]!;
    const per = out.data.length / n;
    const pred = new Int32Array(n).fill(-1);
    if (per > 1)
      for (let r = 0; r < n; r++) {
        let best = 0;
        for (let j = 1; j < per; j++)
          if (Number(out.data[r * per + j]) > Number(out.data[r * per + best])) best = j;
        pred[r] = best;
      }
    return pred;
  };

  const runShard = async (
    index: number,
    onProgress?: (done: number, total: number) => void,
  ): Promise<ShardData> => {
    const { start, end } = shardRange(index);
    const block = await source.read(start, end);
    const failed = new Map(block.failed);
    const extraBlock: Record<string, Tensor> = {};
    for (const [k, s] of Object.entries(extra)) extraBlock[k] = (await s.read(start, end)).tensor!;
    const feedsFor = (rows: number[]): { inputs: Record<string, Tensor>; extra: Record<string, Tensor> } => ({
      inputs: {
        [name]: pickRows(
          block.tensor!,
          rows.map((r) => block.rows.indexOf(r)),
        ),
      },
      extra: Object.fromEntries(
        Object.entries(extraBlock).map(([k, t]) => [
          k,
          pickRows(
            t,
            rows.map((r) => r - start),
          ),
        ]),
      ),
    });
    // rows → their result; a failing batch is retried row by row to find the failing rows
    const results = new Map<
      number,
      { attr: Float64Array; delta: number; output: number; predicted: number }
    >();
    const attempt = async (rows: number[]) => {
      const { inputs, extra: ex } = feedsFor(rows);
      const r = await method.run(backend, inputs, ex, rows, onProgress, session);
      featureDims ??= r.attributions.dims.slice(1);
      const pred = await predict({ ...inputs, ...ex }, rows.length);
      const per = sizeOf(r.attributions.dims.slice(1));
      rows.forEach((row, k) => {
        results.set(row, {
          attr: r.attributions.data.subarray(k * per, (k + 1) * per),
          delta: r.delta[k]!,
          output: r.outputAtInput[k]!,
          predicted: pred[k]!,
        });
      });
    };
    if (block.rows.length) {
      try {
        await attempt(block.rows);
      } catch (e) {
        if (block.rows.length === 1) failed.set(block.rows[0]!, message(e));
        else
          for (const row of block.rows) {
            try {
              await attempt([row]);
            } catch (e1) {
              failed.set(row, message(e1));
            }
          }
      }
    }
    if (!featureDims)
      throw new DatasetError(
        `rows ${start}–${end - 1}: no row could be explained, so the attribution shape is unknown (${[...failed.values()][0]})`,
      );
    const per = sizeOf(featureDims);
    const attributions = new Float32Array((end - start) * per).fill(Number.NaN);
    const records: RowRecord[] = [];
    const stats = emptyShardStats(per);
    for (let row = start; row < end; row++) {
      const res = results.get(row);
      let error = failed.get(row);
      if (res && !error) {
        const out = attributions.subarray((row - start) * per, (row - start + 1) * per);
        out.set(res.attr);
        if (!out.every(Number.isFinite) || !Number.isFinite(res.delta)) {
          error = "non-finite attribution (NaN or Inf): the model's output or gradient overflows on this row";
          out.fill(Number.NaN);
        } else addRowStats(stats, out, groups?.[row]);
      }
      const target = method.targetOf(row);
      records.push(
        error || !res
          ? {
              row,
              ok: false,
              predicted: -1,
              output: Number.NaN,
              target,
              delta: Number.NaN,
              error: error ?? "not explained",
            }
          : { row, ok: true, predicted: res.predicted, output: res.output, target, delta: res.delta },
      );
    }
    return { index, start, end, attributions, records, stats };
  };

  return {
    spec,
    fingerprint,
    rows: source.rows,
    get featureDims() {
      if (!featureDims) throw new DatasetError("the attribution shape is not known before a shard ran");
      return featureDims;
    },
    shardCount,
    shardRange,
    runShard,
    async dispose() {
      await forward?.dispose();
    },
  };
}

function message(e: unknown): string {
  return (e as Error)?.message?.replace(/\s*\n\s*/g, " ") ?? String(e);
}
