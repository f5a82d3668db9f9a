/**
 * `--device webgpu` end to end through the CLI (onnxruntime-node's WebGPU provider on SwiftShader
 * where no GPU exists): Integrated Gradients on tiny BERT (layer IG) gives the CPU's attributions;
 * the gradient command's --verbose placement report shows no node off the GPU. resnet18 on WebGPU
 * is checked in process (src/runtime/webgpu.test.ts), not again through the CLI.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { readNpy, writeNpy } from "../io/npy.js";
import { float32, relativeL2, toFloat64 } from "../tensor/tensor.js";
import { runCli as cli } from "../testing/cli.js";
import { fixturePath } from "../testing/fixtures.js";
import { softwareWebGpu } from "../testing/webgpu.js";

const skip = softwareWebGpu();
const dir = await mkdtemp(join(tmpdir(), "pathlens-device-"));
after(() => rm(dir, { recursive: true, force: true }));

/** Runs the same command on both devices; returns the two attribution tensors (float64 data). */
async function bothDevices(name: string, args: string[]) {
  const out: Record<string, Float64Array> = {};
  for (const device of ["cpu", "webgpu"]) {
    const o = join(dir, `${name}-${device}`);
    const r = await cli([...args, "--device", device, "--quiet", "--out", o]);
    assert.equal(r.code, 0, r.stderr);
    out[device] = toFloat64(await readNpy(join(o, "attributions.npy")));
  }
  return out;
}

test("--device webgpu: tiny BERT layer IG matches the CPU", { skip }, async (t) => {
  const f = fixturePath;
  const out = await bothDevices("bert", [
    "explain",
    f("models/tiny_bert.onnx"),
    "--input",
    `input_ids=${f("refs/tiny_bert_lig_input_ids.npy")}`,
    "--extra",
    `attention_mask=${f("refs/tiny_bert_lig_attention_mask.npy")}`,
    "--layer",
    "/embeddings/LayerNorm/Add_1_output_0",
    "--baseline-inputs",
    `input_ids=${f("refs/tiny_bert_lig_baseline_ids.npy")}`,
    "--target",
    f("refs/tiny_bert_lig_target.npy"),
    "--steps",
    "8",
  ]);
  const err = relativeL2(out.webgpu!, out.cpu!);
  t.diagnostic(`relative L2 ${err.toExponential(2)}`);
  assert.ok(err <= 1e-5, `relative L2 ${err}`);
});

test("gradient --verbose lists the nodes off the GPU (none for the digits CNN)", { skip }, async (_t) => {
  const x = float32(
    [2, 1, 8, 8],
    Float32Array.from({ length: 128 }, (_, i) => Math.sin(i)),
  );
  const seed = float32(
    [2, 10],
    Float32Array.from({ length: 20 }, (_, i) => Math.cos(i)),
  );
  await writeNpy(join(dir, "gx.npy"), x);
  await writeNpy(join(dir, "gs.npy"), seed);
  const r = await cli([
    "gradient",
    fixturePath("models/digits_cnn.onnx"),
    "--input",
    `input=${join(dir, "gx.npy")}`,
    "--wrt",
    "input",
    "--cotangent",
    join(dir, "gs.npy"),
    "--device",
    "webgpu",
    "--verbose",
    "--out",
    join(dir, "grad"),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /placement: \d+ of \d+ nodes ran off the device, 0 with data-sized outputs/);
});

test("--device with an unknown name is a usage error", async () => {
  const r = await cli([
    "explain",
    fixturePath("models/digits_cnn.onnx"),
    "--input",
    fixturePath("grads/digits_cnn_input.npy"),
    "--device",
    "cuda",
    "--out",
    join(dir, "bad"),
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--device must be one of cpu, webgpu, got "cuda"/);
});
