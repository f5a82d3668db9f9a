/**
 * pathlens for browsers: everything in `pathlens`, plus the onnxruntime-web backend.
 * @packageDocumentation
 */
export * from "./index.js";
export { type WasmOptions, webBackend } from "./runtime/web.js";
