/**
 * How many path points go into one session run: at most what the memory budget allows
 * ({@link autoChunkRows}), and within that, the size that runs fastest ({@link ChunkPlan}).
 */

import type { ShapeInfo } from "../autodiff/builder.js";
import { BYTES_PER_ELEMENT } from "../tensor/tensor.js";
import { OptionError } from "./errors.js";

/** Default bytes one chunk's tensors may take. */
export const DEFAULT_MEMORY_BUDGET = 512 * 2 ** 20;

/** Most rows per run: beyond this, bigger runs stop paying off and only cost memory. */
const MAX_ROWS = 2048;

/**
 * Rows per run so that the tensors of one run fit `budget` bytes. The probe ran at batch B:
 * tensors whose axis 0 is B scale with the rows; a gradient graph holds about as many tensors
 * again as the forward pass, hence the factor 2.5.
 */
export function autoChunkRows(
  shapes: ShapeInfo,
  budget = DEFAULT_MEMORY_BUDGET,
  fixedBatch?: number,
): number {
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
  return Math.max(1, Math.min(MAX_ROWS, Math.floor(budget / Math.max(perRow, 1))));
}

/** The smallest chunk the tuner tries (and the first): smaller runs only pay per-run overhead. */
const FIRST_TRIAL_ROWS = 8;
/**
 * Runs timed per trial size: at least 3, and short ones until they add up to 50 ms (at most 16).
 * The fastest run counts: the first run of a new shape carries set-up, and on a busy machine a
 * run that was not interrupted is the one that measures the size.
 */
const MIN_RUNS_PER_TRIAL = 3;
const MAX_RUNS_PER_TRIAL = 16;
const TRIAL_SECONDS = 0.05;
/** Doublings tried past the fastest size before settling (one slow run on a busy machine is noise). */
const PATIENCE = 2;

/**
 * Picks the rows of each session run. A fixed plan (an explicit `chunkSize`) always gives that
 * size. An adaptive plan measures the first runs: it starts at 8 rows (or the cap) and doubles
 * until two sizes in a row are not faster than the fastest so far, never beyond `cap` (the memory
 * budget's rows), then keeps the fastest size — bigger chunks stop paying off once a run's tensors leave the CPU caches (digits
 * CNN: 64 rows ≈ 1.5× faster than 2048; tiny BERT 32×128: 8–32 rows ≈ 1.2× faster than 42).
 * Later runs are balanced (sizes differ by at most one), so no run is a small remainder of a
 * new shape. Results do not depend on the sizes: every path point is accumulated in order.
 * One plan serves all calls on one session, so what it learned carries over.
 */
export class ChunkPlan {
  /** Per-row seconds of each trial size (fastest of its runs), in trial order. */
  private readonly trials = new Map<number, number[]>();
  private trying: number | undefined;
  private best: number;
  /** Trial sizes in a row that were not faster than the best. */
  private misses = 0;
  /** Seconds of runs of the size being tried. */
  private trialSeconds = 0;

  private constructor(
    /** Most rows per run (the memory budget's). */
    readonly cap: number,
    /** Whether the size is measured (else fixed at `cap`). */
    readonly adaptive: boolean,
  ) {
    const first = Math.min(cap, FIRST_TRIAL_ROWS);
    this.best = adaptive ? first : cap;
    this.trying = adaptive && first < cap ? first : undefined;
  }

  /** Always `rows` per run (an explicit chunk size). */
  static fixed(rows: number): ChunkPlan {
    if (!(Number.isInteger(rows) && rows >= 1))
      throw new OptionError(`chunkSize must be a positive integer, got ${rows}`);
    return new ChunkPlan(rows, false);
  }

  /** The fastest size up to `cap` rows, measured on the first runs. */
  static adaptive(cap: number): ChunkPlan {
    return new ChunkPlan(Math.max(1, Math.floor(cap)), true);
  }

  /** Rows of the next run, with `left` points still to evaluate in this call. */
  next(left: number): number {
    if (!this.adaptive) return Math.min(this.cap, left);
    // a size is tried only on a run it fills (calls with fewer points left use the best so far)
    if (this.trying !== undefined && this.trying <= left) return this.trying;
    // balanced: ⌈left / size⌉ runs of equal size (±1)
    const runs = Math.ceil(left / this.best);
    return Math.ceil(left / runs);
  }

  /** Reports that a run of `rows` rows took `seconds`. */
  record(rows: number, seconds: number): void {
    const size = this.trying;
    if (size === undefined || rows !== size) return;
    const runs = this.trials.get(size) ?? [];
    runs.push(seconds / rows);
    this.trials.set(size, runs);
    this.trialSeconds += seconds;
    if (runs.length < MIN_RUNS_PER_TRIAL) return;
    if (this.trialSeconds < TRIAL_SECONDS && runs.length < MAX_RUNS_PER_TRIAL) return;
    this.trialSeconds = 0;
    const perRow = Math.min(...runs);
    const bestPerRow = Math.min(...(this.trials.get(this.best) ?? [Number.POSITIVE_INFINITY]));
    if (size === this.best || perRow < bestPerRow) {
      this.best = size;
      this.misses = 0;
    } else this.misses++;
    // keep doubling while a faster size was seen lately; then settle on the fastest
    this.trying = size < this.cap && this.misses < PATIENCE ? Math.min(this.cap, size * 2) : undefined;
  }

  /** The size runs use once the trials are over (the fixed size, or the fastest measured). */
  get chosen(): number {
    return this.best;
  }

  /** One line for summaries: what was chosen and why. */
  describe(): string {
    if (!this.adaptive) return `${this.cap} rows per run (fixed)`;
    const tried = [...this.trials]
      .map(([size, t]) => `${size}: ${(Math.min(...t) * 1e3).toFixed(2)} ms/row`)
      .join(", ");
    return `${this.chosen} rows per run, the fastest measured within the memory budget's ${this.cap}${tried ? ` (${tried})` : ""}`;
  }
}
