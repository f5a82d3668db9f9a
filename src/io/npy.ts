/**
 * Reading and writing NumPy `.npy` files in Node (the byte format is in `npy-format.ts`).
 */
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Tensor } from "../tensor/tensor.js";
import { encodeNpy, NpyError, parseNpy } from "./npy-format.js";
import { FILE_SIZE_LIMITS, readRegularFile } from "./regular-file.js";

export { encodeNpy, NpyError, type NpyHeader, parseNpy, parseNpyHeader } from "./npy-format.js";

/**
 * Reads a `.npy` file (float32, float64, int64, int32, bool, uint8, int8; C order, little-endian).
 * @throws NpyError naming the file when it cannot be read or is not a supported `.npy`
 */
export async function readNpy(path: string): Promise<Tensor> {
  const bytes = await readRegularFile(path, FILE_SIZE_LIMITS.array, (p) => new NpyError(path, p));
  return parseNpy(bytes, path);
}

/**
 * Writes a tensor as a `.npy` file, byte-compatible with `numpy.save`.
 * @throws NpyError naming the file when it cannot be written
 */
export async function writeNpy(path: string, t: Tensor): Promise<void> {
  const bytes = encodeNpy(t, path);
  try {
    await writeFile(path, bytes);
  } catch (e) {
    throw new NpyError(
      path,
      `cannot write the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}

/** Alias of {@link writeNpyFiles} for mixed outputs (tensors, JSON, HTML, images). */
export const writeOutputFiles = (dir: string, files: Record<string, Tensor | string | Uint8Array>) =>
  writeNpyFiles(dir, files);

/**
 * Writes several `.npy` files into `dir` (created if missing) as one set: every file is first
 * written to a temporary name in `dir`, and only when all writes succeeded are they renamed into
 * place, so a failure never leaves a partial set of new files.
 * @param files - file name → a tensor (written as .npy), or text/bytes written as they are
 *   (summary.json, report.html, PNG images), so a run's whole output is one atomic set
 * @returns the paths written, in the order given
 * @throws NpyError naming the folder or file that could not be written
 */
export async function writeNpyFiles(
  dir: string,
  files: Record<string, Tensor | string | Uint8Array>,
): Promise<string[]> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new NpyError(
      dir,
      `cannot create the output folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  const tag = `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const entries = Object.entries(files).map(([name, t]) => {
    if (name.includes("/") || name.includes("\\") || name.startsWith(".")) {
      throw new NpyError(join(dir, name), "output file names must be plain names");
    }
    return { path: join(dir, name), tmp: join(dir, `.${name}.${tag}.tmp`), t };
  });
  let current = dir;
  try {
    for (const e of entries) {
      current = e.path;
      const body = typeof e.t === "string" || e.t instanceof Uint8Array ? e.t : encodeNpy(e.t, e.path);
      await writeFile(e.tmp, body);
    }
    for (const e of entries) {
      current = e.path;
      await rename(e.tmp, e.path);
    }
  } catch (err) {
    await Promise.all(entries.map((e) => rm(e.tmp, { force: true })));
    if (err instanceof NpyError) throw err;
    throw new NpyError(
      current,
      `cannot write the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  return entries.map((e) => e.path);
}
