/**
 * A PNG decoder that validates before it allocates. pngjs (used before) hands uninitialised heap
 * memory to its unfilter step when the zlib stream ends early (its synchronous inflate allocates
 * the output with `Buffer.allocUnsafe`), so a truncated IDAT decoded differently from run to run
 * and could leak process memory into pixels. Here every chunk's length and CRC is checked, the
 * header is sane and the declared size within {@link MAX_IMAGE_PIXELS} before any pixel memory
 * exists, inflation is bounded by the exact size the header implies (a zlib bomb stops there),
 * the inflated size must match exactly, and all pixel memory is zero-filled typed arrays.
 */
import { inflateSync } from "node:zlib";
import { PathlensError } from "../errors.js";

/** Largest width × height decoded (64 megapixels: 256 MiB of RGBA). */
export const MAX_IMAGE_PIXELS = 2 ** 26;

/** Bytes that are not a PNG pathlens accepts; says what is wrong (the caller adds the file). */
export class PngFormatError extends PathlensError {
  override name = "PngFormatError";
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Samples per pixel of each colour type, and the bit depths allowed for it. */
const COLOR_TYPES: Record<number, { channels: number; depths: number[] }> = {
  0: { channels: 1, depths: [1, 2, 4, 8, 16] },
  2: { channels: 3, depths: [8, 16] },
  3: { channels: 1, depths: [1, 2, 4, 8] },
  4: { channels: 2, depths: [8, 16] },
  6: { channels: 4, depths: [8, 16] },
};

interface Header {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  channels: number;
  interlaced: boolean;
}

interface Chunks {
  header: Header;
  idat: Uint8Array;
  palette?: Uint8Array;
  transparency?: Uint8Array;
}

function parseHeader(d: Uint8Array): Header {
  if (d.length !== 13) throw new PngFormatError(`IHDR has ${d.length} bytes, not 13`);
  const v = new DataView(d.buffer, d.byteOffset, 13);
  const width = v.getUint32(0);
  const height = v.getUint32(4);
  const [depth, colorType, compression, filter, interlace] = [d[8]!, d[9]!, d[10]!, d[11]!, d[12]!];
  if (width === 0 || height === 0) throw new PngFormatError(`the image is ${width}×${height}: empty`);
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new PngFormatError(
      `the image declares ${width}×${height} pixels, more than the limit of ${MAX_IMAGE_PIXELS}`,
    );
  }
  const ct = COLOR_TYPES[colorType];
  if (!ct) throw new PngFormatError(`unknown colour type ${colorType}`);
  if (!ct.depths.includes(depth))
    throw new PngFormatError(`bit depth ${depth} is not valid for colour type ${colorType}`);
  if (compression !== 0 || filter !== 0 || interlace > 1) {
    throw new PngFormatError(
      `unknown compression/filter/interlace method ${compression}/${filter}/${interlace}`,
    );
  }
  return { width, height, depth, colorType, channels: ct.channels, interlaced: interlace === 1 };
}

/** Walks the chunks, checking lengths, CRCs and order; concatenates the IDAT data. */
function readChunks(bytes: Uint8Array): Chunks {
  if (bytes.length < 8 || SIGNATURE.some((b, k) => bytes[k] !== b)) {
    throw new PngFormatError("not a PNG (bad signature)");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  let header: Header | undefined;
  const idat: Uint8Array[] = [];
  let idatDone = false;
  let palette: Uint8Array | undefined;
  let transparency: Uint8Array | undefined;
  for (;;) {
    if (pos + 12 > bytes.length) throw new PngFormatError(`truncated at byte ${pos} (no IEND chunk)`);
    const length = view.getUint32(pos);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    if (!/^[A-Za-z]{4}$/.test(type)) throw new PngFormatError(`invalid chunk type at byte ${pos}`);
    if (length > 2 ** 31 - 1 || pos + 12 + length > bytes.length) {
      throw new PngFormatError(
        `chunk ${type} at byte ${pos} declares ${length} bytes, past the end of the file`,
      );
    }
    const data = bytes.subarray(pos + 8, pos + 8 + length);
    if (crc32(bytes, pos + 4, pos + 8 + length) !== view.getUint32(pos + 8 + length)) {
      throw new PngFormatError(`chunk ${type} at byte ${pos} fails its CRC check (corrupt file)`);
    }
    if (!header && type !== "IHDR") throw new PngFormatError(`the first chunk is ${type}, not IHDR`);
    if (type === "IHDR") {
      if (header) throw new PngFormatError("more than one IHDR chunk");
      header = parseHeader(data);
    } else if (type === "IDAT") {
      if (idatDone) throw new PngFormatError("IDAT chunks are not consecutive");
      idat.push(data);
    } else if (idat.length > 0) idatDone = true;
    if (type === "PLTE") palette = data;
    if (type === "tRNS") transparency = data;
    if (type === "IEND") break;
    pos += 12 + length;
  }
  if (idat.length === 0) throw new PngFormatError("no IDAT chunk (no image data)");
  let total = 0;
  for (const d of idat) total += d.length;
  const joined = new Uint8Array(total);
  let off = 0;
  for (const d of idat) {
    joined.set(d, off);
    off += d.length;
  }
  return { header: header!, idat: joined, palette, transparency };
}

/** Adam7 passes: x0, y0, dx, dy. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

interface Pass {
  x0: number;
  y0: number;
  dx: number;
  dy: number;
  w: number;
  h: number;
}

function passesOf(h: Header): Pass[] {
  if (!h.interlaced) return [{ x0: 0, y0: 0, dx: 1, dy: 1, w: h.width, h: h.height }];
  return ADAM7.map(([x0, y0, dx, dy]) => ({
    x0,
    y0,
    dx,
    dy,
    w: Math.max(0, Math.ceil((h.width - x0) / dx)),
    h: Math.max(0, Math.ceil((h.height - y0) / dy)),
  })).filter((p) => p.w > 0 && p.h > 0);
}

function rowBytes(h: Header, w: number): number {
  return Math.ceil((w * h.channels * h.depth) / 8);
}

/** Reverses the per-row filters of one pass in place, row by row. */
function unfilter(data: Uint8Array, start: number, rows: number, stride: number, bpp: number): void {
  for (let y = 0; y < rows; y++) {
    const at = start + y * (stride + 1);
    const type = data[at]!;
    const cur = at + 1;
    const prev = y > 0 ? cur - (stride + 1) : -1;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? data[cur + x - bpp]! : 0;
      const b = prev >= 0 ? data[prev + x]! : 0;
      const c = prev >= 0 && x >= bpp ? data[prev + x - bpp]! : 0;
      let add: number;
      if (type === 0) add = 0;
      else if (type === 1) add = a;
      else if (type === 2) add = b;
      else if (type === 3) add = (a + b) >>> 1;
      else if (type === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        add = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else throw new PngFormatError(`row ${y} has unknown filter type ${type}`);
      data[cur + x] = (data[cur + x]! + add) & 0xff;
    }
  }
}

/** The 8-bit value of sample `k` of a row (16-bit samples keep their high byte). */
function sample(data: Uint8Array, row: number, k: number, depth: number): number {
  if (depth === 8) return data[row + k]!;
  if (depth === 16) return data[row + 2 * k]!;
  const bit = k * depth;
  return (data[row + (bit >> 3)]! >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
}

function sample16(data: Uint8Array, row: number, k: number): number {
  return (data[row + 2 * k]! << 8) | data[row + 2 * k + 1]!;
}

/** Writes the pixels of one pass into the RGBA output. */
function expandPass(c: Chunks, data: Uint8Array, start: number, p: Pass, out: Uint8Array): void {
  const { depth, colorType, channels, width } = c.header;
  const stride = rowBytes(c.header, p.w);
  const scale = depth < 8 && colorType === 0 ? 255 / ((1 << depth) - 1) : 1;
  const tr = c.transparency;
  const trKey = (i: number) => (tr && tr.length >= 2 * i + 2 ? (tr[2 * i]! << 8) | tr[2 * i + 1]! : -1);
  const paletteSize = c.palette ? c.palette.length / 3 : 0;
  for (let y = 0; y < p.h; y++) {
    const row = start + y * (stride + 1) + 1;
    for (let x = 0; x < p.w; x++) {
      const o = ((p.y0 + y * p.dy) * width + p.x0 + x * p.dx) * 4;
      const s = (k: number) => sample(data, row, x * channels + k, depth);
      const raw = (k: number) =>
        depth === 16 ? sample16(data, row, x * channels + k) : sample(data, row, x * channels + k, depth);
      if (colorType === 3) {
        const i = s(0);
        if (i >= paletteSize)
          throw new PngFormatError(
            `pixel (${p.x0 + x * p.dx}, ${p.y0 + y * p.dy}) uses palette entry ${i} of ${paletteSize}`,
          );
        out[o] = c.palette![3 * i]!;
        out[o + 1] = c.palette![3 * i + 1]!;
        out[o + 2] = c.palette![3 * i + 2]!;
        out[o + 3] = tr && i < tr.length ? tr[i]! : 255;
      } else if (colorType === 0 || colorType === 4) {
        const g = Math.round(s(0) * scale);
        out[o] = out[o + 1] = out[o + 2] = g;
        out[o + 3] = colorType === 4 ? s(1) : raw(0) === trKey(0) ? 0 : 255;
      } else {
        out[o] = s(0);
        out[o + 1] = s(1);
        out[o + 2] = s(2);
        const opaque = raw(0) !== trKey(0) || raw(1) !== trKey(1) || raw(2) !== trKey(2);
        out[o + 3] = colorType === 6 ? s(3) : opaque ? 255 : 0;
      }
    }
  }
}

/**
 * Decodes PNG bytes into 8-bit RGBA (16-bit samples keep their high byte; gamma is not applied).
 * @throws PngFormatError naming what is wrong: signature, chunk length or CRC, header, missing
 *   or incomplete image data, size over {@link MAX_IMAGE_PIXELS}, palette, filter
 */
export function decodePng(bytes: Uint8Array): { width: number; height: number; data: Uint8Array } {
  const c = readChunks(bytes);
  const h = c.header;
  if (h.colorType === 3) {
    if (
      !c.palette ||
      c.palette.length % 3 !== 0 ||
      c.palette.length === 0 ||
      c.palette.length / 3 > 1 << h.depth
    ) {
      throw new PngFormatError("a palette image without a valid PLTE chunk");
    }
  }
  const passes = passesOf(h);
  let expected = 0;
  for (const p of passes) expected += (rowBytes(h, p.w) + 1) * p.h;
  let inflated: Uint8Array;
  try {
    // Bounded by the size the header implies: a decompression bomb stops at expected + 1 bytes.
    inflated = inflateSync(c.idat, { maxOutputLength: expected + 1 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ERR_BUFFER_TOO_LARGE") {
      throw new PngFormatError(
        `the image data inflates to more than the ${expected} bytes its header implies`,
      );
    }
    throw new PngFormatError(`the image data is not a valid zlib stream (${(e as Error).message})`);
  }
  if (inflated.length !== expected) {
    throw new PngFormatError(
      `the image data inflates to ${inflated.length} bytes, the header implies ${expected} (truncated or extra data)`,
    );
  }
  const data = new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
  const bpp = Math.max(1, (h.channels * h.depth) >> 3);
  const out = new Uint8Array(h.width * h.height * 4);
  let start = 0;
  for (const p of passes) {
    const stride = rowBytes(h, p.w);
    unfilter(data, start, p.h, stride, bpp);
    expandPass(c, data, start, p, out);
    start += (stride + 1) * p.h;
  }
  return { width: h.width, height: h.height, data: out };
}
