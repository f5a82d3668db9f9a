/**
 * `pathlens explain` on every model of the corpus (test/fixtures/corpus), the architecture zoo
 * (test/fixtures/zoo), the batch-first recurrent classifier (test/fixtures/rnn) and the
 * transformers of test/fixtures/contrib as onnxruntime's optimizers write them (the LLaMA-like
 * block in the transformer optimizer's fused form too): the CLI's own
 * `explain` command (parsed and run in this process, one process for all models), Integrated
 * Gradients of seed·output (the fixtures' random cotangent as `--target` weights).
 *
 * Baseline: zero (the default) for the piecewise-linear nets; for the smooth ones the input's own
 * values in reverse order. Several of those nets have
 * zero-initialized biases in front of a LayerNorm (torchvision's ConvNeXt stem, the attention
 * projections of nn.TransformerEncoderLayer), so at the zero input a LayerNorm sees variance 0 and
 * the path's integrand is a spike of height ~1/√ε within α ≲ 1e-3 of the baseline: no quadrature
 * resolves it (measured: completeness gap 3e3 against F(x) − F(0) = 0.12 for convnext at 257 points).
 * The reversed input is a point of the same distribution where nothing is degenerate.
 *
 * Piecewise-linear nets (ReLU/ReLU6/Hardswish: the corpus cases without HVP) have a discontinuous
 * integrand, so IG's quadrature error falls only as 1/steps (mobilenet_v2 from zero: 1.7e-1, 3.8e-2,
 * 8.7e-3 relative at 64, 256, 1024 Gauss–Legendre points; from the reversed input, whose path
 * crosses far more ReLU6 boundaries, 8.1e-2, 2.7e-2, 1.3e-2 at 256, 1024, 4096). They get 1024
 * Gauss–Legendre points and a 3e-2 bar (mobilenet_v2: 1.5e-2) at their newest opset; at the
 * older opsets (the same network) 128 points and a 0.15 bar (mobilenet_v2: 5.0e-2), as the time
 * budget does not allow 1024 single-example steps for each. Smooth nets: `--steps auto`
 * (trapezoid doubling to |delta| ≤ 1e-3·|F(x) − F(x')|) and a 2e-3 bar.
 *
 * Not here: the sequence-first recurrent exports (x as time × batch × features, states as
 * layers·directions × batch × hidden), explained with `--batch-axis` / `batchAxes` in
 * src/attribution/batch-axes.test.ts and src/cli/batch-axis.test.ts (kept apart: this file's
 * run time is near its budget).
 *
 * Checked from the files the command writes, not from its own `delta`: every attribution is
 * finite, Σ attributions − (F(x) − F(0)) is small against F(x) − F(0) (completeness, recomputed
 * from attributions.npy), the reported `delta` agrees with that sum, and F(x) equals seed·output of
 * torch float64 (the reference output of the corpus), so the explained function is the model's.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parseCommand } from "../cli/args.js";
import { explainCommand, runExplain } from "../cli/explain.js";
import { readNpy, writeNpy } from "../io/npy.js";
import { parseNpy } from "../io/npy-format.js";
import { float16ToNumber, numberToFloat16 } from "../tensor/half.js";
import { float32, type Tensor, tensor, toFloat64 } from "../tensor/tensor.js";
import { FIXTURES } from "../testing/fixtures.js";
import { onnxruntimeOptimized } from "./ort-optimize.js";

// gradient models are built afresh: nothing is written to the user's cache folder
process.env.PATHLENS_CACHE = "0";

/** One explain run: the model, the attributed input, other inputs, output weights, torch's output. */
interface ExplainCase {
  label: string;
  model: string;
  input: [string, string];
  extra: [string, string][];
  target: string;
  output?: string;
  reference: Tensor;
  /** Piecewise linear (ReLU family): quadrature error falls as 1/steps. */
  piecewiseLinear: boolean;
  /** Another opset of an architecture checked at full steps: 128 points, a loose completeness bar. */
  quick?: boolean;
}

const work = await mkdtemp(join(tmpdir(), "pathlens-corpus-explain-"));
after(() => rm(work, { recursive: true, force: true }));

const readNpyFile = (path: string): Tensor => parseNpy(readFileSync(path), path);
const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));

interface ManifestCase {
  name: string;
  opset: number;
  model: string;
  hvp?: boolean;
}

function corpusCases(): ExplainCase[] {
  const dir = join(FIXTURES, "corpus");
  const all = readJson(join(dir, "manifest.json")).cases as ManifestCase[];
  const newest = (name: string) => Math.max(...all.filter((c) => c.name === name).map((c) => c.opset));
  return all.map((c) => ({
    label: `corpus ${c.name} opset ${c.opset}`,
    model: join(dir, c.model),
    input: ["x", join(dir, `${c.name}_x.npy`)],
    extra: [],
    target: join(dir, `${c.name}_seed.npy`),
    reference: readNpyFile(join(dir, `${c.name}_output.npy`)),
    piecewiseLinear: !c.hvp,
    quick: !c.hvp && c.opset !== newest(c.name),
  }));
}

/**
 * float16 and QDQ versions of three corpus architectures (tools/make_corpus_variants.py); the
 * float16 ones get the corpus input rounded to float16, the input their torch reference saw.
 */
async function variantCases(): Promise<ExplainCase[]> {
  const dir = join(FIXTURES, "corpus");
  const cases = readJson(join(dir, "variants.json")).cases as { name: string; kind: string; model: string }[];
  const input = async (name: string, kind: string) => {
    const path = join(dir, `${name}_x.npy`);
    if (kind !== "float16") return path;
    const x = await readNpy(path);
    const rounded = join(work, `${name}_x_float16.npy`);
    const data = Float32Array.from(x.data as Float32Array, (v) => float16ToNumber(numberToFloat16(v)));
    await writeNpy(rounded, tensor("float32", x.dims, data));
    return rounded;
  };
  const out: ExplainCase[] = [];
  for (const c of cases)
    out.push({
      label: `corpus ${c.name} ${c.kind}`,
      model: join(dir, c.model),
      input: ["x", await input(c.name, c.kind)],
      extra: [],
      target: join(dir, `${c.name}_seed.npy`),
      reference: readNpyFile(join(dir, `${c.name}_${c.kind === "float16" ? "fp16" : "qdq"}_output.npy`)),
      piecewiseLinear: c.name !== "efficientnet_b0",
    });
  return out;
}

function zooCases(): ExplainCase[] {
  const dir = join(FIXTURES, "zoo");
  return (readJson(join(dir, "manifest.json")).cases as ManifestCase[]).map((c) => ({
    label: `zoo ${c.name} opset ${c.opset}`,
    model: join(FIXTURES, c.model),
    input: ["x", join(dir, `${c.name}_x.npy`)],
    extra: [],
    target: join(dir, `${c.name}_seed.npy`),
    reference: readNpyFile(join(dir, `${c.name}_output.npy`)),
    piecewiseLinear: c.name !== "encoder_layer", // Hardswish and ReLU; LeakyReLU
  }));
}

/** The batch-first LSTM classifier: its input and torch's output are in its JSON. */
async function rnnCase(): Promise<ExplainCase> {
  const dir = join(FIXTURES, "rnn");
  const spec = readJson(join(dir, "lstm_classifier.json")) as {
    models: { opset: number; model: string }[];
    inputs: Record<string, { dims: number[]; data: number[] }>;
    seeds: Record<string, { dims: number[]; data: number[] }>;
    outputs: Record<string, { dims: number[]; data: number[] }>;
  };
  const [name] = Object.keys(spec.inputs);
  const [output] = Object.keys(spec.seeds);
  const write = async (file: string, t: { dims: number[]; data: number[] }) => {
    await writeNpy(join(work, file), float32(t.dims, t.data));
    return join(work, file);
  };
  const m = spec.models[0]!;
  return {
    label: `rnn lstm_classifier opset ${m.opset}`,
    model: join(FIXTURES, m.model),
    input: [name!, await write("lstm_classifier_x.npy", spec.inputs[name!]!)],
    extra: [],
    target: await write("lstm_classifier_seed.npy", spec.seeds[output!]!),
    output: output!,
    reference: float32(spec.outputs[output!]!.dims, spec.outputs[output!]!.data),
    piecewiseLinear: false,
  };
}

/** Transformers of test/fixtures/contrib after onnxruntime's optimizer (level extended). */
async function optimizedCases(): Promise<ExplainCase[]> {
  const dir = join(FIXTURES, "contrib");
  const cases: ExplainCase[] = [];
  for (const [name, input, extra] of [
    ["bert_embeds", "embeds", ["attention_mask", "token_type_ids"]],
    ["gpt_block", "x", []],
  ] as const) {
    const model = join(work, `${name}_optimized.onnx`);
    await writeFile(model, await onnxruntimeOptimized(readFileSync(join(dir, `${name}.onnx`)), "extended"));
    cases.push({
      label: `${name} optimized by onnxruntime`,
      model,
      input: [input, join(dir, `${name}.input.npy`)],
      extra: extra.map((e) => [e, join(dir, `${name}.${e}.npy`)] as [string, string]),
      target: join(dir, `${name}.seed.npy`),
      reference: readNpyFile(join(dir, `${name}.output.npy`)),
      piecewiseLinear: false,
    });
  }
  // the LLaMA-like block in the transformer optimizer's fused form (RotaryEmbedding, MultiHeadAttention)
  cases.push({
    label: "fused_llama (RotaryEmbedding, MultiHeadAttention)",
    model: join(dir, "fused_llama.onnx"),
    input: ["x", join(dir, "fused_llama.x.npy")],
    extra: ["position_ids", "key_padding_mask"].map(
      (e) => [e, join(dir, `fused_llama.${e}.npy`)] as [string, string],
    ),
    target: join(dir, "fused_llama.seed.npy"),
    reference: readNpyFile(join(dir, "fused_llama.output.npy")),
    piecewiseLinear: false,
  });
  return cases;
}

function dot(a: Tensor, b: Tensor): number {
  const x = toFloat64(a);
  const y = toFloat64(b);
  assert.equal(x.length, y.length);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * y[i]!;
  return s;
}

/** The input's values in reverse order, written beside the run (see the file comment). */
async function reversedBaseline(input: string, out: string): Promise<string> {
  const x = await readNpy(input);
  const path = `${out}_baseline.npy`;
  await writeNpy(path, tensor("float32", x.dims, Float32Array.from(toFloat64(x).reverse())));
  return path;
}

/** Runs `pathlens explain` in process; returns the summary and attributions it wrote. */
async function explain(c: ExplainCase, out: string) {
  const argv = [
    c.model,
    "--input",
    `${c.input[0]}=${c.input[1]}`,
    ...c.extra.flatMap(([k, f]) => ["--extra", `${k}=${f}`]),
    "--target",
    c.target,
    ...(c.output ? ["--output", c.output] : []),
    ...(c.piecewiseLinear ? [] : ["--baseline", await reversedBaseline(c.input[1], out)]),
    ...(c.piecewiseLinear
      ? ["--steps", c.quick ? "128" : "1024"]
      : ["--steps", "auto", "--tolerance", "1e-3"]),
    "--quiet",
    "--out",
    out,
  ];
  const parsed = parseCommand(explainCommand, argv);
  assert.ok(!parsed.help);
  await runExplain(parsed.args);
  const summary = JSON.parse(await readFile(join(out, "summary.json"), "utf8"));
  const attributions = await readNpy(join(out, "attributions.npy"));
  return { summary, attributions };
}

const sum = (v: number[]) => v.reduce((s, x) => s + x, 0);

const cases = [
  ...corpusCases(),
  ...(await variantCases()),
  ...zooCases(),
  await rnnCase(),
  ...(await optimizedCases()),
];

for (const c of cases) {
  test(`explain ${c.label}: finite attributions, completeness, F(x) = torch`, async () => {
    const out = join(work, c.label.replaceAll(" ", "_"));
    const { summary, attributions } = await explain(c, out);
    const a = toFloat64(attributions);
    assert.ok(
      a.every((v) => Number.isFinite(v)),
      "every attribution is finite",
    );
    assert.deepEqual(attributions.dims, (await readNpy(c.input[1])).dims);
    // F = Σ seed·output over the batch: the summed per-example values against torch float64
    const fx = sum(summary.outputAtInput);
    const change = fx - sum(summary.outputAtBaseline);
    const torchFx = dot(await readNpy(c.target), c.reference);
    assert.ok(Math.abs(fx - torchFx) <= 1e-4 * Math.abs(torchFx) + 1e-5, `F(x) ${fx} vs torch ${torchFx}`);
    const gap = a.reduce((s, v) => s + v, 0) - change;
    if (process.env.PATHLENS_VERBOSE)
      console.log(
        `${c.label}: ${summary.steps} steps, F(x) − F(x') ${change.toExponential(3)}, ` +
          `completeness gap ${gap.toExponential(2)} (${(Math.abs(gap) / Math.abs(change)).toExponential(2)} relative)`,
      );
    assert.ok(
      Math.abs(change) > 1e-4 * Math.abs(fx),
      `the output moves between baseline and input (${change})`,
    );
    const bar = c.quick ? 0.15 : c.piecewiseLinear ? 3e-2 : 2e-3;
    assert.ok(Math.abs(gap) <= bar * Math.abs(change), `completeness gap ${gap} against ${change}`);
    const reported = sum(summary.delta);
    assert.ok(
      Math.abs(reported - gap) <= 1e-5 * Math.abs(change) + 1e-6,
      `reported delta ${reported} vs recomputed ${gap}`,
    );
  });
}
