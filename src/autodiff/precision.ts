/**
 * float16 / bfloat16 models are differentiated in float32: the model's low-precision
 * initializers, Constants, Casts, inputs and outputs are widened to float32 before the gradient
 * graph is built (onnxruntime's CPU kernels mostly lack float16, and a float16 gradient would
 * lose most of its digits in the accumulations). Values of the weights are unchanged (every
 * float16 is exactly a float32), so the result is the gradient of the same network evaluated in
 * float32; it is returned as float32.
 */
import { cloneModel, tensorFromProto, tensorToProto } from "../onnx/model.js";
import type { AttributeProto, GraphProto, ModelProto, TensorProto, TypeProto } from "../onnx/types.js";

const FLOAT = 1;
const LOW = new Set([10, 16]);

function widenTensor(t: TensorProto): TensorProto {
  if (!LOW.has(t.dataType ?? 0)) return t;
  return { ...tensorToProto(t.name ?? "", tensorFromProto(t)), docString: t.docString };
}

function widenType(t: TypeProto | undefined): TypeProto | undefined {
  if (!t) return t;
  if (t.tensorType && LOW.has(t.tensorType.elemType ?? 0))
    return { ...t, tensorType: { ...t.tensorType, elemType: FLOAT } };
  return t;
}

function widenAttribute(a: AttributeProto): AttributeProto {
  const out = { ...a };
  if (a.t) out.t = widenTensor(a.t);
  if (a.tensors.length) out.tensors = a.tensors.map(widenTensor);
  // Cast's `to`, RandomNormal's / EyeLike's `dtype`
  if ((a.name === "to" || a.name === "dtype") && LOW.has(Number(a.i ?? 0))) out.i = FLOAT;
  if (a.g) out.g = widenGraph(a.g);
  if (a.graphs.length) out.graphs = a.graphs.map(widenGraph);
  return out;
}

function widenGraph(g: GraphProto): GraphProto {
  const values = (list: GraphProto["input"]) => list.map((v) => ({ ...v, type: widenType(v.type) }));
  return {
    ...g,
    node: g.node.map((n) => ({ ...n, attribute: n.attribute.map(widenAttribute) })),
    initializer: g.initializer.map(widenTensor),
    input: values(g.input),
    output: values(g.output),
    valueInfo: values(g.valueInfo),
  };
}

/** True when some tensor, Cast or Constant of the model is float16 or bfloat16. */
export function hasLowPrecision(model: ModelProto): boolean {
  const g = model.graph;
  if (!g) return false;
  const check = (graph: GraphProto): boolean =>
    graph.initializer.some((t) => LOW.has(t.dataType ?? 0)) ||
    [...graph.input, ...graph.output, ...graph.valueInfo].some((v) =>
      LOW.has(v.type?.tensorType?.elemType ?? 0),
    ) ||
    graph.node.some((n) =>
      n.attribute.some(
        (a) =>
          LOW.has(a.t?.dataType ?? 0) ||
          ((a.name === "to" || a.name === "dtype") && LOW.has(Number(a.i ?? 0))) ||
          (a.g !== undefined && check(a.g)) ||
          a.graphs.some(check),
      ),
    );
  return check(g);
}

/**
 * The model with every float16 / bfloat16 tensor, type, Cast target and Constant widened to
 * float32 (the same object when there is none). Inputs declared float16 then take float32 feeds.
 */
export function widenLowPrecision(model: ModelProto): ModelProto {
  if (!hasLowPrecision(model)) return model;
  const out = cloneModel(model);
  out.graph = widenGraph(out.graph!);
  return out;
}
