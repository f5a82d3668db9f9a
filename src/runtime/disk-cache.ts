/**
 * The on-disk gradient cache (Node only): built gradient models kept in a folder between
 * processes, so a second run of the same model skips decomposition, the shape probe and the
 * gradient transform.
 *
 * Folder: `$PATHLENS_CACHE_DIR`, else `$XDG_CACHE_HOME/pathlens`, else `~/.cache/pathlens`.
 * Off with `PATHLENS_CACHE=0`, and off by default under node's test runner (NODE_TEST_CONTEXT),
 * so test files never share entries by accident (`PATHLENS_CACHE=1` turns it back on there).
 * Concurrent processes are safe: entries are written to a unique temporary name and renamed
 * (readers see no entry or a whole one). The folder is kept under `maxBytes`, least recently
 * used (by mtime, touched on each hit) evicted first, after each write.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { cpus, homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PathlensError } from "../errors.js";
import type { GradientCache } from "./backend.js";

/** Raised when a gradient cache key is not a sha256 digest (it would name a path outside the folder). */
export class CacheKeyError extends PathlensError {
  override name = "CacheKeyError";
}

/** Default bound on the folder's size: 1 GiB. */
export const DEFAULT_CACHE_BYTES = 1024 ** 3;

const SUFFIX = ".plgc";

/** Options of {@link diskGradientCache}. */
export interface DiskGradientCacheOptions {
  /** The folder (default {@link defaultCacheDir}); created on first write. */
  dir?: string;
  /** Size bound of the folder's entries in bytes (default {@link DEFAULT_CACHE_BYTES}). */
  maxBytes?: number;
}

/** The cache folder from the environment: PATHLENS_CACHE_DIR, XDG_CACHE_HOME/pathlens, ~/.cache/pathlens. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PATHLENS_CACHE_DIR) return env.PATHLENS_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "pathlens");
  return join(homedir(), ".cache", "pathlens");
}

/**
 * The cache the Node backend uses by default: a {@link diskGradientCache} in
 * {@link defaultCacheDir}, or undefined when PATHLENS_CACHE=0 (or under node's test runner
 * without PATHLENS_CACHE=1).
 */
export function gradientCacheFromEnv(env: NodeJS.ProcessEnv = process.env): GradientCache | undefined {
  const flag = env.PATHLENS_CACHE;
  if (flag === "0" || flag === "false" || flag === "off") return undefined;
  if (env.NODE_TEST_CONTEXT && flag !== "1") return undefined;
  return diskGradientCache({ dir: defaultCacheDir(env) });
}

/** A {@link GradientCache} in a folder on disk. */
export function diskGradientCache(options: DiskGradientCacheOptions = {}): GradientCache {
  const dir = options.dir ?? defaultCacheDir();
  const maxBytes = options.maxBytes ?? DEFAULT_CACHE_BYTES;
  const pathOf = (key: string) => {
    if (!/^[0-9a-f]{64}$/.test(key))
      throw new CacheKeyError(`gradient cache key "${key}" is not a sha256 digest`);
    return join(dir, key + SUFFIX);
  };
  return {
    key(parts) {
      const h = createHash("sha256");
      h.update(codeStamp());
      for (const p of parts) {
        const bytes = typeof p === "string" ? Buffer.from(p, "utf8") : p;
        h.update(`${bytes.length}:`);
        h.update(bytes);
      }
      return h.digest("hex");
    },
    async get(key) {
      const path = pathOf(key);
      try {
        const b = await readFile(path);
        const bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength); // no copy
        const now = new Date();
        await utimes(path, now, now).catch(() => {});
        return bytes;
      } catch {
        return undefined;
      }
    },
    async put(key, entry) {
      const path = pathOf(key);
      await mkdir(dir, { recursive: true });
      const tmp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
      try {
        await writeFile(tmp, entry);
        await rename(tmp, path);
      } catch (e) {
        await unlink(tmp).catch(() => {});
        throw e;
      }
      await evict(dir, maxBytes, path);
    },
    async locate(key) {
      const path = pathOf(key);
      const now = new Date();
      // touching it both marks it used (eviction order) and tells whether it exists
      return utimes(path, now, now).then(
        () => path,
        () => undefined,
      );
    },
    getSync(key) {
      try {
        const b = readFileSync(pathOf(key));
        return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      } catch {
        return undefined;
      }
    },
    async remove(key) {
      await unlink(pathOf(key)).catch(() => {});
    },
    tempPath() {
      mkdirSync(dir, { recursive: true });
      return join(dir, `${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
    },
    async adopt(key, tempPath) {
      try {
        await rename(tempPath, pathOf(key));
      } catch (e) {
        await unlink(tempPath).catch(() => {});
        throw e;
      }
      await evict(dir, maxBytes, pathOf(key));
    },
  };
}

let stamp: string | undefined;

/**
 * A stamp of the gradient transform's code (names, sizes and mtimes of the autodiff, onnx and
 * runtime modules), of onnxruntime-node and of the CPU model,, part of every key: entries built by other code — an upgrade, or an edited rule in a
 * checkout — are never loaded.
 */
function codeStamp(): string {
  if (stamp !== undefined) return stamp;
  const here = dirname(fileURLToPath(import.meta.url));
  const parts: string[] = [];
  const walk = (folder: string) => {
    try {
      for (const e of readdirSync(folder, { withFileTypes: true }).sort((a, b) =>
        a.name < b.name ? -1 : 1,
      )) {
        const path = join(folder, e.name);
        if (e.isDirectory()) walk(path);
        else if (!e.name.includes(".test."))
          parts.push(`${e.name}:${statSync(path).size}:${statSync(path).mtimeMs}`);
      }
    } catch {
      parts.push(`${folder}:unreadable`);
    }
  };
  for (const folder of ["autodiff", "onnx", "runtime"]) walk(join(here, "..", folder));
  try {
    // onnxruntime's version decides its optimized graphs
    const ortMain = fileURLToPath(import.meta.resolve("onnxruntime-node"));
    parts.push(`onnxruntime-node:${statSync(ortMain).mtimeMs}:${statSync(ortMain).size}`);
  } catch {
    parts.push("onnxruntime-node:unresolved");
  }
  // onnxruntime's "all"-level graphs use this CPU's instructions and layouts
  parts.push(`cpu:${cpus()[0]?.model ?? "unknown"}`);
  stamp = parts.join("|");
  return stamp;
}

/**
 * Deletes the least recently used entries until the folder's entries total at most `maxBytes`
 * (the entry just written, `keep`, last of all), and temporary files left by crashed writers
 * more than an hour old. Files vanishing meanwhile (another process evicting) are fine.
 */
async function evict(dir: string, maxBytes: number, keep: string): Promise<void> {
  const entries: { path: string; size: number; mtime: number }[] = [];
  const now = Date.now();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, name);
    const s = await stat(path).catch(() => undefined);
    if (!s?.isFile()) continue;
    if (name.endsWith(".tmp")) {
      if (now - s.mtimeMs > 3600_000) await unlink(path).catch(() => {});
    } else if (name.endsWith(SUFFIX)) entries.push({ path, size: s.size, mtime: s.mtimeMs });
  }
  entries.sort((a, b) => (a.path === keep ? 1 : b.path === keep ? -1 : a.mtime - b.mtime));
  let total = entries.reduce((sum, e) => sum + e.size, 0);
  for (const e of entries) {
    if (total <= maxBytes) break;
    await unlink(e.path).catch(() => {});
    total -= e.size;
  }
}
