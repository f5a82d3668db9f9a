/**
 * The runtime interface the attribution algorithms use: sessions created from model bytes,
 * run on plain tensors. Implementations wrap onnxruntime-node and onnxruntime-web.
 */
import { PathlensError } from "../errors.js";
import type { Tensor } from "../tensor/tensor.js";

/** Options when creating a session. */
export interface SessionOptions {
  /** Threads inside one op (default: onnxruntime's choice). */
  intraOpThreads?: number;
  /** Execution providers, in preference order (e.g. ["cuda", "cpu"]); default CPU / wasm. */
  executionProviders?: string[];
  /**
   * Graph optimisation level. pathlens never saves an optimised model; the default "all"
   * fuses Conv+Relu etc. inside the session only.
   */
  optimization?: "disabled" | "basic" | "extended" | "all";
}

/** A loaded model. */
export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the model; returns the requested outputs (all when `fetches` is omitted). */
  run(feeds: Record<string, Tensor>, fetches?: readonly string[]): Promise<Record<string, Tensor>>;
  /** Frees native memory. */
  dispose(): Promise<void>;
}

/** Creates sessions; one per runtime package. */
export interface Backend {
  /** "onnxruntime-node", "onnxruntime-web", … */
  readonly name: string;
  createSession(model: Uint8Array, options?: SessionOptions): Promise<Session>;
}

/** Raised when onnxruntime rejects a model or a run; keeps onnxruntime's message. */
export class RuntimeError extends PathlensError {
  override name = "RuntimeError";
}
