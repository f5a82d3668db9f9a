/**
 * PNG and JPEG in, PNG out (pure JavaScript: pngjs, jpeg-js). Images are RGBA, 8 bits per
 * channel, row-major.
 */

import { readFile } from "node:fs/promises";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { PathlensError } from "../errors.js";

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

/** Decodes PNG or JPEG bytes (recognised by their signature). */
export function decodeImage(bytes: Uint8Array, path = "image"): RgbaImage {
  const isPng =
    bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  try {
    if (isPng) {
      const png = PNG.sync.read(Buffer.from(bytes));
      return { width: png.width, height: png.height, data: new Uint8Array(png.data) };
    }
    if (isJpeg) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
      return { width: img.width, height: img.height, data: new Uint8Array(img.data) };
    }
  } catch (e) {
    throw new ImageDecodeError(
      path,
      `cannot decode the ${isPng ? "PNG" : "JPEG"} data (${(e as Error).message})`,
    );
  }
  throw new ImageDecodeError(path, "not a PNG or JPEG file");
}

/** Reads and decodes an image file. */
export async function readImage(path: string): Promise<RgbaImage> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new ImageDecodeError(
      path,
      `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  return decodeImage(bytes, path);
}

/** Encodes RGBA as PNG bytes. */
export function encodePng(image: RgbaImage): Uint8Array {
  const png = new PNG({ width: image.width, height: image.height });
  Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength).copy(png.data);
  return new Uint8Array(PNG.sync.write(png));
}
