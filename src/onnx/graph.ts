/**
 * Graph utilities: topological order, producers/consumers, unique names, pruning and cutting.
 */
import { PathlensError } from "../errors.js";
import { cloneModel, elemTypeOf, ModelStructureError, makeValueInfo } from "./model.js";
import type { GraphProto, ModelProto, NodeProto, ValueInfoProto } from "./types.js";

/** Raised when a tensor name is not in the model; lists names that do exist. */
export class UnknownTensorError extends PathlensError {
  override name = "UnknownTensorError";
  constructor(
    readonly tensorName: string,
    readonly known: readonly string[],
    what = "tensor",
  ) {
    const shown = known.slice(0, 30).map((n) => `"${n}"`);
    super(
      `unknown ${what} "${tensorName}"; the model has: ${shown.join(", ")}${known.length > 30 ? `, … (${known.length} in all)` : ""}`,
    );
  }
}

/** Map from tensor name to the node that produces it. */
export function producerMap(graph: GraphProto): Map<string, NodeProto> {
  const m = new Map<string, NodeProto>();
  for (const n of graph.node) for (const o of n.output) if (o) m.set(o, n);
  return m;
}

/** Names of tensors available before any node runs: graph inputs and initializers. */
export function sourceNames(graph: GraphProto): Set<string> {
  const s = new Set<string>();
  for (const i of graph.input) if (i.name) s.add(i.name);
  for (const t of graph.initializer) if (t.name) s.add(t.name);
  return s;
}

/**
 * Nodes in an order where every input is produced before use (Kahn's algorithm, stable).
 * What subgraphs (If branches, Loop bodies) read from the outer scope counts as an input.
 */
export function topologicalOrder(graph: GraphProto): NodeProto[] {
  const available = sourceNames(graph);
  const producers = producerMap(graph);
  const pending = new Map<NodeProto, number>();
  const waiting = new Map<string, NodeProto[]>();
  const ready: NodeProto[] = [];
  for (const n of graph.node) {
    let missing = 0;
    for (const i of new Set(nodeReads(n))) {
      if (!i || available.has(i) || !producers.has(i)) continue;
      missing++;
      let w = waiting.get(i);
      if (!w) waiting.set(i, (w = []));
      w.push(n);
    }
    pending.set(n, missing);
    if (missing === 0) ready.push(n);
  }
  const order: NodeProto[] = [];
  for (let k = 0; k < ready.length; k++) {
    const n = ready[k]!;
    order.push(n);
    for (const o of n.output) {
      for (const c of waiting.get(o) ?? []) {
        const left = pending.get(c)! - 1;
        pending.set(c, left);
        if (left === 0) ready.push(c);
      }
    }
  }
  if (order.length !== graph.node.length) {
    const stuck = graph.node.filter((n) => pending.get(n)! > 0).slice(0, 5);
    throw new ModelStructureError(
      `graph has a cycle or an input no node produces, around: ${stuck.map((n) => `${n.opType} "${n.name}"`).join(", ")}`,
    );
  }
  return order;
}

/** Every tensor name a graph mentions (inputs, initializers, node outputs, value infos). */
export function allTensorNames(graph: GraphProto): string[] {
  const s = new Set<string>();
  for (const i of graph.input) if (i.name) s.add(i.name);
  for (const t of graph.initializer) if (t.name) s.add(t.name);
  for (const n of graph.node) for (const o of n.output) if (o) s.add(o);
  return [...s];
}

/**
 * Hands out names not yet used in a graph (tensor and node names share one pool),
 * so applying a transform twice never collides.
 */
export class NameScope {
  private used = new Set<string>();
  private counters = new Map<string, number>();
  constructor(graph?: GraphProto) {
    if (!graph) return;
    for (const n of allTensorNames(graph)) this.used.add(n);
    for (const n of graph.node) if (n.name) this.used.add(n.name);
    for (const v of graph.output) if (v.name) this.used.add(v.name);
  }
  /** A fresh name starting with `base`. */
  fresh(base: string): string {
    if (!this.used.has(base)) {
      this.used.add(base);
      return base;
    }
    let k = this.counters.get(base) ?? 1;
    let name = `${base}_${k}`;
    while (this.used.has(name)) name = `${base}_${++k}`;
    this.counters.set(base, k + 1);
    this.used.add(name);
    return name;
  }
  /** Marks a name as taken. */
  reserve(name: string): void {
    this.used.add(name);
  }
  has(name: string): boolean {
    return this.used.has(name);
  }
}

/** Names read by a node, including names its subgraphs read from the outer scope. */
export function nodeReads(n: NodeProto): string[] {
  const reads = n.input.filter((x) => x);
  for (const a of n.attribute) {
    for (const g of [a.g, ...a.graphs]) {
      if (!g) continue;
      const inner = new Set([...sourceNames(g), ...g.node.flatMap((m) => m.output)]);
      for (const m of g.node) for (const r of nodeReads(m)) if (!inner.has(r)) reads.push(r);
      for (const o of g.output) if (o.name && !inner.has(o.name)) reads.push(o.name);
    }
  }
  return reads;
}

/**
 * Removes nodes whose outputs reach no graph output, then inputs and initializers nothing reads.
 * Mutates `graph`.
 */
export function pruneGraph(graph: GraphProto): void {
  const producers = producerMap(graph);
  const live = new Set<NodeProto>();
  const needed = new Set<string>();
  const stack = graph.output.map((o) => o.name!).filter(Boolean);
  while (stack.length) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    needed.add(name);
    const p = producers.get(name);
    if (p && !live.has(p)) {
      live.add(p);
      for (const r of nodeReads(p)) stack.push(r);
    }
  }
  graph.node = graph.node.filter((n) => live.has(n));
  graph.input = graph.input.filter((i) => needed.has(i.name!));
  graph.initializer = graph.initializer.filter((t) => needed.has(t.name!));
  graph.valueInfo = graph.valueInfo.filter((v) => needed.has(v.name!));
}

/** Looks up the value info of a tensor (input, output or value_info). */
export function findValueInfo(graph: GraphProto, name: string): ValueInfoProto | undefined {
  return (
    graph.input.find((v) => v.name === name) ??
    graph.output.find((v) => v.name === name) ??
    graph.valueInfo.find((v) => v.name === name)
  );
}

/** The two halves of a model cut at a tensor. */
export interface CutModel {
  /** Computes the cut tensor (its only output) from the original inputs it needs. */
  head: ModelProto;
  /** The original outputs, with the cut tensor as a new graph input (plus original inputs still read). */
  tail: ModelProto;
}

/**
 * Cuts a model at a named intermediate tensor: `head` computes it, `tail` takes it as an input.
 * The element type comes from value_info when present, else `elemType` (float by default).
 */
export function cutModel(model: ModelProto, tensorName: string, elemType?: number): CutModel {
  const graph = model.graph!;
  const producers = producerMap(graph);
  if (!producers.has(tensorName) && !sourceNames(graph).has(tensorName)) {
    throw new UnknownTensorError(tensorName, allTensorNames(graph));
  }
  const type = elemType ?? elemTypeOf(findValueInfo(graph, tensorName)) ?? 1;
  const head = cloneModel(model);
  head.graph!.output = [findValueInfo(graph, tensorName) ?? makeValueInfo(tensorName, type)];
  pruneGraph(head.graph!);

  const tail = cloneModel(model);
  const g = tail.graph!;
  const p = producers.get(tensorName);
  if (p)
    g.node = g.node.filter((n) => n !== graph.node[graph.node.indexOf(p)] && !n.output.includes(tensorName));
  g.initializer = g.initializer.filter((t) => t.name !== tensorName);
  g.input = g.input.filter((i) => i.name !== tensorName);
  g.input.push(findValueInfo(graph, tensorName) ?? makeValueInfo(tensorName, type));
  pruneGraph(g);
  return { head, tail };
}
