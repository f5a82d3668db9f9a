/**
 * Mobile-class CNNs (issue 18): forward vs forward + input gradient of torchvision's mobilenet_v2,
 * mobilenet_v3_small and efficientnet_b0 (seeded random weights, BatchNorm statistics estimated;
 * exported by tools/make_mobile_models.py into .bench/mobile/ when missing), and IG on
 * efficientnet_b0 against a hand-written torch IG on the same weights.
 *
 *   node --import tsx bench/mobile.ts                 all rows (also run by `npm run bench`)
 *   node --import tsx bench/mobile.ts profile NAME B  per-op-type tables of one model at batch B
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { integratedGradients } from "../src/attribution/ig.js";
import { writeNpy } from "../src/io/npy.js";
import { decodeModel, encodeModel } from "../src/onnx/codec.js";
import type { ModelProto } from "../src/onnx/types.js";
import { GradientSession } from "../src/runtime/gradient-session.js";
import { nodeBackend } from "../src/runtime/node.js";
import { Random } from "../src/tensor/random.js";
import { float32, type Tensor } from "../src/tensor/tensor.js";
import { type KernelProfile, opTable, profileKernels } from "./profile.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const DIR = join(ROOT, ".bench", "mobile");
const PYTHON = "/usr/bin/python3";
const SCRIPT = join(ROOT, "tools", "make_mobile_models.py");
/** The models of issue 18. */
export const MOBILE_MODELS = ["mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0"] as const;

/** The exported model, made by the tools/ script when missing (undefined with a reason when it cannot be). */
export function mobileModel(name: string): { model?: ModelProto; why?: string } {
  const file = join(DIR, `${name}.onnx`);
  if (!existsSync(file)) {
    const r = spawnSync(PYTHON, [SCRIPT, DIR, name], { encoding: "utf8" });
    if (r.status !== 0 || !existsSync(file))
      return {
        why: `export failed (${PYTHON} ${SCRIPT}): ${(r.stderr ?? r.error?.message ?? "").slice(-300)}`,
      };
  }
  return { model: decodeModel(new Uint8Array(readFileSync(file))) };
}

function image(rng: Random, batch: number): Tensor<"float32"> {
  const n = batch * 3 * 224 * 224;
  return float32(
    [batch, 3, 224, 224],
    Float32Array.from({ length: n }, () => rng.normal()),
  );
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Forward and forward + gradient timed interleaved (A B A B …) after one warm-up each. */
async function ratioRow(model: ModelProto, batch: number, runs: number) {
  const backend = nodeBackend();
  const feeds = { input: image(new Random(batch), batch) };
  const fwd = await backend.createSession(encodeModel(model));
  const gs = await GradientSession.create(backend, model, feeds, {
    wrt: ["input"],
    outputs: ["logits"],
    cache: false,
  });
  const seed = float32([batch, 1000], new Float32Array(batch * 1000).fill(1e-3));
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i <= runs; i++) {
    let t = performance.now();
    await fwd.run(feeds, ["logits"]);
    if (i > 0) a.push((performance.now() - t) / 1000);
    t = performance.now();
    await gs.run(feeds, { logits: seed });
    if (i > 0) b.push((performance.now() - t) / 1000);
  }
  await fwd.dispose();
  const gradientBytes = encodeModel(gs.model);
  const seedName = gs.seedNames().logits!;
  await gs.dispose();
  return { forward: median(a), both: median(b), gradientBytes, feeds: { ...feeds, [seedName]: seed } };
}

function topOps(p: KernelProfile, n: number): string {
  return [...p.byOp]
    .sort((x, y) => y[1].ms - x[1].ms)
    .slice(0, n)
    .map(([op, r]) => `${op} ${(r.ms / 1000).toFixed(3)}`)
    .join(", ");
}

/**
 * Rows of the mobile bench, each passed to `say` as it is measured: ratio per model and batch (with
 * the largest op types of the forward+gradient graph), then IG against torch unless `ig` is false.
 */
export async function benchMobile(say: (line: string) => void, ig = true): Promise<void> {
  say(
    `load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")} on ${cpus().length} CPUs`,
  );
  for (const name of MOBILE_MODELS) {
    const { model, why } = mobileModel(name);
    if (!model) {
      say(`${name}: skipped (${why})`);
      continue;
    }
    for (const batch of [1, 16]) {
      const r = await ratioRow(model, batch, batch === 1 ? 15 : 5);
      const ratio = r.both / r.forward;
      say(
        `${`${name}, batch ${batch}`.padEnd(28)} forward ${r.forward.toFixed(3)} s   forward+gradient ${r.both.toFixed(3)} s   ratio ${ratio.toFixed(2)}× ${batch === 16 ? (ratio <= 2.5 ? "(≤ 2.5 ✓)" : "(target ≤ 2.5 ✗)") : ""}`,
      );
      const p = await profileKernels(r.gradientBytes, r.feeds, 2);
      say(`${"".padEnd(28)} largest op types (s): ${topOps(p, 6)}`);
    }
  }
  if (ig) for (const l of await igAgainstTorch()) say(l);
}

/** IG on efficientnet_b0, 4 images, 50 steps: pathlens in process vs hand-written torch IG. */
async function igAgainstTorch(): Promise<string[]> {
  const name = "efficientnet_b0";
  const { model, why } = mobileModel(name);
  if (!model) return [`IG ${name}: skipped (${why})`];
  const x = image(new Random(4), 4);
  const xFile = join(DIR, "ig_x.npy");
  await mkdir(DIR, { recursive: true });
  await writeNpy(xFile, x);
  const target = 7;
  const run = () =>
    integratedGradients(model, { backend: nodeBackend(), inputs: { input: x }, target, steps: 50 });
  let t = performance.now();
  await run();
  const first = (performance.now() - t) / 1000;
  t = performance.now();
  await run();
  const warm = (performance.now() - t) / 1000;
  const r = spawnSync(PYTHON, [SCRIPT, DIR, "--ig-time", name, xFile, "50", String(target)], {
    encoding: "utf8",
  });
  const torchSeconds = Number(r.stdout.trim().split("\n").pop());
  if (r.status !== 0 || !Number.isFinite(torchSeconds))
    return [
      `IG ${name}: pathlens first ${first.toFixed(2)} s, warm ${warm.toFixed(2)} s; torch failed: ${r.stderr.slice(-300)}`,
    ];
  return [
    `IG ${name}, 4 images, 50 steps: pathlens first call ${first.toFixed(2)} s (graph built), warm ${warm.toFixed(2)} s; hand-written torch IG (2 threads) ${torchSeconds.toFixed(2)} s; ratio warm/torch ${(warm / torchSeconds).toFixed(2)}×`,
  ];
}

async function profileOne(name: string, batch: number): Promise<void> {
  const { model, why } = mobileModel(name);
  if (!model) throw new Error(why);
  const r = await ratioRow(model, batch, 3);
  console.log(
    `${name} b${batch}: forward ${r.forward.toFixed(3)} s, both ${r.both.toFixed(3)} s, ratio ${(r.both / r.forward).toFixed(2)}`,
  );
  const pf = await profileKernels(encodeModel(model), { input: r.feeds.input! }, 2);
  const pg = await profileKernels(r.gradientBytes, r.feeds, 2);
  for (const [label, p] of [
    ["forward", pf],
    ["forward+gradient", pg],
  ] as const) {
    console.log(`\n${label}: run ${p.runMs.toFixed(1)} ms`);
    for (const l of opTable(p)) console.log(`  ${l}`);
  }
  const top = Number(process.env.PROFILE_TOP ?? 0);
  for (const [n, ms] of [...pg.byNode].sort((x, y) => y[1] - x[1]).slice(0, top))
    console.log(`    ${n.slice(0, 90).padEnd(90)} ${ms.toFixed(1).padStart(7)}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv[2] === "profile") await profileOne(process.argv[3]!, Number(process.argv[4] ?? 16));
  else await benchMobile((l) => console.log(`  ${l}`));
}
