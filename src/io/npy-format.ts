/**
 * The NumPy `.npy` format at the byte level (format versions 1.0, 2.0 and 3.0), without any
 * `node:` import so it works in browsers too. File wrappers live in `npy.ts` (pathlens/node).
 *
 * Layout (numpy/lib/format.py): magic `\x93NUMPY`, major and minor version bytes, the header
 * length (uint16 LE for 1.0, uint32 LE for 2.0/3.0), then a Python dict literal
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (6, 96), }` padded with spaces and a final
 * newline so that the data starts at a multiple of 64, then the elements in C order.
 */
import { PathlensError } from "../errors.js";
import {
  BYTES_PER_ELEMENT,
  type DataOf,
  type DType,
  shapeString,
  sizeOf,
  type Tensor,
  tensor,
} from "../tensor/tensor.js";

/** Raised when bytes are not a `.npy` file pathlens can read, or a tensor cannot be written as one. */
export class NpyError extends PathlensError {
  override name = "NpyError";
  /** The file (or other source) the error is about. */
  readonly source: string;
  constructor(source: string, problem: string) {
    super(`${source}: ${problem}`);
    this.source = source;
  }
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** `descr` strings read (key) and the dtype each maps to. */
const DESCR_TO_DTYPE: Record<string, DType> = {
  "<f4": "float32",
  "<f8": "float64",
  "<i8": "int64",
  "<i4": "int32",
  "|b1": "bool",
  "|u1": "uint8",
  "|i1": "int8",
};

/** `descr` written for each dtype (what numpy writes on a little-endian machine). */
const DTYPE_TO_DESCR: Record<DType, string> = {
  float32: "<f4",
  float64: "<f8",
  int64: "<i8",
  int32: "<i4",
  bool: "|b1",
  uint8: "|u1",
  int8: "|i1",
};

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The parsed header of a `.npy` file. */
export interface NpyHeader {
  /** Format version [major, minor]. */
  version: [number, number];
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  /** Byte offset of the first element. */
  dataOffset: number;
}

/**
 * A header value: the literals numpy writes (str, int, bool, None, a tuple or list of ints).
 * Anything nested (a structured dtype's list of tuples) is kept as its source text, unparsed.
 */
type HeaderValue = string | number | boolean | null | number[] | { nested: string };

/** numpy's own default `max_header_size`: longer headers are refused before parsing. */
export const MAX_NPY_HEADER_BYTES = 10000;

/**
 * Parses the header dict in one pass without recursion: keys are strings, values flat literals.
 * Strings with backslash escapes are refused (numpy never writes them for the dtypes read here).
 */
class HeaderParser {
  private i = 0;
  constructor(private readonly s: string) {}

  parseDict(): Record<string, HeaderValue> {
    this.ws();
    this.expect("{");
    const out: Record<string, HeaderValue> = {};
    for (;;) {
      this.ws();
      if (this.peek() === "}") {
        this.i++;
        break;
      }
      const key = this.str();
      this.ws();
      this.expect(":");
      this.ws();
      out[key] = this.value();
      this.ws();
      if (this.peek() === ",") this.i++;
      else if (this.peek() !== "}") this.fail('expected "," or "}"');
    }
    this.ws();
    if (this.i !== this.s.length)
      this.fail(`unexpected ${JSON.stringify(this.s.slice(this.i, this.i + 10))}`);
    return out;
  }

  private peek(): string | undefined {
    return this.s[this.i];
  }

  private expect(c: string): void {
    if (this.s[this.i] !== c) this.fail(`expected "${c}"`);
    this.i++;
  }

  private fail(msg: string): never {
    throw new SyntaxError(`${msg} at character ${this.i}`);
  }

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }

  private value(): HeaderValue {
    const c = this.peek();
    if (c === undefined) this.fail("unexpected end");
    if (c === "'" || c === '"') return this.str();
    if (c === "(" || c === "[") return this.sequence();
    return this.atom();
  }

  private atom(): number | boolean | null {
    const m = /^(?:-?\d+|True|False|None)/.exec(this.s.slice(this.i, this.i + 32));
    if (!m) this.fail(`unexpected ${JSON.stringify(this.s.slice(this.i, this.i + 10))}`);
    this.i += m[0].length;
    if (m[0] === "True") return true;
    if (m[0] === "False") return false;
    if (m[0] === "None") return null;
    return Number(m[0]);
  }

  private str(): string {
    const q = this.peek();
    if (q !== "'" && q !== '"') this.fail("expected a string");
    const end = this.s.indexOf(q, this.i + 1);
    if (end < 0) this.fail("unterminated string");
    const body = this.s.slice(this.i + 1, end);
    if (body.includes("\\")) this.fail("escape sequences in header strings are not supported");
    this.i = end + 1;
    return body;
  }

  /** A flat tuple/list of integers; a nested one is skipped by bracket counting and kept as text. */
  private sequence(): number[] | { nested: string } {
    const from = this.i;
    const close = this.s[this.i++] === "(" ? ")" : "]";
    const items: number[] = [];
    for (;;) {
      this.ws();
      const c = this.peek();
      if (c === close) {
        this.i++;
        return items;
      }
      if (c === "(" || c === "[" || c === "'" || c === '"') return this.skipNested(from);
      const v = this.atom();
      if (typeof v !== "number") this.fail("expected an integer");
      items.push(v);
      this.ws();
      if (this.peek() === ",") this.i++;
      else if (this.peek() !== close) this.fail(`expected "," or "${close}"`);
    }
  }

  private skipNested(from: number): { nested: string } {
    let depth = 1;
    let quote: string | undefined;
    for (; this.i < this.s.length && depth > 0; this.i++) {
      const c = this.s[this.i]!;
      if (quote) {
        if (c === quote) quote = undefined;
      } else if (c === "'" || c === '"') quote = c;
      else if (c === "(" || c === "[") depth++;
      else if (c === ")" || c === "]") depth--;
    }
    if (depth > 0) this.fail("unterminated tuple or list");
    return { nested: this.s.slice(from, this.i) };
  }
}

/** Header text for a one-line message: whitespace runs collapsed, cut at 200 characters. */
function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}

function latin1(raw: Uint8Array): string {
  let out = "";
  for (const b of raw) out += String.fromCharCode(b);
  return out;
}

/** Reads and checks the header of a `.npy` file. */
export function parseNpyHeader(bytes: Uint8Array, source = "array.npy"): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b)) {
    throw new NpyError(source, "not a .npy file (it does not start with the magic bytes \\x93NUMPY)");
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (major < 1 || major > 3) {
    throw new NpyError(
      source,
      `.npy format version ${major}.${minor} is not supported (only 1.0, 2.0 and 3.0)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenSize = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenSize) throw new NpyError(source, "the file is truncated inside the header");
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (headerLen > MAX_NPY_HEADER_BYTES) {
    throw new NpyError(
      source,
      `the header is ${headerLen} bytes long, more than the ${MAX_NPY_HEADER_BYTES} numpy itself accepts`,
    );
  }
  const start = 8 + lenSize;
  const dataOffset = start + headerLen;
  if (bytes.length < dataOffset) {
    throw new NpyError(
      source,
      `the file is truncated inside the header (needs ${dataOffset} bytes, has ${bytes.length})`,
    );
  }
  const raw = bytes.subarray(start, dataOffset);
  const text = major === 3 ? new TextDecoder("utf-8").decode(raw) : latin1(raw);
  let dict: Record<string, HeaderValue>;
  try {
    dict = new HeaderParser(text).parseDict();
  } catch (e) {
    throw new NpyError(
      source,
      `the header is not a Python dict literal (${(e as Error).message}): ${oneLine(text)}`,
    );
  }
  const { descr, fortran_order: fortran, shape } = dict;
  if (descr === undefined || fortran === undefined || shape === undefined) {
    throw new NpyError(source, `the header lacks 'descr', 'fortran_order' or 'shape': ${oneLine(text)}`);
  }
  if (typeof descr !== "string") {
    const shown = descr !== null && typeof descr === "object" && "nested" in descr ? descr.nested : descr;
    throw new NpyError(
      source,
      `structured dtype ${JSON.stringify(shown).slice(0, 200)} is not supported (only plain numeric arrays)`,
    );
  }
  if (typeof fortran !== "boolean") throw new NpyError(source, `'fortran_order' must be True or False`);
  if (
    !Array.isArray(shape) ||
    shape.some((d) => typeof d !== "number" || !Number.isSafeInteger(d) || d < 0)
  ) {
    throw new NpyError(
      source,
      `'shape' must be a tuple of non-negative integers, got ${JSON.stringify(shape)}`,
    );
  }
  return { version: [major, minor], descr, fortranOrder: fortran, shape: shape as number[], dataOffset };
}

function dtypeOfDescr(descr: string, source: string): DType {
  const dtype = DESCR_TO_DTYPE[descr];
  if (dtype) return dtype;
  if (descr.startsWith(">") && DESCR_TO_DTYPE[`<${descr.slice(1)}`]) {
    throw new NpyError(
      source,
      `big-endian dtype '${descr}' is not supported; save it little-endian (arr.astype('<${descr.slice(1)}'))`,
    );
  }
  if (descr.startsWith("|O") || descr === "O") {
    throw new NpyError(source, `object dtype '${descr}' (pickled Python objects) is not supported`);
  }
  throw new NpyError(
    source,
    `dtype '${descr}' is not supported (supported: ${Object.entries(DESCR_TO_DTYPE)
      .map(([d, t]) => `${d} ${t}`)
      .join(", ")})`,
  );
}

/**
 * Decodes a `.npy` file into a tensor (a copy: the result does not share memory with `bytes`).
 * @param source - names the file in error messages
 * @throws NpyError for bad magic, unsupported versions or dtypes, big-endian data, Fortran
 *   order, and truncated or overlong data
 */
export function parseNpy(bytes: Uint8Array, source = "array.npy"): Tensor {
  const h = parseNpyHeader(bytes, source);
  const dtype = dtypeOfDescr(h.descr, source);
  if (h.fortranOrder && h.shape.filter((d) => d > 1).length > 1) {
    throw new NpyError(
      source,
      `Fortran-ordered arrays are not supported (shape ${shapeString(h.shape)}); save with np.ascontiguousarray`,
    );
  }
  if (!LITTLE_ENDIAN_HOST && BYTES_PER_ELEMENT[dtype] > 1)
    throw new NpyError(source, "reading .npy needs a little-endian host");
  const n = sizeOf(h.shape);
  const need = n * BYTES_PER_ELEMENT[dtype];
  const have = bytes.length - h.dataOffset;
  if (have < need) {
    throw new NpyError(
      source,
      `the data is truncated: shape ${shapeString(h.shape)} of ${dtype} needs ${need} bytes, the file has ${have}`,
    );
  }
  if (have > need) {
    throw new NpyError(
      source,
      `${have - need} unexpected bytes after the data of shape ${shapeString(h.shape)} of ${dtype}`,
    );
  }
  // An aligned copy (Uint8Array.prototype.slice: Buffer#slice would return a view of a shared pool).
  const buf = new ArrayBuffer(need);
  new Uint8Array(buf).set(bytes.subarray(h.dataOffset, h.dataOffset + need));
  return tensor(dtype, h.shape, makeArray(dtype, buf));
}

function makeArray<D extends DType>(dtype: D, buf: ArrayBuffer): DataOf[D] {
  switch (dtype) {
    case "float32":
      return new Float32Array(buf) as DataOf[D];
    case "float64":
      return new Float64Array(buf) as DataOf[D];
    case "int64":
      return new BigInt64Array(buf) as DataOf[D];
    case "int32":
      return new Int32Array(buf) as DataOf[D];
    case "int8":
      return new Int8Array(buf) as DataOf[D];
    default:
      return new Uint8Array(buf) as DataOf[D];
  }
}

/**
 * Encodes a tensor as a `.npy` file (format 1.0, or 2.0 when the header needs it), laid out
 * exactly as `numpy.save` does: header padded so the data starts at a multiple of 64.
 * @throws NpyError when the tensor's dtype has no `.npy` equivalent or its data length is wrong
 */
export function encodeNpy(t: Tensor, source = "array.npy"): Uint8Array {
  const descr = DTYPE_TO_DESCR[t.dtype];
  if (!descr) throw new NpyError(source, `dtype ${String(t.dtype)} cannot be written as .npy`);
  const n = sizeOf(t.dims);
  if (t.data.length !== n) {
    throw new NpyError(
      source,
      `tensor of shape ${shapeString(t.dims)} has ${t.data.length} elements, expected ${n}`,
    );
  }
  if (!LITTLE_ENDIAN_HOST && BYTES_PER_ELEMENT[t.dtype] > 1)
    throw new NpyError(source, "writing .npy needs a little-endian host");
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(", ")})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  let major = 1;
  let pre = 10;
  let total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  if (total - pre > 0xffff) {
    major = 2;
    pre = 12;
    total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  }
  const headerLen = total - pre;
  const dataBytes = n * BYTES_PER_ELEMENT[t.dtype];
  const out = new Uint8Array(total + dataBytes);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, headerLen, true);
  else view.setUint32(8, headerLen, true);
  const header = dict.padEnd(headerLen - 1, " ") + "\n";
  for (let k = 0; k < header.length; k++) out[pre + k] = header.charCodeAt(k);
  const d = t.data;
  out.set(new Uint8Array(d.buffer, d.byteOffset, dataBytes), total);
  return out;
}
