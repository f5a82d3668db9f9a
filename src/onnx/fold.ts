/**
 * Folding `If` nodes whose condition depends only on constants and shapes (exporters emit them
 * for rank or size checks): the taken branch is inlined into the main graph, so the gradient
 * transform sees plain ops. Which branch is taken is decided by the caller (the runtime evaluates
 * the conditions once); this module only finds the candidates and rewrites the graph.
 */

import type { Tensor } from "../tensor/tensor.js";
import { NameScope } from "./graph.js";
import { attrGraph, cloneModel, makeNode, tensorToProto } from "./model.js";
import type { GraphProto, ModelProto, NodeProto } from "./types.js";

/** Ops through which a tensor's value stops depending on its input's values. */
const SHAPE_ONLY = new Set(["Shape", "Size"]);

/**
 * Which tensors of the main graph depend on the values of data inputs. `given` names inputs whose
 * values are fixed for the model being built (a sample rate, a mode flag): they count as
 * constants. `givenSources` lists the given inputs a tensor's value depends on (through values,
 * not only shapes), i.e. the values a fold on that tensor is valid for; `shapeSources` lists the
 * inputs whose shapes it may depend on (inputs upstream of a Shape or Size it reads).
 */
export function dataDependence(
  graph: GraphProto,
  given: ReadonlySet<string> = new Set(),
): {
  dependsOnData(name: string): boolean;
  givenSources(name: string): Set<string>;
  shapeSources(name: string): Set<string>;
} {
  const producers = new Map<string, NodeProto>();
  for (const n of graph.node) for (const o of n.output) if (o) producers.set(o, n);
  const initializers = new Set(graph.initializer.map((t) => t.name));
  const dataInputs = new Set(graph.input.map((i) => i.name!).filter((n) => !initializers.has(n)));
  const memo = new Map<string, boolean>();
  const dependsOnData = (name: string): boolean => {
    const hit = memo.get(name);
    if (hit !== undefined) return hit;
    memo.set(name, true); // cycles cannot occur in a valid graph; be conservative meanwhile
    let result: boolean;
    if (dataInputs.has(name)) result = !given.has(name);
    else {
      const p = producers.get(name);
      if (!p) result = false;
      else if (SHAPE_ONLY.has(p.opType ?? "") && (p.domain ?? "") === "") result = false;
      else if (
        /^Random/.test(p.opType ?? "") ||
        p.opType === "If" ||
        p.opType === "Loop" ||
        p.opType === "Scan"
      )
        result = true;
      else result = p.input.some((i) => i !== "" && dependsOnData(i));
    }
    memo.set(name, result);
    return result;
  };
  const sources = new Map<string, Set<string>>();
  const givenSources = (name: string): Set<string> => {
    const hit = sources.get(name);
    if (hit) return hit;
    const out = new Set<string>();
    sources.set(name, out);
    if (given.has(name) && dataInputs.has(name)) out.add(name);
    const p = producers.get(name);
    if (p && !(SHAPE_ONLY.has(p.opType ?? "") && (p.domain ?? "") === ""))
      for (const i of p.input) if (i) for (const s of givenSources(i)) out.add(s);
    return out;
  };
  // inputs upstream of a tensor (any path): their shapes may decide the tensor's shape
  const upstream = new Map<string, Set<string>>();
  const inputsAbove = (name: string): Set<string> => {
    const hit = upstream.get(name);
    if (hit) return hit;
    const out = new Set<string>();
    upstream.set(name, out);
    if (dataInputs.has(name)) out.add(name);
    const p = producers.get(name);
    if (p) for (const i of p.input) if (i) for (const s of inputsAbove(i)) out.add(s);
    return out;
  };
  const shapeMemo = new Map<string, Set<string>>();
  const shapeSources = (name: string): Set<string> => {
    const hit = shapeMemo.get(name);
    if (hit) return hit;
    const out = new Set<string>();
    shapeMemo.set(name, out);
    const p = producers.get(name);
    if (!p) return out;
    const shapeOnly = SHAPE_ONLY.has(p.opType ?? "") && (p.domain ?? "") === "";
    for (const i of p.input) if (i) for (const s of shapeOnly ? inputsAbove(i) : shapeSources(i)) out.add(s);
    return out;
  };
  return { dependsOnData, givenSources, shapeSources };
}

/**
 * The `If` nodes of the main graph whose condition is computable from constants, the shapes of
 * the inputs and the values of the `given` inputs (no path from another input's values to the
 * condition).
 */
export function foldableIfs(model: ModelProto, given: ReadonlySet<string> = new Set()): NodeProto[] {
  const { dependsOnData } = dataDependence(model.graph!, given);
  return model.graph!.node.filter(
    (n) => n.opType === "If" && (n.domain ?? "") === "" && n.input[0] && !dependsOnData(n.input[0]),
  );
}

/**
 * The `Loop` nodes of the main graph whose trip count (and initial condition, when given) are
 * computable from constants, shapes and `given` inputs but are not constants yet: evaluating
 * them once lets the loop be unrolled.
 */
export function foldableLoopCounts(model: ModelProto, given: ReadonlySet<string> = new Set()): NodeProto[] {
  const g = model.graph!;
  const { dependsOnData } = dataDependence(g, given);
  const constants = new Set(g.initializer.map((t) => t.name));
  for (const n of g.node) if (n.opType === "Constant") for (const o of n.output) constants.add(o);
  const isConstant = (name: string) => !name || constants.has(name);
  return g.node.filter((n) => {
    if (n.opType !== "Loop" || (n.domain ?? "") !== "") return false;
    const [m = "", cond = ""] = n.input;
    if (isConstant(m) && isConstant(cond)) return false;
    return !(m && dependsOnData(m)) && !(cond && dependsOnData(cond));
  });
}

/**
 * Replaces `If` nodes by their taken branches. `taken` maps an If node (by its first output
 * name) to true (then_branch) or false (else_branch); other If nodes stay. Branch-local names
 * are renamed to fresh ones; the If's outputs become Identity copies of the branch outputs.
 */
export function inlineIfs(model: ModelProto, taken: Map<string, boolean>): ModelProto {
  const out = cloneModel(model);
  const g = out.graph!;
  const scope = new NameScope(g);
  const nodes: NodeProto[] = [];
  for (const n of g.node) {
    const choice = n.opType === "If" ? taken.get(n.output[0] ?? "") : undefined;
    if (choice === undefined) {
      nodes.push(n);
      continue;
    }
    const branch = attrGraph(n, choice ? "then_branch" : "else_branch");
    if (!branch) {
      nodes.push(n);
      continue;
    }
    const rename = new Map<string, string>();
    const local = (name: string) => {
      if (!name) return name;
      let r = rename.get(name);
      if (!r) {
        r = scope.fresh(`${n.name || "if"}/${name}`);
        rename.set(name, r);
      }
      return r;
    };
    for (const t of branch.initializer) local(t.name!);
    for (const bn of branch.node) for (const o of bn.output) local(o);
    const mapped = (name: string) => rename.get(name) ?? name;
    for (const t of branch.initializer) g.initializer.push({ ...t, name: mapped(t.name!) });
    for (const bn of branch.node) {
      const copy: NodeProto = {
        ...bn,
        name: scope.fresh(`${n.name || "if"}/${bn.name || bn.opType}`),
        input: bn.input.map(mapped),
        output: bn.output.map(mapped),
        attribute: bn.attribute.map((a) => (a.g ? { ...a, g: renameInGraph(a.g, rename) } : a)),
      };
      nodes.push(copy);
    }
    branch.output.forEach((o, k) => {
      const target = n.output[k];
      if (target)
        nodes.push(
          makeNode("Identity", [mapped(o.name!)], [target], scope.fresh(`${n.name || "if"}/out`), []),
        );
    });
  }
  g.node = nodes;
  return out;
}

/** Outer-scope references inside a nested graph follow the renaming (its own names shadow). */
function renameInGraph(graph: GraphProto, rename: Map<string, string>): GraphProto {
  const own = new Set<string>([
    ...graph.input.map((i) => i.name!),
    ...graph.initializer.map((t) => t.name!),
    ...graph.node.flatMap((n) => n.output),
  ]);
  const mapped = (name: string) => (own.has(name) ? name : (rename.get(name) ?? name));
  return {
    ...graph,
    node: graph.node.map((n) => ({
      ...n,
      input: n.input.map(mapped),
      attribute: n.attribute.map((a) => (a.g ? { ...a, g: renameInGraph(a.g, rename) } : a)),
    })),
    output: graph.output.map((o) => ({ ...o, name: mapped(o.name!) })),
  };
}

/**
 * The model with the named graph inputs replaced by initializers holding `values` (inputs the
 * caller fixes — a sample rate, a mode flag — become constants, so everything decided by them
 * folds; the model bytes then record the values).
 */
export function bindInputs(model: ModelProto, values: Record<string, Tensor>): ModelProto {
  const names = Object.keys(values);
  if (names.length === 0) return model;
  const out = cloneModel(model);
  const g = out.graph!;
  g.input = g.input.filter((i) => !(i.name! in values));
  g.initializer = [
    ...g.initializer.filter((t) => !(t.name! in values)),
    ...names.map((n) => tensorToProto(n, values[n]!)),
  ];
  return out;
}
