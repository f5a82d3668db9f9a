/**
 * EIG `original-neighbors` on the digits CNN with a growing reference set (the 360 digits tiled
 * with seeded blends to 360 / 1440 / 3600 / 10000 rows): 16 fives explained from the zero
 * baseline, 8 neighbours, 50 segments. Prints wall and CPU seconds per size (CPU: this process's
 * user + system time, onnxruntime's threads included — less sensitive to a loaded machine);
 * `bench/main.ts` reports some sizes. Run alone:
 *
 *   node --import tsx bench/eig-neighbors.ts [--json] [rows…]
 *
 * `bench/eig-versus.ts` copies this file into an older revision of the repository and runs it
 * there too, so it must only import what that revision has (the imports below exist since
 * 2887443): keep it self-contained.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { enhancedIntegratedGradients } from "../src/attribution/eig/eig.js";
import { loadModel } from "../src/io/model-file.js";
import { readNpy } from "../src/io/npy.js";
import { nodeBackend } from "../src/runtime/node.js";
import { Random } from "../src/tensor/random.js";
import { type Tensor, tensor } from "../src/tensor/tensor.js";

const DIGITS = join(fileURLToPath(new URL("..", import.meta.url)), "examples", "digits");

/** Reference-set sizes run when none are given. */
export const EIG_NEIGHBOR_SIZES = [360, 1440, 3600, 10000];

/** `rows` digits: the 360 test digits, then blends (1 − t)·a + t·b of two random ones, t ∈ [0, 0.5) (seeded). */
function tiled(x: Tensor, rows: number): Tensor<"float32"> {
  const src = x.data as Float32Array;
  const n = src.length / 64;
  const out = tensor("float32", [rows, 1, 8, 8]);
  out.data.set(src.subarray(0, Math.min(rows, n) * 64));
  const rng = new Random(7);
  for (let r = n; r < rows; r++) {
    const [a, b, t] = [rng.int(n), rng.int(n), 0.5 * rng.uniform()];
    for (let j = 0; j < 64; j++) out.data[r * 64 + j] = (1 - t) * src[a * 64 + j]! + t * src[b * 64 + j]!;
  }
  return out;
}

/** Wall and CPU seconds of one EIG original-neighbors run. */
export interface EigNeighborsTiming {
  rows: number;
  seconds: number;
  cpuSeconds: number;
}

/** Times one EIG original-neighbors run over `rows` reference rows (data loading not counted). */
export async function eigNeighborsTiming(rows: number): Promise<EigNeighborsTiming> {
  const cnn = await loadModel(join(DIGITS, "digits_cnn.onnx"));
  const x = await readNpy(join(DIGITS, "digits_test.npy"));
  const labels = Array.from((await readNpy(join(DIGITS, "digits_test_labels.npy"))).data, Number);
  const fives = labels.flatMap((l, i) => (l === 5 ? [i] : [])).slice(0, 16);
  const input = tensor("float32", [fives.length, 1, 8, 8]);
  fives.forEach((r, k) => input.data.set((x.data as Float32Array).subarray(r * 64, (r + 1) * 64), k * 64));
  const referenceData = tiled(x, rows);
  const cpu = process.cpuUsage();
  const started = performance.now();
  await enhancedIntegratedGradients(cnn, {
    backend: nodeBackend(),
    inputs: { input },
    path: "original-neighbors",
    baselineKind: "zero",
    referenceData,
    neighbors: 8,
    target: 5,
    steps: 50,
  });
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { rows, seconds, cpuSeconds: (used.user + used.system) / 1e6 };
}

/** Seconds for one EIG original-neighbors run over `rows` reference rows. */
export async function eigNeighborsSeconds(rows: number): Promise<number> {
  return (await eigNeighborsTiming(rows)).seconds;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const json = process.argv.includes("--json");
  const sizes = process.argv
    .slice(2)
    .filter((a) => a !== "--json")
    .map(Number);
  for (const rows of sizes.length ? sizes : EIG_NEIGHBOR_SIZES) {
    const t = await eigNeighborsTiming(rows);
    console.log(
      json
        ? JSON.stringify(t)
        : `EIG original-neighbors, ${rows} reference rows: ${t.seconds.toFixed(2)} s (CPU ${t.cpuSeconds.toFixed(2)} s)`,
    );
  }
}
