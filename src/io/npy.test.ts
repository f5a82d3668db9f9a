import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { float32, int64, type Tensor, tensor } from "../tensor/tensor.js";
import { fixturePath } from "../testing/fixtures.js";
import { encodeNpy, NpyError, parseNpy, parseNpyHeader, readNpy, writeNpy } from "./npy.js";

const npy = (name: string) => fixturePath(`npy/${name}`);

/** Asserts that `fn` rejects with an NpyError whose message contains every fragment. */
async function rejectsNpy(fn: () => Promise<unknown>, ...fragments: (string | RegExp)[]): Promise<void> {
  await assert.rejects(fn, (e: unknown) => {
    assert.ok(e instanceof NpyError, `expected NpyError, got ${String(e)}`);
    for (const f of fragments) {
      if (typeof f === "string") assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
      else assert.match(e.message, f);
    }
    return true;
  });
}

test("reads numpy-written float32 / int64 fixtures (values checked against numpy)", async () => {
  const x = await readNpy(fixturePath("grads/tabular_mlp_input.npy"));
  assert.equal(x.dtype, "float32");
  assert.deepEqual(x.dims, [6, 96]);
  assert.equal(x.data[0], Math.fround(0.293676));
  assert.equal(x.data[2], Math.fround(-0.8403521));
  assert.equal(x.data[5 * 96 + 95], Math.fround(0.41193032));
  let s = 0;
  for (const v of x.data as Float32Array) s += v;
  assert.ok(Math.abs(s - -8.242156733758748) < 1e-9);

  const ids = await readNpy(fixturePath("models/tiny_bert_test_ids.npy"));
  assert.equal(ids.dtype, "int64");
  assert.deepEqual(ids.dims, [64, 64]);
  assert.deepEqual([...(ids.data as BigInt64Array).slice(0, 6)], [1n, 698n, 506n, 363n, 452n, 953n]);
  assert.equal(
    (ids.data as BigInt64Array).reduce((a, b) => a + b, 0n),
    1256273n,
  );

  const y = await readNpy(fixturePath("models/digits_y_test.npy"));
  assert.equal(y.dtype, "int64");
  assert.deepEqual(y.dims, [360]);
  assert.deepEqual([...(y.data as BigInt64Array).slice(0, 5)], [7n, 6n, 3n, 7n, 7n]);
});

test("reads every supported dtype", async () => {
  const f8 = await readNpy(npy("f8_2x3.npy"));
  assert.equal(f8.dtype, "float64");
  assert.deepEqual(f8.dims, [2, 3]);
  assert.deepEqual(
    [...f8.data],
    [0, 1, 2, 3, 4, 5].map((k) => (k - 2.5) / 4),
  );

  const i4 = await readNpy(npy("i4_5.npy"));
  assert.equal(i4.dtype, "int32");
  assert.deepEqual([...i4.data], [-2, -1, 0, 2147483647, -2147483648]);

  const i8 = await readNpy(npy("i8_2x2.npy"));
  assert.equal(i8.dtype, "int64");
  assert.deepEqual([...i8.data], [1n, -1n, 2n ** 53n + 1n, -(2n ** 62n)]);

  const b1 = await readNpy(npy("b1_2x3.npy"));
  assert.equal(b1.dtype, "bool");
  assert.deepEqual(b1.dims, [2, 3]);
  assert.deepEqual([...b1.data], [1, 0, 1, 0, 0, 1]);

  const u1 = await readNpy(npy("u1_4.npy"));
  assert.equal(u1.dtype, "uint8");
  assert.deepEqual([...u1.data], [0, 1, 128, 255]);

  const i1 = await readNpy(npy("i1_4.npy"));
  assert.equal(i1.dtype, "int8");
  assert.deepEqual([...i1.data], [0, -1, -128, 127]);
});

test("0-d, empty, and format versions 2.0 / 3.0", async () => {
  const s = await readNpy(npy("f4_scalar.npy"));
  assert.deepEqual(s.dims, []);
  assert.deepEqual([...s.data], [1.5]);

  const e = await readNpy(npy("f4_empty_0x3.npy"));
  assert.deepEqual(e.dims, [0, 3]);
  assert.equal(e.data.length, 0);

  for (const v of [2, 3]) {
    const bytes = await readFile(npy(`f4_v${v}_2x2.npy`));
    assert.deepEqual(parseNpyHeader(bytes).version, [v, 0]);
    const t = parseNpy(bytes);
    assert.deepEqual(t.dims, [2, 2]);
    assert.deepEqual([...t.data], [1, 2, 3, 4]);
  }
});

test("encodeNpy reproduces numpy.save byte for byte", async () => {
  const files = [
    "grads/tabular_mlp_input.npy",
    "grads/tabular_mlp_seed.npy",
    "models/digits_y_test.npy",
    "models/tiny_bert_test_ids.npy",
    "npy/f8_2x3.npy",
    "npy/i4_5.npy",
    "npy/i8_2x2.npy",
    "npy/b1_2x3.npy",
    "npy/u1_4.npy",
    "npy/i1_4.npy",
    "npy/f4_scalar.npy",
    "npy/f4_empty_0x3.npy",
  ];
  for (const f of files) {
    const bytes = new Uint8Array(await readFile(fixturePath(f)));
    assert.deepEqual(encodeNpy(parseNpy(bytes, f)), bytes, f);
  }
});

test("header layout follows the spec for a hand-built tensor", () => {
  const bytes = encodeNpy(float32([2], [1, -2]));
  assert.deepEqual([...bytes.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const headerLen = bytes[8]! | (bytes[9]! << 8);
  assert.equal((10 + headerLen) % 64, 0);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLen));
  assert.equal(header.trimEnd(), "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }");
  assert.ok(header.endsWith("\n"));
  // 1.0f = 0x3f800000, -2.0f = 0xc0000000, little-endian
  assert.deepEqual([...bytes.subarray(10 + headerLen)], [0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
});

test("writeNpy / readNpy round trip (subarray views too)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "pathlens-npy-"));
  try {
    const backing = new Float64Array([9, 1.25, -3, 7, 9]);
    const cases: Tensor[] = [
      tensor("float64", [2, 2], backing.subarray(1, 5)),
      int64([3], [-5, 0, 2 ** 40]),
      tensor("bool", [2], new Uint8Array([1, 0])),
      float32([], [3.25]),
    ];
    for (const [k, t] of cases.entries()) {
      const p = join(dir, `t${k}.npy`);
      await writeNpy(p, t);
      const back = await readNpy(p);
      assert.equal(back.dtype, t.dtype);
      assert.deepEqual(back.dims, t.dims);
      assert.deepEqual([...back.data], [...t.data]);
    }
    await rejectsNpy(
      () => writeNpy(join(dir, "no", "such", "dir.npy"), cases[0]!),
      "dir.npy",
      "cannot write",
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("rejects unsupported files with an NpyError naming the file and the problem", async () => {
  await rejectsNpy(() => readNpy(npy("f4_bigendian_3.npy")), "f4_bigendian_3.npy", "big-endian", ">f4");
  await rejectsNpy(() => readNpy(npy("f4_fortran_2x3.npy")), "f4_fortran_2x3.npy", "Fortran", "[2, 3]");
  await rejectsNpy(() => readNpy(npy("object_2.npy")), "object_2.npy", "object dtype");
  await rejectsNpy(() => readNpy(npy("f2_3.npy")), "f2_3.npy", "'<f2'", "not supported");
  await rejectsNpy(() => readNpy(npy("structured_2.npy")), "structured_2.npy", "structured dtype");
  await rejectsNpy(() => readNpy(npy("missing.npy")), "missing.npy", "ENOENT");
  await rejectsNpy(
    () => readNpy(fixturePath("models/tabular_feature_names.json")),
    "tabular_feature_names.json",
    "magic",
  );
});

test("rejects truncated, overlong and malformed bytes", async () => {
  const good = new Uint8Array(await readFile(fixturePath("grads/tabular_mlp_seed.npy"))); // (6, 1) float32
  const src = "seed.npy";
  const fails = (bytes: Uint8Array, ...fragments: (string | RegExp)[]) =>
    rejectsNpy(async () => parseNpy(bytes, src), src, ...fragments);
  await fails(
    good.subarray(0, good.length - 3),
    "truncated",
    "[6, 1]",
    "float32",
    "needs 24 bytes",
    "has 21",
  );
  await fails(good.subarray(0, 40), "truncated inside the header");
  await fails(good.subarray(0, 5), "magic");
  const extra = new Uint8Array(good.length + 4);
  extra.set(good);
  await fails(extra, "4 unexpected bytes");
  const badMagic = good.slice();
  badMagic[1] = 0x58;
  await fails(badMagic, "magic");
  const v9 = good.slice();
  v9[6] = 9;
  await fails(v9, "version 9.0");
  const garbled = good.slice();
  garbled.set(new TextEncoder().encode("[1, 2"), 10);
  await fails(garbled, "not a Python dict");
  const noShape = good.slice();
  noShape.set(new TextEncoder().encode("'shapf'"), 10 + "{'descr': '<f4', 'fortran_order': False, ".length);
  await fails(noShape, "'shape'");
});

test("encodeNpy rejects a tensor whose data does not match its shape", () => {
  const bad = { dtype: "float32", dims: [2, 2], data: new Float32Array(3) } as const;
  assert.throws(
    () => encodeNpy(bad, "out.npy"),
    (e: unknown) => e instanceof NpyError && /out\.npy.*\[2, 2\].*3 elements/.test(e.message),
  );
});

test("writeNpy output is read back by a fresh parse of the raw file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "pathlens-npy-"));
  try {
    const p = join(dir, "x.npy");
    await writeFile(p, encodeNpy(float32([1, 2], [0.5, 2])));
    const h = parseNpyHeader(await readFile(p), p);
    assert.deepEqual(h, {
      version: [1, 0],
      descr: "<f4",
      fortranOrder: false,
      shape: [1, 2],
      dataOffset: 128,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
