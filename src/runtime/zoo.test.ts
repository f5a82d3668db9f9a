/**
 * Building blocks of common architectures, exported by torch at opsets 13 and 17
 * (tools/make_zoo_models.py): MobileNetV3-style block (depthwise conv, Hardswish, SE with
 * Hardsigmoid), a transformer encoder layer (attention, LayerNorm, GELU), a 1-D conv sequence
 * model (dilation, AvgPool1d, Pad, LeakyReLU, ELU, Softmax). Gradient and HVP vs torch float64.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { opsetOf } from "../onnx/model.js";
import { relativeL2, toFloat64 } from "../tensor/tensor.js";
import { readJsonFixture, readModelFixture, readNpyFixture } from "../testing/fixtures.js";
import { GradientSession } from "./gradient-session.js";
import { nodeBackend } from "./node.js";

const manifest = readJsonFixture<{ cases: { name: string; opset: number; model: string }[] }>(
  "zoo/manifest.json",
);

for (const c of manifest.cases) {
  test(`${c.name} (opset ${c.opset}): output, gradient and HVP match torch`, async () => {
    const model = readModelFixture(c.model);
    assert.equal(opsetOf(model), c.opset);
    const f = (k: string) => readNpyFixture(`zoo/${c.name}_${k}.npy`);
    const x = f("x");
    const s = await GradientSession.create(
      nodeBackend(),
      model,
      { x },
      { wrt: ["x"], outputs: ["y"], hvp: true },
    );
    try {
      const r = await s.run({ x }, { y: f("seed") }, { x: f("v") });
      const out = relativeL2(toFloat64(r.outputs.y!), toFloat64(f("output")));
      const grad = relativeL2(toFloat64(r.gradients.x!), toFloat64(f("grad")));
      const hvp = relativeL2(toFloat64(r.hvp!.x!), toFloat64(f("hvp")));
      if (process.env.PATHLENS_VERBOSE)
        console.log(`${c.name} opset ${c.opset}: output ${out} gradient ${grad} hvp ${hvp}`);
      // float32 model vs float64 reference
      assert.ok(out <= 1e-5, `output relative L2 ${out}`);
      assert.ok(grad <= 1e-5, `gradient relative L2 ${grad}`);
      assert.ok(hvp <= 1e-5, `HVP relative L2 ${hvp}`);
    } finally {
      await s.dispose();
    }
  });
}
