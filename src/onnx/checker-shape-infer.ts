/**
 * Output shapes of the common ops, for the checker's static shape pass (checker-shapes.ts):
 * what ONNX shape inference computes, restricted to the ops models are mostly made of. Unknown
 * dimensions stay unknown; an op not listed here gives an unknown shape, which stops the checks
 * downstream of it (never a false mismatch).
 */
import type { Dims } from "./checker-shapes.js";
import { attrInt, attrInts, attrString } from "./model.js";
import type { NodeProto } from "./types.js";

/** An inferred output shape, or the mismatch that prevents one. */
export interface ShapeResult {
  shape?: Dims;
  problem?: string;
}

const show = (d: Dims) => `[${d.map((x) => x ?? "?").join(", ")}]`;

/** Element-wise ops whose first output has the first input's shape. */
const SAME_SHAPE = new Set(
  (
    "Relu Tanh Sigmoid Erf Sqrt Neg Exp Log Abs Identity Dropout Cast Softmax LogSoftmax LeakyRelu " +
    "Elu Selu Gelu HardSigmoid HardSwish Softplus Softsign Reciprocal Floor Ceil Round Sign Sin Cos " +
    "Not IsNaN IsInf LayerNormalization BatchNormalization InstanceNormalization LRN Clip CastLike " +
    "Mish ThresholdedRelu Celu PRelu"
  ).split(" "),
);

/** Ops that broadcast all their inputs (numpy rules). */
const BROADCAST = new Set(
  "Add Sub Mul Div Pow Mod Where Equal Less Greater LessOrEqual GreaterOrEqual And Or Xor Max Min Sum Mean BitShift".split(
    " ",
  ),
);

/** Numpy broadcasting of `shapes`; a problem names the two disagreeing inputs. */
function broadcast(n: NodeProto, shapes: (Dims | undefined)[]): ShapeResult {
  if (shapes.length === 0 || shapes.some((d) => d === undefined)) return {};
  const rank = Math.max(...shapes.map((d) => d!.length));
  const out: Dims = [];
  for (let k = 0; k < rank; k++) {
    let known: { dim: number; from: number } | undefined;
    let unknown = false;
    for (let i = 0; i < shapes.length; i++) {
      const d = shapes[i]!;
      const at = k - (rank - d.length);
      const v = at >= 0 ? d[at] : 1;
      if (v === undefined) unknown = true;
      else if (v !== 1) {
        if (known && known.dim !== v)
          return {
            problem: `"${n.input[known.from]}" ${show(shapes[known.from]!)} and "${n.input[i]}" ${show(d)} do not broadcast (${known.dim} vs ${v})`,
          };
        known ??= { dim: v, from: i };
      }
    }
    out.push(known ? known.dim : unknown ? undefined : 1);
  }
  return { shape: out };
}

function spatial(n: NodeProto, x: Dims, kernel: (number | undefined)[], ceil: boolean): ShapeResult {
  const r = kernel.length;
  const strides = attrInts(n, "strides", []);
  const dil = attrInts(n, "dilations", []);
  const pads = attrInts(n, "pads", []);
  const auto = attrString(n, "auto_pad", "NOTSET");
  const out: Dims = [];
  for (let k = 0; k < r; k++) {
    const len = x[2 + k];
    const kk = kernel[k];
    const st = strides[k] ?? 1;
    const d = dil[k] ?? 1;
    if (len === undefined || kk === undefined || st < 1 || d < 1) {
      out.push(undefined);
      continue;
    }
    if (auto === "SAME_UPPER" || auto === "SAME_LOWER") {
      out.push(Math.ceil(len / st));
      continue;
    }
    const padded = auto === "VALID" ? len : len + (pads[k] ?? 0) + (pads[k + r] ?? 0);
    const span = d * (kk - 1) + 1;
    if (span > padded)
      return {
        problem: `kernel ${span} (dilated) is larger than input "${n.input[0]}" ${show(x)} with padding along axis ${2 + k}`,
      };
    out.push((ceil ? Math.ceil : Math.floor)((padded - span) / st) + 1);
  }
  return { shape: out };
}

function convShape(n: NodeProto, x: Dims | undefined, w: Dims | undefined): ShapeResult {
  if (!x || !w || x.length !== w.length || x.length < 3) return {};
  const kernel = attrInts(n, "kernel_shape", []).length ? attrInts(n, "kernel_shape", []) : w.slice(2);
  const sp = spatial(n, x, kernel, false);
  return sp.shape ? { shape: [x[0], w[0], ...sp.shape] } : sp;
}

function poolShape(n: NodeProto, x: Dims | undefined): ShapeResult {
  const kernel = attrInts(n, "kernel_shape", []);
  if (!x || x.length !== kernel.length + 2) return {};
  const sp = spatial(n, x, kernel, attrInt(n, "ceil_mode", 0) !== 0);
  return sp.shape ? { shape: [x[0], x[1], ...sp.shape] } : sp;
}

const product = (d: Dims) =>
  d.reduce<number | undefined>((a, b) => (a === undefined || b === undefined ? undefined : a * b), 1);

function flattenShape(n: NodeProto, x: Dims | undefined): ShapeResult {
  if (!x) return {};
  let axis = attrInt(n, "axis", 1);
  if (axis < 0) axis += x.length;
  if (axis < 0 || axis > x.length) return {};
  return { shape: [product(x.slice(0, axis)), product(x.slice(axis))] };
}

function matMulShape(a: Dims | undefined, b: Dims | undefined): ShapeResult {
  if (!a || !b || a.length < 2 || b.length < 2) return {};
  const batchA = a.slice(0, -2);
  const batchB = b.slice(0, -2);
  const rank = Math.max(batchA.length, batchB.length);
  const batch: Dims = [];
  for (let k = 0; k < rank; k++) {
    const x = batchA[k - (rank - batchA.length)] ?? 1;
    const y = batchB[k - (rank - batchB.length)] ?? 1;
    batch.push(x === 1 ? y : y === 1 ? x : x === y ? x : undefined);
  }
  return { shape: [...batch, a[a.length - 2], b[b.length - 1]] };
}

function gemmShape(n: NodeProto, a: Dims | undefined, b: Dims | undefined): ShapeResult {
  if (a?.length !== 2 || b?.length !== 2) return {};
  const m = attrInt(n, "transA", 0) ? a[1] : a[0];
  const nn = attrInt(n, "transB", 0) ? b[0] : b[1];
  return { shape: [m, nn] };
}

/** The Reshape target with 0 (copy) and −1 (infer) resolved, when the input's size is known. */
function reshapeTarget(n: NodeProto, x: Dims | undefined, target: number[]): Dims {
  const allowZero = attrInt(n, "allowzero", 0) !== 0;
  const out: Dims = target.map((v, k) => (v === 0 && !allowZero ? x?.[k] : v === -1 ? undefined : v));
  const minus = target.indexOf(-1);
  const total = x ? product(x) : undefined;
  const rest = product(out.filter((_, k) => k !== minus));
  if (minus >= 0 && total !== undefined && rest !== undefined && rest > 0 && total % rest === 0)
    out[minus] = total / rest;
  return out;
}

/** Reshape to a constant shape whose element count cannot match the input's. */
export function reshapeProblems(n: NodeProto, x: Dims | undefined, target: number[] | undefined): string[] {
  if (!target || !x) return [];
  const total = product(x);
  if (total === undefined) return [];
  const minus = target.filter((v) => v === -1).length;
  const out = reshapeTarget(n, x, target);
  const rest = product(out.filter((_, k) => target[k] !== -1));
  const bad =
    minus > 1 ||
    target.some((v) => v < -1) ||
    (rest !== undefined && (minus === 0 ? rest !== total : rest === 0 ? total !== 0 : total % rest !== 0));
  return bad
    ? [
        `Reshape node "${n.name || n.output[0] || "?"}": input "${n.input[0]}" ${show(x)} has ${total} elements, shape "${n.input[1]}" [${target.join(", ")}] cannot hold them`,
      ]
    : [];
}

/** The first output's shape of `n` (or a mismatch), given its inputs' shapes `s(i)`. */
export function propagateShape(
  n: NodeProto,
  s: (i: number) => Dims | undefined,
  constants: ReadonlyMap<string, number[]>,
): ShapeResult {
  const op = n.opType ?? "";
  if (SAME_SHAPE.has(op)) return { shape: s(0) };
  if (BROADCAST.has(op))
    return broadcast(
      n,
      n.input.map((_, i) => s(i)),
    );
  switch (op) {
    case "Conv":
      return convShape(n, s(0), s(1));
    case "MaxPool":
    case "AveragePool":
      return poolShape(n, s(0));
    case "GlobalAveragePool":
    case "GlobalMaxPool": {
      const x = s(0);
      return x ? { shape: [x[0], x[1], ...x.slice(2).map(() => 1)] } : {};
    }
    case "Flatten":
      return flattenShape(n, s(0));
    case "Gemm":
      return gemmShape(n, s(0), s(1));
    case "MatMul":
      return matMulShape(s(0), s(1));
    case "Reshape": {
      const target = constants.get(n.input[1] ?? "");
      return target ? { shape: reshapeTarget(n, s(0), target) } : {};
    }
    case "Transpose": {
      const x = s(0);
      const perm = attrInts(n, "perm", []);
      if (!x) return {};
      if (perm.length === 0) return { shape: [...x].reverse() };
      return perm.length === x.length && perm.every((p) => p >= 0 && p < x.length)
        ? { shape: perm.map((p) => x[p]) }
        : {};
    }
    default:
      return {};
  }
}
