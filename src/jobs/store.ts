/**
 * The output folder of a dataset job. Layout:
 * - `job.json`: the spec and its fingerprint;
 * - `shards/NNNNN.npy` (float32 attributions of the shard's rows) and `shards/NNNNN.json` (per-row
 *   records and the shard's sufficient statistics), each written under a temporary name, fsynced
 *   and renamed; the .json last, so a shard whose .json exists is whole;
 * - `manifest.json`: the commit point: a shard counts once it is listed there (rewritten atomically);
 * - when every shard is in: `attributions.npy` (all rows, input order), `delta.npy`, `rows.parquet`
 *   (row, ok, predicted, target, output, delta, error) and `dataset.json` (mean |attribution| per
 *   feature, class-wide significance, failures); then the manifest says `complete`.
 * Nothing in these files depends on time, process or mode, so runs compare bit for bit.
 */
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { encodeNpy, parseNpy } from "../io/npy.js";
import { writeOutputSet } from "../io/output-set.js";
import { tensor } from "../tensor/tensor.js";
import { writeAtomicWith, writeFileAtomic } from "./atomic.js";
import { JobStateError } from "./errors.js";
import { writeFloat32NpyStream } from "./npy-stream.js";
import { groupSignificance, mergeShardStats, type ShardStats } from "./stats.js";
import { JOB_FORMAT, type JobSpec, type RowRecord, type ShardData } from "./task.js";

/** A committed shard, as listed in the manifest. */
export interface ShardEntry {
  index: number;
  start: number;
  end: number;
  attributions: string;
  records: string;
  failed: number;
}

/** manifest.json. */
export interface Manifest {
  format: number;
  fingerprint: string;
  rows: number;
  shardRows: number;
  shardCount: number;
  /** Committed shards, by index. */
  shards: ShardEntry[];
  complete: boolean;
  /** The merged files, once complete. */
  files?: string[];
}

/** A shard's .json. */
interface ShardFile {
  format: number;
  fingerprint: string;
  index: number;
  start: number;
  end: number;
  dims: number[];
  records: RowRecord[];
  stats: ShardStats;
}

const pad = (i: number) => String(i).padStart(5, "0");
/** Shard file names relative to the output folder. */
export const shardNames = (index: number) => ({
  attributions: `shards/${pad(index)}.npy`,
  records: `shards/${pad(index)}.json`,
});

function json(value: unknown): string {
  // NaN/Inf are not JSON: write null (read back as NaN for the numeric record fields)
  return `${JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 1)}\n`;
}

/** Reads manifest.json (undefined when there is none). */
export async function readManifest(out: string): Promise<Manifest | undefined> {
  let text: string;
  try {
    text = await readFile(join(out, "manifest.json"), "utf8");
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as Manifest;
  } catch (e) {
    throw new JobStateError(
      `${join(out, "manifest.json")}: is not JSON (${(e as Error).message}); start over with --restart`,
    );
  }
}

/** Writes manifest.json atomically: the commit point of every shard. */
export async function writeManifest(out: string, m: Manifest): Promise<void> {
  m.shards.sort((a, b) => a.index - b.index);
  await writeFileAtomic(join(out, "manifest.json"), json(m));
}

/** Writes job.json (the spec, for people and for `worker`s to check). */
export async function writeJobFile(out: string, spec: JobSpec, fingerprint: string): Promise<void> {
  await mkdir(join(out, "shards"), { recursive: true });
  await writeFileAtomic(join(out, "job.json"), json({ format: JOB_FORMAT, fingerprint, spec }));
}

/**
 * Writes a computed shard's two files (npy first, json last). Writing the same shard twice gives the
 * same bytes, so a retried task is harmless.
 */
export async function writeShard(
  out: string,
  fingerprint: string,
  featureDims: number[],
  s: ShardData,
): Promise<ShardEntry> {
  const names = shardNames(s.index);
  await mkdir(join(out, "shards"), { recursive: true });
  const t = tensor("float32", [s.end - s.start, ...featureDims], s.attributions);
  await writeFileAtomic(join(out, names.attributions), encodeNpy(t, names.attributions));
  const file: ShardFile = {
    format: JOB_FORMAT,
    fingerprint,
    index: s.index,
    start: s.start,
    end: s.end,
    dims: featureDims,
    records: s.records,
    stats: s.stats,
  };
  await writeFileAtomic(join(out, names.records), json(file));
  return {
    index: s.index,
    start: s.start,
    end: s.end,
    ...names,
    failed: s.records.filter((r) => !r.ok).length,
  };
}

/**
 * The shard's entry when both its files are there and belong to this job and range; undefined when
 * it has not been written (or was written by another job: it is then recomputed).
 */
export async function existingShard(
  out: string,
  fingerprint: string,
  index: number,
  start: number,
  end: number,
): Promise<ShardEntry | undefined> {
  const names = shardNames(index);
  let f: ShardFile;
  try {
    f = JSON.parse(await readFile(join(out, names.records), "utf8")) as ShardFile;
    await stat(join(out, names.attributions));
  } catch {
    return undefined;
  }
  if (f.fingerprint !== fingerprint || f.index !== index || f.start !== start || f.end !== end)
    return undefined;
  return { index, start, end, ...names, failed: f.records.filter((r) => !r.ok).length };
}

async function readShardFile(out: string, e: ShardEntry, fingerprint: string): Promise<ShardFile> {
  const path = join(out, e.records);
  let f: ShardFile;
  try {
    f = JSON.parse(await readFile(path, "utf8")) as ShardFile;
  } catch (err) {
    throw new JobStateError(`${path}: cannot be read (${(err as Error).message}); start over with --restart`);
  }
  if (f.fingerprint !== fingerprint)
    throw new JobStateError(`${path}: belongs to another job; start over with --restart`);
  for (const r of f.records) {
    r.output ??= Number.NaN;
    r.delta ??= Number.NaN;
  }
  return f;
}

/** Dataset-level summary written as dataset.json. */
export interface DatasetSummary {
  rows: number;
  ok: number;
  failed: { row: number; error: string }[];
  /** Shape of one row's attributions. */
  featureDims: number[];
  /** Mean |attribution| per feature over the good rows (row-major over featureDims). */
  meanAbsAttribution: number[];
  significance?: ReturnType<typeof groupSignificance>;
  /** Text data sets: mean |score| of each word (lower case) and how often it occurs, most important first. */
  meanAbsByWord?: { word: string; meanAbs: number; count: number }[];
}

/**
 * Merges the committed shards into the final files and marks the manifest complete.
 * Idempotent: killed halfway, it is simply done again.
 */
export async function finalize(out: string, m: Manifest): Promise<DatasetSummary> {
  const files = await Promise.all(m.shards.map((e) => readShardFile(out, e, m.fingerprint)));
  const dims = files[0]!.dims;
  const per = dims.reduce((a, b) => a * b, 1);
  const records = files.flatMap((f) => f.records);
  // attributions.npy is streamed shard by shard: memory stays that of one shard
  async function* shardData() {
    for (const e of m.shards) {
      const t = parseNpy(await readFile(join(out, e.attributions)), e.attributions);
      if (t.dtype !== "float32" || t.data.length !== (e.end - e.start) * per)
        throw new JobStateError(
          `${join(out, e.attributions)}: holds ${t.dtype} ${t.dims.join("×")}, expected float32 ${e.end - e.start}×${dims.join("×")}`,
        );
      yield t.data as Float32Array;
    }
  }
  await writeAtomicWith(join(out, "attributions.npy"), (tmp) =>
    writeFloat32NpyStream(tmp, [m.rows, ...dims], shardData()),
  );
  const stats = mergeShardStats(
    files.map((f) => f.stats),
    per,
  );
  const summary: DatasetSummary = {
    rows: m.rows,
    ok: stats.okRows,
    failed: records.filter((r) => !r.ok).map((r) => ({ row: r.row, error: r.error ?? "" })),
    featureDims: dims,
    meanAbsAttribution: stats.absSum.map((v) => (stats.okRows ? v / stats.okRows : Number.NaN)),
    significance: groupSignificance(stats),
    meanAbsByWord: stats.words
      ? Object.entries(stats.words)
          .map(([word, [sum, count]]) => ({ word, meanAbs: sum / count, count }))
          .sort((a, b) => b.meanAbs - a.meanAbs || (a.word < b.word ? -1 : 1))
      : undefined,
  };
  const delta = Float64Array.from(records, (r) => r.delta);
  // One set: all three appear or none (the streamed attributions.npy is whole before this).
  await writeOutputSet(out, {
    "delta.npy": encodeNpy(tensor("float64", [m.rows], delta), "delta.npy"),
    "rows.parquet": new Uint8Array(await rowsParquet(records)),
    "dataset.json": json(summary),
  });
  m.complete = true;
  m.files = ["attributions.npy", "delta.npy", "rows.parquet", "dataset.json"];
  await writeManifest(out, m);
  return summary;
}

/** Per-row summaries as Parquet (pandas, polars, DuckDB read it); the writer is loaded on first use. */
export async function rowsParquet(records: readonly RowRecord[]): Promise<ArrayBuffer> {
  const { parquetWriteBuffer } = await import("hyparquet-writer");
  return parquetWriteBuffer({
    columnData: [
      { name: "row", data: Int32Array.from(records, (r) => r.row), type: "INT32", nullable: false },
      { name: "ok", data: records.map((r) => r.ok), type: "BOOLEAN", nullable: false },
      {
        name: "predicted",
        data: Int32Array.from(records, (r) => r.predicted),
        type: "INT32",
        nullable: false,
      },
      { name: "target", data: Int32Array.from(records, (r) => r.target), type: "INT32", nullable: false },
      // a failed row has no output or delta: null (SQL aggregates skip it), not NaN
      { name: "output", data: records.map((r) => (r.ok ? r.output : null)), type: "DOUBLE" },
      { name: "delta", data: records.map((r) => (r.ok ? r.delta : null)), type: "DOUBLE" },
      { name: "error", data: records.map((r) => r.error ?? null), type: "STRING" },
      ...(records.some((r) => r.words)
        ? [
            {
              name: "words",
              data: records.map((r) => (r.words ? JSON.stringify(r.words) : null)),
              type: "STRING" as const,
            },
          ]
        : []),
    ],
    createdBy: "pathlens",
  });
}
