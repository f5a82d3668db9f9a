/**
 * Tests and corrections for the class-wide feature significance of Enhanced Integrated
 * Gradients: ranks with ties averaged, one-sided Welch t-test, Bonferroni and
 * Benjamini–Hochberg adjustments.
 */
import { tSurvival } from "./t-distribution.js";

/** Ranks 1…n of `values` (ties get their average rank, as scipy.stats.rankdata). */
export function ranks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const out = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]!] === values[order[i]!]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[order[k]!] = avg;
    i = j + 1;
  }
  return out;
}

/** Result of {@link welchTTest}. */
export interface WelchResult {
  statistic: number;
  df: number;
  /** One-sided p-value for the alternative mean(a) > mean(b). */
  pValue: number;
}

/** Welch's unequal-variance t-test, one-sided: H1 mean(a) > mean(b). */
export function welchTTest(a: ArrayLike<number>, b: ArrayLike<number>): WelchResult {
  if (a.length < 2 || b.length < 2) throw new RangeError("the t-test needs at least two values per group");
  const [ma, va] = meanVar(a);
  const [mb, vb] = meanVar(b);
  const sa = va / a.length;
  const sb = vb / b.length;
  const se2 = sa + sb;
  if (se2 === 0) {
    // both groups constant: the difference is certain (or there is none)
    const statistic = ma === mb ? Number.NaN : ma > mb ? Infinity : -Infinity;
    return { statistic, df: Number.NaN, pValue: ma === mb ? Number.NaN : ma > mb ? 0 : 1 };
  }
  const statistic = (ma - mb) / Math.sqrt(se2);
  const df = (se2 * se2) / ((sa * sa) / (a.length - 1) + (sb * sb) / (b.length - 1));
  return { statistic, df, pValue: tSurvival(statistic, df) };
}

function meanVar(x: ArrayLike<number>): [number, number] {
  let m = 0;
  for (let i = 0; i < x.length; i++) m += x[i]!;
  m /= x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i]! - m) ** 2;
  return [m, v / (x.length - 1)];
}

/** How p-values are adjusted for testing many features. */
export type Correction = "bonferroni" | "bh" | "none";

/** Adjusted p-values: Bonferroni (min(1, m·p)) or Benjamini–Hochberg (step-up, monotone). */
export function adjustPValues(p: ArrayLike<number>, correction: Correction): Float64Array {
  const m = p.length;
  const out = new Float64Array(m);
  if (correction === "none") {
    for (let i = 0; i < m; i++) out[i] = p[i]!;
    return out;
  }
  if (correction === "bonferroni") {
    for (let i = 0; i < m; i++) out[i] = Number.isNaN(p[i]!) ? Number.NaN : Math.min(1, p[i]! * m);
    return out;
  }
  const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => p[a]! - p[b]!);
  let prev = 1;
  for (let r = m; r >= 1; r--) {
    const i = order[r - 1]!;
    prev = Math.min(prev, (p[i]! * m) / r);
    out[i] = prev;
  }
  return out;
}
