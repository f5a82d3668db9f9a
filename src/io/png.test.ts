import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { deflateSync } from "node:zlib";
import { fixturePath, readNpyFixture } from "../testing/fixtures.js";
import { pngChunk, pngFile, pngHeader, rgbaPng } from "../testing/png-bytes.js";
import { decodePng, MAX_IMAGE_PIXELS, PngFormatError } from "./png.js";

const IEND = pngChunk("IEND", new Uint8Array(0));

function refuses(bytes: Uint8Array, fragment: string): void {
  assert.throws(
    () => decodePng(bytes),
    (e: unknown) => {
      assert.ok(e instanceof PngFormatError, `expected PngFormatError, got ${String(e)}`);
      assert.ok(e.message.includes(fragment), `"${e.message}" lacks "${fragment}"`);
      assert.ok(!e.message.includes("\n"));
      return true;
    },
  );
}

test("decodes every colour type PIL writes exactly as PIL converts it to RGBA", () => {
  for (const name of ["rgba8", "rgb8", "gray8", "graya8", "gray1", "palette8", "palette4"]) {
    const img = decodePng(new Uint8Array(readFileSync(fixturePath(`png/${name}.png`))));
    const ref = readNpyFixture(`png/${name}.rgba.npy`);
    assert.deepEqual([img.height, img.width, 4], ref.dims, name);
    assert.deepEqual(Array.from(img.data), Array.from(ref.data as Uint8Array), name);
  }
});

test("Adam7-interlaced images put each pass's pixels where the spec says", () => {
  // 10×9 RGBA, each pixel (x, y) = [x, y, x + y, 255]; passes laid out by hand from the spec.
  const [w, h] = [10, 9];
  const passes = [
    [0, 0, 8, 8],
    [4, 0, 8, 8],
    [0, 4, 4, 8],
    [2, 0, 4, 4],
    [0, 2, 2, 4],
    [1, 0, 2, 2],
    [0, 1, 1, 2],
  ];
  const bytes: number[] = [];
  for (const [x0, y0, dx, dy] of passes) {
    for (let y = y0!; y < h; y += dy!) {
      const row: number[] = [];
      for (let x = x0!; x < w; x += dx!) row.push(x, y, x + y, 255);
      if (row.length) bytes.push(0, ...row);
    }
  }
  const file = pngFile(
    pngChunk("IHDR", pngHeader(w, h, 8, 6, 1)),
    pngChunk("IDAT", deflateSync(new Uint8Array(bytes))),
    IEND,
  );
  const img = decodePng(file);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      assert.deepEqual(Array.from(img.data.subarray(o, o + 4)), [x, y, x + y, 255], `pixel ${x},${y}`);
    }
});

test("issue 12 regressions: truncated, missing, random IDAT; bad CRC; empty and huge sizes; zlib bomb", () => {
  const pixels = new Uint8Array(64 * 64 * 4).fill(7);
  const good = rgbaPng(64, 64, pixels);
  assert.deepEqual(decodePng(good).data, pixels);
  const raw = new Uint8Array((64 * 4 + 1) * 64).fill(7);
  for (let y = 0; y < 64; y++) raw[y * 257] = 0;
  const z = deflateSync(raw);
  const ihdr = pngChunk("IHDR", pngHeader(64, 64));
  refuses(pngFile(ihdr, pngChunk("IDAT", z.subarray(0, 40)), IEND), "not a valid zlib stream");
  refuses(pngFile(ihdr, IEND), "no IDAT");
  refuses(pngFile(ihdr, pngChunk("IDAT", new Uint8Array(500).fill(0x5a)), IEND), "zlib");
  refuses(pngFile(ihdr, pngChunk("IDAT", deflateSync(raw.subarray(0, 1000))), IEND), "implies");
  refuses(pngFile(ihdr, pngChunk("IDAT", z, 1234), IEND), "CRC");
  refuses(good.subarray(0, good.length - 20), "past the end");
  refuses(pngFile(pngChunk("IHDR", pngHeader(0, 8)), pngChunk("IDAT", z), IEND), "empty");
  refuses(pngFile(pngChunk("IHDR", pngHeader(2 ** 31 - 1, 1)), pngChunk("IDAT", z), IEND), "limit");
  // 1 GB of zeros deflates to ~1 MB; inflation must stop at the 257 × 64 + 1 bytes the header implies.
  const bomb = deflateSync(new Uint8Array(64 * 2 ** 20));
  const t0 = performance.now();
  refuses(pngFile(ihdr, pngChunk("IDAT", bomb), IEND), "more than");
  assert.ok(performance.now() - t0 < 2000);
  assert.ok(MAX_IMAGE_PIXELS >= 4096 * 4096);
});

test("the same truncated PNG gives the same typed error in fresh processes (no uninitialised memory)", () => {
  const raw = new Uint8Array((64 * 4 + 1) * 64);
  const file = pngFile(
    pngChunk("IHDR", pngHeader(64, 64)),
    pngChunk("IDAT", deflateSync(raw).subarray(0, 30)),
    IEND,
  );
  const script = `import { decodePng } from "./src/io/png.ts";
    const b = Buffer.from(process.argv[1], "base64");
    for (let i = 0; i < 50; i++) Buffer.allocUnsafe(65536).fill(i);
    try { decodePng(new Uint8Array(b)); console.log("decoded"); } catch (e) { console.log(e.name + ": " + e.message); }`;
  const outs = new Set<string>();
  for (let k = 0; k < 2; k++) {
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script, Buffer.from(file).toString("base64")],
      {
        encoding: "utf8",
      },
    );
    outs.add(r.stdout.trim());
  }
  assert.equal(outs.size, 1);
  assert.match([...outs][0]!, /^PngFormatError: /);
});
