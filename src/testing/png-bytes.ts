/**
 * Builds PNG byte streams chunk by chunk for decoder tests (valid ones and deliberately broken
 * ones): the CRC here is the bitwise textbook algorithm, written apart from the decoder's table.
 */
import { deflateSync } from "node:zlib";

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** One chunk: length, type, data and CRC (or `crc` to force a wrong one). */
export function pngChunk(type: string, data: Uint8Array, crc?: number): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  for (let k = 0; k < 4; k++) out[4 + k] = type.charCodeAt(k);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc ?? crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** IHDR data. */
export function pngHeader(
  width: number,
  height: number,
  depth = 8,
  colorType = 6,
  interlace = 0,
): Uint8Array {
  const d = new Uint8Array(13);
  const v = new DataView(d.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  d.set([depth, colorType, 0, 0, interlace], 8);
  return d;
}

/** Signature followed by the given chunks. */
export function pngFile(...chunks: Uint8Array[]): Uint8Array {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  const out = new Uint8Array(8 + chunks.reduce((a, c) => a + c.length, 0));
  out.set(sig, 0);
  let off = 8;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** A valid 8-bit RGBA PNG of the given pixels (filter 0 on every row). */
export function rgbaPng(width: number, height: number, rgba: Uint8Array): Uint8Array {
  const raw = new Uint8Array((width * 4 + 1) * height);
  for (let y = 0; y < height; y++)
    raw.set(rgba.subarray(y * width * 4, (y + 1) * width * 4), y * (width * 4 + 1) + 1);
  return pngFile(
    pngChunk("IHDR", pngHeader(width, height)),
    pngChunk("IDAT", deflateSync(raw)),
    pngChunk("IEND", new Uint8Array(0)),
  );
}

/**
 * Rewrites the CRC of every chunk whose length still fits, so mutated PNGs get past the CRC check
 * and exercise the header, palette, zlib and filter validation behind it.
 */
export function fixPngCrcs(bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  const v = new DataView(out.buffer);
  let pos = 8;
  while (pos + 12 <= out.length) {
    const length = v.getUint32(pos);
    if (pos + 12 + length > out.length) break;
    v.setUint32(pos + 8 + length, crc32(out.subarray(pos + 4, pos + 8 + length)));
    pos += 12 + length;
  }
  return out;
}
