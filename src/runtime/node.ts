/**
 * onnxruntime-node backend (CPU; CUDA where the user installed it).
 */
import * as ort from "onnxruntime-node";
import type { Backend, SessionOptions } from "./backend.js";
import { type OrtModule, ortBackend } from "./ort.js";

/** A backend on onnxruntime-node. */
export function nodeBackend(defaults: SessionOptions = {}): Backend {
  return ortBackend("onnxruntime-node", ort as unknown as OrtModule, defaults);
}
