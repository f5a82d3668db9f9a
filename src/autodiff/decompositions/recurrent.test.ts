/**
 * The LSTM/GRU/RNN decompositions on torch exports (tools/make_rnn_models.py: nn.LSTM, nn.GRU,
 * nn.RNN tanh/relu, 2 layers, bidirectional, batch_first, given initial states; opsets 11, 13,
 * 17): outputs, gradients with respect to every input (sequence and initial states) and
 * Hessian-vector products against torch float64 autograd, and one case on onnxruntime-web. HVPs
 * are checked at the newest opset only (the HVP graph of an unrolled two-layer model takes
 * seconds to load); the opset-dependent forms (Split, Squeeze) are the same in the first and
 * second derivative.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { opsetOf } from "../../onnx/model.js";
import { GradientSession } from "../../runtime/gradient-session.js";
import { nodeBackend } from "../../runtime/node.js";
import { webBackend } from "../../runtime/web.js";
import { readJsonFixture, readModelFixture } from "../../testing/fixtures.js";
import { f32, type TorchCase, worst } from "../../testing/torch-cases.js";

const names = readJsonFixture<{ cases: string[] }>("rnn/manifest.json").cases;

for (const name of names) {
  const c = readJsonFixture<TorchCase>(`rnn/${name}.json`);
  const newest = Math.max(...c.models.map((m) => m.opset));
  for (const m of c.models) {
    const hvp = m.opset === newest;
    test(`${name} (opset ${m.opset}): outputs, gradients${hvp ? " and HVPs" : ""} match torch float64`, async () => {
      const model = readModelFixture(m.model);
      assert.equal(opsetOf(model), m.opset);
      assert.ok(
        model.graph!.node.some((n) => ["LSTM", "GRU", "RNN"].includes(n.opType!)),
        "the export has a recurrent op",
      );
      const feeds = f32(c.inputs);
      const wrt = Object.keys(c.inputs);
      const s = await GradientSession.create(nodeBackend(), model, feeds, {
        wrt,
        outputs: Object.keys(c.outputs),
        hvp,
      });
      try {
        const r = await s.run(feeds, f32(c.seeds), hvp ? f32(c.v) : undefined);
        const [out, outAt] = worst(r.outputs, c.outputs);
        const [grad, gradAt] = worst(r.gradients, c.gradients);
        const [hv, hvAt] = hvp ? worst(r.hvp!, c.hvp) : [0, ""];
        if (process.env.PATHLENS_VERBOSE)
          console.log(`${name} opset ${m.opset}: output ${out} gradient ${grad} hvp ${hvp ? hv : "-"}`);
        // float32 graph against float64 torch
        assert.ok(out <= 1e-5, `output ${outAt}: relative L2 ${out}`);
        assert.ok(grad <= 1e-4, `gradient wrt ${gradAt}: relative L2 ${grad}`);
        assert.ok(hv <= 1e-4, `HVP wrt ${hvAt}: relative L2 ${hv}`);
      } finally {
        await s.dispose();
      }
    });
  }
}

test("onnxruntime-web (wasm) runs the decomposed gradient graph: gru2_bi_bf gradients match torch", async () => {
  const c = readJsonFixture<TorchCase>("rnn/gru2_bi_bf.json");
  const feeds = f32(c.inputs);
  const model = readModelFixture(c.models.at(-1)!.model);
  const s = await GradientSession.create(webBackend(), model, feeds, { wrt: Object.keys(feeds) });
  try {
    const r = await s.run(feeds, f32(c.seeds));
    const [grad, at] = worst(r.gradients, c.gradients);
    assert.ok(grad <= 1e-4, `gradient wrt ${at}: relative L2 ${grad}`);
  } finally {
    await s.dispose();
  }
});
