/**
 * A session that runs a model together with its gradient graph (and, when asked, its
 * Hessian-vector-product graph). This is what the attribution algorithms call.
 */
import type { GradientDevice, ShapeInfo } from "../autodiff/builder.js";
import { decomposeModel, decompositionNeedsShapes } from "../autodiff/decompose.js";
import { normalizeRecurrent } from "../autodiff/decompositions/recurrent-normalize.js";
import { type GradientModel, gradientModel } from "../autodiff/gradient.js";
import { widenLowPrecision } from "../autodiff/precision.js";
import { decodeModel, encodeModel } from "../onnx/codec.js";
import type { ModelProto } from "../onnx/types.js";
import { type Tensor, type TensorLike, toTensors } from "../tensor/tensor.js";
import {
  type Backend,
  DeviceError,
  type GradientCache,
  type Session,
  type SessionOptions,
} from "./backend.js";
import { checkFoldedInputs, foldGivenValues } from "./fold-given.js";
import {
  decodeGradientEntry,
  encodeGradientEntry,
  GRADIENT_ENTRY_VERSION,
  type GradientEntry,
  type GradientNames,
  modelKeyParts,
} from "./gradient-entry.js";
import { probeFeeds, probeShapes } from "./probe.js";
import { decomposeBranches, probeBranchShapes } from "./probe-branches.js";

/** Options of {@link GradientSession.create}. */
export interface GradientSessionOptions {
  /** Tensors to differentiate with respect to (inputs or intermediate tensors). */
  wrt: readonly string[];
  /** Outputs whose seeded sum is differentiated (default: all). */
  outputs?: readonly string[];
  /** Also build Hessian-vector products ∂/∂wrt Σ(gradient ⊙ v). */
  hvp?: boolean;
  /**
   * Inputs (not differentiated) whose values stay fixed for this session — a sample rate, a mode
   * flag: If conditions and loop trip counts computed from them are folded for the values in
   * `feeds`, and running with other values is refused. Default: every scalar (rank-0) feed not
   * in `wrt`.
   */
  fixed?: readonly string[];
  session?: SessionOptions;
  /**
   * Use the backend's gradient cache (default true when it has one — the Node backend's disk
   * cache): a model built before with the same options is loaded instead of built again.
   */
  cache?: boolean;
}

/** One evaluation's results. */
export interface GradientResult {
  /** Model outputs by name. */
  outputs: Record<string, Tensor>;
  /** ∂/∂wrt Σ seed ⊙ output, by wrt name. */
  gradients: Record<string, Tensor>;
  /** ∂/∂wrt Σ gradient ⊙ v, by wrt name (only when built with `hvp` and run with `v`). */
  hvp?: Record<string, Tensor>;
}

/** Runs a model with its gradient graph; build once, run many times. */
export class GradientSession {
  private constructor(
    private readonly session: Session,
    readonly wrt: readonly string[],
    readonly outputs: readonly string[],
    private readonly first: GradientNames,
    private readonly second: GradientNames | undefined,
    private modelSource: ModelProto | Uint8Array,
    /** Shape facts of the original model (from the probe). */
    readonly shapes: ShapeInfo,
    /** Given inputs the model was folded on, with their values (runs must feed the same). */
    readonly foldedOn: ReadonlyMap<string, Tensor>,
    /** Inputs whose shapes decided unrolled loops, with those shapes (axis 0 may differ). */
    readonly unrolledFor: ReadonlyMap<string, readonly number[]>,
    /** Whether the gradient model came from the backend's gradient cache. */
    readonly cacheHit: boolean,
    /** Seconds from the create() call until the session was ready (the start-up cost). */
    readonly startupSeconds: number,
  ) {}

  /** The gradient (or HVP) model that runs, for inspection or saving (decoded on first use after a cache hit). */
  get model(): ModelProto {
    if (this.modelSource instanceof Uint8Array) this.modelSource = decodeModel(this.modelSource);
    return this.modelSource;
  }

  /**
   * Probes `model` on `feeds` (dynamic axes of size 1 are tiled to 2 for the probe), builds the
   * gradient graph (and the HVP graph) and loads it.
   */
  static async create(
    backend: Backend,
    model: ModelProto,
    givenFeeds: Record<string, TensorLike>,
    options: GradientSessionOptions,
  ): Promise<GradientSession> {
    const started = performance.now();
    // float16 / bfloat16 models are differentiated in float32 (feeds and results are float32)
    model = widenLowPrecision(model);
    const feeds = toTensors(givenFeeds);
    // layout-1 LSTM/GRU/RNN as layout 0 (onnxruntime refuses 1); a given sequence length 1 kept for the probe
    model = normalizeRecurrent(model, feeds);
    const pf = probeFeeds(model, feeds);
    // If nodes and loop counts decided by shapes, constants and fixed inputs are folded
    // (evaluated on the caller's feeds, not the probe's tiled ones).
    const fixed =
      options.fixed ??
      Object.keys(feeds).filter((k) => !options.wrt.includes(k) && feeds[k]!.dims.length === 0);
    const folded = await foldGivenValues(backend, model, feeds, new Set(fixed));
    model = folded.model;
    const device = backend.device ?? "cpu";
    const cache = options.cache === false ? undefined : backend.gradientCache;
    const key = cache?.key([...modelKeyParts(model), cacheKeyText(options, device, feeds, pf)]);
    const optimizedKey = cache && key ? optimizedGraphKey(backend, options.session, cache, key) : undefined;
    // both entries are read at once (tens of megabytes each for big models)
    const [bytes, optimized] = await Promise.all([
      key && cache?.get(key),
      optimizedKey && cache?.get(optimizedKey),
    ]);
    if (cache && key) {
      if (bytes) {
        try {
          const entry = decodeGradientEntry(bytes);
          const session = await loadSession(
            backend,
            entry.model,
            options.session,
            cache,
            optimizedKey,
            optimized,
          );
          return GradientSession.fromEntry(session, options.wrt, entry, started);
        } catch {
          // a corrupt or unloadable entry: rebuild and overwrite it
          await cache.remove(key);
        }
      }
    }
    const built = await buildGradientModel(backend, model, pf, options, device);
    const modelBytes = encodeModel(built.runModel);
    const entry: GradientEntry = {
      outputs: built.outputs,
      first: namesOf(built.first),
      second: built.second && namesOf(built.second),
      shapes: built.shapes,
      foldedOn: folded.decidedBy,
      unrolledFor: folded.unrolledFor,
      model: modelBytes,
    };
    // a cache that cannot be written (full disk, read-only folder) only costs the next start-up
    if (cache && key) await cache.put(key, encodeGradientEntry(entry)).catch(() => {});
    const session = await loadSession(backend, modelBytes, options.session, cache, optimizedKey, optimized);
    return GradientSession.fromEntry(session, options.wrt, entry, started, built.runModel);
  }

  private static fromEntry(
    session: Session,
    wrt: readonly string[],
    e: GradientEntry,
    started: number,
    model?: ModelProto,
  ): GradientSession {
    return new GradientSession(
      session,
      wrt,
      e.outputs,
      e.first,
      e.second,
      model ?? e.model,
      e.shapes,
      e.foldedOn,
      e.unrolledFor,
      model === undefined,
      (performance.now() - started) / 1000,
    );
  }

  /** Names of the seed inputs, by output name. */
  seedNames(): Record<string, string> {
    return Object.fromEntries(this.outputs.map((o, k) => [o, this.first.seeds[k]!]));
  }

  /**
   * Evaluates outputs and gradients. `seeds` maps output names to cotangents shaped like the
   * outputs; `v` (HVP sessions only) maps wrt names to directions shaped like them.
   */
  async run(
    givenFeeds: Record<string, TensorLike>,
    givenSeeds: Record<string, TensorLike>,
    givenV?: Record<string, TensorLike>,
  ): Promise<GradientResult> {
    const feeds = toTensors(givenFeeds);
    const seeds = toTensors(givenSeeds);
    const v = toTensors(givenV);
    checkFoldedInputs(this.foldedOn, feeds, this.unrolledFor);
    const all: Record<string, Tensor> = { ...feeds };
    this.outputs.forEach((o, k) => {
      const s = seeds[o];
      if (!s) throw new RangeError(`no seed given for output "${o}"`);
      all[this.first.seeds[k]!] = s;
    });
    const fetches = [...this.outputs, ...this.first.gradients];
    if (this.second) {
      if (!v) throw new RangeError("this session computes Hessian-vector products: pass v");
      this.wrt.forEach((w, k) => {
        const t = v[w];
        if (!t) throw new RangeError(`no direction v given for "${w}"`);
        all[this.second!.seeds[k]!] = t;
      });
      fetches.push(...this.second.gradients);
    }
    const out = await this.session.run(all, fetches);
    const result: GradientResult = {
      outputs: Object.fromEntries(this.outputs.map((o) => [o, out[o]!])),
      gradients: Object.fromEntries(this.wrt.map((w, k) => [w, out[this.first.gradients[k]!]!])),
    };
    if (this.second)
      result.hvp = Object.fromEntries(this.wrt.map((w, k) => [w, out[this.second!.gradients[k]!]!]));
    return result;
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}

/**
 * Loads the gradient model. With a cache that keeps the runtime's files (Node, CPU), onnxruntime's
 * optimized graph of it is kept as well and loaded at optimization "disabled" next time, which
 * skips graph optimization (resnet18's gradient graph: ≈ 1 s); outputs are bit-identical.
 */
async function loadSession(
  backend: Backend,
  model: Uint8Array,
  options: SessionOptions = {},
  cache?: GradientCache,
  optimizedKey?: string,
  optimized?: Uint8Array | "" | undefined,
): Promise<Session> {
  if (!cache || !optimizedKey) return backend.createSession(model, options);
  if (optimized) {
    try {
      return await backend.createSession(optimized, { ...options, optimization: "disabled" });
    } catch {
      await cache.remove(optimizedKey); // corrupt: optimize again below
    }
  }
  const path = cache.tempPath!();
  const session = await backend.createSession(model, { ...options, optimizedModelFilePath: path });
  await cache.adopt!(optimizedKey, path).catch(() => {});
  return session;
}

/** The cache key of onnxruntime's optimized graph of the entry `key`, when the cache keeps one (Node, CPU). */
function optimizedGraphKey(
  backend: Backend,
  options: SessionOptions = {},
  cache: GradientCache,
  key: string,
): string | undefined {
  const keeps =
    cache.tempPath &&
    cache.adopt &&
    (backend.device ?? "cpu") === "cpu" &&
    !options.executionProviders &&
    options.optimization !== "disabled" &&
    !options.optimizedModelFilePath;
  return keeps ? cache.key([key, "onnxruntime-optimized", backend.name, JSON.stringify(options)]) : undefined;
}

/** The built graphs of {@link GradientSession.create} before loading. */
interface BuiltGradient {
  runModel: ModelProto;
  outputs: string[];
  first: GradientModel;
  second?: GradientModel;
  shapes: ShapeInfo;
}

/**
 * Decomposes composite ops, probes shapes and builds the gradient graph (and the HVP graph):
 * the start-up work a gradient-cache hit skips.
 */
async function buildGradientModel(
  backend: Backend,
  model: ModelProto,
  pf: Record<string, Tensor>,
  options: GradientSessionOptions,
  device: GradientDevice,
): Promise<BuiltGradient> {
  // Composite ops (recurrent cells, fused and quantized ops) become primitives first.
  model = decomposeModel(
    model,
    decompositionNeedsShapes(model) ? await probeShapes(backend, model, pf) : undefined,
    device,
  );
  model = await decomposeBranches(backend, model, pf);
  const shapes = await probeShapes(backend, model, pf);
  await probeBranchShapes(backend, model, pf, shapes);
  const outputs = [...(options.outputs ?? model.graph!.output.map((o) => o.name!))];
  if (device !== "cpu") {
    const f64 = options.wrt.find((w) => shapes.get(w)?.dtype === "float64");
    if (f64)
      throw new DeviceError(
        `"${f64}" is float64: float64 models run on the CPU only (${device} computes in float32)`,
      );
  }
  const first = gradientModel(model, { wrt: options.wrt, outputs, shapes: new Map(shapes), device });
  if (!options.hvp) return { runModel: first.model, outputs, first, shapes };
  const feeds2 = { ...pf, ...probeSeeds(first, shapes, outputs) };
  const shapes2 = await probeShapes(backend, first.model, feeds2);
  await probeBranchShapes(backend, first.model, feeds2, shapes2);
  const second = gradientModel(first.model, {
    wrt: options.wrt,
    outputs: first.gradients,
    shapes: shapes2,
    device,
  });
  return { runModel: second.model, outputs, first, second, shapes };
}

function namesOf(g: GradientModel): GradientNames {
  return { seeds: g.seeds, gradients: g.gradients, outputs: g.outputs };
}

/**
 * The options and feed facts the built graphs depend on, as text for the cache key: wrt,
 * outputs, hvp, the device, and the dtypes and dims of the caller's feeds and of the probe's
 * (size-1 dynamic axes tiled to 2), plus the entry format version.
 */
function cacheKeyText(
  options: GradientSessionOptions,
  device: GradientDevice,
  feeds: Record<string, Tensor>,
  probe: Record<string, Tensor>,
): string {
  const facts = (f: Record<string, Tensor>) =>
    Object.keys(f)
      .sort()
      .map((k) => [k, f[k]!.dtype, f[k]!.dims]);
  return JSON.stringify({
    version: GRADIENT_ENTRY_VERSION,
    wrt: options.wrt,
    outputs: options.outputs ?? null,
    hvp: options.hvp === true,
    fixed: options.fixed ?? null,
    device,
    feeds: facts(feeds),
    probe: facts(probe),
  });
}

function onesLike(dtype: "float32" | "float64", dims: number[]): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = dtype === "float64" ? new Float64Array(n).fill(1) : new Float32Array(n).fill(1);
  return { dtype, dims, data };
}

/** Seeds of ones shaped like the outputs at the probe's batch size, for probing the gradient model. */
function probeSeeds(
  first: GradientModel,
  shapes: ShapeInfo,
  outputs: readonly string[],
): Record<string, Tensor> {
  const seeds: Record<string, Tensor> = {};
  first.seeds.forEach((s, k) => {
    const info = shapes.get(outputs[k]!)!;
    seeds[s] = onesLike(info.dtype as "float32" | "float64", info.dims);
  });
  return seeds;
}
