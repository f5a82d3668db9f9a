/**
 * onnxruntime's NCHWc block size on this machine, asked of onnxruntime itself: graphs written at
 * level "all" store convolution weights blocked by it (MLAS: 8 with AVX2, 16 with AVX-512), and
 * decomposing them needs it (see src/autodiff/decompositions/nchwc.ts).
 */
import { NCHWC_DOMAIN } from "../autodiff/decompositions/nchwc.js";
import { makeModel } from "../onnx/make.js";
import type { ModelProto } from "../onnx/types.js";
import { tensor } from "../tensor/tensor.js";
import { type Backend, RuntimeError } from "./backend.js";
import { probeShapes } from "./probe.js";

/** True when the main graph has onnxruntime NCHWc ops (a level-"all" graph). */
export function hasNchwcNodes(model: ModelProto): boolean {
  return model.graph?.node.some((n) => n.domain === NCHWC_DOMAIN) ?? false;
}

const known = new WeakMap<Backend, number>();

/**
 * The block size: ReorderInput pads 4 channels up to one block, so its output has b channels.
 * Throws {@link RuntimeError} when the backend has no NCHWc kernels (onnxruntime-web).
 */
export async function nchwcBlockSize(backend: Backend): Promise<number> {
  const cached = known.get(backend);
  if (cached !== undefined) return cached;
  const model = makeModel({
    opset: 13,
    inputs: [{ name: "x", dtype: "float32", dims: [1, 4, 1, 1] }],
    outputs: [{ name: "y", dtype: "float32" }],
    nodes: [{ op: "ReorderInput", inputs: ["x"], outputs: ["y"], domain: NCHWC_DOMAIN }],
  });
  model.opsetImport.push({ domain: NCHWC_DOMAIN, version: 1 });
  let b: number | undefined;
  try {
    const x = tensor("float32", [1, 4, 1, 1], new Float32Array(4));
    b = (await probeShapes(backend, model, { x }, true)).get("y")?.dims[1];
  } catch (e) {
    throw new RuntimeError(
      `the model has onnxruntime NCHWc ops (written at optimization level "all"), which ${backend.name} cannot run: ${(e as Error).message}`,
    );
  }
  if (b === undefined || b < 4)
    throw new RuntimeError(`${backend.name} reported no usable NCHWc block size (got ${b})`);
  known.set(backend, b);
  return b;
}
