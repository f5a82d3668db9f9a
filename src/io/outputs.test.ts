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
