/**
 * The ReLU → softplus rewrite for second-order methods (Integrated Hessians): a ReLU network has a
 * zero Hessian almost everywhere, so every Relu(x) is replaced by the smooth Softplus(β·x)/β, which
 * tends to Relu as β grows (0 < softplus(βx)/β − relu(x) ≤ log(2)/β).
 */
import { NameScope } from "../onnx/graph.js";
import { cloneModel, dtypeOf, elemTypeOf, makeNode, tensorToProto } from "../onnx/model.js";
import type { GraphProto, ModelProto, NodeProto, TensorProto } from "../onnx/types.js";
import { float32, float64 } from "../tensor/tensor.js";

/** Options of {@link softplusRewrite}. */
export interface SoftplusRewriteOptions {
  /**
   * Element type of the Relu inputs when the model does not declare it (default: the first
   * float type among the graph's inputs and outputs, else float32).
   */
  dtype?: "float32" | "float64";
}

/**
 * Returns a copy of `model` where every Relu(x) is Softplus(β·x)/β, as Mul, Softplus, Div nodes
 * (standard ops valid at every opset ≥ 7; the model's opset is kept). The Relu's output name is
 * kept, so downstream nodes and graph outputs are untouched; new names are unique in the graph.
 *
 * onnxruntime has no float64 Softplus kernel, so for float64 tensors softplus(z) is written as
 * Max(z, 0) + Log(1 + Exp(−|z|)), the overflow-free form, with the same value and derivatives.
 *
 * @param beta sharpness β > 0; larger is closer to Relu (the gap is at most log(2)/β per unit).
 * @example
 * ```ts
 * const smooth = softplusRewrite(model, 10);
 * // differentiate `smooth` twice for Hessian-vector products
 * ```
 */
export function softplusRewrite(
  model: ModelProto,
  beta = 10,
  options: SoftplusRewriteOptions = {},
): ModelProto {
  if (!(beta > 0) || !Number.isFinite(beta))
    throw new RangeError(`softplus beta must be a positive finite number, got ${beta}`);
  const out = cloneModel(model);
  const graph = out.graph!;
  const scope = new NameScope(graph);
  const fallback = options.dtype ?? modelFloatType(graph);
  // scalar initializers shared by every rewritten Relu: β in each float type, and 0 and 1 (float64 form)
  const constants = new Map<string, string>();
  const newInitializers: TensorProto[] = [];
  const constFor = (value: number, name: string, dtype: "float32" | "float64" = "float64") => {
    const key = `${dtype}:${value}`;
    const hit = constants.get(key);
    if (hit) return hit;
    const t = dtype === "float64" ? float64([], [value]) : float32([], [value]);
    const c = scope.fresh(`${name}/softplus_const`);
    newInitializers.push(tensorToProto(c, t));
    constants.set(key, c);
    return c;
  };

  const nodes: NodeProto[] = [];
  for (const node of graph.node) {
    if (node.opType !== "Relu" || (node.domain && node.domain !== "ai.onnx")) {
      nodes.push(node);
      continue;
    }
    const x = node.input[0]!;
    const y = node.output[0]!;
    const base = node.name || y;
    const declared = declaredType(graph, x);
    if (declared === "other") {
      nodes.push(node); // an integer Relu has no Hessian to recover
      continue;
    }
    const dtype = declared ?? fallback;
    const b = constFor(beta, base, dtype);
    const fresh = (s: string) => scope.fresh(`${base}/${s}`);
    const scaled = fresh("scaled");
    nodes.push(makeNode("Mul", [x, b], [scaled], fresh("scale")));
    const soft = fresh("softplus");
    if (dtype === "float32") {
      nodes.push(makeNode("Softplus", [scaled], [soft], fresh("softplus_node")));
    } else {
      nodes.push(...stableSoftplus(scaled, soft, fresh, constFor(0, base), constFor(1, base)));
    }
    nodes.push(makeNode("Div", [soft, b], [y], fresh("unscale")));
  }
  graph.node = nodes;
  graph.initializer = [...graph.initializer, ...newInitializers];
  return out;
}

/** softplus(z) = Max(z, 0) + Log(1 + Exp(−|z|)) in float64 (standard ops with float64 kernels). */
function stableSoftplus(
  z: string,
  out: string,
  fresh: (s: string) => string,
  zero: string,
  one: string,
): NodeProto[] {
  const [abs, neg, exp, onePlus, log, pos] = ["abs", "neg", "exp", "one_plus", "log", "pos"].map(fresh) as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  return [
    makeNode("Abs", [z], [abs], fresh("abs_node")),
    makeNode("Neg", [abs], [neg], fresh("neg_node")),
    makeNode("Exp", [neg], [exp], fresh("exp_node")),
    makeNode("Add", [exp, one], [onePlus], fresh("one_plus_node")),
    makeNode("Log", [onePlus], [log], fresh("log_node")),
    makeNode("Max", [z, zero], [pos], fresh("pos_node")),
    makeNode("Add", [pos, log], [out], fresh("softplus_node")),
  ];
}

/** Declared type of a tensor (input, output, value_info or initializer): a float type, "other", or unknown. */
function declaredType(graph: GraphProto, name: string): "float32" | "float64" | "other" | undefined {
  const vi =
    graph.input.find((v) => v.name === name) ??
    graph.valueInfo.find((v) => v.name === name) ??
    graph.output.find((v) => v.name === name);
  const code = elemTypeOf(vi) ?? graph.initializer.find((t) => t.name === name)?.dataType;
  const dt = code === undefined ? undefined : dtypeOf(code);
  if (dt === "float32" || dt === "float64") return dt;
  return code === undefined || code === 0 ? undefined : "other";
}

/** The first float type among the graph's inputs and outputs (float32 when none is declared). */
function modelFloatType(graph: GraphProto): "float32" | "float64" {
  for (const v of [...graph.input, ...graph.output]) {
    const dt = dtypeOf(elemTypeOf(v) ?? 0);
    if (dt === "float32" || dt === "float64") return dt;
  }
  return "float32";
}
