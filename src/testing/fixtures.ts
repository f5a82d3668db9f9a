/**
 * Test helper: reads files of test/fixtures (copies of the PyTorch/Captum reference files).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseNpy } from "../io/npy-format.js";
import { decodeModel } from "../onnx/codec.js";
import type { ModelProto } from "../onnx/types.js";
import type { Tensor } from "../tensor/tensor.js";

/** Absolute path of test/fixtures. */
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "test", "fixtures");

/**
 * Where the large reference files (resnet18, kept out of the repository) may be found:
 * $PATHLENS_LARGE_FIXTURES, else ../shared/fixtures beside the checkout. Tests that need them
 * are skipped when neither has them.
 */
export const LARGE_FIXTURES =
  process.env.PATHLENS_LARGE_FIXTURES ?? join(FIXTURES, "..", "..", "..", "shared", "fixtures");

/** Path of a fixture file, relative to test/fixtures (or to {@link LARGE_FIXTURES} for large ones). */
export function fixturePath(rel: string): string {
  const local = join(FIXTURES, rel);
  if (existsSync(local)) return local;
  const large = join(LARGE_FIXTURES, rel);
  return existsSync(large) ? large : local;
}

/** Reads a .npy fixture. */
export function readNpyFixture(rel: string): Tensor {
  return parseNpy(readFileSync(fixturePath(rel)), rel);
}

/** Reads an .onnx fixture. */
export function readModelFixture(rel: string): ModelProto {
  return decodeModel(readFileSync(fixturePath(rel)), rel);
}

/** Reads a JSON fixture. */
export function readJsonFixture<T = unknown>(rel: string): T {
  return JSON.parse(readFileSync(fixturePath(rel), "utf8")) as T;
}
