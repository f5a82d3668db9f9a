/**
 * Writing a large float32 `.npy` piece by piece (the merged attributions of a data set), so merging
 * shards needs the memory of one shard, not of the whole data set. The header is the one
 * `encodeNpy` writes (a test checks they are byte-identical).
 */
import { open } from "node:fs/promises";

/** The `.npy` header (version 1.0, or 2.0 when long) of a little-endian float32 C-order array. */
export function float32NpyHeader(dims: readonly number[]): Uint8Array {
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(", ")})`;
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  let pre = 10;
  let total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  if (total - pre > 0xffff) {
    pre = 12;
    total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  }
  const out = new Uint8Array(total);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, pre === 10 ? 1 : 2, 0]);
  const view = new DataView(out.buffer);
  if (pre === 10) view.setUint16(8, total - pre, true);
  else view.setUint32(8, total - pre, true);
  const text = `${dict.padEnd(total - pre - 1, " ")}\n`;
  for (let k = 0; k < text.length; k++) out[pre + k] = text.charCodeAt(k);
  return out;
}

/**
 * Writes header + parts to `path` (a temporary name: the caller renames it) and fsyncs it.
 * `parts` yields the float32 data in order.
 */
export async function writeFloat32NpyStream(
  path: string,
  dims: readonly number[],
  parts: AsyncIterable<Float32Array>,
): Promise<void> {
  const fh = await open(path, "w");
  try {
    await fh.write(float32NpyHeader(dims));
    for await (const p of parts) await fh.write(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
    await fh.sync();
  } finally {
    await fh.close();
  }
}
