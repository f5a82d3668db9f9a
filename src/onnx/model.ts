/**
 * Helpers over the ONNX IR: attributes, tensors ⇄ TensorProto, value infos, opsets.
 */
import { PathlensError } from "../errors.js";
import { bfloat16ToFloat32, float16ToFloat32 } from "../tensor/half.js";
import { BYTES_PER_ELEMENT, type DType, type Tensor, tensor } from "../tensor/tensor.js";
import {
  type AttributeProto,
  AttributeType,
  DataType,
  dataTypeName,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type TypeProto,
  type ValueInfoProto,
} from "./types.js";
import type { Int64 } from "./wire.js";

/** Raised when a model uses something pathlens cannot handle (unsupported type, bad attribute…). */
export class ModelStructureError extends PathlensError {
  override name = "ModelStructureError";
}

/** The version of `domain` the model imports (the default domain "" when omitted). */
export function opsetOf(model: ModelProto, domain = ""): number {
  for (const o of model.opsetImport) {
    const d = o.domain ?? "";
    if (d === domain || (domain === "" && d === "ai.onnx")) return Number(o.version ?? 0);
  }
  return 0;
}

/** Describes a node for messages: `Conv node "/conv1/Conv"`. */
export function describeNode(node: NodeProto): string {
  return `${node.opType ?? "?"} node "${node.name || node.output[0] || "?"}"`;
}

function findAttr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

/** Integer attribute, or `def` when absent. */
export function attrInt(node: NodeProto, name: string, def: number): number;
export function attrInt(node: NodeProto, name: string): number | undefined;
export function attrInt(node: NodeProto, name: string, def?: number): number | undefined {
  const a = findAttr(node, name);
  return a?.i !== undefined ? Number(a.i) : def;
}

/** Integers attribute (numbers; INT64 extremes become ±9.22e18), or `def` when absent. */
export function attrInts(node: NodeProto, name: string): number[] | undefined;
export function attrInts(node: NodeProto, name: string, def: number[]): number[];
export function attrInts(node: NodeProto, name: string, def?: number[]): number[] | undefined {
  const a = findAttr(node, name);
  return a ? a.ints.map(Number) : def;
}

/** Float attribute, or `def` when absent. */
export function attrFloat(node: NodeProto, name: string, def: number): number;
export function attrFloat(node: NodeProto, name: string): number | undefined;
export function attrFloat(node: NodeProto, name: string, def?: number): number | undefined {
  const a = findAttr(node, name);
  return a?.f !== undefined ? a.f : def;
}

/** Floats attribute. */
export function attrFloats(node: NodeProto, name: string): number[] | undefined {
  const a = findAttr(node, name);
  return a ? Array.from(a.floats) : undefined;
}

/** String attribute, or `def` when absent. */
export function attrString(node: NodeProto, name: string, def: string): string;
export function attrString(node: NodeProto, name: string): string | undefined;
export function attrString(node: NodeProto, name: string, def?: string): string | undefined {
  const a = findAttr(node, name);
  return a?.s !== undefined ? new TextDecoder().decode(a.s) : def;
}

/** Tensor attribute (Constant's `value`). */
export function attrTensor(node: NodeProto, name: string): TensorProto | undefined {
  return findAttr(node, name)?.t;
}

/** Graph attribute (If's branches). */
export function attrGraph(node: NodeProto, name: string): GraphProto | undefined {
  return findAttr(node, name)?.g;
}

/** A value an attribute may be made from. */
export type AttrValue = number | string | number[] | string[] | Int64[] | TensorProto | GraphProto;

/** Options for {@link makeAttribute}: force float for whole numbers. */
export interface AttrHint {
  float?: boolean;
}

/**
 * Builds an AttributeProto. Integers give INT/INTS unless `hint.float`; non-integers give FLOAT(S).
 * Use `{ float: true }` for float attributes whose value may be whole (alpha = 1).
 */
export function makeAttribute(name: string, value: AttrValue, hint: AttrHint = {}): AttributeProto {
  const a: AttributeProto = {
    name,
    floats: [],
    ints: [],
    strings: [],
    tensors: [],
    graphs: [],
    sparseTensors: [],
    typeProtos: [],
  };
  if (typeof value === "number") {
    if (hint.float || !Number.isInteger(value)) {
      a.type = AttributeType.FLOAT;
      a.f = value;
    } else {
      a.type = AttributeType.INT;
      a.i = value;
    }
  } else if (typeof value === "string") {
    a.type = AttributeType.STRING;
    a.s = new TextEncoder().encode(value);
  } else if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === "string") {
      a.type = AttributeType.STRINGS;
      a.strings = (value as string[]).map((s) => new TextEncoder().encode(s));
    } else if (hint.float || (value as number[]).some((v) => typeof v === "number" && !Number.isInteger(v))) {
      a.type = AttributeType.FLOATS;
      a.floats = (value as number[]).slice();
    } else {
      a.type = AttributeType.INTS;
      a.ints = (value as Int64[]).slice();
    }
  } else if ("node" in value) {
    a.type = AttributeType.GRAPH;
    a.g = value;
  } else {
    a.type = AttributeType.TENSOR;
    a.t = value;
  }
  return a;
}

const DTYPE_TO_CODE: Record<DType, number> = {
  float32: DataType.FLOAT,
  float64: DataType.DOUBLE,
  int64: DataType.INT64,
  int32: DataType.INT32,
  bool: DataType.BOOL,
  uint8: DataType.UINT8,
  int8: DataType.INT8,
};

/** TensorProto.DataType code of a dtype. */
export function dataTypeOf(dtype: DType): number {
  return DTYPE_TO_CODE[dtype];
}

/** dtype of a TensorProto.DataType code, or undefined when pathlens has no typed array for it. */
export function dtypeOf(code: number | undefined): DType | undefined {
  for (const [k, v] of Object.entries(DTYPE_TO_CODE)) if (v === code) return k as DType;
  return undefined;
}

/**
 * Reads the values of a TensorProto (raw_data or the typed fields).
 * External data must have been loaded into `rawData` first (see `loadModel` in pathlens/node).
 */
export function tensorFromProto(tp: TensorProto): Tensor {
  // float16 / bfloat16 are widened to float32 (pathlens computes in float32)
  if (tp.dataType === DataType.FLOAT16 || tp.dataType === DataType.BFLOAT16) return halfFromProto(tp);
  const dtype = dtypeOf(tp.dataType);
  const what = `tensor "${tp.name ?? ""}"`;
  if (!dtype)
    throw new ModelStructureError(`${what}: element type ${dataTypeName(tp.dataType)} is not supported`);
  if (tp.dataLocation === 1 && !tp.rawData) {
    throw new ModelStructureError(`${what}: its data is stored externally and was not loaded`);
  }
  const dims = tp.dims.map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  if (tp.rawData) {
    // A copy, aligned at offset 0 (rawData may be a view into a larger Node Buffer).
    const bytes = new Uint8Array(tp.rawData);
    if (bytes.length !== n * BYTES_PER_ELEMENT[dtype]) {
      throw new ModelStructureError(
        `${what}: raw_data has ${bytes.length} bytes, shape needs ${n * BYTES_PER_ELEMENT[dtype]}`,
      );
    }
    const buf = bytes.buffer;
    const data =
      dtype === "float32"
        ? new Float32Array(buf)
        : dtype === "float64"
          ? new Float64Array(buf)
          : dtype === "int64"
            ? new BigInt64Array(buf)
            : dtype === "int32"
              ? new Int32Array(buf)
              : dtype === "int8"
                ? new Int8Array(buf)
                : new Uint8Array(buf);
    return tensor(dtype, dims, data);
  }
  switch (dtype) {
    case "float32":
      return tensor(dtype, dims, Float32Array.from(tp.floatData));
    case "float64":
      return tensor(dtype, dims, Float64Array.from(tp.doubleData));
    case "int64":
      return tensor(
        dtype,
        dims,
        BigInt64Array.from(tp.int64Data, (v) => BigInt(v)),
      );
    case "int32":
      return tensor(dtype, dims, Int32Array.from(tp.int32Data));
    case "int8":
      return tensor(dtype, dims, Int8Array.from(tp.int32Data));
    default:
      return tensor(dtype, dims, Uint8Array.from(tp.int32Data));
  }
}

/** A float16 / bfloat16 TensorProto (raw_data, or bit patterns in int32_data) as float32. */
function halfFromProto(tp: TensorProto): Tensor {
  const dims = tp.dims.map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  const what = `tensor "${tp.name ?? ""}"`;
  if (tp.dataLocation === 1 && !tp.rawData)
    throw new ModelStructureError(`${what}: its data is stored externally and was not loaded`);
  let bits: ArrayLike<number>;
  if (tp.rawData) {
    if (tp.rawData.length !== 2 * n)
      throw new ModelStructureError(`${what}: raw_data has ${tp.rawData.length} bytes, shape needs ${2 * n}`);
    bits = new Uint16Array(new Uint8Array(tp.rawData).buffer);
  } else bits = tp.int32Data;
  if (bits.length !== n)
    throw new ModelStructureError(`${what}: has ${bits.length} values, shape needs ${n}`);
  const data = tp.dataType === DataType.FLOAT16 ? float16ToFloat32(bits) : bfloat16ToFloat32(bits);
  return tensor("float32", dims, data);
}

/** An empty TensorProto skeleton (all repeated fields present). */
export function emptyTensorProto(): TensorProto {
  return {
    dims: [],
    floatData: [],
    int32Data: [],
    stringData: [],
    int64Data: [],
    externalData: [],
    doubleData: [],
    uint64Data: [],
    metadataProps: [],
  };
}

/** Encodes a tensor as a TensorProto with raw_data. */
export function tensorToProto(name: string, t: Tensor): TensorProto {
  const d = t.data;
  return {
    ...emptyTensorProto(),
    name,
    dims: [...t.dims],
    dataType: dataTypeOf(t.dtype),
    rawData: new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength)),
  };
}

/** A tensor-typed ValueInfoProto; `dims` entries may be numbers, symbolic names, or undefined. */
export function makeValueInfo(
  name: string,
  elemType: number,
  dims?: readonly (number | string | undefined)[],
): ValueInfoProto {
  const type: TypeProto = { tensorType: { elemType } };
  if (dims) {
    type.tensorType!.shape = {
      dim: dims.map((d) =>
        typeof d === "number" ? { dimValue: d } : typeof d === "string" ? { dimParam: d } : {},
      ),
    };
  }
  return { name, type, metadataProps: [] };
}

/** Element type code of a value info (undefined if not a tensor). */
export function elemTypeOf(vi: ValueInfoProto | undefined): number | undefined {
  return vi?.type?.tensorType?.elemType;
}

/** Declared dims of a value info: numbers, symbolic names, or undefined per axis; undefined if no shape. */
export function declaredDims(vi: ValueInfoProto | undefined): (number | string | undefined)[] | undefined {
  const shape = vi?.type?.tensorType?.shape;
  if (!shape) return undefined;
  return shape.dim.map((d) => (d.dimValue !== undefined ? Number(d.dimValue) : (d.dimParam ?? undefined)));
}

/** Makes an empty NodeProto. */
export function makeNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  name: string,
  attributes: AttributeProto[] = [],
  domain?: string,
): NodeProto {
  const n: NodeProto = {
    input: inputs,
    output: outputs,
    name,
    opType,
    attribute: attributes,
    metadataProps: [],
  };
  if (domain) n.domain = domain;
  return n;
}

/** A deep-enough copy of a model: graph arrays and nodes are new, tensor bytes are shared. */
export function cloneModel(model: ModelProto): ModelProto {
  return {
    ...model,
    opsetImport: model.opsetImport.map((o) => ({ ...o })),
    metadataProps: [...model.metadataProps],
    graph: model.graph ? cloneGraph(model.graph) : undefined,
  };
}

/** Copies a graph's lists and nodes (tensors shared). */
export function cloneGraph(g: GraphProto): GraphProto {
  return {
    ...g,
    node: g.node.map((n) => ({
      ...n,
      input: [...n.input],
      output: [...n.output],
      attribute: [...n.attribute],
    })),
    initializer: [...g.initializer],
    input: [...g.input],
    output: [...g.output],
    valueInfo: [...g.valueInfo],
  };
}
