/**
 * Gradient graphs built for WebGPU in a real browser: headless Chromium with
 * --enable-unsafe-webgpu (SwiftShader's adapter where no GPU exists) runs the gradient and
 * Hessian-vector-product graphs of the digits CNN, the shapes CNN (MaxPool), tiny BERT, the
 * sentiment text model (at its word embeddings) and resnet18 at 32×32 (when its large fixture is there) with pathlens/web on onnxruntime-web's WebGPU
 * provider (demo/web/gpu-check.html); the results match onnxruntime-node's CPU provider.
 * Placement (no data-sized node off the GPU) is checked for the same graphs in Node
 * (src/runtime/webgpu.test.ts), where onnxruntime's profiler names each node's provider.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { wordEmbeddingOutput } from "./explain/text.js";
import { loadModel } from "./io/model-file.js";
import { encodeNpy } from "./io/npy-format.js";
import { encodeModel } from "./onnx/codec.js";
import type { ModelProto } from "./onnx/types.js";
import { GradientSession } from "./runtime/gradient-session.js";
import { nodeBackend } from "./runtime/node.js";
import { Random } from "./tensor/random.js";
import { float32, int64, relativeL2, type Tensor } from "./tensor/tensor.js";
import { chromiumPath } from "./testing/browser.js";
import { ROOT } from "./testing/cli.js";
import { fixturePath, readModelFixture, readNpyFixture } from "./testing/fixtures.js";

const skip = !chromiumPath()
  ? "no Chromium installed (tools/install-browser.sh installs Debian's chromium)"
  : !existsSync(join(ROOT, "dist", "web.js")) && "dist/ not built (npm test builds it)";
const WORK = join(ROOT, "out", "webgpu-check");
const rng = new Random(21);
const randn = (dims: readonly number[]) =>
  float32(
    [...dims],
    Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.normal()),
  );

interface Case {
  name: string;
  model: ModelProto;
  feeds: Record<string, Tensor>;
  wrt: string;
}

async function cases(): Promise<Case[]> {
  const bert = readModelFixture("models/tiny_bert_emb2logits.onnx");
  const text = await loadModel(join(ROOT, "examples", "text-sentiment", "model.onnx"));
  const resnet: Case[] = [];
  if (existsSync(fixturePath("models/resnet18.onnx"))) {
    // fully convolutional up to a global pool: free the spatial axes to run it at 32×32
    const m = readModelFixture("models/resnet18.onnx");
    const dims = m.graph!.input[0]!.type!.tensorType!.shape!.dim;
    for (const k of [2, 3]) dims[k] = { dimParam: `side${k}` };
    resnet.push({
      name: "resnet18",
      model: m,
      feeds: { [m.graph!.input[0]!.name!]: randn([1, 3, 32, 32]) },
      wrt: m.graph!.input[0]!.name!,
    });
  }
  const ids = [2, 14, 33, 20, 3, 0];
  return [
    {
      name: "digits",
      model: readModelFixture("models/digits_cnn.onnx"),
      feeds: { input: readNpyFixture("grads/digits_cnn_input.npy") },
      wrt: "input",
    },
    {
      name: "shapes",
      model: await loadModel(join(ROOT, "examples", "image-shapes", "model.onnx")),
      feeds: { image: randn([2, 3, 32, 32]) },
      wrt: "image",
    },
    {
      name: "tiny-bert",
      model: bert,
      feeds: {
        [bert.graph!.input[0]!.name!]: readNpyFixture("grads/tiny_bert_emb2logits_input.npy"),
        [bert.graph!.input[1]!.name!]: readNpyFixture("grads/tiny_bert_emb2logits_attention_mask.npy"),
      },
      wrt: bert.graph!.input[0]!.name!,
    },
    {
      name: "sentiment",
      model: text,
      feeds: {
        input_ids: int64([2, 6], [...ids, ...ids.map((v) => (v === 33 ? 17 : v))]),
        attention_mask: int64([2, 6], [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0]),
      },
      wrt: wordEmbeddingOutput(text),
    },
    ...resnet,
  ];
}

test("gradient and HVP graphs built for WebGPU run in Chromium's WebGPU and match the CPU", {
  skip,
  timeout: 600_000,
}, async (t) => {
  await rm(WORK, { recursive: true, force: true });
  await mkdir(WORK, { recursive: true });
  const listed: unknown[] = [];
  const expected: Record<string, { gradient: Tensor; hvp: Tensor }> = {};
  for (const c of await cases()) {
    const s = await GradientSession.create(nodeBackend(), c.model, c.feeds, { wrt: [c.wrt], hvp: true });
    const batch = Object.values(c.feeds)[0]!.dims[0]!;
    const atBatch = (dims: readonly number[]) => [batch, ...dims.slice(1)];
    const seeds = Object.fromEntries(s.outputs.map((o) => [o, randn(atBatch(s.shapes.get(o)!.dims))]));
    const v = randn(c.feeds[c.wrt]?.dims ?? atBatch(s.shapes.get(c.wrt)!.dims));
    const out = await s.run(c.feeds, seeds, { [c.wrt]: v });
    await s.dispose();
    expected[c.name] = { gradient: out.gradients[c.wrt]!, hvp: out.hvp![c.wrt]! };
    const file = async (name: string, bytes: Uint8Array) => {
      await writeFile(join(WORK, `${c.name}-${name}`), bytes);
      return `/out/webgpu-check/${c.name}-${name}`;
    };
    const feeds: Record<string, string> = {};
    for (const [k, t] of Object.entries(c.feeds))
      feeds[k] = await file(`${k.replace(/\W/g, "_")}.npy`, encodeNpy(t));
    const seedUrls: Record<string, string> = {};
    for (const [k, t] of Object.entries(seeds))
      seedUrls[k] = await file(`seed-${k.replace(/\W/g, "_")}.npy`, encodeNpy(t));
    listed.push({
      name: c.name,
      model: await file("model.onnx", encodeModel(c.model)),
      feeds,
      seeds: seedUrls,
      wrt: c.wrt,
      v: await file("v.npy", encodeNpy(v)),
    });
  }
  await writeFile(join(WORK, "cases.json"), JSON.stringify(listed));

  const { serve } = (await import(pathToFileURL(join(ROOT, "demo", "serve.mjs")).href)) as {
    serve: () => Promise<{ url: string; close: () => void }>;
  };
  const server = await serve();
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: chromiumPath()!,
    args: ["--no-sandbox", "--enable-unsafe-webgpu"],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${server.url}/demo/web/gpu-check.html`);
    await page.waitForFunction(
      () => (window as unknown as { pathlensResult?: unknown }).pathlensResult,
      undefined,
      { timeout: 540_000 },
    );
    const result = (await page.evaluate(
      () => (window as unknown as { pathlensResult: unknown }).pathlensResult,
    )) as {
      error?: string;
      results: Record<string, { gradient: number[]; hvp: number[] }>;
    };
    if (result.error?.includes("no WebGPU adapter")) {
      test.skip?.("Chromium has no WebGPU adapter here");
      return;
    }
    assert.equal(result.error, undefined, result.error);
    assert.deepEqual(errors, []);
    for (const [name, e] of Object.entries(expected)) {
      const got = result.results[name]!;
      const g = relativeL2(got.gradient, e.gradient.data as Float32Array);
      const h = relativeL2(got.hvp, e.hvp.data as Float32Array);
      t.diagnostic(`${name}: gradient relative L2 ${g.toExponential(2)}, HVP ${h.toExponential(2)}`);
      assert.ok(g <= 1e-5, `${name}: gradient relative L2 ${g}`);
      assert.ok(h <= 1e-5, `${name}: HVP relative L2 ${h}`);
    }
  } finally {
    await browser.close();
    server.close();
  }
});
