/**
 * Models exported as old exporters emit them (opsets 9, 11, 13, 17 of the same torch network:
 * Clip, Upsample/Resize, Slice, ReduceMean, Squeeze/Unsqueeze, Pow, Softmax, MaxPool, Gemm) are
 * differentiated as they are — never "upgraded" — and match torch's float64 gradient and
 * Hessian-vector product (tools/make_opset_models.py made the fixtures).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { opsetOf } from "../onnx/model.js";
import { relativeL2, toFloat64 } from "../tensor/tensor.js";
import { readJsonFixture, readModelFixture, readNpyFixture } from "../testing/fixtures.js";
import { GradientSession } from "./gradient-session.js";
import { nodeBackend } from "./node.js";

const manifest = readJsonFixture<{ cases: { opset: number; model: string }[] }>("opsets/manifest.json");
const x = readNpyFixture("opsets/x.npy");
const seed = readNpyFixture("opsets/seed.npy");
const v = readNpyFixture("opsets/v.npy");

for (const c of manifest.cases) {
  test(`opset ${c.opset} export: output, gradient and HVP match torch (float64 reference)`, async () => {
    const model = readModelFixture(c.model);
    assert.equal(opsetOf(model), c.opset);
    const s = await GradientSession.create(
      nodeBackend(),
      model,
      { x },
      { wrt: ["x"], outputs: ["y"], hvp: true },
    );
    try {
      assert.equal(opsetOf(s.model), c.opset, "the gradient model keeps the model's opset");
      const r = await s.run({ x }, { y: seed }, { x: v });
      const out = relativeL2(toFloat64(r.outputs.y!), toFloat64(readNpyFixture("opsets/output.npy")));
      const grad = relativeL2(toFloat64(r.gradients.x!), toFloat64(readNpyFixture("opsets/grad.npy")));
      const hvp = relativeL2(toFloat64(r.hvp!.x!), toFloat64(readNpyFixture("opsets/hvp.npy")));
      if (process.env.PATHLENS_VERBOSE)
        console.log(`opset ${c.opset}: output ${out} gradient ${grad} hvp ${hvp}`);
      // float32 model vs float64 reference: rounding ~1e-7 relative, amplified by the depth
      assert.ok(out <= 1e-6, `output relative L2 ${out}`);
      assert.ok(grad <= 1e-5, `gradient relative L2 ${grad}`);
      assert.ok(hvp <= 1e-5, `HVP relative L2 ${hvp}`);
    } finally {
      await s.dispose();
    }
  });
}
