/**
 * `pathlens check` and the issue 12 regression cases run through the real CLI: malformed and
 * unsupported models, non-regular files, bad PNG data, bad JSON, an empty --layer.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { deflateSync } from "node:zlib";
import { decompositionFor } from "../autodiff/decompose.js";
import { checkModel } from "../autodiff/op-support.js";
import { NON_DIFFERENTIABLE, ruleFor } from "../autodiff/registry.js";
import { encodeNpy } from "../io/npy-format.js";
import { decodeModel, encodeModel } from "../onnx/codec.js";
import { makeNode, makeValueInfo } from "../onnx/model.js";
import type { ModelProto } from "../onnx/types.js";
import { float32 } from "../tensor/tensor.js";
import { type CliRun, ROOT, runCli } from "../testing/cli.js";
import { pngChunk, pngFile, pngHeader } from "../testing/png-bytes.js";

const CNN = join(ROOT, "examples/digits/digits_cnn.onnx");

/** Exit 1 with one line on stderr containing every fragment. */
function failsWith(r: CliRun, code: number, ...fragments: string[]): void {
  assert.equal(r.code, code, `exit ${r.code}: ${r.stderr}`);
  const first = r.stderr.split("\n")[0]!;
  if (code === 1) assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  for (const f of fragments) assert.ok(first.includes(f), `"${first}" lacks "${f}"`);
}

/** An op with neither a rule, nor a decomposition, nor "no gradient by nature" (queried, not listed). */
function opWithoutGradient(): string {
  const op = ["Det", "TopK", "Unique", "Mod", "BitShift", "CumSum"].find(
    (o) => !ruleFor(o) && !decompositionFor(o) && !NON_DIFFERENTIABLE.has(o),
  );
  assert.ok(op, "every candidate op gained a gradient; pick another for this test");
  return op;
}

function chainModel(opType: string): ModelProto {
  return {
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    metadataProps: [],
    trainingInfo: [],
    functions: [],
    graph: {
      node: [makeNode("Relu", ["x"], ["h"], "relu"), makeNode(opType, ["h"], ["y"], "the_op")],
      name: "g",
      initializer: [],
      sparseInitializer: [],
      input: [makeValueInfo("x", 1, [2, 2])],
      output: [makeValueInfo("y", 1)],
      valueInfo: [],
      quantizationAnnotation: [],
      metadataProps: [],
    },
  };
}

test("checkModel lists every op with its support and finds nothing wrong in the digits CNN", async () => {
  const r = checkModel(decodeModel(new Uint8Array(await readFile(CNN))));
  assert.ok(r.ok);
  assert.deepEqual(
    r.ops.map((o) => [o.opType, o.support]),
    [
      ["Conv", "rule"],
      ["Relu", "rule"],
      ["Flatten", "rule"],
      ["Gemm", "rule"],
    ],
  );
  const op = opWithoutGradient();
  const bad = checkModel(chainModel(op));
  assert.deepEqual(
    bad.missing.map((o) => [o.opType, o.nodes[0], o.opset]),
    [[op, "the_op", 17]],
  );
});

test("checkModel is linear in the node count (a chain of Identity nodes, 20k vs 80k)", () => {
  const timeFor = (n: number) => {
    const m = chainModel("Identity");
    m.graph!.node = Array.from({ length: n }, (_, k) =>
      makeNode("Identity", [k ? `t${k - 1}` : "x"], [k === n - 1 ? "y" : `t${k}`], `n${k}`),
    );
    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      const report = checkModel(m);
      best = Math.min(best, performance.now() - t0);
      assert.ok(report.ok);
      assert.equal(report.ops[0]!.count, n);
    }
    return best;
  };
  const small = timeFor(20_000);
  const large = timeFor(80_000);
  // Linear: about 4×; quadratic: 16×. Best of three runs each, as the machine may be busy.
  assert.ok(large / small < 10, `20k nodes ${small.toFixed(0)} ms, 80k nodes ${large.toFixed(0)} ms`);
});

test("CLI: check, unsupported and malformed models, non-regular files, bad PNG, bad JSON, empty --layer", async () => {
  const dir = await mkdtemp(join(tmpdir(), "pathlens-check-"));
  try {
    const op = opWithoutGradient();
    await writeFile(join(dir, "unsupported.onnx"), encodeModel(chainModel(op)));
    const short = decodeModel(new Uint8Array(await readFile(CNN)));
    const w = short.graph!.initializer[0]!;
    w.rawData = w.rawData!.subarray(4);
    await writeFile(join(dir, "short.onnx"), encodeModel(short));
    const fifo = join(dir, "fifo.onnx");
    execFileSync("mkfifo", [fifo]);
    const raw = new Uint8Array((8 * 4 + 1) * 8);
    await writeFile(
      join(dir, "truncated.png"),
      pngFile(
        pngChunk("IHDR", pngHeader(8, 8)),
        pngChunk("IDAT", deflateSync(raw).subarray(0, 12)),
        pngChunk("IEND", new Uint8Array(0)),
      ),
    );
    await writeFile(join(dir, "pre.json"), '{\n  "scale": 1,\n  oops\n}');
    const nanInput = new Float32Array(64).fill(0.5);
    nanInput[5] = Number.NaN;
    await writeFile(join(dir, "nan.npy"), encodeNpy(float32([1, 1, 8, 8], nanInput)));
    await writeFile(join(dir, "seed.npy"), encodeNpy(float32([1, 10], new Array(10).fill(1))));
    const x = join(ROOT, "examples/digits/digits_sample.npy");
    const out = join(dir, "out");
    const [ok, unsupported, malformed, explainUnsupported, zero, pipe, folder, png, json, layer, nanGrad] =
      await Promise.all([
        runCli(["check", CNN]),
        runCli(["check", join(dir, "unsupported.onnx")]),
        runCli(["check", join(dir, "short.onnx")]),
        runCli(["explain", join(dir, "unsupported.onnx"), "--input", x, "--out", out]),
        runCli(["explain", "/dev/zero", "--input", x, "--out", out]),
        runCli(["explain", fifo, "--input", x, "--out", out]),
        runCli(["explain", CNN, "--input", dir, "--out", out]),
        runCli([
          "image",
          join(ROOT, "examples/image-shapes/model.onnx"),
          join(dir, "truncated.png"),
          "--out",
          out,
        ]),
        runCli([
          "image",
          join(ROOT, "examples/image-shapes/model.onnx"),
          join(ROOT, "examples/image-shapes/circle.png"),
          "--preprocess",
          join(dir, "pre.json"),
          "--out",
          out,
        ]),
        runCli(["explain", CNN, "--input", x, "--layer", "", "--out", out]),
        runCli([
          "gradient",
          CNN,
          "--input",
          `input=${join(dir, "nan.npy")}`,
          "--wrt",
          "input",
          "--cotangent",
          join(dir, "seed.npy"),
          "--out",
          out,
        ]),
      ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^Conv\s+14\s+2\s+rule$/m);
    failsWith(unsupported, 1, `cannot differentiate ${op}`);
    assert.match(unsupported.stdout, new RegExp(`^${op}\\s+17\\s+1\\s+missing \\*$`, "m"));
    failsWith(malformed, 1, "1 problem");
    assert.match(
      malformed.stdout,
      /problem \(tensor\): initializer ".*" \(float, .*\) has \d+ bytes of raw_data, its dims need \d+/,
    );
    failsWith(explainUnsupported, 1, `pathlens cannot differentiate 1 op: ${op} (opset 17, node "the_op")`);
    failsWith(zero, 1, "/dev/zero: is a device, not a regular file");
    failsWith(pipe, 1, "is a FIFO (named pipe), not a regular file");
    failsWith(folder, 1, "is a directory, not a regular file");
    failsWith(png, 1, "truncated.png: cannot decode the PNG data");
    failsWith(json, 1, "pre.json: not valid JSON at line 3");
    failsWith(layer, 2, "--layer needs a tensor name");
    failsWith(nanGrad, 1, '--input "input" contains NaN at element 5');
    assert.equal(existsSync(out), false, "no output folder after failed runs");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
