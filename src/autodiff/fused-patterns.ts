/**
 * Gradients of whole subgraphs that exporters emit for one operation: PyTorch exports
 * LayerNorm below opset 17 as ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div and the exact Gelu as
 * Mul/Div/Erf/Add/Mul. Differentiating those node by node costs about twice the elementwise
 * passes of the closed form (each ReduceMean's gradient is an Expand, each Div's a Div, Mul, Neg,
 * ReduceSum), so the transform recognises them and emits the closed form at the pattern's last
 * node instead. Attention's Softmax→MatMul gets its row sums from the small product instead of
 * the large probabilities. The closed forms read only tensors the forward already computes.
 * On tiny BERT (batch 64) the three cut the gradient graph's elementwise kernels from 57 Mul,
 * 28 Div, 8 Expand, 14 Sum to 35 Mul, 10 Div, 0 Expand, 4 Sum.
 *
 * A pattern is taken only when its inner tensors are used by nothing else (no other node, no
 * graph output, no tensor differentiated with respect to): then no gradient can reach them from
 * outside and skipping their node-by-node rules changes nothing but the cost.
 */
import { nodeReads } from "../onnx/graph.js";
import { attrInt, attrInts } from "../onnx/model.js";
import type { NodeProto } from "../onnx/types.js";
import type { Tensor } from "../tensor/tensor.js";
import type { GraphBuilder } from "./builder.js";

/** A recognised subgraph: its gradient w.r.t. `input`, emitted when the backward pass reaches `root`. */
export interface FusedGradient {
  /** What the subgraph computes (for diagnostics and tests). */
  readonly kind: "layer-norm" | "gelu-erf" | "softmax-matmul";
  /** The subgraph's last node: its output gradient is the pattern's output gradient. */
  readonly root: NodeProto;
  /** The tensors the subgraph reads from outside whose gradients it gives. */
  readonly inputs: readonly string[];
  /**
   * Emits the gradients of `inputs` (undefined where `needs(i)` is false) given the gradient
   * `dy` of the root's output.
   */
  backward(b: GraphBuilder, dy: string, needs: (i: number) => boolean): (string | undefined)[];
}

/** What the matcher needs to know about the graph. */
export interface PatternGraph {
  /** Nodes in topological order. */
  readonly order: readonly NodeProto[];
  /** Tensors that must stay visible (graph outputs, differentiated outputs, wrt tensors). */
  readonly pinned: ReadonlySet<string>;
  /** True when the tensor depends on a wrt tensor (a gradient can flow through it). */
  depends(name: string): boolean;
  constant(name: string): Tensor | undefined;
  rank(name: string): number;
  /** Dims seen by the shape probe. */
  dims(name: string): number[];
  /** Version of the default domain. */
  readonly opset: number;
}

/** Finds every recognised subgraph, keyed by its root node. */
export function findFusedGradients(graph: PatternGraph): Map<NodeProto, FusedGradient> {
  const consumers = new Map<string, NodeProto[]>();
  const producer = new Map<string, NodeProto>();
  for (const n of graph.order) {
    for (const i of nodeReads(n)) {
      const list = consumers.get(i);
      if (list) list.push(n);
      else consumers.set(i, [n]);
    }
    for (const o of n.output) if (o) producer.set(o, n);
  }
  const m: Matcher = { ...graph, consumers, producer };
  const found = new Map<NodeProto, FusedGradient>();
  for (const n of graph.order) {
    if ((n.domain ?? "") !== "") continue;
    const hit =
      n.opType === "Div"
        ? layerNorm(m, n)
        : n.opType === "Mul"
          ? geluErf(m, n)
          : n.opType === "MatMul"
            ? softmaxMatMul(m, n)
            : undefined;
    if (hit) found.set(n, hit);
  }
  return found;
}

interface Matcher extends PatternGraph {
  consumers: Map<string, NodeProto[]>;
  producer: Map<string, NodeProto>;
}

/** The producer of `name` when it is a default-domain `opType` node, else undefined. */
function from(m: Matcher, name: string | undefined, opType: string): NodeProto | undefined {
  const p = name ? m.producer.get(name) : undefined;
  return p && p.opType === opType && (p.domain ?? "") === "" ? p : undefined;
}

/** True when every reader of `name` is one of `inside` and it is not pinned. */
function usedOnlyWithin(m: Matcher, name: string, inside: readonly NodeProto[]): boolean {
  if (m.pinned.has(name)) return false;
  return (m.consumers.get(name) ?? []).every((c) => inside.includes(c));
}

/** The scalar value of a constant tensor (any float/int type), or undefined. */
function scalarOf(m: Matcher, name: string | undefined): number | undefined {
  const t = name ? m.constant(name) : undefined;
  if (t?.data.length !== 1) return undefined;
  return Number((t.data as ArrayLike<number | bigint>)[0]);
}

/** The other input of a two-input node, given one of them. */
function other(n: NodeProto, name: string): string | undefined {
  if (n.input[0] === name) return n.input[1];
  if (n.input[1] === name) return n.input[0];
  return undefined;
}

/** Sorted non-negative axes of a ReduceMean with keepdims = 1, or undefined. */
function meanAxes(m: Matcher, n: NodeProto): number[] | undefined {
  if (attrInt(n, "keepdims", 1) !== 1) return undefined;
  const rank = m.rank(n.input[0]!);
  let axes = attrInts(n, "axes");
  if (m.opset >= 18) {
    const t = n.input[1] ? m.constant(n.input[1]) : undefined;
    axes = t ? Array.from(t.data as ArrayLike<number | bigint>, Number) : undefined;
  }
  if (!axes || axes.length === 0) return undefined; // "all axes" / noop_with_empty_axes: not a LayerNorm
  return axes.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
}

/**
 * x̂ = (x − mean(x)) / √(mean((x − mean(x))²) + ε), both means over the same axes A:
 * dx = (ĝ − mean_A(ĝ) − x̂·mean_A(ĝ·x̂)) / σ, with x̂ and σ read from the forward.
 */
function layerNorm(m: Matcher, div: NodeProto): FusedGradient | undefined {
  const [centred, sigma] = [div.input[0], div.input[1]];
  const sqrt = from(m, sigma, "Sqrt");
  const add = from(m, sqrt?.input[0], "Add");
  const sub = from(m, centred, "Sub");
  if (!sqrt || !add || !sub || !centred || !sigma) return undefined;
  const var_ = [add.input[0], add.input[1]].map((i) => from(m, i, "ReduceMean")).find((p) => p);
  const eps = var_ && other(add, var_.output[0]!);
  const pow = from(m, var_?.input[0], "Pow");
  const x = sub.input[0];
  const mean = from(m, sub.input[1], "ReduceMean");
  if (!var_ || !eps || !pow || !mean || !x || mean.input[0] !== x || pow.input[0] !== centred)
    return undefined;
  if (scalarOf(m, pow.input[1]) !== 2 || m.depends(eps)) return undefined;
  const axes = meanAxes(m, mean);
  const axesVar = meanAxes(m, var_);
  if (!axes || !axesVar || axes.join() !== axesVar.join()) return undefined;
  const inside = [mean, sub, pow, var_, add, sqrt, div];
  const inner = [mean.output[0]!, centred, pow.output[0]!, var_.output[0]!, add.output[0]!, sigma];
  if (!inner.every((t) => usedOnlyWithin(m, t, inside))) return undefined;
  const xhat = div.output[0]!;
  return {
    kind: "layer-norm",
    root: div,
    inputs: [x],
    backward(b, g) {
      const meanG = b.reduce("ReduceMean", g, axes, true);
      const meanGx = b.reduce("ReduceMean", b.op("Mul", [g, xhat]), axes, true);
      const centredG = b.op("Sub", [g, b.op("Add", [b.op("Mul", [xhat, meanGx]), meanG])]);
      return [b.op("Div", [centredG, sigma])];
    },
  };
}

/**
 * y = (c·x)·(1 + erf(k·x)) with constants c > 0, k (PyTorch's exact Gelu: c = ½, k = 1/√2,
 * x/√2 written as a Div): dy/dx = c·(1 + erf(t)) + (2c/√π)·t·exp(−t²), t = k·x, read from the
 * forward together with 1 + erf(t). exp(ln(2c/√π) − t²) folds the constant into the Exp.
 */
function geluErf(m: Matcher, mul: NodeProto): FusedGradient | undefined {
  const [a0, a1] = [mul.input[0], mul.input[1]];
  const onePlus = from(m, a0, "Add") ?? from(m, a1, "Add");
  const half = onePlus && from(m, other(mul, onePlus.output[0]!), "Mul");
  if (!onePlus || !half) return undefined;
  const erfNode = [onePlus.input[0], onePlus.input[1]].map((i) => from(m, i, "Erf")).find((p) => p);
  if (!erfNode || scalarOf(m, other(onePlus, erfNode.output[0]!)) !== 1) return undefined;
  const t = erfNode.input[0]!;
  const scaleNode = from(m, t, "Div") ?? from(m, t, "Mul");
  if (!scaleNode) return undefined;
  // x: the input of both the half-scaling and the erf-argument scaling
  const x = [half.input[0], half.input[1]].find(
    (i) => i && (scaleNode.input[0] === i || scaleNode.input[1] === i),
  );
  if (!x) return undefined;
  const c = scalarOf(m, other(half, x));
  const kRaw = scalarOf(m, other(scaleNode, x));
  if (c === undefined || !(c > 0) || kRaw === undefined) return undefined;
  if (scaleNode.opType === "Div" && scaleNode.input[0] !== x) return undefined; // k/x is not a Gelu
  const inside = [half, scaleNode, erfNode, onePlus, mul];
  const inner = [half.output[0]!, t, erfNode.output[0]!, onePlus.output[0]!];
  if (!inner.every((n) => usedOnlyWithin(m, n, inside))) return undefined;
  const sum = onePlus.output[0]!;
  return {
    kind: "gelu-erf",
    root: mul,
    inputs: [x],
    backward(b, g) {
      const lnK = b.scalarLike(Math.log((2 * c) / Math.sqrt(Math.PI)), x);
      const pdf = b.op("Exp", [b.op("Sub", [lnK, b.op("Mul", [t, t])])]);
      const slope = b.op("Add", [b.op("Mul", [sum, b.scalarLike(c, x)]), b.op("Mul", [t, pdf])]);
      return [b.op("Mul", [g, slope])];
    },
  };
}

/** Transpose of the last two axes. */
function transposeLast2(b: GraphBuilder, x: string, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [rank - 1, rank - 2];
  return b.op("Transpose", [x], { perm });
}

/**
 * O = P·V with P = Softmax(S) over the last axis (attention): dS = P ⊙ (dP − D) with
 * dP = dO·Vᵀ and D = Σ_j dP_ij·P_ij = Σ_d dO_id·O_id (FlashAttention's identity: the row sums
 * come from the small O instead of the large P), dV = Pᵀ·dO. Taken when P and V have the same
 * batch dims (no broadcasting to undo) and P feeds only this MatMul.
 */
function softmaxMatMul(m: Matcher, mm: NodeProto): FusedGradient | undefined {
  const [p, v] = [mm.input[0], mm.input[1]];
  const softmax = from(m, p, "Softmax");
  if (!softmax || !p || !v) return undefined;
  const s = softmax.input[0]!;
  const rank = m.rank(p);
  if (rank < 2 || m.rank(v) !== rank || m.rank(s) !== rank) return undefined;
  const pd = m.dims(p);
  const vd = m.dims(v);
  if (pd.slice(0, -2).join() !== vd.slice(0, -2).join()) return undefined;
  const axis = attrInt(softmax, "axis", m.opset >= 13 ? -1 : 1);
  if (axis !== -1 && axis !== rank - 1) return undefined;
  if (!usedOnlyWithin(m, p, [mm])) return undefined;
  const o = mm.output[0]!;
  return {
    kind: "softmax-matmul",
    root: mm,
    inputs: [s, v],
    backward(b, dO, needs) {
      let dS: string | undefined;
      if (needs(0)) {
        const dP = b.op("MatMul", [dO, transposeLast2(b, v, rank)]);
        const rowDot = b.reduceSum(b.op("Mul", [dO, o]), [rank - 1], true);
        dS = b.op("Mul", [p, b.op("Sub", [dP, rowDot])]);
      }
      const dV = needs(1) ? b.op("MatMul", [transposeLast2(b, p, rank), dO]) : undefined;
      return [dS, dV];
    },
  };
}
