/**
 * The ONNX IR as plain objects (field names as in onnx.proto, camelCase).
 * Repeated fields are always arrays; optional scalars are `undefined` when absent.
 * Fields this codec does not know are kept as raw bytes in `$unknown` so a round trip keeps them.
 */
import type { Int64 } from "./wire.js";

export type { Int64 } from "./wire.js";

/** Raw bytes of fields unknown to this codec, re-emitted verbatim on encode. */
export interface Unknown {
  $unknown?: Uint8Array[];
}

/** The ONNX message `StringStringEntryProto` (fields as in onnx.proto, camel-cased). */
export interface StringStringEntryProto extends Unknown {
  key?: string;
  value?: string;
}

/** The ONNX message `OperatorSetIdProto` (fields as in onnx.proto, camel-cased). */
export interface OperatorSetIdProto extends Unknown {
  domain?: string;
  version?: Int64;
}

/** The ONNX message `DimensionProto` (fields as in onnx.proto, camel-cased). */
export interface DimensionProto extends Unknown {
  dimValue?: Int64;
  dimParam?: string;
  denotation?: string;
}

/** The ONNX message `TensorShapeProto` (fields as in onnx.proto, camel-cased). */
export interface TensorShapeProto extends Unknown {
  dim: DimensionProto[];
}

/** The ONNX message `TypeProto` (fields as in onnx.proto, camel-cased). */
export interface TypeProto extends Unknown {
  tensorType?: { elemType?: number; shape?: TensorShapeProto } & Unknown;
  sequenceType?: { elemType?: TypeProto } & Unknown;
  mapType?: { keyType?: number; valueType?: TypeProto } & Unknown;
  optionalType?: { elemType?: TypeProto } & Unknown;
  sparseTensorType?: { elemType?: number; shape?: TensorShapeProto } & Unknown;
  denotation?: string;
}

/** The ONNX message `ValueInfoProto` (fields as in onnx.proto, camel-cased). */
export interface ValueInfoProto extends Unknown {
  name?: string;
  type?: TypeProto;
  docString?: string;
  metadataProps: StringStringEntryProto[];
}

/** The ONNX message `TensorProto` (fields as in onnx.proto, camel-cased). */
export interface TensorProto extends Unknown {
  dims: Int64[];
  dataType?: number;
  segment?: { begin?: Int64; end?: Int64 } & Unknown;
  floatData: number[] | Float32Array;
  int32Data: number[];
  stringData: Uint8Array[];
  int64Data: Int64[];
  name?: string;
  docString?: string;
  rawData?: Uint8Array;
  externalData: StringStringEntryProto[];
  dataLocation?: number;
  doubleData: number[] | Float64Array;
  uint64Data: Int64[];
  metadataProps: StringStringEntryProto[];
}

/** The ONNX message `SparseTensorProto` (fields as in onnx.proto, camel-cased). */
export interface SparseTensorProto extends Unknown {
  values?: TensorProto;
  indices?: TensorProto;
  dims: Int64[];
}

/** AttributeProto.AttributeType */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  SPARSE_TENSOR: 11,
  TYPE_PROTO: 13,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSORS: 12,
  TYPE_PROTOS: 14,
} as const;

/** The ONNX message `AttributeProto` (fields as in onnx.proto, camel-cased). */
export interface AttributeProto extends Unknown {
  name?: string;
  refAttrName?: string;
  docString?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  sparseTensor?: SparseTensorProto;
  tp?: TypeProto;
  floats: number[];
  ints: Int64[];
  strings: Uint8Array[];
  tensors: TensorProto[];
  graphs: GraphProto[];
  sparseTensors: SparseTensorProto[];
  typeProtos: TypeProto[];
}

/** The ONNX message `NodeProto` (fields as in onnx.proto, camel-cased). */
export interface NodeProto extends Unknown {
  input: string[];
  output: string[];
  name?: string;
  opType?: string;
  domain?: string;
  overload?: string;
  attribute: AttributeProto[];
  docString?: string;
  metadataProps: StringStringEntryProto[];
}

/** The ONNX message `TensorAnnotation` (fields as in onnx.proto, camel-cased). */
export interface TensorAnnotation extends Unknown {
  tensorName?: string;
  quantParameterTensorNames: StringStringEntryProto[];
}

/** The ONNX message `GraphProto` (fields as in onnx.proto, camel-cased). */
export interface GraphProto extends Unknown {
  node: NodeProto[];
  name?: string;
  initializer: TensorProto[];
  sparseInitializer: SparseTensorProto[];
  docString?: string;
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
  quantizationAnnotation: TensorAnnotation[];
  metadataProps: StringStringEntryProto[];
}

/** The ONNX message `TrainingInfoProto` (fields as in onnx.proto, camel-cased). */
export interface TrainingInfoProto extends Unknown {
  initialization?: GraphProto;
  algorithm?: GraphProto;
  initializationBinding: StringStringEntryProto[];
  updateBinding: StringStringEntryProto[];
}

/** The ONNX message `FunctionProto` (fields as in onnx.proto, camel-cased). */
export interface FunctionProto extends Unknown {
  name?: string;
  input: string[];
  output: string[];
  attribute: string[];
  attributeProto: AttributeProto[];
  node: NodeProto[];
  docString?: string;
  opsetImport: OperatorSetIdProto[];
  domain?: string;
  overload?: string;
  valueInfo: ValueInfoProto[];
  metadataProps: StringStringEntryProto[];
}

/** The ONNX message `ModelProto` (fields as in onnx.proto, camel-cased). */
export interface ModelProto extends Unknown {
  irVersion?: Int64;
  opsetImport: OperatorSetIdProto[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: Int64;
  docString?: string;
  graph?: GraphProto;
  metadataProps: StringStringEntryProto[];
  trainingInfo: TrainingInfoProto[];
  functions: FunctionProto[];
}

/** TensorProto.DataType codes. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
} as const;

/** Name of a TensorProto.DataType code, for messages. */
export function dataTypeName(code: number | undefined): string {
  for (const [k, v] of Object.entries(DataType)) if (v === code) return k.toLowerCase();
  return `data type ${String(code)}`;
}
