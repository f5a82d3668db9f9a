/**
 * onnxruntime-node backend: CPU, or WebGPU (bundled with onnxruntime-node; Dawn over Vulkan on
 * Linux, so any GPU with a Vulkan driver — nothing to download).
 */
import * as ort from "onnxruntime-node";
import type { Backend, GradientCache, SessionOptions } from "./backend.js";
import { gradientCacheFromEnv } from "./disk-cache.js";
import { type DeviceOptions, type OrtModule, ortBackend } from "./ort.js";

/** Options of {@link nodeBackend}: session defaults plus the device. */
export interface NodeBackendOptions extends SessionOptions, DeviceOptions {
  /**
   * Where built gradient models are kept between runs (default: the disk cache of
   * `gradientCacheFromEnv()`, see disk-cache.ts); `false` keeps none.
   */
  gradientCache?: GradientCache | false;
}

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
  const { device, providerOptions, gradientCache, ...defaults } = options;
  const backend = ortBackend("onnxruntime-node", ort as unknown as OrtModule, defaults, {
    device,
    providerOptions,
  });
  const cache = gradientCache === false ? undefined : (gradientCache ?? gradientCacheFromEnv());
  if (!cache) return backend;
  // the backend's own session defaults and device decide onnxruntime's optimized graph: part of every key
  const settings = JSON.stringify({ defaults, device, providerOptions });
  return { ...backend, gradientCache: { ...cache, key: (parts) => cache.key([...parts, settings]) } };
}
