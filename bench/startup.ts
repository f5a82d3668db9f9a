/**
 * Start-up of a gradient session, cold (empty gradient cache) against cached, in the same run:
 * `node --import tsx bench/startup.ts [model.onnx] [input name] [dims…]`
 * (default: resnet18 from $PATHLENS_LARGE_FIXTURES/models, input "input", 1×3×224×224).
 * Also times onnxruntime loading the gradient model at "all" against loading the graph it
 * optimized (optimizedModelFilePath) at "disabled", and checks the two give the same gradients.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { decodeModel, encodeModel } from "../src/onnx/codec.js";
import { diskGradientCache } from "../src/runtime/disk-cache.js";
import { GradientSession } from "../src/runtime/gradient-session.js";
import { nodeBackend } from "../src/runtime/node.js";
import { tensor } from "../src/tensor/tensor.js";

const [
  path = join(process.env.PATHLENS_LARGE_FIXTURES ?? "/work/shared/fixtures", "models/resnet18.onnx"),
  input = "input",
  ...d
] = process.argv.slice(2);
const dims = d.length ? d.map(Number) : [1, 3, 224, 224];
const model = decodeModel(new Uint8Array(await readFile(path)));
const x = tensor("float32", dims);
const data = x.data as Float32Array;
for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37);
const dir = await mkdtemp(join(tmpdir(), "pathlens-startup-"));
const backend = nodeBackend({ gradientCache: diskGradientCache({ dir }) });
try {
  const wrt = [input];
  const cold = await GradientSession.create(backend, model, { [input]: x }, { wrt });
  const bytes = encodeModel(cold.model);
  await cold.dispose();
  const warm: GradientSession[] = [];
  for (let i = 0; i < 3; i++) {
    const s = await GradientSession.create(backend, model, { [input]: x }, { wrt });
    await s.dispose();
    warm.push(s);
  }
  const cached = warm.map((s) => `${s.startupSeconds.toFixed(2)} s (hit ${s.cacheHit})`).join(", ");
  const best = Math.min(...warm.map((s) => s.startupSeconds));
  console.log(
    `${path}: cold ${cold.startupSeconds.toFixed(2)} s (hit ${cold.cacheHit}), cached ${cached}, best ratio ${(best / cold.startupSeconds).toFixed(3)}`,
  );
  // onnxruntime's own optimized graph of the gradient model
  const optimized = join(dir, "optimized.onnx");
  let t = performance.now();
  const all = await ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: "all",
    optimizedModelFilePath: optimized,
  });
  const tAll = (performance.now() - t) / 1000;
  t = performance.now();
  const pre = await ort.InferenceSession.create(optimized, { graphOptimizationLevel: "disabled" });
  const tPre = (performance.now() - t) / 1000;
  t = performance.now();
  const again = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: "all" });
  const tAgain = (performance.now() - t) / 1000;
  const feeds: Record<string, ort.Tensor> = {};
  for (const i of all.inputNames) {
    const info = cold.shapes.get(i);
    const seedOf = Object.entries(cold.seedNames()).find(([, s]) => s === i)?.[0];
    const dimsOf = info?.dims ?? cold.shapes.get(seedOf!)!.dims;
    const n = dimsOf.reduce((a, b) => a * b, 1);
    feeds[i] = new ort.Tensor(
      "float32",
      Float32Array.from({ length: n }, (_, k) => Math.cos(k * 0.11)),
      dimsOf,
    );
  }
  const maxDiff = async () => {
    const [a, b] = [await all.run(feeds), await pre.run(feeds)];
    let m = 0;
    for (const k of Object.keys(a)) {
      const [u, v] = [a[k]!.data as Float32Array, b[k]!.data as Float32Array];
      for (let i = 0; i < u.length; i++) m = Math.max(m, Math.abs(u[i]! - v[i]!));
    }
    return m;
  };
  const timeRun = async (s: ort.InferenceSession) => {
    await s.run(feeds);
    const t0 = performance.now();
    await s.run(feeds);
    return (performance.now() - t0) / 1000;
  };
  console.log(
    `onnxruntime load: at "all" ${tAll.toFixed(2)} s (writing the optimized graph), again ${tAgain.toFixed(2)} s; optimized graph at "disabled" ${tPre.toFixed(2)} s; max |difference| ${await maxDiff()}; run ${(await timeRun(again)).toFixed(3)} s vs ${(await timeRun(pre)).toFixed(3)} s`,
  );
  await Promise.all([all.release(), pre.release(), again.release()]);
} finally {
  await rm(dir, { recursive: true, force: true });
}
