/**
 * `pathlens worker`: takes shard tasks of `pathlens batch --queue` jobs from BullMQ on Redis and
 * writes the shards into the jobs' (shared) output folders, until stopped or idle.
 */
import { runWorker } from "../jobs/lazy.js";
import { nodeBackend } from "../runtime/node.js";
import type { CommandSpec, ParsedArgs } from "./args.js";
import { optionalNumber } from "./explain.js";

/** The declaration of `pathlens worker`. */
export const workerCommand: CommandSpec = {
  name: "worker",
  summary: "work on the shards of `batch --queue` jobs (any number of machines)",
  positionals: [],
  options: {
    queue: { type: "string", required: true, value: "redis://HOST:PORT[/DB]", help: "the Redis of the jobs" },
    "idle-exit": {
      type: "string",
      value: "S",
      help: "exit after S seconds without a task (default: run until stopped)",
    },
    "lock-seconds": {
      type: "string",
      value: "S",
      help: "a task whose worker is silent this long is given to another worker (default 30)",
    },
    threads: {
      type: "string",
      value: "N",
      help: "onnxruntime threads (default: all cores; e.g. 1 with one worker per core)",
    },
    quiet: { type: "boolean", help: "no line per shard on stderr" },
  },
  notes:
    "SIGINT/SIGTERM finish the task at hand, then exit. Job folders must be reachable at the same path as on the coordinator.",
};

/** Runs `pathlens worker`. */
export async function runWorkerCommand(args: ParsedArgs): Promise<string[]> {
  const num = (flag: string, ok: (n: number) => boolean) =>
    optionalNumber(args.string(flag), `--${flag}`, ok, workerCommand);
  const threads = num("threads", (v) => Number.isInteger(v) && v >= 1);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const started = performance.now();
  try {
    const n = await runWorker({
      backend: nodeBackend(),
      queue: args.string("queue")!,
      idleExitSeconds: num("idle-exit", (v) => v >= 0),
      lockSeconds: num("lock-seconds", (v) => v > 0),
      session: threads ? { intraOpThreads: threads } : undefined,
      signal: stop.signal,
      onEvent: args.flag("quiet") ? undefined : (m) => process.stderr.write(`worker ${process.pid}: ${m}\n`),
    });
    return [
      `worker ${process.pid}: ${n} shard(s) computed in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    ];
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
