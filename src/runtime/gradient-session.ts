/**
 * A session that runs a model together with its gradient graph (and, when asked, its
 * Hessian-vector-product graph). This is what the attribution algorithms call.
 */
import type { GradientDevice, ShapeInfo } from "../autodiff/builder.js";
import { decomposeModel, decompositionNeedsShapes } from "../autodiff/decompose.js";
import { normalizeRecurrent } from "../autodiff/decompositions/recurrent-normalize.js";
import { type GradientModel, gradientModel } from "../autodiff/gradient.js";
import { widenLowPrecision } from "../autodiff/precision.js";
import { assertWellFormedModel } from "../onnx/checker.js";
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
  CorruptCacheEntryError,
  decodeGradientEntry,
  encodeGradientEntry,
  GRADIENT_ENTRY_VERSION,
  type GradientEntry,
  type GradientNames,
  modelKeyParts,
} from "./gradient-entry.js";
import { hasNchwcNodes, nchwcBlockSize } from "./nchwc-block.js";
import { PhaseClock, type Phases } from "./phases.js";
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
    private modelSource: ModelSource,
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
    /** Where {@link GradientSession.startupSeconds} went, seconds by phase. */
    readonly startupPhases: Phases,
  ) {}

  /** The gradient (or HVP) model that runs, for inspection or saving (decoded on first use after a cache hit). */
  get model(): ModelProto {
    if (typeof this.modelSource === "function") {
      const bytes = this.modelSource();
      if (!bytes) throw new CorruptCacheEntryError("the cached gradient model was removed from the cache");
      this.modelSource = bytes;
    }
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
    const clock = new PhaseClock();
    const given = model;
    // float16 / bfloat16 models are differentiated in float32 (feeds and results are float32)
    model = widenLowPrecision(model);
    const feeds = toTensors(givenFeeds);
    // layout-1 LSTM/GRU/RNN as layout 0 (onnxruntime refuses 1); a given sequence length 1 kept for the probe
    model = normalizeRecurrent(model, feeds);
    const pf = probeFeeds(model, feeds);
    clock.lap("prepare");
    // If nodes and loop counts decided by shapes, constants and fixed inputs are folded
    // (evaluated on the caller's feeds, not the probe's tiled ones).
    const fixed =
      options.fixed ??
      Object.keys(feeds).filter((k) => !options.wrt.includes(k) && feeds[k]!.dims.length === 0);
    const folded = await foldGivenValues(backend, model, feeds, new Set(fixed));
    model = folded.model;
    clock.lap("fold");
    const device = backend.device ?? "cpu";
    const cache = options.cache === false ? undefined : backend.gradientCache;
    const key = cache?.key([...modelKeyParts(model), cacheKeyText(options, device, feeds, pf)]);
    const keys = cache && key ? entryKeys(backend, options.session, cache, key) : undefined;
    clock.lap("hash");
    if (cache && keys) {
      const hit = await loadCached(backend, options.session, cache, keys, clock);
      if (hit) return GradientSession.fromEntry(hit.session, options.wrt, hit.entry, clock, hit.model);
    }
    // A model not built before is checked once, here; the graphs built from it are not.
    assertWellFormedModel(given, "model");
    clock.lap("check");
    const built = await buildGradientModel(backend, model, pf, options, device, clock);
    const modelBytes = encodeModel(built.runModel);
    clock.lap("encode");
    const entry: GradientEntry = {
      outputs: built.outputs,
      first: namesOf(built.first),
      second: built.second && namesOf(built.second),
      shapes: built.shapes,
      foldedOn: folded.decidedBy,
      unrolledFor: folded.unrolledFor,
      model: modelBytes,
    };
    // The model first, the entry that points to it last (readers find both or miss). A cache
    // that cannot be written (full disk, read-only folder) only costs the next start-up.
    if (cache && keys)
      await cache
        .put(keys.model, modelBytes)
        .then(() => cache.put(keys.entry, encodeGradientEntry({ ...entry, model: new Uint8Array(0) })))
        .catch(() => {});
    clock.lap("cache write");
    const session = await loadSession(backend, modelBytes, options.session, cache, keys?.optimized);
    clock.lap("session");
    return GradientSession.fromEntry(session, options.wrt, entry, clock, built.runModel);
  }

  private static fromEntry(
    session: Session,
    wrt: readonly string[],
    e: GradientEntry,
    clock: PhaseClock,
    model: ModelSource,
  ): GradientSession {
    return new GradientSession(
      session,
      wrt,
      e.outputs,
      e.first,
      e.second,
      model,
      e.shapes,
      e.foldedOn,
      e.unrolledFor,
      typeof model === "function" || model instanceof Uint8Array,
      clock.elapsed(),
      clock.phases,
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

/** Where a session's gradient model comes from: built (the graph), or cached (bytes, read on demand). */
type ModelSource = ModelProto | Uint8Array | (() => Uint8Array | undefined);

/** The cache keys of one gradient session: its entry (header), its model, onnxruntime's optimized graph. */
interface EntryKeys {
  entry: string;
  model: string;
  /** Only when the cache keeps runtime files (Node, CPU). */
  optimized?: string;
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
): Promise<Session> {
  const base = { ...options, prechecked: true };
  if (!cache || !optimizedKey) return backend.createSession(model, base);
  const path = cache.tempPath!();
  const session = await backend.createSession(model, { ...base, optimizedModelFilePath: path });
  await cache.adopt!(optimizedKey, path).catch(() => {});
  return session;
}

/**
 * A cache hit: the entry's header, and a session of onnxruntime's optimized graph — a file
 * onnxruntime reads itself where the cache keeps files, so the tens of megabytes of the gradient
 * model are not even read (the model is read on demand, by {@link GradientSession.model}).
 * Undefined on a miss or an unusable entry (removed, rebuilt by the caller).
 */
async function loadCached(
  backend: Backend,
  options: SessionOptions = {},
  cache: GradientCache,
  keys: EntryKeys,
  clock: PhaseClock,
): Promise<{ session: Session; entry: GradientEntry; model: ModelSource } | undefined> {
  const head = await cache.get(keys.entry);
  if (!head) return undefined;
  try {
    const entry = decodeGradientEntry(head);
    const base = { ...options, prechecked: true, optimization: "disabled" as const };
    if (keys.optimized && cache.locate && cache.getSync) {
      const [optimized, model] = await Promise.all([cache.locate(keys.optimized), cache.locate(keys.model)]);
      clock.lap("cache read");
      if (optimized && model) {
        try {
          const session = await backend.createSession(optimized, base);
          clock.lap("session");
          return { session, entry, model: () => cache.getSync!(keys.model) };
        } catch {
          await cache.remove(keys.optimized); // corrupt: optimized again below
        }
      }
    } else if (keys.optimized) {
      const [optimized, model] = await Promise.all([cache.get(keys.optimized), cache.get(keys.model)]);
      clock.lap("cache read");
      if (optimized && model) {
        try {
          const session = await backend.createSession(optimized, base);
          clock.lap("session");
          return { session, entry, model };
        } catch {
          await cache.remove(keys.optimized);
        }
      }
    }
    const model = await cache.get(keys.model);
    clock.lap("cache read");
    if (!model) return undefined;
    const session = await loadSession(backend, model, options, cache, keys.optimized);
    clock.lap("session");
    return { session, entry, model };
  } catch {
    await cache.remove(keys.entry); // corrupt or unloadable: rebuilt and overwritten
    return undefined;
  }
}

/** The keys of the entry `key`: its model, and onnxruntime's optimized graph when the cache keeps one (Node, CPU). */
function entryKeys(
  backend: Backend,
  options: SessionOptions = {},
  cache: GradientCache,
  key: string,
): EntryKeys {
  const keeps =
    cache.tempPath &&
    cache.adopt &&
    (backend.device ?? "cpu") === "cpu" &&
    !options.executionProviders &&
    options.optimization !== "disabled" &&
    !options.optimizedModelFilePath;
  return {
    entry: key,
    model: cache.key([key, "gradient model"]),
    optimized: keeps
      ? cache.key([key, "onnxruntime-optimized", backend.name, JSON.stringify(options)])
      : undefined,
  };
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
  clock: PhaseClock,
): Promise<BuiltGradient> {
  // Composite ops (recurrent cells, fused and quantized ops) become primitives first.
  model = decomposeModel(
    model,
    decompositionNeedsShapes(model) ? await probeShapes(backend, model, pf, true) : undefined,
    device,
    hasNchwcNodes(model) ? { nchwcBlockSize: await nchwcBlockSize(backend) } : {},
  );
  model = await decomposeBranches(backend, model, pf);
  clock.lap("decompose");
  const shapes = await probeShapes(backend, model, pf, true);
  await probeBranchShapes(backend, model, pf, shapes);
  clock.lap("probe");
  const outputs = [...(options.outputs ?? model.graph!.output.map((o) => o.name!))];
  if (device !== "cpu") {
    const f64 = options.wrt.find((w) => shapes.get(w)?.dtype === "float64");
    if (f64)
      throw new DeviceError(
        `"${f64}" is float64: float64 models run on the CPU only (${device} computes in float32)`,
      );
  }
  const first = gradientModel(model, { wrt: options.wrt, outputs, shapes: new Map(shapes), device });
  clock.lap("transform");
  if (!options.hvp) return { runModel: first.model, outputs, first, shapes };
  const feeds2 = { ...pf, ...probeSeeds(first, shapes, outputs) };
  const shapes2 = await probeShapes(backend, first.model, feeds2, true);
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
