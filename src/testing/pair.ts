/**
 * Test helper: the PAIR saliency / Captum metric reference cases in test/fixtures/pair
 * (manifest.json describes each case: call, parameters, files, suggested tolerance).
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { parseNpy } from "../io/npy-format.js";
import { relativeL2, type Tensor } from "../tensor/tensor.js";
import { fixturePath, readJsonFixture, readNpyFixture } from "./fixtures.js";

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

/** Reads a gzipped .npy of test/fixtures/pair/xrai (made by tools/pair-xrai-fixture.ts). */
export function xraiNpy(name: string): Tensor {
  return parseNpy(gunzipSync(readFileSync(fixturePath(`pair/xrai/${name}.npy.gz`))), name);
}

/** The 129 candidate masks PAIR's XRAI was given (np.packbits rows, most significant bit first). */
export function xraiMasks(pixels: number): Uint8Array[] {
  const packed = xraiNpy("masks_packbits");
  const [K, bytes] = packed.dims as [number, number];
  return Array.from({ length: K }, (_, k) => {
    const m = new Uint8Array(pixels);
    for (let i = 0; i < pixels; i++) m[i] = (Number(packed.data[k * bytes + (i >> 3)]) >> (7 - (i & 7))) & 1;
    return m;
  });
}

/** The XRAI test image (224, 224, 3) float32, rebuilt from its value table and index deltas. */
export function xraiImage(): Tensor<"float32"> {
  const values = xraiNpy("image_values").data as Float32Array;
  const deltas = xraiNpy("image_index_deltas_chw");
  const [C, H, W] = deltas.dims as [number, number, number];
  const out = new Float32Array(C * H * W);
  for (let c = 0; c < C; c++)
    for (let y = 0; y < H; y++) {
      let k = 0;
      for (let x = 0; x < W; x++) {
        k += Number(deltas.data[(c * H + y) * W + x]);
        out[(y * W + x) * C + c] = values[k]!;
      }
    }
  return { dtype: "float32", dims: [H, W, C], data: out };
}
