/**
 * Folding on given values: inputs the caller provides but does not attribute (a sample rate, a
 * mode flag) may decide `If` nodes and loop trip counts. Those decisions are evaluated once with
 * onnxruntime on the given feeds; taken branches are inlined and trip counts become constants, so
 * the gradient transform sees plain ops (and loops it can unroll).
 *
 * A folded model is valid only for the given values it was folded on: the result names them
 * (`decidedBy`), {@link checkFoldedInputs} refuses other values at run time, and the values are
 * written into the model's metadata so the session cache (keyed by model bytes) never hands a
 * session folded for one value to a caller with another.
 */
import { PathlensError } from "../errors.js";
import { encodeModel } from "../onnx/codec.js";
import { dataDependence, foldableIfs, foldableLoopCounts, inlineIfs } from "../onnx/fold.js";
import { NameScope, nodeReads } from "../onnx/graph.js";
import { cloneModel, tensorToProto } from "../onnx/model.js";
import type { ModelProto } from "../onnx/types.js";
import type { Tensor } from "../tensor/tensor.js";
import type { Backend } from "./backend.js";

/** Raised when a session folded on given values is run with other values for them. */
export class FoldedInputChangedError extends PathlensError {
  override name = "FoldedInputChangedError";
}

/** A model folded on given values. */
export interface FoldedModel {
  model: ModelProto;
  /** Given inputs whose values decided a fold, with those values (empty when nothing depended on one). */
  decidedBy: Map<string, Tensor>;
  /**
   * Inputs whose shapes decided a loop's trip count, with their dims: the unrolled loop is valid
   * only for those sizes (axis 0, the batch, excepted).
   */
  unrolledFor: Map<string, readonly number[]>;
}

/** Rounds of folding: inlining a branch can uncover nested Ifs decided by the same values. */
const MAX_ROUNDS = 8;

/** Metadata key recording the given values a model was folded on. */
export const FOLDED_METADATA_KEY = "pathlens.folded_on";

/**
 * Folds the `If` nodes and `Loop` trip counts of the main graph that depend only on constants,
 * shapes and the values of the `given` inputs (evaluated on `feeds`). Returns the model (the
 * same object when nothing folds) and the given inputs the result depends on.
 */
export async function foldGivenValues(
  backend: Backend,
  model: ModelProto,
  feeds: Record<string, Tensor>,
  given: ReadonlySet<string> = new Set(),
): Promise<FoldedModel> {
  const decidedBy = new Map<string, Tensor>();
  const unrolledFor = new Map<string, readonly number[]>();
  let current = model;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const ifs = foldableIfs(current, given);
    const loops = foldableLoopCounts(current, given);
    if (ifs.length === 0 && loops.length === 0) break;
    const loopNames = loops.flatMap((n) => n.input.slice(0, 2).filter((x) => x));
    const wanted = [...new Set([...ifs.map((n) => n.input[0]!), ...loopNames])];
    const values = await evaluate(backend, current, feeds, wanted);
    const { givenSources, shapeSources } = dataDependence(current.graph!, given);
    for (const w of wanted) for (const s of givenSources(w)) if (feeds[s]) decidedBy.set(s, feeds[s]);
    for (const w of loopNames)
      for (const s of shapeSources(w)) if (feeds[s]) unrolledFor.set(s, feeds[s].dims);
    const taken = new Map<string, boolean>();
    for (const n of ifs) taken.set(n.output[0]!, Boolean(Number(values[n.input[0]!]!.data[0])));
    current = inlineIfs(current, taken);
    if (loops.length) current = constantLoopCounts(current, loops, values);
  }
  if (current !== model) dropUnreadInitializers(current);
  if (decidedBy.size) {
    if (current === model) current = cloneModel(model);
    current.metadataProps = [
      ...current.metadataProps.filter((p) => p.key !== FOLDED_METADATA_KEY),
      { key: FOLDED_METADATA_KEY, value: describeValues(decidedBy) },
    ];
  }
  return { model: current, decidedBy, unrolledFor };
}

/**
 * Removes initializers nothing reads any more (the weights of branches not taken); graph inputs
 * stay, so callers may keep feeding them.
 */
function dropUnreadInitializers(model: ModelProto): void {
  const g = model.graph!;
  const read = new Set<string>(g.output.map((o) => o.name!));
  for (const n of g.node) for (const r of nodeReads(n)) read.add(r);
  g.initializer = g.initializer.filter((t) => read.has(t.name!));
}

/** Runs `model` on `feeds` and returns the tensors `names` (exposed as extra outputs). */
async function evaluate(
  backend: Backend,
  model: ModelProto,
  feeds: Record<string, Tensor>,
  names: readonly string[],
): Promise<Record<string, Tensor>> {
  const probe = cloneModel(model);
  const declared = new Set(probe.graph!.output.map((o) => o.name));
  for (const c of names) if (!declared.has(c)) probe.graph!.output.push({ name: c, metadataProps: [] });
  const session = await backend.createSession(encodeModel(probe), { optimization: "disabled" });
  try {
    const inputs = new Set(probe.graph!.input.map((i) => i.name));
    const needed = Object.fromEntries(Object.entries(feeds).filter(([k]) => inputs.has(k)));
    return await session.run(needed, names);
  } finally {
    await session.dispose();
  }
}

/** The Loops' trip count and initial condition inputs replaced by initializers holding their values. */
function constantLoopCounts(
  model: ModelProto,
  loops: readonly { output: string[]; input: string[] }[],
  values: Record<string, Tensor>,
): ModelProto {
  const out = cloneModel(model);
  const g = out.graph!;
  const scope = new NameScope(g);
  const firstOutputs = new Set(loops.map((n) => n.output[0]));
  for (const n of g.node) {
    if (n.opType !== "Loop" || !firstOutputs.has(n.output[0])) continue;
    n.input = n.input.map((name, i) => {
      if (i > 1 || !name) return name;
      const fresh = scope.fresh(`${name}/folded`);
      g.initializer.push(tensorToProto(fresh, values[name]!));
      return fresh;
    });
  }
  return out;
}

function sameTensor(a: Tensor, b: Tensor): boolean {
  if (a.dtype !== b.dtype || a.dims.length !== b.dims.length) return false;
  if (a.dims.some((d, i) => d !== b.dims[i])) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

function describeValue(t: Tensor): string {
  const shown = Array.from(t.data as ArrayLike<number | bigint>, String);
  const body =
    shown.length > 8 ? `${shown.slice(0, 8).join(", ")}, … (${shown.length} values)` : shown.join(", ");
  return t.dims.length === 0 ? body : `[${body}]`;
}

/** The folded values in full (metadata: part of the model bytes, hence of the session cache key). */
function describeValues(values: Map<string, Tensor>): string {
  return JSON.stringify(
    Object.fromEntries(
      [...values].map(([k, t]) => [
        k,
        { dtype: t.dtype, dims: t.dims, data: Array.from(t.data as ArrayLike<number | bigint>, String) },
      ]),
    ),
  );
}

/**
 * Throws {@link FoldedInputChangedError} when `feeds` give a folded input another value than the
 * one the model was folded on, or an input that decided a loop's trip count another shape.
 */
export function checkFoldedInputs(
  decidedBy: ReadonlyMap<string, Tensor>,
  feeds: Record<string, Tensor>,
  unrolledFor: ReadonlyMap<string, readonly number[]> = new Map(),
): void {
  for (const [name, dims] of unrolledFor) {
    const fed = feeds[name];
    if (fed && (fed.dims.length !== dims.length || fed.dims.some((d, i) => i > 0 && d !== dims[i])))
      throw new FoldedInputChangedError(
        `a loop's trip count was computed from the shape of input "${name}" and unrolled for shape ` +
          `[${dims.join(", ")}]; it was run with shape [${fed.dims.join(", ")}] (only axis 0 may differ). ` +
          `Create a session for the new shape.`,
      );
  }
  for (const [name, folded] of decidedBy) {
    const fed = feeds[name];
    if (fed && !sameTensor(fed, folded))
      throw new FoldedInputChangedError(
        `input "${name}" decides control flow (If conditions or loop counts) and this gradient session was ` +
          `built for ${name} = ${describeValue(folded)}; it was run with ${describeValue(fed)}. ` +
          `Create a session for the new value.`,
      );
  }
}
