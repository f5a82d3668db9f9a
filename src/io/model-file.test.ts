import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { decodeModel, encodeModel, ModelDecodeError } from "../onnx/codec.js";
import { makeModel } from "../onnx/make.js";
import type { ModelProto } from "../onnx/types.js";
import { nodeBackend } from "../runtime/node.js";
import { float32 } from "../tensor/tensor.js";
import { fixturePath } from "../testing/fixtures.js";
import { loadModel, ModelFileError, saveModel, UnsafeExternalDataError } from "./model-file.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pathlens-model-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

// y = x · W + b with W = [[1, 2, 3], [4, 5, 6]], b = [0.5, -0.5, 1]
const W = [1, 2, 3, 4, 5, 6];
function linearModel(): ModelProto {
  return makeModel({
    inputs: [{ name: "x", dtype: "float32", dims: ["N", 2] }],
    outputs: [{ name: "y", dtype: "float32", dims: ["N", 3] }],
    initializers: { W: float32([2, 3], W), b: float32([3], [0.5, -0.5, 1]) },
    nodes: [
      { op: "MatMul", inputs: ["x", "W"], outputs: ["xw"] },
      { op: "Add", inputs: ["xw", "b"], outputs: ["y"] },
    ],
  });
}

/** Writes a model whose W lives in `location` (relative to the model) at byte 16 of weights.bin. */
async function writeExternalModel(
  name: string,
  location: string,
  entries: Record<string, string> = {},
): Promise<string> {
  const model = linearModel();
  const w = model.graph!.initializer.find((t) => t.name === "W")!;
  const raw = w.rawData!;
  const bin = new Uint8Array(16 + raw.length + 8).fill(0xee); // junk around the tensor
  bin.set(raw, 16);
  await writeFile(join(dir, "weights.bin"), bin);
  w.rawData = undefined;
  w.dataLocation = 1;
  w.externalData = Object.entries({ location, offset: "16", length: String(raw.length), ...entries }).map(
    ([key, value]) => ({ key, value }),
  );
  const path = join(dir, name);
  await writeFile(path, encodeModel(model));
  return path;
}

test("loadModel reads external data into rawData; the model runs on onnxruntime-node", async () => {
  const path = await writeExternalModel("ext.onnx", "weights.bin");
  // the file on disk really refers to the side file
  const onDisk = decodeModel(await readFile(path));
  assert.equal(onDisk.graph!.initializer[0]!.dataLocation, 1);
  assert.equal(onDisk.graph!.initializer[0]!.rawData, undefined);

  const model = await loadModel(path);
  const w = model.graph!.initializer.find((t) => t.name === "W")!;
  assert.equal(w.dataLocation, undefined);
  assert.deepEqual(w.externalData, []);
  assert.deepEqual([...new Float32Array(w.rawData!.slice().buffer)], W);

  const session = await nodeBackend().createSession(encodeModel(model));
  try {
    const out = await session.run({ x: float32([2, 2], [1, 0, 2, -1]) });
    // row 1: [1, 2, 3] + b; row 2: 2·[1,2,3] − [4,5,6] + b = [-2, -1, 0] + b
    assert.deepEqual([...out.y!.data], [1.5, 1.5, 4, -1.5, -1.5, 1]);
  } finally {
    await session.dispose();
  }
});

test("external data in a subfolder is allowed; saveModel writes a self-contained copy", async () => {
  await mkdir(join(dir, "sub"), { recursive: true });
  const path = await writeExternalModel("ext-sub.onnx", "sub/./w.bin");
  await writeFile(join(dir, "sub", "w.bin"), await readFile(join(dir, "weights.bin")));
  const model = await loadModel(path);
  const saved = join(dir, "saved.onnx");
  await saveModel(saved, model);
  const back = await loadModel(saved);
  const w = back.graph!.initializer.find((t) => t.name === "W")!;
  assert.deepEqual([...new Float32Array(w.rawData!.slice().buffer)], W);
});

test("external locations outside the model's folder are refused", async () => {
  await writeFile(join(dir, "..", `pathlens-evil-${process.pid}.bin`), new Uint8Array(64));
  try {
    for (const evil of [`../pathlens-evil-${process.pid}.bin`, "/etc/passwd", "sub/../../x.bin", ".."]) {
      const path = await writeExternalModel("evil.onnx", evil);
      await assert.rejects(loadModel(path), (e: unknown) => {
        assert.ok(e instanceof UnsafeExternalDataError, String(e));
        assert.ok(e.message.includes("evil.onnx") && e.message.includes(`"${evil}"`), e.message);
        assert.match(e.message, /absolute path|outside the model's folder/);
        return true;
      });
    }
    // a symlink inside the folder that points outside is refused too
    await symlink("/etc/hostname", join(dir, "link.bin"));
    const path = await writeExternalModel("evil-link.onnx", "link.bin");
    await assert.rejects(
      loadModel(path),
      (e: unknown) => e instanceof UnsafeExternalDataError && /link/.test(e.message),
    );
  } finally {
    await rm(join(dir, "..", `pathlens-evil-${process.pid}.bin`), { force: true });
  }
});

test("missing external file, short external file, bad offset", async () => {
  const missing = await writeExternalModel("missing.onnx", "nope.bin");
  await assert.rejects(loadModel(missing), (e: unknown) => {
    assert.ok(e instanceof ModelFileError && !(e instanceof UnsafeExternalDataError), String(e));
    assert.match(e.message, /nope\.bin.*tensor "W".*missing\.onnx.*ENOENT/);
    return true;
  });
  const short = await writeExternalModel("short.onnx", "weights.bin", { offset: "40" }); // 40 + 24 > 48
  await assert.rejects(loadModel(short), (e: unknown) => {
    assert.ok(e instanceof ModelFileError, String(e));
    assert.match(e.message, /weights\.bin.*tensor "W" needs bytes 40\.\.64 but the file has only 48 bytes/);
    return true;
  });
  const bad = await writeExternalModel("bad.onnx", "weights.bin", { offset: "-3" });
  await assert.rejects(loadModel(bad), /bad\.onnx.*offset "-3" is not a non-negative integer/);
});

test("missing or truncated .onnx files", async () => {
  await assert.rejects(
    loadModel(join(dir, "absent.onnx")),
    (e: unknown) => e instanceof ModelFileError && /absent\.onnx.*ENOENT/.test(e.message),
  );
  const full = await readFile(fixturePath("models/digits_cnn.onnx"));
  const half = join(dir, "digits_half.onnx");
  await writeFile(half, full.subarray(0, Math.floor(full.length / 2)));
  await assert.rejects(loadModel(half), (e: unknown) => {
    assert.ok(e instanceof ModelDecodeError, String(e));
    assert.ok(e.message.includes(half), e.message);
    assert.match(e.message, /truncated/);
    return true;
  });
});

test("loadModel of a fixture gives initializers tensorFromProto can read (plain Uint8Array views)", async () => {
  const model = await loadModel(fixturePath("models/tabular_mlp.onnx"));
  const w = model.graph!.initializer[0]!;
  assert.equal(w.rawData!.constructor, Uint8Array);
});

test("saveModel refuses a model that still refers to external data", async () => {
  const model = decodeModel(await readFile(await writeExternalModel("ext2.onnx", "weights.bin")));
  await assert.rejects(
    saveModel(join(dir, "x.onnx"), model),
    /x\.onnx.*tensor "W" still refers to external data/,
  );
  await assert.rejects(
    saveModel(join(dir, "no", "dir", "y.onnx"), linearModel()),
    (e: unknown) => e instanceof ModelFileError && /y\.onnx.*ENOENT/.test(e.message),
  );
});
