/**
 * The graph onnxruntime's own optimizer writes (SessionOptions.optimizedModelFilePath), as
 * Hugging Face Optimum ships it: fused com.microsoft ops (FusedConv, SkipLayerNormalization,
 * Attention, …). Used to build test models exactly as users get them; Node only.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { RuntimeError } from "./backend.js";

/** Optimization level of {@link onnxruntimeOptimized} ("all" adds hardware-specific layouts). */
export type OrtOptimizationLevel = "basic" | "extended" | "all";

/** Returns the model bytes onnxruntime-node writes after optimizing `model` at `level` (CPU). */
export async function onnxruntimeOptimized(
  model: Uint8Array,
  level: OrtOptimizationLevel,
): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), "pathlens-ort-"));
  const path = join(dir, "optimized.onnx");
  try {
    const session = await ort.InferenceSession.create(model, {
      graphOptimizationLevel: level,
      optimizedModelFilePath: path,
      executionProviders: ["cpu"],
    });
    await session.release();
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new RuntimeError(`onnxruntime could not optimize the model: ${(e as Error).message}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
