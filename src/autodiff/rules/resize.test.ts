/**
 * Resize / Upsample gradients against central finite differences of onnxruntime's own Resize.
 * onnxruntime has only float32 Resize kernels; Resize is linear in X, so a unit step makes the
 * differences exact up to float32 rounding and a tight tolerance (1e-4) applies.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeModel } from "../../onnx/codec.js";
import { makeModel, type NodeSpec } from "../../onnx/make.js";
import type { AttrValue } from "../../onnx/model.js";
import { nodeBackend } from "../../runtime/node.js";
import { probeShapes } from "../../runtime/probe.js";
import { Random } from "../../tensor/random.js";
import { float32, int64, type Tensor } from "../../tensor/tensor.js";
import { gradcheck } from "../../testing/gradcheck.js";
import { gradientModel } from "../gradient.js";

const backend = nodeBackend();
const rng = new Random(3);
const size = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);
const rand = (dims: number[]) =>
  float32(
    dims,
    Array.from({ length: size(dims) }, () => rng.normal()),
  );

interface ResizeCase {
  name: string;
  opset: number;
  op?: "Resize" | "Upsample";
  x?: number[];
  scales?: number[];
  sizes?: number[];
  attrs?: Record<string, AttrValue>;
  floats?: string[];
}

/** The model Resize(x) (→ Mul(t, t) when `square`) with the input layout of the case's opset. */
function resizeModel(c: ResizeCase, square = false) {
  const op = c.op ?? "Resize";
  const initializers: Record<string, Tensor> = {};
  let inputs: string[];
  if (op === "Upsample" && c.opset < 9) {
    inputs = ["x"];
  } else if (op === "Upsample" || c.opset < 11) {
    initializers.scales = float32([c.scales!.length], c.scales!);
    inputs = ["x", "scales"];
  } else {
    const empty = float32([0], []);
    if (c.scales) initializers.scales = float32([c.scales.length], c.scales);
    if (c.sizes) initializers.sizes = int64([c.sizes.length], c.sizes);
    if (c.opset < 13) {
      initializers.roi = empty;
      if (!c.scales) initializers.noscales = empty;
    }
    const roi = c.opset < 13 ? "roi" : "";
    inputs = c.scales ? ["x", roi, "scales"] : ["x", roi, c.opset < 13 ? "noscales" : "", "sizes"];
  }
  const nodes: NodeSpec[] = [
    { op, inputs, outputs: [square ? "t" : "y"], attrs: c.attrs ?? {}, floats: c.floats },
  ];
  if (square) nodes.push({ op: "Mul", inputs: ["t", "t"], outputs: ["y"] });
  const rank = (c.x ?? [2, 2, 4, 5]).length;
  return makeModel({
    opset: c.opset,
    inputs: [
      { name: "x", dtype: "float32", dims: ["N", ...Array.from({ length: rank - 1 }, (_, i) => `d${i}`)] },
    ],
    outputs: [{ name: "y", dtype: "float32" }],
    initializers,
    nodes,
  });
}

const up = [1, 1, 2, 2];
const cases: ResizeCase[] = [
  {
    name: "nearest, half_pixel, round_prefer_floor (defaults)",
    opset: 13,
    scales: up,
    attrs: { mode: "nearest" },
  },
  {
    name: "nearest, asymmetric, floor",
    opset: 13,
    scales: [1, 1, 1.5, 2.5],
    attrs: { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" },
  },
  {
    name: "nearest, align_corners, round_prefer_ceil",
    opset: 13,
    scales: [1, 1, 2, 1.6],
    attrs: {
      mode: "nearest",
      coordinate_transformation_mode: "align_corners",
      nearest_mode: "round_prefer_ceil",
    },
  },
  {
    name: "nearest, pytorch_half_pixel, ceil, downsampling",
    opset: 13,
    x: [2, 2, 7, 9],
    scales: [1, 1, 0.5, 0.6],
    attrs: { mode: "nearest", coordinate_transformation_mode: "pytorch_half_pixel", nearest_mode: "ceil" },
  },
  {
    name: "nearest, tf_half_pixel_for_nn",
    opset: 13,
    scales: [1, 1, 3, 2],
    attrs: { mode: "nearest", coordinate_transformation_mode: "tf_half_pixel_for_nn" },
  },
  { name: "linear, half_pixel", opset: 13, scales: [1, 1, 2, 1.5], attrs: { mode: "linear" } },
  {
    name: "linear, align_corners",
    opset: 13,
    scales: up,
    attrs: { mode: "linear", coordinate_transformation_mode: "align_corners" },
  },
  {
    name: "linear, asymmetric",
    opset: 13,
    scales: [1, 1, 2.5, 2],
    attrs: { mode: "linear", coordinate_transformation_mode: "asymmetric" },
  },
  {
    name: "linear, pytorch_half_pixel, downsampling",
    opset: 13,
    x: [2, 2, 8, 9],
    scales: [1, 1, 0.5, 0.4],
    attrs: { mode: "linear", coordinate_transformation_mode: "pytorch_half_pixel" },
  },
  { name: "linear, sizes", opset: 13, sizes: [2, 2, 7, 11], attrs: { mode: "linear" } },
  { name: "linear, width only", opset: 13, scales: [1, 1, 1, 2], attrs: { mode: "linear" } },
  {
    name: "cubic, half_pixel, exclude_outside",
    opset: 13,
    scales: up,
    attrs: { mode: "cubic", exclude_outside: 1, cubic_coeff_a: -0.5 },
    floats: ["cubic_coeff_a"],
  },
  {
    name: "cubic, align_corners",
    opset: 13,
    scales: [1, 1, 1.5, 2],
    attrs: { mode: "cubic", coordinate_transformation_mode: "align_corners" },
  },
  { name: "opset 10 nearest (scales input)", opset: 10, scales: up, attrs: { mode: "nearest" } },
  { name: "opset 10 linear", opset: 10, scales: [1, 1, 2, 3], attrs: { mode: "linear" } },
  {
    name: "opset 11 linear with roi + scales",
    opset: 11,
    scales: up,
    attrs: { mode: "linear", coordinate_transformation_mode: "align_corners" },
  },
  {
    name: "opset 11 nearest with sizes",
    opset: 11,
    sizes: [2, 2, 9, 8],
    attrs: { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" },
  },
  { name: "opset 18 axes attribute", opset: 18, scales: [2, 1.5], attrs: { mode: "linear", axes: [2, 3] } },
  {
    name: "opset 18 antialiased downsampling",
    opset: 18,
    x: [2, 2, 9, 8],
    scales: [1, 1, 0.5, 0.6],
    attrs: { mode: "linear", antialias: 1 },
  },
  { name: "opset 18 sizes with axes", opset: 18, sizes: [7, 9], attrs: { mode: "nearest", axes: [-2, -1] } },
  { name: "rank 3 nearest", opset: 13, x: [2, 3, 5], scales: [1, 1, 2], attrs: { mode: "nearest" } },
  { name: "Upsample opset 9 nearest", opset: 9, op: "Upsample", scales: up, attrs: { mode: "nearest" } },
  {
    name: "Upsample opset 9 linear",
    opset: 9,
    op: "Upsample",
    scales: [1, 1, 2, 1.5],
    attrs: { mode: "linear" },
  },
  {
    name: "Upsample opset 7 (scales attribute)",
    opset: 7,
    op: "Upsample",
    attrs: { mode: "nearest", scales: [1, 1, 2, 3] },
    floats: ["scales"],
  },
];

for (const c of cases) {
  test(`Resize gradient: ${c.name}`, async () => {
    const r = await gradcheck(
      resizeModel(c),
      { x: rand(c.x ?? [2, 2, 4, 5]) },
      { wrt: ["x"], eps: 1, rtol: 1e-4 },
    );
    assert.ok(r.worst <= 1, r.message);
  });
}

test("Resize Hessian-vector product (quadratic, exact differences)", async () => {
  const c: ResizeCase = { name: "hvp", opset: 13, scales: [1, 1, 2, 1.5], attrs: { mode: "linear" } };
  const r = await gradcheck(
    resizeModel(c, true),
    { x: rand([2, 2, 4, 5]) },
    { wrt: ["x"], hvp: true, eps: 1, rtol: 1e-4 },
  );
  assert.ok(r.worst <= 1, r.message);
});

test("Resize gradient model from a batch-2 probe runs at batch 3", async () => {
  const model = resizeModel({ name: "batch", opset: 13, scales: [1, 1, 2, 1.5], attrs: { mode: "linear" } });
  const shapes = await probeShapes(backend, model, { x: rand([2, 2, 4, 5]) });
  const gm = gradientModel(model, { wrt: ["x"], outputs: ["y"], shapes });
  const x = rand([3, 2, 4, 5]);
  const fwd = await backend.createSession(encodeModel(model), { optimization: "disabled" });
  const grad = await backend.createSession(encodeModel(gm.model));
  try {
    const y = (await fwd.run({ x }, ["y"])).y!;
    const seed = rand([...y.dims]);
    const analytic = (await grad.run({ x, [gm.seeds[0]!]: seed }, [gm.gradients[0]!]))[gm.gradients[0]!]!
      .data as Float32Array;
    const seeded = async (xv: Tensor) => {
      const out = (await fwd.run({ x: xv }, ["y"])).y!.data as Float32Array;
      return out.reduce((s, v, i) => s + v * seed.data[i]!, 0);
    };
    for (let i = 0; i < x.data.length; i++) {
      const p = float32(x.dims, x.data);
      const m = float32(x.dims, x.data);
      p.data[i] += 1;
      m.data[i] -= 1;
      const fd = ((await seeded(p)) - (await seeded(m))) / 2;
      assert.ok(
        Math.abs(analytic[i]! - fd) <= 1e-4 * (1 + Math.abs(fd)),
        `element ${i}: ${analytic[i]} vs ${fd}`,
      );
    }
  } finally {
    await fwd.dispose();
    await grad.dispose();
  }
});

test("Resize with tf_crop_and_resize is refused with a clear error", async () => {
  const model = resizeModel({
    name: "crop",
    opset: 13,
    scales: up,
    attrs: { mode: "linear", coordinate_transformation_mode: "tf_crop_and_resize" },
  });
  const x = rand([2, 2, 4, 5]);
  const shapes = await probeShapes(backend, model, { x }).catch(() => undefined);
  if (!shapes) return; // onnxruntime itself needs a roi for this mode
  assert.throws(() => gradientModel(model, { wrt: ["x"], outputs: ["y"], shapes }), /tf_crop_and_resize/);
});
