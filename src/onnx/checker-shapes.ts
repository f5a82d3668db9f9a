/**
 * Static shape checks the checker can make cheaply, from declared shapes only (graph inputs,
 * value_info, initializer dims): Conv input channels against the weight and group, Conv bias
 * length, Gemm/MatMul inner dimensions and the Gemm bias. A dimension that is unknown or
 * symbolic is never a mismatch; onnxruntime checks the rest at run time.
 */
import { attrInt, describeNode } from "./model.js";
import type { GraphProto, NodeProto } from "./types.js";

type Dims = (number | undefined)[];

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

const fmt = (d: Dims) => `[${d.map((x) => x ?? "?").join(", ")}]`;

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

/** Shape mismatches found from declared shapes in the top-level graph, one line each. */
export function staticShapeProblems(g: GraphProto): string[] {
  const shapes = knownShapes(g);
  const out: string[] = [];
  for (const n of g.node) {
    const check = (n.domain ?? "") === "" ? CHECKS[n.opType ?? ""] : undefined;
    if (check) out.push(...check(n, (i) => (n.input[i] ? shapes.get(n.input[i]!) : undefined)));
  }
  return out;
}
