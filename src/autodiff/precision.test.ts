import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { readNpy } from "../io/npy.js";
import { decodeModel } from "../onnx/codec.js";
import { makeModel } from "../onnx/make.js";
import { emptyTensorProto } from "../onnx/model.js";
import { GradientSession } from "../runtime/gradient-session.js";
import { nodeBackend } from "../runtime/node.js";
import { float16ToNumber, numberToFloat16 } from "../tensor/half.js";
import { float32, type Tensor } from "../tensor/tensor.js";
import { modelNotes } from "./model-notes.js";
import { hasLowPrecision } from "./precision.js";

const DIR = join(import.meta.dirname, "../../test/fixtures/contrib");

function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (Number(a[i]) - Number(b[i])) ** 2;
    den += Number(b[i]) ** 2;
  }
  return Math.sqrt(num / den);
}

const toHalf = (t: Tensor) =>
  float32(
    t.dims,
    Array.from(t.data as Float32Array, (v) => float16ToNumber(numberToFloat16(v))),
  );

test("a float16 CNN is differentiated in float32: = torch float64 on the same (half) weights; ≈ the float32 model's", async () => {
  const model = decodeModel(new Uint8Array(await readFile(join(DIR, "half_cnn_fp16.onnx"))));
  assert.ok(hasLowPrecision(model), "the fixture is float16");
  assert.match(modelNotes(model).join(" "), /float16: gradients are computed in float32/);
  const x32 = await readNpy(join(DIR, "half_cnn.input.npy"));
  const x = toHalf(x32); // the float16 model's input
  const seed = await readNpy(join(DIR, "half_cnn.seed.npy"));
  const s = await GradientSession.create(nodeBackend(), model, { x }, { wrt: ["x"] });
  try {
    const r = await s.run({ x }, { y: seed });
    assert.equal(r.gradients.x!.dtype, "float32");
    const out = relL2(
      r.outputs.y!.data as Float32Array,
      (await readNpy(join(DIR, "half_cnn.output16.npy"))).data as Float64Array,
    );
    const grad = relL2(
      r.gradients.x!.data as Float32Array,
      (await readNpy(join(DIR, "half_cnn.grad16.npy"))).data as Float64Array,
    );
    // float32 arithmetic on the half network: float32 rounding only
    assert.ok(out <= 1e-5, `output vs torch float64 (half weights): rel L2 ${out}`);
    assert.ok(grad <= 1e-5, `gradient vs torch float64 (half weights): rel L2 ${grad}`);
    // against the float32 model the difference is the float16 rounding of weights and input
    // (2^-11 ≈ 4.9e-4 relative each), amplified by the few layers: 1e-2 bounds it
    const full = relL2(
      r.gradients.x!.data as Float32Array,
      (await readNpy(join(DIR, "half_cnn.grad.npy"))).data as Float64Array,
    );
    console.log(
      `half_cnn: output ${out.toExponential(2)}, gradient ${grad.toExponential(2)} (half network); vs float32 network ${full.toExponential(2)}`,
    );
    assert.ok(full <= 1e-2, `gradient vs the float32 network: rel L2 ${full}`);
  } finally {
    await s.dispose();
  }
});

test("a float32 graph with a float16 island (Cast to float16, float16 and bfloat16 weights) differentiates", async () => {
  const w = [0.1, -2.5, 3.0009765625, 65504];
  const half = emptyTensorProto();
  Object.assign(half, { name: "w", dims: [4], dataType: 10, int32Data: w.map(numberToFloat16) });
  const bf = emptyTensorProto();
  // bfloat16 patterns of 1, -3, 0.5, 2
  Object.assign(bf, {
    name: "v",
    dims: [4],
    dataType: 16,
    rawData: new Uint8Array(Uint16Array.of(0x3f80, 0xc040, 0x3f00, 0x4000).buffer),
  });
  const model = makeModel({
    opset: 17,
    inputs: [{ name: "x", dtype: "float32", dims: [2, 4] }],
    outputs: [{ name: "y", dtype: "float32", dims: [2, 4] }],
    nodes: [
      { op: "Cast", inputs: ["x"], outputs: ["xh"], attrs: { to: 10 } },
      { op: "Mul", inputs: ["xh", "w"], outputs: ["p"] },
      { op: "Cast", inputs: ["p"], outputs: ["p32"], attrs: { to: 1 } },
      { op: "Cast", inputs: ["v"], outputs: ["v32"], attrs: { to: 1 } },
      { op: "Mul", inputs: ["p32", "v32"], outputs: ["y"] },
    ],
  });
  model.graph!.initializer.push(half, bf);
  const x = float32([2, 4], [1, 2, 3, 4, -1, 0.5, 0.25, 2]);
  const seed = float32([2, 4], [1, 1, 1, 1, 2, 2, 2, 2]);
  const s = await GradientSession.create(nodeBackend(), model, { x }, { wrt: ["x"] });
  try {
    const r = await s.run({ x }, { y: seed });
    const wh = w.map((v) => float16ToNumber(numberToFloat16(v)));
    const v = [1, -3, 0.5, 2];
    const expected = Array.from({ length: 8 }, (_, i) => seed.data[i]! * wh[i % 4]! * v[i % 4]!);
    assert.deepEqual(Array.from(r.gradients.x!.data as Float32Array), expected.map(Math.fround));
  } finally {
    await s.dispose();
  }
});
