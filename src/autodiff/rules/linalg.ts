/**
 * Gradient rules: linear algebra (MatMul with numpy semantics, Gemm, Einsum).
 *
 * MatMul: dA = g·Bᵀ and dB = Aᵀ·g on the matrix axes, then the batch axes that broadcasting
 * created are summed away. Rank-1 operands are lifted to matrices first ([K] → [1,K] on the
 * left, [K,1] on the right, as numpy does) and the gradient is reduced back to [K].
 * Gemm: the gradient of a Gemm is again a Gemm (alpha carried, transposes mirrored).
 * Einsum: the gradient of an operand is an Einsum of the output gradient with the other operands.
 */
import { attrFloat, attrInt, attrString, ModelStructureError } from "../../onnx/model.js";
import type { GraphBuilder } from "../builder.js";
import type { GradientRule, RuleContext } from "../registry.js";

/** Transpose of the last two axes of a tensor of rank `rank` (≥ 2). */
function transposeLast2(b: GraphBuilder, x: string, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return b.op("Transpose", [x], { perm });
}

/**
 * Sums a gradient shaped `batch(Y) + [r, c]` down to an operand of dims `od` (rank ≥ 2):
 * leading batch axes the operand lacks, and batch axes where it has size 1 but Y does not.
 * `yBatch` are the batch dims of the (rank-lifted) product.
 */
function sumBatchAxes(b: GraphBuilder, g: string, operand: string, od: number[], yBatch: number[]): string {
  const lead = yBatch.length - (od.length - 2);
  const leadAxes = Array.from({ length: lead }, (_, i) => i);
  const ones: number[] = [];
  for (let i = 0; i < od.length - 2; i++) if (od[i] === 1 && yBatch[i + lead] !== 1) ones.push(i + lead);
  // Only leading axes: dropping them (keepdims = 0) leaves exactly the operand's shape.
  if (ones.length === 0) return b.reduceSum(g, leadAxes, false);
  return b.reshapeLike(b.reduceSum(g, [...leadAxes, ...ones], true), operand);
}

const matmul: GradientRule = {
  opTypes: ["MatMul"],
  backward(ctx: RuleContext) {
    const { b } = ctx;
    const a = ctx.x(0);
    const bm = ctx.x(1);
    const g = ctx.dy(0)!;
    const da = b.dims(a);
    const db = b.dims(bm);
    const aVec = da.length === 1;
    const bVec = db.length === 1;
    const yRank = b.rank(ctx.y(0));
    // g with the axes numpy dropped for rank-1 operands put back: batch + [M, N]
    let gFull = g;
    if (aVec && bVec) gFull = b.unsqueeze(g, [0, 1]);
    else if (aVec) gFull = b.unsqueeze(g, [yRank - 1]);
    else if (bVec) gFull = b.unsqueeze(g, [yRank]);
    const fullRank = Math.max(da.length, db.length, 2);
    const aMat = aVec ? [1, da[0]!] : da;
    const bMat = bVec ? [db[0]!, 1] : db;
    const yBatch = broadcastBatch(aMat.slice(0, -2), bMat.slice(0, -2));

    let gradA: string | undefined;
    if (ctx.needs(0)) {
      // Bᵀ of the lifted B; for B = [K] that is [1, K] = Unsqueeze(B, 0)
      const bT = bVec ? b.unsqueeze(bm, [0]) : transposeLast2(b, bm, db.length);
      const full = b.op("MatMul", [gFull, bT]); // batch + [M, K]
      if (aVec) {
        gradA = b.reduceSum(
          full,
          Array.from({ length: fullRank - 1 }, (_, i) => i),
          false,
        );
      } else {
        gradA = sumBatchAxes(b, full, a, da, yBatch);
      }
    }
    let gradB: string | undefined;
    if (ctx.needs(1)) {
      const aT = aVec ? b.unsqueeze(a, [1]) : transposeLast2(b, a, da.length);
      const full = b.op("MatMul", [aT, gFull]); // batch + [K, N]
      if (bVec) {
        const axes = Array.from({ length: fullRank - 2 }, (_, i) => i);
        gradB = b.reduceSum(full, [...axes, fullRank - 1], false);
      } else {
        gradB = sumBatchAxes(b, full, bm, db, yBatch);
      }
    }
    return [gradA, gradB];
  },
};

/** numpy broadcast of two batch shapes (probe dims). */
function broadcastBatch(x: number[], y: number[]): number[] {
  const n = Math.max(x.length, y.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = x[i - (n - x.length)] ?? 1;
    const q = y[i - (n - y.length)] ?? 1;
    out.push(p === 1 ? q : p);
  }
  return out;
}

/**
 * Gemm: Y = alpha·A'·B' + beta·C with A' = transA ? Aᵀ : A, B' likewise.
 * dA' = alpha·g·B'ᵀ and dB' = alpha·A'ᵀ·g, each written as one Gemm on the stored A and B.
 */
const gemm: GradientRule = {
  opTypes: ["Gemm"],
  backward(ctx) {
    const { b, node } = ctx;
    const g = ctx.dy(0)!;
    const a = ctx.x(0);
    const bm = ctx.x(1);
    const c = ctx.x(2);
    const alpha = attrFloat(node, "alpha", 1);
    const beta = attrFloat(node, "beta", 1);
    const transA = attrInt(node, "transA", 0);
    const transB = attrInt(node, "transB", 0);
    const emit = (x: string, y: string, tA: number, tB: number) => {
      const inputs = [x, y];
      // C is optional only from opset 11: before that, give a zero scalar.
      if (ctx.opset < 11) inputs.push(b.scalarLike(0, ctx.y(0)));
      return b.op("Gemm", inputs, { alpha, transA: tA, transB: tB }, { floats: ["alpha"] });
    };
    let dA: string | undefined;
    if (ctx.needs(0)) {
      // transA = 0: dA = alpha·g·B'ᵀ; transA = 1: dA = (alpha·g·B'ᵀ)ᵀ = alpha·B'·gᵀ
      dA = transA === 0 ? emit(g, bm, 0, 1 - transB) : emit(bm, g, transB, 1);
    }
    let dB: string | undefined;
    if (ctx.needs(1)) {
      // transB = 0: dB = alpha·A'ᵀ·g; transB = 1: dB = alpha·gᵀ·A'
      dB = transB === 0 ? emit(a, g, 1 - transA, 0) : emit(g, a, 1, transA);
    }
    let dC: string | undefined;
    if (c && ctx.needs(2)) {
      const scaled = beta === 1 ? g : b.op("Mul", [g, b.scalarLike(beta, ctx.y(0))]);
      dC = b.unbroadcast(scaled, c, ctx.y(0));
    }
    return [dA, dB, dC];
  },
};

/** An Einsum equation split into input terms and the (explicit or implied) output term. */
interface EinsumEquation {
  inputs: string[];
  output: string;
}

/** Parses an equation; implicit mode's output is "..." then the letters used once, sorted. */
function parseEinsum(equation: string): EinsumEquation {
  const eq = equation.replace(/\s+/g, "");
  const [lhs, rhs] = eq.split("->") as [string, string | undefined];
  const inputs = lhs.split(",");
  if (rhs !== undefined) return { inputs, output: rhs };
  const counts = new Map<string, number>();
  for (const ch of lhs.replace(/\.\.\./g, "").replace(/,/g, "")) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const once = [...counts].filter(([, n]) => n === 1).map(([c]) => c);
  return { inputs, output: (lhs.includes("...") ? "..." : "") + once.sort().join("") };
}

/** Letters of a term (the ellipsis left out). */
function letters(term: string): string[] {
  return [...term.replace("...", "")];
}

/**
 * Einsum: ∂/∂xᵢ = Einsum(g, x_j (j ≠ i) ; "out, T_j → T_i"): every letter of Tᵢ not in the output
 * is summed in the forward pass, so its gradient is a product over the other operands. Letters
 * only xᵢ has (summed away by xᵢ alone) are supplied by a ones tensor shaped like xᵢ.
 * Repeated letters within one term (diagonals) and broadcast ellipsis dims are not handled.
 */
const einsum: GradientRule = {
  opTypes: ["Einsum"],
  backward(ctx) {
    const { b, node } = ctx;
    const g = ctx.dy(0)!;
    const eq = parseEinsum(attrString(node, "equation", ""));
    const ellipsisDims = eq.inputs.map((t, k) =>
      t.includes("...")
        ? b.dims(ctx.x(k)).slice(t.indexOf("..."), t.indexOf("...") + b.rank(ctx.x(k)) - letters(t).length)
        : [],
    );
    const fullEllipsis = ellipsisDims.reduce((acc, d) => broadcastBatch(acc, d), [] as number[]);
    return eq.inputs.map((term, i) => {
      if (!ctx.needs(i)) return undefined;
      if (new Set(letters(term)).size !== letters(term).length) {
        throw new ModelStructureError(
          `Einsum "${eq.inputs.join(",")}->${eq.output}": repeated index in "${term}" is not supported`,
        );
      }
      if (term.includes("...") && ellipsisDims[i]!.join(",") !== fullEllipsis.join(",")) {
        throw new ModelStructureError(
          `Einsum "${eq.inputs.join(",")}->${eq.output}": broadcast ellipsis dims are not supported`,
        );
      }
      const terms = [eq.output];
      const operands = [g];
      eq.inputs.forEach((t, j) => {
        if (j === i) return;
        terms.push(t);
        operands.push(ctx.x(j));
      });
      const present = new Set(terms.flatMap(letters));
      const ellipsisPresent = terms.some((t) => t.includes("..."));
      if (letters(term).some((c) => !present.has(c)) || (term.includes("...") && !ellipsisPresent)) {
        const x = ctx.x(i);
        terms.push(term);
        operands.push(b.op("Add", [b.zerosLike(x), b.scalarLike(1, x)]));
      }
      return b.op("Einsum", operands, { equation: `${terms.join(",")}->${term}` });
    });
  },
};

/** Rules of the linear-algebra family. */
export const linalgRules: GradientRule[] = [matmul, gemm, einsum];
