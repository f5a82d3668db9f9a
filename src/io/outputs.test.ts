import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { float32 } from "../tensor/tensor.js";
import { assertWritableFolder, NonFiniteOutputError, NpyError, writeNpyFiles } from "./npy.js";

test("a NaN or Inf result is refused before anything is written, naming the file and element", async () => {
  const dir = await mkdtemp(join(tmpdir(), "pathlens-out-"));
  try {
    await assert.rejects(
      writeNpyFiles(join(dir, "run"), {
        "attributions.npy": float32([2], [1, 2]),
        "delta.npy": float32([3], [0, Number.NaN, 1]),
      }),
      (e: unknown) =>
        e instanceof NonFiniteOutputError &&
        /delta\.npy: the result holds NaN at element 1 of 3/.test(e.message),
    );
    assert.equal(existsSync(join(dir, "run")), false);
    await assert.rejects(
      writeNpyFiles(dir, { "x.npy": float32([1], [Number.POSITIVE_INFINITY]) }),
      NonFiniteOutputError,
    );
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("output folders are checked writable at once (under /proc too) and nothing is left behind", async () => {
  const dir = await mkdtemp(join(tmpdir(), "pathlens-out-"));
  try {
    await assertWritableFolder(join(dir, "a", "b"));
    assert.deepEqual(await readdir(dir), []);
    const t0 = performance.now();
    if (existsSync("/proc/self"))
      await assert.rejects(assertWritableFolder("/proc/pathlens-out/x"), NpyError);
    await assert.rejects(assertWritableFolder("/dev/null/x"), /cannot create the output folder/);
    assert.ok(performance.now() - t0 < 5000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a failure at a later file leaves nothing: new folder absent, existing folder unchanged", async () => {
  const { writeFile, mkdir, readFile } = await import("node:fs/promises");
  const { writeOutputSet } = await import("./output-set.js");
  const dir = await mkdtemp(join(tmpdir(), "pathlens-out-"));
  try {
    // New folder, nested parents: the third file's name is too long for the file system.
    const fresh = join(dir, "a", "run");
    const files = { "x.npy": "1", "report/index.html": "<p>", ["y".repeat(300)]: "2" };
    await assert.rejects(
      writeOutputSet(fresh, files),
      (e: unknown) => e instanceof NpyError && /y{300}/.test((e as Error).message),
    );
    assert.deepEqual(await readdir(dir), []);
    // Existing folder with an older x.npy: the third move fails (a file sits where its folder goes).
    const old = join(dir, "old");
    await mkdir(old);
    await writeFile(join(old, "x.npy"), "old");
    await writeFile(join(old, "z.npy"), "file");
    const later = { "x.npy": "new", "w.npy": "new", "z.npy/c.npy": "new" };
    await assert.rejects(
      writeOutputSet(old, later),
      (e: unknown) => e instanceof NpyError && /z\.npy.c\.npy/.test((e as Error).message),
    );
    assert.deepEqual((await readdir(old)).sort(), ["x.npy", "z.npy"]);
    assert.equal(await readFile(join(old, "x.npy"), "utf8"), "old");
    // And a run that succeeds replaces and adds, leaving no staging folder.
    await writeOutputSet(old, { "x.npy": "new", "sub/w.npy": "w" });
    assert.deepEqual((await readdir(old)).sort(), ["sub", "x.npy", "z.npy"]);
    assert.equal(await readFile(join(old, "x.npy"), "utf8"), "new");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
