/**
 * Where the time of a gradient graph goes: runs a model with onnxruntime's profiler and sums the
 * kernel time per op type. `npm run bench` uses it to print, next to the forward/gradient ratio,
 * how much of the forward + gradient graph is convolution / matrix-multiply kernels — the part
 * no rewrite of the other ops can remove. Run alone for a full table:
 *
 *   npm run bench:profile -- [resnet18|bert]     (PROFILE_TOP=30 also lists the slowest nodes)
 */
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ort from "onnxruntime-node";
import { encodeModel } from "../src/onnx/codec.js";
import type { ModelProto } from "../src/onnx/types.js";
import { GradientSession } from "../src/runtime/gradient-session.js";
import { nodeBackend } from "../src/runtime/node.js";
import { Random } from "../src/tensor/random.js";
import { float32, int64, type Tensor } from "../src/tensor/tensor.js";
import { readModelFixture } from "../src/testing/fixtures.js";

const WORK = join(fileURLToPath(new URL(".", import.meta.url)), "..", ".bench", "profile");

/** Op types whose kernels are the arithmetic proper (the rest is memory traffic and glue). */
export const COMPUTE_OPS = new Set(["Conv", "ConvTranspose", "MatMul", "FusedMatMul", "Gemm", "FusedConv"]);

/** Kernel time of one run, by op type and by node. */
export interface KernelProfile {
  /** Wall time of the profiled run (ms). */
  runMs: number;
  byOp: Map<string, { ms: number; count: number }>;
  byNode: Map<string, number>;
}

interface ProfileEvent {
  cat?: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

/** Runs `bytes` `runs` times with onnxruntime's profiler; returns the kernel times of the last run. */
export async function profileKernels(
  bytes: Uint8Array,
  feeds: Record<string, Tensor>,
  runs = 3,
): Promise<KernelProfile> {
  await mkdir(WORK, { recursive: true });
  const tag = `p${process.pid}_${Date.now()}`;
  const session = await ort.InferenceSession.create(bytes, {
    enableProfiling: true,
    profileFilePrefix: join(WORK, tag),
  });
  const ortFeeds = Object.fromEntries(
    Object.entries(feeds).map(([k, t]) => [
      k,
      new ort.Tensor(t.dtype as "float32", t.data as Float32Array, t.dims),
    ]),
  );
  for (let i = 0; i < runs; i++) await session.run(ortFeeds);
  session.endProfiling();
  await session.release();
  const files = readdirSync(WORK).filter((n) => n.startsWith(tag) && n.endsWith(".json"));
  if (files.length === 0) throw new Error("onnxruntime wrote no profile");
  const events = JSON.parse(readFileSync(join(WORK, files[0]!), "utf8")) as ProfileEvent[];
  for (const f of files) rmSync(join(WORK, f));
  const last = events.filter((e) => e.cat === "Session" && e.name === "model_run").pop()!;
  const byOp = new Map<string, { ms: number; count: number }>();
  const byNode = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== "Node" || !e.name.endsWith("_kernel_time")) continue;
    if (e.ts < last.ts || e.ts > last.ts + last.dur) continue;
    const op = e.args?.op_name ?? "?";
    const r = byOp.get(op) ?? { ms: 0, count: 0 };
    r.ms += e.dur / 1000;
    r.count++;
    byOp.set(op, r);
    const node = e.name.replace(/_kernel_time$/, "");
    byNode.set(node, (byNode.get(node) ?? 0) + e.dur / 1000);
  }
  return { runMs: last.dur / 1000, byOp, byNode };
}

/** Kernel milliseconds spent in {@link COMPUTE_OPS}. */
export function computeMs(p: KernelProfile): number {
  let ms = 0;
  for (const [op, r] of p.byOp) if (COMPUTE_OPS.has(op)) ms += r.ms;
  return ms;
}

/** Lines of a per-op-type table (op types under `minMs` left out). */
export function opTable(p: KernelProfile, minMs = 0.5): string[] {
  return [...p.byOp]
    .sort((a, b) => b[1].ms - a[1].ms)
    .filter(([, r]) => r.ms >= minMs)
    .map(([op, r]) => `${op.padEnd(24)} ${r.ms.toFixed(1).padStart(8)} ms  ×${r.count}`);
}

async function standalone(label: string, model: ModelProto, feeds: Record<string, Tensor>, wrt: string) {
  const top = Number(process.env.PROFILE_TOP ?? 0);
  const output = model.graph!.output[0]!.name!;
  const gs = await GradientSession.create(nodeBackend(), model, feeds, { wrt: [wrt], outputs: [output] });
  const dims = gs.shapes.get(output)!.dims;
  const seed = float32(dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(1));
  const both = { ...feeds, [gs.seedNames()[output]!]: seed };
  for (const [name, bytes, f] of [
    ["forward", encodeModel(model), feeds],
    ["forward+gradient", encodeModel(gs.model), both],
  ] as const) {
    const p = await profileKernels(bytes, f);
    console.log(
      `\n${label} ${name}: run ${p.runMs.toFixed(1)} ms, compute kernels ${computeMs(p).toFixed(1)} ms`,
    );
    for (const l of opTable(p)) console.log(`  ${l}`);
    for (const [n, ms] of [...p.byNode].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(`    ${n.slice(0, 80).padEnd(80)} ${ms.toFixed(1).padStart(7)}`);
  }
  await gs.dispose();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rng = new Random(7);
  const normal = (dims: number[]) =>
    float32(
      dims,
      Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.normal()),
    );
  const which = process.argv[2] ?? "all";
  if (which === "all" || which === "resnet18")
    await standalone(
      "resnet18 b32",
      readModelFixture("models/resnet18.onnx"),
      { input: normal([32, 3, 224, 224]) },
      "input",
    );
  if (which === "all" || which === "bert")
    await standalone(
      "tiny BERT b64",
      readModelFixture("models/tiny_bert_emb2logits.onnx"),
      { embeddings: normal([64, 128, 64]), attention_mask: int64([64, 128], new Array(64 * 128).fill(1)) },
      "embeddings",
    );
}
