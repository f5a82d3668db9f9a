/**
 * A run's output as one atomic set: every file is written into a staging folder first and only
 * then moved into place, so a failure at any file leaves the destination as it was — no new
 * files, earlier versions of replaced files restored, folders it created removed.
 *
 * A destination folder that does not exist yet is staged beside it and renamed into place in one
 * step. Into an existing folder, each file replaces its old version (kept in the staging folder
 * until every move succeeded, and moved back otherwise).
 */
import { mkdir, readdir, readFile, rename, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { NpyError } from "./npy-format.js";

/** File contents: text or bytes, written as they are. */
export type OutputBody = string | Uint8Array;

const code = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;
const tagOf = () => `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * `mkdir -p` one level at a time. Node's `mkdir(…, { recursive: true })` retries forever when
 * the system answers ENOENT for a folder whose parent exists (it does under /proc), so each
 * level is made with a plain mkdir and any error ends the walk.
 * @returns the first folder created, or undefined when `dir` already existed
 */
export async function makeFolder(dir: string): Promise<string | undefined> {
  const missing: string[] = [];
  let at = resolve(dir);
  for (;;) {
    const st = await stat(at).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return undefined;
      throw e;
    });
    if (st) {
      if (!st.isDirectory()) throw Object.assign(new Error(`${at} is not a directory`), { code: "ENOTDIR" });
      break;
    }
    missing.push(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (let k = missing.length - 1; k >= 0; k--) {
    await mkdir(missing[k]!).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "EEXIST") throw e;
    });
  }
  return missing[missing.length - 1];
}

/** Checks a relative output path: plain names joined by "/", no "..", nothing hidden. */
function checkedRelative(root: string, rel: string): string[] {
  const parts = rel.split("/");
  if (parts.some((p) => !p || p === ".." || p.startsWith(".") || p.includes("\\")))
    throw new NpyError(join(root, rel), "output file names must be plain names (a/b.npy at most)");
  return parts;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return false;
      throw e;
    },
  );
}

/** Writes every file under `stage` (a new folder). */
async function writeStage(stage: string, root: string, files: Record<string, OutputBody>): Promise<void> {
  try {
    await mkdir(stage);
  } catch (e) {
    throw new NpyError(root, `cannot create the output folder (${code(e)})`);
  }
  for (const [rel, body] of Object.entries(files)) {
    const parts = checkedRelative(root, rel);
    try {
      if (parts.length > 1) await mkdir(join(stage, ...parts.slice(0, -1)), { recursive: true });
      await writeFile(join(stage, ...parts), body);
    } catch (e) {
      throw new NpyError(join(root, rel), `cannot write the file (${code(e)})`);
    }
  }
}

/** Moves staged files into an existing `root` one by one, undoing every move on a failure. */
async function moveInto(stage: string, root: string, files: readonly string[]): Promise<void> {
  const undo: (() => Promise<void>)[] = [];
  let current = root;
  try {
    for (const rel of files) {
      const parts = rel.split("/");
      const target = join(root, ...parts);
      current = target;
      for (let k = 1; k < parts.length; k++) {
        const dir = join(root, ...parts.slice(0, k));
        if (!(await exists(dir))) {
          await mkdir(dir);
          undo.push(() => rmdir(dir).catch(() => {}));
        }
      }
      if (await exists(target)) {
        const old = join(stage, ".old", ...parts);
        await mkdir(dirname(old), { recursive: true });
        await rename(target, old);
        undo.push(() => rename(old, target).catch(() => {}));
      }
      await rename(join(stage, ...parts), target);
      undo.push(() => rm(target, { force: true }));
    }
  } catch (e) {
    for (const u of undo.reverse()) await u();
    throw new NpyError(current, `cannot move the file into place (${code(e)}); nothing was changed`);
  }
}

/**
 * Writes `files` (paths relative to `root`, "a/b.npy" at most one folder deep per part) as one
 * set: all of them appear, or none and `root` is left as it was.
 * @returns the absolute paths written, in the order given
 * @throws NpyError naming the folder or file that could not be written
 */
export async function writeOutputSet(root: string, files: Record<string, OutputBody>): Promise<string[]> {
  for (const rel of Object.keys(files)) checkedRelative(root, rel);
  const dest = resolve(root);
  const tag = tagOf();
  let fresh: boolean;
  let createdParent: string | undefined;
  try {
    fresh = !(await exists(dest));
    if (fresh) createdParent = await makeFolder(dirname(dest));
  } catch (e) {
    throw new NpyError(root, `cannot create the output folder (${code(e)})`);
  }
  const stage = fresh
    ? join(dirname(dest), `.${basename(dest)}.pathlens-${tag}`)
    : join(dest, `.pathlens-${tag}`);
  let done = false;
  try {
    await writeStage(stage, root, files);
    if (fresh) {
      try {
        await rename(stage, dest);
      } catch (e) {
        throw new NpyError(
          root,
          `cannot move the output folder into place (${code(e)}); nothing was written`,
        );
      }
    } else await moveInto(stage, dest, Object.keys(files));
    done = true;
  } finally {
    await rm(stage, { recursive: true, force: true });
    // Folders created for this run go too when it failed.
    if (!done && createdParent) await rm(createdParent, { recursive: true, force: true });
  }
  return Object.keys(files).map((rel) => join(root, ...rel.split("/")));
}

/**
 * A fresh, empty staging folder beside `root` for runs that write through other functions (the
 * demo's parts); pass it to {@link commitStagedFolder} when the run succeeded, or remove it.
 * @throws NpyError when the folder cannot be created
 */
export async function stagingFolderFor(root: string): Promise<string> {
  const dest = resolve(root);
  const stage = join(dirname(dest), `.${basename(dest)}.pathlens-${tagOf()}`);
  try {
    await makeFolder(stage);
  } catch (e) {
    throw new NpyError(root, `cannot create the output folder (${code(e)})`);
  }
  return stage;
}

async function treeFiles(dir: string, prefix: string, out: Record<string, OutputBody>): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) await treeFiles(join(dir, e.name), rel, out);
    else if (e.isFile()) out[rel] = new Uint8Array(await readFile(join(dir, e.name)));
  }
}

/**
 * Moves everything in `stage` into `root` as one set ({@link writeOutputSet}), then removes
 * `stage`.
 * @returns the paths written
 */
export async function commitStagedFolder(stage: string, root: string): Promise<string[]> {
  try {
    const files: Record<string, OutputBody> = {};
    await treeFiles(stage, "", files);
    return await writeOutputSet(root, files);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
