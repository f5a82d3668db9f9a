/**
 * Targets: what scalar of the model's output is explained. Every target becomes a seed
 * (cotangent) shaped like the output, so class indices, positions and weight vectors are one
 * mechanism and the gradient graph is never rebuilt.
 */
import { shapeString, sizeOf, type Tensor, tensor } from "../tensor/tensor.js";
import { TargetError } from "./errors.js";

/**
 * A target:
 * - a number: the index into each example's (flattened) output — a class for (N, C) logits;
 * - an array of numbers: one index per example;
 * - `{ position: [i, j, …] }`: a multi-dimensional index into each example's output (e.g. token, class);
 * - a Tensor of weights: a seed shaped like one example's output (shared) or like the whole output
 *   (one per example) — Σ weights ⊙ output is explained (regression heads, sums of classes).
 */
export type Target = number | readonly number[] | { position: readonly number[] } | Tensor;

function isTensor(t: unknown): t is Tensor {
  return typeof t === "object" && t !== null && "dims" in t && "data" in t;
}

/**
 * Builds the per-example seed tensor [N, …outputRowDims] for a target.
 * `outputDims` is the output's shape at batch N (axis 0 is the batch).
 */
export function seedsForTarget(
  target: Target | undefined,
  outputDims: readonly number[],
  numExamples: number,
  dtype: "float32" | "float64",
  outputName: string,
): Tensor {
  const rowDims = outputDims.slice(1);
  const row = sizeOf(rowDims);
  const seeds = tensor(dtype, [numExamples, ...rowDims]);
  const data = seeds.data as Float32Array | Float64Array;
  const setIndex = (n: number, idx: number) => {
    if (!Number.isInteger(idx) || idx < 0 || idx >= row) {
      throw new TargetError(
        `target index ${idx} is out of range for output "${outputName}" with ${row} value(s) per example (shape ${shapeString(outputDims)})`,
      );
    }
    data[n * row + idx] = 1;
  };
  if (target === undefined) {
    if (row !== 1) {
      throw new TargetError(
        `output "${outputName}" has ${row} values per example (shape ${shapeString(outputDims)}): give a target`,
      );
    }
    data.fill(1);
    return seeds;
  }
  if (typeof target === "number") {
    for (let n = 0; n < numExamples; n++) setIndex(n, target);
    return seeds;
  }
  if (isTensor(target)) {
    const t = target;
    if (t.dtype === "bool")
      throw new TargetError(
        `target weights for output "${outputName}" are bool: give float weights, or class indices as numbers`,
      );
    const shared = t.data.length === row;
    const perExample = t.data.length === row * numExamples;
    if (!shared && !perExample) {
      throw new TargetError(
        `target weights of shape ${shapeString(t.dims)} fit neither one example's output ${shapeString(rowDims)} nor the whole output ${shapeString([numExamples, ...rowDims])}`,
      );
    }
    for (let i = 0; i < data.length; i++) data[i] = Number(t.data[shared ? i % row : i]);
    return seeds;
  }
  if (Array.isArray(target)) {
    if (target.length !== numExamples) {
      throw new TargetError(`${target.length} target indices given for ${numExamples} examples`);
    }
    target.forEach((idx, n) => setIndex(n, idx));
    return seeds;
  }
  const pos = (target as { position: readonly number[] }).position;
  if (pos.length !== rowDims.length) {
    throw new TargetError(
      `target position [${pos.join(", ")}] has ${pos.length} indices; output "${outputName}" has ${rowDims.length} axes per example`,
    );
  }
  let flat = 0;
  pos.forEach((p, i) => {
    if (!Number.isInteger(p) || p < 0 || p >= rowDims[i]!) {
      throw new TargetError(
        `target position [${pos.join(", ")}] is out of range for output shape ${shapeString(rowDims)}`,
      );
    }
    flat = flat * rowDims[i]! + p;
  });
  for (let n = 0; n < numExamples; n++) setIndex(n, flat);
  return seeds;
}
