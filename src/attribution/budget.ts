/**
 * Up-front cost budgets: before any session is created, the number of path points a method will
 * evaluate (each a forward + backward pass of the model) is estimated and refused above a limit,
 * with the numbers and the option that raises it — instead of running for hours (`--steps 1e9`)
 * or until memory runs out.
 */
import { PathlensError } from "../errors.js";

/** Default most path points (gradient evaluations, summed over examples) one call may evaluate. */
export const DEFAULT_MAX_PATH_POINTS = 1_000_000;

/** The estimated cost of a run is above its budget. */
export class BudgetError extends PathlensError {
  override name = "BudgetError";
}

/** Options shared by the methods that check a budget. */
export interface BudgetOptions {
  /**
   * Most path points (one forward + backward pass of one example each) the call may evaluate
   * (default {@link DEFAULT_MAX_PATH_POINTS}). Checked before anything runs.
   */
  maxPathPoints?: number;
}

const fmt = (n: number) => (n >= 1e15 ? n.toExponential(2) : Math.round(n).toLocaleString("en-US"));

/**
 * Throws BudgetError when `points` exceeds the budget.
 * @param breakdown - how the estimate is made, e.g. "50 steps × 3 examples × 2 baselines"
 */
export function assertPathBudget(
  method: string,
  points: number,
  breakdown: string,
  options: BudgetOptions,
): void {
  const limit = options.maxPathPoints ?? DEFAULT_MAX_PATH_POINTS;
  if (!(limit > 0)) throw new BudgetError(`maxPathPoints must be positive, got ${limit}`);
  if (!Number.isFinite(points) || points > limit) {
    throw new BudgetError(
      `${method} would evaluate ${fmt(points)} path points (${breakdown}), more than the limit of ${fmt(limit)}; ` +
        "lower the steps/samples/examples or raise the limit (maxPathPoints; CLI: --max-points)",
    );
  }
}
