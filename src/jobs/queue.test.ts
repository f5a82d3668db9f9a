/**
 * The distributed mode against a real redis-server: a coordinator and three `pathlens worker`
 * processes, one SIGKILLed in the middle of a task. Every shard is written exactly once, the stalled
 * task is taken over, and the job folder equals the one-machine run's byte for byte.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { nodeBackend } from "../runtime/node.js";
import { ROOT, runCli } from "../testing/cli.js";
import { redisServerPath, startRedis } from "../testing/redis.js";
import { explainDataset } from "./engine.js";
import { redisConnection } from "./queue.js";

const REDIS = redisServerPath();
const SHARDS = 12;
const job = (out: string, extra: string[] = []) => [
  "batch",
  "examples/digits/digits_cnn.onnx",
  "--input",
  "examples/digits/digits_test.npy",
  "--target",
  "examples/digits/digits_test_labels.npy",
  "--steps",
  "4",
  "--shard-rows",
  "30",
  "--quiet",
  "--out",
  out,
  ...extra,
];

interface WorkerProc {
  proc: ChildProcess;
  log: string;
  started: Promise<number>;
}

function startWorker(url: string): WorkerProc {
  const proc = spawn(
    process.execPath,
    ["--import", "tsx", "src/cli/main.ts", "worker", "--queue", url, "--lock-seconds", "2", "--threads", "1"],
    {
      cwd: ROOT,
      env: { ...process.env, PATHLENS_DEBUG: "" },
    },
  );
  const w: WorkerProc = { proc, log: "", started: Promise.resolve(-1) };
  w.started = new Promise((resolve) => {
    proc.stderr!.on("data", (d) => {
      w.log += d;
      const m = /shard (\d+) \(rows [^)]*\) of .* started/.exec(w.log);
      if (m) resolve(Number(m[1]));
    });
    proc.on("close", () => resolve(-1));
  });
  proc.stdout!.on("data", (d) => (w.log += d));
  return w;
}

const exited = (p: ChildProcess) =>
  new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once("close", () => r())));

async function files(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const name of await readdir(dir, { recursive: true }))
    if (/\.(npy|json|parquet)$/.test(name)) out.set(name, await readFile(join(dir, name)));
  return out;
}

test("redis URLs: host, port and database; anything else is a clear error", () => {
  assert.deepEqual(
    { ...redisConnection("redis://10.1.2.3:7000/2") },
    { host: "10.1.2.3", port: 7000, db: 2, maxRetriesPerRequest: null },
  );
  assert.throws(() => redisConnection("http://x:1"), { name: "QueueError", message: /redis:\/\/HOST:PORT/ });
  assert.throws(() => redisConnection("redis://x:1/abc"), {
    name: "QueueError",
    message: /database must be a number/,
  });
});

test("three workers on BullMQ, one killed mid-task, the coordinator killed and restarted: each shard written once, outputs equal the one-machine run", {
  skip: REDIS
    ? false
    : "redis-server is not installed (apt-get install redis-server, or run tools/install-redis.sh)",
  timeout: 120_000,
}, async (t) => {
  const root = await mkdtemp(join(tmpdir(), "pathlens-queue-"));
  const redis = await startRedis(REDIS!);
  const workers: WorkerProc[] = [];
  const others: ChildProcess[] = [];
  try {
    const local = join(root, "local");
    const distributed = join(root, "distributed");
    workers.push(startWorker(redis.url), startWorker(redis.url), startWorker(redis.url));
    // the first coordinator is SIGKILLed once 4 or more shards are committed; a second one finishes the job
    const first = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "src/cli/main.ts",
        ...job(distributed, ["--queue", redis.url]).filter((a) => a !== "--quiet"),
      ],
      {
        cwd: ROOT,
        env: { ...process.env, PATHLENS_DEBUG: "" },
      },
    );
    others.push(first);
    let firstLog = "";
    const coordinator = new Promise<Awaited<ReturnType<typeof runCli>>>((resolve, reject) => {
      first.stdout.resume();
      first.stderr.on("data", (d) => {
        firstLog += d;
        // several shards may be committed between two progress lines: kill at the first ≥ 4
        const done = [...firstLog.matchAll(/\((\d+)\/12 shards\)/g)].map((m) => Number(m[1]));
        if (done.some((n) => n >= 4) && first.exitCode === null) first.kill("SIGKILL");
      });
      first.on("close", () => {
        if (first.signalCode !== "SIGKILL")
          reject(new Error(`the first coordinator was not killed mid-job: ${firstLog}`));
        else runCli(job(distributed, ["--queue", redis.url])).then(resolve, reject);
      });
    });
    // the first worker to start a task dies in the middle of it
    const victim = await Promise.race(workers.map((w, k) => w.started.then((shard) => ({ k, shard }))));
    assert.ok(victim.shard >= 0, "a worker started a task");
    workers[victim.k]!.proc.kill("SIGKILL");
    // meanwhile, the one-machine reference in this process
    await explainDataset(
      {
        model: "examples/digits/digits_cnn.onnx",
        input: { name: "", path: "examples/digits/digits_test.npy" },
        extra: {},
        method: { target: "examples/digits/digits_test_labels.npy", steps: 4 },
        shardRows: 30,
      },
      { backend: nodeBackend(), out: local },
    );
    const c = await coordinator;
    assert.equal(c.code, 0, c.stderr);
    for (const w of workers) w.proc.kill("SIGTERM");
    await Promise.all(workers.map((w) => exited(w.proc)));
    for (const [k, w] of workers.entries())
      if (k !== victim.k) assert.equal(w.proc.exitCode, 0, `SIGTERM stops a worker cleanly: ${w.log}`);
    const survivors = workers.filter((_, k) => k !== victim.k);
    const written = survivors.flatMap((w) =>
      [...w.log.matchAll(/shard (\d+) \(rows [^)]*\) of .* written/g)].map((m) => Number(m[1])),
    );
    t.diagnostic(
      `killed worker ${victim.k} during shard ${victim.shard}; shards written by the others: ${written.join(", ")}`,
    );
    assert.deepEqual(
      [...written].sort((a, b) => a - b),
      Array.from({ length: SHARDS }, (_, i) => i),
      "every shard written exactly once",
    );
    assert.ok(
      !/written/.test(workers[victim.k]!.log.split(`shard ${victim.shard} (`)[1] ?? ""),
      "the killed worker did not finish its shard",
    );
    const manifest = JSON.parse(await readFile(join(distributed, "manifest.json"), "utf8")) as {
      complete: boolean;
      shards: { start: number; end: number }[];
    };
    assert.ok(manifest.complete);
    const rows = manifest.shards.flatMap((s) =>
      Array.from({ length: s.end - s.start }, (_, k) => s.start + k),
    );
    assert.deepEqual(
      rows,
      Array.from({ length: 360 }, (_, k) => k),
      "each row committed once, in order",
    );
    const a = await files(local);
    const b = await files(distributed);
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    for (const [name, bytes] of a)
      assert.ok(bytes.equals(b.get(name)!), `${name} differs from the one-machine run`);
    // an idle worker leaves by itself
    const idle = await runCli(["worker", "--queue", redis.url, "--idle-exit", "1"]);
    assert.equal(idle.code, 0, idle.stderr);
    assert.match(idle.stdout, /0 shard\(s\) computed/);
  } finally {
    for (const p of [...workers.map((w) => w.proc), ...others]) if (p.exitCode === null) p.kill("SIGKILL");
    await redis.stop();
    await rm(root, { recursive: true, force: true });
  }
});
