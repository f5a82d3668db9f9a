/**
 * MaxPool / AveragePool gradients against central finite differences of onnxruntime's forward
 * pass. MaxPool runs in float64 (onnxruntime has float64 MaxPool with Indices); AveragePool only
 * has float32 kernels, but it is linear, so a unit step makes the differences exact up to float32
 * rounding.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeModel } from "../../onnx/codec.js";
import { makeModel } from "../../onnx/make.js";
import type { AttrValue } from "../../onnx/model.js";
import { nodeBackend } from "../../runtime/node.js";
import { probeShapes } from "../../runtime/probe.js";
import { Random } from "../../tensor/random.js";
import { type DType, type Tensor, tensor } from "../../tensor/tensor.js";
import { gradcheck } from "../../testing/gradcheck.js";
import { gradientModel } from "../gradient.js";

const backend = nodeBackend();
const rng = new Random(5);
const size = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);

function rand(dtype: DType, dims: number[]): Tensor {
  const t = tensor(dtype, dims);
  const d = t.data as Float64Array;
  for (let i = 0; i < d.length; i++) d[i] = rng.normal();
  return t;
}

function poolModel(
  op: string,
  dtype: DType,
  opset: number,
  rank: number,
  attrs: Record<string, AttrValue>,
  square: boolean,
) {
  const nodes = [{ op, inputs: ["x"], outputs: [square ? "t" : "y"], attrs }];
  if (square) nodes.push({ op: "Mul", inputs: ["t", "t"], outputs: ["y"], attrs: {} });
  return makeModel({
    opset,
    inputs: [{ name: "x", dtype, dims: ["N", ...Array.from({ length: rank - 1 }, (_, i) => `d${i}`)] }],
    outputs: [{ name: "y", dtype }],
    nodes,
  });
}

interface PoolCase {
  name: string;
  x: number[];
  attrs: Record<string, AttrValue>;
  /** Lowest opset the case's attributes exist at. */
  minOpset?: number;
}

const maxPoolCases: PoolCase[] = [
  { name: "2-D kernel 2 stride 2", x: [2, 2, 6, 6], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
  {
    name: "2-D kernel 3 stride 2, pads (overlapping windows)",
    x: [2, 2, 7, 6],
    attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
  },
  {
    name: "2-D kernel 3 stride 1, asymmetric pads",
    x: [2, 2, 5, 6],
    attrs: { kernel_shape: [3, 2], pads: [1, 0, 2, 1] },
  },
  {
    name: "2-D ceil_mode, asymmetric pads",
    x: [2, 2, 6, 7],
    attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 0, 0, 1], ceil_mode: 1 },
    minOpset: 10,
  },
  {
    name: "2-D dilations 2",
    x: [2, 2, 7, 7],
    attrs: { kernel_shape: [2, 3], strides: [1, 2], dilations: [2, 2], pads: [1, 1, 0, 1] },
    minOpset: 10,
  },
  {
    name: "2-D storage_order 1, non-square",
    x: [2, 2, 5, 7],
    attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], storage_order: 1 },
  },
  {
    name: "2-D auto_pad SAME_UPPER",
    x: [2, 2, 7, 6],
    attrs: { kernel_shape: [3, 3], strides: [2, 2], auto_pad: "SAME_UPPER" },
  },
  { name: "1-D kernel 3 stride 2", x: [2, 3, 9], attrs: { kernel_shape: [3], strides: [2], pads: [1, 1] } },
  {
    name: "3-D kernel 2 stride 2",
    x: [2, 1, 4, 5, 4],
    attrs: { kernel_shape: [2, 2, 2], strides: [2, 2, 2], pads: [0, 1, 0, 0, 0, 0] },
  },
];

for (const opset of [17, 13, 11, 9]) {
  for (const c of maxPoolCases) {
    if ((c.minOpset ?? 8) > opset) continue;
    test(`MaxPool gradient (float64, opset ${opset}): ${c.name}`, async () => {
      const model = poolModel("MaxPool", "float64", opset, c.x.length, c.attrs, false);
      const r = await gradcheck(model, { x: rand("float64", c.x) }, { wrt: ["x"] });
      assert.ok(r.worst <= 1, r.message);
    });
  }
}

/** Distinct values 0.05 apart in random order: a ±1e-2 step never changes a window's argmax. */
function spaced(dims: number[]): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, (_, i) => 0.05 * i - 0.025 * n);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [v[i], v[j]] = [v[j]!, v[i]!];
  }
  return tensor("float32", dims, Float32Array.from(v));
}

// float32 at opsets 11–15 (the scatter-group formulation; float64 is covered above).
for (const opset of [13, 11]) {
  for (const c of maxPoolCases) {
    if ((c.minOpset ?? 8) > opset) continue;
    test(`MaxPool gradient (float32, opset ${opset}): ${c.name}`, async () => {
      const model = poolModel("MaxPool", "float32", opset, c.x.length, c.attrs, true);
      const r = await gradcheck(model, { x: spaced(c.x) }, { wrt: ["x"], eps: 1e-2, rtol: 1e-3 });
      assert.ok(r.worst <= 1, r.message);
    });
  }
}

test("MaxPool uses scatter reduction only from opset 16 (valid at the model's opset)", async () => {
  for (const [opset, reduction] of [
    [9, false],
    [13, false],
    [16, true],
  ] as const) {
    const model = poolModel("MaxPool", "float64", opset, 4, { kernel_shape: [3, 3], strides: [2, 2] }, false);
    const x = rand("float64", [2, 2, 7, 7]);
    const gm = gradientModel(model, {
      wrt: ["x"],
      outputs: ["y"],
      shapes: await probeShapes(backend, model, { x }),
    });
    const withReduction = gm.model.graph!.node.some((n) => n.attribute.some((a) => a.name === "reduction"));
    assert.equal(withReduction, reduction, `opset ${opset}`);
    const ops = new Set(gm.model.graph!.node.map((n) => n.opType));
    assert.equal(ops.has("ScatterElements"), opset >= 11, `opset ${opset}: ${[...ops].join(",")}`);
  }
});

// The WebGPU formulation (no Indices: comparison with the window maximum), run on the CPU.
for (const opset of [17, 11, 10]) {
  for (const c of maxPoolCases) {
    if ((c.minOpset ?? 8) > opset) continue;
    test(`MaxPool gradient for WebGPU (float64, opset ${opset}): ${c.name}`, async () => {
      const model = poolModel("MaxPool", "float64", opset, c.x.length, c.attrs, true);
      const r = await gradcheck(model, { x: rand("float64", c.x) }, { wrt: ["x"], device: "webgpu" });
      assert.ok(r.worst <= 1, r.message);
    });
  }
}

/**
 * Reference MaxPool gradient by plain loops (2-D, NCHW): each window sends its g to its first
 * maximum in row-major window order (onnxruntime's Indices convention); padding never wins.
 */
function maxPoolGradReference(
  x: Float32Array,
  dims: number[],
  g: Float32Array,
  outDims: number[],
  k: number,
  s: number,
  p: number,
): Float64Array {
  const [n, c, h, w] = dims as [number, number, number, number];
  const [oh, ow] = [outDims[2]!, outDims[3]!];
  const dx = new Float64Array(x.length);
  for (let img = 0; img < n * c; img++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        let best = -1;
        for (let a = 0; a < k; a++)
          for (let bb = 0; bb < k; bb++) {
            const [r, q] = [i * s + a - p, j * s + bb - p];
            if (r < 0 || q < 0 || r >= h || q >= w) continue;
            const at = img * h * w + r * w + q;
            if (best < 0 || x[at]! > x[best]!) best = at;
          }
        dx[best] += g[img * oh * ow + i * ow + j]!;
      }
  return dx;
}

test("MaxPool gradient sends ties to the first maximum (CPU and WebGPU forms vs a loop reference)", async () => {
  // after a ReLU most windows are all zeros: every element ties
  const model = poolModel(
    "MaxPool",
    "float32",
    13,
    4,
    { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
    false,
  );
  const dims = [2, 3, 9, 8];
  const x = rand("float32", dims);
  const d = x.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = d[i]! > 0.8 ? Math.round(d[i]! * 2) : 0;
  const shapes = await probeShapes(backend, model, { x });
  const outDims = shapes.get("y")!.dims;
  const g = rand("float32", outDims);
  const want = maxPoolGradReference(d, dims, g.data as Float32Array, outDims, 3, 2, 1);
  for (const device of ["cpu", "webgpu"] as const) {
    const gm = gradientModel(model, { wrt: ["x"], outputs: ["y"], shapes: new Map(shapes), device });
    // neither form asks the forward MaxPool for Indices (its one-output kernel is the fast one)
    assert.ok(
      gm.model.graph!.node.every((n) => n.opType !== "MaxPool" || n.output.length === 1),
      device,
    );
    const session = await backend.createSession(encodeModel(gm.model));
    const out = await session.run({ x, [gm.seeds[0]!]: g }, gm.gradients);
    await session.dispose();
    const got = out[gm.gradients[0]!]!.data as Float32Array;
    for (let i = 0; i < want.length; i++)
      assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-6 * (1 + Math.abs(want[i]!)), `${device} element ${i}`);
  }
});

test("MaxPool Hessian-vector product, CPU comparison form (float32, distinct values)", async () => {
  for (const c of maxPoolCases.filter((c) => c.x.length === 4 && c.attrs.storage_order === undefined)) {
    const model = poolModel("MaxPool", "float32", 13, 4, c.attrs, true);
    const r = await gradcheck(model, { x: spaced(c.x) }, { wrt: ["x"], hvp: true, eps: 1e-2, rtol: 1e-3 });
    assert.ok(r.worst <= 1, `${c.name}: ${r.message}`);
  }
});

test("MaxPool Hessian-vector product for WebGPU (float64, opset 17)", async () => {
  const model = poolModel(
    "MaxPool",
    "float64",
    17,
    4,
    { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
    true,
  );
  const r = await gradcheck(
    model,
    { x: rand("float64", [2, 2, 7, 6]) },
    { wrt: ["x"], hvp: true, device: "webgpu" },
  );
  assert.ok(r.worst <= 1, r.message);
});

for (const opset of [17, 13]) {
  test(`MaxPool Hessian-vector product (float64, opset ${opset})`, async () => {
    const model = poolModel(
      "MaxPool",
      "float64",
      opset,
      4,
      { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
      true,
    );
    const r = await gradcheck(model, { x: rand("float64", [2, 2, 7, 6]) }, { wrt: ["x"], hvp: true });
    assert.ok(r.worst <= 1, r.message);
  });
}

const averagePoolCases: PoolCase[] = [
  { name: "2-D kernel 2 stride 2", x: [2, 2, 6, 6], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
  {
    name: "2-D kernel 3 stride 2, pads, count_include_pad 0",
    x: [2, 3, 7, 6],
    attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
  },
  {
    name: "2-D kernel 3 stride 2, pads, count_include_pad 1",
    x: [2, 3, 7, 6],
    attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 },
  },
  {
    name: "2-D ceil_mode, asymmetric pads, count_include_pad 0",
    x: [2, 2, 6, 7],
    attrs: { kernel_shape: [3, 2], strides: [2, 2], pads: [1, 0, 0, 1], ceil_mode: 1 },
    minOpset: 10,
  },
  {
    name: "2-D ceil_mode, asymmetric pads, count_include_pad 1",
    x: [2, 2, 6, 7],
    attrs: { kernel_shape: [3, 2], strides: [2, 2], pads: [1, 0, 0, 1], ceil_mode: 1, count_include_pad: 1 },
    minOpset: 10,
  },
  {
    name: "2-D stride 3 leaves the last rows unread",
    x: [2, 2, 8, 8],
    attrs: { kernel_shape: [2, 2], strides: [3, 3] },
  },
  {
    name: "2-D auto_pad SAME_UPPER",
    x: [2, 2, 7, 6],
    attrs: { kernel_shape: [3, 3], strides: [2, 2], auto_pad: "SAME_UPPER" },
  },
  {
    name: "2-D auto_pad SAME_LOWER, count_include_pad 1",
    x: [2, 2, 7, 6],
    attrs: { kernel_shape: [2, 2], strides: [1, 1], auto_pad: "SAME_LOWER", count_include_pad: 1 },
  },
  { name: "1-D kernel 3 stride 2", x: [2, 3, 9], attrs: { kernel_shape: [3], strides: [2], pads: [1, 2] } },
  {
    name: "2-D dilations 2",
    x: [2, 2, 7, 7],
    attrs: { kernel_shape: [2, 2], strides: [2, 1], dilations: [2, 2], pads: [1, 0, 1, 1] },
    minOpset: 19,
  },
];

for (const opset of [19, 11, 9]) {
  for (const c of averagePoolCases) {
    if ((c.minOpset ?? 7) > opset) continue;
    test(`AveragePool gradient (float32, opset ${opset}): ${c.name}`, async () => {
      const model = poolModel("AveragePool", "float32", opset, c.x.length, c.attrs, false);
      const r = await gradcheck(model, { x: rand("float32", c.x) }, { wrt: ["x"], eps: 1, rtol: 1e-4 });
      assert.ok(r.worst <= 1, r.message);
    });
  }
}

test("AveragePool Hessian-vector product (quadratic, exact differences)", async () => {
  const model = poolModel(
    "AveragePool",
    "float32",
    17,
    4,
    { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 0, 1], ceil_mode: 1 },
    true,
  );
  const r = await gradcheck(
    model,
    { x: rand("float32", [2, 2, 7, 6]) },
    { wrt: ["x"], hvp: true, eps: 1, rtol: 1e-4 },
  );
  assert.ok(r.worst <= 1, r.message);
});

/** Normal values pushed away from 0 (|x| ≥ 0.2), so float32 differences never cross |x|'s kink. */
function awayFromZero(dims: number[]): Tensor {
  const t = rand("float32", dims);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = Math.sign(d[i]!) * (0.2 + Math.abs(d[i]!));
  return t;
}

const lpPoolCases: PoolCase[] = [
  {
    name: "p 2, kernel 3 stride 2, pads",
    x: [2, 2, 7, 6],
    attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
  },
  { name: "p 3, kernel 2 stride 2", x: [2, 2, 6, 6], attrs: { kernel_shape: [2, 2], strides: [2, 2], p: 3 } },
  {
    name: "p 1, 1-D kernel 3 stride 2",
    x: [2, 3, 9],
    attrs: { kernel_shape: [3], strides: [2], pads: [1, 1], p: 1 },
  },
  {
    name: "p 2, ceil_mode, dilations",
    x: [2, 2, 7, 7],
    attrs: { kernel_shape: [2, 2], strides: [2, 2], dilations: [2, 1], ceil_mode: 1 },
    minOpset: 18,
  },
];

for (const opset of [18, 11]) {
  for (const c of lpPoolCases) {
    if ((c.minOpset ?? 2) > opset) continue;
    test(`LpPool gradient (float32, opset ${opset}): ${c.name}`, async () => {
      const model = poolModel("LpPool", "float32", opset, c.x.length, c.attrs, false);
      // float32 differences of a smooth map: eps 1e-2 keeps truncation and rounding near 1e-4
      const r = await gradcheck(model, { x: awayFromZero(c.x) }, { wrt: ["x"], eps: 1e-2, rtol: 2e-3 });
      assert.ok(r.worst <= 1, r.message);
    });
  }
}

test("LpPool Hessian-vector product", async () => {
  const model = poolModel(
    "LpPool",
    "float32",
    11,
    4,
    { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
    true,
  );
  const r = await gradcheck(
    model,
    { x: awayFromZero([2, 2, 7, 6]) },
    { wrt: ["x"], hvp: true, eps: 1e-2, rtol: 5e-3 },
  );
  assert.ok(r.worst <= 1, r.message);
});

test("MaxUnpool gradient (MaxPool → MaxUnpool, with and without output_shape)", async () => {
  // without output_shape the unpooled size is (3 − 1)·2 + 2 = 6; with it, the odd input size 7
  for (const side of [6, 7]) {
    const withShape = side === 7;
    const model = makeModel({
      opset: 11,
      inputs: [{ name: "x", dtype: "float32", dims: ["N", 2, side, side] }],
      outputs: [{ name: "y", dtype: "float32" }],
      initializers: withShape ? { shape: tensor("int64", [4], BigInt64Array.from([2n, 2n, 7n, 7n])) } : {},
      nodes: [
        {
          op: "MaxPool",
          inputs: ["x"],
          outputs: ["t", "i"],
          attrs: { kernel_shape: [2, 2], strides: [2, 2] },
        },
        {
          op: "MaxUnpool",
          inputs: withShape ? ["t", "i", "shape"] : ["t", "i"],
          outputs: ["y"],
          attrs: { kernel_shape: [2, 2], strides: [2, 2] },
        },
      ],
    });
    const r = await gradcheck(
      model,
      { x: rand("float32", [2, 2, side, side]) },
      { wrt: ["x"], eps: 1e-3, rtol: 1e-4 },
    );
    assert.ok(r.worst <= 1, r.message);
  }
});

for (const opset of [17, 11]) {
  test(`Hessian-vector product of a small CNN (opset ${opset}): Conv → Tanh → MaxPool → AveragePool → Resize → Mul`, async () => {
    const w = rand("float32", [3, 2, 3, 3]);
    (w.data as Float32Array).forEach((v, i, d) => {
      d[i] = v * 0.4;
    });
    const model = makeModel({
      opset,
      inputs: [{ name: "x", dtype: "float32", dims: ["N", 2, 9, 8] }],
      outputs: [{ name: "y", dtype: "float32" }],
      initializers: {
        w,
        scales: tensor("float32", [4], Float32Array.from([1, 1, 2, 1.5])),
        roi: tensor("float32", [0]),
      },
      nodes: [
        { op: "Conv", inputs: ["x", "w"], outputs: ["c"], attrs: { pads: [1, 1, 1, 1] } },
        { op: "Tanh", inputs: ["c"], outputs: ["t"] },
        {
          op: "MaxPool",
          inputs: ["t"],
          outputs: ["m"],
          attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
        },
        {
          op: "AveragePool",
          inputs: ["m"],
          outputs: ["a"],
          attrs: { kernel_shape: [2, 2], pads: [0, 0, 1, 1] },
        },
        { op: "Resize", inputs: ["a", "roi", "scales"], outputs: ["r"], attrs: { mode: "linear" } },
        { op: "Mul", inputs: ["r", "r"], outputs: ["y"] },
      ],
    });
    // float32 differences along v move every element at once, so a few MaxPool windows may
    // switch their argmax inside ±eps. One switch moves the gradient of every input under the
    // two window elements (Conv 3×3 × 2 channels ≈ 26 inputs), so those differences, recognised
    // by disagreeing between eps and eps/2, are discarded (at most 15%).
    const own = new Random(40 + opset); // its own draws, independent of the tests above
    const x = tensor(
      "float32",
      [2, 2, 9, 8],
      Float32Array.from({ length: 288 }, () => own.normal()),
    );
    const r = await gradcheck(model, { x }, { wrt: ["x"], hvp: true, eps: 2e-4, rtol: 1e-2, kinks: 0.15 });
    assert.ok(r.worst <= 1, r.message);
  });
}

/** Gradient model built from a probe at batch 2, run at batch 3, against finite differences there. */
async function checkOtherBatch(
  op: string,
  dtype: DType,
  opset: number,
  attrs: Record<string, AttrValue>,
  eps: number,
  rtol: number,
) {
  const model = poolModel(op, dtype, opset, 4, attrs, false);
  const shapes = await probeShapes(backend, model, { x: rand(dtype, [2, 2, 7, 6]) });
  const gm = gradientModel(model, { wrt: ["x"], outputs: ["y"], shapes });
  const x = rand(dtype, [3, 2, 7, 6]);
  const fwd = await backend.createSession(encodeModel(model), { optimization: "disabled" });
  const grad = await backend.createSession(encodeModel(gm.model));
  try {
    const y = (await fwd.run({ x }, ["y"])).y!;
    const seed = rand(dtype, [...y.dims]);
    const analytic = (await grad.run({ x, [gm.seeds[0]!]: seed }, [gm.gradients[0]!]))[gm.gradients[0]!]!
      .data;
    const seeded = async (xv: Tensor) => {
      const out = (await fwd.run({ x: xv }, ["y"])).y!.data;
      let s = 0;
      for (let i = 0; i < out.length; i++) s += (out[i] as number) * (seed.data[i] as number);
      return s;
    };
    const fd: number[] = [];
    for (let i = 0; i < size(x.dims); i++) {
      const p = tensor(dtype, x.dims, (x.data as Float64Array).slice() as Tensor["data"]);
      const m = tensor(dtype, x.dims, (x.data as Float64Array).slice() as Tensor["data"]);
      (p.data as Float64Array)[i] += eps;
      (m.data as Float64Array)[i] -= eps;
      fd.push(((await seeded(p)) - (await seeded(m))) / (2 * eps));
    }
    const scale = Math.max(...fd.map(Math.abs));
    for (let i = 0; i < fd.length; i++) {
      assert.ok(
        Math.abs((analytic[i] as number) - fd[i]!) <= rtol * (scale + Math.abs(fd[i]!)),
        `${op} element ${i}: ${analytic[i]} vs ${fd[i]}`,
      );
    }
  } finally {
    await fwd.dispose();
    await grad.dispose();
  }
}

test("pool gradient models from a batch-2 probe run at batch 3", async () => {
  const overlapping = { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] };
  await checkOtherBatch("MaxPool", "float64", 17, overlapping, 1e-6, 1e-6);
  await checkOtherBatch("MaxPool", "float64", 11, overlapping, 1e-6, 1e-6);
  await checkOtherBatch("AveragePool", "float32", 17, overlapping, 1, 1e-4);
});
