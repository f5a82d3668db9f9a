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
import { ROOT, runCli } from "../testing/cli.js";

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

/** Starts the job; kills it `delayMs` after its first progress line (or before it, when negative). */
function runAndKill(out: string, delayMs: number): Promise<{ killed: boolean; code: number | null }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...ARGS(out)], {
      cwd: ROOT,
      env: { ...process.env, PATHLENS_DEBUG: "" },
    });
    let killed = false;
    let timer: NodeJS.Timeout | undefined;
    const kill = () => {
      if (p.exitCode === null && !killed) {
        killed = p.kill("SIGKILL");
      }
    };
    if (delayMs < 0) timer = setTimeout(kill, -delayMs);
    p.stderr.once("data", () => {
      if (delayMs >= 0) timer = setTimeout(kill, delayMs);
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
    const ref = await runCli(ARGS(reference));
    assert.equal(ref.code, 0, ref.stderr);
    const random = rng(17);
    const killed = join(root, "killed");
    let kills = 0;
    let midJob = 0;
    const progress: number[] = [];
    for (let attempt = 0; attempt < 12; attempt++) {
      // one kill in five lands during start-up (reading, hashing, the first manifest)
      const delay =
        attempt >= 8
          ? 60_000
          : random() < 0.2
            ? -Math.round(300 + random() * 1500)
            : Math.round(random() * 700);
      const r = await runAndKill(killed, delay);
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
