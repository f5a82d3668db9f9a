/**
 * PNG and JPEG in, PNG out (pure JavaScript: png.ts decodes, jpeg-js, pngjs only encodes).
 * Images are RGBA, 8 bits per channel, row-major.
 */

import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { PathlensError } from "../errors.js";
import { decodePng, MAX_IMAGE_PIXELS } from "./png.js";
import { FILE_SIZE_LIMITS, readRegularFile } from "./regular-file.js";

/** An 8-bit RGBA image. */
export interface RgbaImage {
  width: number;
  height: number;
  /** width × height × 4 bytes, row-major. */
  data: Uint8Array;
}

/** An image file that cannot be read; names the file. */
export class ImageDecodeError extends PathlensError {
  override name = "ImageDecodeError";
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

/**
 * The frame size a JPEG declares in its first SOFn marker, read before decoding so that an
 * empty or oversized image is refused before any pixel memory is allocated.
 */
function jpegFrameSize(bytes: Uint8Array): { width: number; height: number } {
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) throw new Error(`no marker at byte ${pos}`);
    const marker = bytes[pos + 1]!;
    if (marker === 0xff) {
      pos++;
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) break;
    const length = (bytes[pos + 2]! << 8) | bytes[pos + 3]!;
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (pos + 9 > bytes.length) break;
      return {
        height: (bytes[pos + 5]! << 8) | bytes[pos + 6]!,
        width: (bytes[pos + 7]! << 8) | bytes[pos + 8]!,
      };
    }
    if (length < 2) throw new Error(`marker 0x${marker.toString(16)} has length ${length}`);
    pos += 2 + length;
  }
  throw new Error("no frame header (SOF marker) before the image data");
}

function decodeJpeg(bytes: Uint8Array): RgbaImage {
  const { width, height } = jpegFrameSize(bytes);
  if (width === 0 || height === 0) throw new Error(`the image is ${width}×${height}: empty`);
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new Error(
      `the image declares ${width}×${height} pixels, more than the limit of ${MAX_IMAGE_PIXELS}`,
    );
  }
  const img = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: true,
    maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
    maxMemoryUsageInMB: 1024,
  });
  if (img.width !== width || img.height !== height || img.data.length !== width * height * 4) {
    throw new Error(`decoded ${img.width}×${img.height}, the frame header says ${width}×${height}`);
  }
  return { width, height, data: new Uint8Array(img.data) };
}

/**
 * Decodes PNG or JPEG bytes (recognised by their signature). Headers are validated and the
 * declared size checked against {@link MAX_IMAGE_PIXELS} before pixel memory is allocated.
 * @throws ImageDecodeError naming the file and what is wrong
 */
export function decodeImage(bytes: Uint8Array, path = "image"): RgbaImage {
  const isPng =
    bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (!isPng && !isJpeg) throw new ImageDecodeError(path, "not a PNG or JPEG file");
  try {
    return isPng ? decodePng(bytes) : decodeJpeg(bytes);
  } catch (e) {
    // jpeg-js throws strings and plain Errors; keep only the first line of whatever it says.
    const text = e instanceof Error ? e.message : String(e);
    throw new ImageDecodeError(
      path,
      `cannot decode the ${isPng ? "PNG" : "JPEG"} data (${text.split("\n")[0]!.slice(0, 200)})`,
    );
  }
}

/** Reads and decodes an image file. */
export async function readImage(path: string): Promise<RgbaImage> {
  const bytes = await readRegularFile(path, FILE_SIZE_LIMITS.image, (p) => new ImageDecodeError(path, p));
  return decodeImage(bytes, path);
}

/** Encodes RGBA as PNG bytes. */
export function encodePng(image: RgbaImage): Uint8Array {
  const png = new PNG({ width: image.width, height: image.height });
  Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength).copy(png.data);
  return new Uint8Array(PNG.sync.write(png));
}
