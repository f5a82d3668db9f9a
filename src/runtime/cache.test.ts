import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeModel } from "../onnx/codec.js";
import { makeModel } from "../onnx/make.js";
import { float32 } from "../tensor/tensor.js";
import type { Backend, Session } from "./backend.js";
import { cachedBackend } from "./cache.js";
import { nodeBackend } from "./node.js";

/** Counts the sessions the wrapped backend really creates and disposes. */
function counting(inner: Backend) {
  const stats = { created: 0, disposed: 0 };
  const backend: Backend = {
    name: inner.name,
    async createSession(bytes, opts) {
      stats.created++;
      const s = await inner.createSession(bytes, opts);
      return {
        ...s,
        run: s.run.bind(s),
        dispose: async () => {
          stats.disposed++;
          await s.dispose();
        },
      } as Session;
    },
  };
  return { backend, stats };
}

const model = (k: number) =>
  encodeModel(
    makeModel({
      inputs: [{ name: "x", dtype: "float32" }],
      outputs: [{ name: "y", dtype: "float32" }],
      initializers: { k: float32([], [k]) },
      nodes: [{ op: "Mul", inputs: ["x", "k"], outputs: ["y"] }],
    }),
  );

test("the session cache reuses sessions for equal bytes and options, and evicts idle ones", async () => {
  const { backend, stats } = counting(nodeBackend());
  const cache = cachedBackend(backend, { maxIdle: 1 });
  const a = await cache.createSession(model(2));
  const b = await cache.createSession(model(2));
  assert.equal(stats.created, 1);
  const y = await b.run({ x: float32([2], [1, 3]) });
  assert.deepEqual(Array.from(y.y!.data as Float32Array), [2, 6]);
  await cache.createSession(model(2), { optimization: "disabled" }).then((s) => s.dispose());
  assert.equal(stats.created, 2, "other options load another session");
  const c = await cache.createSession(model(3));
  assert.deepEqual(Array.from((await c.run({ x: float32([1], [1]) })).y!.data as Float32Array), [3]);
  assert.equal(stats.created, 3);
  await a.dispose();
  await b.dispose();
  await c.dispose();
  assert.equal(stats.disposed, 2, "only one idle session is kept");
  await cache.clear();
  assert.equal(stats.disposed, 3);
});
