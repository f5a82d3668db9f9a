/**
 * onnxruntime's transformer contrib ops (com.microsoft Attention, MultiHeadAttention,
 * EmbedLayerNormalization, RotaryEmbedding) rewritten into standard ONNX ops: projections,
 * per-head reshapes, scaled dot products, additive masks, softmax. Semantics from onnxruntime's
 * docs/ContribOperators.md and CPU kernels; checked against onnxruntime in contrib.test.ts.
 * Key/value caches (past inputs, shared buffers), packed QKV layouts and rotary inside Attention
 * are refused by name: explaining a model runs it on whole sequences.
 */
import { attrFloat, attrInt, attrInts, describeNode, ModelStructureError } from "../../onnx/model.js";
import { tensor } from "../../tensor/tensor.js";
import type { GraphBuilder } from "../builder.js";
import type { DecomposeContext, Decomposition } from "../decompose.js";
import { refuseAttrs } from "./contrib.js";

const MS = "com.microsoft";

function f32(b: GraphBuilder, v: number): string {
  return b.constant(tensor("float32", [], Float32Array.of(v)), "c");
}

/** Static dims of input i (constant or probe). */
function dimsOf(ctx: DecomposeContext, i: number): number[] {
  const d = ctx.constant(i)?.dims ?? ctx.shapes?.get(ctx.x(i))?.dims;
  if (!d) throw new ModelStructureError(`${describeNode(ctx.node)}: the shape of input ${i} is unknown`);
  return [...d];
}

/** [B, S, N·H] → [B, N, S, H]. */
function splitHeads(b: GraphBuilder, x: string, heads: number): string {
  const r = b.op("Reshape", [x, b.int64s([0, 0, heads, -1])]);
  return b.op("Transpose", [r], { perm: [0, 2, 1, 3] });
}

/** [B, N, S, H] → [B, S, N·H]. */
function mergeHeads(b: GraphBuilder, x: string): string {
  const t = b.op("Transpose", [x], { perm: [0, 2, 1, 3] });
  return b.op("Reshape", [t, b.int64s([0, 0, -1])]);
}

/** Runtime length of axis `axis` of x, as a 1-element int64 tensor. */
function lengthOf(b: GraphBuilder, x: string, axis: number): string {
  return b.slice(b.shape(x), [axis], [axis + 1], [0]);
}

/** 0, 1, …, n−1 (int64) for a runtime 1-element length n. */
function arange(b: GraphBuilder, n: string): string {
  return b.op("Range", [b.int64Scalar(0), b.squeeze(n, [0]), b.int64Scalar(1)]);
}

/**
 * The additive mask (0 where attended, `fill` where masked), broadcastable to [B, N, S, T], from a
 * key padding mask: raw (B, T) or (B, S, T) with 0 = masked, or right-padding lengths (B).
 */
function paddingMask(ctx: DecomposeContext, mask: string, k: string, fill: number): string {
  const { b } = ctx;
  const rank = ctx.shapes?.get(mask)?.dims.length;
  if (rank === 2 || rank === 3) {
    const masked = b.op("Cast", [b.op("Equal", [mask, b.constant(tensor("int32", [], Int32Array.of(0)))])], {
      to: 1,
    });
    const additive = b.op("Mul", [masked, f32(b, fill)]);
    return b.unsqueeze(additive, rank === 2 ? [1, 2] : [1]);
  }
  if (rank === 1 && ctx.shapes!.get(mask)!.dims[0] === ctx.shapes!.get(ctx.x(0))?.dims[0]) {
    const t = arange(b, lengthOf(b, k, 2));
    const lengths = b.unsqueeze(b.op("Cast", [mask], { to: 7 }), [1]);
    const beyond = b.op("Cast", [b.op("Not", [b.op("Less", [t, lengths])])], { to: 1 });
    return b.unsqueeze(b.op("Mul", [beyond, f32(b, fill)]), [1, 2]);
  }
  throw new ModelStructureError(
    `${describeNode(ctx.node)}: mask "${mask}" of shape [${ctx.shapes?.get(mask)?.dims.join(", ") ?? "?"}] ` +
      "is not supported (raw (B, T) / (B, S, T) masks and (B) right-padding lengths are)",
  );
}

/** `fill` above the diagonal (key position > query position): [S, T]. */
function causalMask(b: GraphBuilder, q: string, k: string, fill: number): string {
  const i = b.unsqueeze(arange(b, lengthOf(b, q, 2)), [1]);
  const j = b.unsqueeze(arange(b, lengthOf(b, k, 2)), [0]);
  return b.op("Mul", [b.op("Cast", [b.op("Greater", [j, i])], { to: 1 }), f32(b, fill)]);
}

interface AttentionParts {
  q: string;
  k: string;
  v: string;
  /** Softmax scale (default 1/√head_size). */
  scale: number;
  mask?: string;
  attentionBias?: string;
  unidirectional: boolean;
  fill: number;
}

/** softmax(q·kᵀ·scale + masks)·v on [B, N, S, H] heads. */
function scaledDotProduct(ctx: DecomposeContext, p: AttentionParts): string {
  const { b } = ctx;
  const kt = b.op("Transpose", [p.k], { perm: [0, 1, 3, 2] });
  let scores = b.op("Mul", [b.op("MatMul", [p.q, kt]), f32(b, p.scale)]);
  if (p.mask) scores = b.op("Add", [scores, paddingMask(ctx, p.mask, p.k, p.fill)]);
  if (p.unidirectional) scores = b.op("Add", [scores, causalMask(b, p.q, p.k, p.fill)]);
  if (p.attentionBias) scores = b.op("Add", [scores, p.attentionBias]);
  return b.op("MatMul", [b.op("Softmax", [scores], { axis: -1 }), p.v]);
}

/** Slices [from, to) of the last axis. */
function lastAxis(b: GraphBuilder, x: string, from: number, to: number): string {
  return b.slice(x, [from], [to], [-1]);
}

/**
 * Attention(input, weights, bias, mask_index, past, attention_bias): QKV projection with merged
 * weights, num_heads heads, optional causal mask; output 1 (present) = stack(K, V).
 */
const attention: Decomposition = {
  opTypes: ["Attention"],
  domain: MS,
  needsShapes: true,
  decompose(ctx) {
    const { b, node } = ctx;
    refuseAttrs(node, {
      "past (key/value cache)": !!ctx.x(4),
      past_sequence_length: !!ctx.x(6),
      do_rotary: attrInt(node, "do_rotary", 0) !== 0,
      past_present_share_buffer: attrInt(node, "past_present_share_buffer", 0) !== 0,
    });
    const heads = attrInt(node, "num_heads");
    if (!heads) throw new ModelStructureError(`${describeNode(node)}: attribute num_heads is required`);
    const total = dimsOf(ctx, 1)[1]!;
    const sizes = attrInts(node, "qkv_hidden_sizes") ?? [total / 3, total / 3, total / 3];
    const [dq, dk] = [sizes[0]!, sizes[1]!];
    let qkv = b.op("MatMul", [ctx.x(0), ctx.x(1)]);
    if (ctx.x(2)) qkv = b.op("Add", [qkv, ctx.x(2)]);
    const q = splitHeads(b, lastAxis(b, qkv, 0, dq), heads);
    const k = splitHeads(b, lastAxis(b, qkv, dq, dq + dk), heads);
    const v = splitHeads(b, lastAxis(b, qkv, dq + dk, total), heads);
    const out = scaledDotProduct(ctx, {
      q,
      k,
      v,
      scale: attrFloat(node, "scale", 1 / Math.sqrt(dq / heads)),
      mask: ctx.x(3) || undefined,
      attentionBias: ctx.x(5) || undefined,
      unidirectional: attrInt(node, "unidirectional", 0) === 1,
      fill: attrFloat(node, "mask_filter_value", -10000),
    });
    const present = ctx.y(1)
      ? b.op("Concat", [b.unsqueeze(k, [0]), b.unsqueeze(v, [0])], { axis: 0 })
      : undefined;
    return [mergeHeads(b, out), present];
  },
};

/**
 * MultiHeadAttention(query, key, value, bias, key_padding_mask, attention_bias): separate Q, K, V
 * of shape (B, S, hidden) with an optional merged bias; outputs, present_key, present_value.
 */
const multiHeadAttention: Decomposition = {
  opTypes: ["MultiHeadAttention"],
  domain: MS,
  needsShapes: true,
  decompose(ctx) {
    const { b, node } = ctx;
    const q3 = dimsOf(ctx, 0).length === 3;
    refuseAttrs(node, {
      "packed QKV (query of rank 5) or a missing key/value": !q3 || !ctx.x(1) || !ctx.x(2),
      "key/value of rank 4 (past-state layout)": !!ctx.x(1) && dimsOf(ctx, 1).length !== 3,
      "past_key / past_value (key/value cache)": !!ctx.x(6) || !!ctx.x(7),
      "past_sequence_length / cache_indirection": !!ctx.x(8) || !!ctx.x(9),
      "output qk": !!ctx.y(3),
    });
    const heads = attrInt(node, "num_heads");
    if (!heads) throw new ModelStructureError(`${describeNode(node)}: attribute num_heads is required`);
    const [dq, dk, dv] = [dimsOf(ctx, 0)[2]!, dimsOf(ctx, 1)[2]!, dimsOf(ctx, 2)[2]!];
    const project = (i: number, from: number, to: number) =>
      ctx.x(3) ? b.op("Add", [ctx.x(i), b.slice(ctx.x(3), [from], [to], [0])]) : ctx.x(i);
    const q = splitHeads(b, project(0, 0, dq), heads);
    const k = splitHeads(b, project(1, dq, dq + dk), heads);
    const v = splitHeads(b, project(2, dq + dk, dq + dk + dv), heads);
    const out = scaledDotProduct(ctx, {
      q,
      k,
      v,
      scale: attrFloat(node, "scale", 1 / Math.sqrt(dq / heads)),
      mask: ctx.x(4) || undefined,
      attentionBias: ctx.x(5) || undefined,
      unidirectional: attrInt(node, "unidirectional", 0) === 1,
      fill: attrFloat(node, "mask_filter_value", -10000),
    });
    return [mergeHeads(b, out), ctx.y(1) ? k : undefined, ctx.y(2) ? v : undefined];
  },
};

/**
 * EmbedLayerNormalization(input_ids, segment_ids, word_embedding, position_embedding,
 * segment_embedding, gamma, beta, mask, position_ids): LayerNorm(word + position (+ segment))
 * with ε default 1e-12; mask_index = number of non-zero mask entries per row; embedding_sum.
 */
const embedLayerNorm: Decomposition = {
  opTypes: ["EmbedLayerNormalization"],
  domain: MS,
  decompose(ctx) {
    const { b, node } = ctx;
    const ids = ctx.x(0);
    let sum = b.op("Gather", [ctx.x(2), ids], { axis: 0 });
    let pos: string;
    if (ctx.x(8)) pos = b.op("Gather", [ctx.x(3), ctx.x(8)], { axis: 0 });
    else pos = b.op("Gather", [ctx.x(3), arange(b, lengthOf(b, ids, 1))], { axis: 0 });
    sum = b.op("Add", [sum, pos]);
    if (ctx.x(1) && ctx.x(4)) sum = b.op("Add", [sum, b.op("Gather", [ctx.x(4), ctx.x(1)], { axis: 0 })]);
    const eps = attrFloat(node, "epsilon", 1e-12);
    const mean = b.reduce("ReduceMean", sum, [-1], true);
    const centered = b.op("Sub", [sum, mean]);
    const variance = b.reduce("ReduceMean", b.op("Mul", [centered, centered]), [-1], true);
    const normalized = b.op("Div", [centered, b.op("Sqrt", [b.op("Add", [variance, f32(b, eps)])])]);
    const y = b.op("Add", [b.op("Mul", [normalized, ctx.x(5)]), ctx.x(6)]);
    let maskIndex: string | undefined;
    if (ctx.y(1)) {
      if (!ctx.x(7))
        throw new ModelStructureError(
          `${describeNode(node)}: output mask_index is used but there is no mask input`,
        );
      const ones = b.op(
        "Cast",
        [b.op("Not", [b.op("Equal", [ctx.x(7), b.constant(tensor("int32", [], Int32Array.of(0)))])])],
        {
          to: 6,
        },
      );
      maskIndex = b.reduceSum(ones, [1], false);
    }
    return [y, maskIndex, sum];
  },
};

/**
 * RotaryEmbedding(input, position_ids, cos_cache, sin_cache): rotates the first
 * rotary_embedding_dim features of every head (halves, or interleaved pairs) by the cached angles
 * at each position; input (B, S, N·H) or (B, N, S, H).
 */
const rotaryEmbedding: Decomposition = {
  opTypes: ["RotaryEmbedding"],
  domain: MS,
  needsShapes: true,
  decompose(ctx) {
    const { b, node } = ctx;
    refuseAttrs(node, {
      is_packed_batching: attrInt(node, "is_packed_batching", 0) !== 0,
      "scale other than 1": attrFloat(node, "scale", 1) !== 1,
    });
    const dims = dimsOf(ctx, 0);
    const half = dimsOf(ctx, 2)[1]!;
    const rot = attrInt(node, "rotary_embedding_dim", 0) || 2 * half;
    let heads = attrInt(node, "num_heads", 0);
    const head = dims.length === 4 ? dims[3]! : heads ? dims[2]! / heads : 2 * half;
    if (!heads) heads = dims.length === 4 ? dims[1]! : dims[2]! / head;
    // [B, S, N, H]
    const x =
      dims.length === 4
        ? b.op("Transpose", [ctx.x(0)], { perm: [0, 2, 1, 3] })
        : b.op("Reshape", [ctx.x(0), b.int64s([0, 0, heads, head])]);
    const posDims = dimsOf(ctx, 1);
    const positions =
      posDims.length === 2
        ? ctx.x(1)
        : b.unsqueeze(b.op("Add", [arange(b, lengthOf(b, x, 1)), ctx.x(1)]), [0]);
    // [B or 1, S, 1, rot/2]
    const cos = b.unsqueeze(b.op("Gather", [ctx.x(2), positions], { axis: 0 }), [2]);
    const sin = b.unsqueeze(b.op("Gather", [ctx.x(3), positions], { axis: 0 }), [2]);
    const r = rot / 2;
    let x1: string;
    let x2: string;
    const interleaved = attrInt(node, "interleaved", 0) === 1;
    const xr = rot < head ? lastAxis(b, x, 0, rot) : x;
    if (interleaved) {
      const pairs = b.op("Reshape", [xr, b.int64s([0, 0, 0, r, 2])]);
      x1 = b.squeeze(lastAxis(b, pairs, 0, 1), [4]);
      x2 = b.squeeze(lastAxis(b, pairs, 1, 2), [4]);
    } else {
      x1 = lastAxis(b, xr, 0, r);
      x2 = lastAxis(b, xr, r, rot);
    }
    const y1 = b.op("Sub", [b.op("Mul", [x1, cos]), b.op("Mul", [x2, sin])]);
    const y2 = b.op("Add", [b.op("Mul", [x2, cos]), b.op("Mul", [x1, sin])]);
    let rotated = interleaved
      ? b.op("Reshape", [
          b.op("Concat", [b.unsqueeze(y1, [4]), b.unsqueeze(y2, [4])], { axis: 4 }),
          b.int64s([0, 0, 0, rot]),
        ])
      : b.op("Concat", [y1, y2], { axis: -1 });
    if (rot < head) rotated = b.op("Concat", [rotated, lastAxis(b, x, rot, head)], { axis: -1 });
    const y =
      dims.length === 4
        ? b.op("Transpose", [rotated], { perm: [0, 2, 1, 3] })
        : b.op("Reshape", [rotated, b.int64s([0, 0, -1])]);
    return [y];
  },
};

/** The transformer contrib ops. */
export const contribAttentionDecompositions: Decomposition[] = [
  attention,
  multiHeadAttention,
  embedLayerNorm,
  rotaryEmbedding,
];
