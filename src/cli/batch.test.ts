/**
 * `pathlens batch` / `worker` command lines: explain's options are accepted as they are; what does
 * not apply to a dataset job, and a bad queue URL, are clear errors.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli } from "../testing/cli.js";
import { parseCommand } from "./args.js";
import { batchCommand, batchSpec } from "./batch.js";
import { explainCommand } from "./explain.js";

const parse = (argv: string[]) => {
  const r = parseCommand(batchCommand, argv);
  assert.ok(!r.help);
  return r.args;
};

test("batch takes every option of explain (but --report) and turns them into job settings", async () => {
  for (const name of Object.keys(explainCommand.options))
    if (name !== "report" && name !== "batch-axis") assert.ok(name in batchCommand.options, `--${name}`);
  const spec = await batchSpec(
    parse([
      "m.onnx",
      "--input",
      "x=rows.npy",
      "--noise-tunnel",
      "smoothgrad",
      "--samples",
      "3",
      "--stdev",
      "0.1",
      "--steps",
      "auto",
      "--baseline",
      "0.5",
      "--target",
      "2",
      "--memory-budget",
      "64",
      "--shard-rows",
      "10",
      "--out",
      "o",
    ]),
  );
  assert.deepEqual(spec.input, { name: "x", path: "rows.npy" });
  assert.equal(spec.shardRows, 10);
  assert.deepEqual(JSON.parse(JSON.stringify(spec.method)), {
    steps: "auto",
    noiseTunnel: "smoothgrad",
    samples: 3,
    stdev: 0.1,
    target: 2,
    baseline: 0.5,
    memoryBudget: 64 * 2 ** 20,
  });
  await assert.rejects(
    batchSpec(parse(["m.onnx", "--input", "a.npy", "--method", "integrated_hessians", "--out", "o"])),
    { name: "UsageError", message: /not a per-row attribution/ },
  );
  assert.throws(
    () => parseCommand(batchCommand, ["m.onnx", "--input", "a.npy", "--input", "b.npy", "--out", "o"]),
    { name: "UsageError", message: /--input may be given only once/ },
  );
  await assert.rejects(batchSpec(parse(["m.onnx", "--input", "a.npy", "--steps", "0", "--out", "o"])), {
    name: "UsageError",
    message: /--steps/,
  });
  await assert.rejects(batchSpec(parse(["m.onnx", "--input", "a.npy", "--shard-rows", "0", "--out", "o"])), {
    name: "UsageError",
    message: /--shard-rows/,
  });
});

test("a queue URL that is not redis:// is one clear line and exit code 1", async () => {
  const r = await runCli(["worker", "--queue", "http://127.0.0.1:1"]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^pathlens: --queue http:\/\/127\.0\.0\.1:1: expected redis:\/\/HOST:PORT\[\/DB\]\n$/,
  );
});
