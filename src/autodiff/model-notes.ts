/**
 * What a user should know about how a model is differentiated, said once (CLI warning, summary):
 * a quantized model is explained as its dequantized network; a float16/bfloat16 model is
 * differentiated in float32.
 */
import type { ModelProto, NodeProto } from "../onnx/types.js";

/** Op types whose presence makes a model "quantized" for pathlens. */
const QUANTIZED = new Set([
  "QuantizeLinear",
  "DequantizeLinear",
  "DynamicQuantizeLinear",
  "MatMulInteger",
  "ConvInteger",
  "QLinearConv",
  "QLinearMatMul",
  "QLinearAdd",
  "QLinearMul",
  "QLinearSigmoid",
  "QLinearLeakyRelu",
  "QLinearAveragePool",
  "QLinearGlobalAveragePool",
  "QLinearConcat",
  "MatMulIntegerToFloat",
  "DynamicQuantizeMatMul",
  "QGemm",
]);

/** The quantized op types of the model's main graph, sorted (empty for a float model). */
export function quantizedOpTypes(model: ModelProto): string[] {
  const found = new Set<string>();
  for (const n of model.graph?.node ?? []) if (QUANTIZED.has(n.opType ?? "")) found.add(n.opType!);
  return [...found].sort();
}

/** Low-precision float element types (FLOAT16 = 10, BFLOAT16 = 16) used by the model's tensors. */
export function lowPrecisionTypes(model: ModelProto): string[] {
  const g = model.graph;
  if (!g) return [];
  const codes = new Set<number>();
  for (const t of g.initializer) if (t.dataType !== undefined) codes.add(t.dataType);
  for (const v of [...g.input, ...g.output, ...g.valueInfo]) {
    const e = v.type?.tensorType?.elemType;
    if (e !== undefined) codes.add(e);
  }
  const castsTo = (n: NodeProto) =>
    n.opType === "Cast" ? Number(n.attribute.find((a) => a.name === "to")?.i ?? -1) : -1;
  for (const n of g.node) codes.add(castsTo(n));
  const out: string[] = [];
  if (codes.has(10)) out.push("float16");
  if (codes.has(16)) out.push("bfloat16");
  return out;
}

/**
 * Notes on how pathlens differentiates `model` (empty for a plain float32/float64 model): say them
 * once, e.g. as a CLI warning and in a summary. `keepLowPrecision`: the model is run through
 * `keepLowPrecision` (precision-keep.ts) rather than widened.
 */
export function modelNotes(model: ModelProto, options: { keepLowPrecision?: boolean } = {}): string[] {
  const notes: string[] = [];
  const q = quantizedOpTypes(model);
  if (q.length > 0)
    notes.push(
      `the model is quantized (${q.join(", ")}): gradients and attributions are those of its dequantized network ` +
        "(weights dequantized, activations clipped to their quantization range without rounding)",
    );
  const low = lowPrecisionTypes(model);
  if (low.length > 0 && options.keepLowPrecision)
    notes.push(
      `the model uses ${low.join(" and ")}: it is computed in its own precision (values rounded to ` +
        `${low.join(" / ")} where the model stores them), gradients are accumulated and returned in float32`,
    );
  else if (low.length > 0)
    notes.push(
      `the model uses ${low.join(" and ")}: gradients are computed in float32 and returned as float32`,
    );
  return notes;
}
