/**
 * onnxruntime's NCHWc ops (domain com.microsoft.nchwc), written by its level-"all" optimizer:
 * ReorderInput/ReorderOutput around Conv, MaxPool, AveragePool and global pools that read and
 * write channel-blocked tensors. Semantics from onnxruntime's nchwc_schema_defs.cc,
 * contrib_ops/cpu/nchwc_ops.cc and MLAS (reorder.cpp, snchwc.cpp).
 *
 * An NCHWc tensor is declared [N, Cp, H, W] (Cp: channels rounded up to the block size) and
 * stored as [N, Cp/b, H, W, b]. Every op that reads it either is one of these or is elementwise
 * on identically blocked operands, so the rewrite keeps the *logical* view: an NCHWc tensor
 * becomes the plain NCHW tensor with its channels zero-padded to Cp. ReorderInput is then a Pad,
 * ReorderOutput a Slice, the pools are the standard pools, Upsample is Resize, and an NCHWc Conv
 * is a standard Conv
 * whose weights are un-blocked once here — the decomposed graph is an ordinary NCHW graph.
 * Only the weights depend on the block size b of the CPU that wrote the graph
 * ({@link DecomposeHints.nchwcBlockSize}).
 */
import {
  attrFloats,
  attrInt,
  attrInts,
  attrString,
  describeNode,
  ModelStructureError,
} from "../../onnx/model.js";
import { type Tensor, tensor } from "../../tensor/tensor.js";
import type { DecomposeContext, Decomposition } from "../decompose.js";
import { activate } from "./contrib.js";
import { CONV_ATTRS, opWithAttrs } from "./quantized.js";

/** The domain of onnxruntime's NCHWc kernels. */
export const NCHWC_DOMAIN = "com.microsoft.nchwc";

/** The NCHWc block size the graph was written for, or a clear error. */
function blockSize(ctx: DecomposeContext): number {
  const b = ctx.hints.nchwcBlockSize;
  if (b === undefined || !Number.isInteger(b) || b <= 0)
    throw new ModelStructureError(
      `${describeNode(ctx.node)}: an onnxruntime NCHWc (level "all") graph, but the NCHWc block size of the machine that wrote it is not known`,
    );
  return b;
}

/** Dims of input/output tensor `name` from the shape probe. */
function dimsOf(ctx: DecomposeContext, name: string): number[] {
  const dims = ctx.shapes?.get(name)?.dims;
  if (dims?.length !== 4)
    throw new ModelStructureError(
      `${describeNode(ctx.node)}: the 4-d shape of "${name}" is unknown (NCHWc ops are 2-d convolutions and pools)`,
    );
  return dims;
}

/** ReorderInput: NCHW (or NHWC) → NCHWc, i.e. channels zero-padded to the output's Cp. */
const reorderInput: Decomposition = {
  opTypes: ["ReorderInput"],
  domain: NCHWC_DOMAIN,
  needsShapes: true,
  decompose(ctx) {
    const { b } = ctx;
    const channelsLast = attrInt(ctx.node, "channels_last", 0) !== 0;
    const x = channelsLast ? b.op("Transpose", [ctx.x(0)], { perm: [0, 3, 1, 2] }) : ctx.x(0);
    const c = dimsOf(ctx, ctx.x(0))[channelsLast ? 3 : 1]!;
    const cp = dimsOf(ctx, ctx.y(0))[1]!;
    if (cp === c) return [b.op("Identity", [x])];
    const pads = [0, 0, 0, 0, 0, cp - c, 0, 0];
    return [ctx.opset >= 11 ? b.op("Pad", [x, b.int64s(pads)]) : b.op("Pad", [x], { pads })];
  },
};

/** ReorderOutput: NCHWc → NCHW (or NHWC) with the first `channels` channels. */
const reorderOutput: Decomposition = {
  opTypes: ["ReorderOutput"],
  domain: NCHWC_DOMAIN,
  decompose(ctx) {
    const { b } = ctx;
    const channels = attrInt(ctx.node, "channels", 0);
    if (channels <= 0)
      throw new ModelStructureError(`${describeNode(ctx.node)}: attribute "channels" must be positive`);
    const y = b.slice(ctx.x(0), [0], [channels], [1]);
    const last = attrInt(ctx.node, "channels_last", 0) !== 0;
    return [last ? b.op("Transpose", [y], { perm: [0, 2, 3, 1] }) : y];
  },
};

/**
 * The OIHW filter of an NCHWc Conv's stored filter (dims [Op, I, kh, kw]). MLAS stores it
 * OIHWBiBo ([Op/b][I/b][kh][kw][bi][bo]) when the input is blocked, OIHWBo ([Op/b][I][kh][kw][bo])
 * when it is plain NCHW or the conv is depthwise (MlasReorderFilterOIHWBiBo / …OIHWBo).
 */
export function unblockFilter(w: Tensor, block: number, blockedInput: boolean): Tensor {
  const [op, ic, kh, kw] = w.dims as [number, number, number, number];
  const src = w.data as Float32Array;
  const out = new Float32Array(src.length);
  const k = kh * kw;
  for (let o = 0; o < op; o++)
    for (let i = 0; i < ic; i++)
      for (let s = 0; s < k; s++) {
        const ob = Math.floor(o / block);
        const at = blockedInput
          ? (((ob * (ic / block) + Math.floor(i / block)) * k + s) * block + (i % block)) * block +
            (o % block)
          : ((ob * ic + i) * k + s) * block + (o % block);
        out[(o * ic + i) * k + s] = src[at]!;
      }
  return tensor("float32", w.dims, out);
}

/** Conv(X, W, B, Sum) on NCHWc tensors: activation(conv + B + Sum), MLAS's fused activation. */
const conv: Decomposition = {
  opTypes: ["Conv"],
  domain: NCHWC_DOMAIN,
  decompose(ctx) {
    const { b, node } = ctx;
    const block = blockSize(ctx);
    const w = ctx.constant(1);
    if (w?.dtype !== "float32" || w.dims.length !== 4)
      throw new ModelStructureError(
        `${describeNode(node)}: the filter "${ctx.x(1)}" must be a constant 4-d float32 tensor (onnxruntime writes it so)`,
      );
    const [op, ic] = w.dims as [number, number];
    const group = attrInt(node, "group", 1);
    // MLAS: a blocked input unless a group has fewer channels than a block (then NCHW input),
    // except depthwise (one channel per group) which reads blocked input with an OIHWBo filter.
    const depthwise = group > 1 && ic === 1;
    const blockedFilter = !depthwise && ic >= block;
    if (op % block !== 0 || (blockedFilter && ic % block !== 0))
      throw new ModelStructureError(
        `${describeNode(node)}: filter dims [${w.dims.join(", ")}] are not aligned to the NCHWc block size ${block}; the graph was written on a machine with another block size`,
      );
    const filter = b.constant(unblockFilter(w, block, blockedFilter), "nchwc_filter");
    const inputs = [ctx.x(0), filter];
    if (ctx.x(2)) inputs.push(ctx.x(2));
    let y = opWithAttrs(b, "Conv", inputs, node, CONV_ATTRS);
    if (ctx.x(3)) y = b.op("Add", [y, ctx.x(3)]);
    return [activate(ctx, y, attrString(node, "activation"), attrFloats(node, "activation_params") ?? [])];
  },
};

/** Pool attributes that are not their defaults (AveragePool takes dilations only at opset 19). */
const POOL_ATTRS = ["auto_pad", "kernel_shape", "pads", "strides", "ceil_mode"] as const;

/** MaxPool / AveragePool on NCHWc: the standard pool on the padded channels. */
const pool: Decomposition = {
  opTypes: ["MaxPool", "AveragePool"],
  domain: NCHWC_DOMAIN,
  decompose(ctx) {
    const { node } = ctx;
    const names: string[] = [...POOL_ATTRS];
    const dilated = (attrInts(node, "dilations") ?? []).some((d) => d !== 1);
    if (dilated) {
      if (node.opType === "AveragePool" && ctx.opset < 19)
        throw new ModelStructureError(`${describeNode(node)}: a dilated AveragePool needs opset ≥ 19`);
      names.push("dilations");
    }
    if (node.opType === "AveragePool") names.push("count_include_pad");
    if (node.opType === "MaxPool" && attrInt(node, "storage_order", 0) !== 0) names.push("storage_order");
    return [opWithAttrs(ctx.b, node.opType!, [ctx.x(0)], node, names)];
  },
};

/** GlobalMaxPool / GlobalAveragePool on NCHWc: the standard global pool. */
const globalPool: Decomposition = {
  opTypes: ["GlobalMaxPool", "GlobalAveragePool"],
  domain: NCHWC_DOMAIN,
  decompose: (ctx) => [ctx.b.op(ctx.node.opType!, [ctx.x(0)])],
};

/**
 * Upsample on NCHWc by integer `scales` on H and W: "nearest" replicates each pixel (whatever the
 * coordinate mode: MlasNchwcUpsampleNearest), "linear" interpolates at the kernel's source
 * coordinates — asymmetric o/s, align_corners, or half_pixel clamped at 0 — which are Resize's.
 */
const upsample: Decomposition = {
  opTypes: ["Upsample"],
  domain: NCHWC_DOMAIN,
  decompose(ctx) {
    const { b, node } = ctx;
    const scales = attrInts(node, "scales") ?? [];
    if (scales.length !== 4 || scales[0] !== 1 || scales[1] !== 1 || scales.some((v) => v < 1))
      throw new ModelStructureError(
        `${describeNode(node)}: attribute "scales" [${scales.join(", ")}] must be [1, 1, sh, sw] with positive integers`,
      );
    if (ctx.opset < 11)
      throw new ModelStructureError(`${describeNode(node)}: rewriting it as Resize needs opset ≥ 11`);
    const mode = attrString(node, "mode", "nearest");
    const transform = attrString(node, "coordinate_transformation_mode", "asymmetric");
    if (mode !== "nearest" && mode !== "linear")
      throw new ModelStructureError(`${describeNode(node)}: mode "${mode}" is not nearest or linear`);
    if (mode === "linear" && !["asymmetric", "align_corners", "half_pixel"].includes(transform))
      throw new ModelStructureError(
        `${describeNode(node)}: coordinate_transformation_mode "${transform}" is not one onnxruntime's kernel has`,
      );
    const scaleTensor = b.constant(tensor("float32", [4], Float32Array.from(scales)), "scales");
    const attrs =
      mode === "nearest"
        ? { mode, coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" }
        : { mode, coordinate_transformation_mode: transform };
    return [b.op("Resize", [ctx.x(0), "", scaleTensor], attrs)];
  },
};

/** Every NCHWc op onnxruntime writes (nchwc_schema_defs.cc). */
export const nchwcDecompositions: readonly Decomposition[] = [
  reorderInput,
  reorderOutput,
  conv,
  pool,
  globalPool,
  upsample,
];
