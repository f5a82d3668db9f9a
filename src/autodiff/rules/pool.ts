/**
 * Gradient rules: MaxPool, AveragePool and LpPool (1-D, 2-D, 3-D; pads, strides, dilations,
 * ceil_mode, auto_pad). GlobalAveragePool belongs to the reduce family.
 *
 * MaxPool, CPU, 2-D float32 with equal strides (most CNNs): the forward keeps its fast one-output
 * MaxPool and g goes to the first element of each window equal to its maximum (a comparison per
 * kernel offset; see routeByParity). Otherwise the forward node is given its Indices output (flat
 * indices into X), and g is sent to those positions. From opset 16 that is one ScatterElements with reduction = add (overlapping
 * windows can pick the same element). Before opset 16 there is no `reduction`: at opsets 11–15 the
 * windows are split into interleaved groups that do not overlap, each placed by a MaxUnpool and
 * the placements summed (float32), or scattered group by group, each scatter adding what the
 * earlier ones placed (float64: onnxruntime's MaxUnpool is float32-only); before opset 11, per
 * kernel offset t, the windows whose argmax sits at offset t send g to distinct positions
 * w·s + t·d − pb, a strided placement made of Reshape/Pad/Slice, and the offsets are summed.
 *
 * AveragePool: g divided by each window's divisor is spread over the window by a ConvTranspose
 * with a ones kernel per channel. The divisors are read off an AveragePool of ones (same
 * attributes; onnxruntime folds it), so every count_include_pad / ceil_mode convention matches.
 * LpPool spreads g·Y^(1−p) the same way and multiplies by |x|^(p−1)·sign(x). MaxUnpool gathers.
 */
import { attrInt, attrInts, dataTypeOf, ModelStructureError, tensorToProto } from "../../onnx/model.js";
import type { NodeProto } from "../../onnx/types.js";
import { tensor } from "../../tensor/tensor.js";
import type { GraphBuilder } from "../builder.js";
import type { GradientRule, RuleContext } from "../registry.js";
import { kernelExtent, type WindowGeometry, windowPads } from "./conv.js";

const product = (v: readonly number[]) => v.reduce((a, b) => a * b, 1);

/** Geometry of a pooling node from its attributes and the probe's sizes. */
function poolGeometry(ctx: RuleContext): WindowGeometry {
  const { b, node } = ctx;
  const inSizes = b.dims(ctx.x(0)).slice(2);
  const outSizes = b.dims(ctx.y(0)).slice(2);
  const n = inSizes.length;
  const kernel = attrInts(node, "kernel_shape");
  if (!kernel || kernel.length !== n) throw new ModelStructureError(`kernel_shape must have ${n} values`);
  const fill = (name: string, def: number) => {
    const v = attrInts(node, name);
    return v && v.length === n ? v : new Array(n).fill(def);
  };
  const strides = fill("strides", 1);
  const dilations = fill("dilations", 1);
  const { padsBegin, padsEnd } = windowPads(node, inSizes, outSizes, kernel, strides, dilations);
  return { inSizes, outSizes, kernel, strides, dilations, padsBegin, padsEnd };
}

/** Emits `opType` with exactly the attributes of `like` (copied, so every convention carries over). */
function opLike(b: GraphBuilder, opType: string, inputs: string[], like: NodeProto): string {
  const out = b.op(opType, inputs);
  b.nodes[b.nodes.length - 1]!.attribute = [...like.attribute];
  return out;
}

/** Constant Pad with zeros (pads as attribute before opset 11, as input after). */
function padZeros(b: GraphBuilder, x: string, begins: number[], ends: number[]): string {
  if ([...begins, ...ends].every((p) => p === 0)) return x;
  if (b.opset >= 11) return b.op("Pad", [x, b.int64s([...begins, ...ends])]);
  return b.op("Pad", [x], { pads: [...begins, ...ends], mode: "constant" });
}

/**
 * Places m [N, C, O…] into a zero tensor [N, C, H…] at positions o·s + q (per spatial axis),
 * dropping positions outside [0, H). Interleave zeros (Reshape to [N, C, O, 1, …], Pad the unit
 * axes to s, Reshape to [N, C, O·s, …]), then crop/pad the ends by the shift q.
 */
function placeStrided(
  b: GraphBuilder,
  m: string,
  outSizes: number[],
  strides: number[],
  shift: number[],
  inSizes: number[],
): string {
  const n = outSizes.length;
  let t = m;
  const lengths = outSizes.map((o, a) => o * strides[a]!);
  if (strides.some((s) => s > 1)) {
    const split: number[] = [];
    const unitEnds: number[] = [];
    for (let a = 0; a < n; a++) {
      split.push(outSizes[a]!);
      unitEnds.push(0);
      if (strides[a]! > 1) {
        split.push(1);
        unitEnds.push(strides[a]! - 1);
      }
    }
    t = b.op("Reshape", [t, b.int64s([0, 0, ...split])]);
    t = padZeros(b, t, new Array(split.length + 2).fill(0), [0, 0, ...unitEnds]);
    t = b.op("Reshape", [t, b.int64s([0, 0, ...lengths])]);
  }
  // t[…, i] holds the value for position i + shift; crop what falls outside, pad the rest
  const starts: number[] = [];
  const ends: number[] = [];
  const axes: number[] = [];
  const padBegin = [0, 0];
  const padEnd = [0, 0];
  for (let a = 0; a < n; a++) {
    const before = shift[a]!;
    const after = inSizes[a]! - lengths[a]! - before;
    if (before < 0 || after < 0) {
      axes.push(a + 2);
      starts.push(Math.max(0, -before));
      ends.push(lengths[a]! - Math.max(0, -after));
    }
    padBegin.push(Math.max(0, before));
    padEnd.push(Math.max(0, after));
  }
  if (axes.length) t = b.slice(t, starts, ends, axes);
  return padZeros(b, t, padBegin, padEnd);
}

/** The forward node's Indices output, added when the model does not already produce it. */
function maxPoolIndices(ctx: RuleContext): string {
  const { b, node } = ctx;
  if (ctx.opset < 8)
    throw new ModelStructureError("MaxPool before opset 8 has no Indices output to route the gradient");
  let indices = node.output[1];
  if (!indices) {
    indices = b.fresh("maxpool_indices");
    node.output[1] = indices;
  }
  if (!b.info.has(indices)) b.setInfo(indices, { dtype: "int64", dims: [...b.dims(ctx.y(0))] });
  return indices;
}

/**
 * Splits flat MaxPool indices into the N·C base and the row-major position inside one image;
 * storage_order = 1 (column-major positions) is converted to row-major here.
 */
function splitIndices(
  b: GraphBuilder,
  indices: string,
  inSizes: number[],
  columnMajor: boolean,
): { base: string; local: string } {
  const area = b.int64s([product(inSizes)]);
  const base = b.op("Mul", [b.op("Div", [indices, area]), area]);
  let local = b.op("Sub", [indices, base]);
  if (columnMajor && inSizes.length > 1) {
    // column-major: position = Σ c_a · Π_{b<a} size_b; row-major: Σ c_a · Π_{b>a} size_b
    let rowMajor: string | undefined;
    let colStride = 1;
    for (let a = 0; a < inSizes.length; a++) {
      const coord = b.op("Sub", [
        b.op("Div", [local, b.int64s([colStride])]),
        b.op("Mul", [b.op("Div", [local, b.int64s([colStride * inSizes[a]!])]), b.int64s([inSizes[a]!])]),
      ]);
      const term = b.op("Mul", [coord, b.int64s([product(inSizes.slice(a + 1))])]);
      rowMajor = rowMajor ? b.op("Add", [rowMajor, term]) : term;
      colStride *= inSizes[a]!;
    }
    local = rowMajor!;
  }
  return { base, local };
}

/** Opset ≥ 16: ScatterElements(zeros[N·C·H·W], indices, g, reduction = add), reshaped to X. */
function scatterAdd(b: GraphBuilder, x: string, indices: string, g: string): string {
  const flat = b.int64s([-1]);
  const zero = tensorToProto("value", tensor(b.dtype(x), [1]));
  const zeros = b.op("Reshape", [b.op("ConstantOfShape", [b.shape(x)], { value: zero }), flat]);
  const idx = b.op("Reshape", [indices, flat]);
  const scattered = b.op("ScatterElements", [zeros, idx, b.op("Reshape", [g, flat])], {
    axis: 0,
    reduction: "add",
  });
  return b.reshapeLike(scattered, x);
}

/**
 * Before opset 16: for each kernel offset t, the windows whose argmax is at offset t (local index
 * equal to the expected one) route g to w·s + t·d − pb, which is injective in w.
 */
function routeByOffset(b: GraphBuilder, x: string, local: string, g: string, geo: WindowGeometry): string {
  const n = geo.inSizes.length;
  const zero = b.scalarLike(0, x);
  const rowStrides = geo.inSizes.map((_, a) => product(geo.inSizes.slice(a + 1)));
  const parts: string[] = [];
  const windows = product(geo.outSizes);
  const offsets = product(geo.kernel);
  for (let t = 0; t < offsets; t++) {
    const off = unravel(t, geo.kernel);
    const shift = off.map((o, a) => o * geo.dilations[a]! - geo.padsBegin[a]!);
    // expected local index of offset t in each window; −1 where it falls in the padding
    const expected = new BigInt64Array(windows);
    let any = false;
    for (let w = 0; w < windows; w++) {
      const pos = unravel(w, geo.outSizes);
      let flatPos = 0;
      let inside = true;
      for (let a = 0; a < n; a++) {
        const p = pos[a]! * geo.strides[a]! + shift[a]!;
        if (p < 0 || p >= geo.inSizes[a]!) inside = false;
        flatPos += p * rowStrides[a]!;
      }
      expected[w] = inside ? BigInt(flatPos) : -1n;
      any ||= inside;
    }
    if (!any) continue;
    const hit = b.op("Equal", [local, b.constant(tensor("int64", geo.outSizes, expected), "maxpool_offset")]);
    const routed = b.op("Where", [hit, g, zero]);
    parts.push(placeStrided(b, routed, geo.outSizes, geo.strides, shift, geo.inSizes));
  }
  return b.sum(parts);
}

/**
 * WebGPU (its MaxPool has no Indices output, and scatters run on the CPU): per kernel offset t,
 * the elements X_t at offset t of every window — a strided slice of X padded with −∞ — that equal
 * the window's maximum Y and were not claimed by an earlier offset receive g (so ties go to the
 * first maximum in row-major window order, as onnxruntime's Indices do); each offset's share is
 * placed back by {@link placeStrided} and the shares are added. X_t ≤ Y always, so "equal" is
 * "not less", which needs no float Equal (opset 11). Only Pad, Slice, Less, Cast, Mul, Sub,
 * Reshape and Add: all run on the GPU, all have rules (the mask is not differentiated).
 */
function routeByComparison(b: GraphBuilder, x: string, y: string, g: string, geo: WindowGeometry): string {
  if (b.opset < 10)
    throw new ModelStructureError("the MaxPool gradient for WebGPU needs opset ≥ 10 (strided Slice)");
  const n = geo.inSizes.length;
  const padsEnd = geo.inSizes.map((size, a) =>
    Math.max(
      0,
      geo.strides[a]! * (geo.outSizes[a]! - 1) +
        kernelExtent(geo.kernel[a]!, geo.dilations[a]!) -
        geo.padsBegin[a]! -
        size,
    ),
  );
  const lowest = b.scalarLike(Number.NEGATIVE_INFINITY, x);
  const pads = [0, 0, ...geo.padsBegin, 0, 0, ...padsEnd];
  const padded = pads.every((p) => p === 0)
    ? x
    : b.opset >= 11
      ? b.op("Pad", [x, b.int64s(pads), lowest])
      : b.op("Pad", [x], { pads, mode: "constant", value: Number.NEGATIVE_INFINITY }, { floats: ["value"] });
  const axes = Array.from({ length: n }, (_, a) => a + 2);
  const one = b.scalarLike(1, x);
  const cast = { to: dataTypeOf(b.dtype(x)) };
  let unclaimed: string | undefined;
  const parts: string[] = [];
  for (let t = 0; t < product(geo.kernel); t++) {
    const off = unravel(t, geo.kernel);
    const starts = off.map((o, a) => o * geo.dilations[a]!);
    const ends = starts.map((st, a) => st + (geo.outSizes[a]! - 1) * geo.strides[a]! + 1);
    const xt = b.slice(padded, starts, ends, axes, geo.strides);
    const hit = b.op("Sub", [one, b.op("Cast", [b.op("Less", [xt, y])], cast)]);
    const claim = unclaimed ? b.op("Mul", [hit, unclaimed]) : hit;
    unclaimed = b.op("Sub", [unclaimed ?? one, claim]);
    const shift = off.map((o, a) => o * geo.dilations[a]! - geo.padsBegin[a]!);
    parts.push(placeStrided(b, b.op("Mul", [g, claim]), geo.outSizes, geo.strides, shift, geo.inSizes));
  }
  return b.sum(parts);
}

/**
 * CPU, 2-D, equal strides s, float32, opset ≥ 11: the forward keeps its one-output MaxPool
 * (onnxruntime runs it in its blocked NCHWc layout; with an Indices output it falls back to a far
 * slower NCHW kernel). Per kernel offset t, in row-major window order, the windows whose element
 * X_t is not below the maximum Y claim what is left of g: below = Cast(X_t < Y),
 * rest' = rest·below, share_t = rest − rest'; the last offset takes the rest (a window's maximum
 * is one of its elements). So ties go to the first maximum, as onnxruntime's Indices do. X_t is a
 * contiguous channel block of SpaceToDepth(X padded with −∞ to whole blocks of s). Offset t lands
 * on the input elements of one residue class r = (t·d − pb) mod s per axis, shifted by
 * q = ⌊(t·d − pb)/s⌋ windows: each class sums its shares at window resolution, and one Concat +
 * DepthToSpace interleaves the s² classes back into X's layout — no full-size tensor per offset.
 * Measured on resnet18's stem pool (batch 16, 112², kernel 3 stride 2): ≈ 20 % less time for
 * forward + gradient than MaxPool-with-Indices + MaxUnpool groups. Undefined when the geometry
 * does not fit (other ranks, unequal strides, float64, a residue class no window reaches).
 */
function routeByParity(
  b: GraphBuilder,
  x: string,
  y: string,
  g: string,
  geo: WindowGeometry,
): string | undefined {
  const s = geo.strides[0]!;
  if (geo.inSizes.length !== 2 || geo.strides[1] !== s || b.opset < 11 || b.dtype(x) !== "float32")
    return undefined;
  const offsets = product(geo.kernel);
  const landing = (t: number) =>
    unravel(t, geo.kernel).map((o, a) => o * geo.dilations[a]! - geo.padsBegin[a]!);
  const residueOf = (at: number[]) => at.map((v) => ((v % s) + s) % s);
  const reached = new Set(Array.from({ length: offsets }, (_, t) => residueOf(landing(t)).join()));
  if (reached.size !== s * s) return undefined; // a residue class no window reaches (kernel < stride)
  const classSizes = geo.inSizes.map((h) => Math.ceil(h / s));
  // X padded with −∞ to whole blocks of s, then split into its s² residue classes (SpaceToDepth):
  // the elements at offset t of every window are then one contiguous channel block of it
  const padsEnd = geo.inSizes.map((size, a) => {
    const needed = s * (geo.outSizes[a]! - 1) + kernelExtent(geo.kernel[a]!, geo.dilations[a]!);
    const total = Math.max(needed, geo.padsBegin[a]! + size);
    return Math.ceil(total / s) * s - geo.padsBegin[a]! - size;
  });
  const pads = [0, 0, ...geo.padsBegin, 0, 0, ...padsEnd];
  const padded = pads.every((p) => p === 0)
    ? x
    : b.op("Pad", [x, b.int64s(pads), b.scalarLike(Number.NEGATIVE_INFINITY, x)]);
  const blocks = s === 1 ? padded : b.op("SpaceToDepth", [padded], { blocksize: s });
  const channels = b.dims(x)[1]!;
  const classes = new Map<number, string[]>();
  let rest = g;
  for (let t = 0; t < offsets; t++) {
    // the last offset takes what no earlier one claimed: a window's maximum is one of its elements
    let share = rest;
    if (t + 1 < offsets) {
      const pos = unravel(t, geo.kernel).map((o, a) => o * geo.dilations[a]!);
      const block = ((pos[0]! % s) * s + (pos[1]! % s)) * channels;
      const first = pos.map((p) => Math.floor(p / s));
      const xt = b.slice(
        blocks,
        [block, ...first],
        [block + channels, ...first.map((f, a) => f + geo.outSizes[a]!)],
        [1, 2, 3],
      );
      const below = b.op("Cast", [b.op("Less", [xt, y])], { to: dataTypeOf(b.dtype(x)) });
      const next = b.op("Mul", [rest, below]);
      share = b.op("Sub", [rest, next]);
      rest = next;
    }
    const at = landing(t);
    const residue = residueOf(at);
    const shift = at.map((v) => Math.floor(v / s));
    const key = residue[0]! * s + residue[1]!;
    const placed = shiftWindows(b, share, geo.outSizes, shift, classSizes);
    classes.set(key, [...(classes.get(key) ?? []), placed]);
  }
  const parts = Array.from({ length: s * s }, (_, k) => b.sum(classes.get(k)!));
  if (s === 1) return parts[0]!;
  const joined = b.op("DepthToSpace", [b.concat(parts, 1)], { blocksize: s, mode: "DCR" });
  const full = classSizes.map((c) => c * s);
  if (full.every((f, a) => f === geo.inSizes[a])) return joined;
  return b.slice(joined, [0, 0], geo.inSizes, [2, 3]);
}

/** v [N, C, O…] moved by `shift` windows into a zero tensor [N, C, sizes…] (what falls outside is dropped). */
function shiftWindows(
  b: GraphBuilder,
  v: string,
  outSizes: number[],
  shift: number[],
  sizes: number[],
): string {
  const starts: number[] = [];
  const ends: number[] = [];
  const axes: number[] = [];
  const padBegin = [0, 0];
  const padEnd = [0, 0];
  outSizes.forEach((o, a) => {
    const before = shift[a]!;
    const after = sizes[a]! - o - before;
    if (before < 0 || after < 0) {
      axes.push(a + 2);
      starts.push(Math.max(0, -before));
      ends.push(o - Math.max(0, -after));
    }
    padBegin.push(Math.max(0, before));
    padEnd.push(Math.max(0, after));
  });
  const cropped = axes.length ? b.slice(v, starts, ends, axes) : v;
  return padZeros(b, cropped, padBegin, padEnd);
}

/**
 * Opsets 11–15 (no scatter reduction): windows m = ⌈extent/stride⌉ apart never overlap, so the
 * windows are split into Π m interleaved groups (a strided Slice of g and of the indices each),
 * within which the argmax positions are distinct. float32: each group is placed by a MaxUnpool
 * (zeros, then the group's g at its argmax positions) and the placements are summed — on
 * onnxruntime CPU ≈ 1.5× faster than a scatter chain, as each ScatterElements copies its whole
 * accumulator. float64 (onnxruntime's MaxUnpool is float32-only): a plain ScatterElements places
 * each group's g plus what earlier groups already put there (a GatherElements), which makes the
 * chain an exact scatter-add. Closed: MaxUnpool ↔ GatherElements, ScatterElements ↔ GatherElements.
 */
function scatterGroups(b: GraphBuilder, x: string, indices: string, g: string, geo: WindowGeometry): string {
  const groups = windowGroups(b, indices, g, geo);
  // MaxUnpool checks output_shape against its attributes (kernel 1, stride 1: at least the group's
  // window count per axis), which only an odd pad-heavy pool could exceed
  const fits = groups.every((w) => w.sizes.every((o, a) => o <= geo.inSizes[a]!));
  if (b.dtype(x) === "float32" && fits) {
    const shape = b.shape(x);
    const ones = new Array(geo.inSizes.length).fill(1);
    const parts = groups.map((w) =>
      b.op("MaxUnpool", [w.values, w.indices, shape], { kernel_shape: ones, strides: ones }),
    );
    return parts.length === 1 ? parts[0]! : b.op("Sum", parts);
  }
  const flat = b.int64s([-1]);
  const zero = tensorToProto("value", tensor(b.dtype(x), [1]));
  let acc = b.op("Reshape", [b.op("ConstantOfShape", [b.shape(x)], { value: zero }), flat]);
  groups.forEach((w, k) => {
    const idx = b.op("Reshape", [w.indices, flat]);
    let values = b.op("Reshape", [w.values, flat]);
    if (k > 0) values = b.op("Add", [values, b.op("GatherElements", [acc, idx], { axis: 0 })]);
    acc = b.op("ScatterElements", [acc, idx, values], { axis: 0 });
  });
  return b.reshapeLike(acc, x);
}

/** The non-overlapping window groups of a pool: indices and g of each, and its window counts. */
function windowGroups(
  b: GraphBuilder,
  indices: string,
  g: string,
  geo: WindowGeometry,
): { indices: string; values: string; sizes: number[] }[] {
  const n = geo.inSizes.length;
  const m = geo.kernel.map((k, a) => Math.ceil(kernelExtent(k, geo.dilations[a]!) / geo.strides[a]!));
  if (m.every((v) => v === 1)) return [{ indices, values: g, sizes: geo.outSizes }];
  const axes = Array.from({ length: n }, (_, a) => a + 2);
  const ends = new Array(n).fill(Number.MAX_SAFE_INTEGER);
  const groups: { indices: string; values: string; sizes: number[] }[] = [];
  for (let t = 0; t < product(m); t++) {
    const start = unravel(t, m);
    if (start.some((p, a) => p >= geo.outSizes[a]!)) continue;
    groups.push({
      indices: b.slice(indices, start, ends, axes, m),
      values: b.slice(g, start, ends, axes, m),
      sizes: geo.outSizes.map((o, a) => Math.ceil((o - start[a]!) / m[a]!)),
    });
  }
  return groups;
}

/** Row-major multi-index of flat index k in dims. */
function unravel(k: number, dims: readonly number[]): number[] {
  const out = new Array<number>(dims.length);
  for (let a = dims.length - 1; a >= 0; a--) {
    out[a] = k % dims[a]!;
    k = Math.floor(k / dims[a]!);
  }
  return out;
}

const maxPool: GradientRule = {
  opTypes: ["MaxPool"],
  backward(ctx) {
    const { b } = ctx;
    const g = ctx.dy(0);
    if (!g) return [undefined];
    const x = ctx.x(0);
    if (b.device === "webgpu") return [routeByComparison(b, x, ctx.y(0), g, poolGeometry(ctx))];
    if (!ctx.node.output[1]) {
      const routed = routeByParity(b, x, ctx.y(0), g, poolGeometry(ctx));
      if (routed) return [routed];
    }
    const indices = maxPoolIndices(ctx);
    const columnMajor = attrInt(ctx.node, "storage_order", 0) === 1;
    const geo = poolGeometry(ctx);
    if (ctx.opset >= 16) {
      const rowMajor = columnMajor
        ? (() => {
            const { base, local } = splitIndices(b, indices, geo.inSizes, true);
            return b.op("Add", [base, local]);
          })()
        : indices;
      return [scatterAdd(b, x, rowMajor, g)];
    }
    if (ctx.opset >= 11) {
      const flatIndices = columnMajor
        ? (() => {
            const { base, local } = splitIndices(b, indices, geo.inSizes, true);
            return b.op("Add", [base, local]);
          })()
        : indices;
      return [scatterGroups(b, x, flatIndices, g, geo)];
    }
    const { local } = splitIndices(b, indices, geo.inSizes, columnMajor);
    return [routeByOffset(b, x, local, g, geo)];
  },
};

/**
 * Σ over the windows containing each input element of the per-window values v [N, C, O…]:
 * ConvTranspose(v, ones[C, 1, k…], group C). It must give back the input size: its end pad
 * absorbs a ceil_mode window that overhangs the padded input, output_padding the input elements
 * no window reached.
 */
function spreadOverWindows(b: GraphBuilder, v: string, x: string, geo: WindowGeometry): string {
  const n = geo.inSizes.length;
  const channels = b.dims(x)[1]!;
  const kernel = tensor(b.dtype(x), [channels, 1, ...geo.kernel]);
  (kernel.data as Float32Array).fill(1);
  const padsEnd: number[] = [];
  const outputPadding: number[] = [];
  for (let a = 0; a < n; a++) {
    const reach =
      geo.strides[a]! * (geo.outSizes[a]! - 1) +
      kernelExtent(geo.kernel[a]!, geo.dilations[a]!) -
      geo.padsBegin[a]!;
    padsEnd.push(Math.max(0, reach - geo.inSizes[a]!));
    outputPadding.push(Math.max(0, geo.inSizes[a]! - reach));
  }
  const attrs: Record<string, number | number[]> = {
    kernel_shape: geo.kernel,
    strides: geo.strides,
    dilations: geo.dilations,
    pads: [...geo.padsBegin, ...padsEnd],
    group: channels,
  };
  if (outputPadding.some((p) => p !== 0)) attrs.output_padding = outputPadding;
  return b.op("ConvTranspose", [v, b.constant(kernel, "ones_kernel")], attrs);
}

/** AveragePool: dX = Σ over windows of g / divisor. */
const averagePool: GradientRule = {
  opTypes: ["AveragePool"],
  backward(ctx) {
    const { b, node } = ctx;
    const x = ctx.x(0);
    const geo = poolGeometry(ctx);
    const n = geo.inSizes.length;
    const dtype = b.dtype(x);
    // 1 / divisor per window = AveragePool(ones) / (input elements inside the window)
    const ones = tensor(dtype, [1, 1, ...geo.inSizes]);
    (ones.data as Float32Array).fill(1);
    const meanOfOnes = opLike(b, "AveragePool", [b.constant(ones, "ones")], node);
    const inverseInside = tensor(dtype, [1, 1, ...geo.outSizes]);
    const windows = product(geo.outSizes);
    for (let w = 0; w < windows; w++) {
      const pos = unravel(w, geo.outSizes);
      let inside = 1;
      for (let a = 0; a < n; a++) {
        let count = 0;
        for (let j = 0; j < geo.kernel[a]!; j++) {
          const p = pos[a]! * geo.strides[a]! + j * geo.dilations[a]! - geo.padsBegin[a]!;
          if (p >= 0 && p < geo.inSizes[a]!) count++;
        }
        inside *= count;
      }
      (inverseInside.data as Float32Array)[w] = inside > 0 ? 1 / inside : 0;
    }
    const perWindow = b.op("Mul", [meanOfOnes, b.constant(inverseInside, "inverse_inside")]);
    return [spreadOverWindows(b, b.op("Mul", [ctx.dy(0)!, perWindow]), x, geo)];
  },
};

/**
 * LpPool, Y = (Σ_window |x|^p)^(1/p): ∂Y/∂x = |x|^(p−1)·sign(x)·Y^(1−p), so
 * dX = |x|^(p−1)·sign(x) ⊙ Σ over windows of g·Y^(1−p). Windows with Y = 0 pass nothing
 * (every element of them is 0, where the derivative is 0 for p > 1).
 */
const lpPool: GradientRule = {
  opTypes: ["LpPool"],
  backward(ctx) {
    const { b } = ctx;
    const x = ctx.x(0);
    const y = ctx.y(0);
    const p = attrInt(ctx.node, "p", 2);
    if (p < 1) throw new ModelStructureError(`LpPool with p = ${p} is not supported`);
    const geo = poolGeometry(ctx);
    const zero = b.scalarLike(0, y);
    const positive = b.op("Greater", [y, zero]);
    // Y^(1−p) where Y > 0 (Y replaced by 1 elsewhere so nothing divides by zero)
    const safeY = b.op("Where", [positive, y, b.scalarLike(1, y)]);
    const perWindow =
      p === 1
        ? ctx.dy(0)!
        : b.op("Div", [ctx.dy(0)!, p === 2 ? safeY : b.op("Pow", [safeY, b.scalarLike(p - 1, y)])]);
    const spread = spreadOverWindows(b, b.op("Where", [positive, perWindow, zero]), x, geo);
    const local =
      p === 1
        ? b.op("Sign", [x])
        : p === 2
          ? x
          : b.op("Mul", [b.op("Pow", [b.op("Abs", [x]), b.scalarLike(p - 1, x)]), b.op("Sign", [x])]);
    return [b.op("Mul", [local, spread])];
  },
};

/**
 * MaxUnpool(X, I) writes X[k] to flat position I[k] of a zero output, so dX[k] = g_flat[I[k]]:
 * a GatherElements on the flattened gradient (closed: GatherElements ↔ ScatterElements).
 */
const maxUnpool: GradientRule = {
  opTypes: ["MaxUnpool"],
  backward(ctx) {
    const { b } = ctx;
    const flat = b.int64s([-1]);
    const gathered = b.op(
      "GatherElements",
      [b.op("Reshape", [ctx.dy(0)!, flat]), b.op("Reshape", [ctx.x(1), flat])],
      { axis: 0 },
    );
    return [b.reshapeLike(gathered, ctx.x(0))];
  },
};

/** The pool family's rules. */
export const poolRules: GradientRule[] = [maxPool, averagePool, lpPool, maxUnpool];
