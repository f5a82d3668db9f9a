/**
 * The float values of quantized tensors, for the quantized decompositions (quantized.ts,
 * quantized-ops.ts): what an integer tensor "is" in the dequantized network — a constant's
 * values, the float a rewritten op recorded in its node metadata, a QuantizeLinear's clipped
 * units, a layout op applied to such values — and dequantize / requantize built on that.
 */
import { attrInt, describeNode, ModelStructureError, tensorFromProto } from "../../onnx/model.js";
import type { NodeProto } from "../../onnx/types.js";
import { type DType, type Tensor, tensor } from "../../tensor/tensor.js";
import type { GraphBuilder } from "../builder.js";
import type { DecomposeContext } from "../decompose.js";

/** Metadata key naming the float tensor whose (unrounded) value an integer output carries. */
export const FLOAT_VALUE_KEY = "pathlens.float_value";

/** Quantized element types pathlens reads, with their ranges. */
const RANGES: Partial<Record<DType, [number, number]>> = {
  uint8: [0, 255],
  int8: [-128, 127],
  int32: [-2147483648, 2147483647],
};

/** The quantization range of an integer dtype; a clear error for others. */
export function rangeOf(dtype: DType, node: NodeProto): [number, number] {
  const r = RANGES[dtype];
  if (!r) throw new ModelStructureError(`${describeNode(node)}: quantized type ${dtype} is not supported`);
  return r;
}

/** Marks the node that last emitted `integer` as carrying the float value `value`. */
export function markFloatValue(b: GraphBuilder, integer: string, value: string): void {
  const n = [...b.nodes].reverse().find((m) => m.output.includes(integer));
  if (!n) throw new ModelStructureError(`internal: no emitted node produces ${integer}`);
  n.metadataProps.push({ key: FLOAT_VALUE_KEY, value });
}

/** Integer element types a Cast between quantized values may name (ONNX codes → dtype). */
const INTEGER_CODES: Record<number, DType> = { 2: "uint8", 3: "int8", 6: "int32" };

/**
 * The producer of `name`, looking through Identity copies and through Casts to an integer type
 * (torch's QDQ export casts QuantizeLinear's uint8 output to uint8); `castTo` lists those types.
 */
export function realProducer(
  ctx: Pick<DecomposeContext, "producer">,
  name: string,
  castTo: DType[] = [],
): NodeProto | undefined {
  let p = ctx.producer(name);
  for (let k = 0; p && k < 64; k++) {
    const cast = p.opType === "Cast" ? INTEGER_CODES[attrInt(p, "to") ?? -1] : undefined;
    if ((p.domain ?? "") !== "" || (p.opType !== "Identity" && !cast)) return p;
    if (p.metadataProps.some((m) => m.key === FLOAT_VALUE_KEY)) return p;
    if (cast) castTo.push(cast);
    const next = ctx.producer(p.input[0] ?? "");
    if (!next) return p;
    p = next;
  }
  return p;
}

/**
 * The value of `name` when it is a constant or computed from constants by ConstantOfShape and
 * Cast (torch's QDQ export builds bias zero points that way).
 */
export function foldedConstant(ctx: DecomposeContext, name: string): Tensor | undefined {
  if (!name) return undefined;
  const c = ctx.constantOf(name);
  if (c) return c;
  const p = ctx.producer(name);
  if (!p || (p.domain ?? "") !== "") return undefined;
  if (p.opType === "Cast") {
    const src = foldedConstant(ctx, p.input[0] ?? "");
    const to = INTEGER_CODES[attrInt(p, "to") ?? -1] ?? (attrInt(p, "to") === 1 ? "float32" : undefined);
    if (!src || !to) return undefined;
    return castConstant(src, to);
  }
  if (p.opType === "ConstantOfShape") {
    const shape = foldedConstant(ctx, p.input[0] ?? "");
    if (!shape) return undefined;
    const dims = Array.from(shape.data as ArrayLike<number | bigint>, Number);
    const valueAttr = p.attribute.find((a) => a.name === "value")?.t;
    const value = valueAttr ? tensorFromProto(valueAttr) : tensor("float32", [1], Float32Array.of(0));
    const n = dims.reduce((a, b) => a * b, 1);
    const v = Number(value.data[0] ?? 0);
    return castConstant(tensor("float32", dims, new Float32Array(n).fill(v)), value.dtype);
  }
  return undefined;
}

function castConstant(t: Tensor, to: DType): Tensor | undefined {
  const values = Array.from(t.data as ArrayLike<number | bigint>, Number);
  switch (to) {
    case "float32":
      return tensor("float32", t.dims, Float32Array.from(values));
    case "int32":
      return tensor("int32", t.dims, Int32Array.from(values));
    case "int8":
      return tensor("int8", t.dims, Int8Array.from(values));
    case "uint8":
      return tensor("uint8", t.dims, Uint8Array.from(values));
    case "int64":
      return tensor(
        "int64",
        t.dims,
        BigInt64Array.from(values, (v) => BigInt(v)),
      );
    default:
      return undefined;
  }
}

export function isQuantizeLinear(n: NodeProto | undefined): n is NodeProto {
  return !!n && n.opType === "QuantizeLinear" && ["", "ai.onnx", "com.microsoft"].includes(n.domain ?? "");
}

/** A float32 tensor holding `t`'s values (integer or float). */
export function asFloat32(t: Tensor): Tensor<"float32"> {
  return tensor("float32", t.dims, Float32Array.from(t.data as ArrayLike<number | bigint>, Number));
}

/** Per-tensor (scalar or 1-element) or per-axis scale/zero point. */
function isScalar(t: Tensor | undefined): boolean {
  return !t || t.data.length === 1;
}

/** Reshapes a 1-D per-axis vector to broadcast along `axis` of a rank-`rank` tensor. */
export function alongAxis(t: Tensor, axis: number, rank: number): Tensor {
  if (t.data.length === 1 || t.dims.length === 0) return tensor(t.dtype, [], t.data);
  const a = axis < 0 ? axis + rank : axis;
  const dims = Array.from({ length: rank - a }, (_, i) => (i === 0 ? t.data.length : 1));
  return tensor(t.dtype, dims, t.data);
}

/**
 * Dequantizes a constant: (q − zero_point) · scale along `axis`, in float32 (block-wise
 * quantization is refused by name).
 */
export function dequantizeConstant(
  node: NodeProto,
  q: Tensor,
  scale: Tensor,
  zp: Tensor | undefined,
  axis: number,
): Tensor<"float32"> {
  if ((attrInt(node, "block_size") ?? 0) !== 0)
    throw new ModelStructureError(
      `${describeNode(node)}: block-wise quantization (block_size) is not supported`,
    );
  const rank = q.dims.length;
  const a = axis < 0 ? axis + rank : axis;
  const inner = q.dims.slice(a + 1).reduce((x, y) => x * y, 1);
  const len = q.dims[a] ?? 1;
  const out = new Float32Array(q.data.length);
  const qd = q.data as ArrayLike<number | bigint>;
  const sd = scale.data as ArrayLike<number>;
  const zd = zp?.data as ArrayLike<number | bigint> | undefined;
  const perAxis = !isScalar(scale) || !isScalar(zp);
  for (let i = 0; i < out.length; i++) {
    const c = perAxis ? Math.floor(i / inner) % len : 0;
    const s = Number(sd[sd.length === 1 ? 0 : c]);
    const z = zd ? Number(zd[zd.length === 1 ? 0 : c]) : 0;
    out[i] = (Number(qd[i]) - z) * s;
  }
  return tensor("float32", q.dims, out);
}

/** Rank of a tensor from the probe, when the caller probed; a clear error otherwise. */
function rankOf(ctx: DecomposeContext, name: string, why: string): number {
  const info = ctx.shapes?.get(name);
  if (!info)
    throw new ModelStructureError(
      `${describeNode(ctx.node)}: ${why} needs the rank of "${name}", which is unknown`,
    );
  return info.dims.length;
}

/**
 * The float value (unrounded, in quantized units) of the integer tensor `name`: a constant's
 * values, the float a rewritten op recorded, a QuantizeLinear's x/scale + zero_point clipped to
 * its range, or (for a true integer input) a Cast.
 */
export function integerAsFloat(ctx: DecomposeContext, name: string): string {
  const { b } = ctx;
  const casts: DType[] = [];
  const p = realProducer(ctx, name, casts);
  const shadow = p?.metadataProps.find((m) => m.key === FLOAT_VALUE_KEY)?.value;
  if (shadow && casts.length === 0) return shadow;
  if (isQuantizeLinear(p)) {
    const type = ctx.constantOf(p.input[2] ?? "")?.dtype ?? "uint8";
    // a Cast that changes the integer type would wrap values: not the pair's float value
    if (casts.every((c) => c === type)) return quantizeUnits(ctx, p);
  }
  const c = foldedConstant(ctx, name);
  if (c) return b.constant(asFloat32(c), "qconst");
  if (
    p &&
    casts.length === 0 &&
    (p.domain ?? "") === "" &&
    LAYOUT_OPS[p.opType ?? ""] &&
    p.output[0] === name
  )
    return mirrorLayoutOp(ctx, p);
  return b.op("Cast", [name], { to: 1 });
}

/**
 * Ops that move quantized values without changing them (onnxruntime's optimizer leaves them on
 * the uint8 path between QLinear ops), with the inputs that carry values (others are shapes,
 * indices, axes).
 */
const LAYOUT_OPS: Record<string, "first" | "all"> = {
  Flatten: "first",
  Reshape: "first",
  Transpose: "first",
  Squeeze: "first",
  Unsqueeze: "first",
  Slice: "first",
  Expand: "first",
  Tile: "first",
  Gather: "first",
  MaxPool: "first",
  DepthToSpace: "first",
  SpaceToDepth: "first",
  Concat: "all",
};

/** The same layout op applied to the float values of its quantized inputs. */
function mirrorLayoutOp(ctx: DecomposeContext, p: NodeProto): string {
  const all = LAYOUT_OPS[p.opType ?? ""] === "all";
  const inputs = p.input.map((x, i) => (x && (all || i === 0) ? integerAsFloat(ctx, x) : x));
  const y = ctx.b.op(p.opType!, inputs);
  const n = ctx.b.nodes[ctx.b.nodes.length - 1]!;
  n.attribute = p.attribute.map((a) => ({ ...a }));
  return y;
}

/** clip(x / scale + zero_point, qmin, qmax) for a QuantizeLinear node `q` (its float units). */
function quantizeUnits(ctx: DecomposeContext, q: NodeProto): string {
  const { b } = ctx;
  const scale = ctx.constantOf(q.input[1] ?? "");
  const zp = ctx.constantOf(q.input[2] ?? "");
  if (!scale)
    throw new ModelStructureError(`${describeNode(q)}: a scale computed at run time is not supported`);
  if (q.input[2] && !zp)
    throw new ModelStructureError(`${describeNode(q)}: a zero point computed at run time is not supported`);
  const [lo, hi] = rangeOf(zp?.dtype ?? "uint8", q);
  const perAxis = !isScalar(scale) || !isScalar(zp);
  const rank = perAxis ? rankOf(ctx, q.input[0]!, "per-axis quantization of an activation") : 0;
  const axis = attrInt(q, "axis", 1);
  const s = b.constant(alongAxis(asFloat32(scale), axis, rank), "qscale");
  let u = b.op("Div", [q.input[0]!, s]);
  if (zp) u = b.op("Add", [u, b.constant(alongAxis(asFloat32(zp), axis, rank), "qzp")]);
  return clamp(b, u, lo, hi);
}

/** min(max(x, lo), hi) with float32 scalar bounds (valid at every opset). */
export function clamp(b: GraphBuilder, x: string, lo: number, hi: number): string {
  const low = b.constant(tensor("float32", [], Float32Array.of(lo)), "qmin");
  const high = b.constant(tensor("float32", [], Float32Array.of(hi)), "qmax");
  return b.op("Min", [b.op("Max", [x, low]), high]);
}

/**
 * Dequantizes input `x` with scale and zero point given as tensor names (any of them may be
 * constants); per-axis along `axis`. Returns a float32 tensor name.
 */
export function dequantize(ctx: DecomposeContext, x: string, scale: string, zp: string, axis = 1): string {
  const { b } = ctx;
  const sc = foldedConstant(ctx, scale);
  const zc = foldedConstant(ctx, zp);
  const xc = foldedConstant(ctx, x);
  if (xc && sc && (zc || !zp))
    return b.constant(dequantizeConstant(ctx.node, xc, sc, zc, axis), "dequantized");
  const perAxis = (sc && !isScalar(sc)) || (zc && !isScalar(zc));
  const rank = perAxis ? rankOf(ctx, x, "per-axis dequantization of an activation") : 0;
  const units = integerAsFloat(ctx, x);
  let centered = units;
  if (zp) {
    const z = zc ? b.constant(alongAxis(asFloat32(zc), axis, rank), "qzp") : integerAsFloat(ctx, zp);
    centered = b.op("Sub", [units, z]);
  }
  const s = sc ? b.constant(alongAxis(asFloat32(sc), axis, rank), "qscale") : scale;
  return b.op("Mul", [centered, s]);
}

/**
 * Quantizes float `y` with scale/zero point tensor names (for a rewritten QLinear op's output):
 * a real QuantizeLinear, so other readers get the integers the model computes; rewritten readers
 * see it as a QuantizeLinear and take its unrounded units.
 */
export function requantize(ctx: DecomposeContext, y: string, scale: string, zp: string): string {
  return ctx.b.op("QuantizeLinear", zp ? [y, scale, zp] : [y, scale]);
}
