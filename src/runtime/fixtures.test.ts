/**
 * Gradients and Hessian-vector products against PyTorch autograd (test/fixtures/grads), through
 * the library (GradientSession) and through the CLI. Cases whose files are absent (resnet18, kept
 * for benchmarks) are skipped.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { readNpy } from "../io/npy.js";
import { relativeL2, type Tensor, toFloat64 } from "../tensor/tensor.js";
import { fixturePath, readJsonFixture, readModelFixture, readNpyFixture } from "../testing/fixtures.js";
import { GradientSession } from "./gradient-session.js";
import { nodeBackend } from "./node.js";

interface FileRef {
  file: string;
  dtype: string;
  shape: number[];
}
interface Case {
  id: string;
  model: string;
  input_name: string;
  output_name: string;
  input: FileRef;
  seed: FileRef;
  output: FileRef;
  grad: FileRef;
  v?: FileRef;
  hvp?: FileRef;
  extra_input_name?: string;
  extra_input?: FileRef;
}

const manifest = readJsonFixture<{ cases: Case[] }>("grads/manifest.json");
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const grads = (f: FileRef) => `grads/${f.file}`;
const tolerance = (c: Case) => (c.id === "resnet18" ? 1e-2 : 1e-5);

function present(c: Case): boolean {
  const files = [c.input, c.seed, c.output, c.grad, c.v, c.hvp, c.extra_input].filter(
    (f): f is FileRef => !!f,
  );
  return existsSync(fixturePath(c.model)) && files.every((f) => existsSync(fixturePath(grads(f))));
}

function close(name: string, actual: Tensor, ref: FileRef, tol: number): void {
  const expected = readNpyFixture(`grads/${ref.file}`);
  assert.deepEqual(actual.dims, ref.shape, `${name}: shape`);
  assert.deepEqual(expected.dims, ref.shape, `${name}: reference shape`);
  const err = relativeL2(toFloat64(actual), toFloat64(expected));
  assert.ok(err <= tol, `${name}: relative L2 ${err.toExponential(3)} > ${tol}`);
}

function feedsOf(c: Case): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = { [c.input_name]: readNpyFixture(grads(c.input)) };
  if (c.extra_input_name && c.extra_input) feeds[c.extra_input_name] = readNpyFixture(grads(c.extra_input));
  return feeds;
}

test("the manifest lists the expected cases", () => {
  assert.deepEqual(
    manifest.cases.map((c) => c.id),
    ["tabular_mlp", "digits_cnn", "digits_ae_decoder", "softplus_mlp", "tiny_bert_emb2logits", "resnet18"],
  );
});

for (const c of manifest.cases) {
  const skip = present(c) ? false : `files of ${c.id} are not in test/fixtures (benchmark case)`;
  test(`library: ${c.id} gradient${c.hvp ? " and hvp" : ""} match PyTorch`, { skip }, async () => {
    const model = readModelFixture(c.model);
    const feeds = feedsOf(c);
    const session = await GradientSession.create(nodeBackend(), model, feeds, {
      wrt: [c.input_name],
      outputs: [c.output_name],
      hvp: !!c.hvp,
    });
    try {
      const v = c.v ? { [c.input_name]: readNpyFixture(grads(c.v)) } : undefined;
      const r = await session.run(feeds, { [c.output_name]: readNpyFixture(grads(c.seed)) }, v);
      const tol = tolerance(c);
      close(`${c.id} output`, r.outputs[c.output_name]!, c.output, tol);
      close(`${c.id} gradient`, r.gradients[c.input_name]!, c.grad, tol);
      assert.equal(r.gradients[c.input_name]!.dtype, "float32");
      if (c.hvp) close(`${c.id} hvp`, r.hvp![c.input_name]!, c.hvp, tol);
    } finally {
      await session.dispose();
    }
  });
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { cwd: ROOT });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

for (const id of ["tabular_mlp", "tiny_bert_emb2logits", "softplus_mlp"]) {
  const c = manifest.cases.find((x) => x.id === id)!;
  test(`CLI: ${id} gradient${c.hvp ? " and hvp" : ""} match PyTorch`, async () => {
    const out = await mkdtemp(join(tmpdir(), `pathlens-cli-${id}-`));
    try {
      const args = [
        "gradient",
        fixturePath(c.model),
        "--input",
        `${c.input_name}=${fixturePath(grads(c.input))}`,
      ];
      if (c.extra_input_name)
        args.push("--input", `${c.extra_input_name}=${fixturePath(grads(c.extra_input!))}`);
      args.push("--wrt", c.input_name, "--cotangent", fixturePath(grads(c.seed)), "--out", out);
      if (c.v) args.push("--hvp", fixturePath(grads(c.v)));
      const r = await runCli(args);
      assert.equal(r.code, 0, r.stderr);
      close(`${id} gradient (CLI)`, await readNpy(join(out, "gradient.npy")), c.grad, tolerance(c));
      if (c.hvp) close(`${id} hvp (CLI)`, await readNpy(join(out, "hvp.npy")), c.hvp, tolerance(c));
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
}
