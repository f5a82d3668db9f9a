/**
 * The README's first library example runs as written (against the built package, through its
 * `pathlens/node` export), so the documentation cannot drift from the API.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

test("README: the Integrated Gradients library example runs and prints completeness deltas", {
  skip: !existsSync(join(ROOT, "dist", "node.js")) && "dist/ not built (npm test builds it)",
}, () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const block = /```ts\n(import \{ integratedGradients[^`]*?)```/.exec(readme)?.[1];
  assert.ok(block, "the README has the integratedGradients example");
  mkdirSync(join(ROOT, "out"), { recursive: true });
  const script = join(ROOT, "out", "readme-example.mjs");
  writeFileSync(
    script,
    `${block}\nconsole.log(JSON.stringify({ dims: r.attributions.input.dims, delta: Array.from(r.delta) }));\n`,
  );
  const run = spawnSync(process.execPath, [script], { cwd: ROOT, encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout.trim().split("\n").pop()!);
  assert.deepEqual(out.dims, [12, 1, 8, 8]);
  assert.ok(
    out.delta.every((d: number) => Math.abs(d) < 0.5),
    "50-step deltas are small",
  );
});
