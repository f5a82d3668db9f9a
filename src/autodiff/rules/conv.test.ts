/**
 * Conv / ConvTranspose gradients. onnxruntime has no float64 Conv kernels, so the reference is
 * independent float64 code: a direct (loop) convolution written here, checked against
 * onnxruntime's forward output, whose input gradient is taken by central differences (exact
 * for a linear map). The float32 gradient graph must match it to float32 accuracy.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeModel } from "../../onnx/codec.js";
import { makeModel, type NodeSpec } from "../../onnx/make.js";
import type { AttrValue } from "../../onnx/model.js";
import { nodeBackend } from "../../runtime/node.js";
import { probeShapes } from "../../runtime/probe.js";
import { Random } from "../../tensor/random.js";
import { float32, type Tensor } from "../../tensor/tensor.js";
import { readJsonFixture } from "../../testing/fixtures.js";
import { gradcheck } from "../../testing/gradcheck.js";
import { gradientModel } from "../gradient.js";

const backend = nodeBackend();
const rng = new Random(11);

function randomValues(n: number): number[] {
  return Array.from({ length: n }, () => rng.normal());
}

const size = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);

/** Row-major strides of dims. */
function stridesOf(d: readonly number[]): number[] {
  const s = new Array(d.length).fill(1);
  for (let i = d.length - 2; i >= 0; i--) s[i] = s[i + 1] * d[i + 1];
  return s;
}

/** Calls f for every multi-index in dims (row-major). */
function forEachIndex(dims: readonly number[], f: (idx: number[]) => void): void {
  const idx = new Array(dims.length).fill(0);
  const n = size(dims);
  for (let k = 0; k < n; k++) {
    f(idx);
    for (let a = dims.length - 1; a >= 0; a--) {
      if (++idx[a] < dims[a]!) break;
      idx[a] = 0;
    }
  }
}

interface RefGeometry {
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  group: number;
}

/**
 * Direct convolution in float64: Y[n, m, o] = Σ_{c, j} X[n, g·C/G + c, o·s + j·d − pb] · W[m, c, j]
 * (out-of-range X is zero). With `transpose`, the transposed convolution instead:
 * Y[n, g·Mo/G + m, o] = Σ X[n, c, i] · W[c, m, j] over o + pb = i·s + j·d.
 */
function refConv(
  x: Float64Array,
  xd: number[],
  w: Float64Array,
  wd: number[],
  geo: RefGeometry,
  yd: number[],
  transpose: boolean,
): Float64Array {
  const y = new Float64Array(size(yd));
  const [batch, cIn] = xd as [number, number];
  const kernel = wd.slice(2);
  const xs = stridesOf(xd);
  const ws = stridesOf(wd);
  const ys = stridesOf(yd);
  const G = geo.group;
  const inSp = xd.slice(2);
  const outSp = yd.slice(2);
  const cPerGroup = cIn / G;
  const outPerGroup = transpose ? wd[1]! : wd[0]! / G;
  const pos = new Array(kernel.length);
  for (let n = 0; n < batch; n++) {
    for (let g = 0; g < G; g++) {
      for (let c = 0; c < cPerGroup; c++) {
        for (let m = 0; m < outPerGroup; m++) {
          const xc = g * cPerGroup + c;
          const ym = g * outPerGroup + m;
          // weight index: Conv W[ym, c, j]; ConvTranspose W[xc, m, j]
          const wBase = transpose ? xc * ws[0]! + m * ws[1]! : ym * ws[0]! + c * ws[1]!;
          forEachIndex(kernel, (j) => {
            let wOff = wBase;
            for (let a = 0; a < j.length; a++) wOff += j[a]! * ws[a + 2]!;
            const wv = w[wOff]!;
            if (!transpose) {
              forEachIndex(outSp, (o) => {
                let xOff = n * xs[0]! + xc * xs[1]!;
                for (let a = 0; a < o.length; a++) {
                  pos[a] = o[a]! * geo.strides[a]! + j[a]! * geo.dilations[a]! - geo.padsBegin[a]!;
                  if (pos[a] < 0 || pos[a] >= inSp[a]!) return;
                  xOff += pos[a] * xs[a + 2]!;
                }
                let yOff = n * ys[0]! + ym * ys[1]!;
                for (let a = 0; a < o.length; a++) yOff += o[a]! * ys[a + 2]!;
                y[yOff] += x[xOff]! * wv;
              });
            } else {
              forEachIndex(inSp, (i) => {
                let yOff = n * ys[0]! + ym * ys[1]!;
                for (let a = 0; a < i.length; a++) {
                  pos[a] = i[a]! * geo.strides[a]! + j[a]! * geo.dilations[a]! - geo.padsBegin[a]!;
                  if (pos[a] < 0 || pos[a] >= outSp[a]!) return;
                  yOff += pos[a] * ys[a + 2]!;
                }
                let xOff = n * xs[0]! + xc * xs[1]!;
                for (let a = 0; a < i.length; a++) xOff += i[a]! * xs[a + 2]!;
                y[yOff] += x[xOff]! * wv;
              });
            }
          });
        }
      }
    }
  }
  return y;
}

interface ConvCase {
  name: string;
  op?: "Conv" | "ConvTranspose";
  x: number[];
  w: number[];
  attrs?: Record<string, AttrValue>;
  /** Begin pads the reference uses (hand-computed from the spec when auto_pad/output_shape is used). */
  refPadsBegin?: number[];
  opset?: number;
  bias?: boolean;
  /** Run the gradient model at this batch size (the probe runs at x[0]). */
  runBatch?: number;
  /** Op type the gradient must be computed with. */
  expectOp?: string;
}

async function checkConvCase(c: ConvCase): Promise<void> {
  const op = c.op ?? "Conv";
  const transpose = op === "ConvTranspose";
  const nSp = c.x.length - 2;
  const attrs = c.attrs ?? {};
  const group = (attrs.group as number | undefined) ?? 1;
  const wT = float32(c.w, randomValues(size(c.w)));
  const outChannels = transpose ? c.w[1]! * group : c.w[0]!;
  const initializers: Record<string, Tensor> = { w: wT };
  const inputs = ["x", "w"];
  if (c.bias) {
    initializers.bias = float32([outChannels], randomValues(outChannels));
    inputs.push("bias");
  }
  const model = makeModel({
    opset: c.opset ?? 17,
    inputs: [{ name: "x", dtype: "float32", dims: ["N", ...c.x.slice(1)] }],
    outputs: [{ name: "y", dtype: "float32" }],
    initializers,
    nodes: [{ op, inputs, outputs: ["y"], attrs }],
  });
  const probeX = float32(c.x, randomValues(size(c.x)));
  const shapes = await probeShapes(backend, model, { x: probeX });
  const gm = gradientModel(model, { wrt: ["x"], outputs: ["y"], shapes });
  if (c.expectOp) {
    const added = gm.model.graph!.node.slice(model.graph!.node.length).map((n) => n.opType);
    assert.ok(added.includes(c.expectOp), `${c.name}: gradient ops ${added.join(",")} lack ${c.expectOp}`);
  }
  const xd = [c.runBatch ?? c.x[0]!, ...c.x.slice(1)];
  const x = float32(xd, randomValues(size(xd)));
  const session = await backend.createSession(encodeModel(gm.model));
  try {
    const forward = await (async () => {
      const s = await backend.createSession(encodeModel(model), { optimization: "disabled" });
      try {
        return (await s.run({ x }, ["y"])).y!;
      } finally {
        await s.dispose();
      }
    })();
    const yd = [...forward.dims];
    const seed = float32(yd, randomValues(size(yd)));
    const out = await session.run({ x, [gm.seeds[0]!]: seed }, [gm.gradients[0]!]);
    const analytic = out[gm.gradients[0]!]!.data as Float32Array;

    // the float64 reference, first checked against onnxruntime's forward pass
    const geo: RefGeometry = {
      strides: (attrs.strides as number[] | undefined) ?? new Array(nSp).fill(1),
      dilations: (attrs.dilations as number[] | undefined) ?? new Array(nSp).fill(1),
      padsBegin:
        c.refPadsBegin ?? ((attrs.pads as number[] | undefined) ?? new Array(2 * nSp).fill(0)).slice(0, nSp),
      group,
    };
    const x64 = Float64Array.from(x.data as Float32Array);
    const w64 = Float64Array.from(wT.data);
    const bias = c.bias ? Float64Array.from(initializers.bias!.data as Float32Array) : undefined;
    const spatial = size(yd.slice(2));
    const f = (xv: Float64Array) => {
      const y = refConv(xv, xd, w64, c.w, geo, yd, transpose);
      if (bias) for (let i = 0; i < y.length; i++) y[i] += bias[Math.floor(i / spatial) % outChannels]!;
      return y;
    };
    const y0 = f(x64);
    const fy = forward.data as Float32Array;
    let yScale = 0;
    for (const v of y0) yScale = Math.max(yScale, Math.abs(v));
    for (let i = 0; i < y0.length; i++) {
      assert.ok(
        Math.abs(y0[i]! - fy[i]!) <= 1e-5 * yScale,
        `${c.name}: the reference forward differs from onnxruntime at ${i}: ${y0[i]} vs ${fy[i]}`,
      );
    }
    const seeded = (xv: Float64Array) => {
      const y = f(xv);
      let s = 0;
      for (let i = 0; i < y.length; i++) s += y[i]! * seed.data[i]!;
      return s;
    };
    // central differences; the map is linear, so a unit step is exact in float64
    const fd = new Float64Array(x64.length);
    for (let i = 0; i < x64.length; i++) {
      const xp = x64.slice();
      xp[i] += 1;
      const xm = x64.slice();
      xm[i] -= 1;
      fd[i] = (seeded(xp) - seeded(xm)) / 2;
    }
    let scale = 0;
    for (const v of fd) scale = Math.max(scale, Math.abs(v));
    assert.ok(scale > 0, `${c.name}: the reference gradient is zero`);
    for (let i = 0; i < fd.length; i++) {
      // float32 accumulation over at most a few hundred terms: 1e-5 of the largest element
      assert.ok(
        Math.abs(analytic[i]! - fd[i]!) <= 1e-5 * scale + 1e-5 * Math.abs(fd[i]!),
        `${c.name}: gradient element ${i}: ${analytic[i]} vs reference ${fd[i]}`,
      );
    }
  } finally {
    await session.dispose();
  }
}

const convCases: ConvCase[] = [
  {
    name: "2-D stride 1, symmetric pads",
    x: [2, 3, 6, 7],
    w: [4, 3, 3, 3],
    attrs: { pads: [1, 1, 1, 1] },
    expectOp: "Conv",
    bias: true,
  },
  {
    name: "2-D stride 1, asymmetric pads, dilation 2",
    x: [2, 2, 7, 6],
    w: [3, 2, 3, 2],
    attrs: { pads: [0, 2, 1, 0], dilations: [2, 2] },
    expectOp: "Conv",
  },
  {
    name: "2-D stride 1, pads wider than the kernel (ConvTranspose path)",
    x: [2, 2, 5, 5],
    w: [2, 2, 3, 3],
    attrs: { pads: [3, 0, 0, 1] },
    expectOp: "ConvTranspose",
  },
  {
    name: "2-D stride 2, asymmetric pads, odd sizes (output_padding)",
    x: [2, 3, 7, 8],
    w: [4, 3, 3, 3],
    attrs: { strides: [2, 2], pads: [1, 0, 0, 1] },
    expectOp: "ConvTranspose",
  },
  {
    name: "2-D strides 2×1, kernel_shape attribute",
    x: [2, 2, 8, 5],
    w: [3, 2, 2, 3],
    attrs: { strides: [2, 1], kernel_shape: [2, 3], pads: [0, 1, 1, 1] },
  },
  {
    name: "2-D stride 2, dilation 2, group 2",
    x: [2, 4, 9, 8],
    w: [6, 2, 3, 3],
    attrs: { strides: [2, 2], dilations: [2, 2], group: 2, pads: [1, 2, 2, 1] },
  },
  {
    name: "2-D group 2, stride 1",
    x: [2, 4, 6, 6],
    w: [6, 2, 3, 3],
    attrs: { group: 2, pads: [1, 1, 1, 1] },
    expectOp: "Conv",
  },
  {
    name: "2-D depthwise ×2, stride 1",
    x: [2, 3, 6, 5],
    w: [6, 1, 3, 3],
    attrs: { group: 3, pads: [1, 1, 1, 1] },
    expectOp: "Conv",
  },
  {
    name: "2-D depthwise, stride 2",
    x: [2, 4, 7, 7],
    w: [4, 1, 3, 3],
    attrs: { group: 4, strides: [2, 2], pads: [1, 1, 1, 1] },
  },
  // SAME_UPPER, in 7, s 2: out 4, total (4−1)·2 + 3 − 7 = 2 → 1/1; in 8: out 4, total 1 → 0/1
  {
    name: "2-D auto_pad SAME_UPPER stride 2",
    x: [2, 2, 7, 8],
    w: [3, 2, 3, 3],
    attrs: { auto_pad: "SAME_UPPER", strides: [2, 2] },
    refPadsBegin: [1, 0],
  },
  // SAME_LOWER, k 4, s 1: total 3 → 2/1
  {
    name: "2-D auto_pad SAME_LOWER stride 1, even kernel",
    x: [2, 2, 6, 5],
    w: [2, 2, 4, 4],
    attrs: { auto_pad: "SAME_LOWER" },
    refPadsBegin: [2, 2],
    expectOp: "Conv",
  },
  // (onnxruntime rejects auto_pad SAME with dilations.) Axis 0, s 1, k 4: total 3 → 1/2;
  // axis 1, s 2, in 6: out 3, total (3 − 1)·2 + 3 − 6 = 1 → 0/1
  {
    name: "2-D auto_pad SAME_UPPER strides 1×2",
    x: [2, 2, 6, 6],
    w: [2, 2, 4, 3],
    attrs: { auto_pad: "SAME_UPPER", strides: [1, 2] },
    refPadsBegin: [1, 0],
  },
  {
    name: "2-D auto_pad VALID stride 2",
    x: [2, 2, 8, 7],
    w: [3, 2, 3, 2],
    attrs: { auto_pad: "VALID", strides: [2, 2] },
  },
  {
    name: "1-D stride 1, asymmetric pads",
    x: [2, 3, 9],
    w: [4, 3, 3],
    attrs: { pads: [2, 1] },
    expectOp: "Conv",
  },
  {
    name: "1-D stride 3, dilation 2, group 3",
    x: [2, 3, 14],
    w: [6, 1, 3],
    attrs: { strides: [3], dilations: [2], group: 3, pads: [1, 2] },
  },
  {
    name: "3-D stride 1",
    x: [1, 2, 4, 5, 4],
    w: [2, 2, 3, 2, 3],
    attrs: { pads: [1, 0, 1, 1, 1, 0] },
    expectOp: "Conv",
  },
  {
    name: "3-D stride 2",
    x: [1, 2, 5, 5, 4],
    w: [2, 2, 3, 3, 2],
    attrs: { strides: [2, 2, 2], pads: [1, 1, 0, 0, 1, 1] },
  },
  {
    name: "opset 9 (no reversed Slice: ConvTranspose even at stride 1)",
    x: [2, 2, 5, 6],
    w: [3, 2, 3, 3],
    attrs: { pads: [1, 1, 1, 1] },
    opset: 9,
    expectOp: "ConvTranspose",
  },
  {
    name: "opset 11, stride 1",
    x: [2, 2, 5, 6],
    w: [3, 2, 3, 3],
    attrs: { pads: [1, 1, 1, 1] },
    opset: 11,
    expectOp: "Conv",
  },
  // Depthwise stride > 1: polyphase Conv + DepthToSpace (CRD) + Slice on the CPU
  {
    name: "2-D depthwise stride 2, k 3, pads 1, even size (polyphase)",
    x: [2, 4, 8, 8],
    w: [4, 1, 3, 3],
    attrs: { group: 4, strides: [2, 2], pads: [1, 1, 1, 1] },
    expectOp: "DepthToSpace",
  },
  {
    name: "2-D depthwise stride 2, k 5, pads 2, odd sizes (polyphase)",
    x: [2, 3, 9, 11],
    w: [3, 1, 5, 5],
    attrs: { group: 3, strides: [2, 2], pads: [2, 2, 2, 2] },
    expectOp: "DepthToSpace",
  },
  {
    name: "2-D depthwise stride 3, asymmetric pads (polyphase)",
    x: [2, 2, 10, 9],
    w: [2, 1, 3, 3],
    attrs: { group: 2, strides: [3, 3], pads: [0, 1, 2, 0] },
    expectOp: "DepthToSpace",
  },
  {
    name: "2-D depthwise stride 3, k 4 not a multiple of s (polyphase)",
    x: [2, 2, 11, 10],
    w: [2, 1, 4, 4],
    attrs: { group: 2, strides: [3, 3], pads: [1, 2, 1, 0] },
    expectOp: "DepthToSpace",
  },
  {
    name: "2-D depthwise stride 2, 1×1 kernel smaller than the stride (polyphase)",
    x: [2, 3, 7, 8],
    w: [3, 1, 1, 1],
    attrs: { group: 3, strides: [2, 2] },
    expectOp: "DepthToSpace",
  },
  {
    name: "2-D depthwise stride 2, k 2, no pads: phases tile X exactly (no Slice)",
    x: [2, 3, 8, 6],
    w: [3, 1, 2, 2],
    attrs: { group: 3, strides: [2, 2] },
    expectOp: "DepthToSpace",
  },
  {
    name: "2-D depthwise stride 2, VALID, last rows unread (polyphase)",
    x: [2, 2, 8, 9],
    w: [2, 1, 3, 3],
    attrs: { group: 2, strides: [2, 2], auto_pad: "VALID" },
    expectOp: "DepthToSpace",
  },
  // SAME_UPPER, k 4, s 2, in 7: out 4, total 3·2 + 4 − 7 = 3 → 1/2; in 6: out 3, total 2 → 1/1
  {
    name: "2-D depthwise stride 2, auto_pad SAME_UPPER, even kernel (polyphase)",
    x: [2, 2, 7, 6],
    w: [2, 1, 4, 4],
    attrs: { group: 2, strides: [2, 2], auto_pad: "SAME_UPPER" },
    refPadsBegin: [1, 1],
    expectOp: "DepthToSpace",
  },
  {
    name: "2-D depthwise multiplier 2, stride 2, bias (polyphase)",
    x: [2, 3, 7, 7],
    w: [6, 1, 3, 3],
    attrs: { group: 3, strides: [2, 2], pads: [1, 0, 0, 1] },
    bias: true,
    expectOp: "DepthToSpace",
  },
  {
    name: "2-D depthwise strides 2×1: unequal strides keep ConvTranspose",
    x: [2, 2, 7, 6],
    w: [2, 1, 3, 3],
    attrs: { group: 2, strides: [2, 1], pads: [1, 1, 1, 1] },
    expectOp: "ConvTranspose",
  },
  {
    name: "2-D depthwise stride 2, dilation 2 keeps ConvTranspose",
    x: [2, 2, 9, 9],
    w: [2, 1, 3, 3],
    attrs: { group: 2, strides: [2, 2], dilations: [2, 2], pads: [2, 2, 2, 2] },
    expectOp: "ConvTranspose",
  },
  {
    name: "1-D depthwise stride 2 keeps ConvTranspose",
    x: [2, 3, 11],
    w: [3, 1, 3],
    attrs: { group: 3, strides: [2], pads: [1, 1] },
    expectOp: "ConvTranspose",
  },
];

for (const c of convCases) {
  test(`Conv input gradient: ${c.name}`, async () => checkConvCase(c));
}

const convTransposeCases: ConvCase[] = [
  {
    name: "2-D stride 2, pads, output_padding",
    op: "ConvTranspose",
    x: [2, 3, 4, 5],
    w: [3, 2, 3, 3],
    attrs: { strides: [2, 2], pads: [1, 0, 0, 1], output_padding: [1, 0] },
    bias: true,
  },
  {
    name: "2-D stride 1, asymmetric pads",
    op: "ConvTranspose",
    x: [2, 2, 5, 4],
    w: [2, 3, 3, 2],
    attrs: { pads: [1, 0, 0, 1] },
  },
  {
    name: "2-D stride 2, dilation 2, group 2",
    op: "ConvTranspose",
    x: [2, 4, 4, 3],
    w: [4, 2, 3, 2],
    attrs: { strides: [2, 2], dilations: [2, 2], group: 2, pads: [1, 1, 0, 2] },
  },
  {
    name: "2-D depthwise stride 2",
    op: "ConvTranspose",
    x: [2, 3, 4, 4],
    w: [3, 1, 3, 3],
    attrs: { strides: [2, 2], group: 3, pads: [1, 1, 1, 1], output_padding: [1, 1] },
  },
  // full size 2·3 + 3 = 9 (axis 0, output 7: total 2 → 1/1) and 2·4 + 3 = 11 (axis 1, output 8: total 3 → 2/1)
  {
    name: "2-D output_shape",
    op: "ConvTranspose",
    x: [2, 2, 4, 5],
    w: [2, 2, 3, 3],
    attrs: { strides: [2, 2], output_shape: [7, 8] },
    refPadsBegin: [1, 2],
  },
  // full 2·3 + 3 = 9, SAME output 8: total 1 → SAME_UPPER 0/1, SAME_LOWER 1/0
  {
    name: "2-D auto_pad SAME_UPPER",
    op: "ConvTranspose",
    x: [2, 2, 4, 4],
    w: [2, 2, 3, 3],
    attrs: { strides: [2, 2], auto_pad: "SAME_UPPER" },
    refPadsBegin: [0, 0],
  },
  {
    name: "2-D auto_pad SAME_LOWER",
    op: "ConvTranspose",
    x: [2, 2, 4, 4],
    w: [2, 2, 3, 3],
    attrs: { strides: [2, 2], auto_pad: "SAME_LOWER" },
    refPadsBegin: [1, 1],
  },
  {
    name: "1-D stride 3, output_padding 2",
    op: "ConvTranspose",
    x: [2, 2, 5],
    w: [2, 3, 2],
    attrs: { strides: [3], output_padding: [2], pads: [1, 0] },
  },
];

for (const c of convTransposeCases) {
  test(`ConvTranspose input gradient: ${c.name}`, async () => checkConvCase(c));
}

test("Conv gradient model from a batch-2 probe runs at batch 3", async () => {
  await checkConvCase({
    name: "dynamic batch, stride 2",
    x: [2, 3, 7, 6],
    w: [4, 3, 3, 3],
    attrs: { strides: [2, 2], pads: [1, 1, 0, 1] },
    runBatch: 3,
  });
  await checkConvCase({
    name: "dynamic batch, grouped stride 1",
    x: [2, 4, 5, 6],
    w: [4, 2, 3, 3],
    attrs: { group: 2, pads: [1, 1, 1, 1] },
    runBatch: 3,
  });
  await checkConvCase({
    name: "dynamic batch, depthwise stride 2 (polyphase)",
    x: [2, 4, 7, 6],
    w: [4, 1, 3, 3],
    attrs: { group: 4, strides: [2, 2], pads: [1, 1, 1, 1] },
    runBatch: 3,
    expectOp: "DepthToSpace",
  });
  await checkConvCase({
    name: "dynamic batch, ConvTranspose",
    op: "ConvTranspose",
    x: [2, 2, 3, 4],
    w: [2, 2, 3, 3],
    attrs: { strides: [2, 2], output_padding: [1, 1] },
    runBatch: 3,
  });
});

test("graphs built for WebGPU keep ConvTranspose for strided depthwise Conv (no polyphase form)", async () => {
  const model = makeModel({
    inputs: [{ name: "x", dtype: "float32", dims: ["N", 4, 8, 8] }],
    outputs: [{ name: "y", dtype: "float32" }],
    initializers: { w: float32([4, 1, 3, 3], randomValues(36)) },
    nodes: [
      {
        op: "Conv",
        inputs: ["x", "w"],
        outputs: ["y"],
        attrs: { group: 4, strides: [2, 2], pads: [1, 1, 1, 1] },
      },
    ],
  });
  const shapes = await probeShapes(backend, model, { x: float32([2, 4, 8, 8], randomValues(512)) });
  const ops = (device: "cpu" | "webgpu") =>
    gradientModel(model, { wrt: ["x"], outputs: ["y"], shapes: new Map(shapes), device })
      .model.graph!.node.slice(1)
      .map((n) => n.opType);
  assert.ok(ops("cpu").includes("DepthToSpace"), ops("cpu").join(","));
  assert.ok(
    ops("webgpu").includes("ConvTranspose") && !ops("webgpu").includes("DepthToSpace"),
    ops("webgpu").join(","),
  );
});

/**
 * Hessian-vector products through conv layers: each chain ends in Mul(t, t), so the seeded sum is
 * quadratic in x and central differences with a unit step are exact (float32 rounding only).
 */
const hvpCases: { name: string; node: NodeSpec; w: number[] }[] = [
  {
    name: "Conv stride 1 → square",
    node: { op: "Conv", inputs: ["x", "w"], outputs: ["t"], attrs: { pads: [1, 0, 1, 1] } },
    w: [3, 2, 3, 3],
  },
  {
    name: "Conv stride 2, group 2 → square",
    node: {
      op: "Conv",
      inputs: ["x", "w"],
      outputs: ["t"],
      attrs: { strides: [2, 2], group: 2, pads: [1, 1, 0, 0] },
    },
    w: [4, 1, 3, 3],
  },
  {
    name: "depthwise Conv stride 2, k 5 (polyphase) → square",
    node: {
      op: "Conv",
      inputs: ["x", "w"],
      outputs: ["t"],
      attrs: { strides: [2, 2], group: 2, pads: [2, 1, 2, 2] },
    },
    w: [2, 1, 5, 5],
  },
  {
    name: "ConvTranspose stride 2 → square",
    node: {
      op: "ConvTranspose",
      inputs: ["x", "w"],
      outputs: ["t"],
      attrs: { strides: [2, 2], pads: [1, 0, 0, 1], output_padding: [1, 0] },
    },
    w: [2, 3, 3, 3],
  },
];
for (const { name, node, w } of hvpCases) {
  test(`Hessian-vector product: ${name}`, async () => {
    const model = makeModel({
      inputs: [{ name: "x", dtype: "float32", dims: ["N", 2, 5, 6] }],
      outputs: [{ name: "y", dtype: "float32" }],
      initializers: { w: float32(w, randomValues(size(w))) },
      nodes: [node, { op: "Mul", inputs: ["t", "t"], outputs: ["y"] }],
    });
    const r = await gradcheck(
      model,
      { x: float32([2, 2, 5, 6], randomValues(120)) },
      { wrt: ["x"], hvp: true, eps: 1, rtol: 1e-4 },
    );
    assert.ok(r.worst <= 1, r.message);
  });
}

test("Hessian-vector product of a small CNN: Conv → Tanh → Conv stride 2 → Mul", async () => {
  const model = makeModel({
    inputs: [{ name: "x", dtype: "float32", dims: ["N", 2, 6, 6] }],
    outputs: [{ name: "y", dtype: "float32" }],
    initializers: {
      w1: float32(
        [3, 2, 3, 3],
        randomValues(54).map((v) => v * 0.3),
      ),
      w2: float32(
        [2, 3, 3, 3],
        randomValues(54).map((v) => v * 0.3),
      ),
    },
    nodes: [
      { op: "Conv", inputs: ["x", "w1"], outputs: ["a"], attrs: { pads: [1, 1, 1, 1] } },
      { op: "Tanh", inputs: ["a"], outputs: ["t"] },
      { op: "Conv", inputs: ["t", "w2"], outputs: ["u"], attrs: { strides: [2, 2], pads: [1, 1, 0, 0] } },
      { op: "Mul", inputs: ["u", "u"], outputs: ["y"] },
    ],
  });
  // float32 central differences, eps 1e-2: truncation ~1e-4 relative, rounding ~1e-5/eps
  const r = await gradcheck(
    model,
    { x: float32([2, 2, 6, 6], randomValues(144)) },
    { wrt: ["x"], hvp: true, eps: 1e-2, rtol: 1e-2 },
  );
  assert.ok(r.worst <= 1, r.message);
});

interface TorchConvRef {
  name: string;
  x_dims: number[];
  w_dims: number[];
  y_dims: number[];
  strides: number[];
  pads: number[];
  group: number;
  relu6: boolean;
  x: number[];
  w: number[];
  seed: number[];
  grad: number[];
}

// tools/make_conv_grad_refs.py: torch float64 autograd of Σ seed·y on float32-exact x, w, seed
for (const ref of readJsonFixture<TorchConvRef[]>("conv/conv_grad_refs.json")) {
  test(`Conv input gradient against torch float64 autograd: ${ref.name}`, async () => {
    const nodes: NodeSpec[] = [
      {
        op: "Conv",
        inputs: ["x", "w"],
        outputs: [ref.relu6 ? "a" : "y"],
        attrs: { strides: ref.strides, pads: ref.pads, group: ref.group },
      },
    ];
    if (ref.relu6) nodes.push({ op: "Clip", inputs: ["a", "lo", "hi"], outputs: ["y"] });
    const model = makeModel({
      opset: 17,
      inputs: [{ name: "x", dtype: "float32", dims: ["N", ...ref.x_dims.slice(1)] }],
      outputs: [{ name: "y", dtype: "float32" }],
      initializers: { w: float32(ref.w_dims, ref.w), lo: float32([], [0]), hi: float32([], [6]) },
      nodes,
    });
    const x = float32(ref.x_dims, ref.x);
    const gm = gradientModel(model, {
      wrt: ["x"],
      outputs: ["y"],
      shapes: await probeShapes(backend, model, { x }),
    });
    const session = await backend.createSession(encodeModel(gm.model));
    try {
      const out = await session.run({ x, [gm.seeds[0]!]: float32(ref.y_dims, ref.seed) }, gm.gradients);
      const got = out[gm.gradients[0]!]!.data as Float32Array;
      const scale = Math.max(...ref.grad.map(Math.abs));
      let worst = 0;
      for (let i = 0; i < ref.grad.length; i++)
        worst = Math.max(worst, Math.abs(got[i]! - ref.grad[i]!) / scale);
      assert.equal(got.length, ref.grad.length);
      assert.ok(worst < 1e-5, `${ref.name}: max error ${worst.toExponential(2)} of the largest gradient`);
    } finally {
      await session.dispose();
    }
  });
}
