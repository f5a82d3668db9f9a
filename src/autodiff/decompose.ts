/**
 * Decompositions as data (as PyTorch's decomposition table): a composite op — a recurrent cell,
 * an onnxruntime fused contrib op, a quantized op — is rewritten once into primitive ONNX ops
 * that have gradient rules; the gradient transform then only ever sees primitives.
 *
 * A decomposition emits nodes computing the node's outputs from its inputs; the rewrite wires the
 * results to the original output names, so graph outputs and downstream readers are unchanged.
 * Emitted nodes may themselves be composite (FusedConv → Conv + an activation that is
 * decomposed again): the rewrite repeats until no decomposable node is left.
 */
import { NameScope, producerMap } from "../onnx/graph.js";
import { cloneModel, describeNode, ModelStructureError, opsetOf } from "../onnx/model.js";
import type { GraphProto, ModelProto, NodeProto } from "../onnx/types.js";
import type { Tensor } from "../tensor/tensor.js";
import { type GradientDevice, GraphBuilder, type ShapeInfo } from "./builder.js";
import { constantValues } from "./constants.js";

/** What a decomposition sees of the node it rewrites. */
export interface DecomposeContext {
  readonly node: NodeProto;
  /** Emits the replacement nodes (names are fresh and unique in the graph). */
  readonly b: GraphBuilder;
  /** Version of the default domain the model imports (emitted ops must be valid at it). */
  readonly opset: number;
  /** Name of input i ("" when an optional input is absent). */
  x(i: number): string;
  /** Name of output i ("" when that optional output is not used). */
  y(i: number): string;
  /** The value of input i when it is a constant (initializer or Constant output). */
  constant(i: number): Tensor | undefined;
  /** The value of a named tensor of the graph when it is a constant (what a subgraph reads). */
  constantOf(name: string): Tensor | undefined;
  /**
   * The node producing tensor `name` in the graph as it stands at this pass (undefined: a graph
   * input, initializer or a node emitted in this pass).
   */
  producer(name: string): NodeProto | undefined;
  /**
   * Facts (dtype, dims) of the original model's tensors from a shape probe, when the
   * decomposition declared `needsShapes`; undefined otherwise.
   */
  readonly shapes: ShapeInfo | undefined;
  /** Facts about the machine that wrote hardware-specific graphs (see {@link DecomposeHints}). */
  readonly hints: DecomposeHints;
}

/**
 * Facts a graph does not record but its meaning depends on: onnxruntime's level-"all" graphs
 * store weights in the NCHWc layout of the CPU that wrote them.
 */
export interface DecomposeHints {
  /** onnxruntime's NCHWc block size on this machine (MLAS: 8 with AVX2, 16 with AVX-512). */
  readonly nchwcBlockSize?: number;
}

/** What {@link Decomposition.applies} may look at besides the node: its producers, the opset. */
export interface ApplyContext {
  /** The node producing tensor `name` (undefined for graph inputs and initializers). */
  producer(name: string): NodeProto | undefined;
  /** Version of the default domain the model imports. */
  readonly opset: number;
}

/** One composite op's rewrite into primitives. */
export interface Decomposition {
  /** Op types handled (default domain unless `domain` is set). */
  readonly opTypes: readonly string[];
  /** Domain of those ops ("" or undefined: the default ONNX domain; e.g. "com.microsoft"). */
  readonly domain?: string;
  /**
   * True when the rewrite needs static facts (dims) of the original tensors, e.g. a sequence
   * length to unroll; the caller then probes the model first.
   */
  readonly needsShapes?: boolean;
  /**
   * False when this node is outside what the rewrite covers: it stays as it is (and the gradient
   * transform reports why if it must differentiate it). Default: every node of the op types.
   */
  readonly applies?: (
    node: NodeProto,
    constant: (name: string) => Tensor | undefined,
    where: ApplyContext,
  ) => boolean;
  /**
   * Emits nodes computing the outputs; returns one name per output of the node (undefined for an
   * optional output the node does not produce). Throws {@link ModelStructureError} with the
   * attribute or input at fault when the node is outside what the rewrite covers.
   */
  decompose(ctx: DecomposeContext): (string | undefined)[];
}

const table = new Map<string, Decomposition>();

function key(domain: string | undefined, opType: string): string {
  const d = domain === "ai.onnx" ? "" : (domain ?? "");
  return `${d}::${opType}`;
}

/** Adds decompositions to the table (a later entry for the same op replaces the earlier one). */
export function registerDecompositions(list: readonly Decomposition[]): void {
  for (const d of list) for (const t of d.opTypes) table.set(key(d.domain, t), d);
}

/** The decomposition of an op, if any. */
export function decompositionFor(opType: string, domain?: string): Decomposition | undefined {
  return table.get(key(domain, opType));
}

/** Every op with a decomposition, as "domain.Op" (default domain without prefix). */
export function decomposedOps(): string[] {
  return [...table.keys()].map((k) => {
    const [d, t] = k.split("::");
    return d ? `${d}.${t}` : t!;
  });
}

/** The decomposition that rewrites this node, if one applies to it. */
function applicable(
  node: NodeProto,
  constant: (name: string) => Tensor | undefined,
  where: ApplyContext,
): Decomposition | undefined {
  const d = decompositionFor(node.opType ?? "", node.domain);
  return d && (!d.applies || d.applies(node, constant, where)) ? d : undefined;
}

/** The producers and opset of a model's main graph, for {@link applicable}. */
function applyContext(graph: GraphProto, opset: number): ApplyContext {
  const producers = producerMap(graph);
  return { producer: (name) => producers.get(name), opset };
}

/** True when some node of the main graph has a decomposition. */
export function hasDecomposableNodes(model: ModelProto): boolean {
  const graph = model.graph;
  if (!graph) return false;
  const constants = constantValues(graph);
  const where = applyContext(graph, opsetOf(model));
  return graph.node.some((n) => applicable(n, constants, where));
}

/** True when some decomposable node of the main graph needs probed shapes. */
export function decompositionNeedsShapes(model: ModelProto): boolean {
  const graph = model.graph;
  if (!graph) return false;
  const constants = constantValues(graph);
  const where = applyContext(graph, opsetOf(model));
  return graph.node.some((n) => applicable(n, constants, where)?.needsShapes);
}

/** Passes after which a rewrite that keeps producing composite ops is a bug, not progress. */
const MAX_PASSES = 8;

/**
 * Rewrites every decomposable node of the main graph into primitives (repeating while emitted
 * nodes are themselves decomposable). Returns the model unchanged (same object) when nothing
 * applies. `shapes` must be given when {@link decompositionNeedsShapes} says so.
 */
export function decomposeModel(
  source: ModelProto,
  shapes?: ShapeInfo,
  device: GradientDevice = "cpu",
  hints: DecomposeHints = {},
): ModelProto {
  if (!hasDecomposableNodes(source)) return source;
  const model = cloneModel(source);
  const graph = model.graph!;
  const opset = opsetOf(model);
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    if (!rewritePass(graph, opset, shapes, device, hints)) return model;
  }
  throw new ModelStructureError(
    `decomposing composite ops did not finish after ${MAX_PASSES} passes (an op keeps rewriting into itself)`,
  );
}

/** One pass over the graph; true when something was rewritten. */
function rewritePass(
  graph: GraphProto,
  opset: number,
  shapes: ShapeInfo | undefined,
  device: GradientDevice,
  hints: DecomposeHints,
): boolean {
  const scope = new NameScope(graph);
  const info: ShapeInfo = new Map(shapes ?? []);
  const b = new GraphBuilder(scope, opset, info, "dec", device);
  const constants = constantValues(graph);
  const where = applyContext(graph, opset);
  const out: NodeProto[] = [];
  let changed = false;
  for (const node of graph.node) {
    const d = applicable(node, constants, where);
    if (!d) {
      out.push(node);
      continue;
    }
    if (d.needsShapes && !shapes)
      throw new ModelStructureError(`${describeNode(node)}: its decomposition needs probed shapes`);
    const start = b.nodes.length;
    const ctx: DecomposeContext = {
      node,
      b,
      opset,
      x: (i) => node.input[i] ?? "",
      y: (i) => node.output[i] ?? "",
      constant: (i) => {
        const name = node.input[i];
        return name ? constants(name) : undefined;
      },
      constantOf: constants,
      shapes,
      hints,
      producer: where.producer,
    };
    const results = d.decompose(ctx);
    const emitted = b.nodes.slice(start);
    node.output.forEach((o, i) => {
      if (!o) return;
      const r = results[i];
      if (r === undefined)
        throw new ModelStructureError(
          `${describeNode(node)}: output ${i} ("${o}") is used but the rewrite does not produce it`,
        );
      emitted.push({
        input: [r],
        output: [o],
        name: scope.fresh(`${node.name || o}/decomposed`),
        opType: "Identity",
        attribute: [],
        metadataProps: [],
      });
    });
    out.push(...emitted);
    changed = true;
  }
  graph.node = out;
  graph.initializer = [...graph.initializer, ...b.initializers];
  return changed;
}
