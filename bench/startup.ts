/**
 * Start-up and chunking, in one run each (`node --import tsx bench/startup.ts [--chunks |
 * --chunks-only] [--only=digits] [--rounds=3]`, or from `npm run bench`):
 *
 * 1. Start-up of a gradient session in process, cold (empty gradient cache) against cached, with
 *    where the time goes (`startupPhases`: fold, hash, check, probe, transform, encode, cache
 *    write, session…), and the same through the whole CLI (`pathlens explain`, 2 steps): the
 *    summary's `startupSeconds` and the process's wall time, cold then cached, interleaved.
 * 2. Chunking: the whole CLI at 50 steps with the automatic chunk size against fixed
 *    `--chunk-size` 4/8/16/32/64, interleaved, medians; ratios to the best fixed size (target
 *    ≤ 1.05) for resnet18 (4 images, when present), tiny BERT layer IG 32×128, digits CNN 360 rows.
 *
 * resnet18 comes from $PATHLENS_LARGE_FIXTURES or ../shared/fixtures (skipped when absent).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { writeNpy } from "../src/io/npy.js";
import { diskGradientCache } from "../src/runtime/disk-cache.js";
import { GradientSession } from "../src/runtime/gradient-session.js";
import { nodeBackend } from "../src/runtime/node.js";
import { Random } from "../src/tensor/random.js";
import { float32, int64 } from "../src/tensor/tensor.js";
import { fixturePath, readModelFixture } from "../src/testing/fixtures.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "dist", "cli", "main.js");
const DATA = join(ROOT, ".bench", "startup");
const FIXED_SIZES = [4, 8, 16, 32, 64];

interface CliRun {
  wall: number;
  maxRssMiB: number;
  summary: {
    startupSeconds: number;
    cacheHit: boolean;
    chunkSize: number;
    chunking?: string;
    seconds: number;
  };
}

/** Runs `pathlens explain …` in a fresh process; wall time, peak RSS and the JSON summary. */
function explain(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const rssFile = join(DATA, `rss-${process.pid}-${Math.random().toString(36).slice(2)}.txt`);
    const out = join(DATA, "out");
    const t = performance.now();
    const p = spawn(
      process.execPath,
      [
        "--import",
        pathToFileURL(join(ROOT, "bench", "report-rss.mjs")).href,
        CLI,
        "explain",
        ...args,
        "--quiet",
        "--json",
        "--out",
        out,
      ],
      { env: { ...process.env, PATHLENS_RSS_FILE: rssFile, ...env } },
    );
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("error", reject);
    p.on("close", async (code) => {
      const wall = (performance.now() - t) / 1000;
      if (code !== 0)
        return reject(new Error(`pathlens explain ${args.join(" ")} failed (${code}): ${stderr}`));
      const kib = Number(await readFile(rssFile, "utf8").catch(() => "0"));
      await rm(rssFile, { force: true });
      resolve({ wall, maxRssMiB: kib / 1024, summary: JSON.parse(stdout) });
    });
  });
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)]!;
const phasesText = (p: Record<string, number>) =>
  Object.entries(p)
    .filter(([, s]) => s >= 0.0005)
    .map(([k, s]) => `${k} ${s.toFixed(3)}`)
    .join(", ");

interface Workload {
  label: string;
  model: string;
  args: string[];
}

/** The workloads of the issue, their inputs written under .bench/startup. */
async function workloads(): Promise<Workload[]> {
  await mkdir(DATA, { recursive: true });
  const rng = new Random(2026);
  const list: Workload[] = [];
  const resnet = fixturePath("models/resnet18.onnx");
  if (existsSync(resnet)) {
    const n = 4 * 3 * 224 * 224;
    await writeNpy(
      join(DATA, "resnet_x.npy"),
      float32(
        [4, 3, 224, 224],
        Array.from({ length: n }, () => rng.normal()),
      ),
    );
    list.push({
      label: "resnet18, 4 images",
      model: resnet,
      args: ["--input", join(DATA, "resnet_x.npy"), "--target", "7"],
    });
  }
  const seq = 128;
  const ids = Array.from({ length: 32 * seq }, (_, i) => (i % seq === 0 ? 1 : 2 + rng.int(990)));
  await writeNpy(join(DATA, "bert_ids.npy"), int64([32, seq], ids));
  await writeNpy(join(DATA, "bert_mask.npy"), int64([32, seq], new Array(32 * seq).fill(1)));
  const base = Array.from({ length: 32 * seq }, (_, i) => (i % seq === 0 ? 1 : 0));
  await writeNpy(join(DATA, "bert_base.npy"), int64([32, seq], base));
  list.push({
    label: "tiny BERT layer IG, 32×128",
    model: fixturePath("models/tiny_bert.onnx"),
    args: [
      "--input",
      `input_ids=${join(DATA, "bert_ids.npy")}`,
      "--extra",
      `attention_mask=${join(DATA, "bert_mask.npy")}`,
      "--layer",
      "/embeddings/LayerNorm/Add_1_output_0",
      "--baseline-inputs",
      `input_ids=${join(DATA, "bert_base.npy")}`,
      "--target",
      "1",
    ],
  });
  list.push({
    label: "digits CNN, 360 rows",
    model: fixturePath("models/digits_cnn.onnx"),
    args: ["--input", fixturePath("models/digits_X_test.npy"), "--target", "5"],
  });
  return list;
}

/** Part 1: start-up phases in process and through the CLI, cold vs cached. */
export async function benchStartup(): Promise<string[]> {
  const lines: string[] = [];
  const [first] = await workloads();
  if (!first) return ["start-up: no workload"];
  // in process: one gradient session of the first workload (resnet18 when present)
  if (first.label.startsWith("resnet")) {
    const dir = await mkdtemp(join(tmpdir(), "pathlens-startup-"));
    try {
      const backend = nodeBackend({ gradientCache: diskGradientCache({ dir }) });
      const model = readModelFixture("models/resnet18.onnx");
      const rng = new Random(7);
      const x = float32(
        [4, 3, 224, 224],
        Array.from({ length: 4 * 3 * 224 * 224 }, () => rng.normal()),
      );
      for (const run of ["cold", "cached", "cached"]) {
        const s = await GradientSession.create(backend, model, { input: x }, { wrt: ["input"] });
        await s.dispose();
        lines.push(
          `${first.label}, in process, ${run}: ${s.startupSeconds.toFixed(3)} s (hit ${s.cacheHit}) = ${phasesText(s.startupPhases)}`,
        );
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  // the whole CLI, cold then cached, three times each on fresh cache folders
  const cold: CliRun[] = [];
  const cached: CliRun[] = [];
  for (let i = 0; i < 3; i++) {
    const dir = await mkdtemp(join(tmpdir(), "pathlens-startup-cli-"));
    try {
      const env = { PATHLENS_CACHE: "1", PATHLENS_CACHE_DIR: dir };
      cold.push(await explain([first.model, ...first.args, "--steps", "2"], env));
      cached.push(await explain([first.model, ...first.args, "--steps", "2"], env));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const s = (runs: CliRun[]) => median(runs.map((r) => r.summary.startupSeconds));
  const w = (runs: CliRun[]) => median(runs.map((r) => r.wall));
  lines.push(
    `${first.label}, whole CLI (explain, 2 steps), medians of 3: start-up cold ${s(cold).toFixed(3)} s, cached ${s(cached).toFixed(3)} s (${(s(cached) / s(cold)).toFixed(2)}×; target ≤ 0.3 s); process wall cold ${w(cold).toFixed(2)} s, cached ${w(cached).toFixed(2)} s; hits ${cached.map((r) => r.summary.cacheHit).join("/")}`,
  );
  return lines;
}

/** Part 2: the automatic chunk size against fixed sizes, whole CLI, 50 steps, interleaved. */
export async function benchChunking(rounds = 3, only?: string): Promise<string[]> {
  const lines: string[] = [];
  for (const w of await workloads()) {
    if (only && !w.label.includes(only)) continue;
    const variants: (number | undefined)[] = [undefined, ...FIXED_SIZES];
    const times = new Map<string, number[]>();
    const chosen: string[] = [];
    let rss = "";
    for (let r = 0; r < rounds; r++) {
      for (const size of variants) {
        const args = [w.model, ...w.args, "--steps", "50"];
        if (size !== undefined) args.push("--chunk-size", String(size));
        // start-up excluded (cache off): the comparison is about the path points
        const run = await explain(args, { PATHLENS_CACHE: "0" });
        const key = size === undefined ? "auto" : String(size);
        const t = run.summary.seconds - run.summary.startupSeconds;
        times.set(key, [...(times.get(key) ?? []), t]);
        if (size === undefined) {
          chosen.push(String(run.summary.chunkSize));
          if (r === 0) rss = `${run.maxRssMiB.toFixed(0)} MiB; ${run.summary.chunking ?? ""}`;
        }
      }
    }
    const best = Math.min(...FIXED_SIZES.map((s) => median(times.get(String(s))!)));
    const row = [...times]
      .map(([k, v]) => `${k} ${median(v).toFixed(2)} s (${(median(v) / best).toFixed(2)})`)
      .join(", ");
    const ratio = median(times.get("auto")!) / best;
    lines.push(
      `${w.label}: ${row}; auto/best fixed ${ratio.toFixed(3)} ${ratio <= 1.05 ? "(≤ 1.05 ✓)" : "(target ≤ 1.05 ✗)"}; chose ${chosen.join("/")} rows`,
    );
    lines.push(`  ${"".padEnd(w.label.length)}  auto run: peak RSS ${rss}`);
  }
  return lines;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (!existsSync(CLI)) throw new Error("dist/ is missing: run `npm run build` first");
  const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);
  const rounds = Number(process.argv.find((a) => a.startsWith("--rounds="))?.slice("--rounds=".length) ?? 3);
  if (!process.argv.includes("--chunks-only")) for (const l of await benchStartup()) console.log(l);
  if (process.argv.some((a) => a.startsWith("--chunks")))
    for (const l of await benchChunking(rounds, only)) console.log(l);
}
