/**
 * Schema-driven decoding and encoding of onnx.proto messages (ONNX IR ≤ 10 / ONNX ≤ 1.17).
 * Fields are emitted in field-number order, as the reference serializer does, so models exported
 * by PyTorch/ONNX round-trip byte for byte; fields unknown here are preserved verbatim.
 */
import { PathlensError } from "../errors.js";
import type { ModelProto } from "./types.js";
import { type Int64, utf8, WireFormatError, WireReader, WireWriter } from "./wire.js";

type Scalar = "string" | "bytes" | "int32" | "int64" | "uint64" | "float" | "double";
interface Field {
  no: number;
  name: string;
  kind: Scalar | string; // a scalar kind or a message name
  repeated?: boolean;
  packed?: boolean;
}

function f(no: number, name: string, kind: string, flags = ""): Field {
  return { no, name, kind, repeated: flags.includes("r"), packed: flags.includes("p") };
}

const SCHEMA: Record<string, Field[]> = {
  StringStringEntry: [f(1, "key", "string"), f(2, "value", "string")],
  OperatorSetId: [f(1, "domain", "string"), f(2, "version", "int64")],
  Dimension: [f(1, "dimValue", "int64"), f(2, "dimParam", "string"), f(3, "denotation", "string")],
  TensorShape: [f(1, "dim", "Dimension", "r")],
  TypeTensor: [f(1, "elemType", "int32"), f(2, "shape", "TensorShape")],
  TypeSequence: [f(1, "elemType", "Type")],
  TypeMap: [f(1, "keyType", "int32"), f(2, "valueType", "Type")],
  TypeOptional: [f(1, "elemType", "Type")],
  Type: [
    f(1, "tensorType", "TypeTensor"),
    f(4, "sequenceType", "TypeSequence"),
    f(5, "mapType", "TypeMap"),
    f(6, "denotation", "string"),
    f(8, "sparseTensorType", "TypeTensor"),
    f(9, "optionalType", "TypeOptional"),
  ],
  ValueInfo: [
    f(1, "name", "string"),
    f(2, "type", "Type"),
    f(3, "docString", "string"),
    f(4, "metadataProps", "StringStringEntry", "r"),
  ],
  Segment: [f(1, "begin", "int64"), f(2, "end", "int64")],
  Tensor: [
    f(1, "dims", "int64", "r"),
    f(2, "dataType", "int32"),
    f(3, "segment", "Segment"),
    f(4, "floatData", "float", "rp"),
    f(5, "int32Data", "int32", "rp"),
    f(6, "stringData", "bytes", "r"),
    f(7, "int64Data", "int64", "rp"),
    f(8, "name", "string"),
    f(9, "rawData", "bytes"),
    f(10, "doubleData", "double", "rp"),
    f(11, "uint64Data", "uint64", "rp"),
    f(12, "docString", "string"),
    f(13, "externalData", "StringStringEntry", "r"),
    f(14, "dataLocation", "int32"),
    f(16, "metadataProps", "StringStringEntry", "r"),
  ],
  SparseTensor: [f(1, "values", "Tensor"), f(2, "indices", "Tensor"), f(3, "dims", "int64", "r")],
  Attribute: [
    f(1, "name", "string"),
    f(2, "f", "float"),
    f(3, "i", "int64"),
    f(4, "s", "bytes"),
    f(5, "t", "Tensor"),
    f(6, "g", "Graph"),
    f(7, "floats", "float", "r"),
    f(8, "ints", "int64", "r"),
    f(9, "strings", "bytes", "r"),
    f(10, "tensors", "Tensor", "r"),
    f(11, "graphs", "Graph", "r"),
    f(13, "docString", "string"),
    f(14, "tp", "Type"),
    f(15, "typeProtos", "Type", "r"),
    f(20, "type", "int32"),
    f(21, "refAttrName", "string"),
    f(22, "sparseTensor", "SparseTensor"),
    f(23, "sparseTensors", "SparseTensor", "r"),
  ],
  Node: [
    f(1, "input", "string", "r"),
    f(2, "output", "string", "r"),
    f(3, "name", "string"),
    f(4, "opType", "string"),
    f(5, "attribute", "Attribute", "r"),
    f(6, "docString", "string"),
    f(7, "domain", "string"),
    f(8, "overload", "string"),
    f(9, "metadataProps", "StringStringEntry", "r"),
  ],
  TensorAnnotation: [
    f(1, "tensorName", "string"),
    f(2, "quantParameterTensorNames", "StringStringEntry", "r"),
  ],
  Graph: [
    f(1, "node", "Node", "r"),
    f(2, "name", "string"),
    f(5, "initializer", "Tensor", "r"),
    f(10, "docString", "string"),
    f(11, "input", "ValueInfo", "r"),
    f(12, "output", "ValueInfo", "r"),
    f(13, "valueInfo", "ValueInfo", "r"),
    f(14, "quantizationAnnotation", "TensorAnnotation", "r"),
    f(15, "sparseInitializer", "SparseTensor", "r"),
    f(16, "metadataProps", "StringStringEntry", "r"),
  ],
  TrainingInfo: [
    f(1, "initialization", "Graph"),
    f(2, "algorithm", "Graph"),
    f(3, "initializationBinding", "StringStringEntry", "r"),
    f(4, "updateBinding", "StringStringEntry", "r"),
  ],
  Function: [
    f(1, "name", "string"),
    f(4, "input", "string", "r"),
    f(5, "output", "string", "r"),
    f(6, "attribute", "string", "r"),
    f(7, "node", "Node", "r"),
    f(8, "docString", "string"),
    f(9, "opsetImport", "OperatorSetId", "r"),
    f(10, "domain", "string"),
    f(11, "attributeProto", "Attribute", "r"),
    f(12, "valueInfo", "ValueInfo", "r"),
    f(13, "overload", "string"),
    f(14, "metadataProps", "StringStringEntry", "r"),
  ],
  Model: [
    f(1, "irVersion", "int64"),
    f(2, "producerName", "string"),
    f(3, "producerVersion", "string"),
    f(4, "domain", "string"),
    f(5, "modelVersion", "int64"),
    f(6, "docString", "string"),
    f(7, "graph", "Graph"),
    f(8, "opsetImport", "OperatorSetId", "r"),
    f(14, "metadataProps", "StringStringEntry", "r"),
    f(20, "trainingInfo", "TrainingInfo", "r"),
    f(25, "functions", "Function", "r"),
  ],
};

const BY_NUMBER = new Map<string, Map<number, Field>>();
for (const [msg, fields] of Object.entries(SCHEMA)) {
  BY_NUMBER.set(msg, new Map(fields.map((x) => [x.no, x])));
  fields.sort((a, b) => a.no - b.no);
}

function isScalar(kind: string): kind is Scalar {
  return kind === kind.toLowerCase();
}

function wireTypeOf(kind: Scalar): number {
  switch (kind) {
    case "float":
      return 5;
    case "double":
      return 1;
    case "string":
    case "bytes":
      return 2;
    default:
      return 0;
  }
}

function readScalar(r: WireReader, kind: Scalar, field: string): unknown {
  switch (kind) {
    case "int32":
      return r.int32();
    case "int64":
      return r.int64();
    case "uint64":
      return r.uint64();
    case "float":
      return r.float();
    case "double":
      return r.double();
    case "string": {
      const [s, e] = r.lengthDelimited(field);
      return utf8(r.buf, s, e);
    }
    case "bytes": {
      const [s, e] = r.lengthDelimited(field);
      return r.buf.subarray(s, e);
    }
  }
}

/** Messages nested deeper than this are refused (protobuf's own default recursion limit). */
const MAX_DEPTH = 100;

/** snake_case field name as in onnx.proto, for error messages. */
function protoName(msg: string, field: string): string {
  return `${msg}.${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
}

function decodeMessage(
  msg: string,
  buf: Uint8Array,
  start: number,
  end: number,
  depth = 0,
): Record<string, unknown> {
  if (depth > MAX_DEPTH) {
    throw new WireFormatError(`${msg} at byte ${start}: messages nested more than ${MAX_DEPTH} deep`);
  }
  const fields = BY_NUMBER.get(msg)!;
  const out: Record<string, unknown> = {};
  for (const fd of SCHEMA[msg]!) if (fd.repeated) out[fd.name] = [];
  const r = new WireReader(buf, start, end);
  while (r.pos < end) {
    const tagStart = r.pos;
    const key = r.tag();
    const no = key >>> 3;
    const wt = key & 7;
    const fd = fields.get(no);
    if (!fd || no === 0) {
      r.skip(wt);
      ((out.$unknown ??= []) as Uint8Array[]).push(buf.subarray(tagStart, r.pos));
      continue;
    }
    if (!isScalar(fd.kind)) {
      if (wt !== 2)
        throw new WireFormatError(`${protoName(msg, fd.name)}: expected a message, got wire type ${wt}`);
      const [s, e] = r.lengthDelimited(protoName(msg, fd.name));
      const v = decodeMessage(fd.kind, buf, s, e, depth + 1);
      if (fd.repeated) (out[fd.name] as unknown[]).push(v);
      else out[fd.name] = v;
      continue;
    }
    const kind = fd.kind;
    if (fd.repeated && wt === 2 && kind !== "string" && kind !== "bytes") {
      // packed run
      const [s, e] = r.lengthDelimited(protoName(msg, fd.name));
      out[fd.name] = appendPacked(
        out[fd.name] as ArrayLike<unknown>,
        buf,
        s,
        e,
        kind,
        protoName(msg, fd.name),
      );
      continue;
    }
    if (wt !== wireTypeOf(kind))
      throw new WireFormatError(`${protoName(msg, fd.name)}: wrong wire type ${wt}`);
    const v = readScalar(r, kind, protoName(msg, fd.name));
    if (fd.repeated) {
      let arr = out[fd.name];
      // A packed float run gave a typed array: turn it into a plain array once, not per element.
      if (!Array.isArray(arr)) out[fd.name] = arr = Array.from(arr as ArrayLike<number>);
      (arr as unknown[]).push(v);
    } else out[fd.name] = v;
  }
  if (r.pos !== end) throw new WireFormatError(`${msg}: field runs past the end of the message`);
  return out;
}

function appendPacked(
  prev: ArrayLike<unknown>,
  buf: Uint8Array,
  s: number,
  e: number,
  kind: Scalar,
  field: string,
): unknown {
  if (kind === "float" || kind === "double") {
    const width = kind === "float" ? 4 : 8;
    if ((e - s) % width !== 0)
      throw new WireFormatError(`${field}: packed ${kind} run of ${e - s} bytes, not a multiple of ${width}`);
    const copy = buf.slice(s, e);
    const arr = kind === "float" ? new Float32Array(copy.buffer) : new Float64Array(copy.buffer);
    if (prev.length === 0) return arr;
    const merged =
      kind === "float"
        ? new Float32Array(prev.length + arr.length)
        : new Float64Array(prev.length + arr.length);
    merged.set(prev as ArrayLike<number>, 0);
    merged.set(arr, prev.length);
    return merged;
  }
  const out = Array.isArray(prev) ? prev : Array.from(prev);
  const r = new WireReader(buf, s, e);
  while (r.pos < e) out.push(readScalar(r, kind, field));
  return out;
}

function writeScalar(w: WireWriter, kind: Scalar, v: unknown): void {
  switch (kind) {
    case "int32":
    case "int64":
    case "uint64":
      w.varint(v as Int64);
      return;
    case "float":
      w.float(v as number);
      return;
    case "double":
      w.double(v as number);
      return;
    case "string":
      w.string(v as string);
      return;
    case "bytes": {
      const b = v as Uint8Array;
      w.varint(b.length);
      w.bytes(b);
    }
  }
}

function encodeMessage(msg: string, obj: Record<string, unknown>): WireWriter {
  const w = new WireWriter();
  for (const fd of SCHEMA[msg]!) {
    const v = obj[fd.name];
    if (v === undefined || v === null) continue;
    if (fd.repeated) {
      const arr = v as ArrayLike<unknown>;
      if (arr.length === 0) continue;
      if (!isScalar(fd.kind)) {
        for (let i = 0; i < arr.length; i++) {
          w.tag(fd.no, 2);
          w.nested(encodeMessage(fd.kind, arr[i] as Record<string, unknown>));
        }
      } else if (fd.packed) {
        const inner = new WireWriter();
        if (fd.kind === "float" || fd.kind === "double") {
          const typed =
            fd.kind === "float"
              ? Float32Array.from(arr as ArrayLike<number>)
              : Float64Array.from(arr as ArrayLike<number>);
          inner.bytes(new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength));
        } else for (let i = 0; i < arr.length; i++) writeScalar(inner, fd.kind, arr[i]);
        w.tag(fd.no, 2);
        w.nested(inner);
      } else {
        for (let i = 0; i < arr.length; i++) {
          w.tag(fd.no, wireTypeOf(fd.kind));
          writeScalar(w, fd.kind, arr[i]);
        }
      }
      continue;
    }
    if (!isScalar(fd.kind)) {
      w.tag(fd.no, 2);
      w.nested(encodeMessage(fd.kind, v as Record<string, unknown>));
    } else {
      w.tag(fd.no, wireTypeOf(fd.kind));
      writeScalar(w, fd.kind, v);
    }
  }
  const unknown = obj.$unknown as Uint8Array[] | undefined;
  if (unknown) for (const u of unknown) w.bytes(u);
  return w;
}

/** Raised when a model file cannot be decoded (truncated, not ONNX, …). */
export class ModelDecodeError extends PathlensError {
  override name = "ModelDecodeError";
}

/**
 * Decodes an ONNX ModelProto. Tensor `rawData` fields are views into `bytes` (no copy),
 * so keep `bytes` unchanged while the model is in use.
 * @param source - names the file in error messages
 */
export function decodeModel(bytes: Uint8Array, source = "model"): ModelProto {
  let model: ModelProto;
  try {
    model = decodeMessage("Model", bytes, 0, bytes.length) as unknown as ModelProto;
  } catch (e) {
    throw new ModelDecodeError(
      `${source}: not a valid ONNX model (${(e as Error).message}); the file may be truncated or not ONNX`,
      { cause: e },
    );
  }
  if (!model.graph || model.opsetImport.length === 0) {
    throw new ModelDecodeError(`${source}: not an ONNX model (no graph or no opset_import)`);
  }
  return model;
}

/** Encodes an ONNX ModelProto to bytes. */
export function encodeModel(model: ModelProto): Uint8Array {
  return encodeMessage("Model", model as unknown as Record<string, unknown>).finish();
}

/** Decodes any message of the schema (e.g. "Tensor", "Graph"); for tests and tools. */
export function decodeProto<T>(message: keyof typeof SCHEMA, bytes: Uint8Array): T {
  return decodeMessage(message, bytes, 0, bytes.length) as T;
}

/** Encodes any message of the schema. */
export function encodeProto(message: keyof typeof SCHEMA, obj: object): Uint8Array {
  return encodeMessage(message, obj as Record<string, unknown>).finish();
}
