/**
 * onnxruntime-web backend (wasm; WebGPU where the browser has it).
 *
 * It runs unchanged under Node too: the package's `node` export condition selects
 * `ort.node.min.mjs`, which loads the wasm binary from `onnxruntime-web/dist` next to it, and
 * without cross-origin isolation onnxruntime-web runs wasm single-threaded (numThreads 1).
 * In a browser bundle, the bundler copies or references the wasm files; set `wasm.wasmPaths`
 * when they are served from elsewhere (e.g. a CDN).
 */
import * as ort from "onnxruntime-web";
import type { Backend, SessionOptions } from "./backend.js";
import { type DeviceOptions, type OrtModule, ortBackend } from "./ort.js";

/** Options of {@link webBackend}: session defaults plus the device ("webgpu" needs the WebGPU build, `onnxruntime-web/webgpu`, or a browser with WebGPU). */
export interface WebBackendOptions extends SessionOptions, DeviceOptions {}

/** Global onnxruntime-web wasm settings (`ort.env.wasm`); they apply to sessions created afterwards. */
export interface WasmOptions {
  /** wasm threads (1 = no worker threads; multi-threading needs cross-origin isolation in browsers). */
  numThreads?: number;
  /** URL prefix (or per-file map) where the `ort-wasm-*.wasm` / `.mjs` files are served. */
  wasmPaths?: string | Record<string, string>;
  /** Run inference in a web worker (browsers only). */
  proxy?: boolean;
}

/**
 * A backend on onnxruntime-web. Works in browsers and in Node (single-threaded wasm by default).
 * @param options - session options applied to every session (and the device, for WebGPU)
 * @param wasm - global wasm settings written to `ort.env.wasm` (only the fields given)
 */
export function webBackend(options: WebBackendOptions = {}, wasm: WasmOptions = {}): Backend {
  const env = ort.env.wasm as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(wasm)) if (v !== undefined) env[k] = v;
  const { device, providerOptions, ...defaults } = options;
  return ortBackend("onnxruntime-web", ort as unknown as OrtModule, defaults, { device, providerOptions });
}
