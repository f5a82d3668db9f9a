/**
 * `pathlens image`: explains an image classifier on a PNG/JPEG; writes attributions.npy, the
 * overlay and window PNGs, summary.json and (with --report) report.html, all or nothing.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { explainImage } from "../explain/image.js";
import type { AttributionSign } from "../explain/image-maps.js";
import { checkPreprocess, type Preprocess } from "../explain/preprocess.js";
import { encodePng, readImage } from "../io/image.js";
import { writeNpyFiles } from "../io/npy.js";
import { readJsonFile } from "../io/regular-file.js";
import { castFloat } from "../tensor/tensor.js";
import { imageXraiSections } from "../viz/compare.js";
import { reportPage } from "../viz/html.js";
import { imageSections } from "../viz/image-report.js";
import { renderReport } from "../viz/report.js";
import { CliError, type CommandSpec, type ParsedArgs, UsageError } from "./args.js";
import { loadCheckedModel } from "./check.js";
import { backendFor, DEVICE_OPTION } from "./device.js";
import { progressReporter } from "./progress-line.js";

/** The declaration of `pathlens image`. */
export const imageCommand: CommandSpec = {
  name: "image",
  summary: "Explain an image classifier on a PNG or JPEG",
  positionals: [
    { name: "model.onnx", help: "the classifier" },
    { name: "image", help: "PNG or JPEG file" },
  ],
  options: {
    device: DEVICE_OPTION,
    preprocess: {
      type: "string",
      value: "FILE.json",
      help: "preprocessing (keys: resize, crop, scale, mean, std, layout, channels)",
    },
    resize: { type: "string", value: "N|H,W", help: "resize (a number: the shorter side)" },
    crop: { type: "string", value: "N|H,W", help: "centre crop" },
    scale: { type: "string", value: "S", help: "multiplies 0…255 pixel values (default 1/255)" },
    mean: { type: "string", value: "a,b,c", help: "per-channel mean" },
    std: { type: "string", value: "a,b,c", help: "per-channel standard deviation" },
    layout: { type: "string", value: "nchw|nhwc", help: "tensor layout (default nchw)" },
    channels: { type: "string", value: "rgb|bgr", help: "channel order (default rgb)" },
    baseline: { type: "string", value: "black|blur|noise|FILE", help: "baseline (default black)" },
    target: { type: "string", value: "N|LABEL", help: "class index or name (default: the predicted one)" },
    steps: { type: "string", value: "N", help: "quadrature points (default 50)" },
    sign: {
      type: "string",
      value: "all|positive|negative|absolute",
      help: "what the overlay shows (default all)",
    },
    "clip-percentile": {
      type: "string",
      value: "P",
      help: "clip the largest attributions at this percentile (default 99)",
    },
    seed: { type: "string", value: "S", help: "seed of the noise baseline" },
    report: { type: "boolean", help: "also write DIR/report.html" },
    xrai: { type: "boolean", help: "with --report: also draw XRAI regions (segments ranked by attribution)" },
    json: { type: "boolean", help: "print the summary as JSON" },
    quiet: { type: "boolean", help: "no progress bar" },
    out: { type: "string", short: "o", required: true, value: "DIR", help: "output folder" },
  },
  notes:
    "A config.json next to the model with id2label and preprocess is used when present (flags override it).",
};

function numbers(v: string | undefined, flag: string, count?: number): number[] | undefined {
  if (v === undefined) return undefined;
  const out = v.split(",").map(Number);
  if (out.some((x) => !Number.isFinite(x)) || (count && out.length !== count)) {
    throw new UsageError(
      `${flag} expects ${count ? `${count} ` : ""}comma-separated numbers, got "${v}"`,
      imageCommand,
    );
  }
  return out;
}

/** Runs `pathlens image`. */
export async function runImage(args: ParsedArgs): Promise<string[]> {
  const modelPath = args.positionals["model.onnx"]!;
  const model = await loadCheckedModel(modelPath);
  const configFile = join(dirname(modelPath), "config.json");
  const config = existsSync(configFile)
    ? ((await readJsonFile(configFile, (p) => new CliError(`${configFile}: ${p}`))) as {
        id2label?: Record<string, string>;
        preprocess?: Preprocess;
      })
    : {};
  let pre: Preprocess = { ...(config.preprocess ?? {}) };
  if (args.string("preprocess")) {
    const file = args.string("preprocess")!;
    pre = { ...pre, ...((await readJsonFile(file, (p) => new CliError(`${file}: ${p}`))) as Preprocess) };
  }
  const size = (v: string | undefined, flag: string) => {
    const n = numbers(v, flag);
    return n === undefined ? undefined : n.length === 1 ? n[0]! : (n as [number, number]);
  };
  const flags: Preprocess = {
    resize: size(args.string("resize"), "--resize"),
    crop: size(args.string("crop"), "--crop"),
    scale: numbers(args.string("scale"), "--scale", 1)?.[0],
    mean: numbers(args.string("mean"), "--mean", 3),
    std: numbers(args.string("std"), "--std", 3),
    layout: args.string("layout") as Preprocess["layout"],
    channels: args.string("channels") as Preprocess["channels"],
  };
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) (pre as Record<string, unknown>)[k] = v;
  checkPreprocess(pre);
  const img = await readImage(args.positionals.image!);
  const b = args.string("baseline") ?? "black";
  const baseline = ["black", "blur", "noise"].includes(b)
    ? (b as "black" | "blur" | "noise")
    : await readImage(b);
  const sign = args.string("sign") ?? "all";
  if (!["all", "positive", "negative", "absolute"].includes(sign))
    throw new UsageError("--sign must be all, positive, negative or absolute", imageCommand);
  const labels = config.id2label
    ? Object.keys(config.id2label)
        .sort((x, y) => Number(x) - Number(y))
        .map((k) => config.id2label![k]!)
    : undefined;
  const progress = progressReporter({ quiet: args.flag("quiet") || args.flag("json"), label: "image" });
  let e: Awaited<ReturnType<typeof explainImage>>;
  try {
    e = await explainImage(model, img, {
      backend: backendFor(args),
      preprocess: pre,
      target: args.string("target"),
      baseline,
      steps: numbers(args.string("steps"), "--steps", 1)?.[0],
      sign: sign as AttributionSign,
      clipPercentile: numbers(args.string("clip-percentile"), "--clip-percentile", 1)?.[0],
      labels,
      seed: numbers(args.string("seed"), "--seed", 1)?.[0],
      onProgress: (p) => progress.update(p.done, p.total),
    });
  } finally {
    progress.done();
  }
  const summary = {
    model: modelPath,
    image: args.positionals.image,
    prediction: e.prediction,
    target: e.target,
    steps: e.steps,
    baseline: typeof baseline === "string" ? baseline : b,
    outputAtInput: e.outputAtInput,
    outputAtBaseline: e.outputAtBaseline,
    delta: e.delta,
  };
  const files: Record<string, Uint8Array | string | ReturnType<typeof castFloat>> = {
    "attributions.npy": castFloat(e.attributions, "float32"),
    "overlay.png": encodePng(e.overlay),
    "window.png": encodePng(e.window),
    "summary.json": `${JSON.stringify(summary, null, 2)}\n`,
  };
  if (args.flag("report"))
    files["report.html"] = args.flag("xrai")
      ? reportPage("Image explanation", [
          ...imageSections(args.positionals.image!, e),
          ...imageXraiSections(e),
        ])
      : renderReport(e, { name: args.positionals.image! });
  const written = await writeNpyFiles(args.string("out")!, files);
  if (args.flag("json")) return [JSON.stringify(summary)];
  return [
    `prediction ${e.prediction.label} (p = ${e.prediction.probability.toFixed(3)}), delta ${e.delta.toExponential(1)}`,
    ...written.map((p) => `wrote ${p}`),
  ];
}
