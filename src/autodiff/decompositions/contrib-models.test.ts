/**
 * Models as users get them from onnxruntime's optimizer (what Optimum ships): torch exports
 * (tools/make_contrib_models.py) re-written by onnxruntime-node at level "extended", so they are
 * full of com.microsoft fused ops. pathlens' gradient of each is compared with torch float64
 * autograd of the original module (relative L2 ≤ 1e-4), its forward with torch's.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { readNpy } from "../../io/npy.js";
import { decodeModel, encodeModel } from "../../onnx/codec.js";
import { GradientSession } from "../../runtime/gradient-session.js";
import { nodeBackend } from "../../runtime/node.js";
import { onnxruntimeOptimized } from "../../runtime/ort-optimize.js";
import { probeFeeds, probeShapes } from "../../runtime/probe.js";
import type { Tensor } from "../../tensor/tensor.js";
import { decomposeModel, decompositionNeedsShapes } from "../decompose.js";
import { ruleFor } from "../registry.js";

const DIR = join(import.meta.dirname, "../../../test/fixtures/contrib");

function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (Number(a[i]) - Number(b[i])) ** 2;
    den += Number(b[i]) ** 2;
  }
  return Math.sqrt(num / den);
}

interface Fixture {
  name: string;
  wrt: string;
  extra: string[];
  /** com.microsoft ops onnxruntime must have fused (else the test would not test them). */
  fused: string[];
}

async function load(f: Fixture) {
  const original = new Uint8Array(await readFile(join(DIR, `${f.name}.onnx`)));
  const optimized = decodeModel(await onnxruntimeOptimized(original, "extended"));
  const ops = new Set(
    optimized.graph!.node.filter((n) => n.domain === "com.microsoft").map((n) => n.opType!),
  );
  const feeds: Record<string, Tensor> = { [f.wrt]: await readNpy(join(DIR, `${f.name}.input.npy`)) };
  for (const e of f.extra) feeds[e] = await readNpy(join(DIR, `${f.name}.${e}.npy`));
  return { optimized, ops, feeds };
}

async function checkModel(f: Fixture) {
  const { optimized, ops, feeds } = await load(f);
  for (const op of f.fused)
    assert.ok(ops.has(op), `${f.name}: onnxruntime fused ${[...ops].join(", ")}, not ${op}`);
  const seed = await readNpy(join(DIR, `${f.name}.seed.npy`));
  const s = await GradientSession.create(nodeBackend(), optimized, feeds, { wrt: [f.wrt] });
  try {
    const r = await s.run(feeds, { y: seed });
    const out = relL2(
      r.outputs.y!.data as Float32Array,
      (await readNpy(join(DIR, `${f.name}.output.npy`))).data as Float64Array,
    );
    const grad = relL2(
      r.gradients[f.wrt]!.data as Float32Array,
      (await readNpy(join(DIR, `${f.name}.grad.npy`))).data as Float64Array,
    );
    return { ops: [...ops].sort(), out, grad };
  } finally {
    await s.dispose();
  }
}

test("BERT-like encoder optimized by onnxruntime (SkipLayerNormalization, Gelu, FusedMatMul): gradient = torch float64", async () => {
  const r = await checkModel({
    name: "bert_embeds",
    wrt: "embeds",
    extra: ["attention_mask", "token_type_ids"],
    fused: ["SkipLayerNormalization"],
  });
  console.log(
    `bert_embeds fused ${r.ops.join(", ")}: output rel L2 ${r.out.toExponential(2)}, gradient rel L2 ${r.grad.toExponential(2)}`,
  );
  assert.ok(r.out <= 1e-5, `output rel L2 ${r.out}`);
  assert.ok(r.grad <= 1e-4, `gradient rel L2 ${r.grad}`);
});

test("GPT-like block optimized by onnxruntime: gradient = torch float64", async () => {
  const r = await checkModel({ name: "gpt_block", wrt: "x", extra: [], fused: [] });
  console.log(
    `gpt_block fused ${r.ops.join(", ")}: output rel L2 ${r.out.toExponential(2)}, gradient rel L2 ${r.grad.toExponential(2)}`,
  );
  assert.ok(r.out <= 1e-5, `output rel L2 ${r.out}`);
  assert.ok(r.grad <= 1e-4, `gradient rel L2 ${r.grad}`);
});

test("CNN optimized by onnxruntime (FusedConv, FusedGemm): gradient = torch float64", async () => {
  const r = await checkModel({ name: "cnn", wrt: "x", extra: [], fused: ["FusedConv"] });
  console.log(
    `cnn fused ${r.ops.join(", ")}: output rel L2 ${r.out.toExponential(2)}, gradient rel L2 ${r.grad.toExponential(2)}`,
  );
  assert.ok(r.out <= 1e-5, `output rel L2 ${r.out}`);
  assert.ok(r.grad <= 1e-4, `gradient rel L2 ${r.grad}`);
});

test("BERT from token ids optimized by onnxruntime: rewritten forward = torch", async () => {
  const original = new Uint8Array(await readFile(join(DIR, "bert_ids.onnx")));
  const optimized = decodeModel(await onnxruntimeOptimized(original, "extended"));
  const ops = new Set(
    optimized.graph!.node.filter((n) => n.domain === "com.microsoft").map((n) => n.opType!),
  );
  const feeds: Record<string, Tensor> = {};
  for (const e of ["input_ids", "attention_mask", "token_type_ids"])
    feeds[e] = await readNpy(join(DIR, `bert_ids.${e}.npy`));
  const shapes = decompositionNeedsShapes(optimized)
    ? await probeShapes(nodeBackend(), optimized, probeFeeds(optimized, feeds))
    : undefined;
  const rewritten = decomposeModel(optimized, shapes);
  // com.microsoft ops left must be ones with a gradient rule of their own (Gelu)
  const left = rewritten
    .graph!.node.filter((n) => n.domain === "com.microsoft" && !ruleFor(n.opType!, n.domain))
    .map((n) => n.opType);
  assert.deepEqual(left, [], `contrib ops left: ${left.join(", ")}`);
  const session = await nodeBackend().createSession(encodeModel(rewritten));
  const y = (await session.run(feeds, ["y"])).y!;
  await session.dispose();
  const out = relL2(
    y.data as Float32Array,
    (await readNpy(join(DIR, "bert_ids.output.npy"))).data as Float64Array,
  );
  console.log(`bert_ids fused ${[...ops].sort().join(", ")}: output rel L2 ${out.toExponential(2)}`);
  assert.ok(out <= 1e-5, `output rel L2 ${out}`);
});

test("QDQ CNN (torch eager static quantization) as exported and as onnxruntime fuses it (QLinearConv …): gradient = the dequantized network's, torch float64", async () => {
  const original = new Uint8Array(await readFile(join(DIR, "qdq_cnn.onnx")));
  const x = await readNpy(join(DIR, "qdq_cnn.input.npy"));
  const seed = await readNpy(join(DIR, "qdq_cnn.seed.npy"));
  const yRef = (await readNpy(join(DIR, "qdq_cnn.output.npy"))).data as Float64Array;
  const gRef = (await readNpy(join(DIR, "qdq_cnn.grad.npy"))).data as Float64Array;
  for (const [label, bytes] of [
    ["exported", original],
    ["optimized", await onnxruntimeOptimized(original, "extended")],
  ] as const) {
    const model = decodeModel(bytes);
    const ops = [...new Set(model.graph!.node.map((n) => n.opType!))].sort();
    const s = await GradientSession.create(nodeBackend(), model, { x }, { wrt: ["x"] });
    try {
      const r = await s.run({ x }, { y: seed });
      const out = relL2(r.outputs.y!.data as Float32Array, yRef);
      const grad = relL2(r.gradients.x!.data as Float32Array, gRef);
      console.log(
        `qdq_cnn ${label} (${ops.join(", ")}): output rel L2 ${out.toExponential(2)}, gradient rel L2 ${grad.toExponential(2)}`,
      );
      assert.ok(out <= 1e-5, `${label}: output rel L2 ${out}`);
      assert.ok(grad <= 1e-4, `${label}: gradient rel L2 ${grad}`);
    } finally {
      await s.dispose();
    }
  }
});

test("Hugging Face tiny BERT as onnxruntime's optimizer writes it (BiasGelu, FusedGemm, FusedMatMul, SkipLayerNormalization): gradient and HVP = torch float64", async () => {
  const fixtures = join(DIR, "..");
  const original = new Uint8Array(await readFile(join(fixtures, "models/tiny_bert_emb2logits.onnx")));
  const optimized = decodeModel(await onnxruntimeOptimized(original, "extended"));
  const ops = [
    ...new Set(optimized.graph!.node.filter((n) => n.domain === "com.microsoft").map((n) => n.opType!)),
  ].sort();
  assert.ok(ops.includes("SkipLayerNormalization"), `fused: ${ops.join(", ")}`);
  const g = (f: string) => readNpy(join(fixtures, "grads", `tiny_bert_emb2logits_${f}.npy`));
  const feeds = { embeddings: await g("input"), attention_mask: await g("attention_mask") };
  const s = await GradientSession.create(nodeBackend(), optimized, feeds, {
    wrt: ["embeddings"],
    outputs: ["logits"],
    hvp: true,
  });
  try {
    const r = await s.run(feeds, { logits: await g("seed") }, { embeddings: await g("v") });
    const grad = relL2(r.gradients.embeddings!.data as Float32Array, (await g("grad")).data as Float32Array);
    const hvp = relL2(r.hvp!.embeddings!.data as Float32Array, (await g("hvp")).data as Float32Array);
    console.log(
      `tiny BERT optimized (${ops.join(", ")}): gradient rel L2 ${grad.toExponential(2)}, HVP ${hvp.toExponential(2)}`,
    );
    assert.ok(grad <= 1e-4, `gradient rel L2 ${grad}`);
    assert.ok(hvp <= 1e-4, `HVP rel L2 ${hvp}`);
  } finally {
    await s.dispose();
  }
});
