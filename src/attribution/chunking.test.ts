/**
 * Chunk sizes: an explicit size is kept, the adaptive plan never exceeds the memory budget's rows
 * and settles on the fastest size of a (synthetic, deterministic) cost curve, and attributions
 * are the same whatever the chunking (IG on the digits CNN: attributions and deltas bit for bit).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Backend, Session } from "../runtime/backend.js";
import { GradientSession } from "../runtime/gradient-session.js";
import { nodeBackend } from "../runtime/node.js";
import type { Tensor } from "../tensor/tensor.js";
import { readModelFixture, readNpyFixture } from "../testing/fixtures.js";
import { autoChunkRows, ChunkPlan } from "./chunking.js";
import { OptionError } from "./errors.js";
import { integratedGradients } from "./ig.js";

/** Runs `points` through a plan with run time `seconds(rows)`; returns the sizes of the runs. */
function drive(plan: ChunkPlan, points: number, seconds: (rows: number) => number): number[] {
  const sizes: number[] = [];
  for (let left = points; left > 0; ) {
    const rows = plan.next(left);
    assert.ok(rows >= 1 && rows <= left);
    plan.record(rows, seconds(rows));
    sizes.push(rows);
    left -= rows;
  }
  return sizes;
}

/** 0.1 ms per run plus a per-row cost that grows away from 64 rows (a cache-size effect): fastest at 64. */
const curve = (rows: number) => 1e-4 + rows * 1e-5 * (1 + Math.abs(Math.log2(rows / 64)) * 0.2);

test("a fixed plan always runs its size (the last run takes what is left)", () => {
  const sizes = drive(ChunkPlan.fixed(7), 30, curve);
  assert.deepEqual(sizes, [7, 7, 7, 7, 2]);
  assert.equal(ChunkPlan.fixed(7).chosen, 7);
  assert.match(ChunkPlan.fixed(7).describe(), /7 rows per run \(fixed\)/);
  assert.throws(() => ChunkPlan.fixed(0), OptionError);
  assert.throws(() => ChunkPlan.fixed(2.5), OptionError);
});

test("the adaptive plan finds the fastest size of the cost curve and says so", () => {
  const plan = ChunkPlan.adaptive(2048);
  const sizes = drive(plan, 20000, curve);
  assert.equal(plan.chosen, 64);
  assert.ok(Math.max(...sizes) <= 256, "two doublings past the fastest, no further");
  // after the trials, the rest runs in balanced chunks: sizes differ by at most one
  const tail = sizes.slice(-100);
  assert.ok(Math.max(...tail) - Math.min(...tail) <= 1 && tail.every((s) => s >= 63 && s <= 64));
  assert.equal(
    sizes.reduce((a, b) => a + b, 0),
    20000,
  );
  assert.match(
    plan.describe(),
    /^64 rows per run, the fastest measured within the memory budget's 2048 \(8: /,
  );
});

test("the adaptive plan never exceeds the memory budget's rows", () => {
  for (const cap of [1, 3, 8, 9, 40]) {
    const plan = ChunkPlan.adaptive(cap);
    const sizes = drive(plan, 5000, (rows) => 1e-3 + rows * 1e-6); // bigger is always faster per row here
    assert.ok(Math.max(...sizes) <= cap, `cap ${cap}: ${Math.max(...sizes)}`);
    assert.equal(plan.chosen, cap, `cap ${cap}`);
  }
  // a plan shared by calls with few points each (guided IG) keeps what it learned, and tries
  // only sizes those calls fill
  const shared = ChunkPlan.adaptive(1024);
  for (let call = 0; call < 200; call++) assert.ok(Math.max(...drive(shared, 37, curve)) <= 32);
  assert.equal(shared.chosen, 32);
  for (let call = 0; call < 20; call++) drive(shared, 1000, curve);
  assert.equal(shared.chosen, 64, "a later call with more points goes on trying");
});

/** A backend that records the batch size of every gradient run. */
function recording(): Backend & { rows: number[] } {
  const inner = nodeBackend({ gradientCache: false });
  const b = {
    ...inner,
    rows: [] as number[],
    async createSession(model: Uint8Array | string, options?: Parameters<Backend["createSession"]>[1]) {
      const s = await inner.createSession(model, options);
      const wrapped: Session = {
        inputNames: s.inputNames,
        outputNames: s.outputNames,
        run: (feeds: Record<string, Tensor>, fetches?: readonly string[]) => {
          // gradient runs only (the input and a seed), not the shape probe
          if (feeds.input && Object.keys(feeds).length > 1) b.rows.push(feeds.input.dims[0]!);
          return s.run(feeds, fetches);
        },
        dispose: () => s.dispose(),
      };
      return wrapped;
    },
  };
  return b;
}

test("IG attributions are the same whatever the chunking; explicit sizes and the budget are kept", async () => {
  const model = readModelFixture("models/digits_cnn.onnx");
  const all = readNpyFixture("models/digits_X_test.npy");
  const rows = 24;
  const row = all.data.length / all.dims[0]!;
  const input = { ...all, dims: [rows, ...all.dims.slice(1)], data: all.data.slice(0, rows * row) } as Tensor;
  const run = async (chunk: { chunkSize?: number; memoryBudget?: number }) => {
    const backend = recording();
    const r = await integratedGradients(model, {
      backend,
      inputs: { input },
      target: 5,
      steps: 20,
      ...chunk,
    });
    return { r, rows: backend.rows };
  };
  const adaptive = await run({});
  const reference = adaptive.r.attributions.input!.data as Float64Array;
  for (const chunkSize of [1, 7, 480]) {
    const fixed = await run({ chunkSize });
    assert.equal(fixed.r.chunkSize, chunkSize);
    assert.match(fixed.r.chunking ?? "", /fixed/);
    assert.ok(
      fixed.rows.every((n) => n <= chunkSize),
      `runs of ${chunkSize} rows at most`,
    );
    assert.deepEqual(fixed.r.attributions.input!.data, reference, `chunk size ${chunkSize}`);
    assert.deepEqual(fixed.r.delta, adaptive.r.delta);
  }
  // a budget that allows a few rows per run: no run is larger, and the result is the same
  const session = await GradientSession.create(
    nodeBackend({ gradientCache: false }),
    model,
    { input },
    {
      wrt: ["input"],
    },
  );
  let budget = 1024;
  while (autoChunkRows(session.shapes, budget) < 5) budget *= 1.25;
  const cap = autoChunkRows(session.shapes, budget);
  await session.dispose();
  assert.ok(cap >= 5 && cap < 8);
  const tight = await run({ memoryBudget: budget });
  assert.ok(Math.max(...tight.rows) <= cap, `largest run ${Math.max(...tight.rows)} > ${cap}`);
  assert.ok(tight.r.chunkSize <= cap);
  assert.deepEqual(tight.r.attributions.input!.data, reference);
});
