/**
 * The cells of the recurrent ops as data: for LSTM, GRU and RNN, how one direction's weights
 * become an input projection for every step at once, and how one time step turns the previous
 * state into the next, in primitive ops (MatMul, Add, Mul, Split, the activations, Clip).
 * Equations and gate orders are the ONNX spec's (W[iofc] for LSTM, W[zrh] for GRU); where clip
 * applies (to every gate's full pre-activation, bias and peepholes included, not to the cell
 * state) and the GRU's linear_before_reset follow onnxruntime's CPU kernels.
 */
import type { DType } from "../../tensor/tensor.js";
import type { GraphBuilder } from "../builder.js";
import { applyActivation, type RecurrentActivation } from "./recurrent-activations.js";

/** A recurrent state: hidden (and cell) tensors shaped [1, batch, hidden]; undefined = zeros. */
export interface CellState {
  h?: string;
  c?: string;
}

/** What a cell sees of one direction. */
export interface DirectionInputs {
  readonly b: GraphBuilder;
  readonly dtype: DType;
  readonly hidden: number;
  /** This direction's W, [1, gates·hidden, input]. */
  readonly w: string;
  /** This direction's R, [1, gates·hidden, hidden]. */
  readonly r: string;
  /** This direction's B, [1, 2·gates·hidden], when given. */
  readonly bias?: string;
  /** This direction's P (LSTM peepholes), [1, 3·hidden], when given. */
  readonly peephole?: string;
  /** This direction's activation functions. */
  readonly acts: readonly RecurrentActivation[];
  readonly clip?: number;
  /** LSTM input_forget. */
  readonly inputForget: boolean;
  /** GRU linear_before_reset. */
  readonly linearBeforeReset: boolean;
}

/** One direction, ready to unroll. */
export interface PreparedDirection {
  /** X·Wᵀ (+ the biases that do not depend on the state) for all steps, [T, batch, gates·hidden]. */
  readonly xw: string;
  /** One step: this step's slice of `xw` ([1, batch, gates·hidden]) and the previous state → the next. */
  step(xt: string, prev: CellState): CellState;
}

/** A recurrent op's cell. */
export interface Cell {
  readonly opType: "LSTM" | "GRU" | "RNN";
  /** Blocks of `hidden` rows in W and R (4 for LSTM, 3 for GRU, 1 for RNN). */
  readonly gates: number;
  /** Activation functions per direction, and their defaults. */
  readonly defaultActivations: readonly string[];
  /** Index of the optional initial_c and P inputs (LSTM only). */
  readonly cellInputs?: { initialC: number; peephole: number };
  prepare(d: DirectionInputs, x: string): PreparedDirection;
}

/** Split along `axis` into pieces of the given sizes (split sizes as input from opset 13). */
export function split(b: GraphBuilder, x: string, sizes: readonly number[], axis: number): string[] {
  return b.split(x, sizes, axis);
}

/** Clip to [−c, c] (bounds as inputs from opset 11, attributes before); identity without c. */
function clipTo(d: DirectionInputs, x: string): string {
  const { b, clip, dtype } = d;
  if (clip === undefined) return x;
  if (b.opset >= 11) return b.op("Clip", [x, b.scalar(-clip, dtype), b.scalar(clip, dtype)]);
  return b.op("Clip", [x], { min: -clip, max: clip }, { floats: ["min", "max"] });
}

/** act_k(clip(x)). */
function gate(d: DirectionInputs, x: string, k: number): string {
  return applyActivation(d.b, clipTo(d, x), d.acts[k]!, d.dtype);
}

/** [rows, cols] weight block of a [1, rows, cols] tensor, transposed to [cols, rows]. */
function transposed2d(b: GraphBuilder, w: string): string {
  return b.op("Transpose", [b.squeeze(w, [0])], { perm: [1, 0] });
}

/** x + y, or x alone when y is absent. */
function plus(b: GraphBuilder, x: string, y: string | undefined): string {
  return y === undefined ? x : b.op("Add", [x, y]);
}

/** X·Wᵀ + Wb + Rb for the cells whose whole bias can be added before the recurrence. */
function inputProjection(d: DirectionInputs, x: string, gates: number): string {
  const { b } = d;
  const xw = b.op("MatMul", [x, transposed2d(b, d.w)]);
  if (!d.bias) return xw;
  const [wb, rb] = split(b, b.squeeze(d.bias, [0]), [gates * d.hidden, gates * d.hidden], 0);
  return b.op("Add", [xw, b.op("Add", [wb!, rb!])]);
}

/**
 * LSTM: i = f(Xi + H·Ri + Pi⊙C + bi), f = f(… + Pf⊙C) (or 1 − i with input_forget),
 * c = g(…), C' = f⊙C + i⊙c, o = f(… + Po⊙C'), H' = o⊙h(C'). Gate blocks in the order i, o, f, c.
 */
const lstm: Cell = {
  opType: "LSTM",
  gates: 4,
  defaultActivations: ["Sigmoid", "Tanh", "Tanh"],
  cellInputs: { initialC: 6, peephole: 7 },
  prepare(d, x) {
    const { b, hidden: n } = d;
    const xw = inputProjection(d, x, 4);
    const rT = transposed2d(b, d.r);
    const [pi, po, pf] = d.peephole ? split(b, b.squeeze(d.peephole, [0]), [n, n, n], 0) : [];
    return {
      xw,
      step(xt, prev) {
        const pre = plus(b, xt, prev.h && b.op("MatMul", [prev.h, rT]));
        const [iofPre, cPre] = split(b, pre, [3 * n, n], 2);
        const c = gate(d, cPre!, 1);
        // x + P⊙state (the peephole term; none while the cell state is still zero)
        const peep = (x: string, p: string | undefined, state: string | undefined) =>
          p && state ? b.op("Add", [x, b.op("Mul", [p, state])]) : x;
        let i: string;
        let o: string;
        let f: string;
        if (!d.peephole) {
          // i, o, f share the activation f and are contiguous: one activation for the three
          // (fewer, larger ops: per-op overhead dominates small recurrent cells)
          [i, o, f] = split(b, gate(d, iofPre!, 0), [n, n, n], 2) as [string, string, string];
        } else {
          const [ip, op, fp] = split(b, iofPre!, [n, n, n], 2) as [string, string, string];
          i = gate(d, peep(ip, pi, prev.c), 0);
          f = d.inputForget ? "" : gate(d, peep(fp, pf, prev.c), 0);
          o = op; // its peephole reads the new cell state: activated below
        }
        if (d.inputForget) f = b.op("Sub", [b.scalar(1, d.dtype), i]);
        const ic = b.op("Mul", [i, c]);
        const cNext = prev.c ? b.op("Add", [b.op("Mul", [f, prev.c]), ic]) : ic;
        if (d.peephole) o = gate(d, peep(o, po, cNext), 0);
        return { h: b.op("Mul", [o, applyActivation(b, cNext, d.acts[2]!, d.dtype)]), c: cNext };
      },
    };
  },
};

/**
 * GRU: z = f(Xz + H·Rz + b), r = f(Xr + H·Rr + b), h = g(Xh + (r⊙H)·Rh + Wbh + Rbh) or, with
 * linear_before_reset, g(Xh + r⊙(H·Rh + Rbh) + Wbh); H' = (1 − z)⊙h + z⊙H. Blocks z, r, h.
 */
const gru: Cell = {
  opType: "GRU",
  gates: 3,
  defaultActivations: ["Sigmoid", "Tanh"],
  prepare(d, x) {
    const { b, hidden: n } = d;
    const [rzr, rh] = split(b, b.squeeze(d.r, [0]), [2 * n, n], 0);
    const rzrT = b.op("Transpose", [rzr!], { perm: [1, 0] });
    const rhT = b.op("Transpose", [rh!], { perm: [1, 0] });
    let xw: string;
    let rbh: string | undefined;
    if (d.linearBeforeReset && d.bias) {
      // Rbh is multiplied by r, so only Wbh joins the input projection
      const [wbzr, wbh, rbzr, rbhPart] = split(b, b.squeeze(d.bias, [0]), [2 * n, n, 2 * n, n], 0);
      const early = b.op("Concat", [b.op("Add", [wbzr!, rbzr!]), wbh!], { axis: 0 });
      xw = b.op("Add", [b.op("MatMul", [x, transposed2d(b, d.w)]), early]);
      rbh = rbhPart;
    } else xw = inputProjection(d, x, 3);
    return {
      xw,
      step(xt, prev) {
        const [xzr, xh] = split(b, xt, [2 * n, n], 2);
        // z and r share the activation f and are contiguous: one activation for both
        const zrPre = plus(b, xzr!, prev.h && b.op("MatMul", [prev.h, rzrT]));
        const [z, r] = split(b, gate(d, zrPre, 0), [n, n], 2) as [string, string];
        let hp = xh!;
        if (d.linearBeforeReset) {
          const rec = prev.h ? plus(b, b.op("MatMul", [prev.h, rhT]), rbh) : rbh;
          if (rec) hp = b.op("Add", [hp, b.op("Mul", [r, rec])]);
        } else if (prev.h) {
          hp = b.op("Add", [hp, b.op("MatMul", [b.op("Mul", [r, prev.h]), rhT])]);
        }
        const h = gate(d, hp, 1);
        // (1 − z)⊙h + z⊙H as h + z⊙(H − h): one op fewer per step
        const hNext = prev.h
          ? b.op("Add", [h, b.op("Mul", [z, b.op("Sub", [prev.h, h])])])
          : b.op("Sub", [h, b.op("Mul", [z, h])]);
        return { h: hNext };
      },
    };
  },
};

/** RNN: H' = f(X·Wᵀ + H·Rᵀ + Wb + Rb). */
const rnn: Cell = {
  opType: "RNN",
  gates: 1,
  defaultActivations: ["Tanh"],
  prepare(d, x) {
    const { b } = d;
    const rT = transposed2d(b, d.r);
    return {
      xw: inputProjection(d, x, 1),
      step: (xt, prev) => ({ h: gate(d, plus(b, xt, prev.h && b.op("MatMul", [prev.h, rT])), 0) }),
    };
  },
};

/** The three cells. */
export const CELLS: readonly Cell[] = [lstm, gru, rnn];
