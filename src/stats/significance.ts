/**
 * Class-wide feature significance (Enhanced Integrated Gradients): which features are ranked
 * higher in the attributions of the class of interest than in those of random samples?
 * Each sample's attributions are ranked (1 = lowest); per feature, the class ranks are compared
 * with the random-set ranks by a one-sided Welch t-test, and the p-values are adjusted.
 */
import { PathlensError } from "../errors.js";
import { adjustPValues, type Correction, ranks, welchTTest } from "./tests.js";

/**
 * Inputs on which the test is undefined: bad options, rows that do not fit, NaN/Inf
 * attributions, fewer than two samples, or features whose ranks never vary (all-zero
 * attributions), which would give NaN p-values.
 */
export class SignificanceError extends PathlensError {
  override name = "SignificanceError";
}

/** Options of {@link featureSignificance}. */
export interface SignificanceOptions {
  /** Family-wise (Bonferroni) or false-discovery (BH) level (default 0.05). */
  alpha?: number;
  /** Multiple-testing correction (default "bonferroni", as eig). */
  correction?: Correction;
  /** Rank |attribution| instead of the signed value (default false). */
  absolute?: boolean;
}

/** Per-feature result of {@link featureSignificance}. */
export interface SignificanceResult {
  statistic: Float64Array;
  df: Float64Array;
  pValues: Float64Array;
  adjusted: Float64Array;
  /** Features with adjusted p-value ≤ alpha, most significant first. */
  significant: number[];
  /** Mean rank of each feature in the class of interest and in the random set. */
  meanRankClass: Float64Array;
  meanRankNull: Float64Array;
  alpha: number;
  correction: Correction;
}

/**
 * Tests every feature: `classAttr` and `nullAttr` are [samples × features] row-major.
 */
export function featureSignificance(
  classAttr: ArrayLike<number>,
  nullAttr: ArrayLike<number>,
  features: number,
  options: SignificanceOptions = {},
): SignificanceResult {
  const alpha = options.alpha ?? 0.05;
  const correction = options.correction ?? "bonferroni";
  if (!(alpha > 0 && alpha < 1)) throw new SignificanceError(`alpha must be in (0, 1), got ${alpha}`);
  if (!["bonferroni", "bh", "none"].includes(correction))
    throw new SignificanceError(`unknown correction "${correction}"`);
  if (!(Number.isInteger(features) && features >= 1))
    throw new SignificanceError(`the number of features must be a positive integer, got ${features}`);
  const rankRows = (x: ArrayLike<number>, what: string) => {
    if (x.length % features !== 0)
      throw new SignificanceError(`${what}: ${x.length} values are not rows of ${features} features`);
    const n = x.length / features;
    if (n < 2) throw new SignificanceError(`${what}: ${n} sample(s); the t-test needs at least 2`);
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i]!)) {
        throw new SignificanceError(
          `${what}: sample ${Math.floor(i / features)}, feature ${i % features} is ${x[i]}; attributions must be finite`,
        );
      }
    }
    const out = new Float64Array(x.length);
    for (let s = 0; s < n; s++) {
      const row = Array.from({ length: features }, (_, j) => {
        const v = x[s * features + j]!;
        return options.absolute ? Math.abs(v) : v;
      });
      out.set(ranks(row), s * features);
    }
    return { out, n };
  };
  const c = rankRows(classAttr, "class attributions");
  const z = rankRows(nullAttr, "random-set attributions");
  const statistic = new Float64Array(features);
  const df = new Float64Array(features);
  const pValues = new Float64Array(features);
  const meanRankClass = new Float64Array(features);
  const meanRankNull = new Float64Array(features);
  let degenerate = 0;
  for (let j = 0; j < features; j++) {
    const a = Array.from({ length: c.n }, (_, s) => c.out[s * features + j]!);
    const b = Array.from({ length: z.n }, (_, s) => z.out[s * features + j]!);
    let r = welchTTest(a, b);
    if (Number.isNaN(r.pValue)) {
      // Zero rank variance in both sets: with equal means there is no evidence (p = 1); with
      // different means the t statistic is infinite and the test says nothing useful.
      if (a[0] !== b[0]) {
        throw new SignificanceError(
          `feature ${j} has a constant rank in each set (${a[0]} vs ${b[0]}): the t-test is undefined`,
        );
      }
      r = { statistic: 0, df: a.length + b.length - 2, pValue: 1 };
      degenerate++;
    }
    statistic[j] = r.statistic;
    df[j] = r.df;
    pValues[j] = r.pValue;
    meanRankClass[j] = a.reduce((p, q) => p + q, 0) / a.length;
    meanRankNull[j] = b.reduce((p, q) => p + q, 0) / b.length;
  }
  if (degenerate === features) {
    throw new SignificanceError(
      "every feature has the same rank in every sample of both sets (all-zero or constant attributions): nothing to test",
    );
  }
  const adjusted = adjustPValues(pValues, correction);
  const significant = Array.from({ length: features }, (_, j) => j)
    .filter((j) => adjusted[j]! <= alpha)
    .sort((p, q) => adjusted[p]! - adjusted[q]!);
  return { statistic, df, pValues, adjusted, significant, meanRankClass, meanRankNull, alpha, correction };
}
