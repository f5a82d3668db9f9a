/**
 * Test helper: reads files of test/fixtures (copies of the PyTorch/Captum reference files).
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseNpy } from "../io/npy-format.js";
import { decodeModel } from "../onnx/codec.js";
import type { ModelProto } from "../onnx/types.js";
import type { Tensor } from "../tensor/tensor.js";

/** Absolute path of test/fixtures. */
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "test", "fixtures");

/** Path of a fixture file, relative to test/fixtures. */
export function fixturePath(rel: string): string {
  return join(FIXTURES, rel);
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
