import assert from "node:assert/strict";
import { test } from "node:test";
import { bfloat16ToFloat32, float16ToFloat32, float16ToNumber, numberToFloat16 } from "./half.js";

test("float16 bit patterns decode to their IEEE values", () => {
  // reference values from the IEEE 754 binary16 definition
  const cases: [number, number][] = [
    [0x0000, 0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0x0001, 2 ** -24],
    [0x0400, 2 ** -14],
    [0x7c00, Number.POSITIVE_INFINITY],
  ];
  for (const [bits, v] of cases) assert.equal(float16ToNumber(bits), v, `0x${bits.toString(16)}`);
  assert.ok(Number.isNaN(float16ToNumber(0x7e00)), "NaN");
  assert.deepEqual(Array.from(float16ToFloat32([0x3c00, 0xbc00])), [1, -1]);
});

test("float16 encoding rounds to nearest even and round-trips every pattern", () => {
  for (let bits = 0; bits < 0x10000; bits++) {
    const v = float16ToNumber(bits);
    if (Number.isNaN(v)) continue;
    assert.equal(numberToFloat16(v), bits === 0x8000 ? 0x8000 : bits, `0x${bits.toString(16)}`);
  }
  // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties to the even pattern 0x3c00
  assert.equal(numberToFloat16(1 + 2 ** -11), 0x3c00);
  assert.equal(numberToFloat16(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(numberToFloat16(1e6), 0x7c00);
});

test("bfloat16 decodes as the upper half of a float32", () => {
  assert.deepEqual(Array.from(bfloat16ToFloat32([0x3f80, 0xc040, 0x3eaa])), [1, -3, 0.33203125]);
});
