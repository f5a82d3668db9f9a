/**
 * Protocol-buffers wire format: a reader and a writer just large enough for onnx.proto.
 * int64 values come back as `number` when they are safe integers and as `bigint` otherwise,
 * so INT64_MAX (Slice ends) survives a round trip exactly.
 */
import { PathlensError } from "../errors.js";

/** An int64 field value. */
export type Int64 = number | bigint;

const TWO32 = 4294967296;

/** Raised when bytes are not a valid protobuf message (e.g. a truncated model file). */
export class WireFormatError extends PathlensError {
  override name = "WireFormatError";
}

/** Sequential reader over a protobuf-encoded byte buffer. */
export class WireReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  private fail(what: string): never {
    throw new WireFormatError(`${what} at byte ${this.pos} (message ends at ${this.end})`);
  }

  /** Reads a varint as two 32-bit halves. */
  private varint64(): [number, number] {
    let lo = 0;
    let hi = 0;
    let shift = 0;
    const buf = this.buf;
    while (true) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const b = buf[this.pos++]!;
      if (shift < 28) {
        lo |= (b & 0x7f) << shift;
      } else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else {
        if (shift >= 64) this.fail("varint longer than 10 bytes");
        hi |= (b & 0x7f) << (shift - 32);
      }
      shift += 7;
      if ((b & 0x80) === 0) break;
    }
    return [lo >>> 0, hi >>> 0];
  }

  /** A varint interpreted as a signed 64-bit integer. */
  int64(): Int64 {
    const [lo, hi] = this.varint64();
    if (hi < 0x200000) return hi * TWO32 + lo;
    if (hi >= 0xffe00000) return (hi - TWO32) * TWO32 + lo;
    return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
  }

  /** A varint interpreted as an unsigned 64-bit integer. */
  uint64(): Int64 {
    const [lo, hi] = this.varint64();
    if (hi < 0x200000) return hi * TWO32 + lo;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** A varint interpreted as int32 (enums, data types). */
  int32(): number {
    const [lo] = this.varint64();
    return lo | 0;
  }

  /** A field key (tag): refused when it does not fit in 32 bits. */
  tag(): number {
    const at = this.pos;
    const [lo, hi] = this.varint64();
    if (hi !== 0) throw new WireFormatError(`field key at byte ${at} is larger than 32 bits`);
    return lo;
  }

  /**
   * Length-delimited field: returns [start, end) and skips it. The length varint is read in full
   * (64 bits): a length of 2³² or more, or one that runs past the enclosing message, is refused
   * rather than wrapped around.
   * @param field - names the field in the error (e.g. "Tensor.raw_data")
   */
  lengthDelimited(field = "field"): [number, number] {
    const at = this.pos;
    const [lo, hi] = this.varint64();
    const start = this.pos;
    if (hi !== 0 || start + lo > this.end) {
      const n = hi * TWO32 + lo;
      throw new WireFormatError(
        `${field}: length ${n} at byte ${at} runs past the end of its message (${this.end - start} bytes left)`,
      );
    }
    this.pos = start + lo;
    return [start, this.pos];
  }

  float(): number {
    if (this.pos + 4 > this.end) this.fail("truncated float");
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    if (this.pos + 8 > this.end) this.fail("truncated double");
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  /** Skips a field of the given wire type. */
  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint64();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.lengthDelimited();
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        this.fail(`unsupported wire type ${wireType}`);
    }
    if (this.pos > this.end) this.fail("truncated field");
  }
}

const textDecoder = new TextDecoder("utf-8");
const textEncoder = new TextEncoder();

/** Decodes UTF-8 bytes. */
export function utf8(buf: Uint8Array, start: number, end: number): string {
  return textDecoder.decode(buf.subarray(start, end));
}

/**
 * Appends protobuf fields to a list of byte chunks; nested messages are written as
 * their own writer whose chunks are spliced in, so large tensors are never copied until `finish`.
 */
export class WireWriter {
  private chunks: Uint8Array[] = [];
  private scratch = new Uint8Array(256);
  private used = 0;
  length = 0;

  private flushScratch(): void {
    if (this.used > 0) {
      this.chunks.push(this.scratch.slice(0, this.used));
      this.used = 0;
    }
  }

  private byte(b: number): void {
    if (this.used === this.scratch.length) this.flushScratch();
    this.scratch[this.used++] = b;
    this.length++;
  }

  /** Raw bytes (kept by reference). */
  bytes(b: Uint8Array): void {
    if (b.length < 64) {
      for (let i = 0; i < b.length; i++) this.byte(b[i]!);
      return;
    }
    this.flushScratch();
    this.chunks.push(b);
    this.length += b.length;
  }

  varint(v: Int64): void {
    if (typeof v === "number" && v >= 0 && v < 0x80000000) {
      let x = v;
      while (x >= 0x80) {
        this.byte((x & 0x7f) | 0x80);
        x >>>= 7;
      }
      this.byte(x);
      return;
    }
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.byte(Number(x));
  }

  tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  float(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    for (const x of b) this.byte(x);
  }

  double(v: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    for (const x of b) this.byte(x);
  }

  string(s: string): void {
    const b = textEncoder.encode(s);
    this.varint(b.length);
    this.bytes(b);
  }

  /** A nested writer's content as a length-delimited field value. */
  nested(w: WireWriter): void {
    w.flushScratch();
    this.varint(w.length);
    this.flushScratch();
    for (const c of w.chunks) this.chunks.push(c);
    this.length += w.length;
  }

  finish(): Uint8Array {
    this.flushScratch();
    if (this.chunks.length === 1) return this.chunks[0]!;
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}
