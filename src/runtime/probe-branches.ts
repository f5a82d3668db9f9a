/**
 * Shapes inside `If` branches: the main-graph probe sees only main-graph tensors, but the If
 * gradient rule differentiates each branch as a standalone model and needs the dtype and dims of
 * every branch tensor. Each branch is probed as that standalone model (its outer reads become
 * inputs fed with their values from the main graph), both branches of every If whatever the
 * condition, recursively for nested Ifs.
 */
import type { ShapeInfo } from "../autodiff/builder.js";
import { encodeModel } from "../onnx/codec.js";
import { attrGraph, cloneModel, dataTypeOf, makeValueInfo, tensorFromProto } from "../onnx/model.js";
import { outerReads } from "../onnx/subgraph.js";
import type { GraphProto, ModelProto } from "../onnx/types.js";
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
