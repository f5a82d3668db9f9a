/**
 * The long fuzz run (`npm run fuzz`): the campaigns of src/testing/fuzz.ts and fuzz-files.ts with many more cases
 * (FUZZ_CASES, default 12,000 split over the campaigns; FUZZ_SEED, default 12; FUZZ_ONLY, one
 * campaign by name). Prints cases and
 * time per campaign; exits 1 on the first counterexample (fast-check prints it with its seed/path).
 */
import { checkCommand } from "../src/cli/check.js";
import { eigCommand, significanceCommand } from "../src/cli/eig.js";
import { explainCommand } from "../src/cli/explain.js";
import { gradientCommand } from "../src/cli/gradient.js";
import { imageCommand } from "../src/cli/image.js";
import { tabularCommand } from "../src/cli/tabular.js";
import { textCommand } from "../src/cli/text.js";
import { decodeModel } from "../src/onnx/codec.js";
import { dtypeOf } from "../src/onnx/model.js";
import { nodeBackend } from "../src/runtime/node.js";
import { type Tensor, tensor } from "../src/tensor/tensor.js";
import { ROOT } from "../src/testing/cli.js";
import {
  checkModelEdits,
  exampleModels,
  fuzzCliFlags,
  fuzzImages,
  fuzzModelBytes,
  fuzzModelEdits,
  fuzzNpy,
  outcomeTally,
} from "../src/testing/fuzz.js";
import { fuzzCsv, fuzzExplainRuns, fuzzTextFiles } from "../src/testing/fuzz-files.js";

const total = Number(process.env.FUZZ_CASES ?? 12000);
const seed = Number(process.env.FUZZ_SEED ?? 12);
const specs = [
  explainCommand,
  gradientCommand,
  eigCommand,
  significanceCommand,
  textCommand,
  imageCommand,
  tabularCommand,
  checkCommand,
];
const models = exampleModels(ROOT);

const ort = await import("onnxruntime-node");
ort.env.logLevel = "fatal";

const campaigns: [string, number, (n: number) => Promise<void> | void][] = [
  ["onnx bytes", 0.25, (n) => fuzzModelBytes({ numRuns: n, seed }, models)],
  [
    "onnx edits + onnxruntime",
    0.1,
    async (n) => {
      // Every edited model the checker accepts is loaded by onnxruntime and run once on zeros
      // shaped as its inputs declare (in this process: a crash ends the run, which is itself a
      // finding). Its refusals must be typed one-liners; they are listed as what the checker
      // does not (yet) catch.
      const backend = nodeBackend();
      const r = await fuzzModelEdits({ numRuns: n, seed }, models, async (bytes) => {
        const s = await backend.createSession(bytes);
        try {
          await s.run(zeroFeeds(bytes));
        } finally {
          await s.dispose();
        }
      });
      const kinds = new Map<string, number>();
      for (const m of r.refusedBySession) {
        const k = process.env.FUZZ_VERBOSE ? m : m.replace(/\(.*$/, "").slice(0, 90);
        kinds.set(k, (kinds.get(k) ?? 0) + 1);
      }
      console.log(
        `  checker accepted ${r.accepted}; onnxruntime still refused ${r.refusedBySession.length} (typed):`,
      );
      for (const [k, v] of [...kinds].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`    ${v} × ${k}`);
    },
  ],
  ["npy", 0.15, (n) => fuzzNpy({ numRuns: n, seed })],
  ["images", 0.15, (n) => fuzzImages({ numRuns: n, seed }, ROOT)],
  ["cli flags", 0.15, (n) => fuzzCliFlags({ numRuns: n, seed }, specs)],
  ["csv", 0.1, (n) => fuzzCsv({ numRuns: n, seed })],
  ["tokenizer.json / config.json", 0.05, (n) => fuzzTextFiles({ numRuns: n, seed }, ROOT)],
  [
    "explain runs (inputs, bombs, flags)",
    0.05,
    async (n) => {
      const r = await fuzzExplainRuns({ numRuns: n, seed }, ROOT);
      const refused = [...r.refused].map(([k, v]) => `${v} ${k}`).join(", ");
      console.log(
        `  exit 0 with complete finite outputs: ${r.succeeded}; refused with no output: ${refused}`,
      );
    },
  ],
];

/** Zeros for every graph input, shaped as declared (symbolic dimensions as 1). */
function zeroFeeds(bytes: Uint8Array): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const v of decodeModel(bytes).graph?.input ?? []) {
    const t = v.type?.tensorType;
    const dtype = dtypeOf(t?.elemType);
    if (!v.name || !dtype) continue;
    feeds[v.name] = tensor(
      dtype,
      t?.shape?.dim.map((d) => (d.dimValue === undefined ? 1 : Number(d.dimValue))) ?? [],
    );
  }
  return feeds;
}

let cases = 0;
checkModelEdits(models[0]!);
const only = process.env.FUZZ_ONLY; // e.g. "cli flags": run one campaign
for (const [name, share, run] of campaigns) {
  if (only && name !== only) continue;
  const n = Math.max(1, Math.round(total * share));
  const t0 = performance.now();
  outcomeTally.clear();
  await run(n);
  cases += n;
  for (const [k, v] of [...outcomeTally].sort((a, b) => b[1] - a[1]).slice(0, 12))
    console.log(`    ${v} × ${k}`);
  console.log(`${name}: ${n} cases, 0 failures, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
console.log(
  `${cases} cases in all (seed ${seed}): no untyped error, no multi-line message, no inconsistent decode, no hang, no partial output, no exit 0 on garbage or with non-finite output`,
);
