/**
 * onnxruntime-node backend: CPU, or WebGPU (bundled with onnxruntime-node; Dawn over Vulkan on
 * Linux, so any GPU with a Vulkan driver — nothing to download).
 */
import * as ort from "onnxruntime-node";
import type { Backend, SessionOptions } from "./backend.js";
import { type DeviceOptions, type OrtModule, ortBackend } from "./ort.js";

/** Options of {@link nodeBackend}: session defaults plus the device. */
export interface NodeBackendOptions extends SessionOptions, DeviceOptions {}

/**
 * A backend on onnxruntime-node.
 *
 * @example
 * ```ts
 * const cpu = nodeBackend();
 * const gpu = nodeBackend({ device: "webgpu" }); // DeviceError on first use when no adapter exists
 * ```
 */
export function nodeBackend(options: NodeBackendOptions = {}): Backend {
  const { device, providerOptions, ...defaults } = options;
  return ortBackend("onnxruntime-node", ort as unknown as OrtModule, defaults, { device, providerOptions });
}
