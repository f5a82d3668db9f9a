/**
 * Tabular explanations in two lines: rows of named features in (a CSV table or an array),
 * per-feature Integrated Gradients out, with a zero, mean or given baseline row.
 *
 * @example
 * ```ts
 * const table = await readNumericCsv("examples/tabular/rows.csv");
 * const r = await explainTabular(await loadModel("examples/tabular/model.onnx"), table, { backend: nodeBackend() });
 * ```
 */

import { integratedGradients } from "../attribution/ig.js";
import type { Progress } from "../attribution/path-engine.js";
import type { Target } from "../attribution/targets.js";
import { PathlensError } from "../errors.js";
import type { NumericTable } from "../io/csv.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend } from "../runtime/backend.js";
import { float32, type Tensor } from "../tensor/tensor.js";

/** A table that does not fit the model. */
export class TabularInputError extends PathlensError {
  override name = "TabularInputError";
}

/** Options of {@link explainTabular}. */
export interface ExplainTabularOptions {
  backend: Backend;
  target?: Target;
  /** "zero" (default), "mean" (the column means of the rows), or one row of values. */
  baseline?: "zero" | "mean" | number[];
  steps?: number;
  onProgress?: (p: Progress) => void;
}

/** Result of {@link explainTabular}. */
export interface TabularExplanation {
  features: string[];
  /** Feature values, rows × features. */
  values: Float64Array;
  /** Attributions, rows × features. */
  attributions: Float64Array;
  rows: number;
  delta: Float64Array;
  outputAtInput: Float64Array;
  outputAtBaseline: Float64Array;
  baseline: Float64Array;
  steps: number;
}

/** Explains every row of a numeric table. */
export async function explainTabular(
  model: ModelProto,
  table: NumericTable,
  options: ExplainTabularOptions,
): Promise<TabularExplanation> {
  const g = model.graph!;
  const input = g.input.find((i) => !g.initializer.some((t) => t.name === i.name))!;
  const dims = (input.type?.tensorType?.shape?.dim ?? []).map((d) => Number(d.dimValue ?? 0));
  const width = table.header.length;
  if (dims.length !== 2)
    throw new TabularInputError(
      `the model's input "${input.name}" has rank ${dims.length}; tabular models take [rows, features]`,
    );
  if (dims[1]! > 0 && dims[1] !== width) {
    throw new TabularInputError(
      `the table has ${width} columns; the model "${input.name}" takes ${dims[1]} features per row`,
    );
  }
  const n = table.rows;
  const base = new Float64Array(width);
  const b = options.baseline ?? "zero";
  if (b === "mean")
    for (let r = 0; r < n; r++) for (let c = 0; c < width; c++) base[c] += table.values[r * width + c]! / n;
  else if (Array.isArray(b)) {
    if (b.length !== width)
      throw new TabularInputError(`the baseline row has ${b.length} values; the table ${width} columns`);
    base.set(b);
  }
  const x: Tensor = float32([n, width], table.values);
  const r = await integratedGradients(model, {
    backend: options.backend,
    inputs: { [input.name!]: x },
    baselines: float32([width], base),
    target: options.target,
    steps: options.steps ?? 50,
    onProgress: options.onProgress,
  });
  return {
    features: table.header,
    values: Float64Array.from(table.values),
    attributions: Float64Array.from(r.attributions[input.name!]!.data),
    rows: n,
    delta: r.delta,
    outputAtInput: r.outputAtInput,
    outputAtBaseline: r.outputAtBaseline,
    baseline: base,
    steps: r.steps,
  };
}
