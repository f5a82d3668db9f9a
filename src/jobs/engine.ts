/**
 * `explainDataset`: runs a dataset job to completion in this process, or through a BullMQ queue
 * (see queue.ts), resuming from whatever the output folder already holds. The manifest is the
 * commit point; a folder made by another job is refused unless `restart`.
 */
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Backend, SessionOptions } from "../runtime/backend.js";
import { removeStaleTemps } from "./atomic.js";
import { JobChangedError, RowFailedError } from "./errors.js";
import {
  type DatasetSummary,
  finalize,
  type Manifest,
  readManifest,
  type ShardEntry,
  writeJobFile,
  writeManifest,
  writeShard,
} from "./store.js";
import { absoluteSpec, JOB_FORMAT, type JobSpec, type OpenedTask, openTask } from "./task.js";

/** Progress of a dataset job. */
export interface JobProgress {
  rowsDone: number;
  rows: number;
  shardsDone: number;
  shards: number;
  /** Rows per second since this run started (rows done before it are not counted). */
  rowsPerSecond: number;
  /** Seconds left at that rate (NaN before the first shard). */
  etaSeconds: number;
}

/** Options of {@link explainDataset}. */
export interface ExplainDatasetOptions {
  backend: Backend;
  /** Output folder (created if missing). */
  out: string;
  /** Start over when the folder holds another job (a changed model, data or option set). */
  restart?: boolean;
  /** Stop at the first failing row instead of recording it and going on. */
  failFast?: boolean;
  /** `redis://HOST:PORT[/DB]`: hand the shards to `pathlens worker`s through BullMQ. */
  queue?: string;
  /** onnxruntime session options (threads) for this process's sessions. */
  session?: SessionOptions;
  onProgress?: (p: JobProgress) => void;
  /** Inside a shard: points done of the path integral. */
  onShardProgress?: (done: number, total: number) => void;
}

/** Result of {@link explainDataset}. */
export interface DatasetJobResult {
  /** "done": computed now; "already-done": the folder was complete, nothing ran. */
  status: "done" | "already-done";
  out: string;
  rows: number;
  /** Shards computed by this run (0 when everything was already there). */
  shardsComputed: number;
  shardsResumed: number;
  summary: DatasetSummary;
  seconds: number;
  files: string[];
}

/** Prepares the folder: checks an existing job's fingerprint, or starts a new one. */
export async function prepareFolder(
  task: OpenedTask,
  opts: { out: string; restart?: boolean },
): Promise<Manifest> {
  const { out } = opts;
  // a damaged manifest is refused like another job's, and replaced with restart
  let m = await readManifest(out).catch((e: unknown) => {
    if (opts.restart) return undefined;
    throw e;
  });
  if (m && (m.fingerprint !== task.fingerprint || m.format !== JOB_FORMAT)) {
    if (!opts.restart)
      throw new JobChangedError(
        `${out}: holds a job with another model, data set or option set (fingerprint ${m.fingerprint.slice(0, 12)}…, now ${task.fingerprint.slice(0, 12)}…); give --restart to start over, or another --out`,
      );
    m = undefined;
  }
  if (!m) {
    for (const f of [
      "manifest.json",
      "job.json",
      "attributions.npy",
      "delta.npy",
      "rows.parquet",
      "dataset.json",
      "shards",
    ])
      await rm(join(out, f), { recursive: true, force: true });
    await writeJobFile(out, task.spec, task.fingerprint);
    m = {
      format: JOB_FORMAT,
      fingerprint: task.fingerprint,
      rows: task.rows,
      shardRows: task.spec.shardRows,
      shardCount: task.shardCount,
      shards: [],
      complete: false,
    };
    await writeManifest(out, m);
  }
  return m;
}

/** Tracks rows/s and ETA over this run. */
export function progressMeter(
  rows: number,
  shards: number,
  m: Manifest,
  onProgress?: (p: JobProgress) => void,
) {
  const started = performance.now();
  const rowsAtStart = m.shards.reduce((a, e) => a + e.end - e.start, 0);
  return () => {
    const rowsDone = m.shards.reduce((a, e) => a + e.end - e.start, 0);
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? (rowsDone - rowsAtStart) / seconds : 0;
    onProgress?.({
      rowsDone,
      rows,
      shardsDone: m.shards.length,
      shards,
      rowsPerSecond: rate,
      etaSeconds: rate > 0 ? (rows - rowsDone) / rate : Number.NaN,
    });
  };
}

/** Throws RowFailedError for the first failed row of a shard (with failFast). */
export function checkFailFast(
  entry: ShardEntry,
  records: { row: number; ok: boolean; error?: string }[],
): void {
  const bad = records.find((r) => !r.ok);
  if (bad)
    throw new RowFailedError(
      `row ${bad.row} failed: ${bad.error} (--fail-fast; shard ${entry.index} not committed)`,
    );
}

/**
 * Explains every row of a data set into `out`, shard by shard; resumes an interrupted job and does
 * nothing for a finished one.
 *
 * @example
 * ```ts
 * const r = await explainDataset(
 *   { model: "digits_cnn.onnx", input: { name: "input", path: "digits_test.npy" }, extra: {},
 *     method: { target: "labels.npy", steps: 32 }, shardRows: 64 },
 *   { backend: nodeBackend(), out: "out/digits" });
 * r.summary.meanAbsAttribution; // per pixel
 * ```
 * @throws JobChangedError when `out` holds another job (unless `restart`); RowFailedError with
 *   `failFast`; DatasetError / JobSettingsError for data or options that do not fit
 */
export async function explainDataset(
  specIn: JobSpec,
  options: ExplainDatasetOptions,
): Promise<DatasetJobResult> {
  const started = performance.now();
  const spec = absoluteSpec(specIn);
  const task = await openTask(spec, options.backend, options.session);
  try {
    const { out } = options;
    const m = await prepareFolder(task, options);
    if (m.complete) {
      const summary = await finalizeIfNeeded(out, m);
      return {
        status: "already-done",
        out,
        rows: m.rows,
        shardsComputed: 0,
        shardsResumed: m.shards.length,
        summary,
        seconds: (performance.now() - started) / 1000,
        files: (m.files ?? []).map((f) => join(out, f)),
      };
    }
    const resumed = m.shards.length;
    let computed = 0;
    if (options.queue) {
      const { runOnQueue } = await import("./queue.js");
      computed = await runOnQueue(task, m, { ...options, out });
    } else {
      await removeStaleTemps(out);
      await removeStaleTemps(join(out, "shards"));
      const tick = progressMeter(task.rows, task.shardCount, m, options.onProgress);
      tick();
      const committed = new Set(m.shards.map((e) => e.index));
      for (let i = 0; i < task.shardCount; i++) {
        if (committed.has(i)) continue;
        const data = await task.runShard(i, options.onShardProgress);
        if (options.failFast) checkFailFast({ index: i } as ShardEntry, data.records);
        const entry = await writeShard(out, task.fingerprint, task.featureDims, data);
        m.shards.push(entry);
        await writeManifest(out, m);
        computed++;
        tick();
      }
    }
    const summary = await finalize(out, m);
    return {
      status: "done",
      out,
      rows: m.rows,
      shardsComputed: computed,
      shardsResumed: resumed,
      summary,
      seconds: (performance.now() - started) / 1000,
      files: (m.files ?? []).map((f) => join(out, f)),
    };
  } finally {
    await task.dispose();
  }
}

/** A complete folder: reads the summary back (dataset.json) without recomputing. */
async function finalizeIfNeeded(out: string, m: Manifest): Promise<DatasetSummary> {
  try {
    return JSON.parse(await readFile(join(out, "dataset.json"), "utf8")) as DatasetSummary;
  } catch {
    m.complete = false;
    return finalize(out, m);
  }
}
