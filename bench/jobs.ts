/**
 * Dataset jobs: a 2-worker BullMQ run against one process (rows/s), and the queue's overhead per
 * shard (a job of 40 one-row shards of a tiny model, through the queue and in one process).
 * Needs Debian's redis-server; skipped (and said so) without it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { redisServerPath, startRedis } from "../src/testing/redis.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const DIST = join(ROOT, "dist", "cli", "main.js");
const cliArgs = (args: string[]) =>
  existsSync(DIST) ? [DIST, ...args] : ["--import", "tsx", join(ROOT, "src/cli/main.ts"), ...args];

function run(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, cliArgs(args), { cwd: ROOT });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code, stdout, stderr, seconds: (performance.now() - t0) / 1000 }));
  });
}

/** Starts a worker and resolves once it waits for tasks. */
function worker(url: string, threads: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, cliArgs(["worker", "--queue", url, "--threads", String(threads)]), {
      cwd: ROOT,
    });
    let log = "";
    p.stderr.on("data", (d) => {
      log += d;
      if (log.includes("waiting for tasks")) resolve(p);
    });
    p.on("close", (code) => reject(new Error(`worker exited (${code}): ${log}`)));
  });
}

/** Job seconds (inside the process) from `batch --json`. */
async function job(args: string[]): Promise<{ seconds: number; wall: number }> {
  const r = await run([...args, "--json"]);
  if (r.code !== 0) throw new Error(`batch failed: ${r.stderr}`);
  return { seconds: (JSON.parse(r.stdout) as { seconds: number }).seconds, wall: r.seconds };
}

/** Runs the dataset-job benchmarks; returns the lines to print. */
export async function benchJobs(): Promise<string[]> {
  const redisBin = redisServerPath();
  if (!redisBin) return ["skipped: redis-server is not installed (tools/install-redis.sh)"];
  const dir = await mkdtemp(join(tmpdir(), "pathlens-bench-jobs-"));
  const redis = await startRedis(redisBin);
  const workers: ChildProcess[] = [];
  try {
    const digits = (out: string) => [
      "batch",
      join(ROOT, "examples/digits/digits_cnn.onnx"),
      "--input",
      join(ROOT, "examples/digits/digits_test.npy"),
      "--target",
      join(ROOT, "examples/digits/digits_test_labels.npy"),
      "--steps",
      "64",
      "--shard-rows",
      "30",
      "--out",
      join(dir, out),
    ];
    const one = await job(digits("one"));
    workers.push(await worker(redis.url, 1), await worker(redis.url, 1));
    const two = await job([...digits("two"), "--queue", redis.url]);
    const lines = [
      `digits CNN, 360 rows, 64 steps, 12 shards: one process ${(360 / one.seconds).toFixed(0)} rows/s (${one.seconds.toFixed(2)} s), ` +
        `2 workers × 1 thread ${(360 / two.seconds).toFixed(0)} rows/s (${two.seconds.toFixed(2)} s), ${(one.seconds / two.seconds).toFixed(2)}×`,
    ];
    for (const w of workers.splice(1)) w.kill("SIGTERM");
    const tiny = (out: string) => [
      "batch",
      join(ROOT, "examples/tabular/model.onnx"),
      "--input",
      join(ROOT, "examples/tabular/rows.csv"),
      "--steps",
      "2",
      "--shard-rows",
      "1",
      "--out",
      join(dir, out),
    ];
    const local = await job(tiny("tiny-local"));
    const queued = await job([...tiny("tiny-queue"), "--queue", redis.url]);
    lines.push(
      `queue overhead: 40 one-row shards of the tabular MLP: ${((1000 * queued.seconds) / 40).toFixed(1)} ms/shard through the queue (1 worker), ` +
        `${((1000 * local.seconds) / 40).toFixed(1)} ms/shard in one process → ${((1000 * (queued.seconds - local.seconds)) / 40).toFixed(1)} ms per shard`,
    );
    return lines;
  } finally {
    for (const w of workers) w.kill("SIGTERM");
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
