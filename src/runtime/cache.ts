/**
 * A session cache over any backend: creating a session for the same model bytes and options
 * again returns the loaded one (onnxruntime sessions of big models take seconds to build).
 * Sessions are shared and reference-counted; unused ones are kept up to `maxIdle` and then
 * disposed, least recently used first.
 */
import type { Backend, Session, SessionOptions } from "./backend.js";

/** Options of {@link cachedBackend}. */
export interface SessionCacheOptions {
  /** Unused sessions kept loaded (default 4). */
  maxIdle?: number;
}

interface Entry {
  bytes: Uint8Array;
  key: string;
  session: Promise<Session>;
  users: number;
  lastUsed: number;
}

/** FNV-1a over the bytes (a key; equality is confirmed byte by byte). */
function fingerprint(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Wraps `backend` with a session cache.
 *
 * @example
 * ```ts
 * const backend = cachedBackend(nodeBackend());
 * const a = await backend.createSession(bytes); // loads
 * await a.dispose();                            // kept idle
 * const b = await backend.createSession(bytes); // the same session, no reload
 * ```
 */
export function cachedBackend(
  backend: Backend,
  options: SessionCacheOptions = {},
): Backend & { clear(): Promise<void> } {
  const maxIdle = options.maxIdle ?? 4;
  const entries: Entry[] = [];
  let clock = 0;
  const evict = async () => {
    const idle = entries.filter((e) => e.users === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    while (idle.length > maxIdle) {
      const e = idle.shift()!;
      entries.splice(entries.indexOf(e), 1);
      await (await e.session).dispose();
    }
  };
  return {
    name: backend.name,
    device: backend.device,
    gradientCache: backend.gradientCache,
    async createSession(model: Uint8Array | string, opts?: SessionOptions): Promise<Session> {
      if (typeof model === "string") return backend.createSession(model, opts); // a cache file: not shared
      const key = `${fingerprint(model)}|${model.length}|${JSON.stringify(opts ?? {})}`;
      let entry = entries.find((e) => e.key === key && sameBytes(e.bytes, model));
      if (!entry) {
        entry = {
          bytes: model.slice(),
          key,
          session: backend.createSession(model, opts),
          users: 0,
          lastUsed: 0,
        };
        entries.push(entry);
        entry.session.catch(() => entries.splice(entries.indexOf(entry!), 1));
      }
      const inner = await entry.session;
      entry.users++;
      entry.lastUsed = ++clock;
      const e = entry;
      let disposed = false;
      return {
        inputNames: inner.inputNames,
        outputNames: inner.outputNames,
        run: (feeds, fetches) => inner.run(feeds, fetches),
        async dispose() {
          if (disposed) return;
          disposed = true;
          e.users--;
          e.lastUsed = ++clock;
          await evict();
        },
      };
    },
    async clear() {
      const all = entries.splice(0, entries.length);
      for (const e of all) await (await e.session).dispose();
    },
  };
}
