/**
 * Enhanced Integrated Gradients (eig): attributions along paths in the original space or in an
 * autoencoder's latent space, straight or through nearest data neighbours, from baselines that
 * are group-agnostic (zero, encoded zero) or chosen from a baseline class (k-means, median,
 * close, random); several baselines per sample are averaged (mean or median).
 */

import { encodeModel } from "../../onnx/codec.js";
import type { ModelProto } from "../../onnx/types.js";
import type { Backend, Session, SessionOptions } from "../../runtime/backend.js";
import { sizeOf, type Tensor, type TensorLike, tensor, toTensor, toTensors } from "../../tensor/tensor.js";
import { assertPathBudget, type BudgetOptions } from "../budget.js";
import { OptionError, ShapeMismatchError } from "../errors.js";
import type { Progress } from "../path-engine.js";
import type { Target } from "../targets.js";
import { closeBaselines, kMeansBaselines, medianBaselines, randomBaselines } from "./group-baselines.js";
import { referenceNeighbours } from "./knn.js";
import { neighborPath, resamplePolyline } from "./neighbor-path.js";
import { type PathRule, pathAttributions } from "./path-attribution.js";
import { type Rows, row, rowsOf } from "./rows.js";

/** The four path kinds of eig. */
export type EigPath = "original-linear" | "latent-linear" | "original-neighbors" | "latent-neighbors";
/** The six baseline kinds of eig. */
export type EigBaselineKind = "zero" | "encoded-zero" | "kmeans" | "median" | "close" | "random";

/** Options of {@link enhancedIntegratedGradients}. */
export interface EigOptions extends BudgetOptions {
  backend: Backend;
  /** Samples to explain, by the model's input name: [N, …]. */
  inputs: Record<string, TensorLike>;
  path: EigPath;
  /** Autoencoder halves (latent paths, encoded-zero, latent baselines). */
  encoder?: ModelProto;
  decoder?: ModelProto;
  /** Baselines given explicitly: one example's shape (shared), [N, …], or [N, K, …] (K per sample). */
  baseline?: TensorLike;
  /** Or chosen: a kind, with the baseline-class data for the group-specific kinds. */
  baselineKind?: EigBaselineKind;
  /** Baseline-class data set [M, …] (original space; encoded for latent paths). */
  baselineData?: TensorLike;
  /** Baselines per sample for kmeans/median/close/random (default 1; k-means uses k = this). */
  numBaselines?: number;
  /** Reference data for the neighbour paths [R, …] (default: the baseline data). */
  referenceData?: TensorLike;
  /** Neighbours per point of the kNN graph (default 5). */
  neighbors?: number;
  target?: Target;
  output?: string;
  /** Path segments m (default 50). */
  steps?: number;
  rule?: PathRule;
  /** How attributions from several baselines are combined (default "mean"). */
  aggregate?: "mean" | "median";
  seed?: number;
  onProgress?: (p: Progress) => void;
  session?: SessionOptions;
}

/** Result of {@link enhancedIntegratedGradients}. */
export interface EigResult {
  /** [N, …input dims] float64, combined over baselines. */
  attributions: Tensor<"float64">;
  /** Mean completeness gap Σ A − (F(γ_m) − F(γ_0)) per sample over its baselines. */
  delta: Float64Array;
  /** Mean F at the path starts and ends per sample. */
  fStart: Float64Array;
  fEnd: Float64Array;
  /** Baselines used per sample (in the space they were chosen in). */
  baselinesPerSample: number;
  path: EigPath;
}

/**
 * Enhanced Integrated Gradients.
 *
 * @example
 * ```ts
 * const r = await enhancedIntegratedGradients(cnn, { backend: nodeBackend(), inputs: { input: fives },
 *   path: "latent-linear", encoder, decoder, baselineKind: "kmeans", baselineData: threes,
 *   numBaselines: 3, target: 5, steps: 50 });
 * ```
 */
export async function enhancedIntegratedGradients(model: ModelProto, given: EigOptions): Promise<EigResult> {
  const options = {
    ...given,
    inputs: toTensors(given.inputs),
    baseline: given.baseline && toTensor(given.baseline, "baseline"),
    baselineData: given.baselineData && toTensor(given.baselineData, "baselineData"),
    referenceData: given.referenceData && toTensor(given.referenceData, "referenceData"),
  };
  const [name, x] = Object.entries(options.inputs)[0] ?? [];
  if (!name || !x) throw new OptionError("no input to explain");
  if (Object.keys(options.inputs).length !== 1) throw new OptionError("eig explains one input tensor");
  checkDeclaredShape(model, name, x.dims);
  const rowDims = x.dims.slice(1);
  const d = sizeOf(rowDims);
  const n = x.dims[0]!;
  const steps = options.steps ?? 50;
  if (!Number.isInteger(steps) || steps < 1)
    throw new OptionError(`steps must be a positive integer, got ${steps}`);
  // Budget before any session: samples × baselines per sample × points per path.
  const explicit = options.baseline;
  const perSample =
    explicit && explicit.dims.length > x.dims.length ? (explicit.dims[1] ?? 1) : (options.numBaselines ?? 1);
  assertPathBudget(
    "Enhanced Integrated Gradients",
    n * perSample * (steps + 1),
    `${n} sample(s) × ${perSample} baseline(s) × ${steps + 1} path points`,
    options,
  );
  const latent = options.path.startsWith("latent");
  const needsAutoencoder = latent || options.baselineKind === "encoded-zero";
  if (needsAutoencoder && (!options.encoder || !options.decoder)) {
    throw new OptionError(
      `${latent ? `path "${options.path}"` : "baseline encoded-zero"} needs encoder and decoder models`,
    );
  }
  const ae = needsAutoencoder
    ? await Autoencoder.load(options.backend, options.encoder!, options.decoder!, d, options.session)
    : undefined;
  try {
    const samples = rowsOf(x, "inputs");
    const space = async (r: Rows) => (latent ? ae!.encode(r) : r);
    const toInput = async (r: Rows) => (latent ? ae!.decode(r) : r);
    const samplePts = await space(samples);
    const baselines = await chooseBaselines(options, samplePts, space, ae, n, d);
    const k = baselines[0]!.n;
    // Paths in the working space, decoded to the model's input space.
    const paths: Float64Array[] = [];
    const reference = options.path.endsWith("neighbors")
      ? await space(
          rowsOf(
            options.referenceData ??
              options.baselineData ??
              fail("neighbour paths need referenceData (or baselineData)"),
            "reference data",
          ),
        )
      : undefined;
    const neighbours = options.neighbors ?? 5;
    if (reference && (!Number.isInteger(neighbours) || neighbours < 1))
      throw new OptionError(`neighbors must be a positive integer, got ${neighbours}`);
    // the reference's own lists once (onnxruntime screens large sets); each path adds its endpoints
    const lists =
      reference &&
      (await referenceNeighbours(reference, Math.min(neighbours, reference.n + 1), options.backend));
    for (let b = 0; b < k; b++) {
      for (let s = 0; s < n; s++) {
        const from = row(baselines[s]!, b);
        const to = row(samplePts, s);
        let poly: Rows;
        if (reference) poly = resamplePolyline(neighborPath(reference, from, to, neighbours, lists), steps);
        else {
          const pts = new Float64Array((steps + 1) * from.length);
          for (let q = 0; q <= steps; q++)
            for (let j = 0; j < from.length; j++)
              pts[q * from.length + j] = from[j]! + (q / steps) * (to[j]! - from[j]!);
          poly = { n: steps + 1, d: from.length, data: pts };
        }
        paths.push((await toInput(poly)).data);
      }
    }
    const extraTiled: Record<string, Tensor> = {};
    const r = await pathAttributions(model, {
      backend: options.backend,
      input: name,
      rowDims,
      dtype: x.dtype as "float32" | "float64",
      paths,
      target: tileTarget(options.target, n, k),
      output: options.output,
      extra: extraTiled,
      rule: options.rule,
      onProgress: options.onProgress,
      session: options.session,
    });
    const combined = new Float64Array(n * d);
    const values = new Float64Array(k);
    for (let s = 0; s < n; s++)
      for (let j = 0; j < d; j++) {
        for (let b = 0; b < k; b++) values[b] = r.attributions.data[(b * n + s) * d + j]!;
        combined[s * d + j] =
          options.aggregate === "median" ? median(values) : values.reduce((a, v) => a + v, 0) / k;
      }
    const mean = (v: Float64Array) =>
      Float64Array.from({ length: n }, (_, s) => {
        let t = 0;
        for (let b = 0; b < k; b++) t += v[b * n + s]!;
        return t / k;
      });
    return {
      attributions: tensor("float64", x.dims, combined),
      delta: mean(r.delta),
      fStart: mean(r.fStart),
      fEnd: mean(r.fEnd),
      baselinesPerSample: k,
      path: options.path,
    };
  } finally {
    await ae?.dispose();
  }
}

function fail(message: string): never {
  throw new OptionError(message);
}

/** Baselines per sample in the working space (latent for latent paths): K rows each. */
async function chooseBaselines(
  options: EigOptions,
  samplePts: Rows,
  space: (r: Rows) => Promise<Rows>,
  ae: Autoencoder | undefined,
  n: number,
  d: number,
): Promise<Rows[]> {
  const count = options.numBaselines ?? 1;
  if (options.baseline) {
    const t = rowsOf(toTensor(options.baseline, "baseline"), "baseline");
    const per = t.n * t.d === d ? { n: 1, d, data: t.data } : undefined;
    if (per) {
      const pts = await space(per);
      return Array.from({ length: n }, () => pts);
    }
    if (t.n !== n)
      throw new ShapeMismatchError(
        `baseline has ${t.n} rows; give one example's shape, [N, …] or [N, K, …] with N = ${n}`,
      );
    const k = t.d / d;
    if (!Number.isInteger(k))
      throw new ShapeMismatchError(`baseline rows of ${t.d} values do not hold whole examples of ${d}`);
    const out: Rows[] = [];
    for (let s = 0; s < n; s++)
      out.push(await space({ n: k, d, data: t.data.subarray(s * t.d, (s + 1) * t.d) }));
    return out;
  }
  const kind = options.baselineKind ?? "zero";
  if (kind === "zero") {
    const zero = await space({ n: 1, d, data: new Float64Array(d) });
    return Array.from({ length: n }, () => zero);
  }
  if (kind === "encoded-zero") {
    // decoder(0) in the original space; latent 0 in the latent space
    const z0 = { n: 1, d: ae!.latentSize, data: new Float64Array(ae!.latentSize) };
    const pts = options.path.startsWith("latent") ? z0 : await ae!.decode(z0);
    return Array.from({ length: n }, () => pts);
  }
  if (!options.baselineData)
    throw new OptionError(`baseline kind "${kind}" needs baselineData (the baseline-class data set)`);
  const data = await space(rowsOf(toTensor(options.baselineData, "baselineData"), "baseline data"));
  switch (kind) {
    case "kmeans": {
      const c = kMeansBaselines(data, count, options.seed ?? 0);
      return Array.from({ length: n }, () => c);
    }
    case "median": {
      const m = medianBaselines(data, count);
      return Array.from({ length: n }, () => m);
    }
    case "close":
      return closeBaselines(samplePts, data, count);
    case "random": {
      const r = randomBaselines(data, count, options.seed ?? 0);
      return Array.from({ length: n }, () => r);
    }
    default:
      throw new OptionError(
        `unknown baseline kind "${kind}" (zero, encoded-zero, kmeans, median, close, random)`,
      );
  }
}

/** Encoder/decoder sessions with reshaping to and from flat rows. */
class Autoencoder {
  private constructor(
    private readonly enc: Session,
    private readonly dec: Session,
    private readonly encDims: number[],
    readonly latentSize: number,
    private readonly outSize: number,
  ) {}

  static async load(
    backend: Backend,
    encoder: ModelProto,
    decoder: ModelProto,
    inputSize: number,
    session?: SessionOptions,
  ): Promise<Autoencoder> {
    const enc = await backend.createSession(encodeModel(encoder), session);
    const dec = await backend.createSession(encodeModel(decoder), session);
    const encIn = encoder.graph!.input.find(
      (i) => !encoder.graph!.initializer.some((t) => t.name === i.name),
    )!;
    const dims = (encIn.type?.tensorType?.shape?.dim ?? []).slice(1).map((dd) => Number(dd.dimValue ?? 0));
    if (sizeOf(dims) !== inputSize) {
      throw new ShapeMismatchError(
        `the encoder takes ${sizeOf(dims)} values per example, the model ${inputSize}: they must match`,
      );
    }
    const decIn = decoder.graph!.input.find(
      (i) => !decoder.graph!.initializer.some((t) => t.name === i.name),
    )!;
    const latentSize = sizeOf(
      (decIn.type?.tensorType?.shape?.dim ?? []).slice(1).map((dd) => Number(dd.dimValue ?? 0)),
    );
    return new Autoencoder(enc, dec, dims, latentSize, inputSize);
  }

  async encode(r: Rows): Promise<Rows> {
    const t = tensor("float32", [r.n, ...this.encDims], Float32Array.from(r.data));
    const out = Object.values(await this.enc.run({ [this.enc.inputNames[0]!]: t }))[0]!;
    return rowsOf(out, "encoder output");
  }

  async decode(r: Rows): Promise<Rows> {
    const t = tensor("float32", [r.n, r.d], Float32Array.from(r.data));
    const out = rowsOf(
      Object.values(await this.dec.run({ [this.dec.inputNames[0]!]: t }))[0]!,
      "decoder output",
    );
    if (out.d !== this.outSize) {
      throw new ShapeMismatchError(
        `the decoder gives ${out.d} values per example; the model takes ${this.outSize}`,
      );
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.enc.dispose();
    await this.dec.dispose();
  }
}

function tileTarget(target: Target | undefined, n: number, k: number): Target | undefined {
  if (Array.isArray(target)) return Array.from({ length: n * k }, (_, i) => target[i % n]!);
  return target;
}

function median(v: Float64Array): number {
  const s = Float64Array.from(v).sort();
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/**
 * The sample tensor against the model's declared input: same rank, equal static sizes after the
 * batch axis — caught here as a ShapeMismatchError naming both shapes, rather than as a runtime
 * error from deep inside onnxruntime.
 */
function checkDeclaredShape(model: ModelProto, name: string, dims: readonly number[]): void {
  const input = model.graph?.input.find((i) => i.name === name);
  if (!input) {
    const names = (model.graph?.input ?? []).map((i) => `"${i.name}"`).join(", ");
    throw new OptionError(`the model has no input "${name}" (inputs: ${names})`);
  }
  const declared = (input.type?.tensorType?.shape?.dim ?? []).map((d) =>
    d.dimValue !== undefined && d.dimValue !== null ? Number(d.dimValue) : (d.dimParam ?? "?"),
  );
  if (!input.type?.tensorType?.shape) return; // no shape declared: nothing to check
  const mismatch =
    declared.length !== dims.length ||
    declared.some((d, k) => k > 0 && typeof d === "number" && d > 0 && d !== dims[k]);
  if (mismatch) {
    throw new ShapeMismatchError(
      `input "${name}" has shape [${dims.join(", ")}]; the model takes [${declared.join(", ")}]`,
    );
  }
}
