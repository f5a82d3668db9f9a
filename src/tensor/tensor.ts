/**
 * Plain tensors: a typed array in C (row-major) order plus its dimensions.
 * This is the currency between pathlens' layers; it never depends on onnxruntime.
 */

import { PathlensError } from "../errors.js";
/** Element types pathlens reads and writes. */
export type DType = "float32" | "float64" | "int64" | "int32" | "bool" | "uint8" | "int8";

/** The typed array that holds elements of each {@link DType}. */
export interface DataOf {
  float32: Float32Array;
  float64: Float64Array;
  int64: BigInt64Array;
  int32: Int32Array;
  bool: Uint8Array;
  uint8: Uint8Array;
  int8: Int8Array;
}

/** Any typed array a {@link Tensor} may hold. */
export type TensorData = DataOf[DType];

/** A dense tensor in C order. */
export interface Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly dims: readonly number[];
  readonly data: DataOf[D];
}

/** Number of elements of a shape (1 for a scalar). */
export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Allocates a zero-filled typed array for `dtype`. */
export function allocate<D extends DType>(dtype: D, size: number): DataOf[D] {
  switch (dtype) {
    case "float32":
      return new Float32Array(size) as DataOf[D];
    case "float64":
      return new Float64Array(size) as DataOf[D];
    case "int64":
      return new BigInt64Array(size) as DataOf[D];
    case "int32":
      return new Int32Array(size) as DataOf[D];
    case "bool":
    case "uint8":
      return new Uint8Array(size) as DataOf[D];
    case "int8":
      return new Int8Array(size) as DataOf[D];
  }
  throw new TypeError(`unknown dtype ${String(dtype)}`);
}

/** Creates a tensor, checking that the data length matches the shape. */
export function tensor<D extends DType>(dtype: D, dims: readonly number[], data?: DataOf[D]): Tensor<D> {
  const size = sizeOf(dims);
  const d = data ?? allocate(dtype, size);
  if (d.length !== size) {
    throw new RangeError(`tensor of shape [${dims.join(", ")}] needs ${size} elements, got ${d.length}`);
  }
  return { dtype, dims: [...dims], data: d };
}

/** A float32 tensor from numbers. */
export function float32(dims: readonly number[], values?: ArrayLike<number>): Tensor<"float32"> {
  return tensor("float32", dims, values ? Float32Array.from(values) : undefined);
}

/** A float64 tensor from numbers. */
export function float64(dims: readonly number[], values?: ArrayLike<number>): Tensor<"float64"> {
  return tensor("float64", dims, values ? Float64Array.from(values) : undefined);
}

/** An int64 tensor from numbers or bigints. */
export function int64(dims: readonly number[], values?: ArrayLike<number | bigint>): Tensor<"int64"> {
  const data = new BigInt64Array(values ? values.length : sizeOf(dims));
  if (values) for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]!);
  return tensor("int64", dims, data);
}

/** True for float32/float64. */
export function isFloat(dtype: DType): dtype is "float32" | "float64" {
  return dtype === "float32" || dtype === "float64";
}

/** Element i as a JS number (int64 converted). */
export function at(t: Tensor, i: number): number {
  return Number(t.data[i]!);
}

/** Copies the elements into a Float64Array (for accumulation and statistics). */
export function toFloat64(t: Tensor): Float64Array {
  if (t.dtype === "float64") return Float64Array.from(t.data as Float64Array);
  const out = new Float64Array(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i]!);
  return out;
}

/** Converts a tensor to another floating dtype (a copy). */
export function castFloat<D extends "float32" | "float64">(t: Tensor, dtype: D): Tensor<D> {
  const out = allocate(dtype, t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i]!);
  return tensor(dtype, t.dims, out);
}

/** Row-major strides of a shape. */
export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i]!;
  }
  return s;
}

/** Rows [start, end) along axis 0 (a copy). */
export function sliceRows<D extends DType>(t: Tensor<D>, start: number, end: number): Tensor<D> {
  const row = t.dims.length === 0 ? 1 : sizeOf(t.dims.slice(1));
  const data = t.data.slice(start * row, end * row) as DataOf[D];
  return tensor(t.dtype, [end - start, ...t.dims.slice(1)], data);
}

/** Concatenates tensors along axis 0. */
export function concatRows<D extends DType>(parts: readonly Tensor<D>[]): Tensor<D> {
  if (parts.length === 0) throw new RangeError("concatRows needs at least one tensor");
  const first = parts[0]!;
  const rest = first.dims.slice(1);
  let rows = 0;
  for (const p of parts) {
    if (p.dtype !== first.dtype || p.dims.slice(1).join() !== rest.join()) {
      throw new RangeError(
        `concatRows: shape [${p.dims.join(", ")}] (${p.dtype}) does not match [${first.dims.join(", ")}] (${first.dtype})`,
      );
    }
    rows += p.dims[0]!;
  }
  const out = allocate(first.dtype, rows * sizeOf(rest));
  let off = 0;
  for (const p of parts) {
    (out as { set(a: ArrayLike<unknown>, o: number): void }).set(p.data as ArrayLike<unknown>, off);
    off += p.data.length;
  }
  return tensor(first.dtype, [rows, ...rest], out);
}

/** Relative L2 distance ‖a − b‖ / ‖b‖ (‖a − b‖ when b is zero). */
export function relativeL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`relativeL2: lengths ${a.length} and ${b.length} differ`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    num += d * d;
    den += b[i]! * b[i]!;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** Formats a shape for messages: `[2, 3, 224, 224]`. */
export function shapeString(dims: readonly (number | string | undefined)[]): string {
  return `[${dims.map((d) => (d === undefined ? "?" : String(d))).join(", ")}]`;
}

/** Bytes one element of each dtype takes. */
export const BYTES_PER_ELEMENT: Readonly<Record<DType, number>> = {
  float32: 4,
  float64: 8,
  int64: 8,
  int32: 4,
  bool: 1,
  uint8: 1,
  int8: 1,
};

/**
 * An onnxruntime `Tensor` (onnxruntime-node / -web / -common), structurally: its `type` name,
 * `dims` and CPU `data`. Accepted wherever pathlens takes input tensors, converted on entry.
 */
export interface OrtTensorLike {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
}

/** A pathlens {@link Tensor} or an onnxruntime one. */
export type TensorLike = Tensor | OrtTensorLike;

const DTYPES: readonly DType[] = ["float32", "float64", "int64", "int32", "bool", "uint8", "int8"];

/** A {@link TensorLike} not holding one of pathlens' dtypes on the CPU. */
export class TensorTypeError extends PathlensError {
  override name = "TensorTypeError";
}

/**
 * A pathlens tensor from a {@link TensorLike}: pathlens tensors pass unchanged; an onnxruntime
 * tensor shares its data (no copy).
 * @throws TensorTypeError for a dtype pathlens does not handle or data not on the CPU
 */
export function toTensor(t: TensorLike, name = "tensor"): Tensor {
  if ("dtype" in t) return t;
  const dtype = t.type as DType;
  if (!DTYPES.includes(dtype)) {
    throw new TensorTypeError(
      `${name}: onnxruntime tensor of type ${t.type}; pathlens takes ${DTYPES.join(", ")}`,
    );
  }
  const data = dtype === "bool" ? Uint8Array.from(t.data as ArrayLike<number | boolean>, Number) : t.data;
  if (!ArrayBuffer.isView(data) || (data as unknown as ArrayLike<unknown>).length !== sizeOf(t.dims)) {
    throw new TensorTypeError(
      `${name}: the onnxruntime tensor's data is not a CPU typed array of ${sizeOf(t.dims)} values`,
    );
  }
  return { dtype, dims: [...t.dims], data: data as DataOf[DType] };
}

/** {@link toTensor} over a record of named tensors (undefined stays undefined). */
export function toTensors(r: Record<string, TensorLike>): Record<string, Tensor>;
export function toTensors(r: Record<string, TensorLike> | undefined): Record<string, Tensor> | undefined;
export function toTensors(r: Record<string, TensorLike> | undefined): Record<string, Tensor> | undefined {
  return r && Object.fromEntries(Object.entries(r).map(([k, t]) => [k, toTensor(t, `"${k}"`)]));
}
