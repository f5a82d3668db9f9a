/**
 * Batch-first wrapping of a model whose inputs or outputs carry the batch on another axis
 * (torch's sequence-first `nn.LSTM`/`nn.GRU`/`nn.RNN` exports: x as time × batch × features,
 * states as layers·directions × batch × hidden). The attribution layer stacks examples and path
 * points along axis 0, so each named input becomes a new graph input of the same name with its
 * batch axis moved to 0, followed by a Transpose back into the tensor the model reads; each
 * named output is renamed inside and a Transpose moving its batch axis to 0 gives it back under
 * its own name. Names seen from outside do not change; only the layouts do.
 */
import { PathlensError } from "../errors.js";
import { moveAxisPerm } from "../tensor/move-axis.js";
import { NameScope } from "./graph.js";
import { cloneModel, declaredDims, elemTypeOf, makeAttribute, makeNode, makeValueInfo } from "./model.js";
import { renameGraphDeep } from "./subgraph.js";
import type { ModelProto, ValueInfoProto } from "./types.js";

/** The batch axis of graph inputs and outputs, by name (axis 0 when not named). */
export type BatchAxes = Readonly<Record<string, number>>;

/** A batch axis that names no graph input or output, or lies outside the tensor's rank. */
export class BatchAxisError extends PathlensError {
  override name = "BatchAxisError";
}

/**
 * Resolves each entry of `axes` against the model: the tensor's rank comes from its declared
 * shape, else from `ranks` (the given tensors); negative axes count from the end. Returns only
 * the entries whose axis is not already 0.
 */
export function resolveBatchAxes(
  model: ModelProto,
  axes: BatchAxes,
  ranks: Readonly<Record<string, number>> = {},
): Map<string, { axis: number; rank: number; kind: "input" | "output" }> {
  const g = model.graph!;
  const inits = new Set(g.initializer.map((t) => t.name));
  const inputs = g.input.filter((i) => !inits.has(i.name));
  const out = new Map<string, { axis: number; rank: number; kind: "input" | "output" }>();
  for (const [name, given] of Object.entries(axes)) {
    const vi = inputs.find((i) => i.name === name) ?? g.output.find((o) => o.name === name);
    if (!vi) {
      const known = [...inputs, ...g.output].map((v) => v.name!);
      throw new BatchAxisError(
        `batch axis given for "${name}", which is no input or output of the model (it has ${known.map((n) => `"${n}"`).join(", ")})`,
      );
    }
    const kind = inputs.includes(vi) ? "input" : "output";
    const rank = declaredDims(vi)?.length ?? ranks[name];
    if (rank === undefined) {
      throw new BatchAxisError(
        `batch axis for ${kind} "${name}": the model does not declare its rank; give its value so its rank is known`,
      );
    }
    if (!Number.isInteger(given) || given < -rank || given >= rank) {
      throw new BatchAxisError(
        `batch axis ${given} of ${kind} "${name}" is out of range: it has ${rank} axes (0 to ${rank - 1})`,
      );
    }
    const axis = given < 0 ? given + rank : given;
    if (axis !== 0) out.set(name, { axis, rank, kind });
  }
  return out;
}

/**
 * The model with every input and output named in `axes` batch-first (see the file comment).
 * Inputs are fed, and outputs read, with the batch axis moved to 0 and the other axes in their
 * order; the computation is the model's own.
 */
export function batchFirstModel(
  model: ModelProto,
  axes: BatchAxes,
  ranks: Readonly<Record<string, number>> = {},
): ModelProto {
  const resolved = resolveBatchAxes(model, axes, ranks);
  if (resolved.size === 0) return model;
  const copy = cloneModel(model);
  const g = copy.graph!;
  const scope = new NameScope(g);
  const rename = new Map<string, string>();
  for (const name of resolved.keys()) rename.set(name, scope.fresh(`${name}__model_layout`));
  const renamed = renameGraphDeep(g, rename, (n) => n.name ?? "");
  const before = [];
  const after = [];
  const permuted = (vi: ValueInfoProto, name: string, perm: number[]) => {
    const dims = declaredDims(vi);
    return makeValueInfo(name, elemTypeOf(vi)!, dims ? perm.map((p) => dims[p]) : undefined);
  };
  for (const [name, { axis, rank, kind }] of resolved) {
    const inner = rename.get(name)!;
    const toBatchFirst = moveAxisPerm(rank, axis, 0);
    if (kind === "input") {
      const k = renamed.input.findIndex((i) => i.name === inner);
      renamed.input[k] = permuted(g.input.find((i) => i.name === name)!, name, toBatchFirst);
      const back = moveAxisPerm(rank, 0, axis);
      before.push(
        makeNode("Transpose", [name], [inner], scope.fresh(`${name}__to_model_layout`), [
          makeAttribute("perm", back),
        ]),
      );
    } else {
      const k = renamed.output.findIndex((o) => o.name === inner);
      renamed.output[k] = permuted(g.output.find((o) => o.name === name)!, name, toBatchFirst);
      after.push(
        makeNode("Transpose", [inner], [name], scope.fresh(`${name}__to_batch_first`), [
          makeAttribute("perm", toBatchFirst),
        ]),
      );
    }
  }
  renamed.node = [...before, ...renamed.node, ...after];
  copy.graph = renamed;
  return copy;
}
