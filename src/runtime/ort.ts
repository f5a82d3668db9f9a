/**
 * Adapter shared by the onnxruntime-node and onnxruntime-web backends: both expose the
 * onnxruntime-common API, so one wrapper converts tensors and errors for either.
 */

import type { GradientDevice } from "../autodiff/builder.js";
import { assertWellFormedModel } from "../onnx/checker.js";
import { decodeModel } from "../onnx/codec.js";
import { type DType, type Tensor, tensor } from "../tensor/tensor.js";
import { type Backend, DeviceError, RuntimeError, type Session, type SessionOptions } from "./backend.js";

/** The part of onnxruntime-common's API pathlens uses. */
export interface OrtModule {
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => OrtTensor;
  InferenceSession: {
    create(model: Uint8Array | string, options?: Record<string, unknown>): Promise<OrtSession>;
  };
}

interface OrtTensor {
  type: string;
  data: unknown;
  dims: readonly number[];
  dispose?(): void;
}

interface OrtSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>, fetches?: readonly string[]): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

const ORT_TYPE: Record<DType, string> = {
  float32: "float32",
  float64: "float64",
  int64: "int64",
  int32: "int32",
  bool: "bool",
  uint8: "uint8",
  int8: "int8",
};

function fromOrt(t: OrtTensor, name: string): Tensor {
  const dtype = (Object.keys(ORT_TYPE) as DType[]).find((k) => ORT_TYPE[k] === t.type);
  if (!dtype)
    throw new RuntimeError(`output "${name}" has element type ${t.type}, which pathlens does not read`);
  let data = t.data as Tensor["data"];
  if (dtype === "bool" && !(data instanceof Uint8Array)) data = Uint8Array.from(data as ArrayLike<number>);
  return tensor(dtype, [...t.dims], data);
}

class OrtSessionWrapper implements Session {
  constructor(
    private ort: OrtModule,
    private session: OrtSession,
  ) {}
  get inputNames() {
    return this.session.inputNames;
  }
  get outputNames() {
    return this.session.outputNames;
  }
  async run(feeds: Record<string, Tensor>, fetches?: readonly string[]): Promise<Record<string, Tensor>> {
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const [k, v] of Object.entries(feeds))
      ortFeeds[k] = new this.ort.Tensor(ORT_TYPE[v.dtype], v.data, v.dims);
    let out: Record<string, OrtTensor>;
    try {
      out = await this.session.run(ortFeeds, fetches);
    } catch (e) {
      throw new RuntimeError(`onnxruntime run failed: ${ortSummary(e)}`, { cause: e });
    }
    const result: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(out)) result[k] = fromOrt(v, k);
    return result;
  }
  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** The device a backend runs on, with the execution provider's own options. */
export interface DeviceOptions {
  /**
   * "cpu" (default) or "webgpu": onnxruntime's WebGPU execution provider (bundled with
   * onnxruntime-node on Linux/Windows/macOS and with onnxruntime-web; in Node it needs a GPU with
   * a Vulkan driver on Linux). Gradient graphs are then built with formulations that run on the
   * GPU in place. float64 models run on the CPU only.
   */
  device?: GradientDevice;
  /** Options of the device's execution provider, passed through (e.g. `{ preferredLayout: "NCHW" }`). */
  providerOptions?: Record<string, unknown>;
}

/** Execution providers for a device: the EP with its options (onnxruntime adds the CPU for the rest). */
export function providersFor(
  device: GradientDevice,
  options: Record<string, unknown> = {},
): SessionOptions["executionProviders"] {
  return device === "cpu" ? [{ name: "cpu", ...options }] : [{ name: device, ...options }];
}

/**
 * The human part of an onnxruntime error, on one line: its C++ source location and function
 * signature prefix dropped (the full text stays in the error's `cause`).
 */
export function ortSummary(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  let line = text.split(/\r?\n/).find((l) => l.trim()) ?? "unknown error";
  // "/onnxruntime_src/…/model.cc:202 onnxruntime::Model::Model(…) Unsupported model IR version…"
  const m = /^\S+\.(?:cc|h|cpp):\d+ [\s\S]*?\)\s(?=[A-Z[])/.exec(line);
  if (m) line = line.slice(m[0].length);
  line = line.replace(/^\[ONNXRuntimeError\] : \d+ : [A-Z_]+ : /, "");
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** Wraps an onnxruntime module (node or web) as a pathlens {@link Backend}. */
export function ortBackend(
  name: string,
  ort: OrtModule,
  defaults: SessionOptions = {},
  device: DeviceOptions = {},
): Backend {
  const providers = device.device ? providersFor(device.device, device.providerOptions) : undefined;
  return {
    name,
    device: device.device ?? "cpu",
    async createSession(model: Uint8Array | string, options: SessionOptions = {}): Promise<Session> {
      const o = { ...defaults, ...options };
      // The checker first: a malformed model fails here with a typed one-line error. Graphs
      // pathlens built from a checked model skip it (`prechecked`: decoding tens of MB for nothing).
      if (!o.prechecked && typeof model !== "string") assertWellFormedModel(decodeModel(model), "model");
      const opts: Record<string, unknown> = { graphOptimizationLevel: o.optimization ?? "all" };
      if (o.intraOpThreads) opts.intraOpNumThreads = o.intraOpThreads;
      if (o.optimizedModelFilePath) {
        opts.optimizedModelFilePath = o.optimizedModelFilePath;
        // onnxruntime warns that an "all"-level graph is for this machine only: it is (a local cache)
        opts.logSeverityLevel = 3;
      }
      const eps = o.executionProviders ?? providers;
      if (eps) opts.executionProviders = eps;
      try {
        return new OrtSessionWrapper(ort, await ort.InferenceSession.create(model, opts));
      } catch (e) {
        const message = (e as Error).message;
        if (/WebGPU adapter|webgpu.*not (supported|available)|no available backend found/i.test(message))
          throw new DeviceError(
            "no WebGPU adapter: WebGPU needs a GPU whose Vulkan driver is installed (Linux: libvulkan1 and the vendor's ICD; " +
              "a software adapter for testing: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json)",
            { cause: e },
          );
        throw new RuntimeError(`onnxruntime could not load the model: ${ortSummary(e)}`, { cause: e });
      }
    },
  };
}
