/**
 * pathlens for browsers: everything in `pathlens`, plus the onnxruntime-web backend.
 * @packageDocumentation
 */
export * from "./index.js";
export { type WasmOptions, type WebBackendOptions, webBackend } from "./runtime/web.js";
