/**
 * Static shape checks, as ONNX shape inference makes them, from declared shapes (graph inputs,
 * value_info, initializer dims) propagated node by node through the common ops (element-wise,
 * broadcasting, Conv/pooling, Gemm/MatMul, Flatten, Reshape, Transpose): Conv input
 * channels against the weight and group, Conv bias length, Gemm/MatMul inner dimensions, the Gemm
 * bias, broadcasting, Reshape element counts and kernels larger than their (padded) input. A
 * dimension that is unknown or symbolic is never a mismatch; onnxruntime checks the rest at run
 * time. Linear in the number of nodes.
 */
import { propagateShape, reshapeProblems } from "./checker-shape-infer.js";
import { attrInt, attrInts, describeNode, tensorFromProto } from "./model.js";
import type { GraphProto, NodeProto } from "./types.js";

/** A shape with unknown (symbolic) dimensions as undefined. */
export type Dims = (number | undefined)[];

function knownShapes(g: GraphProto): Map<string, Dims> {
  const shapes = new Map<string, Dims>();
  for (const v of [...g.input, ...g.valueInfo, ...g.output]) {
    const dims = v.type?.tensorType?.shape?.dim;
    if (v.name && dims)
      shapes.set(
        v.name,
        dims.map((d) => (d.dimValue !== undefined ? Number(d.dimValue) : undefined)),
      );
  }
  for (const t of g.initializer) if (t.name) shapes.set(t.name, t.dims.map(Number));
  return shapes;
}

/** A shape for messages: `[1, ?, 8]`. */
export const fmt = (d: Dims) => `[${d.map((x) => x ?? "?").join(", ")}]`;

function convProblems(n: NodeProto, s: (i: number) => Dims | undefined): string[] {
  const [x, w, b] = [s(0), s(1), s(2)];
  const out: string[] = [];
  const group = attrInt(n, "group", 1);
  if (w && w.length >= 3) {
    if (group < 1 || (w[0] !== undefined && w[0] % group !== 0))
      out.push(`${describeNode(n)}: group ${group} does not divide the weight's ${w[0]} output channels`);
    if (x && x.length === w.length && x[1] !== undefined && w[1] !== undefined && x[1] !== w[1] * group)
      out.push(
        `${describeNode(n)}: input "${n.input[0]}" has ${x[1]} channels ${fmt(x)}, weight "${n.input[1]}" ${fmt(w)} with group ${group} expects ${w[1] * group}`,
      );
    const kernel = attrInts(n, "kernel_shape", []);
    if (kernel.length > 0 && kernel.some((k, i) => w[2 + i] !== undefined && w[2 + i] !== k))
      out.push(
        `${describeNode(n)}: kernel_shape [${kernel.join(", ")}] does not match weight "${n.input[1]}" ${fmt(w)}`,
      );
    if (b && (b.length !== 1 || (b[0] !== undefined && w[0] !== undefined && b[0] !== w[0])))
      out.push(
        `${describeNode(n)}: bias "${n.input[2]}" ${fmt(b)} does not match the weight's ${w[0]} output channels`,
      );
  }
  return out;
}

function gemmProblems(n: NodeProto, s: (i: number) => Dims | undefined): string[] {
  const [a, b, c] = [s(0), s(1), s(2)];
  if (b?.length !== 2) return [];
  const transA = attrInt(n, "transA", 0) !== 0;
  const transB = attrInt(n, "transB", 0) !== 0;
  const [kB, nB] = transB ? [b[1], b[0]] : [b[0], b[1]];
  const out: string[] = [];
  let m: number | undefined;
  if (a && a.length === 2) {
    const kA = transA ? a[0] : a[1];
    m = transA ? a[1] : a[0];
    if (kA !== undefined && kB !== undefined && kA !== kB)
      out.push(
        `${describeNode(n)}: "${n.input[0]}" ${fmt(a)} and "${n.input[1]}" ${fmt(b)} disagree on the inner dimension (${kA} vs ${kB})`,
      );
  }
  if (c) {
    const last = c[c.length - 1];
    const first = c.length === 2 ? c[0] : 1;
    const bad =
      c.length > 2 ||
      (last !== undefined && nB !== undefined && last !== 1 && last !== nB) ||
      (first !== undefined && m !== undefined && first !== 1 && first !== m);
    if (bad)
      out.push(
        `${describeNode(n)}: bias "${n.input[2]}" ${fmt(c)} does not broadcast to the output [${m ?? "?"}, ${nB ?? "?"}]`,
      );
  }
  return out;
}

function matMulProblems(n: NodeProto, s: (i: number) => Dims | undefined): string[] {
  const [a, b] = [s(0), s(1)];
  if (!a || !b || a.length < 1 || b.length < 2) return [];
  const kA = a[a.length - 1];
  const kB = b[b.length - 2];
  return kA !== undefined && kB !== undefined && kA !== kB
    ? [
        `${describeNode(n)}: "${n.input[0]}" ${fmt(a)} and "${n.input[1]}" ${fmt(b)} disagree on the inner dimension (${kA} vs ${kB})`,
      ]
    : [];
}

const CHECKS: Record<string, (n: NodeProto, s: (i: number) => Dims | undefined) => string[]> = {
  Conv: convProblems,
  ConvTranspose: (n, s) => {
    const [x, w] = [s(0), s(1)];
    return x && w && x.length === w.length && x[1] !== undefined && w[0] !== undefined && x[1] !== w[0]
      ? [
          `${describeNode(n)}: input "${n.input[0]}" has ${x[1]} channels ${fmt(x)}, weight "${n.input[1]}" ${fmt(w)} expects ${w[0]}`,
        ]
      : [];
  },
  Gemm: gemmProblems,
  MatMul: matMulProblems,
};

/** Small int64 constants (Reshape shapes and the like), by tensor name. */
function smallIntConstants(g: GraphProto): Map<string, number[]> {
  const values = new Map<string, number[]>();
  const take = (name: string | undefined, t: Parameters<typeof tensorFromProto>[0] | undefined) => {
    if (!name || !t || t.dataType !== 7 || t.dims.length > 1 || Number(t.dims[0] ?? 1) > 64) return;
    try {
      values.set(name, Array.from(tensorFromProto(t).data as BigInt64Array, Number));
    } catch {
      // Malformed data is the tensor pass's to report.
    }
  };
  for (const t of g.initializer) take(t.name, t);
  for (const n of g.node)
    if (n.opType === "Constant" && (n.domain ?? "") === "")
      take(n.output[0], n.attribute.find((a) => a.name === "value")?.t);
  return values;
}

/** Most elements a shape built from constants (Expand, ConstantOfShape) may have: 2³¹ (8 GiB of float32). */
export const MAX_BUILT_ELEMENTS = 2 ** 31;

/** Expand / ConstantOfShape to a constant shape too large to allocate, caught before onnxruntime tries. */
function allocationProblems(n: NodeProto, constants: ReadonlyMap<string, number[]>): string[] {
  if (n.opType !== "Expand" && n.opType !== "ConstantOfShape") return [];
  const name = n.input[n.opType === "Expand" ? 1 : 0] ?? "";
  const shape = constants.get(name);
  if (!shape) return [];
  if (shape.some((d) => d < 0 || !Number.isSafeInteger(d)))
    return [
      `${describeNode(n)}: shape "${name}" [${shape.join(", ")}] has a negative or out-of-range dimension`,
    ];
  const count = shape.reduce((a, d) => a * Math.max(d, 1), 1);
  return count > MAX_BUILT_ELEMENTS
    ? [
        `${describeNode(n)}: shape "${name}" [${shape.join(", ")}] makes ${count.toExponential(2)} elements, more than the ${MAX_BUILT_ELEMENTS.toExponential(2)} pathlens lets a model allocate`,
      ]
    : [];
}

/** Shape mismatches in the top-level graph, shapes propagated in node order; one line each. */
export function staticShapeProblems(g: GraphProto): string[] {
  const shapes = knownShapes(g);
  const constants = smallIntConstants(g);
  const out: string[] = [];
  for (const n of g.node) {
    if ((n.domain ?? "") !== "" && n.domain !== "ai.onnx") continue;
    const s = (i: number) => (n.input[i] ? shapes.get(n.input[i]!) : undefined);
    const check = CHECKS[n.opType ?? ""];
    const found = check ? check(n, s) : [];
    if (n.opType === "Reshape") found.push(...reshapeProblems(n, s(0), constants.get(n.input[1] ?? "")));
    found.push(...allocationProblems(n, constants));
    out.push(...found);
    if (found.length > 0) continue;
    const result = propagateShape(n, s, constants);
    if (result.problem) out.push(`${describeNode(n)}: ${result.problem}`);
    else if (result.shape && n.output[0] && !shapes.has(n.output[0])) shapes.set(n.output[0], result.shape);
  }
  return out;
}
