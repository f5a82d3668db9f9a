/**
 * Decompositions of the recurrent ops LSTM, GRU and RNN into primitive ops, unrolled over the
 * sequence length the shape probe saw (the batch stays dynamic). Covers every attribute and
 * optional input of the spec: direction (forward, reverse, bidirectional), activations with
 * activation_alpha/beta, clip, input_forget (LSTM), linear_before_reset (GRU), layout 0 and 1,
 * sequence_lens, initial_h/initial_c, peepholes P, absent B; outputs Y, Y_h, Y_c in any subset.
 *
 * sequence_lens follows onnxruntime: a direction runs over the first len steps of each sequence
 * (reverse: from step len − 1 down to 0), Y is 0 past len, Y_h/Y_c are the states at the last
 * step run, and a sequence of length 0 has Y_h = Y_c = 0. In the graph, a step past len keeps the
 * previous state (Where on a mask), which gives exactly that.
 *
 * The graph is built for one sequence length: unrolled steps are cut from X·Wᵀ with a Split of
 * explicit sizes, so running it on another length fails in onnxruntime rather than reading a
 * wrong number of steps.
 */
import { attrFloat, attrInt, attrString, describeNode, ModelStructureError } from "../../onnx/model.js";
import type { NodeProto } from "../../onnx/types.js";
import { type DType, tensor } from "../../tensor/tensor.js";
import type { TensorInfo } from "../builder.js";
import type { DecomposeContext, Decomposition } from "../decompose.js";
import { readActivations } from "./recurrent-activations.js";
import { CELLS, type Cell, type CellState, type DirectionInputs, split } from "./recurrent-cells.js";

/** Attributes of a recurrent node, checked. */
interface RecurrentAttrs {
  directions: 1 | 2;
  reverse: boolean;
  layout: 0 | 1;
  hidden: number;
  clip: number | undefined;
  inputForget: boolean;
  linearBeforeReset: boolean;
}

function bad(node: NodeProto, what: string): ModelStructureError {
  return new ModelStructureError(`${describeNode(node)}: ${what}`);
}

/** A 0/1 flag attribute. */
function flag(node: NodeProto, name: string): boolean {
  const v = attrInt(node, name, 0);
  if (v !== 0 && v !== 1) throw bad(node, `attribute "${name}" is ${v}; the spec allows 0 or 1`);
  return v === 1;
}

function readAttrs(node: NodeProto, cell: Cell, rDims: number[]): RecurrentAttrs {
  const direction = attrString(node, "direction", "forward");
  if (!["forward", "reverse", "bidirectional"].includes(direction))
    throw bad(
      node,
      `attribute "direction" is "${direction}"; the spec allows forward, reverse, bidirectional`,
    );
  const layout = attrInt(node, "layout", 0);
  if (layout !== 0 && layout !== 1)
    throw bad(node, `attribute "layout" is ${layout}; the spec allows 0 or 1`);
  const hidden = attrInt(node, "hidden_size") ?? rDims[2]!;
  if (!(hidden > 0)) throw bad(node, `attribute "hidden_size" is ${hidden}; it must be positive`);
  const clip = attrFloat(node, "clip");
  if (clip !== undefined && !(clip > 0))
    throw bad(node, `attribute "clip" is ${clip}; the threshold must be positive`);
  return {
    directions: direction === "bidirectional" ? 2 : 1,
    reverse: direction === "reverse",
    layout,
    hidden,
    clip,
    inputForget: cell.opType === "LSTM" ? flag(node, "input_forget") : false,
    linearBeforeReset: cell.opType === "GRU" ? flag(node, "linear_before_reset") : false,
  };
}

/** Probed facts of input i, checked against the dims the spec requires (undefined: any). */
function inputInfo(
  ctx: DecomposeContext,
  i: number,
  label: string,
  want: (number | undefined)[],
): TensorInfo | undefined {
  const name = ctx.x(i);
  if (!name) return undefined;
  const info = ctx.shapes?.get(name);
  if (!info) throw bad(ctx.node, `no shape information for input ${label} ("${name}")`);
  const ok = info.dims.length === want.length && want.every((w, k) => w === undefined || w === info.dims[k]);
  if (!ok)
    throw bad(
      ctx.node,
      `input ${label} ("${name}") has shape [${info.dims.join(", ")}]; expected [${want.map((w) => w ?? "?").join(", ")}]`,
    );
  return info;
}

/** The sequence lengths as a [batch, 1] column, or undefined when they cannot cut anything. */
function lengthsColumn(ctx: DecomposeContext, steps: number, batch: number): string | undefined {
  const info = inputInfo(ctx, 4, "sequence_lens", [batch]);
  if (!info) return undefined;
  if (info.dtype !== "int32")
    throw bad(ctx.node, `input sequence_lens is ${info.dtype}; the spec requires int32`);
  // the masks need Where and integer Less (opset 9)
  if (ctx.opset < 9) throw bad(ctx.node, `input sequence_lens needs opset ≥ 9 (the model has ${ctx.opset})`);
  const known = ctx.constant(4);
  if (known) {
    const values = Array.from(known.data as Int32Array);
    const wrong = values.find((v) => v < 0 || v > steps);
    if (wrong !== undefined) throw bad(ctx.node, `sequence_lens has ${wrong}, outside [0, ${steps}]`);
    if (values.every((v) => v === steps)) return undefined;
  }
  return ctx.b.unsqueeze(ctx.x(4), [1]);
}

/** Runs one direction over all steps; returns the outputs per time index and the final state. */
function unroll(
  ctx: DecomposeContext,
  cell: Cell,
  dir: DirectionInputs,
  x: string,
  steps: number,
  reverse: boolean,
  initial: CellState,
  lengths: string | undefined,
): { ys: string[]; final: CellState } {
  const { b } = ctx;
  const prepared = cell.prepare(dir, x);
  const xs = split(b, prepared.xw, new Array<number>(steps).fill(1), 0);
  const zero = lengths && b.scalar(0, dir.dtype);
  const ys = new Array<string>(steps);
  let state = initial;
  for (let k = 0; k < steps; k++) {
    const t = reverse ? steps - 1 - k : k;
    const next = prepared.step(xs[t]!, state);
    if (!lengths) {
      ys[t] = next.h!;
      state = next;
      continue;
    }
    // past a sequence's length: the state is kept and the output is 0
    const mask = b.op("Less", [b.constant(tensor("int32", [], Int32Array.of(t)), "t"), lengths]);
    const kept: CellState = {};
    for (const key of ["h", "c"] as const) {
      const v = next[key];
      if (v) kept[key] = b.op("Where", [mask, v, state[key] ?? zero!]);
    }
    ys[t] = state.h ? b.op("Where", [mask, next.h!, zero!]) : kept.h!;
    state = kept;
  }
  return { ys, final: state };
}

/** Splits a [directions, batch, hidden] state input (layout 1: [batch, directions, hidden]). */
function stateInputs(ctx: DecomposeContext, i: number, a: RecurrentAttrs, batch: number, label: string) {
  const want = a.layout === 0 ? [a.directions, batch, a.hidden] : [batch, a.directions, a.hidden];
  if (!inputInfo(ctx, i, label, want)) return [];
  const s = a.layout === 0 ? ctx.x(i) : ctx.b.op("Transpose", [ctx.x(i)], { perm: [1, 0, 2] });
  return split(ctx.b, s, new Array<number>(a.directions).fill(1), 0);
}

function decomposeRecurrent(ctx: DecomposeContext, cell: Cell): (string | undefined)[] {
  const { b, node } = ctx;
  if (ctx.opset < 7) throw bad(node, `${cell.opType} before opset 7 is not supported (opset ${ctx.opset})`);
  const xInfo = inputInfo(ctx, 0, "X", [undefined, undefined, undefined])!;
  const rDims = inputInfo(ctx, 2, "R", [undefined, undefined, undefined])!.dims;
  const a = readAttrs(node, cell, rDims);
  const dtype: DType | undefined = xInfo.dtype;
  if (dtype !== "float32" && dtype !== "float64")
    throw bad(node, `input X is ${dtype}; float32 or float64 needed`);
  const [steps, batch, input] =
    a.layout === 0 ? xInfo.dims : [xInfo.dims[1]!, xInfo.dims[0]!, xInfo.dims[2]!];
  if (!(steps! > 0)) throw bad(node, `input X has sequence length ${steps}; at least 1 step is needed`);
  const g = cell.gates * a.hidden;
  const acts = readActivations(node, cell.defaultActivations.length, a.directions, cell.defaultActivations);
  const perDir = (i: number, label: string, want: number[]) =>
    inputInfo(ctx, i, label, want) ? split(b, ctx.x(i), new Array<number>(a.directions).fill(1), 0) : [];
  const ws = perDir(1, "W", [a.directions, g, input!]);
  const rs = perDir(2, "R", [a.directions, g, a.hidden]);
  const biases = perDir(3, "B", [a.directions, 2 * g]);
  const peepholes = cell.cellInputs
    ? perDir(cell.cellInputs.peephole, "P", [a.directions, 3 * a.hidden])
    : [];
  const h0 = stateInputs(ctx, 5, a, batch!, "initial_h");
  const c0 = cell.cellInputs ? stateInputs(ctx, cell.cellInputs.initialC, a, batch!, "initial_c") : [];
  const lengths = lengthsColumn(ctx, steps!, batch!);
  const x = a.layout === 0 ? ctx.x(0) : b.op("Transpose", [ctx.x(0)], { perm: [1, 0, 2] });

  const perAct = cell.defaultActivations.length;
  const ys: string[] = [];
  const finals: CellState[] = [];
  for (let d = 0; d < a.directions; d++) {
    const dir: DirectionInputs = {
      b,
      dtype,
      hidden: a.hidden,
      w: ws[d]!,
      r: rs[d]!,
      bias: biases[d],
      peephole: peepholes[d],
      acts: acts.slice(d * perAct, (d + 1) * perAct),
      clip: a.clip,
      inputForget: a.inputForget,
      linearBeforeReset: a.linearBeforeReset,
    };
    const run = unroll(ctx, cell, dir, x, steps!, a.reverse || d === 1, { h: h0[d], c: c0[d] }, lengths);
    if (ctx.y(0)) ys.push(b.unsqueeze(concat(ctx, run.ys, 0), [1]));
    finals.push(run.final);
  }
  // with lengths, a sequence of length 0 would end in its initial state; onnxruntime gives 0
  const zeroLength = lengths && { h: h0.length > 0, c: c0.length > 0 };
  return outputs(ctx, a, ys, finals, zeroLength ? { lengths, ...zeroLength } : undefined, cell, dtype);
}

function concat(ctx: DecomposeContext, parts: string[], axis: number): string {
  return ctx.b.concat(parts, axis);
}

/** Assembles Y [T, D, B, H], Y_h and Y_c [D, B, H] (layout 1: [B, T, D, H] and [B, D, H]). */
function outputs(
  ctx: DecomposeContext,
  a: RecurrentAttrs,
  ys: string[],
  finals: CellState[],
  zeroLength: { lengths: string; h: boolean; c: boolean } | undefined,
  cell: Cell,
  dtype: DType,
): (string | undefined)[] {
  const { b } = ctx;
  const y = ctx.y(0) ? concat(ctx, ys, 1) : undefined;
  const final = (key: "h" | "c", i: number): string | undefined => {
    if (!ctx.y(i)) return undefined;
    let s = concat(
      ctx,
      finals.map((f) => f[key]!),
      0,
    );
    if (zeroLength?.[key]) {
      const zero = b.constant(tensor("int32", [], Int32Array.of(0)), "t");
      s = b.op("Where", [b.op("Greater", [zeroLength.lengths, zero]), s, b.scalar(0, dtype)]);
    }
    return a.layout === 0 ? s : b.op("Transpose", [s], { perm: [1, 0, 2] });
  };
  const out = [y && (a.layout === 0 ? y : b.op("Transpose", [y], { perm: [2, 0, 1, 3] })), final("h", 1)];
  if (cell.cellInputs) out.push(final("c", 2));
  return out;
}

/** The decompositions of LSTM, GRU and RNN. */
export const recurrentDecompositions: Decomposition[] = CELLS.map((cell) => ({
  opTypes: [cell.opType],
  needsShapes: true,
  decompose: (ctx) => decomposeRecurrent(ctx, cell),
}));
