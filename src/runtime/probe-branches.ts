/**
 * `If` branches the main graph keeps (conditions on data): the main-graph probe sees only
 * main-graph tensors, but the If gradient rule differentiates each branch as a standalone model
 * and needs the dtype and dims of every branch tensor. Each branch is probed as that standalone
 * model (its outer reads become inputs fed with their values from the main graph), both branches
 * of every If whatever the condition, recursively for nested Ifs. Composite ops inside branches
 * (a recurrent cell, an unrollable Loop) are decomposed the same way, branch by branch.
 */
import type { ShapeInfo } from "../autodiff/builder.js";
import {
  decomposeModel,
  decompositionFor,
  decompositionNeedsShapes,
  hasDecomposableNodes,
} from "../autodiff/decompose.js";
import { encodeModel } from "../onnx/codec.js";
import { NameScope } from "../onnx/graph.js";
import {
  attrGraph,
  cloneModel,
  dataTypeOf,
  makeValueInfo,
  tensorFromProto,
  tensorToProto,
} from "../onnx/model.js";
import { definedNamesDeep, outerReads, renameGraphDeep } from "../onnx/subgraph.js";
import type { AttributeProto, GraphProto, ModelProto } from "../onnx/types.js";
import type { Tensor } from "../tensor/tensor.js";
import type { Backend } from "./backend.js";
import { probeShapes } from "./probe.js";

/** Nesting depth past which branches are not probed further. */
const MAX_DEPTH = 8;

/**
 * Adds to `info` the facts of every tensor inside the If branches of `model`'s main graph
 * (evaluated on `feeds`). A branch that onnxruntime cannot run on the probe's values (the branch
 * not taken may be invalid for them) is skipped; differentiating it then fails naming a tensor
 * without shape information.
 */
export async function probeBranchShapes(
  backend: Backend,
  model: ModelProto,
  feeds: Record<string, Tensor>,
  info: ShapeInfo,
  depth = 0,
): Promise<void> {
  const g = model.graph!;
  const branches: GraphProto[] = [];
  for (const n of g.node)
    if (n.opType === "If" && (n.domain ?? "") === "")
      for (const a of ["then_branch", "else_branch"]) {
        const br = attrGraph(n, a);
        if (br) branches.push(br);
      }
  if (branches.length === 0 || depth > MAX_DEPTH) return;
  const reads = [...new Set(branches.flatMap(outerReads))];
  const values = await valuesOf(backend, model, feeds, reads);
  for (const br of branches) {
    const ownReads = outerReads(br).filter((r) => values[r]);
    const standalone: ModelProto = {
      ...model,
      metadataProps: [],
      graph: {
        ...br,
        input: ownReads.map((r) => makeValueInfo(r, dataTypeOf(values[r]!.dtype))),
      },
    };
    const branchFeeds = Object.fromEntries(ownReads.map((r) => [r, values[r]!]));
    let branchInfo: ShapeInfo;
    try {
      branchInfo = await probeShapes(backend, standalone, branchFeeds);
      await probeBranchShapes(backend, standalone, branchFeeds, branchInfo, depth + 1);
    } catch {
      continue;
    }
    for (const [k, v] of branchInfo) if (!info.has(k)) info.set(k, v);
  }
}

/** Values of main-graph tensors: initializers directly, the rest from one run. */
async function valuesOf(
  backend: Backend,
  model: ModelProto,
  feeds: Record<string, Tensor>,
  names: readonly string[],
): Promise<Record<string, Tensor>> {
  const g = model.graph!;
  const out: Record<string, Tensor> = {};
  const computed: string[] = [];
  for (const name of names) {
    const init = g.initializer.find((t) => t.name === name);
    if (feeds[name]) out[name] = feeds[name]!;
    else if (init) out[name] = tensorFromProto(init);
    else computed.push(name);
  }
  if (computed.length === 0) return out;
  const probe = cloneModel(model);
  const declared = new Set(probe.graph!.output.map((o) => o.name));
  for (const c of computed) if (!declared.has(c)) probe.graph!.output.push({ name: c, metadataProps: [] });
  const session = await backend.createSession(encodeModel(probe), { optimization: "disabled" });
  try {
    const inputs = new Set(probe.graph!.input.map((i) => i.name));
    const needed = Object.fromEntries(Object.entries(feeds).filter(([k]) => inputs.has(k)));
    Object.assign(out, await session.run(needed, computed));
  } finally {
    await session.dispose();
  }
  return out;
}

/** True when a graph or one of its nested subgraphs holds an op with a decomposition. */
function hasCompositeOps(g: GraphProto): boolean {
  return g.node.some(
    (n) =>
      decompositionFor(n.opType ?? "", n.domain) !== undefined ||
      n.attribute.some((a) => [a.g, ...a.graphs].some((s) => s && hasCompositeOps(s))),
  );
}

/**
 * Decomposes composite ops inside the If branches of the main graph (the decomposition pass
 * itself rewrites only a main graph): each branch becomes a standalone model — outer constants
 * as initializers, so trip counts stay known; other outer reads as inputs fed with their values
 * (for the probe a decomposition may need) — is decomposed, and goes back as the branch.
 * Returns the model (the same object when no branch holds a composite op).
 */
export async function decomposeBranches(
  backend: Backend,
  model: ModelProto,
  feeds: Record<string, Tensor>,
  depth = 0,
): Promise<ModelProto> {
  const g = model.graph!;
  const isIf = (n: { opType?: string; domain?: string }) => n.opType === "If" && (n.domain ?? "") === "";
  const branchAttrs = (a: AttributeProto) => (a.name === "then_branch" || a.name === "else_branch") && a.g;
  const targets = g.node.filter(
    (n) => isIf(n) && n.attribute.some((a) => branchAttrs(a) && hasCompositeOps(a.g!)),
  );
  if (targets.length === 0 || depth > MAX_DEPTH) return model;
  const reads = [
    ...new Set(targets.flatMap((n) => n.attribute.filter(branchAttrs).flatMap((a) => outerReads(a.g!)))),
  ];
  const values = await valuesOf(backend, model, feeds, reads);
  const constants = new Set<string>(g.initializer.map((t) => t.name!));
  for (const n of g.node) if (n.opType === "Constant") for (const o of n.output) constants.add(o);
  const out = cloneModel(model);
  // names the decomposition invents inside a branch must not shadow any name of the model
  const scope = new NameScope(out.graph!);
  for (const name of definedNamesDeep(out.graph!)) scope.reserve(name);
  for (const node of out.graph!.node) {
    if (!targets.some((t) => t.output[0] === node.output[0])) continue;
    node.attribute = await Promise.all(
      node.attribute.map(async (a) => {
        if (!branchAttrs(a) || !hasCompositeOps(a.g!)) return a;
        const br = a.g!;
        const own = outerReads(br).filter((r) => values[r]);
        const fixed = own.filter((r) => constants.has(r));
        const fed = own.filter((r) => !constants.has(r));
        let sm: ModelProto = {
          ...model,
          metadataProps: [],
          graph: {
            ...br,
            input: fed.map((r) => makeValueInfo(r, dataTypeOf(values[r]!.dtype))),
            initializer: [...br.initializer, ...fixed.map((r) => tensorToProto(r, values[r]!))],
          },
        };
        const branchFeeds = Object.fromEntries(fed.map((r) => [r, values[r]!]));
        sm = await decomposeBranches(backend, sm, branchFeeds, depth + 1);
        if (hasDecomposableNodes(sm))
          sm = decomposeModel(
            sm,
            decompositionNeedsShapes(sm) ? await probeShapes(backend, sm, branchFeeds) : undefined,
          );
        if (sm.graph === br) return a;
        const outerNames = new Set(fixed);
        const graph = {
          ...sm.graph!,
          input: [],
          initializer: sm.graph!.initializer.filter((t) => !outerNames.has(t.name!)),
        };
        return { ...a, g: freshNewNames(graph, br, scope) };
      }),
    );
  }
  return out;
}

/** `g` with the tensor and node names it defines that `before` did not, renamed fresh in `scope`. */
function freshNewNames(g: GraphProto, before: GraphProto, scope: NameScope): GraphProto {
  const old = definedNamesDeep(before);
  const oldNodes = new Set<string>();
  const visit = (h: GraphProto) => {
    for (const n of h.node) {
      if (n.name) oldNodes.add(n.name);
      for (const a of n.attribute) for (const s of [a.g, ...a.graphs]) if (s) visit(s);
    }
  };
  visit(before);
  const rename = new Map<string, string>();
  for (const name of definedNamesDeep(g)) if (!old.has(name)) rename.set(name, scope.fresh(name));
  return renameGraphDeep(g, rename, (n) =>
    n.name && oldNodes.has(n.name) ? n.name : scope.fresh(n.name || n.opType || "node"),
  );
}
