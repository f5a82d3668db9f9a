/**
 * Reading and writing NumPy `.npy` files in Node (the byte format is in `npy-format.ts`).
 */
import { rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { PathlensError } from "../errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { encodeNpy, NpyError, parseNpy } from "./npy-format.js";
import { type OutputBody, writeOutputSet } from "./output-set.js";
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

/** A result holds NaN or ±Inf: nothing of the run is written. */
export class NonFiniteOutputError extends PathlensError {
  override name = "NonFiniteOutputError";
}

function assertFiniteOutput(path: string, t: Tensor): void {
  if (t.dtype !== "float32" && t.dtype !== "float64") return;
  const d = t.data as Float32Array | Float64Array;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i]!)) {
      throw new NonFiniteOutputError(
        `${path}: the result holds ${Number.isNaN(d[i]!) ? "NaN" : "an infinite value"} at element ${i} of ${d.length} (shape ${t.dims.join("×") || "scalar"}); nothing was written — check the model's weights and the inputs' range`,
      );
    }
  }
}

/**
 * Checks before any work that `dir` can hold the outputs, creating nothing: the folder, or when
 * it does not exist yet its nearest existing ancestor, must be a directory in which a probe file
 * can be created (and is removed at once). An unwritable or bogus folder fails in milliseconds.
 * @throws NpyError naming the folder and the system's reason
 */
export async function assertWritableFolder(dir: string): Promise<void> {
  const reason = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  let at = resolve(dir);
  for (;;) {
    const st = await stat(at).catch(() => undefined);
    if (st) {
      if (!st.isDirectory()) throw new NpyError(dir, "cannot create the output folder (ENOTDIR)");
      break;
    }
    if (dirname(at) === at) break;
    at = dirname(at);
  }
  const exists = at === resolve(dir);
  const probe = join(
    at,
    `.pathlens-probe-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
  );
  try {
    await writeFile(probe, "", { flag: "wx" });
  } catch (e) {
    throw new NpyError(
      dir,
      exists
        ? `the output folder is not writable (${reason(e)})`
        : `cannot create the output folder: ${at} is not writable (${reason(e)})`,
    );
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
}

/** Alias of {@link writeNpyFiles} for mixed outputs (tensors, JSON, HTML, images). */
export const writeOutputFiles = (dir: string, files: Record<string, Tensor | string | Uint8Array>) =>
  writeNpyFiles(dir, files);

/**
 * Writes several `.npy` files into `dir` (created if missing) as one atomic set (see
 * `writeOutputSet`): staged in a temporary folder, moved into place only when every file
 * was written, so a failure leaves `dir` as it was.
 * @param files - file name → a tensor (written as .npy), or text/bytes written as they are
 *   (summary.json, report.html, PNG images), so a run's whole output is one atomic set
 * @returns the paths written, in the order given
 * @throws NpyError naming the folder or file that could not be written
 */
export async function writeNpyFiles(
  dir: string,
  files: Record<string, Tensor | string | Uint8Array>,
): Promise<string[]> {
  // Finite or nothing: every tensor is checked before the first byte is written.
  const bodies: Record<string, OutputBody> = {};
  for (const [name, t] of Object.entries(files)) {
    if (typeof t === "string" || t instanceof Uint8Array) bodies[name] = t;
    else {
      assertFiniteOutput(join(dir, name), t);
      bodies[name] = encodeNpy(t, join(dir, name));
    }
  }
  return writeOutputSet(dir, bodies);
}
