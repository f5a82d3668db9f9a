/**
 * Chunk sizes: an explicit size is kept, the throughput model's choice (closed-form cases) never
 * exceeds the memory budget's rows and balances the runs, and attributions are the same whatever
 * the chunking (IG on the digits CNN: attributions and deltas bit for bit).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ShapeInfo } from "../autodiff/builder.js";
import type { Backend, Session } from "../runtime/backend.js";
import { GradientSession } from "../runtime/gradient-session.js";
import { nodeBackend } from "../runtime/node.js";
import type { Tensor } from "../tensor/tensor.js";
import { readModelFixture, readNpyFixture } from "../testing/fixtures.js";
import { autoChunkRows, ChunkPlan, chunkRowBytes } from "./chunking.js";
import { OptionError } from "./errors.js";
import { integratedGradients } from "./ig.js";

/** Runs `points` through a plan; returns the sizes of the runs. */
function drive(plan: ChunkPlan, points: number): number[] {
  const sizes: number[] = [];
  for (let left = points; left > 0; ) {
    const rows = plan.next(left);
    assert.ok(rows >= 1 && rows <= left);
    sizes.push(rows);
    left -= rows;
  }
  return sizes;
}

/** Shapes of a probe at batch 4 whose batch tensors hold `floatsPerRow` float32 values per row. */
function shapesOf(floatsPerRow: number): ShapeInfo {
  return new Map([
    ["x", { dtype: "float32", dims: [4, floatsPerRow / 2] }],
    ["h", { dtype: "float32", dims: [4, floatsPerRow / 2] }],
    ["w", { dtype: "float32", dims: [3, 3] }],
  ]) as ShapeInfo;
}

test("a fixed plan always runs its size (the last run takes what is left)", () => {
  assert.deepEqual(drive(ChunkPlan.fixed(7), 30), [7, 7, 7, 7, 2]);
  assert.equal(ChunkPlan.fixed(7).chosen, 7);
  assert.match(ChunkPlan.fixed(7).describe(), /^7 rows per run \(fixed\)$/);
  assert.throws(() => ChunkPlan.fixed(0), OptionError);
  assert.throws(() => ChunkPlan.fixed(2.5), OptionError);
});

test("the model plan aims at 2 MiB runs, at least 8 rows, never past the memory budget", () => {
  // 1024 floats per row: 2.5 × 4 KiB = 10 KiB per row → ⌊2 MiB / 10 KiB⌋ = 204 rows
  const small = ChunkPlan.forShapes(shapesOf(1024));
  assert.equal(small.chosen, 204);
  assert.match(small.describe(), /^204 rows per run \(10 KiB of tensors per row; runs of about 2 MiB/);
  // 1 Mi floats per row (10 MiB): the floor of 8 rows
  assert.equal(ChunkPlan.forShapes(shapesOf(2 ** 20)).chosen, 8);
  // a budget for 5 such rows: 5, and it says the budget decided
  const tight = ChunkPlan.forShapes(shapesOf(2 ** 20), 5.5 * 10 * 2 ** 20);
  assert.equal(tight.chosen, 5);
  assert.equal(tight.cap, 5);
  assert.match(tight.describe(), /memory budget's most/);
  assert.equal(ChunkPlan.forShapes(shapesOf(1024), undefined, 1).chosen, 1, "a fixed batch of 1");
  assert.throws(() => ChunkPlan.forShapes(shapesOf(1024), undefined, 4), OptionError);
});

test("a model plan balances the runs of a call: sizes differ by at most one", () => {
  const plan = ChunkPlan.forShapes(shapesOf(2 ** 20), 9.5 * 10 * 2 ** 20); // 9 rows at most
  const sizes = drive(plan, 200);
  assert.equal(plan.chosen, 8);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1 && Math.max(...sizes) <= 8);
  assert.equal(
    sizes.reduce((a, b) => a + b, 0),
    200,
  );
  assert.deepEqual(drive(plan, 17), [6, 6, 5], "no small remainder run");
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
  // from one row's bytes up (a budget below one row is refused by the memory check)
  let budget = chunkRowBytes(session.shapes);
  while (autoChunkRows(session.shapes, budget) < 5) budget *= 1.25;
  const cap = autoChunkRows(session.shapes, budget);
  await session.dispose();
  assert.ok(cap >= 5 && cap < 8);
  const tight = await run({ memoryBudget: budget });
  assert.ok(Math.max(...tight.rows) <= cap, `largest run ${Math.max(...tight.rows)} > ${cap}`);
  assert.ok(tight.r.chunkSize <= cap);
  assert.deepEqual(tight.r.attributions.input!.data, reference);
});
