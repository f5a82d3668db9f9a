import { integratedGradients } from "../src/attribution/ig.js";
import { nodeBackend } from "../src/runtime/node.js";
import { Random } from "../src/tensor/random.js";
import { float32, int64 } from "../src/tensor/tensor.js";
import { readModelFixture, readNpyFixture } from "../src/testing/fixtures.js";
const which = process.argv[2]!;
const sizes = process.argv.slice(3).map((s) => (s === "auto" ? undefined : Number(s)));
const rng = new Random(1);
const backend = nodeBackend({ gradientCache: false });
let run: (chunkSize?: number) => Promise<{ t: number; chunk: number }>;
const timed = async (f: () => Promise<{ startupSeconds?: number; chunkSize?: number }>) => {
  const t0 = performance.now();
  const r = await f();
  if (process.env.DESCRIBE) console.log((r as {chunking?: string}).chunking, ((performance.now() - t0) / 1000 - (r.startupSeconds ?? 0)).toFixed(3)); return { t: (performance.now() - t0) / 1000 - (r.startupSeconds ?? 0), chunk: r.chunkSize ?? -1 };
};
if (which === "resnet") {
  const model = readModelFixture("models/resnet18.onnx");
  const n = 4 * 3 * 224 * 224;
  const input = float32([4, 3, 224, 224], Array.from({ length: n }, () => rng.normal()));
  const steps = Number(process.env.STEPS ?? 16);
  run = (chunkSize) => timed(() => integratedGradients(model, { backend, inputs: { input }, target: 7, steps, chunkSize }) as never);
} else if (which === "bert") {
  const model = readModelFixture("models/tiny_bert.onnx");
  const seq = 128;
  const ids = int64([32, seq], Array.from({ length: 32 * seq }, (_, i) => (i % seq === 0 ? 1 : 2 + rng.int(990))));
  const mask = int64([32, seq], new Array(32 * seq).fill(1));
  const base = int64([32, seq], Array.from({ length: 32 * seq }, (_, i) => (i % seq === 0 ? 1 : 0)));
  run = (chunkSize) => timed(() => integratedGradients(model, { backend, inputs: { input_ids: ids }, extra: { attention_mask: mask }, layer: "/embeddings/LayerNorm/Add_1_output_0", baselineInputs: { input_ids: base }, target: 1, steps: 50, chunkSize }) as never);
} else {
  const model = readModelFixture("models/digits_cnn.onnx");
  const input = readNpyFixture("models/digits_X_test.npy");
  run = (chunkSize) => timed(() => integratedGradients(model, { backend, inputs: { input }, target: 5, steps: 50, chunkSize }) as never);
}
const rounds = Number(process.env.ROUNDS ?? 2);
const times = new Map<string, number[]>();
await run(sizes[0]); // warm-up
for (let r = 0; r < rounds; r++)
  for (const s of sizes) {
    const { t, chunk } = await run(s);
    const k = s === undefined ? `auto(${chunk})` : String(s);
    (times.get(k) ?? times.set(k, []).get(k)!).push(t);
  }
const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)]!;
const best = Math.min(...[...times.values()].map(med));
for (const [k, v] of times) console.log(`${which} chunk ${k.padEnd(10)} median ${med(v).toFixed(3)} s  ratio to best ${(med(v) / best).toFixed(3)}   [${v.map((x) => x.toFixed(2)).join(" ")}]`);
