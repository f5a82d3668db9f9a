/**
 * Resizing against Pillow (tools/make_resize_refs.py, Debian python3-pil): bilinear and bicubic,
 * two antialiased downscales and one upscale of a 61×45 picture, compared pixel by pixel.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { readImage } from "../io/image.js";
import { ROOT } from "../testing/cli.js";
import { geometry } from "./preprocess.js";
import { resizeLikePil } from "./resize.js";

const DIR = join(ROOT, "test", "fixtures", "resize");

for (const filter of ["bilinear", "bicubic"] as const) {
  for (const [w, h] of [
    [24, 18],
    [10, 7],
    [80, 59],
  ] as const) {
    test(`${filter} resize 61×45 → ${w}×${h} equals Pillow's, pixel for pixel`, async () => {
      const input = await readImage(join(DIR, "input.png"));
      const expected = await readImage(join(DIR, `${filter}_${w}x${h}.png`));
      const got = resizeLikePil(input, h, w, filter);
      assert.equal(got.width, w);
      assert.equal(got.height, h);
      let worst = 0;
      for (let i = 0; i < got.data.length; i++)
        worst = Math.max(worst, Math.abs(got.data[i]! - expected.data[i]!));
      assert.equal(worst, 0, `largest difference ${worst}/255`);
    });
  }
}

test("preprocessing's resize is Pillow's antialiased bilinear (shorter side, as torchvision)", async () => {
  const input = await readImage(join(DIR, "input.png"));
  const expected = await readImage(join(DIR, "bilinear_24x18.png"));
  const got = geometry(input, { resize: 18 }); // 61×45 → shorter side 18: 24×18 (61·18/45 = 24.4)
  assert.deepEqual([got.width, got.height], [24, 18]);
  assert.deepEqual(Array.from(got.data), Array.from(expected.data));
});
