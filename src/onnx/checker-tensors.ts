/**
 * Checks of TensorProtos (initializers, Constant values, tensor attributes) before onnxruntime
 * sees them: a known element type, dims in range, and exactly as many data bytes or values as
 * dims × element size says — counted with BigInt so no product overflows.
 */
import { dataTypeName, type TensorProto } from "./types.js";

/** Bits per element of every ONNX data type onnxruntime 1.30 knows (0 = variable: strings). */
const ELEMENT_BITS: Record<number, number> = {
  1: 32,
  2: 8,
  3: 8,
  4: 16,
  5: 16,
  6: 32,
  7: 64,
  8: 0,
  9: 8,
  10: 16,
  11: 64,
  12: 32,
  13: 64,
  14: 64,
  15: 128,
  16: 16,
  17: 8,
  18: 8,
  19: 8,
  20: 8,
  21: 4,
  22: 4,
  23: 4,
  24: 8,
};

/** Which typed field holds the values of each data type, and how many entries one element takes. */
function typedFieldOf(dataType: number): { field: keyof TensorProto; perElement: number } {
  switch (dataType) {
    case 1:
      return { field: "floatData", perElement: 1 };
    case 14:
      return { field: "floatData", perElement: 2 };
    case 7:
      return { field: "int64Data", perElement: 1 };
    case 11:
      return { field: "doubleData", perElement: 1 };
    case 15:
      return { field: "doubleData", perElement: 2 };
    case 12:
    case 13:
      return { field: "uint64Data", perElement: 1 };
    case 8:
      return { field: "stringData", perElement: 1 };
    default:
      return { field: "int32Data", perElement: 1 };
  }
}

/** Largest element count accepted for one tensor (2⁴⁰: far beyond any memory, far below overflow). */
const MAX_ELEMENTS = 2n ** 40n;

/**
 * Problems with one TensorProto, as one-line messages (empty when it is sound).
 * @param what - how the tensor is named in messages, e.g. `initializer "conv.weight"`
 */
export function tensorProblems(tp: TensorProto, what: string): string[] {
  const type = tp.dataType ?? 0;
  const bits = ELEMENT_BITS[type];
  if (type === 0) return [`${what} has no data type`];
  if (bits === undefined) return [`${what} has unknown data type ${type}`];
  let count = 1n;
  for (const d of tp.dims) {
    const v = BigInt(d);
    if (v < 0n) return [`${what} has negative dimension ${v} (dims ${tp.dims.join("×")})`];
    count *= v;
    if (count > MAX_ELEMENTS)
      return [`${what} declares more than ${MAX_ELEMENTS} elements (dims ${tp.dims.join("×")})`];
  }
  if (tp.dataLocation === 1 && !tp.rawData) {
    return [`${what} keeps its data in an external file that was not loaded (load the model from its file)`];
  }
  const shape = tp.dims.length ? tp.dims.join("×") : "scalar";
  if (tp.rawData !== undefined) {
    if (type === 8) return [`${what} is a string tensor with raw_data (strings must use string_data)`];
    const need = (count * BigInt(bits) + 7n) / 8n;
    if (BigInt(tp.rawData.length) !== need) {
      return [
        `${what} (${dataTypeName(type)}, ${shape}) has ${tp.rawData.length} bytes of raw_data, its dims need ${need}`,
      ];
    }
    return [];
  }
  const { field, perElement } = typedFieldOf(type);
  const values = (tp[field] as ArrayLike<unknown> | undefined)?.length ?? 0;
  const need = bits === 4 ? (count + 1n) / 2n : count * BigInt(perElement);
  if (BigInt(values) !== need) {
    return [
      `${what} (${dataTypeName(type)}, ${shape}) has ${values} values in ${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}, its dims need ${need}`,
    ];
  }
  return [];
}

/**
 * Index of the first NaN in a float/double TensorProto's data (raw or typed), or -1. Infinities
 * are not reported: attention masks legitimately hold -Inf.
 */
export function firstNaN(tp: TensorProto): number {
  const type = tp.dataType;
  if (type !== 1 && type !== 11) return -1;
  let values: ArrayLike<number>;
  if (tp.rawData) {
    const r = tp.rawData;
    const width = type === 1 ? 4 : 8;
    if (r.length % width !== 0) return -1;
    // new Uint8Array(r) copies even when r is a Node Buffer (whose slice() is a view).
    const copy = r.byteOffset % width === 0 ? r : new Uint8Array(r);
    values =
      type === 1
        ? new Float32Array(copy.buffer, copy.byteOffset, copy.length / 4)
        : new Float64Array(copy.buffer, copy.byteOffset, copy.length / 8);
  } else values = type === 1 ? tp.floatData : tp.doubleData;
  for (let i = 0; i < values.length; i++) if (Number.isNaN(values[i])) return i;
  return -1;
}

/** Number of elements of a TensorProto as a number (call after {@link tensorProblems} found none). */
export function elementCount(tp: TensorProto): number {
  return tp.dims.reduce<number>((a, d) => a * Number(d), 1);
}
