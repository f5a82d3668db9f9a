import assert from "node:assert/strict";
import { test } from "node:test";
import { moveAxis, moveAxisPerm } from "./move-axis.js";
import { float64 } from "./tensor.js";

test("moveAxisPerm: the moved axis lands at `to`, the others keep their order", () => {
  assert.deepEqual(moveAxisPerm(3, 1, 0), [1, 0, 2]);
  assert.deepEqual(moveAxisPerm(4, 2, 0), [2, 0, 1, 3]);
  assert.deepEqual(moveAxisPerm(4, 0, 2), [1, 2, 0, 3]);
  assert.deepEqual(moveAxisPerm(3, 0, 0), [0, 1, 2]);
});

test("moveAxis: out[j][i][k] = t[i][j][k] for time × batch × features → batch-first, and back", () => {
  const [T, B, F] = [3, 2, 4];
  const t = float64(
    [T, B, F],
    Array.from({ length: T * B * F }, (_, n) => n * 1.5 - 7),
  );
  const bf = moveAxis(t, 1, 0);
  assert.deepEqual(bf.dims, [B, T, F]);
  for (let i = 0; i < T; i++)
    for (let j = 0; j < B; j++)
      for (let k = 0; k < F; k++) assert.equal(bf.data[(j * T + i) * F + k], t.data[(i * B + j) * F + k]);
  const back = moveAxis(bf, 0, 1);
  assert.deepEqual(back.dims, [T, B, F]);
  assert.deepEqual(Array.from(back.data), Array.from(t.data));
  // a rank-4 move past two axes
  const u = float64(
    [2, 3, 4, 5],
    Array.from({ length: 120 }, (_, n) => n),
  );
  const v = moveAxis(u, 3, 1);
  assert.deepEqual(v.dims, [2, 5, 3, 4]);
  assert.equal(v.data[((1 * 5 + 4) * 3 + 2) * 4 + 3], u.data[((1 * 3 + 2) * 4 + 3) * 5 + 4]);
});
