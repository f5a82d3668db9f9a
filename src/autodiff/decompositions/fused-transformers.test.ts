/**
 * Whole transformer graphs in the fused form onnxruntime's transformer optimizer (and so Hugging
 * Face Optimum) writes — EmbedLayerNormalization → Attention → SkipLayerNormalization → BiasGelu
 * (BERT-like), RMSNorm → RotaryEmbedding → causal MultiHeadAttention with a key padding mask →
 * SkipSimplifiedLayerNormalization (LLaMA-like) — built by tools/make_fused_transformers.py with a
 * torch float64 module computing the same function. onnxruntime's own built-in optimizer does not
 * fuse Attention or EmbedLayerNormalization from torch exports, hence the hand-written graphs.
 *
 * Checked: onnxruntime's native run of the fused graph = torch's forward (the graph means what
 * the reference computes); pathlens' output, gradient and Hessian-vector product = torch float64
 * autograd (relative L2 ≤ 1e-5 / 1e-4 / 1e-4, float32 graph against float64).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { readNpy } from "../../io/npy.js";
import { decodeModel } from "../../onnx/codec.js";
import { GradientSession } from "../../runtime/gradient-session.js";
import { nodeBackend } from "../../runtime/node.js";
import { relativeL2, type Tensor, toFloat64 } from "../../tensor/tensor.js";
import { FIXTURES } from "../../testing/fixtures.js";

const DIR = join(FIXTURES, "contrib");

for (const name of ["fused_bert", "fused_llama"]) {
  test(`${name}: onnxruntime's run = torch; pathlens' gradient and HVP = torch float64`, async () => {
    const meta = JSON.parse(await readFile(join(DIR, `${name}.json`), "utf8")) as {
      wrt: string;
      inputs: string[];
      ops: string[];
    };
    const bytes = new Uint8Array(await readFile(join(DIR, `${name}.onnx`)));
    const model = decodeModel(bytes);
    const used = new Set(model.graph!.node.filter((n) => n.domain === "com.microsoft").map((n) => n.opType));
    for (const op of meta.ops) assert.ok(used.has(op), `the graph has ${op}`);
    const npy = (k: string) => readNpy(join(DIR, `${name}.${k}.npy`));
    const feeds: Record<string, Tensor> = {};
    for (const k of meta.inputs) feeds[k] = await npy(k);
    const output = toFloat64(await npy("output"));

    const native = await nodeBackend().createSession(bytes);
    const y = (await native.run(feeds, ["y"])).y!;
    await native.dispose();
    const nativeOut = relativeL2(toFloat64(y), output);

    const s = await GradientSession.create(nodeBackend(), model, feeds, {
      wrt: [meta.wrt],
      outputs: ["y"],
      hvp: true,
      cache: false,
    });
    try {
      const r = await s.run(feeds, { y: await npy("seed") }, { [meta.wrt]: await npy("v") });
      const out = relativeL2(toFloat64(r.outputs.y!), output);
      const grad = relativeL2(toFloat64(r.gradients[meta.wrt]!), toFloat64(await npy("grad")));
      const hvp = relativeL2(toFloat64(r.hvp![meta.wrt]!), toFloat64(await npy("hvp")));
      console.log(
        `${name} (${meta.ops.join(", ")}): onnxruntime forward ${nativeOut.toExponential(2)}, pathlens output ` +
          `${out.toExponential(2)}, gradient ${grad.toExponential(2)}, HVP ${hvp.toExponential(2)} (rel L2 vs torch float64)`,
      );
      assert.ok(nativeOut <= 1e-5, `onnxruntime's forward vs torch: ${nativeOut}`);
      assert.ok(out <= 1e-5, `output: ${out}`);
      assert.ok(grad <= 1e-4, `gradient: ${grad}`);
      assert.ok(hvp <= 1e-4, `HVP: ${hvp}`);
    } finally {
      await s.dispose();
    }
  });
}
