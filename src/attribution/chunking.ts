/**
 * Picks how many path points go into one session run from a memory budget.
 */

import type { ShapeInfo } from "../autodiff/builder.js";
import { BYTES_PER_ELEMENT } from "../tensor/tensor.js";
import { BudgetError } from "./budget.js";
import { OptionError } from "./errors.js";

/** Default bytes one chunk's tensors may take. */
export const DEFAULT_MEMORY_BUDGET = 512 * 2 ** 20;

/**
 * Most bytes one path point's tensors may need when no memory budget is given (4 GiB): above
 * it a run is refused up front instead of running out of memory.
 */
export const DEFAULT_MEMORY_LIMIT = 4 * 2 ** 30;

/** Most rows per run: beyond this, bigger runs stop paying off and only cost memory. */
const MAX_ROWS = 2048;

/**
 * Rows per run so that the tensors of one run fit `budget` bytes. The probe ran at batch B:
 * tensors whose axis 0 is B scale with the rows; a gradient graph holds about as many tensors
 * again as the forward pass, hence the factor 2.5.
 */
export function autoChunkRows(shapes: ShapeInfo, memoryBudget?: number, fixedBatch?: number): number {
  const budget = memoryBudget ?? DEFAULT_MEMORY_BUDGET;
  if (fixedBatch !== undefined) {
    if (fixedBatch !== 1) {
      throw new OptionError(
        `the model's input has a fixed batch size of ${fixedBatch}; pathlens needs a dynamic batch axis or batch 1`,
      );
    }
    return 1;
  }
  if (!(budget > 0)) throw new OptionError(`memoryBudget must be positive, got ${budget}`);
  // the probe's batch is the most common leading dim among tensors (inputs carry it)
  const counts = new Map<number, number>();
  for (const info of shapes.values())
    if (info.dims.length > 1) counts.set(info.dims[0]!, (counts.get(info.dims[0]!) ?? 0) + 1);
  const batch = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 1;
  let bytes = 0;
  for (const info of shapes.values()) {
    if (info.dims.length === 0 || info.dims[0] !== batch) continue;
    bytes += info.dims.reduce((a, b) => a * b, 1) * (BYTES_PER_ELEMENT[info.dtype ?? "float32"] ?? 4);
  }
  const perRow = (2.5 * bytes) / Math.max(1, batch);
  const limit = memoryBudget ?? DEFAULT_MEMORY_LIMIT;
  if (perRow > limit) {
    const mb = (b: number) => `${Math.ceil(b / 2 ** 20).toLocaleString("en-US")} MB`;
    throw new BudgetError(
      `one path point needs about ${mb(perRow)} (2.5 × ${mb(bytes / Math.max(1, batch))} of tensors per example, from the model's shapes), more than the memory limit of ${mb(limit)}; ` +
        "raise it if the machine has the memory (memoryBudget; CLI: --memory-budget MB)",
    );
  }
  return Math.max(1, Math.min(MAX_ROWS, Math.floor(budget / Math.max(perRow, 1))));
}
