/**
 * What the leaner gradient graphs buy: forward, the gradient graph as it was built before
 * (subgraphs differentiated node by node, MaxPool asked for Indices) and as it is built now, run
 * interleaved in one process (A B C A B C …) so a loaded machine slows all three alike; prints
 * the medians, the median of per-round ratios to the forward, and a per-op-type kernel profile
 * (median per node over the profiled runs).
 *
 *   node --import tsx bench/lean.ts [bert|resnet18] [rounds]
 */
import { fileURLToPath } from "node:url";
import { gradientModel } from "../src/autodiff/gradient.js";
import { encodeModel } from "../src/onnx/codec.js";
import { cloneModel } from "../src/onnx/model.js";
import type { ModelProto } from "../src/onnx/types.js";
import type { Session } from "../src/runtime/backend.js";
import { nodeBackend } from "../src/runtime/node.js";
import { probeShapes } from "../src/runtime/probe.js";
import { Random } from "../src/tensor/random.js";
import { float32, int64, type Tensor } from "../src/tensor/tensor.js";
import { readModelFixture } from "../src/testing/fixtures.js";
import { opTable, profileKernels } from "./profile.js";

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

/** The gradient graph as built before the leaner forms: no closed-form subgraphs, MaxPool with Indices. */
function previousForm(model: ModelProto): ModelProto {
  const m = cloneModel(model);
  for (const n of m.graph!.node)
    if (n.opType === "MaxPool" && n.output.length === 1) n.output.push(`${n.output[0]}_indices`);
  return m;
}

/** Prints forward / previous / current timings for one model. */
export async function leanComparison(
  label: string,
  model: ModelProto,
  feeds: Record<string, Tensor>,
  wrt: string,
  rounds: number,
): Promise<void> {
  const backend = nodeBackend();
  const output = model.graph!.output[0]!.name!;
  const shapes = await probeShapes(backend, model, feeds);
  const dims = shapes.get(output)!.dims;
  const seed = float32(dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(1));
  const variants: { name: string; bytes: Uint8Array; feeds: Record<string, Tensor> }[] = [
    { name: "forward", bytes: encodeModel(model), feeds },
  ];
  for (const [name, source, fusePatterns] of [
    ["previous", previousForm(model), false],
    ["current", model, true],
  ] as const) {
    const gm = gradientModel(source, {
      wrt: [wrt],
      outputs: [output],
      shapes: new Map(shapes),
      fusePatterns,
    });
    variants.push({ name, bytes: encodeModel(gm.model), feeds: { ...feeds, [gm.seeds[0]!]: seed } });
  }
  const sessions: Session[] = [];
  for (const v of variants) sessions.push(await backend.createSession(v.bytes));
  const times: number[][] = variants.map(() => []);
  for (let r = -1; r < rounds; r++) {
    for (const [i, v] of variants.entries()) {
      const t = performance.now();
      await sessions[i]!.run(v.feeds);
      if (r >= 0) times[i]!.push(performance.now() - t);
    }
  }
  for (const s of sessions) await s.dispose();
  const perRound = (i: number) => median(times[i]!.map((t, r) => t / times[0]![r]!));
  console.log(
    `${label}: ${variants.map((v, i) => `${v.name} ${median(times[i]!).toFixed(1)} ms`).join(", ")}; ` +
      `per-round ratio to forward: previous ${perRound(1).toFixed(2)}×, current ${perRound(2).toFixed(2)}×`,
  );
  for (const v of variants) {
    const p = await profileKernels(v.bytes, v.feeds);
    console.log(`  ${v.name} (profiled run ${p.runMs.toFixed(1)} ms)`);
    for (const line of opTable(p)) console.log(`    ${line}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rng = new Random(7);
  const normal = (dims: number[]) =>
    float32(
      dims,
      Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.normal()),
    );
  const which = process.argv[2] ?? "bert";
  const rounds = Number(process.argv[3] ?? (which === "bert" ? 31 : 5));
  if (which === "bert")
    await leanComparison(
      "tiny BERT b64",
      readModelFixture("models/tiny_bert_emb2logits.onnx"),
      { embeddings: normal([64, 128, 64]), attention_mask: int64([64, 128], new Array(64 * 128).fill(1)) },
      "embeddings",
      rounds,
    );
  else
    await leanComparison(
      "resnet18 b32",
      readModelFixture("models/resnet18.onnx"),
      { input: normal([32, 3, 224, 224]) },
      "input",
      rounds,
    );
}
