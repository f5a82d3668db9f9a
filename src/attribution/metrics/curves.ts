/**
 * Deletion and insertion curves (Petsiuk et al. 2018, RISE): features are taken in order of
 * decreasing attribution; the deletion curve replaces the top fraction f of them by a fill (a
 * value, a tensor, or the blurred input) and records the explained output, the insertion curve
 * starts from the fill and puts the top fraction back. The area under the curve (trapezoid over
 * f ∈ [0, 1]) summarises it: low deletion AUC and high insertion AUC mean the attribution found
 * the features the output depends on.
 */
import type { ModelProto } from "../../onnx/types.js";
import { shapeString, sizeOf, type Tensor, toFloat64 } from "../../tensor/tensor.js";
import { type ImageLayout, imageLayout } from "../blur-ig.js";
import { OptionError, ShapeMismatchError } from "../errors.js";
import { gaussianFilter } from "../gaussian-filter.js";
import { singleInput } from "./infidelity.js";
import { createScorer, type ScorerOptions } from "./scorer.js";

/** Options of {@link deletionCurve} and {@link insertionCurve}. */
export interface CurveOptions extends Omit<ScorerOptions, "name" | "x"> {
  /** The one attributed input, by name (batch axis 0). */
  inputs: Record<string, Tensor>;
  /** Attributions shaped like the input: their order ranks the features. */
  attributions: Tensor;
  /**
   * What a removed feature becomes: a number (default 0), a tensor (one example or one per
   * example), or `{ blur: sigma }` — the input blurred (scipy's Gaussian, mode reflect) over its
   * spatial axes (`layout` as Blur IG).
   */
  fill?: number | Tensor | { blur: number };
  layout?: ImageLayout;
  /** Points on the curve besides f = 0 (default min(features, 32)). */
  steps?: number;
  /**
   * Rank whole pixels: the axis of one example's shape (without the batch axis) whose values
   * move together, their attributions summed (e.g. 0 for the channels of (C, H, W)).
   */
  groupAxis?: number;
}

/** A deletion or insertion curve per example. */
export interface Curve {
  kind: "deletion" | "insertion";
  /** Fractions of the ranked units changed, 0 … 1 (steps + 1 values). */
  fractions: number[];
  /** Scores, example-major: N × fractions.length. */
  scores: Float64Array;
  /** Area under each example's curve (trapezoid). */
  auc: Float64Array;
  /** Mean AUC over the examples. */
  meanAuc: number;
}

/** The deletion curve (see the module note). */
export function deletionCurve(model: ModelProto, o: CurveOptions): Promise<Curve> {
  return curve(model, o, "deletion");
}

/** The insertion curve (see the module note). */
export function insertionCurve(model: ModelProto, o: CurveOptions): Promise<Curve> {
  return curve(model, o, "insertion");
}

/** Unit of each feature of one example (features in one unit are ranked and moved together). */
function unitsOf(rowDims: readonly number[], groupAxis?: number): { unit: Int32Array; count: number } {
  const size = sizeOf(rowDims);
  const unit = new Int32Array(size);
  if (groupAxis === undefined) {
    for (let j = 0; j < size; j++) unit[j] = j;
    return { unit, count: size };
  }
  if (!Number.isInteger(groupAxis) || groupAxis < 0 || groupAxis >= rowDims.length) {
    throw new OptionError(
      `groupAxis ${groupAxis} is not an axis of one example's shape ${shapeString(rowDims)}`,
    );
  }
  const inner = sizeOf(rowDims.slice(groupAxis + 1));
  const g = rowDims[groupAxis]!;
  for (let j = 0; j < size; j++) unit[j] = Math.floor(j / (g * inner)) * inner + (j % inner);
  return { unit, count: size / g };
}

/** The fill of every example, float64 (N × row). */
function fillValues(o: CurveOptions, x: Tensor, xs: Float64Array): Float64Array {
  const N = x.dims[0]!;
  const row = xs.length / N;
  const f = o.fill ?? 0;
  if (typeof f === "number") return new Float64Array(xs.length).fill(f);
  if ("blur" in f && !("dims" in f)) {
    const layout = imageLayout(x.dims, o.layout);
    const s = f.blur;
    if (!(s > 0)) throw new OptionError(`fill blur sigma must be positive, got ${s}`);
    const sig = layout === "NCHW" ? [0, s, s] : layout === "NHWC" ? [s, s, 0] : [s, s];
    const out = new Float64Array(xs.length);
    for (let i = 0; i < N; i++)
      out.set(gaussianFilter(xs.subarray(i * row, (i + 1) * row), x.dims.slice(1), sig), i * row);
    return out;
  }
  const t = toFloat64(f as Tensor);
  if (t.length === xs.length) return t;
  if (t.length === row) return Float64Array.from({ length: xs.length }, (_, j) => t[j % row]!);
  throw new ShapeMismatchError(
    `fill of shape ${shapeString((f as Tensor).dims)} fits neither the input ${shapeString(x.dims)} nor one example`,
  );
}

async function curve(model: ModelProto, o: CurveOptions, kind: Curve["kind"]): Promise<Curve> {
  const [name, x] = singleInput(o.inputs, `${kind} curve`);
  const N = x.dims[0]!;
  const xs = toFloat64(x);
  const row = xs.length / N;
  const attr = toFloat64(o.attributions);
  if (attr.length !== xs.length) {
    throw new ShapeMismatchError(
      `attributions of shape ${shapeString(o.attributions.dims)} do not fit input "${name}" of shape ${shapeString(x.dims)}`,
    );
  }
  const { unit, count } = unitsOf(x.dims.slice(1), o.groupAxis);
  const steps = o.steps ?? Math.min(count, 32);
  if (!Number.isInteger(steps) || steps < 1)
    throw new OptionError(`steps must be a positive integer, got ${steps}`);
  const fill = fillValues(o, x, xs);
  const fractions = Array.from({ length: steps + 1 }, (_, k) => k / steps);
  const rows = new Float64Array(N * (steps + 1) * row);
  const examples: number[] = [];
  for (let i = 0; i < N; i++) {
    // rank units by summed attribution, largest first (ties: lower index first)
    const score = new Float64Array(count);
    for (let j = 0; j < row; j++) score[unit[j]!]! += attr[i * row + j]!;
    const order = Array.from({ length: count }, (_, u) => u).sort((a, b) => score[b]! - score[a]! || a - b);
    const rank = new Int32Array(count);
    order.forEach((u, r) => (rank[u] = r));
    for (let k = 0; k <= steps; k++) {
      const changed = Math.round((k * count) / steps);
      const off = (i * (steps + 1) + k) * row;
      for (let j = 0; j < row; j++) {
        const top = rank[unit[j]!]! < changed;
        const fromFill = kind === "deletion" ? top : !top;
        rows[off + j] = fromFill ? fill[i * row + j]! : xs[i * row + j]!;
      }
      examples.push(i);
    }
  }
  const scorer = await createScorer(model, { ...o, name, x });
  try {
    const scores = await scorer.score(rows, examples);
    const auc = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      let a = 0;
      for (let k = 0; k < steps; k++)
        a += (scores[i * (steps + 1) + k]! + scores[i * (steps + 1) + k + 1]!) / 2 / steps;
      auc[i] = a;
    }
    return { kind, fractions, scores, auc, meanAuc: auc.reduce((s, v) => s + v, 0) / N };
  } finally {
    await scorer.dispose();
  }
}
