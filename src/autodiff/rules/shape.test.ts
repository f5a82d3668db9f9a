import assert from "node:assert/strict";
import { test } from "node:test";
import { makeModel } from "../../onnx/make.js";
import type { AttrValue } from "../../onnx/model.js";
import { Random } from "../../tensor/random.js";
import { float64, int64, type Tensor } from "../../tensor/tensor.js";
import { gradcheck } from "../../testing/gradcheck.js";

const rng = new Random(11);
function rand(dims: number[]): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return float64(
    dims,
    Array.from({ length: n }, () => rng.uniform() * 2 - 1),
  );
}

/**
 * Checks the gradient and Hessian-vector product of y = z ⊙ z ⊙ w with z = op(x, consts…), so the
 * second derivative is non-zero and exercises the op's rule twice.
 */
async function checkOp(
  op: string,
  x: Tensor,
  opts: {
    attrs?: Record<string, AttrValue>;
    consts?: (Tensor | "")[];
    opset?: number;
    extra?: Record<string, Tensor>;
    device?: "cpu" | "webgpu";
  } = {},
) {
  const consts = opts.consts ?? [];
  const inits: Record<string, Tensor> = {};
  const inputs = ["x"];
  consts.forEach((c, i) => {
    if (c === "") inputs.push("");
    else {
      inits[`c${i}`] = c;
      inputs.push(`c${i}`);
    }
  });
  const model = makeModel({
    opset: opts.opset ?? 17,
    inputs: [{ name: "x", dtype: "float64" }],
    outputs: [{ name: "y", dtype: "float64" }],
    initializers: inits,
    nodes: [
      { op, inputs, outputs: ["z"], attrs: opts.attrs },
      { op: "Mul", inputs: ["z", "z"], outputs: ["zz"] },
      { op: "Mul", inputs: ["zz", "z"], outputs: ["y"] },
    ],
  });
  const r = await gradcheck(model, { x }, { wrt: ["x"], hvp: true, device: opts.device });
  assert.ok(r.worst <= 1, `${op} opset ${opts.opset ?? 17}: ${r.message}`);
}

const i64 = (v: number[]) => int64([v.length], v);

test("Reshape, Flatten, Squeeze, Unsqueeze (input and attribute axes)", async () => {
  await checkOp("Reshape", rand([2, 3, 4]), { consts: [i64([6, -1])] });
  await checkOp("Flatten", rand([2, 3, 4]), { attrs: { axis: 2 } });
  await checkOp("Squeeze", rand([2, 1, 4]), { consts: [i64([1])] });
  await checkOp("Squeeze", rand([2, 1, 4]), { attrs: { axes: [1] }, opset: 11 });
  await checkOp("Unsqueeze", rand([2, 4]), { consts: [i64([0, -1])] });
  await checkOp("Unsqueeze", rand([2, 4]), { attrs: { axes: [1] }, opset: 9 });
});

test("Transpose with and without perm", async () => {
  await checkOp("Transpose", rand([2, 3, 4]), { attrs: { perm: [1, 2, 0] } });
  await checkOp("Transpose", rand([2, 3, 4]));
});

test("Expand and Tile", async () => {
  await checkOp("Expand", rand([3, 1]), { consts: [i64([2, 3, 4])] });
  await checkOp("Expand", rand([1, 4]), { consts: [i64([3, 1])] });
  await checkOp("Tile", rand([2, 3]), { consts: [i64([2, 3])] });
  await checkOp("Tile", rand([2, 3, 1]), { consts: [i64([1, 2, 4])], opset: 9 });
});

test("Concat of the same input, different axes and opsets", async () => {
  for (const opset of [9, 11, 13]) {
    const model = makeModel({
      opset,
      inputs: [{ name: "x", dtype: "float64" }],
      outputs: [{ name: "y", dtype: "float64" }],
      initializers: { c: rand([2, 2]) },
      nodes: [
        { op: "Concat", inputs: ["x", "c", "x"], outputs: ["z"], attrs: { axis: -1 } },
        { op: "Mul", inputs: ["z", "z"], outputs: ["y"] },
      ],
    });
    const r = await gradcheck(model, { x: rand([2, 3]) }, { wrt: ["x"], hvp: true });
    assert.ok(r.worst <= 1, `opset ${opset}: ${r.message}`);
  }
});

test("Split (input and attribute split sizes, unused output)", async () => {
  for (const opset of [11, 13, 18]) {
    const splitSpec =
      opset >= 13
        ? { inputs: ["x", "s"], attrs: { axis: 1 } as Record<string, AttrValue> }
        : { inputs: ["x"], attrs: { axis: 1, split: [1, 2, 3] } };
    const model = makeModel({
      opset,
      inputs: [{ name: "x", dtype: "float64" }],
      outputs: [{ name: "y", dtype: "float64" }],
      initializers: opset >= 13 ? { s: i64([1, 2, 3]) } : {},
      nodes: [
        { op: "Split", inputs: splitSpec.inputs, outputs: ["a", "b", "c"], attrs: splitSpec.attrs },
        { op: "Mul", inputs: ["c", "c"], outputs: ["cc"] },
        { op: "ReduceSum", inputs: ["a"], outputs: ["sa"], attrs: { keepdims: 1 } },
        { op: "Mul", inputs: ["cc", "sa"], outputs: ["y"] },
      ],
    });
    const r = await gradcheck(model, { x: rand([2, 6]) }, { wrt: ["x"], hvp: true });
    assert.ok(r.worst <= 1, `opset ${opset}: ${r.message}`);
  }
});

test("Slice: negative bounds, steps, omitted axes, opset 9/10/11/13", async () => {
  const x = rand([4, 5, 6]);
  await checkOp("Slice", x, { consts: [i64([1, -4]), i64([3, 100]), i64([0, 2])] });
  await checkOp("Slice", x, { consts: [i64([-1, 4]), i64([-100, 0]), i64([1, 2]), i64([-2, -2])] });
  await checkOp("Slice", x, { consts: [i64([0, 1, 2]), i64([2, 3, 5])] });
  await checkOp("Slice", x, { consts: [i64([0, 1]), i64([5, 4]), "", i64([2, 1])], opset: 13 });
  await checkOp("Slice", x, { consts: [i64([1]), i64([-1]), i64([2])], opset: 10 });
  await checkOp("Slice", x, { attrs: { starts: [1, 0], ends: [3, -2], axes: [1, 2] }, opset: 9 });
});

test("Slice for WebGPU (pads computed at run time), run on the CPU: negative and clamped bounds, omitted axes", async () => {
  const x = rand([4, 5, 6]);
  const webgpu = { device: "webgpu" as const };
  await checkOp("Slice", x, { consts: [i64([1, -4]), i64([3, 100]), i64([0, 2])], ...webgpu });
  await checkOp("Slice", x, { consts: [i64([0, 1, 2]), i64([2, 3, 5])], ...webgpu });
  await checkOp("Slice", x, { consts: [i64([-100, 2]), i64([-1, 1]), i64([2, 1])], opset: 13, ...webgpu });
  await checkOp("Slice", x, { consts: [i64([0, 1]), i64([5, 4]), "", i64([2, 1])], opset: 13, ...webgpu });
});

test("Pad (constant): input pads, attribute pads, axes input, negative pads", async () => {
  await checkOp("Pad", rand([2, 3]), { consts: [i64([1, 0, 2, 3])] });
  await checkOp("Pad", rand([2, 3]), { attrs: { pads: [0, 1, 1, 2] }, opset: 9 });
  await checkOp("Pad", rand([2, 3, 4]), { consts: [i64([1, 0, 2, 3]), "", i64([0, 2])], opset: 18 });
  await checkOp("Pad", rand([3, 4]), { consts: [i64([-1, 1, 0, -2])], opset: 13 });
});

test("Pad in reflect mode names the mode in its error", async () => {
  await assert.rejects(
    () => checkOp("Pad", rand([3, 4]), { attrs: { mode: "reflect" }, consts: [i64([0, 1, 0, 1])] }),
    /Pad mode "reflect"/,
  );
});

test("DepthToSpace (DCR, CRD) and SpaceToDepth", async () => {
  await checkOp("DepthToSpace", rand([2, 8, 2, 3]), { attrs: { blocksize: 2, mode: "DCR" } });
  await checkOp("DepthToSpace", rand([2, 8, 2, 3]), { attrs: { blocksize: 2, mode: "CRD" } });
  await checkOp("SpaceToDepth", rand([2, 2, 4, 6]), { attrs: { blocksize: 2 } });
});

test("Trilu upper/lower with an offset", async () => {
  await checkOp("Trilu", rand([2, 4, 5]), { attrs: { upper: 1 } });
  await checkOp("Trilu", rand([2, 4, 5]), { attrs: { upper: 0 }, consts: [int64([], [1])] });
});
