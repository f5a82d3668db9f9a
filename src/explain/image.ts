/**
 * Image explanations in two lines: PNG/JPEG in, preprocessing as data, Integrated Gradients
 * against a black, blurred, noise or file baseline, out: attributions, a heat-map overlay and
 * the IG paper's window.
 *
 * @example
 * ```ts
 * const r = await explainImage(await loadModel("examples/image-shapes/model.onnx"),
 *   await readImage("examples/image-shapes/circle.png"), { backend: nodeBackend(), preprocess: { resize: 32 } });
 * ```
 */
import { gaussianBlur } from "../attribution/baselines.js";
import { TargetError } from "../attribution/errors.js";
import { integratedGradients } from "../attribution/ig.js";
import type { Progress } from "../attribution/path-engine.js";
import type { RgbaImage } from "../io/image.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend } from "../runtime/backend.js";
import { Random } from "../tensor/random.js";
import { type Tensor, tensor } from "../tensor/tensor.js";
import { type AttributionSign, normalise, overlay, pixelAttributions, windowMask } from "./image-maps.js";
import { checkPreprocess, geometry, type Preprocess, PreprocessError, toModelTensor } from "./preprocess.js";
import { classScores } from "./scorer.js";

/** Options of {@link explainImage}. */
export interface ExplainImageOptions {
  backend: Backend;
  preprocess?: Preprocess;
  /** Class index, or a class name from `labels` (default: the predicted class). */
  target?: number | string;
  /** black (default), blur, noise (seeded uniform), or an image of the same size. */
  baseline?: "black" | "blur" | "noise" | RgbaImage;
  steps?: number;
  sign?: AttributionSign;
  clipPercentile?: number;
  labels?: string[];
  seed?: number;
  onProgress?: (p: Progress) => void;
}

/** Result of {@link explainImage}. */
export interface ImageExplanation {
  /** Attributions in the model's input layout, [1, …]. */
  attributions: Tensor<"float64">;
  /** Per-pixel attribution (channels summed), height × width. */
  pixels: Float64Array;
  /** The picture the model saw (after resize/crop). */
  image: RgbaImage;
  overlay: RgbaImage;
  window: RgbaImage;
  prediction: { index: number; label: string; probability: number };
  target: { index: number; label: string; probability: number };
  delta: number;
  outputAtInput: number;
  outputAtBaseline: number;
  steps: number;
}

/** Explains an image classifier's output for one image. */
export async function explainImage(
  model: ModelProto,
  img: RgbaImage,
  options: ExplainImageOptions,
): Promise<ImageExplanation> {
  const p = checkPreprocess(options.preprocess ?? {});
  const seen = geometry(img, p);
  const x = toModelTensor(seen, p);
  const input = model.graph!.input.find((i) => !model.graph!.initializer.some((t) => t.name === i.name))!
    .name!;
  const declared = (model.graph!.input.find((i) => i.name === input)?.type?.tensorType?.shape?.dim ?? []).map(
    (d) => Number(d.dimValue ?? 0),
  );
  declared.forEach((d, k) => {
    if (k > 0 && d > 0 && d !== x.dims[k]) {
      throw new PreprocessError(
        `the model takes [${declared.join(", ")}] images; preprocessing gives [${x.dims.join(", ")}] (check resize/crop/layout)`,
      );
    }
  });
  const baseline = imageBaseline(options.baseline ?? "black", seen, p, x, options.seed ?? 0);
  const { probabilities: probs, predicted } = await classScores(options.backend, model, { [input]: x });
  const labels = options.labels ?? probs.map((_, i) => String(i));
  const target = resolveTarget(options.target, labels, predicted);
  const r = await integratedGradients(model, {
    backend: options.backend,
    inputs: { [input]: x },
    baselines: baseline,
    target,
    steps: options.steps ?? 50,
    onProgress: options.onProgress,
  });
  const a = r.attributions[input]!;
  const pixels = pixelAttributions(a.data, seen.height, seen.width, p.layout ?? "nchw");
  const sign = options.sign ?? "all";
  const shown = normalise(pixels, sign, options.clipPercentile ?? 99);
  const win = normalise(pixels, "absolute", options.clipPercentile ?? 99);
  return {
    attributions: a,
    pixels,
    image: seen,
    overlay: overlay(seen, shown),
    window: windowMask(seen, win),
    prediction: {
      index: predicted,
      label: labels[predicted] ?? String(predicted),
      probability: probs[predicted]!,
    },
    target: {
      index: target,
      label: labels[target] ?? String(target),
      probability: probs[target] ?? Number.NaN,
    },
    delta: r.delta[0]!,
    outputAtInput: r.outputAtInput[0]!,
    outputAtBaseline: r.outputAtBaseline[0]!,
    steps: r.steps,
  };
}

/** A class index, or a class name looked up in `labels` (a number-like name as its index). */
function resolveTarget(
  target: number | string | undefined,
  labels: readonly string[],
  predicted: number,
): number {
  if (target === undefined) return predicted;
  if (typeof target === "number") return target;
  const named = labels.indexOf(target);
  if (named >= 0) return named;
  if (/^\d+$/.test(target)) return Number(target);
  throw new TargetError(`unknown class "${target}" (classes: ${labels.join(", ")})`);
}

/** The baseline as a model tensor: black/noise/file images preprocessed like the input, or a blur of it. */
function imageBaseline(
  kind: NonNullable<ExplainImageOptions["baseline"]>,
  seen: RgbaImage,
  p: Preprocess,
  x: Tensor,
  seed: number,
): Tensor {
  if (kind === "black") return toModelTensor(seen, p, () => 0);
  if (kind === "noise") {
    const rng = new Random(seed);
    const noise = Float64Array.from({ length: seen.width * seen.height * 3 }, () => rng.uniform() * 255);
    return toModelTensor(seen, p, (i, c) => noise[i * 3 + c]!);
  }
  if (kind === "blur") {
    // blur the pixels (not the normalised values) over H, W per channel
    const planes = tensor("float32", [3, seen.height, seen.width]);
    for (let i = 0; i < seen.width * seen.height; i++)
      for (let c = 0; c < 3; c++)
        (planes.data as Float32Array)[c * seen.width * seen.height + i] = seen.data[i * 4 + c]!;
    const blurred = gaussianBlur(planes, Math.max(1, Math.min(seen.width, seen.height) / 10))
      .data as Float32Array;
    return toModelTensor(seen, p, (i, c) => blurred[c * seen.width * seen.height + i]!);
  }
  const fitted = geometry(kind, p);
  if (fitted.width !== seen.width || fitted.height !== seen.height) {
    throw new PreprocessError(
      `the baseline image is ${fitted.width}×${fitted.height} after preprocessing, the input ${seen.width}×${seen.height}`,
    );
  }
  void x;
  return toModelTensor(fitted, p);
}
