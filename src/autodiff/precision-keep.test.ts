/**
 * keepLowPrecision: a float16 model computed in its own precision (by float32 ops that round to
 * float16 where the model holds float16), its gradient in float32 through the roundings.
 *
 * References: half.ts' float16 conversion and a bit-level bfloat16 rounding (the rounding
 * itself); onnxruntime running the float16 model natively on float16 feeds (the forward);
 * torch float64 autograd of the half-rounded network and of the float32 network (the gradient).
 *
 * Tolerance of the gradient: float16's unit roundoff is u = 2^-11 ≈ 4.9e-4 (machine epsilon
 * 2u). The float16 forward rounds each of half_cnn's ~10 intermediate tensors once (relative error
 * ≤ u each); the gradient inherits those perturbations through the Jacobians (ReLU masks, sigmoid,
 * softmax). Independent roundings add up like a random walk, √10·u ≈ 3u; the bar is 4u ≈ 2e-3
 * against the half-rounded network in float64 (measured 3.0e-4 ≈ 0.6u), and 8u ≈ 4e-3 against the
 * float32 network, whose weights and input differ by one more rounding each (measured 6.8e-4).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import * as ort from "onnxruntime-node";
import { readNpy } from "../io/npy.js";
import { decodeModel, encodeModel } from "../onnx/codec.js";
import { makeModel } from "../onnx/make.js";
import { GradientSession } from "../runtime/gradient-session.js";
import { nodeBackend } from "../runtime/node.js";
import { float16ToNumber, numberToFloat16 } from "../tensor/half.js";
import { float32, relativeL2, toFloat64 } from "../tensor/tensor.js";
import { keepLowPrecision } from "./precision-keep.js";

const DIR = join(import.meta.dirname, "../../test/fixtures/contrib");

/** Seeded uniform values in [-range, range) (mulberry32). */
function uniform(n: number, seed: number, range: number): number[] {
  let a = seed >>> 0;
  return Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * range;
  });
}

/** float32 value rounded to bfloat16 (round to nearest, ties to even) from its bits. */
function toBfloat16(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer);
  u[0] = ((u[0]! + 0x7fff + ((u[0]! >>> 16) & 1)) >>> 16) << 16;
  return f[0]!;
}

async function run(model: ReturnType<typeof makeModel>, x: ReturnType<typeof float32>) {
  const session = await nodeBackend().createSession(encodeModel(model));
  try {
    return (await session.run({ x }, ["y"])).y!;
  } finally {
    await session.dispose();
  }
}

test("keepLowPrecision rounds a float16 (bfloat16) tensor as Cast to float16 (bfloat16) does", async () => {
  for (const [to, reference] of [
    [10, (v: number) => float16ToNumber(numberToFloat16(v))],
    [16, toBfloat16],
  ] as const) {
    const model = makeModel({
      opset: 17,
      inputs: [{ name: "x", dtype: "float32", dims: [4000] }],
      outputs: [{ name: "y", dtype: "float32", dims: [4000] }],
      nodes: [
        { op: "Cast", inputs: ["x"], outputs: ["h"], attrs: { to } },
        { op: "Neg", inputs: ["h"], outputs: ["n"] },
        { op: "Cast", inputs: ["n"], outputs: ["y"], attrs: { to: 1 } },
      ],
    });
    // magnitudes from 6e-5 (float16's smallest normal) to 6e4: float16's normal range
    const values = uniform(4000, 7 + to, 1).map((u, i) =>
      Math.fround(Math.sign(u) * (1 + Math.abs(u)) * 2 ** ((i % 29) - 14)),
    );
    // exact ties of both types: 1 + 2^-11, 1 + 3·2^-11 (float16), 1 + 2^-8, 1 + 3·2^-8 (bfloat16), scaled
    for (const [k, t] of [2 ** -11, 3 * 2 ** -11, 2 ** -8, 3 * 2 ** -8].entries())
      for (let e = -8; e <= 8; e++) values[k * 17 + e + 8] = (1 + t) * 2 ** e * (e % 2 ? -1 : 1);
    const y = await run(keepLowPrecision(model), float32([4000], values));
    const expected = values.map((v) => -reference(v));
    const wrong = expected.filter((e, i) => y.data[i] !== e);
    assert.equal(wrong.length, 0, `type ${to}: ${wrong.length} of 4000 values rounded differently`);
  }
});

test("a float16 CNN kept in float16: forward = onnxruntime's own float16 run; gradient = torch float64 within 4u", async () => {
  const half = decodeModel(new Uint8Array(await readFile(join(DIR, "half_cnn_fp16.onnx"))));
  const kept = keepLowPrecision(half);
  const x32 = await readNpy(join(DIR, "half_cnn.input.npy"));
  const seed = await readNpy(join(DIR, "half_cnn.seed.npy"));
  // onnxruntime on the float16 file, float16 feeds: the float16 model as users run it
  const native = await ort.InferenceSession.create(encodeModel(half));
  const xh = Uint16Array.from(x32.data as Float32Array, (v) => numberToFloat16(v));
  const yh = (await native.run({ x: new ort.Tensor("float16", xh, x32.dims) })).y!;
  await native.release();
  const yNative = Array.from(yh.data as Uint16Array, float16ToNumber);

  const gradients: Record<string, Float64Array> = {};
  for (const [label, model] of [
    ["kept", kept],
    ["float32", half],
  ] as const) {
    const s = await GradientSession.create(nodeBackend(), model, { x: x32 }, { wrt: ["x"], cache: false });
    try {
      const r = await s.run({ x: x32 }, { y: seed });
      assert.equal(r.gradients.x!.dtype, "float32");
      assert.equal(r.outputs.y!.dtype, "float32");
      gradients[label] = toFloat64(r.gradients.x!);
      const forward = relativeL2(toFloat64(r.outputs.y!), yNative);
      if (label === "kept") {
        // the same roundings as onnxruntime's float16 run: equal but for the last float16 bit
        assert.ok(forward <= 2 ** -11, `kept forward vs onnxruntime float16: rel L2 ${forward}`);
      }
      console.log(
        `half_cnn ${label}: forward vs onnxruntime float16 run, rel L2 ${forward.toExponential(2)}`,
      );
    } finally {
      await s.dispose();
    }
  }
  const grad16 = toFloat64(await readNpy(join(DIR, "half_cnn.grad16.npy")));
  const grad32 = toFloat64(await readNpy(join(DIR, "half_cnn.grad.npy")));
  const vsHalf = relativeL2(gradients.kept!, grad16);
  const vsFloat = relativeL2(gradients.kept!, grad32);
  const modes = relativeL2(gradients.kept!, gradients.float32!);
  console.log(
    `half_cnn kept in float16: gradient rel L2 ${vsHalf.toExponential(2)} vs torch float64 (half weights), ` +
      `${vsFloat.toExponential(2)} vs float32 network, ${modes.toExponential(2)} vs pathlens' default float32`,
  );
  const u = 2 ** -11;
  assert.ok(vsHalf <= 4 * u, `vs the half-rounded network in float64: ${vsHalf}`);
  assert.ok(vsFloat <= 8 * u, `vs the float32 network in float64: ${vsFloat}`);
  // the roundings act: the kept gradient is not the float32 one
  assert.ok(modes >= 2 ** -16, `kept and float32 gradients differ by ${modes}`);
});
