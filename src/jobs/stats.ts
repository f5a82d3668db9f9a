/**
 * Dataset-level results from per-shard sufficient statistics, so any split of the rows into shards
 * and any number of workers give the same numbers:
 * - mean |attribution| per feature (Σ|a| per shard, added in shard order);
 * - the class-wide significance of Enhanced Integrated Gradients (each row's attributions ranked,
 *   then a one-sided Welch t-test per feature between the class of interest and the random set):
 *   per group and feature, n, Σ rank and Σ rank². Ranks are multiples of ½, so these sums are
 *   exact in float64 and merge exactly, whatever the order.
 */
import { tSurvival } from "../stats/t-distribution.js";
import { adjustPValues, type Correction, ranks } from "../stats/tests.js";

/** Rank sums of one group (class of interest or random set). */
export interface GroupSums {
  n: number;
  rankSum: number[];
  rankSumSq: number[];
}

/** What a shard contributes to the dataset-level results. */
export interface ShardStats {
  features: number;
  /** Rows explained without failure. */
  okRows: number;
  /** Σ |attribution| per feature over the shard's good rows. */
  absSum: number[];
  /** Rows with group 1 (class of interest) and 0 (random set), when groups were given. */
  classGroup: GroupSums;
  nullGroup: GroupSums;
  /** Text data sets: word (lower case) → [Σ |score|, occurrences]. */
  words?: Record<string, [number, number]>;
}

function emptyGroup(features: number): GroupSums {
  return { n: 0, rankSum: new Array(features).fill(0), rankSumSq: new Array(features).fill(0) };
}

/** Statistics of no rows. */
export function emptyShardStats(features: number): ShardStats {
  return {
    features,
    okRows: 0,
    absSum: new Array(features).fill(0),
    classGroup: emptyGroup(features),
    nullGroup: emptyGroup(features),
  };
}

/** Adds one good row (its float32 attributions, as stored) to a shard's statistics. */
export function addRowStats(s: ShardStats, row: ArrayLike<number>, group: number | undefined): void {
  s.okRows++;
  for (let j = 0; j < s.features; j++) s.absSum[j]! += Math.abs(row[j]!);
  if (group !== 0 && group !== 1) return;
  const g = group === 1 ? s.classGroup : s.nullGroup;
  const r = ranks(row);
  g.n++;
  for (let j = 0; j < s.features; j++) {
    g.rankSum[j]! += r[j]!;
    g.rankSumSq[j]! += r[j]! * r[j]!;
  }
}

/** Merges shard statistics (in the order given: the sums of |a| are floating-point). */
export function mergeShardStats(parts: readonly ShardStats[], features: number): ShardStats {
  const out = emptyShardStats(features);
  for (const p of parts) {
    out.okRows += p.okRows;
    if (p.words) {
      out.words ??= {};
      for (const [w, [sum, n]] of Object.entries(p.words)) {
        const s = (out.words[w] ??= [0, 0]);
        s[0] += sum;
        s[1] += n;
      }
    }
    for (let j = 0; j < features; j++) out.absSum[j]! += p.absSum[j]!;
    for (const [a, b] of [
      [out.classGroup, p.classGroup],
      [out.nullGroup, p.nullGroup],
    ] as const) {
      a.n += b.n;
      for (let j = 0; j < features; j++) {
        a.rankSum[j]! += b.rankSum[j]!;
        a.rankSumSq[j]! += b.rankSumSq[j]!;
      }
    }
  }
  return out;
}

/** Class-wide significance per feature, as `featureSignificance` of src/stats computes it from all rows. */
export interface GroupSignificance {
  classRows: number;
  nullRows: number;
  statistic: number[];
  df: number[];
  pValues: number[];
  adjusted: number[];
  /** Features with adjusted p ≤ alpha, most significant first. */
  significant: number[];
  meanRankClass: number[];
  meanRankNull: number[];
  alpha: number;
  correction: Correction;
}

/** Mean and variance from exact sums: (n Σx² − (Σx)²) is exact for half-integer ranks. */
function meanVar(n: number, sum: number, sumSq: number): [number, number] {
  return [sum / n, (n * sumSq - sum * sum) / (n * (n - 1))];
}

/**
 * Welch's one-sided t-test (class > random set) per feature from merged rank sums.
 * Undefined when a group has fewer than two rows.
 */
export function groupSignificance(
  s: ShardStats,
  alpha = 0.05,
  correction: Correction = "bonferroni",
): GroupSignificance | undefined {
  const a = s.classGroup;
  const b = s.nullGroup;
  if (a.n < 2 || b.n < 2) return undefined;
  const d = s.features;
  const statistic: number[] = [];
  const df: number[] = [];
  const pValues: number[] = [];
  for (let j = 0; j < d; j++) {
    const [ma, va] = meanVar(a.n, a.rankSum[j]!, a.rankSumSq[j]!);
    const [mb, vb] = meanVar(b.n, b.rankSum[j]!, b.rankSumSq[j]!);
    const sa = va / a.n;
    const sb = vb / b.n;
    const se2 = sa + sb;
    if (se2 === 0) {
      statistic.push(ma === mb ? Number.NaN : ma > mb ? Infinity : -Infinity);
      df.push(Number.NaN);
      pValues.push(ma === mb ? Number.NaN : ma > mb ? 0 : 1);
      continue;
    }
    const t = (ma - mb) / Math.sqrt(se2);
    const f = (se2 * se2) / ((sa * sa) / (a.n - 1) + (sb * sb) / (b.n - 1));
    statistic.push(t);
    df.push(f);
    pValues.push(tSurvival(t, f));
  }
  const adjusted = Array.from(adjustPValues(pValues, correction));
  const significant = Array.from({ length: d }, (_, j) => j)
    .filter((j) => adjusted[j]! <= alpha)
    .sort((p, q) => adjusted[p]! - adjusted[q]!);
  return {
    classRows: a.n,
    nullRows: b.n,
    statistic,
    df,
    pValues,
    adjusted,
    significant,
    meanRankClass: a.rankSum.map((v) => v / a.n),
    meanRankNull: b.rankSum.map((v) => v / b.n),
    alpha,
    correction,
  };
}
