/**
 * The rows of the side-by-side benchmark (bench/captum.ts): models, inputs written as .npy for
 * both sides, pathlens and Python arguments, and the batch sizes of the torch side.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeNpy } from "../src/io/npy.js";
import { Random } from "../src/tensor/random.js";
import { float32, int64, type Tensor } from "../src/tensor/tensor.js";
import { fixturePath } from "../src/testing/fixtures.js";
import { ROOT, runProcess, WORK } from "./cli-run.js";

/** The section's scratch folder. */
export const SBS = join(WORK, "sbs");

/** One side-by-side row: the same attribution by pathlens, Captum and a hand-written torch loop. */
export interface Row {
  label: string;
  /** Largest pathlens/Captum time ratio the issue asks for (whole process). */
  target: number;
  model: string;
  /** Inputs of the model (written as .npy for both sides) for the logits check. */
  feeds: Record<string, Tensor>;
  /** pathlens explain arguments after the model (not --steps/--out). */
  pathlensArgs: string[];
  /** tools/ script and its arguments (not --impl/--out/--points-per-batch). */
  script: string;
  scriptArgs: string[];
  /** Captum's internal_batch_size (rows per forward/backward), chosen by measurement. */
  captumBatch: number;
  /** Rows per forward/backward of the hand-written loop. */
  torchBatch: number;
}

function normal(rng: Random, dims: number[]): Tensor<"float32"> {
  const n = dims.reduce((a, b) => a * b, 1);
  return float32(
    dims,
    Array.from({ length: n }, () => rng.normal()),
  );
}

/** Token ids: [CLS]-like 1 then random ids; the baseline keeps the first token and pads the rest. */
function texts(rng: Random, n: number, seq: number, vocab: number) {
  const ids = int64(
    [n, seq],
    Array.from({ length: n * seq }, (_, i) => (i % seq === 0 ? 1 : 2 + rng.int(vocab - 2))),
  );
  const base = int64(
    [n, seq],
    Array.from({ length: n * seq }, (_, i) => (i % seq === 0 ? 1 : 0)),
  );
  return { ids, base, mask: int64([n, seq], new Array(n * seq).fill(1)) };
}

/** The rows whose models are present; makes the MiniLM model with `python` when missing. */
export async function rows(python: string): Promise<Row[]> {
  const rng = new Random(14);
  const out: Row[] = [];
  const file = (name: string) => join(SBS, name);
  const resnet = fixturePath("models/resnet18.onnx");
  if (existsSync(resnet)) {
    const x = normal(rng, [4, 3, 224, 224]);
    await writeNpy(file("resnet_x.npy"), x);
    out.push({
      label: "resnet18 IG, 4 images 224²",
      target: 0.65,
      model: resnet,
      feeds: { input: x },
      pathlensArgs: ["--input", file("resnet_x.npy"), "--target", "7"],
      script: "bench_torch_resnet18.py",
      scriptArgs: ["--model", resnet, "--input", file("resnet_x.npy"), "--target", "7"],
      // measured: 32 rows 15.4 s vs 41 s without batching (quiet machine); 32 vs 80 rows
      // 148 vs 167 s for 20 steps in one process (load 16)
      captumBatch: 32,
      torchBatch: 32,
    });
  }
  const tiny = texts(rng, 32, 128, 992);
  for (const [k, t] of Object.entries(tiny)) await writeNpy(file(`tiny_${k}.npy`), t);
  const textArgs = (prefix: string, layer: string) => ({
    pathlensArgs: [
      "--input",
      `input_ids=${file(`${prefix}_ids.npy`)}`,
      "--extra",
      `attention_mask=${file(`${prefix}_mask.npy`)}`,
      "--layer",
      layer,
      "--baseline-inputs",
      `input_ids=${file(`${prefix}_base.npy`)}`,
      "--target",
      "1",
    ],
    scriptArgs: [
      "--ids",
      file(`${prefix}_ids.npy`),
      "--mask",
      file(`${prefix}_mask.npy`),
      "--base",
      file(`${prefix}_base.npy`),
      "--target",
      "1",
    ],
  });
  out.push({
    label: "tiny BERT layer IG, 32×128",
    target: 0.2,
    model: fixturePath("models/tiny_bert.onnx"),
    feeds: { input_ids: tiny.ids, attention_mask: tiny.mask },
    ...textArgs("tiny", "/embeddings/LayerNorm/Add_1_output_0"),
    script: "bench_torch_tiny_bert.py",
    // measured in one process (load 16): 160 rows 258 s, 320 rows 160 s, 800 rows 216 s, all 1600 250 s
    captumBatch: 320,
    torchBatch: 320,
  });
  const minilm = join(WORK, "minilm");
  if (!existsSync(join(minilm, "minilm.json"))) {
    await runProcess(python, [join(ROOT, "tools", "make_minilm.py"), minilm], {}, "tools/make_minilm.py");
  }
  const meta = JSON.parse(await readFile(join(minilm, "minilm.json"), "utf8")) as {
    layer: string;
    vocab: number;
  };
  const mini = texts(rng, 8, 128, meta.vocab);
  for (const [k, t] of Object.entries(mini)) await writeNpy(file(`minilm_${k}.npy`), t);
  const miniArgs = textArgs("minilm", meta.layer);
  out.push({
    label: "MiniLM-sized layer IG, 8×128",
    target: 0.5,
    model: join(minilm, "minilm.onnx"),
    feeds: { input_ids: mini.ids, attention_mask: mini.mask },
    pathlensArgs: miniArgs.pathlensArgs,
    script: "bench_torch_minilm.py",
    scriptArgs: ["--weights", join(minilm, "minilm.pt"), ...miniArgs.scriptArgs],
    // not measured (no time on the loaded machine): 5 steps × 8 texts keeps the backward's
    // activations near 1.5 GB (~36 MB per 128-token row over the 6 layers)
    captumBatch: 40,
    torchBatch: 40,
  });
  return out;
}
