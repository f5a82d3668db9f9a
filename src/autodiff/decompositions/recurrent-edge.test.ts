/**
 * Recurrent edge cases against torch float64 autograd (tools/make_rnn_edge_models.py), through
 * GradientSession: outputs, gradients with respect to the sequence and the initial states, and
 * Hessian-vector products.
 * - Sequence length 1 on a dynamic time axis (torch exports fed T = 1; with batch 1 too): the
 *   shape probe tiles dynamic axes of size 1 to 2, and the LSTM/GRU must still unroll one step.
 * - layout = 1 LSTM (bidirectional, initial_h/initial_c) and GRU (linear_before_reset 1), written
 *   with onnx.helper from torch's weights: onnxruntime refuses layout 1, so torch is the only
 *   reference (the decomposition's layout-1 forward is compared with onnxruntime's layout-0 op
 *   between Transposes in recurrent-ort.test.ts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { GradientSession } from "../../runtime/gradient-session.js";
import { nodeBackend } from "../../runtime/node.js";
import { readJsonFixture, readModelFixture } from "../../testing/fixtures.js";
import { f32, type TorchCase, worst } from "../../testing/torch-cases.js";

for (const name of readJsonFixture<{ cases: string[] }>("rnn/edge/manifest.json").cases) {
  const c = readJsonFixture<TorchCase>(`rnn/edge/${name}.json`);
  const m = c.models[0]!;
  test(`${name}: outputs, gradients and HVPs match torch float64`, async () => {
    const model = readModelFixture(m.model);
    const ops = model.graph!.node.filter((n) => ["LSTM", "GRU", "RNN"].includes(n.opType!));
    assert.ok(ops.length > 0, "the model has a recurrent op");
    const feeds = f32(c.inputs);
    const s = await GradientSession.create(nodeBackend(), model, feeds, {
      wrt: Object.keys(c.inputs),
      outputs: Object.keys(c.outputs),
      hvp: true,
      cache: false,
    });
    try {
      const r = await s.run(feeds, f32(c.seeds), f32(c.v));
      const [out, outAt] = worst(r.outputs, c.outputs);
      const [grad, gradAt] = worst(r.gradients, c.gradients);
      const [hv, hvAt] = worst(r.hvp!, c.hvp);
      if (process.env.PATHLENS_VERBOSE)
        console.log(
          `${name}: output ${out.toExponential(2)} gradient ${grad.toExponential(2)} hvp ${hv.toExponential(2)}`,
        );
      // float32 graph against float64 torch
      assert.ok(out <= 1e-5, `output ${outAt}: relative L2 ${out}`);
      assert.ok(grad <= 1e-4, `gradient wrt ${gradAt}: relative L2 ${grad}`);
      assert.ok(hv <= 1e-4, `HVP wrt ${hvAt}: relative L2 ${hv}`);
    } finally {
      await s.dispose();
    }
  });
}
