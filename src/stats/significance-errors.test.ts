import assert from "node:assert/strict";
import { test } from "node:test";
import { featureSignificance, SignificanceError } from "./significance.js";

test("significance refuses all-zero, NaN, too few and misshaped attributions with a SignificanceError", () => {
  const zeros = new Float64Array(4 * 3);
  assert.throws(() => featureSignificance(zeros, zeros, 3), SignificanceError);
  const nan = Float64Array.from([1, 2, 3, 3, 2, Number.NaN]);
  assert.throws(
    () => featureSignificance(nan, Float64Array.from([1, 2, 3, 3, 2, 1]), 3),
    /sample 1, feature 2 is NaN/,
  );
  assert.throws(() => featureSignificance([1, 2, 3], [1, 2, 3, 3, 2, 1], 3), /at least 2/);
  assert.throws(() => featureSignificance([1, 2, 3, 4], [1, 2, 3, 4, 5, 6], 3), SignificanceError);
  assert.throws(
    () => featureSignificance([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6], 3, { alpha: 2 }),
    SignificanceError,
  );
});

test("a feature whose rank never varies in either set gets p = 1; the others are tested as before", () => {
  // Feature 0 is always the smallest (rank 1) in both sets; features 1 and 2 swap places.
  const cls = [0, 5, 1, 0, 6, 2, 0, 7, 1];
  const rnd = [0, 1, 5, 0, 2, 6, 0, 1, 7];
  const r = featureSignificance(cls, rnd, 3);
  assert.equal(r.pValues[0], 1);
  assert.equal(r.statistic[0], 0);
  // Feature 1: ranks 3,3,3 vs 2,2,2 → constant in each set but different: refused, so perturb one.
  const r2 = featureSignificance([0, 5, 1, 0, 1, 6, 0, 7, 1], [0, 1, 5, 0, 2, 6, 0, 7, 1], 3);
  assert.equal(r2.pValues[0], 1);
  assert.ok(r2.pValues[1]! > 0 && r2.pValues[1]! < 1);
  for (const p of r2.pValues) assert.ok(Number.isFinite(p));
});
