/**
 * onnxruntime-web backend (wasm; WebGPU where the browser has it).
 */
import * as ort from "onnxruntime-web";
import type { Backend, SessionOptions } from "./backend.js";
import { type OrtModule, ortBackend } from "./ort.js";

/** A backend on onnxruntime-web. In Node, wasm runs single-threaded unless configured. */
export function webBackend(defaults: SessionOptions = {}): Backend {
  return ortBackend("onnxruntime-web", ort as unknown as OrtModule, defaults);
}
