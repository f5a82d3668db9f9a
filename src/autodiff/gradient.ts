/**
 * The gradient-graph transform: a model in, a model out that also computes
 * ∂/∂wrt Σ_o Σ seed_o ⊙ output_o for every `wrt` tensor, where each seed is a new graph input.
 */

import { PathlensError } from "../errors.js";
import { allTensorNames, NameScope, nodeReads, topologicalOrder, UnknownTensorError } from "../onnx/graph.js";
import {
  cloneModel,
  dataTypeOf,
  declaredDims,
  describeNode,
  ModelStructureError,
  makeValueInfo,
  opsetOf,
} from "../onnx/model.js";
import type { ModelProto, NodeProto, ValueInfoProto } from "../onnx/types.js";
import { isFloat } from "../tensor/tensor.js";
import { type GradientDevice, GraphBuilder, type ShapeInfo } from "./builder.js";
import { constantValues } from "./constants.js";
import { controlFlowDetail } from "./decompositions/loop.js";
import { type FusedGradient, findFusedGradients } from "./fused-patterns.js";
import { checkIntegerPaths } from "./integer-path.js";
import { NON_DIFFERENTIABLE, type RuleContext, ruleFor, supportedOps } from "./registry.js";
import "./decompositions/index.js";
import "./rules/index.js";

/** Raised when the model has an op without a gradient rule. */
export class UnsupportedOpError extends PathlensError {
  override name = "UnsupportedOpError";
  constructor(
    readonly opType: string,
    readonly nodeName: string,
    readonly opset: number,
    readonly domain = "",
    detail = "",
  ) {
    super(
      `no gradient rule for ${domain ? `${domain}.` : ""}${opType} (node "${nodeName}", opset ${opset})${detail ? `: ${detail}` : ""}. ` +
        `Supported ops: ${supportedOps().join(", ")}`,
    );
  }
}

/** Options of {@link gradientModel}. */
export interface GradientOptions {
  /** Tensors to differentiate with respect to (graph inputs or intermediate tensors). */
  wrt: readonly string[];
  /** Outputs whose seeded sum is differentiated (default: all graph outputs). */
  outputs?: readonly string[];
  /** Facts about every tensor (dtype, dims) from a shape probe. */
  shapes: ShapeInfo;
  /** The device the graph is built for (default "cpu"); see {@link GradientDevice}. */
  device?: GradientDevice;
  /** Keep the original outputs as outputs of the new model (default true). */
  keepOutputs?: boolean;
  /**
   * Differentiate exported LayerNorm, exact-Gelu and Softmax→MatMul (attention) subgraphs in
   * closed form (default true; see fused-patterns.ts). False differentiates them node by node.
   */
  fusePatterns?: boolean;
}

/** The gradient model and the names of what it adds. */
export interface GradientModel {
  model: ModelProto;
  /** New graph inputs, one per differentiated output, in `outputs` order. */
  seeds: string[];
  /** New graph outputs, one per `wrt`, in `wrt` order. */
  gradients: string[];
  /** The differentiated outputs. */
  outputs: string[];
}

/**
 * Builds the gradient graph. Every emitted op is a standard ONNX op valid at the model's opset
 * and has a gradient rule itself, so the result can be differentiated again (Hessian-vector
 * products: differentiate the gradient output with a seed `v`).
 *
 * @example
 * ```ts
 * const shapes = await probeShapes(backend, model, feeds);
 * const g = gradientModel(model, { wrt: ["input"], outputs: ["logits"], shapes });
 * // g.model has inputs input, logits_seed and output input_grad
 * ```
 */
export function gradientModel(source: ModelProto, options: GradientOptions): GradientModel {
  const model = cloneModel(source);
  const graph = model.graph!;
  const opset = opsetOf(model);
  const shapes = options.shapes;
  const known = allTensorNames(graph);
  const knownSet = new Set(known);
  const outputs = [...(options.outputs ?? graph.output.map((o) => o.name!))];
  for (const w of options.wrt)
    if (!knownSet.has(w)) throw new UnknownTensorError(w, known, "tensor to differentiate");
  for (const o of outputs) {
    if (!knownSet.has(o))
      throw new UnknownTensorError(
        o,
        graph.output.map((x) => x.name!),
        "output",
      );
  }
  for (const w of options.wrt) {
    const dt = shapes.get(w)?.dtype;
    if (!dt || !isFloat(dt)) {
      throw new ModelStructureError(
        `cannot differentiate with respect to "${w}": its type is ${dt ?? "unknown"}, not float`,
      );
    }
  }

  const order = topologicalOrder(graph);
  const constants = constantValues(graph);
  const isFloatTensor = (n: string) => {
    const dt = shapes.get(n)?.dtype;
    return dt !== undefined && isFloat(dt);
  };

  // Forward: tensors that depend on a wrt tensor through float values.
  const depends = new Set(options.wrt);
  for (const n of order) {
    if (NON_DIFFERENTIABLE.has(n.opType ?? "")) continue;
    // nodeReads includes what subgraphs (If/Loop branches) read from the outer scope
    if (nodeReads(n).some((i) => depends.has(i)))
      for (const o of n.output) if (o && isFloatTensor(o)) depends.add(o);
  }
  // Backward: tensors that reach a differentiated output.
  const reaches = new Set(outputs);
  for (let k = order.length - 1; k >= 0; k--) {
    const n = order[k]!;
    if (n.output.some((o) => reaches.has(o))) for (const i of nodeReads(n)) reaches.add(i);
  }
  // A float → integer → float hop would make the gradient silently zero: refuse it by name.
  checkIntegerPaths(order, depends, reaches, isFloatTensor);

  const fused =
    options.fusePatterns === false
      ? new Map<NodeProto, FusedGradient>()
      : findFusedGradients({
          order,
          pinned: new Set([...outputs, ...options.wrt, ...graph.output.map((o) => o.name!)]),
          depends: (name) => depends.has(name),
          constant: constants,
          rank: (name) => shapes.get(name)?.dims.length ?? -1,
          dims: (name) => shapes.get(name)?.dims ?? [],
          opset,
        });

  const scope = new NameScope(graph);
  const b = new GraphBuilder(scope, opset, shapes, "grad", options.device ?? "cpu");
  const contributions = new Map<string, string[]>();
  const add = (name: string, g: string) => {
    const list = contributions.get(name);
    if (list) list.push(g);
    else contributions.set(name, [g]);
  };
  const total = (name: string): string | undefined => {
    const list = contributions.get(name);
    if (!list || list.length === 0) return undefined;
    if (list.length === 1) return list[0];
    const s = b.sum(list, "accum");
    contributions.set(name, [s]);
    return s;
  };

  const seeds: string[] = [];
  const seedInputs: ValueInfoProto[] = [];
  for (const o of outputs) {
    const info = shapes.get(o);
    if (!info?.dtype || !isFloat(info.dtype))
      throw new ModelStructureError(`output "${o}" is not a float tensor`);
    const seed = scope.fresh(`${o}_seed`);
    seeds.push(seed);
    const vi = graph.output.find((x) => x.name === o) ?? graph.valueInfo.find((x) => x.name === o);
    seedInputs.push(
      makeValueInfo(seed, dataTypeOf(info.dtype), declaredDims(vi) ?? symbolicDims(info.dims, seed)),
    );
    shapes.set(seed, { dtype: info.dtype, dims: [...info.dims] });
    add(o, seed);
  }

  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k]!;
    const opType = node.opType ?? "";
    if (!nodeReads(node).some((i) => depends.has(i))) continue;
    if (!node.output.some((o) => o && reaches.has(o))) continue;
    const dys = node.output.map((o) => (o ? total(o) : undefined));
    if (dys.every((d) => d === undefined)) continue;
    if (NON_DIFFERENTIABLE.has(opType)) continue;
    const pattern = fused.get(node);
    if (pattern) {
      const wanted = (i: number) => depends.has(pattern.inputs[i]!) && isFloatTensor(pattern.inputs[i]!);
      if (dys[0])
        pattern.backward(b, dys[0], wanted).forEach((g, i) => {
          if (g && wanted(i)) add(pattern.inputs[i]!, g);
        });
      continue;
    }
    const rule = ruleFor(opType, node.domain);
    if (!rule)
      throw new UnsupportedOpError(
        opType,
        node.name || node.output[0] || "?",
        opset,
        node.domain ?? "",
        controlFlowDetail(node, constants),
      );
    const ctx: RuleContext = {
      node,
      b,
      opset,
      x: (i) => node.input[i] ?? "",
      y: (i) => node.output[i] ?? "",
      dy: (i) => dys[i],
      needs: (i) => {
        const name = node.input[i];
        return !!name && depends.has(name) && isFloatTensor(name);
      },
      constant: (i) => {
        const name = node.input[i];
        return name ? constants(name) : undefined;
      },
      outer: {
        needs: (name) => depends.has(name) && isFloatTensor(name),
        add: (name, g) => {
          if (depends.has(name) && isFloatTensor(name)) add(name, g);
        },
        constant: constants,
        differentiate: gradientModel,
      },
    };
    let grads: (string | undefined)[];
    try {
      grads = rule.backward(ctx);
    } catch (e) {
      if (e instanceof UnsupportedOpError) throw e;
      throw new ModelStructureError(`gradient of ${describeNode(node)}: ${(e as Error).message}`);
    }
    grads.forEach((g, i) => {
      if (g && ctx.needs(i)) add(node.input[i]!, g);
    });
  }

  const gradients: string[] = [];
  const gradOutputs: ValueInfoProto[] = [];
  for (const w of options.wrt) {
    const info = shapes.get(w)!;
    const g = total(w) ?? b.zerosLike(w);
    const name = scope.fresh(`${w}_grad`);
    b.nodes.push({
      input: [g],
      output: [name],
      name: scope.fresh(`${name}_node`),
      opType: "Identity",
      attribute: [],
      metadataProps: [],
    });
    shapes.set(name, { dtype: info.dtype, dims: [...info.dims] });
    gradients.push(name);
    const vi = graph.input.find((x) => x.name === w) ?? graph.valueInfo.find((x) => x.name === w);
    gradOutputs.push(makeValueInfo(name, dataTypeOf(info.dtype!), declaredDims(vi)));
  }

  graph.node = [...order, ...b.nodes];
  graph.initializer = [...graph.initializer, ...b.initializers];
  graph.input = [...graph.input, ...seedInputs];
  graph.output = [...(options.keepOutputs === false ? [] : graph.output), ...gradOutputs];
  return { model, seeds, gradients, outputs };
}

/** Placeholder dims for a seed whose output has no declared shape: axis 0 dynamic. */
function symbolicDims(dims: number[], base: string): (number | string)[] {
  return dims.map((d, i) => (i === 0 ? `${base}_batch` : d));
}
