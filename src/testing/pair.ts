/**
 * Test helper: the PAIR saliency / Captum metric reference cases in test/fixtures/pair
 * (manifest.json describes each case: call, parameters, files, suggested tolerance).
 */
import { relativeL2, type Tensor } from "../tensor/tensor.js";
import { readJsonFixture, readNpyFixture } from "./fixtures.js";

/** A file entry of the manifest. */
export interface PairFile {
  file: string;
  shape: number[];
}

/** One reference case (only the fields the tests read). */
export interface PairCase {
  id: string;
  kind: "guided_ig" | "blur_ig" | "infidelity" | "sensitivity_max" | "xrai";
  params: Record<string, number | boolean | string | null>;
  input: PairFile;
  target: PairFile;
  baseline?: PairFile;
  noise?: PairFile;
  sigmas?: PairFile;
  expected: PairFile;
  attributions_f64?: PairFile;
  path_points_f64?: PairFile;
  blurred_at_last_sigma_f64?: PairFile;
  per_sample_sensitivity_f64?: PairFile;
  completeness_gap_f64?: number[];
  suggested_rel_l2_tolerance: number;
}

/** The cases of one kind. */
export function pairCases(kind: PairCase["kind"]): PairCase[] {
  const m = readJsonFixture<{ cases: PairCase[] }>("pair/manifest.json");
  return m.cases.filter((c) => c.kind === kind);
}

/** Reads a file named by the manifest. */
export function pairNpy(f: PairFile): Tensor {
  return readNpyFixture(`pair/${f.file}`);
}

/** Per-row relative L2 errors of `ours` against `expected` (rows on axis 0) and the whole-array one. */
export function rowErrors(
  ours: ArrayLike<number>,
  expected: ArrayLike<number>,
  rows: number,
): { rows: number[]; all: number } {
  const size = expected.length / rows;
  const sub = (a: ArrayLike<number>, r: number) =>
    Array.from({ length: size }, (_, j) => Number(a[r * size + j]));
  return {
    rows: Array.from({ length: rows }, (_, r) => relativeL2(sub(ours, r), sub(expected, r))),
    all: relativeL2(ours, expected),
  };
}
