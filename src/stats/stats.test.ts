import assert from "node:assert/strict";
import { test } from "node:test";
import { readJsonFixture } from "../testing/fixtures.js";
import { featureSignificance } from "./significance.js";
import { tCdf, tSurvival } from "./t-distribution.js";
import { adjustPValues, ranks, welchTTest } from "./tests.js";

interface Refs {
  t_cdf: { df: number; t: number; cdf: number; sf: number }[];
  welch_greater: { a: number[]; b: number[]; t: number; p: number }[];
  ranks: { x: number[]; ranks: number[] }[];
  bh: { p: number[]; adjusted: number[] };
}
const refs = readJsonFixture<Refs>("stats/scipy_refs.json");

test("t CDF and survival function match scipy over 13 degrees of freedom × 14 t values", () => {
  let worst = 0;
  for (const r of refs.t_cdf) {
    const c = tCdf(r.t, r.df);
    const s = tSurvival(r.t, r.df);
    // relative on small tails, absolute near the middle
    const ec = Math.abs(c - r.cdf) / Math.max(r.cdf, 1e-300);
    const es = Math.abs(s - r.sf) / Math.max(r.sf, 1e-300);
    worst = Math.max(worst, Math.min(ec, Math.abs(c - r.cdf) * 1e3), Math.min(es, Math.abs(s - r.sf) * 1e3));
    assert.ok(Math.abs(c - r.cdf) <= 1e-12 + 1e-9 * r.cdf, `cdf(${r.t}; ${r.df}) = ${c}, scipy ${r.cdf}`);
    assert.ok(Math.abs(s - r.sf) <= 1e-12 + 1e-9 * r.sf, `sf(${r.t}; ${r.df}) = ${s}, scipy ${r.sf}`);
  }
  assert.equal(refs.t_cdf.length, 13 * 14);
  assert.ok(worst < 1e-6);
});

test("one-sided Welch t-test matches scipy ttest_ind(equal_var=False, alternative='greater') to 1e-6", () => {
  for (const r of refs.welch_greater) {
    const got = welchTTest(r.a, r.b);
    assert.ok(
      Math.abs(got.statistic - r.t) <= 1e-9 * Math.max(1, Math.abs(r.t)),
      `t ${got.statistic} vs ${r.t}`,
    );
    assert.ok(Math.abs(got.pValue - r.p) <= 1e-6, `p ${got.pValue} vs ${r.p}`);
  }
});

test("ranks average ties like scipy.stats.rankdata", () => {
  for (const r of refs.ranks) assert.deepEqual(Array.from(ranks(r.x)), r.ranks);
});

test("Bonferroni and Benjamini–Hochberg adjustments", () => {
  assert.deepEqual(Array.from(adjustPValues([0.01, 0.2, 0.5], "bonferroni")), [0.03, 0.6000000000000001, 1]);
  const bh = adjustPValues(refs.bh.p, "bh");
  bh.forEach((v, i) =>
    assert.ok(Math.abs(v - refs.bh.adjusted[i]!) < 1e-12, `${v} vs ${refs.bh.adjusted[i]}`),
  );
});

test("feature significance finds the features ranked higher in the class than in the random set", () => {
  // 3 features; feature 2 is always the largest in the class, random elsewhere
  const cls = [1, 2, 9, 2, 1, 8, 1.5, 0.5, 7, 0.2, 1, 6, 3, 1, 9];
  const nul = [9, 1, 2, 1, 8, 2, 2, 3, 1, 7, 2, 1, 1, 6, 2];
  const r = featureSignificance(cls, nul, 3, { alpha: 0.05 });
  assert.deepEqual(r.significant, [2]);
  assert.equal(r.meanRankClass[2], 3);
  assert.ok(r.adjusted[2]! <= 0.05 && r.adjusted[0]! > 0.05);
  assert.throws(() => featureSignificance([1, 2], [1, 2, 3], 3), /rows of 3 features/);
});
