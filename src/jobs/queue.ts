/**
 * Distributed dataset jobs on BullMQ (Redis). The coordinator (`pathlens batch … --queue URL`)
 * enqueues one task per missing shard, with a job id made of the job's fingerprint and the shard
 * index, so re-enqueueing after a crash never duplicates a task. Workers (`pathlens worker`) open
 * the job from the task's spec (once per job), compute the shard, write its files to the shared
 * output folder (atomically; a shard already written is not recomputed), and return. The
 * coordinator alone writes the manifest, committing a shard once its files are there: the folder
 * ends exactly as in one-machine mode. A worker that dies mid-task loses its lock; BullMQ's stalled
 * check hands the task to another worker, and failed attempts are retried with exponential backoff.
 */
import { resolve as absolutePath } from "node:path";
import { type ConnectionOptions, Queue, QueueEvents, Worker } from "bullmq";
import type { Backend, SessionOptions } from "../runtime/backend.js";
import { checkFailFast, type ExplainDatasetOptions, progressMeter } from "./engine.js";
import { QueueError } from "./errors.js";
import { existingShard, type Manifest, type ShardEntry, writeManifest, writeShard } from "./store.js";
import { type JobSpec, type OpenedTask, openTask } from "./task.js";

/** The BullMQ queue every pathlens coordinator and worker use (tasks carry their job). */
export const QUEUE_NAME = "pathlens-shards";

/** Attempts per shard task, and the first retry delay (doubling). */
export const TASK_ATTEMPTS = 4;
export const TASK_BACKOFF_MS = 1000;

/** What a shard task carries. */
export interface ShardTaskData {
  out: string;
  fingerprint: string;
  index: number;
  spec: JobSpec;
}

/**
 * Parses `redis://HOST:PORT[/DB]` into connection options.
 * @throws QueueError naming the URL when it is not of that form
 */
export function redisConnection(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new QueueError(`--queue ${url}: not a URL; expected redis://HOST:PORT[/DB]`);
  }
  if (u.protocol !== "redis:") throw new QueueError(`--queue ${url}: expected redis://HOST:PORT[/DB]`);
  const db = u.pathname.replace(/^\//, "");
  if (db && !/^\d+$/.test(db))
    throw new QueueError(`--queue ${url}: the database must be a number, got "${db}"`);
  return {
    host: u.hostname || "127.0.0.1",
    port: u.port ? Number(u.port) : 6379,
    db: db ? Number(db) : 0,
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    // BullMQ's blocking commands need this; a Redis that is down fails the connection, not a command
    maxRetriesPerRequest: null,
  } as ConnectionOptions;
}

/** A task's BullMQ job id: stable for a job and shard, so adding it again is a no-op. */
export function taskId(fingerprint: string, index: number): string {
  return `${fingerprint.slice(0, 24)}-${index}`;
}

/** Waits for a connection, or fails with a clear error instead of retrying forever. */
async function connected(
  q: { waitUntilReady(): Promise<unknown> },
  url: string,
  seconds = 10,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      q.waitUntilReady(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new QueueError(`--queue ${url}: Redis did not answer within ${seconds} s`)),
          seconds * 1000,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Coordinator: enqueues the missing shards, commits each as its files appear, returns the number
 * of shards committed by this run. The manifest `m` is updated in place.
 */
export async function runOnQueue(
  task: OpenedTask,
  m: Manifest,
  options: ExplainDatasetOptions & { out: string; queue?: string },
): Promise<number> {
  const url = options.queue!;
  const connection = redisConnection(url);
  const queue = new Queue<ShardTaskData>(QUEUE_NAME, { connection });
  const events = new QueueEvents(QUEUE_NAME, { connection });
  const swallow = () => {};
  queue.on("error", swallow);
  events.on("error", swallow);
  const { out } = options;
  const tick = progressMeter(task.rows, task.shardCount, m, options.onProgress);
  let committedNow = 0;
  try {
    await connected(queue, url);
    await connected(events, url);
    const committed = new Set(m.shards.map((e) => e.index));
    let writing: Promise<void> = Promise.resolve();
    const commit = async (entry: ShardEntry) => {
      if (committed.has(entry.index)) return;
      if (options.failFast && entry.failed > 0)
        checkFailFast(entry, [
          {
            row: entry.start,
            ok: false,
            error: `${entry.failed} row(s) of shard ${entry.index} failed; see ${entry.records}`,
          },
        ]);
      committed.add(entry.index);
      m.shards.push(entry);
      // one manifest write at a time, each with every shard committed so far: the file only grows
      writing = writing.then(() => writeManifest(out, m));
      await writing;
      committedNow++;
      tick();
    };
    // shards whose files a worker wrote while no coordinator was running
    const pending: number[] = [];
    for (let i = 0; i < task.shardCount; i++) {
      if (committed.has(i)) continue;
      const { start, end } = task.shardRange(i);
      const e = await existingShard(out, task.fingerprint, i, start, end);
      if (e) await commit(e);
      else pending.push(i);
    }
    tick();
    if (pending.length === 0) return committedNow;
    // a task left failed (or completed for a folder since restarted) by an earlier run is replaced
    for (const i of pending) {
      const old = await queue.getJob(taskId(task.fingerprint, i));
      if (old && ["failed", "completed"].includes(await old.getState())) await old.remove();
    }
    let failure: Error | undefined;
    let wake: () => void = () => {};
    const check = async (index: number) => {
      const { start, end } = task.shardRange(index);
      const e = await existingShard(out, task.fingerprint, index, start, end);
      if (e) await commit(e);
      return e !== undefined;
    };
    const byId = new Map(pending.map((i) => [taskId(task.fingerprint, i), i]));
    events.on("completed", ({ jobId }) => {
      const i = byId.get(jobId);
      if (i !== undefined)
        void check(i).then(
          () => wake(),
          (e: Error) => {
            failure ??= e;
            wake();
          },
        );
    });
    events.on("failed", async ({ jobId, failedReason }) => {
      const i = byId.get(jobId);
      if (i === undefined) return;
      const job = await queue.getJob(jobId);
      if (job && (await job.getState()) === "failed") {
        failure ??= new QueueError(
          `shard ${i} failed on every attempt (${job.attemptsMade}): ${failedReason}`,
        );
        wake();
      }
    });
    await queue.addBulk(
      pending.map((index) => ({
        name: "shard",
        data: { out: absolutePath(out), fingerprint: task.fingerprint, index, spec: task.spec },
        opts: {
          jobId: taskId(task.fingerprint, index),
          attempts: TASK_ATTEMPTS,
          backoff: { type: "exponential", delay: TASK_BACKOFF_MS },
          removeOnComplete: { age: 24 * 3600 },
          removeOnFail: { age: 7 * 24 * 3600 },
        },
      })),
    );
    // wait; a sweep every second catches events missed while (re)connecting
    while (committed.size < task.shardCount && !failure) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1000);
      });
      for (const i of pending) if (!committed.has(i)) await check(i);
    }
    if (failure && committed.size < task.shardCount) throw failure;
    return committedNow;
  } finally {
    await events.close().catch(() => {});
    await queue.close().catch(() => {});
  }
}

/** Options of {@link runWorker}. */
export interface WorkerOptions {
  backend: Backend;
  queue: string;
  /** Exit after this many seconds without a task (default: run until stopped). */
  idleExitSeconds?: number;
  /** How long a task's lock lasts without renewal; a dead worker's task is taken over after it (default 30). */
  lockSeconds?: number;
  session?: SessionOptions;
  onEvent?: (message: string) => void;
  /** Stops the worker (it finishes the task at hand first). */
  signal?: AbortSignal;
}

/**
 * Takes shard tasks until stopped (or idle for `idleExitSeconds`); returns the shards it computed.
 */
export async function runWorker(options: WorkerOptions): Promise<number> {
  const connection = redisConnection(options.queue);
  const log = options.onEvent ?? (() => {});
  const tasks = new Map<string, Promise<OpenedTask>>();
  let computed = 0;
  let busy = false;
  let lastActive = Date.now();
  const lockMs = (options.lockSeconds ?? 30) * 1000;
  const worker = new Worker<ShardTaskData>(
    QUEUE_NAME,
    async (job) => {
      const d = job.data;
      let opened = tasks.get(d.fingerprint);
      if (!opened) {
        // one job open at a time: a worker serving many jobs keeps only the current one's data
        for (const [k, t] of tasks) {
          tasks.delete(k);
          await (await t.catch(() => undefined))?.dispose();
        }
        opened = openTask(d.spec, options.backend, options.session);
        tasks.set(d.fingerprint, opened);
        opened.catch(() => tasks.delete(d.fingerprint));
      }
      const task = await opened;
      if (task.fingerprint !== d.fingerprint)
        throw new QueueError(
          `the job's model or data changed since it was enqueued (fingerprint ${task.fingerprint.slice(0, 12)}…, task ${d.fingerprint.slice(0, 12)}…)`,
        );
      const { start, end } = task.shardRange(d.index);
      const done = await existingShard(d.out, d.fingerprint, d.index, start, end);
      if (done) {
        log(`shard ${d.index} of ${d.out} was already written`);
        return done;
      }
      log(
        `shard ${d.index} (rows ${start}–${end - 1}) of ${d.out} started (attempt ${job.attemptsMade + 1})`,
      );
      const data = await task.runShard(d.index);
      const entry = await writeShard(d.out, d.fingerprint, task.featureDims, data);
      computed++;
      log(`shard ${d.index} (rows ${start}–${end - 1}) of ${d.out} written`);
      return entry;
    },
    {
      connection,
      concurrency: 1,
      lockDuration: lockMs,
      stalledInterval: lockMs,
      maxStalledCount: 3,
      autorun: false,
    },
  );
  worker.on("error", (e) => log(`queue error: ${e.message}`));
  worker.on("active", () => {
    busy = true;
  });
  const idle = () => {
    busy = false;
    lastActive = Date.now();
  };
  worker.on("completed", idle);
  worker.on("failed", (job, e) => {
    idle();
    log(`shard ${job?.data.index} failed: ${e.message}`);
  });
  await connected(worker, options.queue);
  log(`waiting for tasks on ${options.queue}`);
  const stop = () => void worker.close();
  options.signal?.addEventListener("abort", stop);
  const timer =
    options.idleExitSeconds === undefined
      ? undefined
      : setInterval(() => {
          if (!busy && Date.now() - lastActive > options.idleExitSeconds! * 1000) stop();
        }, 200);
  try {
    await worker.run();
  } finally {
    clearInterval(timer);
    options.signal?.removeEventListener("abort", stop);
    await worker.close().catch(() => {});
    for (const t of tasks.values()) await (await t.catch(() => undefined))?.dispose();
  }
  return computed;
}
