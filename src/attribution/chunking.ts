/**
 * How many path points go into one session run: at most what the memory budget allows
 * ({@link autoChunkRows}), and within that, the size that runs fastest ({@link ChunkPlan}).
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
 * Bytes of one row's tensors in a run (the probe ran at batch B: tensors whose axis 0 is B scale
 * with the rows; a gradient graph holds about as many tensors again as the forward pass, hence
 * the factor 2.5).
 */
export function chunkRowBytes(shapes: ShapeInfo): number {
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
  return Math.max(1, (2.5 * bytes) / Math.max(1, batch));
}

/**
 * Rows per run so that the tensors of one run fit the memory budget (see {@link chunkRowBytes};
 * {@link DEFAULT_MEMORY_BUDGET} when none is given). A single path point that needs more than the
 * budget (or {@link DEFAULT_MEMORY_LIMIT} when none is given) is refused up front.
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
  const perRow = chunkRowBytes(shapes);
  const limit = memoryBudget ?? DEFAULT_MEMORY_LIMIT;
  if (perRow > limit) {
    const mb = (b: number) => `${Math.ceil(b / 2 ** 20).toLocaleString("en-US")} MB`;
    throw new BudgetError(
      `one path point needs about ${mb(perRow)} (2.5 × ${mb(perRow / 2.5)} of tensors per example, from the model's shapes), more than the memory limit of ${mb(limit)}; ` +
        "raise it if the machine has the memory (memoryBudget; CLI: --memory-budget MB)",
    );
  }
  return Math.max(1, Math.min(MAX_ROWS, Math.floor(budget / perRow)));
}

/**
 * The working set one run aims at. Measured on this project's bench machine (whole CLI, 50
 * steps): the digits CNN (≈ 37 KiB per row) runs fastest at 32–64 rows and ≈ 1.5× slower at
 * 2048; tiny BERT 32×128 (≈ 12 MiB per row) fastest at 8–32 rows, ≈ 1.2× slower at the budget's
 * 42 and 1.7× at 64. Runs whose tensors stay near the CPU's caches go fastest; past about 8 rows
 * a big model's kernels are large enough that more rows only add memory traffic.
 */
export const CHUNK_TARGET_BYTES = 2 * 2 ** 20;
/** Fewest rows per run the throughput model picks (per-run overhead is amortized by then). */
export const MIN_FAST_ROWS = 8;

/**
 * Picks the rows of each session run. A fixed plan (an explicit `chunkSize`) always gives that
 * size. A model plan picks the rows for speed within the memory budget:
 * min(budget rows, max(8, ⌊2 MiB / bytes per row⌋)), and balances the runs of a call (sizes
 * differ by at most one), so no run is a small remainder of a new shape. Results do not depend
 * on the sizes: every path point is accumulated in order.
 */
export class ChunkPlan {
  private constructor(
    /** Rows per run (the last runs of a call may be one fewer, or what is left). */
    readonly chosen: number,
    /** Most rows per run the memory budget allows (equal to `chosen` for a fixed plan). */
    readonly cap: number,
    /** Bytes per row of the model plan; undefined for a fixed size. */
    private readonly rowBytes?: number,
  ) {}

  /** Always `rows` per run (an explicit chunk size). */
  static fixed(rows: number): ChunkPlan {
    if (!(Number.isInteger(rows) && rows >= 1))
      throw new OptionError(`chunkSize must be a positive integer, got ${rows}`);
    return new ChunkPlan(rows, rows);
  }

  /**
   * The rows that run fastest within the memory budget, from the probe's shapes (see
   * `CHUNK_TARGET_BYTES`); a fixed batch of 1 gives 1.
   */
  static forShapes(shapes: ShapeInfo, budget?: number, fixedBatch?: number): ChunkPlan {
    const cap = autoChunkRows(shapes, budget, fixedBatch);
    const rowBytes = chunkRowBytes(shapes);
    const fast = Math.max(MIN_FAST_ROWS, Math.floor(CHUNK_TARGET_BYTES / rowBytes));
    return new ChunkPlan(Math.min(cap, fast), cap, rowBytes);
  }

  /** Rows of the next run, with `left` points still to evaluate in this call. */
  next(left: number): number {
    if (this.rowBytes === undefined) return Math.min(this.chosen, left);
    // balanced: ⌈left / size⌉ runs of equal size (±1)
    const runs = Math.ceil(left / this.chosen);
    return Math.ceil(left / runs);
  }

  /** One line for summaries: what was chosen and why. */
  describe(): string {
    if (this.rowBytes === undefined) return `${this.chosen} rows per run (fixed)`;
    const kib = (this.rowBytes / 1024).toFixed(0);
    const why =
      this.chosen === this.cap
        ? `the memory budget's most`
        : `runs of about ${(CHUNK_TARGET_BYTES / 2 ** 20).toFixed(0)} MiB of tensors, or at least ${MIN_FAST_ROWS}, within the memory budget's ${this.cap}`;
    return `${this.chosen} rows per run (${kib} KiB of tensors per row; ${why})`;
  }
}
