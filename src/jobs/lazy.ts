/**
 * Entry points that load BullMQ (and its Redis client) only when used: importing pathlens/node or
 * starting any CLI command does not pay for them.
 */
import type { WorkerOptions } from "./queue.js";

export type { WorkerOptions } from "./queue.js";

/**
 * Takes shard tasks of queued dataset jobs until stopped (or idle); returns the shards computed.
 * See {@link WorkerOptions}.
 */
export async function runWorker(options: WorkerOptions): Promise<number> {
  const queue = await import("./queue.js");
  return queue.runWorker(options);
}
