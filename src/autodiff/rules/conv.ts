/**
 * Gradient rules: Conv and ConvTranspose (1-D, 2-D, 3-D; groups, dilations, strides, pads,
 * auto_pad, output_padding, output_shape).
 *
 * Both ops are linear in X, and the input gradient of one is the other with the same kernel:
 * - Conv, stride 1: a Conv of g with the kernel flipped and in/out channels swapped per group,
 *   pads d(k−1) − p. onnxruntime runs Conv about twice as fast as ConvTranspose, and folds the
 *   weight transform (Reshape/Transpose/Slice on W) into a constant when W is an initializer.
 * - Conv, stride > 1: ConvTranspose(g, W) with the same attributes and the output_padding that
 *   restores the input size; for 2-D depthwise kernels on the CPU a polyphase Conv + DepthToSpace
 *   + Slice instead (onnxruntime has no fast depthwise ConvTranspose).
 * - ConvTranspose: a Conv of g with the same W, strides, dilations, group and pads.
 * So the rules are closed under each other (DepthToSpace, Pad and Slice have rules too) and a
 * second pass gives Hessian-vector products.
 *
 * Pads are made explicit from auto_pad / output_shape using the spatial sizes the shape probe saw
 * (spatial sizes are static in CNNs; batch stays dynamic). Weight gradients are not provided.
 */
import { attrInt, attrInts, attrString, ModelStructureError } from "../../onnx/model.js";
import type { GraphBuilder } from "../builder.js";
import type { GradientRule, RuleContext } from "../registry.js";

/** Per-spatial-axis geometry of a convolution-like op (all arrays have one entry per axis). */
export interface WindowGeometry {
  /** Input spatial sizes (of the op's X). */
  inSizes: number[];
  /** Output spatial sizes (of the op's Y). */
  outSizes: number[];
  kernel: number[];
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  padsEnd: number[];
}

/** Extent of a dilated kernel: (k − 1)·d + 1. */
export function kernelExtent(k: number, d: number): number {
  return (k - 1) * d + 1;
}

/**
 * Explicit begin/end pads of a windowed op (Conv, MaxPool, AveragePool…) whose padding may be
 * given by `auto_pad`. SAME_* follow onnxruntime: total = (out − 1)·s + extent − in (≥ 0), the odd
 * element at the end for SAME_UPPER and at the beginning for SAME_LOWER. `out` is the probe's size.
 */
export function windowPads(
  node: RuleContext["node"],
  inSizes: number[],
  outSizes: number[],
  kernel: number[],
  strides: number[],
  dilations: number[],
): { padsBegin: number[]; padsEnd: number[] } {
  const n = inSizes.length;
  const autoPad = attrString(node, "auto_pad", "NOTSET");
  if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") {
    const padsBegin: number[] = [];
    const padsEnd: number[] = [];
    for (let a = 0; a < n; a++) {
      const total = Math.max(
        0,
        (outSizes[a]! - 1) * strides[a]! + kernelExtent(kernel[a]!, dilations[a]!) - inSizes[a]!,
      );
      const begin = autoPad === "SAME_UPPER" ? Math.floor(total / 2) : total - Math.floor(total / 2);
      padsBegin.push(begin);
      padsEnd.push(total - begin);
    }
    return { padsBegin, padsEnd };
  }
  if (autoPad === "VALID") return { padsBegin: new Array(n).fill(0), padsEnd: new Array(n).fill(0) };
  const pads = attrInts(node, "pads", new Array(2 * n).fill(0));
  return { padsBegin: pads.slice(0, n), padsEnd: pads.slice(n, 2 * n) };
}

/** Spatial attributes with their defaults (one per spatial axis). */
function spatialAttr(node: RuleContext["node"], name: string, n: number, def: number): number[] {
  const v = attrInts(node, name);
  if (!v || v.length === 0) return new Array(n).fill(def);
  if (v.length !== n)
    throw new ModelStructureError(`attribute ${name} has ${v.length} values for ${n} spatial axes`);
  return v;
}

/** Geometry of a Conv node from its attributes and the probe's sizes. */
function convGeometry(ctx: RuleContext): WindowGeometry {
  const { b, node } = ctx;
  const xd = b.dims(ctx.x(0));
  const wd = b.dims(ctx.x(1));
  const yd = b.dims(ctx.y(0));
  const n = xd.length - 2;
  const inSizes = xd.slice(2);
  const outSizes = yd.slice(2);
  const kernel = wd.slice(2);
  const strides = spatialAttr(node, "strides", n, 1);
  const dilations = spatialAttr(node, "dilations", n, 1);
  const { padsBegin, padsEnd } = windowPads(node, inSizes, outSizes, kernel, strides, dilations);
  for (let a = 0; a < n; a++) {
    const expected =
      Math.floor(
        (inSizes[a]! + padsBegin[a]! + padsEnd[a]! - kernelExtent(kernel[a]!, dilations[a]!)) / strides[a]!,
      ) + 1;
    if (expected !== outSizes[a]) {
      throw new ModelStructureError(
        `spatial axis ${a}: input ${inSizes[a]}, pads ${padsBegin[a]}/${padsEnd[a]} give output ${expected}, but the probe saw ${outSizes[a]}`,
      );
    }
  }
  return { inSizes, outSizes, kernel, strides, dilations, padsBegin, padsEnd };
}

/**
 * The kernel of the stride-1 Conv gradient: W [M, C/G, k…] → W' [C, M/G, k…] with
 * W'[g·C/G + c, m, j] = W[g·M/G + m, c, k−1−j]. Emitted as graph ops so a constant W folds.
 */
function flippedKernel(b: GraphBuilder, w: string, inChannels: number, group: number): string {
  const wd = b.dims(w);
  const m = wd[0]!;
  const cPerGroup = wd[1]!;
  const spatial = wd.slice(2);
  let swapped: string;
  if (group === 1) {
    swapped = b.op("Transpose", [w], { perm: [1, 0, ...spatial.map((_, a) => a + 2)] });
  } else {
    // channel swap inside each group: [G, M/G, C/G, k…] → [G, C/G, M/G, k…]
    const grouped = b.op("Reshape", [w, b.int64s([group, m / group, cPerGroup, ...spatial])]);
    const t = b.op("Transpose", [grouped], { perm: [0, 2, 1, ...spatial.map((_, a) => a + 3)] });
    swapped = b.op("Reshape", [t, b.int64s([inChannels, m / group, ...spatial])]);
  }
  const axes = spatial.map((_, a) => a + 2);
  // reversed Slice: start at the last element, end before the first (−k−1 clamps to −1)
  return b.slice(
    swapped,
    spatial.map(() => -1),
    spatial.map((k) => -k - 1),
    axes,
    spatial.map(() => -1),
  );
}

/** ConvTranspose attributes shared by the emitted ops (pads explicit, auto_pad absent). */
function windowAttrs(geo: WindowGeometry, group: number, padsBegin = geo.padsBegin, padsEnd = geo.padsEnd) {
  return {
    kernel_shape: geo.kernel,
    strides: geo.strides,
    dilations: geo.dilations,
    pads: [...padsBegin, ...padsEnd],
    group,
  };
}

/**
 * Input gradient of Conv(X, W) for output gradient g (shaped like Y): the adjoint of the
 * convolution, as a flipped-kernel Conv (stride 1) or a ConvTranspose (any stride).
 */
export function convInputGradient(
  b: GraphBuilder,
  g: string,
  w: string,
  geo: WindowGeometry,
  group: number,
  inChannels: number,
): string {
  const n = geo.kernel.length;
  const flipPads = (p: number[]) => p.map((v, a) => (geo.kernel[a]! - 1) * geo.dilations[a]! - v);
  const flipBegin = flipPads(geo.padsBegin);
  const flipEnd = flipPads(geo.padsEnd);
  const canFlip =
    b.opset >= 10 && geo.strides.every((s) => s === 1) && [...flipBegin, ...flipEnd].every((p) => p >= 0);
  if (canFlip) {
    const wf = flippedKernel(b, w, inChannels, group);
    return b.op("Conv", [g, wf], windowAttrs(geo, group, flipBegin, flipEnd));
  }
  const polyphase = polyphaseInputGradient(b, g, w, geo, group, inChannels);
  if (polyphase) return polyphase;
  // ConvTranspose output = s(out − 1) + output_padding + extent − pb − pe must equal the input size.
  const outputPadding: number[] = [];
  for (let a = 0; a < n; a++) {
    const full = geo.strides[a]! * (geo.outSizes[a]! - 1) + kernelExtent(geo.kernel[a]!, geo.dilations[a]!);
    outputPadding.push(geo.inSizes[a]! + geo.padsBegin[a]! + geo.padsEnd[a]! - full);
  }
  const attrs: Record<string, number | number[]> = windowAttrs(geo, group);
  if (outputPadding.some((p) => p !== 0)) attrs.output_padding = outputPadding;
  return b.op("ConvTranspose", [g, w], attrs);
}

/**
 * The polyphase form of a strided depthwise 2-D Conv's input gradient, for the CPU: one stride-1
 * Conv of g computes all s² phases of X's gradient, a DepthToSpace (CRD) interleaves them and a
 * Slice drops the padded border. onnxruntime has no depthwise ConvTranspose kernel (a 3×3 stride-2
 * depthwise gradient at 112² ran ≈ 3× slower as ConvTranspose than in this form); for dense
 * kernels its ConvTranspose measured faster than the polyphase Conv, which also multiplies zeros
 * where k is not a multiple of s, so they keep it. Let t = i + pb = u·s + r: X[i] meets W[j] at
 * outputs o = (t − j)/s, so only j = r + m·s contribute, and the phase-r gradient is a full
 * convolution of g with the sub-kernel W[r + m·s] (m = 0 … K − 1, K = ⌈k/s⌉, zero beyond k):
 * h_r[u] = Σ_m W[r + m·s]·g[u − m], a Conv of g with that sub-kernel flipped and begin pad K − 1.
 * Output channels are ordered (group, channel, r_h, r_w), which is CRD's depth order, so groups
 * (depthwise included) stay contiguous. The weight transform is graph ops onnxruntime folds.
 * Undefined (ConvTranspose is used) off the CPU, for dense or grouped kernels with more than one
 * input channel per group, dilations, unequal strides, and when not 2-D.
 */
function polyphaseInputGradient(
  b: GraphBuilder,
  g: string,
  w: string,
  geo: WindowGeometry,
  group: number,
  inChannels: number,
): string | undefined {
  const s = geo.strides[0]!;
  if (
    b.device !== "cpu" ||
    b.opset < 11 ||
    geo.kernel.length !== 2 ||
    geo.strides[1] !== s ||
    s < 2 ||
    geo.dilations.some((d) => d !== 1)
  )
    return undefined;
  const [m, cPerGroup] = b.dims(w) as [number, number];
  if (cPerGroup !== 1 || group === 1) return undefined;
  const subKernel = geo.kernel.map((k) => Math.ceil(k / s));
  // phase sequences must reach t = pb + in − 1: u < ⌈(pb + in)/s⌉; the Conv gives out + end pad
  const phaseLength = geo.inSizes.map((n, a) => Math.ceil((geo.padsBegin[a]! + n) / s));
  const endPads = phaseLength.map((u, a) => Math.max(0, u - geo.outSizes[a]!));
  // W [M, C/G, kh, kw] → zero-padded to K·s → [G, M/G, C/G, Kh, s, Kw, s] → flip m_h, m_w
  const padded = b.op("Pad", [
    w,
    b.int64s([0, 0, 0, 0, 0, 0, subKernel[0]! * s - geo.kernel[0]!, subKernel[1]! * s - geo.kernel[1]!]),
  ]);
  const split = b.op("Reshape", [
    padded,
    b.int64s([group, m / group, cPerGroup, subKernel[0]!, s, subKernel[1]!, s]),
  ]);
  const flipped = b.slice(split, [-1, -1], [-subKernel[0]! - 1, -subKernel[1]! - 1], [3, 5], [-1, -1]);
  // → [G, C/G, r_h, r_w, M/G, m_h, m_w] → [C·s², M/G, Kh, Kw]
  const ordered = b.op("Transpose", [flipped], { perm: [0, 2, 4, 6, 1, 3, 5] });
  const kernel = b.op("Reshape", [ordered, b.int64s([inChannels * s * s, m / group, ...subKernel])]);
  const phases = b.op("Conv", [g, kernel], {
    kernel_shape: subKernel,
    pads: [subKernel[0]! - 1, subKernel[1]! - 1, ...endPads],
    group,
  });
  const interleaved = b.op("DepthToSpace", [phases], { blocksize: s, mode: "CRD" });
  const full = geo.outSizes.map((o, a) => (o + endPads[a]!) * s);
  const exact = geo.padsBegin.every((p) => p === 0) && full.every((f, a) => f === geo.inSizes[a]);
  if (exact) return interleaved;
  return b.slice(
    interleaved,
    geo.padsBegin,
    geo.padsBegin.map((p, a) => p + geo.inSizes[a]!),
    [2, 3],
  );
}

/** The gradient of a bias added per output channel: g summed over batch and spatial axes. */
function biasGradient(b: GraphBuilder, g: string): string {
  const rank = b.rank(g);
  return b.reduceSum(g, [0, ...Array.from({ length: rank - 2 }, (_, a) => a + 2)], false);
}

function refuseWeightGradient(ctx: RuleContext): void {
  if (ctx.needs(1)) {
    throw new ModelStructureError(
      "the kernel W depends on a tensor being differentiated; pathlens computes input gradients only, not kernel gradients",
    );
  }
}

const conv: GradientRule = {
  opTypes: ["Conv"],
  backward(ctx) {
    const { b } = ctx;
    refuseWeightGradient(ctx);
    const g = ctx.dy(0)!;
    const group = attrInt(ctx.node, "group", 1);
    const dx = ctx.needs(0)
      ? convInputGradient(b, g, ctx.x(1), convGeometry(ctx), group, b.dims(ctx.x(0))[1]!)
      : undefined;
    const db = ctx.node.input[2] && ctx.needs(2) ? biasGradient(b, g) : undefined;
    return [dx, undefined, db];
  },
};

/**
 * Pads of a ConvTranspose as onnxruntime applies them. With output_shape or SAME_*, the total
 * (s(in−1) + output_padding + extent − out) is split with the odd element at the end for
 * SAME_UPPER and at the beginning otherwise; `out` is the probe's size.
 */
function convTransposeGeometry(ctx: RuleContext): WindowGeometry & { outputPadding: number[] } {
  const { b, node } = ctx;
  const xd = b.dims(ctx.x(0));
  const wd = b.dims(ctx.x(1));
  const yd = b.dims(ctx.y(0));
  const n = xd.length - 2;
  const inSizes = xd.slice(2);
  const outSizes = yd.slice(2);
  const kernel = wd.slice(2);
  const strides = spatialAttr(node, "strides", n, 1);
  const dilations = spatialAttr(node, "dilations", n, 1);
  const outputPadding = spatialAttr(node, "output_padding", n, 0);
  const autoPad = attrString(node, "auto_pad", "NOTSET");
  const derived =
    attrInts(node, "output_shape") !== undefined || autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER";
  const explicit = attrInts(node, "pads", new Array(2 * n).fill(0));
  const padsBegin: number[] = [];
  const padsEnd: number[] = [];
  for (let a = 0; a < n; a++) {
    const full =
      strides[a]! * (inSizes[a]! - 1) + outputPadding[a]! + kernelExtent(kernel[a]!, dilations[a]!);
    const total = full - outSizes[a]!;
    if (derived) {
      const begin = autoPad === "SAME_UPPER" ? Math.floor(total / 2) : total - Math.floor(total / 2);
      padsBegin.push(begin);
      padsEnd.push(total - begin);
    } else if (autoPad === "VALID") {
      padsBegin.push(0);
      padsEnd.push(0);
    } else {
      padsBegin.push(explicit[a]!);
      padsEnd.push(explicit[a + n]!);
    }
    if (padsBegin[a]! + padsEnd[a]! !== total || padsBegin[a]! < 0 || padsEnd[a]! < 0) {
      throw new ModelStructureError(
        `spatial axis ${a}: pads ${padsBegin[a]}/${padsEnd[a]} do not match the output size ${outSizes[a]} the probe saw`,
      );
    }
  }
  return { inSizes, outSizes, kernel, strides, dilations, padsBegin, padsEnd, outputPadding };
}

/**
 * Input gradient of ConvTranspose(X, W) for output gradient g: a Conv of g with the same W,
 * strides, dilations, group and begin pads. X[i] reaches Y at i·s + j·d − pb; the end pad is what
 * makes the last window fit (g is cropped when output_padding left more than a stride unread).
 */
export function convTransposeInputGradient(
  b: GraphBuilder,
  g: string,
  w: string,
  geo: WindowGeometry,
  group: number,
): string {
  const n = geo.kernel.length;
  const padsEnd: number[] = [];
  const cropAxes: number[] = [];
  const cropEnds: number[] = [];
  for (let a = 0; a < n; a++) {
    // length of g the windows read: up to (in − 1)·s + (k − 1)·d − pb
    const read =
      geo.strides[a]! * (geo.inSizes[a]! - 1) +
      kernelExtent(geo.kernel[a]!, geo.dilations[a]!) -
      geo.padsBegin[a]!;
    const out = geo.outSizes[a]!;
    padsEnd.push(Math.max(0, read - out));
    if (out - read >= geo.strides[a]!) {
      cropAxes.push(a + 2);
      cropEnds.push(read);
    }
  }
  const gRead = cropAxes.length
    ? b.slice(
        g,
        cropAxes.map(() => 0),
        cropEnds,
        cropAxes,
      )
    : g;
  return b.op("Conv", [gRead, w], windowAttrs(geo, group, geo.padsBegin, padsEnd));
}

const convTranspose: GradientRule = {
  opTypes: ["ConvTranspose"],
  backward(ctx) {
    const { b } = ctx;
    refuseWeightGradient(ctx);
    const g = ctx.dy(0)!;
    const group = attrInt(ctx.node, "group", 1);
    const dx = ctx.needs(0)
      ? convTransposeInputGradient(b, g, ctx.x(1), convTransposeGeometry(ctx), group)
      : undefined;
    const db = ctx.node.input[2] && ctx.needs(2) ? biasGradient(b, g) : undefined;
    return [dx, undefined, db];
  },
};

/** The conv family's rules. */
export const convRules: GradientRule[] = [conv, convTranspose];
