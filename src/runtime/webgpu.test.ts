/**
 * Gradient and Hessian-vector-product graphs on onnxruntime-node's WebGPU provider (Dawn over
 * Vulkan; on CPU-only machines SwiftShader's software Vulkan driver from Debian's chromium):
 * the numbers match the CPU provider, and the graphs built for WebGPU run on the GPU in place —
 * no node the gradient adds with a data-sized output runs on the CPU (the forward model's own
 * CPU nodes, e.g. onnxruntime keeping int64 mask ops on the CPU, are listed and allowed).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { loadModel } from "../io/model-file.js";
import { encodeModel } from "../onnx/codec.js";
import type { ModelProto } from "../onnx/types.js";
import { Random } from "../tensor/random.js";
import { float32, int64, type Tensor } from "../tensor/tensor.js";
import { fixturePath, readModelFixture, readNpyFixture } from "../testing/fixtures.js";
import { softwareWebGpu } from "../testing/webgpu.js";
import { GradientSession } from "./gradient-session.js";
import { nodeBackend } from "./node.js";
import { formatPlacement, placementReport } from "./placement.js";

const skip = softwareWebGpu();
const cpu = nodeBackend();
const gpu = nodeBackend({ device: "webgpu" });
const rng = new Random(11);

const randn = (dims: number[]) =>
  float32(
    dims,
    Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.normal()),
  );

function relL2(a: Tensor, e: Tensor): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < e.data.length; i++) {
    const d = Number(a.data[i]) - Number(e.data[i]);
    num += d * d;
    den += Number(e.data[i]) ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

interface Case {
  name: string;
  model: () => Promise<ModelProto> | ModelProto;
  feeds: (m: ModelProto) => Record<string, Tensor>;
  wrt: (m: ModelProto) => string;
  available?: () => boolean;
}

const cases: Case[] = [
  {
    name: "digits CNN",
    model: () => readModelFixture("models/digits_cnn.onnx"),
    feeds: () => ({ input: readNpyFixture("grads/digits_cnn_input.npy") }),
    wrt: () => "input",
  },
  {
    name: "shapes CNN (MaxPool)",
    model: () => loadModel("examples/image-shapes/model.onnx"),
    feeds: () => ({ image: randn([2, 3, 32, 32]) }),
    wrt: () => "image",
  },
  {
    name: "tiny BERT (embeddings to logits, attention mask)",
    model: () => readModelFixture("models/tiny_bert_emb2logits.onnx"),
    feeds: (m) => ({
      [m.graph!.input[0]!.name!]: readNpyFixture("grads/tiny_bert_emb2logits_input.npy"),
      [m.graph!.input[1]!.name!]: readNpyFixture("grads/tiny_bert_emb2logits_attention_mask.npy"),
    }),
    wrt: (m) => m.graph!.input[0]!.name!,
  },
  {
    name: "resnet18 at 32×32 (MaxPool 3×3/2)",
    model: () => {
      // fully convolutional up to a global pool: declare the spatial axes free to run it small
      const m = readModelFixture("models/resnet18.onnx");
      const dims = m.graph!.input[0]!.type!.tensorType!.shape!.dim;
      for (const k of [2, 3]) dims[k] = { dimParam: `side${k}` };
      return m;
    },
    feeds: (m) => ({ [m.graph!.input[0]!.name!]: randn([1, 3, 32, 32]) }),
    wrt: (m) => m.graph!.input[0]!.name!,
    available: () => existsSync(fixturePath("models/resnet18.onnx")),
  },
  {
    name: "sentiment text model (at its word embeddings)",
    model: () => loadModel("examples/text-sentiment/model.onnx"),
    feeds: () => ({
      input_ids: int64([2, 6], [2, 14, 33, 20, 3, 0, 2, 14, 17, 20, 3, 0]),
      attention_mask: int64([2, 6], [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0]),
    }),
    // the word-embedding lookup: the Gather of input_ids from a 2-D table
    wrt: (m) => m.graph!.node.find((n) => n.opType === "Gather" && n.input[1] === "input_ids")!.output[0]!,
  },
];

for (const c of cases) {
  const reason =
    skip ?? (c.available && !c.available() ? "resnet18.onnx not found (large fixture)" : undefined);
  test(`WebGPU: ${c.name}: gradient and HVP match the CPU, data stays on the GPU`, {
    skip: reason,
  }, async (t) => {
    const model = await c.model();
    const feeds = c.feeds(model);
    const wrt = c.wrt(model);
    const batch = Object.values(feeds)[0]!.dims[0]!;
    const forwardOff = new Set(
      (await placementReport(encodeModel(model), feeds, { device: "webgpu" })).offDevice.map((n) => n.node),
    );
    const results: Record<string, Record<string, Tensor>> = {};
    for (const [device, backend] of [
      ["cpu", cpu],
      ["webgpu", gpu],
    ] as const) {
      const s = await GradientSession.create(backend, model, feeds, { wrt: [wrt], hvp: true });
      const r = new Random(5);
      const seeds = Object.fromEntries(
        s.outputs.map((o) => {
          // the probe's dims, at the feeds' batch (the probe tiles a batch of 1 to 2)
          const d = [batch, ...s.shapes.get(o)!.dims.slice(1)];
          return [
            o,
            float32(
              d,
              Float32Array.from({ length: d.reduce((a, b) => a * b, 1) }, () => r.normal()),
            ),
          ];
        }),
      );
      const wrtDims = feeds[wrt]?.dims ?? [batch, ...s.shapes.get(wrt)!.dims.slice(1)];
      const v = {
        [wrt]: float32(
          wrtDims,
          Float32Array.from({ length: wrtDims.reduce((a, b) => a * b, 1) }, () => r.normal()),
        ),
      };
      const out = await s.run(feeds, seeds, v);
      results[device] = { grad: out.gradients[wrt]!, hvp: out.hvp![wrt]! };
      if (device === "webgpu") {
        const all: Record<string, Tensor> = { ...feeds };
        for (const [o, name] of Object.entries(s.seedNames())) all[name] = seeds[o]!;
        all[s.model.graph!.input.at(-1)!.name!] = v[wrt]!;
        const report = await placementReport(encodeModel(s.model), all, { device: "webgpu" });
        const added = report.dataOffDevice.filter((n) => !forwardOff.has(n.node));
        assert.deepEqual(added, [], formatPlacement({ ...report, offDevice: added, dataOffDevice: added }));
      }
      await s.dispose();
    }
    const g = relL2(results.webgpu!.grad!, results.cpu!.grad!);
    const h = relL2(results.webgpu!.hvp!, results.cpu!.hvp!);
    t.diagnostic(`gradient relative L2 ${g.toExponential(2)}, HVP ${h.toExponential(2)}`);
    assert.ok(g <= 1e-5, `gradient relative L2 ${g}`);
    assert.ok(h <= 1e-5, `HVP relative L2 ${h}`);
  });
}

test("WebGPU: float64 models are refused with the reason", { skip }, async (_t) => {
  const model = readModelFixture("models/softplus_mlp.onnx");
  const x = readNpyFixture("grads/softplus_mlp_input.npy");
  if (x.dtype !== "float64") return;
  await assert.rejects(
    GradientSession.create(
      gpu,
      model,
      { [model.graph!.input[0]!.name!]: x },
      { wrt: [model.graph!.input[0]!.name!] },
    ),
    /float64 models run on the CPU only/,
  );
});
