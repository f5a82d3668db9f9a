/**
 * The one-machine dataset job killed with SIGKILL at random (seeded) moments and started again
 * until it finishes: every file it leaves equals an uninterrupted run's, byte for byte, and after
 * every kill the folder is consistent (each committed shard whole, no partial file under a final name).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseNpy } from "../io/npy.js";
import { nodeBackend } from "../runtime/node.js";
import { ROOT, runCli } from "../testing/cli.js";
import { explainDataset } from "./engine.js";

const ARGS = (out: string) => [
  "batch",
  "examples/digits/digits_cnn.onnx",
  "--input",
  "examples/digits/digits_test.npy",
  "--target",
  "examples/digits/digits_test_labels.npy",
  "--steps",
  "4",
  "--shard-rows",
  "30",
  "--out",
  out,
];
const SHARDS = 12;

/** mulberry32: a small seeded generator, so the kill moments are the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Starts the job and kills it: `ms` after its `lines`-th progress line (one per committed shard,
 * after a first one at start), or `ms` after its start when `lines` is 0; never when `ms` is Infinity.
 */
function runAndKill(
  out: string,
  lines: number,
  ms: number,
): Promise<{ killed: boolean; code: number | null }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...ARGS(out)], {
      cwd: ROOT,
      env: { ...process.env, PATHLENS_DEBUG: "" },
    });
    let killed = false;
    let timer: NodeJS.Timeout | undefined;
    const kill = () => {
      if (p.exitCode === null && !killed) killed = p.kill("SIGKILL");
    };
    const arm = () => {
      if (Number.isFinite(ms)) timer = setTimeout(kill, ms);
    };
    if (lines === 0) arm();
    let seen = 0;
    p.stderr.on("data", (d: Buffer) => {
      const before = seen;
      seen += (d.toString().match(/^batch: /gm) ?? []).length;
      if (before < lines && seen >= lines) arm();
    });
    p.stdout.resume();
    p.on("close", (code) => {
      clearTimeout(timer);
      resolve({ killed, code });
    });
  });
}

async function files(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const name of await readdir(dir, { recursive: true })) {
    const path = join(dir, name);
    if (name.endsWith(".npy") || name.endsWith(".json") || name.endsWith(".parquet"))
      out.set(name, await readFile(path));
  }
  return out;
}

/** What must hold at any moment: the manifest parses and every shard it lists is whole. */
async function checkConsistent(out: string): Promise<number> {
  if (!existsSync(join(out, "manifest.json"))) return 0;
  const m = JSON.parse(await readFile(join(out, "manifest.json"), "utf8")) as {
    shards: { start: number; end: number; attributions: string; records: string }[];
  };
  for (const s of m.shards) {
    const t = parseNpy(await readFile(join(out, s.attributions)), s.attributions);
    assert.deepEqual(t.dims, [s.end - s.start, 1, 8, 8]);
    const rec = JSON.parse(await readFile(join(out, s.records), "utf8")) as { records: unknown[] };
    assert.equal(rec.records.length, s.end - s.start);
  }
  for (const name of await readdir(join(out, "shards")).catch(() => []))
    if (name.endsWith(".npy")) parseNpy(await readFile(join(out, "shards", name)), name);
  return m.shards.length;
}

test("a batch job SIGKILLed at random moments and restarted ends bit for bit as an uninterrupted run", {
  timeout: 120_000,
}, async (t) => {
  const root = await mkdtemp(join(tmpdir(), "pathlens-resume-"));
  try {
    const reference = join(root, "reference");
    // the uninterrupted run, in this process (the CLI and the library write the same bytes)
    const reference_ = explainDataset(
      {
        model: "examples/digits/digits_cnn.onnx",
        input: { name: "", path: "examples/digits/digits_test.npy" },
        extra: {},
        method: { target: "examples/digits/digits_test_labels.npy", steps: 4 },
        shardRows: 30,
      },
      { backend: nodeBackend(), out: reference },
    );
    const random = rng(17);
    const killed = join(root, "killed");
    let kills = 0;
    let midJob = 0;
    const progress: number[] = [];
    for (let attempt = 0; attempt < 10; attempt++) {
      // one kill in five lands during start-up (reading, hashing, the first manifest); the others
      // while shards are computed and committed, 1–3 shards into the run
      const early = random() < 0.2;
      const lines = attempt >= 7 ? 1 : early ? 0 : 1 + Math.floor(random() * 3);
      const ms = attempt >= 7 ? Infinity : early ? 300 + random() * 1500 : random() * 150;
      const r = await runAndKill(killed, lines, Math.round(ms));
      const committed = await checkConsistent(killed);
      progress.push(committed);
      if (!r.killed) {
        assert.equal(r.code, 0, "the resumed run finishes cleanly");
        break;
      }
      kills++;
      if (committed > 0 && committed < SHARDS) midJob++;
    }
    t.diagnostic(`${kills} kills; committed shards after each run: ${progress.join(", ")}`);
    assert.ok(kills >= 3, `killed ${kills} times (committed shards after each run: ${progress.join(", ")})`);
    assert.ok(midJob >= 2, `at least two kills landed mid-job (committed shards: ${progress.join(", ")})`);
    await reference_;
    const a = await files(reference);
    const b = await files(killed);
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    for (const [name, bytes] of a)
      assert.ok(bytes.equals(b.get(name)!), `${name} differs from the uninterrupted run`);
    // and once done, the same command does nothing
    const again = await runCli(ARGS(killed));
    assert.equal(again.code, 0);
    assert.match(again.stdout, /complete \(360 rows\); nothing to do/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
