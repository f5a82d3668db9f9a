/**
 * The opt-in alternative to float32 gradients of a float16 / bfloat16 model: keep the model's own
 * precision. The model is widened to float32 (as by default: pathlens reads and onnxruntime's CPU
 * kernels compute float32), and then every tensor the model holds in float16 (bfloat16) is rounded
 * to float16's 11-bit (bfloat16's 8-bit) significand right where it is produced, as the ONNX
 * model defines it (onnxruntime's CPU provider computes float16 nodes in float32 and skips the
 * roundings between consecutive ones, so its own float16 run may be closer to float32 than the
 * model is). Inputs declared float16 are rounded on entry.
 *
 * The rounding is Veltkamp's split in float32 arithmetic, hi = c − (c − x) with c = (2^s + 1)·x
 * (s = 24 − 11 for float16, 24 − 8 for bfloat16): x rounded to nearest on 24 − s bits, in standard
 * ops only, so no float16 tensor reaches the gradient graph. Its derivative is exactly 1 (the
 * gradient rules of Mul and Sub give (g − g)·k + g = g): gradients pass the roundings unchanged
 * and are accumulated in float32 — the gradient of the float16 forward pass, as mixed-precision
 * training computes it. Not emulated: float16's range (values beyond 65504 stay finite,
 * subnormals keep 11 bits), and roundings inside If/Loop/Scan bodies (the main graph's tensors only).
 */
import { makeNode, tensorToProto } from "../onnx/model.js";
import type { AttributeProto, GraphProto, ModelProto, NodeProto } from "../onnx/types.js";
import { float32 } from "../tensor/tensor.js";
import { hasLowPrecision, widenLowPrecision } from "./precision.js";

const FLOAT16 = 10;
const BFLOAT16 = 16;

/** Significand bits (with the implicit one) of each low-precision element type. */
const BITS: Record<number, number> = { [FLOAT16]: 11, [BFLOAT16]: 8 };

/**
 * Ops whose float inputs do not make a float output (indices, shapes, masks), and control flow,
 * whose outputs' types come from its bodies (left unrounded).
 */
const NON_FLOAT = new Set([
  "If",
  "Loop",
  "Scan",
  "Shape",
  "Size",
  "ArgMax",
  "ArgMin",
  "Equal",
  "Less",
  "LessOrEqual",
  "Greater",
  "GreaterOrEqual",
  "IsNaN",
  "IsInf",
  "NonZero",
  "QuantizeLinear",
  "DynamicQuantizeLinear",
]);

/**
 * Outputs that are not of the first output's type: indices, Dropout's boolean mask, and
 * LayerNormalization's mean and inverse deviation (float32 by its default stash_type).
 */
const INDEX_OUTPUTS: Record<string, readonly number[]> = {
  TopK: [1],
  MaxPool: [1],
  Unique: [1, 2, 3],
  Dropout: [1],
  LayerNormalization: [1, 2],
};

const attr = (n: NodeProto, name: string): AttributeProto | undefined =>
  n.attribute.find((a) => a.name === name);

/** The low-precision element type each node output has in the original model (absent: not low). */
function lowPrecisionTensors(g: GraphProto): Map<string, number> {
  const low = new Map<string, number>();
  for (const t of g.initializer) if (BITS[t.dataType ?? 0]) low.set(t.name!, t.dataType!);
  for (const v of g.input) {
    const e = v.type?.tensorType?.elemType ?? 0;
    if (BITS[e]) low.set(v.name!, e);
  }
  for (const n of g.node) {
    let type: number | undefined;
    if (n.opType === "Cast") type = Number(attr(n, "to")?.i ?? 0);
    else if (n.opType === "CastLike") type = low.get(n.input[1] ?? "");
    else if (n.opType === "Constant" || n.opType === "ConstantOfShape") type = attr(n, "value")?.t?.dataType;
    else if (n.opType === "DequantizeLinear") type = low.get(n.input[1] ?? "");
    else if (!NON_FLOAT.has(n.opType ?? ""))
      type = n.input.map((i) => low.get(i)).find((t) => t !== undefined);
    if (type === undefined || !BITS[type]) continue;
    const skip = INDEX_OUTPUTS[n.opType ?? ""] ?? [];
    n.output.forEach((o, k) => {
      if (o !== "" && !skip.includes(k)) low.set(o, type);
    });
  }
  return low;
}

/** Nodes writing float32 `from` rounded by the splitter constant `k` (2^s + 1) to `to`. */
function roundingNodes(from: string, to: string, k: string): NodeProto[] {
  return [
    makeNode("Mul", [from, k], [`${to}__split`], `${to}/round/Mul`),
    makeNode("Sub", [`${to}__split`, from], [`${to}__excess`], `${to}/round/Sub`),
    makeNode("Sub", [`${to}__split`, `${to}__excess`], [to], `${to}/round/Sub_1`),
  ];
}

/**
 * `model` computed in its own float16 / bfloat16 precision by float32 ops (see the file comment);
 * the same object when it has no low-precision tensor. Feeds and results are float32.
 */
export function keepLowPrecision(model: ModelProto): ModelProto {
  if (!hasLowPrecision(model)) return model;
  const low = lowPrecisionTensors(model.graph!);
  const out = widenLowPrecision(model);
  const g = out.graph!;
  const initializers = new Set(g.initializer.map((t) => t.name));
  const constants: Record<number, string> = {};
  const splitter = (bits: number) => {
    if (!constants[bits]) {
      const name = `pathlens_round_to_${bits}_bits`;
      g.initializer.push(tensorToProto(name, float32([], [2 ** (24 - bits) + 1])));
      constants[bits] = name;
    }
    return constants[bits]!;
  };
  const nodes: NodeProto[] = [];
  // inputs declared float16: their consumers read the rounded value
  const renamed = new Map<string, string>();
  for (const v of g.input) {
    const type = low.get(v.name!);
    if (type === undefined || initializers.has(v.name!)) continue;
    const rounded = `${v.name}__rounded`;
    nodes.push(...roundingNodes(v.name!, rounded, splitter(BITS[type]!)));
    renamed.set(v.name!, rounded);
  }
  for (const n of g.node) {
    const node = { ...n, input: n.input.map((i) => renamed.get(i) ?? i) };
    const after: NodeProto[] = [];
    // a node's float16 result keeps its name for its consumers (and for layer attribution)
    node.output = n.output.map((o) => {
      const type = low.get(o);
      // constants hold float16 values already (exact in float32)
      if (o === "" || type === undefined || n.opType === "Constant" || n.opType === "ConstantOfShape")
        return o;
      const raw = `${o}__float32`;
      after.push(...roundingNodes(raw, o, splitter(BITS[type]!)));
      return raw;
    });
    nodes.push(node, ...after);
  }
  g.node = nodes;
  return out;
}
