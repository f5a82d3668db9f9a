/**
 * `pathlens batch`: explains every row of a data set (a .npy with a row axis, a CSV, a folder of
 * images) with any method of `explain`, as a resumable job in DIR; with `--queue`, through BullMQ
 * workers. The options of `explain` are taken over as they are (and parsed by the same functions).
 */
import { readFile } from "node:fs/promises";
import type { Preprocess } from "../explain/preprocess.js";
import { explainDataset, type JobProgress } from "../jobs/engine.js";
import type { JobMethodSettings } from "../jobs/method.js";
import type { JobSpec } from "../jobs/task.js";
import { nodeBackend } from "../runtime/node.js";
import { CliError, type CommandSpec, type ParsedArgs, splitPair, UsageError } from "./args.js";
import { eigCommand } from "./eig.js";
import { explainCommand, NT_TYPES, optionalNumber, parseMethod, parseSteps } from "./explain.js";

// --batch-axis: rows of a data set are examples on axis 0 (a job explains row by row)
const { report: _report, "batch-axis": _batchAxis, ...explainOptions } = explainCommand.options;
/** The options of `pathlens eig` that explain does not have (used with --method eig). */
const EIG_OPTIONS = [
  "path",
  "encoder",
  "decoder",
  "baseline-kind",
  "baseline-data",
  "num-baselines",
  "reference-data",
  "neighbors",
  "rule",
  "aggregate",
];
const eigOptions = Object.fromEntries(
  EIG_OPTIONS.map((k) => [
    k,
    { ...eigCommand.options[k]!, required: false, help: `--method eig: ${eigCommand.options[k]!.help}` },
  ]),
);
const EIG_PATHS = ["original-linear", "latent-linear", "original-neighbors", "latent-neighbors"];
const EIG_KINDS = ["zero", "encoded-zero", "kmeans", "median", "close", "random"];

/** The declaration of `pathlens batch`. */
export const batchCommand: CommandSpec = {
  name: "batch",
  summary: "explain a whole data set as a resumable job (one machine, or many through Redis)",
  positionals: [
    { name: "model.onnx", help: "the ONNX model (or a text model folder, with --input texts.jsonl)" },
  ],
  options: {
    ...explainOptions,
    ...eigOptions,
    input: {
      type: "string",
      required: true,
      value: "[NAME=]ROWS",
      help: "the rows to explain: a .npy with a leading row axis, a .csv with a header, a folder of images, or a .jsonl of texts",
    },
    extra: {
      type: "string",
      multiple: true,
      value: "NAME=FILE.npy",
      help: "per-row input passed through (same rows)",
    },
    method: {
      type: "string",
      value: "RULE|expected_gradients|eig",
      help: `${explainOptions.method!.help.split(";")[0]}; or expected_gradients, or eig (Enhanced IG: --path …)`,
    },
    "shard-rows": {
      type: "string",
      value: "K",
      help: "rows per shard, the unit of work and of commit (default 64)",
    },
    groups: {
      type: "string",
      value: "FILE.npy",
      help: "per row 1 (class of interest) or 0 (random set): class-wide significance per feature",
    },
    preprocess: {
      type: "string",
      value: "FILE.json",
      help: "image folders: preprocessing (default: config.json by the model)",
    },
    restart: { type: "boolean", help: "start over when DIR holds a job with another model, data or options" },
    "fail-fast": { type: "boolean", help: "stop at the first failing row (default: record it and go on)" },
    queue: {
      type: "string",
      value: "redis://HOST:PORT[/DB]",
      help: "hand the shards to `pathlens worker`s through BullMQ",
    },
    threads: { type: "string", value: "N", help: "onnxruntime threads of this process (default: all cores)" },
    out: {
      type: "string",
      required: true,
      value: "DIR",
      help: "job folder (shared by all workers with --queue)",
    },
  },
  notes: [
    "DIR/manifest.json lists the committed shards (DIR/shards/NNNNN.npy attributions, NNNNN.json per-row",
    "records); when all rows are done: DIR/attributions.npy (float32, all rows in input order),",
    "DIR/delta.npy, DIR/rows.parquet (row, ok, predicted, target, output, delta, error) and DIR/dataset.json",
    "(mean |attribution| per feature; significance with --groups). Run the same command again after a",
    "kill: it resumes; after success: it does nothing. Seeded methods use seed + first row of the shard.",
  ].join("\n"),
};

/** The method options of explain as job settings (the part of a job a worker rebuilds). */
export function methodSettings(args: ParsedArgs, spec: CommandSpec): JobMethodSettings {
  const m = args.string("method");
  const num = (flag: string, ok: (n: number) => boolean) =>
    optionalNumber(args.string(flag), `--${flag}`, ok, spec);
  const isInt = (min: number) => (v: number) => Number.isInteger(v) && v >= min;
  if (m === "integrated_hessians" || m === "expected_hessians")
    throw new UsageError(
      `--method ${m}: pairwise interactions are not a per-row attribution; use explain`,
      spec,
    );
  for (const flag of ["softplus", "interaction-index"])
    if (args.string(flag) !== undefined)
      throw new UsageError(`--${flag} applies to the Hessian methods of explain only`, spec);
  const nt = args.string("noise-tunnel");
  if (nt !== undefined && !(NT_TYPES as string[]).includes(nt))
    throw new UsageError(`--noise-tunnel must be one of ${NT_TYPES.join(", ")}, got "${nt}"`, spec);
  if (nt === undefined && m !== "expected_gradients" && args.string("samples"))
    throw new UsageError("--samples applies to --noise-tunnel and expected_gradients", spec);
  const target = args.string("target");
  if (target !== undefined && !/^\d+$/.test(target) && !target.endsWith(".npy"))
    throw new UsageError(`--target must be a class index or a .npy file, got "${target}"`, spec);
  const baseline = args.string("baseline");
  if (
    baseline !== undefined &&
    baseline !== "zero" &&
    !baseline.endsWith(".npy") &&
    !Number.isFinite(Number(baseline))
  )
    throw new UsageError(`--baseline must be zero, a number or a .npy file, got "${baseline}"`, spec);
  const budget = num("memory-budget", (v) => v > 0);
  const eig = m === "eig" ? eigSettings(args, spec) : undefined;
  if (!eig && EIG_OPTIONS.some((k) => args.string(k) !== undefined))
    throw new UsageError(
      `--${EIG_OPTIONS.find((k) => args.string(k) !== undefined)} applies to --method eig`,
      spec,
    );
  return {
    method: m === "expected_gradients" || m === "eig" ? m : parseMethod(m, spec),
    eig,
    steps: parseSteps(args.string("steps"), spec),
    tolerance: num("tolerance", (v) => v > 0),
    maxSteps: num("max-steps", isInt(2)),
    noMultiply: args.flag("no-multiply") || undefined,
    noiseTunnel: nt as JobMethodSettings["noiseTunnel"],
    samples: num("samples", isInt(1)),
    stdev: num("stdev", (v) => v >= 0),
    seed: num("seed", Number.isInteger),
    references: args.string("references"),
    target: target === undefined ? undefined : /^\d+$/.test(target) ? Number(target) : target,
    baseline:
      baseline === undefined || baseline === "zero" || baseline.endsWith(".npy")
        ? baseline
        : Number(baseline),
    output: args.string("output"),
    layer: args.string("layer"),
    baselineInputs: args.strings("baseline-inputs").length
      ? Object.fromEntries(args.pairs("baseline-inputs"))
      : undefined,
    chunkSize: num("chunk-size", isInt(1)),
    memoryBudget: budget === undefined ? undefined : budget * 2 ** 20,
  };
}

function eigSettings(args: ParsedArgs, spec: CommandSpec): NonNullable<JobMethodSettings["eig"]> {
  const oneOf = <T extends string>(flag: string, allowed: readonly string[]): T | undefined => {
    const v = args.string(flag);
    if (v !== undefined && !allowed.includes(v))
      throw new UsageError(`--${flag} must be one of ${allowed.join(", ")}, got "${v}"`, spec);
    return v as T | undefined;
  };
  const int = (flag: string) =>
    optionalNumber(args.string(flag), `--${flag}`, (v) => Number.isInteger(v) && v >= 1, spec);
  const path = oneOf<NonNullable<JobMethodSettings["eig"]>["path"]>("path", EIG_PATHS);
  if (!path) throw new UsageError(`--method eig needs --path ${EIG_PATHS.join("|")}`, spec);
  return {
    path,
    encoder: args.string("encoder"),
    decoder: args.string("decoder"),
    baselineKind: oneOf("baseline-kind", EIG_KINDS),
    baselineData: args.string("baseline-data"),
    numBaselines: int("num-baselines"),
    referenceData: args.string("reference-data"),
    neighbors: int("neighbors"),
    rule: oneOf("rule", ["left", "trapezoid"]),
    aggregate: oneOf("aggregate", ["mean", "median"]),
  };
}

/** Builds the job spec of a `batch` command line. */
export async function batchSpec(args: ParsedArgs, spec: CommandSpec = batchCommand): Promise<JobSpec> {
  const inputs = args.strings("input");
  if (inputs.length !== 1)
    throw new UsageError(
      "a dataset job attributes one input: give one --input (the others with --extra)",
      spec,
    );
  const raw = inputs[0]!;
  const k = raw.indexOf("=");
  const named = k > 0 && !/[/\\.]/.test(raw.slice(0, k));
  const [name, path] = named ? splitPair(raw, "--input", spec) : ["", raw];
  let preprocess: Preprocess | undefined;
  if (args.string("preprocess")) {
    try {
      preprocess = JSON.parse(await readFile(args.string("preprocess")!, "utf8")) as Preprocess;
    } catch (e) {
      throw new CliError(`${args.string("preprocess")}: cannot be read as JSON (${(e as Error).message})`);
    }
  }
  const shardRows =
    optionalNumber(args.string("shard-rows"), "--shard-rows", (v) => Number.isInteger(v) && v >= 1, spec) ??
    64;
  return {
    model: args.positionals["model.onnx"]!,
    input: { name, path },
    extra: Object.fromEntries(args.pairs("extra")),
    preprocess,
    method: methodSettings(args, spec),
    groups: args.string("groups"),
    shardRows,
  };
}

function progressLine(quiet: boolean): (p: JobProgress) => void {
  const tty = process.stderr.isTTY === true;
  let last = -1;
  return (p) => {
    if (quiet || p.shardsDone === last) return;
    last = p.shardsDone;
    const rate = p.rowsPerSecond > 0 ? `, ${p.rowsPerSecond.toFixed(1)} rows/s` : "";
    const eta = Number.isFinite(p.etaSeconds) ? `, ETA ${formatSeconds(p.etaSeconds)}` : "";
    const line = `batch: ${p.rowsDone}/${p.rows} rows (${p.shardsDone}/${p.shards} shards)${rate}${eta}`;
    process.stderr.write(tty ? `\r\x1b[2K${line}${p.shardsDone === p.shards ? "\n" : ""}` : `${line}\n`);
  };
}

function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/** Runs `pathlens batch`. */
export async function runBatch(args: ParsedArgs): Promise<string[]> {
  const spec = await batchSpec(args);
  const threads = optionalNumber(
    args.string("threads"),
    "--threads",
    (v) => Number.isInteger(v) && v >= 1,
    batchCommand,
  );
  const quiet = args.flag("quiet") || args.flag("json");
  const r = await explainDataset(spec, {
    backend: nodeBackend(),
    out: args.string("out")!,
    restart: args.flag("restart"),
    failFast: args.flag("fail-fast"),
    queue: args.string("queue"),
    session: threads ? { intraOpThreads: threads } : undefined,
    onProgress: progressLine(quiet),
  });
  if (args.flag("json"))
    return [JSON.stringify({ ...r, summary: { ...r.summary, meanAbsAttribution: undefined } })];
  if (r.status === "already-done") return [`${r.out}: the job is complete (${r.rows} rows); nothing to do`];
  const s = r.summary;
  const lines = [
    ...r.files.map((f) => `wrote ${f}`),
    `${r.rows} rows: ${s.ok} explained, ${s.failed.length} failed; ${r.shardsComputed} shard(s) computed${r.shardsResumed ? `, ${r.shardsResumed} resumed` : ""}; ${r.seconds.toFixed(2)} s`,
  ];
  for (const f of s.failed.slice(0, 10)) lines.push(`  row ${f.row}: ${f.error}`);
  if (s.failed.length > 10) lines.push(`  … ${s.failed.length - 10} more in rows.parquet / dataset.json`);
  if (s.significance)
    lines.push(
      `class-wide significance: ${s.significance.significant.length} of ${s.meanAbsAttribution.length} features at ${s.significance.correction} α=${s.significance.alpha}`,
    );
  return lines;
}
