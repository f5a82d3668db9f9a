/**
 * The on-disk gradient cache, each test in its own temporary folder (never the user's): a second
 * create() loads the built model without probing and gives the same gradients (compared with
 * torch float64 autograd, test/fixtures/contrib/cnn.*); changed options, dims and models miss;
 * corrupt entries are rebuilt; two processes writing at once leave a whole entry; eviction keeps
 * the folder under its bound.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";
import { readNpy } from "../io/npy.js";
import { decodeModel, encodeModel } from "../onnx/codec.js";
import { makeModel } from "../onnx/make.js";
import { ModelStructureError } from "../onnx/model.js";
import { float64, int64, type Tensor } from "../tensor/tensor.js";
import { runCli } from "../testing/cli.js";
import { fixturePath } from "../testing/fixtures.js";
import { modeModel } from "../testing/mode-model.js";
import type { Backend } from "./backend.js";
import { CacheKeyError, defaultCacheDir, diskGradientCache, gradientCacheFromEnv } from "./disk-cache.js";
import { modelKeyParts } from "./gradient-entry.js";
import { GradientSession } from "./gradient-session.js";
import { nodeBackend } from "./node.js";

const FIXTURES = join(import.meta.dirname, "../../test/fixtures/contrib");
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "pathlens-cache-test-"));
  dirs.push(d);
  return d;
}

/** A node backend on a disk cache in `dir` that counts sessions created (the probe creates some). */
function countingBackend(
  dir: string,
  maxBytes?: number,
): Backend & { sessions: number; loads: { file: boolean; prechecked: boolean }[] } {
  const inner = nodeBackend({ gradientCache: diskGradientCache({ dir, maxBytes }) });
  const b = {
    ...inner,
    sessions: 0,
    loads: [] as { file: boolean; prechecked: boolean }[],
    createSession(model: Uint8Array | string, options?: Parameters<Backend["createSession"]>[1]) {
      b.sessions++;
      b.loads.push({ file: typeof model === "string", prechecked: options?.prechecked === true });
      return inner.createSession(model, options);
    },
  };
  return b;
}

async function fixture() {
  const model = decodeModel(new Uint8Array(await readFile(join(FIXTURES, "cnn.onnx"))));
  const x = await readNpy(join(FIXTURES, "cnn.input.npy"));
  const seed = await readNpy(join(FIXTURES, "cnn.seed.npy"));
  const grad = (await readNpy(join(FIXTURES, "cnn.grad.npy"))).data as Float64Array;
  return { model, x, seed, grad };
}

function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (Number(a[i]) - Number(b[i])) ** 2;
    den += Number(b[i]) ** 2;
  }
  return Math.sqrt(num / den);
}

async function gradientOf(s: GradientSession, x: Tensor, seed: Tensor): Promise<Float32Array> {
  return (await s.run({ x }, { y: seed })).gradients.x!.data as Float32Array;
}

async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith(".plgc"));
}

test("a second create() loads the cached gradient model without probing and gives the same gradients", async () => {
  const dir = await tempDir();
  const { model, x, seed, grad } = await fixture();
  const backend = countingBackend(dir);
  const cold = await GradientSession.create(backend, model, { x }, { wrt: ["x"] });
  const coldSessions = backend.sessions;
  assert.equal(cold.cacheHit, false);
  assert.ok(coldSessions > 1, "the cold build probes shapes with extra sessions");
  assert.ok(cold.startupSeconds > 0);
  const g1 = await gradientOf(cold, x, seed);
  await cold.dispose();
  assert.equal(
    (await entries(dir)).length,
    3,
    "the entry's header, the gradient model and onnxruntime's optimized graph of it",
  );
  assert.ok(
    backend.loads.every((l) => l.prechecked),
    "the model was checked once by create(): its probe and gradient graphs skip the checker",
  );

  backend.sessions = 0;
  backend.loads.length = 0;
  const warm = await GradientSession.create(backend, model, { x }, { wrt: ["x"] });
  assert.equal(warm.cacheHit, true);
  assert.equal(
    backend.sessions,
    1,
    "a hit creates only the gradient session: no fold, probe or decompose run",
  );
  assert.deepEqual(
    backend.loads,
    [{ file: true, prechecked: true }],
    "onnxruntime reads the optimized graph's file itself, unchecked",
  );
  assert.ok(warm.startupPhases.session! >= 0 && !("probe" in warm.startupPhases));
  const g2 = await gradientOf(warm, x, seed);
  assert.deepEqual(g2, g1);
  assert.ok(relL2(g2, grad) < 1e-4, `gradient vs torch float64: rel L2 ${relL2(g2, grad)}`);
  assert.deepEqual([...warm.shapes.get("y")!.dims], [...cold.shapes.get("y")!.dims]);
  assert.equal(warm.model.graph!.output.length, cold.model.graph!.output.length);
  await warm.dispose();
});

test("a changed option, feed dim or model misses; cache: false neither reads nor writes", async () => {
  const dir = await tempDir();
  const { model, x } = await fixture();
  const backend = countingBackend(dir);
  const create = async (m = model, feeds: Record<string, Tensor> = { x }, hvp = false, cache?: boolean) => {
    const s = await GradientSession.create(backend, m, feeds, { wrt: ["x"], hvp, cache });
    await s.dispose();
    return s.cacheHit;
  };
  assert.equal(await create(), false);
  assert.equal(await create(), true);
  assert.equal(await create(model, { x }, true), false, "hvp");
  const one = {
    dtype: x.dtype,
    dims: [1, ...x.dims.slice(1)],
    data: x.data.slice(0, x.data.length / 2),
  } as Tensor;
  assert.equal(await create(model, { x: one }, false), false, "batch 1 instead of 2");
  const changed = decodeModel(new Uint8Array(await readFile(join(FIXTURES, "cnn.onnx"))));
  const w = changed.graph!.initializer.find((t) => t.floatData?.length || t.rawData?.length)!;
  if (w.rawData?.length) w.rawData = w.rawData.map((b, i) => (i === 0 ? b ^ 1 : b));
  else w.floatData![0]! += 1;
  assert.equal(await create(changed), false, "one weight changed");
  assert.equal((await entries(dir)).length, 12);
  assert.equal(await create(model, { x }, false, false), false, "cache: false");
  assert.equal((await entries(dir)).length, 12);
});

test("a corrupt or truncated entry (header, gradient model or optimized graph) is rebuilt, never a crash", async () => {
  const dir = await tempDir();
  const { model, x, seed, grad } = await fixture();
  const backend = countingBackend(dir);
  const cold = await GradientSession.create(backend, model, { x }, { wrt: ["x"] });
  const built = Buffer.from(encodeModel(cold.model));
  await cold.dispose();
  const names = await entries(dir);
  assert.equal(names.length, 3);
  const whole = new Map<string, Buffer>();
  for (const name of names) whole.set(name, await readFile(join(dir, name)));
  const kind = (n: string) =>
    whole.get(n)!.subarray(0, 4).toString() === "PLGC"
      ? "header"
      : whole.get(n)!.equals(built)
        ? "model"
        : "optimized";
  assert.deepEqual(names.map(kind).sort(), ["header", "model", "optimized"]);
  // the gradient model is read only when onnxruntime's optimized graph cannot serve (or .model):
  // corrupt it with the optimized graph gone, so the hit has to read it
  for (const name of names) {
    const path = join(dir, name);
    const original = whole.get(name)!;
    for (const bad of [
      original.subarray(0, original.length >> 1),
      Buffer.from("not an entry"),
      original.map((b) => b ^ 0x55),
    ]) {
      await writeFile(path, bad);
      if (kind(name) === "model") await rm(join(dir, names.find((n) => kind(n) === "optimized")!));
      const s = await GradientSession.create(backend, model, { x }, { wrt: ["x"] });
      assert.ok(relL2(await gradientOf(s, x, seed), grad) < 1e-4);
      await s.dispose();
      const now = await readFile(path);
      if (kind(name) !== "optimized") assert.deepEqual(now, original, `${kind(name)} was rewritten whole`);
      // onnxruntime's optimized graph is not byte-for-byte reproducible: it must load again
      else assert.ok(!now.equals(bad) && now.length > original.length / 2, `${name} was rewritten`);
      const again = await GradientSession.create(backend, model, { x }, { wrt: ["x"] });
      assert.equal(again.cacheHit, true);
      assert.ok(relL2(await gradientOf(again, x, seed), grad) < 1e-4);
      assert.equal(again.model.graph!.output.length, 2, "the cached gradient model decodes");
      await again.dispose();
    }
  }
});

test("two processes building the same model at once leave one whole entry", async () => {
  const dir = await tempDir();
  const script = join(dir, "child.mts");
  const src = (f: string) => pathToFileURL(join(import.meta.dirname, f)).href;
  await writeFile(
    script,
    `import { readFile } from "node:fs/promises";
import { decodeModel } from ${JSON.stringify(src("../onnx/codec.ts"))};
import { readNpy } from ${JSON.stringify(src("../io/npy.ts"))};
import { diskGradientCache } from ${JSON.stringify(src("disk-cache.ts"))};
import { GradientSession } from ${JSON.stringify(src("gradient-session.ts"))};
import { nodeBackend } from ${JSON.stringify(src("node.ts"))};
const model = decodeModel(new Uint8Array(await readFile(${JSON.stringify(join(FIXTURES, "cnn.onnx"))})));
const x = await readNpy(${JSON.stringify(join(FIXTURES, "cnn.input.npy"))});
const backend = nodeBackend({ gradientCache: diskGradientCache({ dir: ${JSON.stringify(dir)} }) });
for (let i = 0; i < 3; i++) {
  const s = await GradientSession.create(backend, model, { x }, { wrt: ["x"] });
  await s.dispose();
}
`,
  );
  const run = () =>
    new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", script], { stdio: "inherit" });
      child.on("exit", (code) => resolve(code ?? -1));
    });
  assert.deepEqual(await Promise.all([run(), run()]), [0, 0]);
  const names = await readdir(dir);
  assert.deepEqual(
    names.filter((n) => n.endsWith(".tmp")),
    [],
    "no temporary file left",
  );
  assert.equal((await entries(dir)).length, 3);
  const { model, x, seed, grad } = await fixture();
  const backend = countingBackend(dir);
  const s = await GradientSession.create(backend, model, { x }, { wrt: ["x"] });
  assert.equal(s.cacheHit, true);
  assert.ok(relL2(await gradientOf(s, x, seed), grad) < 1e-4);
  await s.dispose();
});

test("eviction keeps the folder under its bound, least recently used first", async () => {
  const dir = await tempDir();
  const cache = diskGradientCache({ dir, maxBytes: 2500 });
  const keys = ["a", "b", "c", "d"].map((k) => cache.key([k]));
  const total = async () => {
    let sum = 0;
    for (const n of await entries(dir)) sum += (await stat(join(dir, n))).size;
    return sum;
  };
  const t0 = Date.now() / 1000 - 100;
  for (const [i, k] of keys.slice(0, 2).entries()) {
    await cache.put(k, new Uint8Array(1000).fill(i));
    await utimes(join(dir, `${k}.plgc`), t0 + i, t0 + i);
  }
  assert.equal(await total(), 2000);
  assert.ok(await cache.get(keys[0]!), "reading a touches it: now the most recent");
  await cache.put(keys[2]!, new Uint8Array(1000).fill(2));
  assert.ok((await total()) <= 2500);
  assert.equal(await cache.get(keys[1]!), undefined, "the least recently used entry was evicted");
  assert.deepEqual(await cache.get(keys[0]!), new Uint8Array(1000).fill(0));
  assert.deepEqual(await cache.get(keys[2]!), new Uint8Array(1000).fill(2));
  await cache.put(keys[3]!, new Uint8Array(3000));
  assert.ok((await total()) <= 2500, "an entry above the bound is not kept either");
});

test("the folder and the switch come from the environment; under the test runner it is off unless asked", () => {
  assert.equal(defaultCacheDir({ PATHLENS_CACHE_DIR: "/a", XDG_CACHE_HOME: "/b" }), "/a");
  assert.equal(defaultCacheDir({ XDG_CACHE_HOME: "/b" }), join("/b", "pathlens"));
  assert.match(defaultCacheDir({}), /\.cache[/\\]pathlens$/);
  assert.equal(gradientCacheFromEnv({ PATHLENS_CACHE: "0" }), undefined);
  assert.equal(gradientCacheFromEnv({ NODE_TEST_CONTEXT: "child-v8" }), undefined);
  assert.ok(gradientCacheFromEnv({ NODE_TEST_CONTEXT: "child-v8", PATHLENS_CACHE: "1" }));
  assert.ok(gradientCacheFromEnv({}));
  assert.equal(nodeBackend().gradientCache, undefined, "this test file runs under node --test");
});

test("a key that is not a digest is refused (no path outside the folder)", async () => {
  await assert.rejects(diskGradientCache({ dir: "/x" }).get("../etc/passwd"), CacheKeyError);
});

test("the CLI fills $PATHLENS_CACHE_DIR, and --no-cache leaves it empty", async () => {
  const model = fixturePath("models/tabular_mlp.onnx");
  const input = fixturePath("grads/tabular_mlp_input.npy");
  const seed = fixturePath("grads/tabular_mlp_seed.npy");
  const [cacheDir, out] = [await tempDir(), await tempDir()];
  const args = (o: string) => [
    "gradient",
    model,
    "--input",
    `input=${input}`,
    "--wrt",
    "input",
    "--seed",
    seed,
    "--out",
    o,
  ];
  const env = { PATHLENS_CACHE: "1", PATHLENS_CACHE_DIR: cacheDir };
  const r1 = await runCli(args(join(out, "1")), env);
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal((await entries(cacheDir)).length, 3);
  const r2 = await runCli(args(join(out, "2")), env);
  assert.equal(r2.code, 0, r2.stderr);
  assert.deepEqual(
    await readFile(join(out, "2", "gradient.npy")),
    await readFile(join(out, "1", "gradient.npy")),
  );
  const empty = await tempDir();
  const r3 = await runCli(["--no-cache", ...args(join(out, "3"))], { ...env, PATHLENS_CACHE_DIR: empty });
  assert.equal(r3.code, 0, r3.stderr);
  assert.deepEqual(await readdir(empty), []);
  assert.deepEqual(
    await readFile(join(out, "3", "gradient.npy")),
    await readFile(join(out, "1", "gradient.npy")),
  );
});

test("the key hashes large initializers in place: equal bytes give the key, one changed byte another", async () => {
  const cache = diskGradientCache({ dir: await tempDir() });
  const withWeight = (raw: Uint8Array) => {
    const m = decodeModel(new Uint8Array(readFileSync(join(FIXTURES, "cnn.onnx"))));
    const w = m.graph!.initializer[0]!;
    Object.assign(w, { rawData: raw, floatData: [] });
    return cache.key(modelKeyParts(m));
  };
  const raw = Uint8Array.from({ length: 16384 }, (_, i) => (i * 7) & 255);
  const flipped = raw.slice();
  flipped[9000]! ^= 1;
  assert.equal(withWeight(raw), withWeight(raw.slice()));
  assert.notEqual(withWeight(raw), withWeight(flipped));
  assert.notEqual(withWeight(raw), withWeight(raw.subarray(0, 8192)));
});

test("cached sessions keep the values they were folded on (int64) and their HVP graph", async () => {
  const backend = countingBackend(await tempDir());
  const x = float64([2, 3], [1, -2, 0.5, 3, 1.5, -1]);
  const ones = float64([2, 3], [1, 1, 1, 1, 1, 1]);
  const w = [1, 2, 3];
  for (const [k, m] of [1, 0, 1, 0].entries()) {
    const mode = int64([], [m]);
    const s = await GradientSession.create(backend, modeModel(), { x, mode }, { wrt: ["x"], hvp: true });
    assert.equal(s.cacheHit, k >= 2, `create ${k}`);
    const r = await s.run({ x, mode }, { y: ones }, { x: ones });
    // closed forms: mode 1: ∂y/∂x = 2xw, Hv = 2w·v; mode 0: ∂y/∂x = −w, Hv = 0
    const grad = Array.from(x.data, (xi, i) => (m === 1 ? 2 * xi * w[i % 3]! : -w[i % 3]!));
    const hvp = Array.from(x.data, (_, i) => (m === 1 ? 2 * w[i % 3]! : 0));
    assert.deepEqual(Array.from(r.gradients.x!.data as Float64Array), grad, `gradient, mode ${m}`);
    assert.deepEqual(
      Array.from(r.hvp!.x!.data as Float64Array, (v) => v + 0),
      hvp,
      `HVP, mode ${m}`,
    );
    await assert.rejects(
      () => s.run({ x, mode: int64([], [1 - m]) }, { y: ones }, { x: ones }),
      (e: Error) => e.name === "FoldedInputChangedError",
    );
    await s.dispose();
  }
});

test("explain's summary.json reports the start-up and whether the cache served it", async () => {
  const [cacheDir, out] = [await tempDir(), await tempDir()];
  const env = { PATHLENS_CACHE: "1", PATHLENS_CACHE_DIR: cacheDir };
  const summaries: { startupSeconds: number; cacheHit: boolean; seconds: number }[] = [];
  for (const run of ["1", "2"]) {
    const args = ["explain", fixturePath("models/softplus_mlp.onnx"), "--input"];
    args.push(
      fixturePath("refs/softplus_mlp_ih_zero_input.npy"),
      "--steps",
      "8",
      "--quiet",
      "--out",
      join(out, run),
    );
    const r = await runCli(args, env);
    assert.equal(r.code, 0, r.stderr);
    summaries.push(JSON.parse(await readFile(join(out, run, "summary.json"), "utf8")));
  }
  assert.deepEqual(
    summaries.map((s) => s.cacheHit),
    [false, true],
  );
  for (const s of summaries) assert.ok(s.startupSeconds > 0 && s.startupSeconds < s.seconds);
});

test("a malformed model fails create() with the checker's typed error before onnxruntime sees it, cold or cached", async () => {
  const dir = await tempDir();
  const backend = countingBackend(dir);
  const broken = makeModel({
    opset: 13,
    inputs: [{ name: "x", dtype: "float64", dims: ["N", 3] }],
    outputs: [{ name: "y", dtype: "float64" }],
    nodes: [{ op: "Mul", inputs: ["x", "nowhere"], outputs: ["y"] }],
  });
  const x = float64([2, 3], [1, 2, 3, 4, 5, 6]);
  for (let k = 0; k < 2; k++) {
    await assert.rejects(
      () => GradientSession.create(backend, broken, { x }, { wrt: ["x"] }),
      (e: Error) => e instanceof ModelStructureError && /nowhere/.test(e.message),
    );
    assert.equal(backend.sessions, 0, "no session was created");
  }
  assert.deepEqual(await readdir(dir), [], "nothing cached");
});
