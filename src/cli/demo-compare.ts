/**
 * The method comparison of the demo models: Integrated Gradients, Guided IG, Blur IG and
 * SmoothGrad on the digits CNN (digits 0–9 of the bundled sample) and on the shapes model (its
 * three pictures), measured with the same metrics; writes one comparison report per model.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { MethodSettings, PathMethod } from "../attribution/metrics/explainers.js";
import { xrai } from "../attribution/xrai.js";
import { type Comparison, compareAttributions } from "../explain/compare.js";
import { type Preprocess, toModelTensor } from "../explain/preprocess.js";
import { readImage } from "../io/image.js";
import { loadModel } from "../io/model-file.js";
import { readNpy, writeNpyFiles } from "../io/npy.js";
import type { ModelProto } from "../onnx/types.js";
import { nodeBackend } from "../runtime/node.js";
import { concatRows, type Tensor } from "../tensor/tensor.js";
import { comparisonReport } from "../viz/compare.js";

/** One demo model's comparison and where its report went. */
export interface DemoComparison {
  name: string;
  comparison: Comparison;
  report: string;
  file: string;
}

/** Settings of the demo comparison (smaller values make the test fast). */
export interface DemoCompareOptions {
  /** Steps of every method (default: each method's default). */
  steps?: number;
  /** Sensitivity perturbations (default 4); 0 skips sensitivity. */
  sensitivitySamples?: number;
}

const METHODS: PathMethod[] = ["ig", "guided_ig", "blur_ig", "smoothgrad"];

async function compareOne(
  name: string,
  model: ModelProto,
  inputName: string,
  x: Tensor,
  target: number[],
  settings: Partial<MethodSettings>,
  fill: number | { blur: number },
  o: DemoCompareOptions,
): Promise<{ comparison: Comparison; report: string }> {
  const backend = nodeBackend();
  const steps = o.steps === undefined ? {} : { steps: o.steps };
  const comparison = await compareAttributions(model, {
    backend,
    inputs: { [inputName]: x },
    target,
    methods: METHODS,
    settings: { ...settings, ...steps },
    curves: { fill, groupAxis: 0, steps: 16, softmax: true },
    infidelity: { samples: 10 },
    sensitivity: o.sensitivitySamples === 0 ? false : { samples: o.sensitivitySamples ?? 4 },
  });
  const ig = comparison.rows.find((r) => r.method === "ig")!;
  const first = (t: Tensor) =>
    ({ ...t, dims: [1, ...t.dims.slice(1)], data: t.data.subarray(0, t.data.length / t.dims[0]!) }) as Tensor;
  const regions = (
    await xrai(model, {
      backend,
      inputs: { [inputName]: first(x) },
      attributions: first(ig.attributions),
    })
  ).examples[0];
  const report = comparisonReport(`Attribution methods compared: ${name}`, comparison, {
    model: name,
    layout: "NCHW",
    xrai: regions,
  });
  return { comparison, report };
}

/** Runs the comparison on the digits CNN and the shapes model; writes outDir/compare-<name>/report.html. */
export async function compareDemoModels(
  examples: string,
  outDir: string,
  o: DemoCompareOptions = {},
): Promise<DemoComparison[]> {
  const out: DemoComparison[] = [];
  // digits: one sample per class; black (0) is the background, so deletion fills with 0
  const digits = join(examples, "digits");
  const dx = await readNpy(join(digits, "digits_sample.npy"));
  const labels = Array.from(
    (await readNpy(join(digits, "digits_sample_labels.npy"))).data as ArrayLike<number | bigint>,
    Number,
  );
  const d = await compareOne(
    "digits CNN",
    await loadModel(join(digits, "digits_cnn.onnx")),
    "input",
    dx,
    labels,
    { maxSigma: 4, stdev: 2, samples: 8, seed: 0 },
    0,
    o,
  );
  out.push({ name: "digits CNN", ...d, file: join(outDir, "compare-digits", "report.html") });
  // shapes: the three bundled pictures, preprocessed as config.json says; removed pixels blur
  const shapes = join(examples, "image-shapes");
  const config = JSON.parse(readFileSync(join(shapes, "config.json"), "utf8")) as { preprocess: Preprocess };
  const names = ["circle", "square", "triangle"];
  const sx = concatRows(
    await Promise.all(
      names.map(async (n) => toModelTensor(await readImage(join(shapes, `${n}.png`)), config.preprocess)),
    ),
  );
  const model = await loadModel(join(shapes, "model.onnx"));
  const s = await compareOne(
    "shapes model",
    model,
    model.graph!.input[0]!.name!,
    sx,
    [0, 1, 2],
    { maxSigma: 8, stdev: 0.2, samples: 8, seed: 0 },
    { blur: 4 },
    o,
  );
  out.push({ name: "shapes model", ...s, file: join(outDir, "compare-shapes", "report.html") });
  for (const r of out) await writeNpyFiles(join(r.file, ".."), { "report.html": r.report });
  return out;
}
