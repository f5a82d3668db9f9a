/**
 * Gradient of a data-dependent `If`: an `If` on the same condition whose branches compute the
 * gradient of the corresponding forward branch with respect to the outer-scope tensors the `If`
 * reads (zero where a branch does not read one). Each branch is made a standalone model (its
 * outer reads become inputs), differentiated by the transform itself, and placed back as a branch
 * under fresh names — so the result holds only ops with rules and is differentiable again.
 *
 * Shapes of the branch tensors come from the runtime's branch probe (every branch is probed as a
 * standalone model), under the branch tensors' own names.
 */
import {
  attrGraph,
  dataTypeOf,
  ModelStructureError,
  makeValueInfo,
  tensorToProto,
} from "../../onnx/model.js";
import { definedNamesDeep, outerReads, renameGraphDeep } from "../../onnx/subgraph.js";
import type { GraphProto, ModelProto, NodeProto } from "../../onnx/types.js";
import { isFloat } from "../../tensor/tensor.js";
import type { GradientRule, RuleContext } from "../registry.js";

/** The branch model's gradient graph placed as a branch: outputs one gradient per target. */
function branchGradient(
  ctx: RuleContext,
  branch: GraphProto,
  label: string,
  targets: readonly string[],
  dys: readonly (string | undefined)[],
): GraphProto {
  const { b } = ctx;
  const reads = outerReads(branch);
  const wrt = targets.filter((t) => reads.includes(t));
  const outputs: string[] = [];
  const seedsFor: string[] = [];
  branch.output.forEach((o, k) => {
    const dy = dys[k];
    const dt = b.info.get(o.name!)?.dtype;
    if (dy && dt && isFloat(dt)) {
      outputs.push(o.name!);
      seedsFor.push(dy);
    }
  });
  const nodes: NodeProto[] = [];
  const outNames = new Map<string, string>();
  if (wrt.length && outputs.length) {
    const model = standaloneBranch(ctx, branch, reads);
    const g = ctx.outer.differentiate(model, {
      wrt,
      outputs,
      shapes: new Map(b.info),
      keepOutputs: false,
      device: b.device,
    });
    const graph = g.model.graph!;
    // Everything the gradient graph defines gets a fresh name of the enclosing graph; seeds become
    // the outer output gradients, reads stay outer references (constants are not copied).
    const rename = new Map<string, string>();
    for (const name of definedNamesDeep(graph))
      if (!reads.includes(name)) rename.set(name, b.fresh(`${label}/${name}`));
    g.seeds.forEach((s, k) => rename.set(s, seedsFor[k]!));
    const renamed = renameGraphDeep(graph, rename, (n) => b.fresh(`${label}/${n.name || n.opType}`));
    const readSet = new Set(reads);
    for (const t of renamed.initializer) if (!readSet.has(t.name!)) b.initializers.push(t);
    nodes.push(...renamed.node);
    wrt.forEach((w, k) => outNames.set(w, rename.get(g.gradients[k]!)!));
  }
  const outputsOfBranch = targets.map((t) => {
    const hit = outNames.get(t);
    if (hit) return hit;
    const zero = b.fresh(`${label}/zero`);
    nodes.push({
      input: [t, b.scalarLike(0, t)],
      output: [zero],
      name: b.fresh(`${label}/zero_node`),
      opType: "Mul",
      attribute: [],
      metadataProps: [],
    });
    return zero;
  });
  return {
    name: b.fresh(label),
    node: nodes,
    initializer: [],
    sparseInitializer: [],
    input: [],
    output: outputsOfBranch.map((o, k) => makeValueInfo(o, dataTypeOf(b.dtype(targets[k]!)))),
    valueInfo: [],
    quantizationAnnotation: [],
    metadataProps: [],
  };
}

/** The branch as a model: outer reads become inputs, or initializers when they are constants. */
function standaloneBranch(ctx: RuleContext, branch: GraphProto, reads: readonly string[]): ModelProto {
  const { b } = ctx;
  const inputs = [];
  const initializers = [...branch.initializer];
  for (const r of reads) {
    const value = ctx.outer.constant(r);
    if (value) initializers.push(tensorToProto(r, value));
    else {
      const dt = b.info.get(r)?.dtype;
      if (!dt) throw new ModelStructureError(`no shape information for tensor "${r}" read by an If branch`);
      inputs.push(makeValueInfo(r, dataTypeOf(dt)));
    }
  }
  return {
    irVersion: 8,
    opsetImport: [{ domain: "", version: ctx.opset }],
    metadataProps: [],
    trainingInfo: [],
    functions: [],
    graph: { ...branch, input: inputs, initializer: initializers },
  };
}

/** The If rule (see the module comment). */
const ifRule: GradientRule = {
  opTypes: ["If"],
  backward(ctx) {
    const { node, b } = ctx;
    const thenBranch = attrGraph(node, "then_branch");
    const elseBranch = attrGraph(node, "else_branch");
    if (!thenBranch || !elseBranch)
      throw new ModelStructureError(`If node "${node.name}" lacks a then_branch or else_branch`);
    const targets = [...new Set([...outerReads(thenBranch), ...outerReads(elseBranch)])].filter((t) =>
      ctx.outer.needs(t),
    );
    if (targets.length === 0) return [];
    const dys = node.output.map((_, k) => ctx.dy(k));
    const label = `${node.name || "If"}_grad`;
    const gThen = branchGradient(ctx, thenBranch, `${label}/then`, targets, dys);
    const gElse = branchGradient(ctx, elseBranch, `${label}/else`, targets, dys);
    const outs = b.opN(
      "If",
      [ctx.x(0)],
      { then_branch: gThen, else_branch: gElse },
      { outputs: targets.length, name: label },
    );
    targets.forEach((t, k) => {
      b.setInfo(outs[k]!, { dtype: b.dtype(t), dims: [...b.dims(t)] });
      ctx.outer.add(t, outs[k]!);
    });
    return [];
  },
};

/** Control-flow rules. */
export const controlflowRules: GradientRule[] = [ifRule];
