/**
 * Crash-safe file writes: a file appears under its name complete or not at all. The bytes go to a
 * temporary name in the same folder, are fsynced, renamed into place, and the folder is fsynced so
 * the rename itself survives a power cut (SIGKILL alone only needs the rename).
 */
import { randomBytes } from "node:crypto";
import { open, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Writes `bytes` to `path` atomically and durably (temp name, fsync, rename, fsync of the folder). */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  await writeAtomicWith(path, async (tmp) => {
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
  });
}

/**
 * Lets `write` fill (and fsync) a temporary file next to `path`, then renames it into place and
 * fsyncs the folder; on failure the temporary file is removed.
 */
export async function writeAtomicWith(path: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await write(tmp);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dir);
}

/** fsyncs a folder so renames in it are durable (a no-op where folders cannot be opened, e.g. Windows). */
export async function syncDir(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch {
    // not supported on this platform/filesystem: the rename is still atomic
  } finally {
    await fh?.close();
  }
}

/** Removes temporary files left by writers that were killed mid-write (only ours: `.NAME.PID.HEX.tmp`). */
export async function removeStaleTemps(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  const mine = /^\..+\.\d+\.[0-9a-f]{8}\.tmp$/;
  await Promise.all(names.filter((n) => mine.test(n)).map((n) => rm(join(dir, n), { force: true })));
}
