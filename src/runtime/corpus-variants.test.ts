/**
 * float16 and QDQ-quantized versions of three torchvision corpus architectures (mobilenet_v2,
 * densenet, efficientnet_b0; tools/make_corpus_variants.py), on the corpus input and seed.
 *
 * float16: by default pathlens computes the float16 network in float32, so its gradient is
 * compared with torch float64 of exactly that network (the module with every parameter and buffer
 * rounded to float16, on the rounded input) at the corpus bar, relative L2 ≤ 1e-4. With
 * keepLowPrecision (the model's own precision) every float16 tensor is rounded to float16; the
 * output is compared with the same float64 reference at a bar derived from float16's unit
 * roundoff u = 2^-11 ≈ 4.9e-4 (KEPT_OUTPUT_BAR). The kept gradient is as sensitive to those
 * roundings as the network is: rounding only the weights (float32 network vs float16 network,
 * both float64) moves these random-init gradients by 4e-3 to 5e-2 already (ReLU decisions and
 * BatchNorm over small-variance channels), and the kept forward rounds about three tensors per
 * weight tensor (convolution, BatchNorm, activation outputs), so its bar is 5× that measured
 * sensitivity. onnxruntime's own float16 run on the CPU is no per-tensor reference: it computes
 * float16 nodes in float32 and drops the Cast pairs between them (its output is 1.5e-4 from
 * float64 with optimizations off), so it is printed, not compared.
 *
 * QDQ: the gradient is that of the dequantized network (dequantized weights, activations clipped
 * to their quantization range, no rounding): torch float64 of the module with those weights and
 * clamps, relative L2 ≤ 1e-4.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import * as ort from "onnxruntime-node";
import { keepLowPrecision } from "../autodiff/precision-keep.js";
import { parseNpy } from "../io/npy-format.js";
import { decodeModel } from "../onnx/codec.js";
import type { ModelProto } from "../onnx/types.js";
import { float16ToNumber, numberToFloat16 } from "../tensor/half.js";
import { float32, relativeL2, type Tensor, toFloat64 } from "../tensor/tensor.js";
import { FIXTURES } from "../testing/fixtures.js";
import { GradientSession } from "./gradient-session.js";
import { nodeBackend } from "./node.js";

const DIR = join(FIXTURES, "corpus");
const npy = (file: string): Tensor => parseNpy(readFileSync(join(DIR, file)), file);
const cases = JSON.parse(readFileSync(join(DIR, "variants.json"), "utf8")).cases as {
  name: string;
  kind: "float16" | "qdq";
  model: string;
}[];

/**
 * Bar for the kept-float16 output against float64 of the same float16 weights. Each of the
 * ~50–70 rounded tensors along these nets perturbs the activations by ≤ u relative; the
 * perturbations add like a random walk (√70·u ≈ 8u) and BatchNorm over small-variance channels
 * amplifies them a few times: 40u ≈ 2e-2.
 */
const KEPT_OUTPUT_BAR = 40 * 2 ** -11;

async function gradient(model: ModelProto, x: Tensor, seed: Tensor) {
  const s = await GradientSession.create(
    nodeBackend(),
    model,
    { x },
    { wrt: ["x"], outputs: ["y"], cache: false },
  );
  try {
    const r = await s.run({ x }, { y: seed });
    return { y: toFloat64(r.outputs.y!), g: toFloat64(r.gradients.x!) };
  } finally {
    await s.dispose();
  }
}

for (const c of cases) {
  test(`corpus ${c.name} ${c.kind === "float16" ? "float16" : "QDQ-quantized"}: gradient matches torch float64 of the network it holds`, async () => {
    const bytes = readFileSync(join(DIR, c.model));
    const model = decodeModel(bytes, c.model);
    const x = npy(`${c.name}_x.npy`);
    const seed = npy(`${c.name}_seed.npy`);
    const prefix = `${c.name}_${c.kind === "float16" ? "fp16" : "qdq"}`;
    const yRef = toFloat64(npy(`${prefix}_output.npy`));
    const gRef = toFloat64(npy(`${prefix}_grad.npy`));
    if (c.kind === "qdq") {
      assert.ok(
        model.graph!.node.some((n) => n.opType === "QuantizeLinear"),
        "the file is QDQ",
      );
      const r = await gradient(model, x, seed);
      const out = relativeL2(r.y, yRef);
      const grad = relativeL2(r.g, gRef);
      console.log(
        `${c.name} QDQ: output ${out.toExponential(2)}, gradient ${grad.toExponential(2)} (dequantized network, torch float64)`,
      );
      assert.ok(out <= 1e-5, `output ${out}`);
      assert.ok(grad <= 1e-4, `gradient ${grad}`);
      return;
    }
    // the float16 network's input: x rounded to float16
    const xh = float32(
      x.dims,
      Array.from(x.data as Float32Array, (v) => float16ToNumber(numberToFloat16(v))),
    );
    const native = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: "disabled" });
    const feed = new ort.Tensor("float16", Uint16Array.from(x.data as Float32Array, numberToFloat16), x.dims);
    const yNative = Array.from((await native.run({ x: feed })).y!.data as Uint16Array, float16ToNumber);
    await native.release();
    const widened = await gradient(model, xh, seed);
    const kept = await gradient(keepLowPrecision(model), xh, seed);
    const full = toFloat64(npy(`${c.name}_grad.npy`));
    const m = {
      output: relativeL2(widened.y, yRef),
      gradient: relativeL2(widened.g, gRef),
      nativeOutput: relativeL2(yNative, yRef),
      keptOutput: relativeL2(kept.y, yRef),
      keptGradient: relativeL2(kept.g, gRef),
      vsFloat32Network: relativeL2(gRef, full),
    };
    console.log(
      `${c.name} float16: float32 compute: output ${m.output.toExponential(2)}, gradient ${m.gradient.toExponential(2)}; ` +
        `kept float16: output ${m.keptOutput.toExponential(2)}, gradient ${m.keptGradient.toExponential(2)}; ` +
        `onnxruntime's float16 run (optimizations off): output ${m.nativeOutput.toExponential(2)}; weights-only rounding moves the gradient by ${m.vsFloat32Network.toExponential(2)}`,
    );
    assert.ok(m.output <= 1e-4, `output ${m.output}`);
    assert.ok(m.gradient <= 1e-4, `gradient ${m.gradient}`);
    assert.ok(m.keptOutput <= KEPT_OUTPUT_BAR, `kept output ${m.keptOutput}`);
    const keptBar = 5 * m.vsFloat32Network;
    assert.ok(m.keptGradient <= keptBar, `kept gradient ${m.keptGradient} > ${keptBar}`);
  });
}
