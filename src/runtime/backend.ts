/**
 * The runtime interface the attribution algorithms use: sessions created from model bytes,
 * run on plain tensors. Implementations wrap onnxruntime-node and onnxruntime-web.
 */

import type { GradientDevice } from "../autodiff/builder.js";
import { PathlensError } from "../errors.js";
import type { Tensor } from "../tensor/tensor.js";

/** Options when creating a session. */
export interface SessionOptions {
  /** Threads inside one op (default: onnxruntime's choice). */
  intraOpThreads?: number;
  /**
   * Execution providers, in preference order: names (`["webgpu", "cpu"]`) or onnxruntime's
   * provider objects with their options (`[{ name: "webgpu", preferredLayout: "NCHW" }]`).
   * Default CPU / wasm. Prefer the backends' `device` option, which also picks the gradient
   * formulations the device runs in place.
   */
  executionProviders?: (string | ExecutionProviderConfig)[];
  /**
   * Graph optimisation level. pathlens never saves an optimised model; the default "all"
   * fuses Conv+Relu etc. inside the session only.
   */
  optimization?: "disabled" | "basic" | "extended" | "all";
  /**
   * Node only: where onnxruntime writes the graph it optimized (the gradient cache keeps it, so a
   * later run loads it at "disabled" and skips optimization). Never the user's model.
   */
  optimizedModelFilePath?: string;
  /**
   * The model is a graph pathlens built from a model that was checked already (gradient, probe
   * and cached graphs): the structural checker is skipped. User models are always checked.
   */
  prechecked?: boolean;
}

/** An onnxruntime execution provider with its options (passed through unchanged). */
export interface ExecutionProviderConfig {
  name: string;
  [option: string]: unknown;
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
  /**
   * The device sessions run on: gradient graphs are built with formulations it runs in place
   * (see {@link GradientDevice}). Undefined means "cpu".
   */
  readonly device?: GradientDevice;
  /**
   * Loads a model from its bytes, or (Node) from a file onnxruntime reads itself — only files
   * pathlens wrote (its gradient cache), which are never checked.
   */
  createSession(model: Uint8Array | string, options?: SessionOptions): Promise<Session>;
  /**
   * Where built gradient models are kept between processes (Node: a folder on disk, see
   * `diskGradientCache`); undefined means every session is built from scratch.
   */
  readonly gradientCache?: GradientCache;
}

/**
 * A store of built gradient models keyed by a digest of everything that built them. Entries are
 * opaque bytes; a missing, partial or corrupt entry reads as absent or is rejected by the reader,
 * which then rebuilds and overwrites it.
 */
export interface GradientCache {
  /** The key (a hex digest) of the given parts, in order. */
  key(parts: readonly (Uint8Array | string)[]): string;
  /** The entry stored under `key`, or undefined. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Stores `entry` under `key` atomically (readers see the old entry or the whole new one). */
  put(key: string, entry: Uint8Array): Promise<void>;
  /**
   * The file holding the entry under `key`, when the cache keeps files (Node) and the entry
   * exists (marked as used); onnxruntime then reads the file itself. Absent: read with get().
   */
  locate?(key: string): Promise<string | undefined>;
  /** The entry under `key` read synchronously, when the cache can (Node). */
  getSync?(key: string): Uint8Array | undefined;
  /** Removes the entry under `key` (a corrupt one); absent is fine. */
  remove(key: string): Promise<void>;
  /**
   * A fresh temporary file path in the cache for a file the runtime writes itself (onnxruntime's
   * optimized graph); {@link GradientCache.adopt} then moves it in. Absent: no such files kept.
   */
  tempPath?(): string;
  /** Moves the finished file at `tempPath` in as the entry `key` (atomically), or deletes it. */
  adopt?(key: string, tempPath: string): Promise<void>;
}

/** Raised when onnxruntime rejects a model or a run; keeps onnxruntime's message. */
export class RuntimeError extends PathlensError {
  override name = "RuntimeError";
}

/** Raised when the requested device cannot be used (no WebGPU adapter, float64 on a GPU, …). */
export class DeviceError extends PathlensError {
  override name = "DeviceError";
}
