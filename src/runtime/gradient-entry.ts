/**
 * The bytes of one gradient-cache entry: what {@link GradientSession} keeps besides the loaded
 * session (seed and gradient names, the probe's shapes, folded-input facts) as JSON, followed by
 * an encoded model. The gradient session stores its header with an empty model and the gradient
 * (or HVP) model as an entry of its own, so a hit that loads onnxruntime's optimized graph never
 * reads the tens of megabytes of the gradient model. Browser-safe: no Node modules.
 *
 * Layout: magic "PLGC" · u32 format version · u32 header length · header JSON · u32 model length
 * · model bytes (integers little-endian). Anything else (truncated, other version) is rejected.
 */
import type { ShapeInfo } from "../autodiff/builder.js";
import { PathlensError } from "../errors.js";
import { encodeModel } from "../onnx/codec.js";
import type { ModelProto, TensorProto } from "../onnx/types.js";
import { type DType, type Tensor, tensor } from "../tensor/tensor.js";

/** Bumped whenever the entry layout or the gradient transform's output changes meaning. */
export const GRADIENT_ENTRY_VERSION = 2;

const MAGIC = [0x50, 0x4c, 0x47, 0x43]; // "PLGC"

/** Seed and gradient names of one differentiation (a {@link GradientModel} without its model). */
export interface GradientNames {
  seeds: string[];
  gradients: string[];
  outputs: string[];
}

/** Everything a cached {@link GradientSession} is rebuilt from. */
export interface GradientEntry {
  outputs: string[];
  first: GradientNames;
  second?: GradientNames;
  shapes: ShapeInfo;
  foldedOn: Map<string, Tensor>;
  unrolledFor: Map<string, readonly number[]>;
  /** The encoded model that runs. */
  model: Uint8Array;
}

/** Raised when cache entry bytes are not a whole entry of this version (the caller rebuilds). */
export class CorruptCacheEntryError extends PathlensError {
  override name = "CorruptCacheEntryError";
}

interface Header {
  outputs: string[];
  first: GradientNames;
  second?: GradientNames;
  shapes: [string, string | null, number[]][];
  foldedOn: [string, DType, number[], (number | string)[]][];
  unrolledFor: [string, number[]][];
}

/** Encodes an entry. */
export function encodeGradientEntry(e: GradientEntry): Uint8Array {
  const header: Header = {
    outputs: e.outputs,
    first: e.first,
    second: e.second,
    shapes: [...e.shapes].map(([k, v]) => [k, v.dtype ?? null, [...v.dims]]),
    foldedOn: [...e.foldedOn].map(([k, t]) => [
      k,
      t.dtype,
      [...t.dims],
      Array.from(t.data as ArrayLike<number | bigint>, (x) => (typeof x === "bigint" ? x.toString() : x)),
    ]),
    unrolledFor: [...e.unrolledFor].map(([k, d]) => [k, [...d]]),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(16 + json.length + e.model.length);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(4, GRADIENT_ENTRY_VERSION, true);
  view.setUint32(8, json.length, true);
  out.set(json, 12);
  view.setUint32(12 + json.length, e.model.length, true);
  out.set(e.model, 16 + json.length);
  return out;
}

/** Decodes an entry; throws {@link CorruptCacheEntryError} on anything but a whole entry. */
export function decodeGradientEntry(bytes: Uint8Array): GradientEntry {
  const bad = (why: string) => new CorruptCacheEntryError(`gradient cache entry: ${why}`);
  if (bytes.length < 16 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad("not an entry");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(4, true) !== GRADIENT_ENTRY_VERSION) throw bad("other format version");
  const jsonLength = view.getUint32(8, true);
  if (16 + jsonLength > bytes.length) throw bad("truncated header");
  const modelLength = view.getUint32(12 + jsonLength, true);
  if (16 + jsonLength + modelLength !== bytes.length) throw bad("truncated model");
  let h: Header;
  try {
    h = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + jsonLength))) as Header;
  } catch {
    throw bad("header is not JSON");
  }
  if (!Array.isArray(h.outputs) || !h.first || !Array.isArray(h.shapes)) throw bad("header fields missing");
  return {
    outputs: h.outputs,
    first: h.first,
    second: h.second,
    shapes: new Map(h.shapes.map(([k, dtype, dims]) => [k, { dtype: (dtype ?? undefined) as DType, dims }])),
    foldedOn: new Map(h.foldedOn.map(([k, dtype, dims, data]) => [k, tensorOf(dtype, dims, data)])),
    unrolledFor: new Map(h.unrolledFor),
    model: bytes.subarray(16 + jsonLength),
  };
}

function tensorOf(dtype: DType, dims: number[], data: (number | string)[]): Tensor {
  const t = tensor(dtype, dims);
  const values = dtype === "int64" ? data.map((x) => BigInt(x)) : data;
  (t.data as unknown as { set(v: ArrayLike<unknown>): void }).set(values);
  return t;
}

/** Initializer data above this many bytes is hashed in place rather than encoded first. */
const IN_PLACE_BYTES = 4096;

/**
 * The model as cache-key parts: its encoding with the large initializers' data left out, then
 * that data as it is in memory (each after its tensor's name and field). Equal parts ⇔ equal
 * models, without re-encoding tens of megabytes of weights (≈ 0.2 s on resnet18).
 */
export function modelKeyParts(model: ModelProto): (Uint8Array | string)[] {
  const g = model.graph;
  if (!g) return [encodeModel(model)];
  const data: (Uint8Array | string)[] = [];
  const initializer = g.initializer.map((t): TensorProto => {
    if (t.rawData && t.rawData.length > IN_PLACE_BYTES) {
      data.push(`raw:${t.name}`, t.rawData);
      return { ...t, rawData: undefined };
    }
    if (t.floatData instanceof Float32Array && t.floatData.byteLength > IN_PLACE_BYTES) {
      data.push(
        `float:${t.name}`,
        new Uint8Array(t.floatData.buffer, t.floatData.byteOffset, t.floatData.byteLength),
      );
      return { ...t, floatData: [] };
    }
    return t;
  });
  return [encodeModel({ ...model, graph: { ...g, initializer } }), ...data];
}
