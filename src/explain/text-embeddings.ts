/**
 * The embeddings a transformer's attributions are taken at: word, position and token-type
 * lookups, found in the graph as Gathers from 2-D embedding tables, and a rewrite of the model
 * whose one float input replaces the chosen lookups (several kinds side by side on the last
 * axis), so Integrated Gradients and Integrated Hessians attribute to them as to any input.
 *
 * Baselines follow transformers-interpret and Captum's BERT tutorial: the word baseline is the
 * embedding of the baseline ids ([CLS]/[SEP] kept, every other token [PAD]); the position and
 * token-type baselines are the embeddings of id 0 at every token.
 */
import { PathlensError } from "../errors.js";
import { producerMap, pruneGraph } from "../onnx/graph.js";
import { cloneModel, makeNode, makeValueInfo, tensorFromProto, tensorToProto } from "../onnx/model.js";
import type { ModelProto, NodeProto, TensorProto } from "../onnx/types.js";
import { int64 } from "../tensor/tensor.js";

/** An embedding lookup the attributions can be taken at. */
export type EmbeddingKind = "word" | "position" | "token-type";

/** What to attribute to: one kind, or all three (summed per token). */
export type EmbeddingChoice = EmbeddingKind | "all";

/** Every embedding choice, as the CLI spells them. */
export const EMBEDDING_CHOICES: readonly EmbeddingChoice[] = ["word", "position", "token-type", "all"];

/** The model has no lookup of the asked kind (or several that cannot be told apart). */
export class EmbeddingNotFoundError extends PathlensError {
  override name = "EmbeddingNotFoundError";
}

/** One embedding lookup of the graph. */
export interface EmbeddingLookup {
  kind: EmbeddingKind;
  /** The Gather node's name and output tensor. */
  node: string;
  output: string;
  /** The embedding table (an initializer) and its shape. */
  table: string;
  rows: number;
  dim: number;
}

/** Sizes from config.json that tell position and token-type tables apart when names do not. */
export interface EmbeddingHints {
  maxPositions?: number;
  typeVocabSize?: number;
}

/** Ops that carry ids through unchanged (followed back from a Gather's indices). */
const ID_CARRIERS = new Set([
  "Cast",
  "Identity",
  "Reshape",
  "Unsqueeze",
  "Squeeze",
  "Flatten",
  "Expand",
  "Slice",
]);

/** The graph input or constant that a Gather's indices come from. */
function indexSource(indices: string, producers: Map<string, NodeProto>): string {
  let name = indices;
  for (let hop = 0; hop < 16; hop++) {
    const p = producers.get(name);
    if (!p || !ID_CARRIERS.has(p.opType!)) return name;
    name = p.input[0]!;
  }
  return name;
}

function kindOf(
  source: string,
  names: string,
  rows: number,
  hints: EmbeddingHints,
): EmbeddingKind | undefined {
  if (source === "input_ids") return "word";
  if (source === "token_type_ids") return "token-type";
  if (source === "position_ids") return "position";
  if (/position/i.test(names)) return "position";
  if (/token_type|segment/i.test(names)) return "token-type";
  if (/word/i.test(names)) return "word";
  if (hints.typeVocabSize !== undefined && rows === hints.typeVocabSize) return "token-type";
  if (hints.maxPositions !== undefined && rows === hints.maxPositions) return "position";
  return undefined;
}

/** Finds the word, position and token-type lookups of a transformer graph. */
export function findEmbeddings(
  model: ModelProto,
  hints: EmbeddingHints = {},
): Partial<Record<EmbeddingKind, EmbeddingLookup>> {
  const g = model.graph!;
  const inits = new Map<string, TensorProto>(g.initializer.map((t) => [t.name!, t]));
  const producers = producerMap(g);
  const found: Partial<Record<EmbeddingKind, EmbeddingLookup>> = {};
  for (const n of g.node) {
    if (n.opType !== "Gather") continue;
    const table = inits.get(n.input[0]!);
    const axis = n.attribute.find((a) => a.name === "axis");
    if (table?.dims.length !== 2 || (axis && Number(axis.i ?? 0) !== 0)) continue;
    const [rows, dim] = table.dims.map(Number) as [number, number];
    const source = indexSource(n.input[1]!, producers);
    const kind = kindOf(source, `${n.name ?? ""} ${table.name ?? ""}`, rows, hints);
    if (!kind || found[kind]) continue;
    found[kind] = { kind, node: n.name ?? "", output: n.output[0]!, table: table.name!, rows, dim };
  }
  return found;
}

/** The lookups of an embedding choice; throws when the model has none of a needed kind. */
export function embeddingLookups(
  model: ModelProto,
  choice: EmbeddingChoice,
  hints: EmbeddingHints = {},
): EmbeddingLookup[] {
  const found = findEmbeddings(model, hints);
  const kinds: EmbeddingKind[] = choice === "all" ? ["word", "position", "token-type"] : [choice];
  const have = Object.keys(found).join(", ") || "none";
  for (const k of kinds) {
    if (!found[k]) {
      throw new EmbeddingNotFoundError(
        `the model has no ${k} embedding lookup (a Gather from a 2-D table fed by ${k === "word" ? "input_ids" : k === "position" ? "position ids" : "token_type_ids"}); found: ${have}`,
      );
    }
  }
  const list = kinds.map((k) => found[k]!);
  const dims = new Set(list.map((l) => l.dim));
  if (dims.size > 1)
    throw new EmbeddingNotFoundError(
      `the embedding tables have different widths (${list.map((l) => `${l.kind} ${l.dim}`).join(", ")})`,
    );
  return list;
}

/** Name of the float input of {@link embeddingModel}. */
export const EMBEDDINGS_INPUT = "pathlens_embeddings";

/**
 * The model with the lookups replaced by slices of one input [batch, tokens, k·dim]
 * ({@link EMBEDDINGS_INPUT}); inputs nothing reads any more are dropped.
 */
export function embeddingModel(model: ModelProto, lookups: EmbeddingLookup[]): ModelProto {
  const out = cloneModel(model);
  const g = out.graph!;
  const dim = lookups[0]!.dim;
  const replaced = new Set(lookups.map((l) => l.output));
  g.node = g.node.filter((n) => !(n.opType === "Gather" && replaced.has(n.output[0]!)));
  const slices: NodeProto[] = lookups.map((l, k) => {
    const names = ["starts", "ends", "axes"].map((s) => `pathlens_embeddings_${l.kind}_${s}`);
    g.initializer.push(
      tensorToProto(names[0]!, int64([1], [k * dim])),
      tensorToProto(names[1]!, int64([1], [(k + 1) * dim])),
      tensorToProto(names[2]!, int64([1], [-1])),
    );
    return makeNode("Slice", [EMBEDDINGS_INPUT, ...names], [l.output], `pathlens_embeddings_${l.kind}`);
  });
  g.node.unshift(...slices);
  g.input.push(makeValueInfo(EMBEDDINGS_INPUT, 1, ["batch", "tokens", lookups.length * dim]));
  pruneGraph(g);
  return out;
}

/** The model with the lookups' outputs as its outputs (to read the embeddings of an input). */
export function lookupModel(model: ModelProto, lookups: EmbeddingLookup[]): ModelProto {
  const out = cloneModel(model);
  out.graph!.output = lookups.map((l) => makeValueInfo(l.output, 1));
  pruneGraph(out.graph!);
  return out;
}

/** Rows of an embedding table (float32). */
export function tableRows(model: ModelProto, lookup: EmbeddingLookup, rows: number[]): Float32Array {
  const init = model.graph!.initializer.find((t) => t.name === lookup.table)!;
  const t = tensorFromProto(init);
  if (t.dtype !== "float32" && t.dtype !== "float64") {
    throw new EmbeddingNotFoundError(`embedding table "${lookup.table}" holds ${t.dtype} values`);
  }
  const out = new Float32Array(rows.length * lookup.dim);
  rows.forEach((r, i) => {
    if (!(r >= 0 && r < lookup.rows))
      throw new EmbeddingNotFoundError(
        `id ${r} is outside the ${lookup.kind} embedding table (${lookup.rows} rows)`,
      );
    for (let j = 0; j < lookup.dim; j++) out[i * lookup.dim + j] = Number(t.data[r * lookup.dim + j]);
  });
  return out;
}

/**
 * Interleaves per-kind embeddings [tokens, dim] into one row [tokens, k·dim] as
 * {@link embeddingModel} takes them.
 */
export function sideBySide(parts: Float32Array[], tokens: number, dim: number): Float32Array {
  const k = parts.length;
  const out = new Float32Array(tokens * k * dim);
  for (let t = 0; t < tokens; t++)
    parts.forEach((p, s) => out.set(p.subarray(t * dim, (t + 1) * dim), (t * k + s) * dim));
  return out;
}
