/**
 * The LSTM/GRU/RNN decompositions on hand-built models with what torch never exports
 * (non-default activations with alpha/beta, clip, input_forget, peepholes, sequence_lens, reverse,
 * layout 1, linear_before_reset 0, absent B, subsets of the outputs): the decomposed forward
 * against onnxruntime's own LSTM/GRU/RNN, gradients against central differences of onnxruntime
 * forward passes, and Hessian-vector products against central differences of those gradients.
 * onnxruntime runs these ops in float32 only and refuses layout 1, so layout-1 models are
 * compared with the layout-0 op between Transposes.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeModel } from "../../onnx/codec.js";
import { makeModel, type NodeSpec, type ValueSpec } from "../../onnx/make.js";
import { type AttrValue, tensorFromProto } from "../../onnx/model.js";
import type { ModelProto } from "../../onnx/types.js";
import { GradientSession } from "../../runtime/gradient-session.js";
import { nodeBackend } from "../../runtime/node.js";
import { Random } from "../../tensor/random.js";
import { float32, relativeL2, type Tensor, tensor, toFloat64 } from "../../tensor/tensor.js";
import type { ShapeInfo } from "../builder.js";
import { decomposeModel } from "../decompose.js";
import "../gradient.js";

type Op = "LSTM" | "GRU" | "RNN";

/** One hand-built case. */
interface Case {
  title: string;
  op: Op;
  attrs?: Record<string, AttrValue>;
  /** Sequence, batch, input and hidden sizes. */
  dims?: [number, number, number, number];
  bias?: boolean;
  peephole?: boolean;
  h0?: boolean;
  c0?: boolean;
  /** Per-batch lengths: fed as an input, or an initializer when `constantLengths`. */
  lengths?: number[];
  constantLengths?: boolean;
  /** Outputs present (the others are left out as ""). */
  outputs: ("Y" | "Y_h" | "Y_c")[];
  /** Piecewise activations or clip: the fraction of differences that may cross a kink. */
  kinks?: number;
  /** Check the forward pass only. */
  forwardOnly?: boolean;
  /** Opset of the model (default 17). */
  opset?: number;
}

const GATES: Record<Op, number> = { LSTM: 4, GRU: 3, RNN: 1 };
const ALL_OUTPUTS = ["Y", "Y_h", "Y_c"] as const;

/** The model of a case and its feeds; `reference` is the one onnxruntime can run. */
function build(c: Case, seed: number) {
  const rng = new Random(seed);
  const rand = (dims: number[], s: number) =>
    float32(
      dims,
      Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => s * rng.normal()),
    );
  const [T, B, I, H] = c.dims ?? [4, 2, 3, 4];
  const D = c.attrs?.direction === "bidirectional" ? 2 : 1;
  const layout = (c.attrs?.layout as number | undefined) ?? 0;
  const g = GATES[c.op];
  const inits: Record<string, Tensor> = { W: rand([D, g * H, I], 0.6), R: rand([D, g * H, H], 0.6) };
  if (c.bias) inits.B = rand([D, 2 * g * H], 0.3);
  if (c.peephole) inits.P = rand([D, 3 * H], 0.5);
  const feeds: Record<string, Tensor> = { X: rand(layout ? [B, T, I] : [T, B, I], 1) };
  const stateDims = layout ? [B, D, H] : [D, B, H];
  if (c.h0) feeds.h0 = rand(stateDims, 0.5);
  if (c.c0) feeds.c0 = rand(stateDims, 0.5);
  if (c.lengths) {
    const lens = tensor("int32", [B], Int32Array.from(c.lengths));
    if (c.constantLengths) inits.lens = lens;
    else feeds.lens = lens;
  }
  const slot = (name: string, present: boolean | undefined) => (present ? name : "");
  const ins = [
    "X",
    "W",
    "R",
    slot("B", c.bias),
    slot("lens", c.lengths !== undefined),
    slot("h0", c.h0),
    slot("c0", c.c0),
    slot("P", c.peephole),
  ];
  while (ins.at(-1) === "") ins.pop();
  const outs = ALL_OUTPUTS.slice(0, c.op === "LSTM" ? 3 : 2).map((o) => (c.outputs.includes(o) ? o : ""));
  while (outs.at(-1) === "") outs.pop();
  const floats = ["activation_alpha", "activation_beta", "clip"];
  const node = (attrs: Record<string, AttrValue>, inputs: string[], outputs: string[]): NodeSpec => ({
    op: c.op,
    inputs,
    outputs,
    attrs: { hidden_size: H, ...attrs },
    floats,
    name: `${c.op}_under_test`,
  });
  const inputs: ValueSpec[] = Object.entries(feeds).map(([name, t]) => ({
    name,
    dtype: t.dtype,
    dims: [...t.dims],
  }));
  const outputs: ValueSpec[] = c.outputs.map((name) => ({ name, dtype: "float32" }));
  const spec = { opset: c.opset ?? 17, inputs, outputs, initializers: inits };
  const model = makeModel({ ...spec, nodes: [node(c.attrs ?? {}, ins, outs)] });
  if (!layout) return { model, reference: model, feeds };
  // onnxruntime refuses layout 1: the reference is the layout-0 op between Transposes
  const t3 = { perm: [1, 0, 2] };
  const pre: NodeSpec[] = ["X", "h0", "c0"]
    .filter((n) => ins.includes(n))
    .map((n) => ({ op: "Transpose", inputs: [n], outputs: [`${n}_t`], attrs: t3 }));
  const post: NodeSpec[] = outs
    .filter((o) => o)
    .map((o) => ({
      op: "Transpose",
      inputs: [`${o}_t`],
      outputs: [o],
      attrs: o === "Y" ? { perm: [2, 0, 1, 3] } : t3,
    }));
  const inner = node(
    { ...c.attrs, layout: 0 },
    ins.map((n) => (["X", "h0", "c0"].includes(n) ? `${n}_t` : n)),
    outs.map((o) => (o ? `${o}_t` : "")),
  );
  return { model, reference: makeModel({ ...spec, nodes: [...pre, inner, ...post] }), feeds };
}

/** Facts of the graph inputs and initializers: all a recurrent node's decomposition reads. */
function declaredShapes(feeds: Record<string, Tensor>, inits: Record<string, Tensor>): ShapeInfo {
  const info: ShapeInfo = new Map();
  for (const [k, t] of Object.entries({ ...feeds, ...inits }))
    info.set(k, { dtype: t.dtype, dims: [...t.dims] });
  return info;
}

function initializersOf(model: ModelProto): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const t of model.graph!.initializer) out[t.name!] = tensorFromProto(t);
  return out;
}

function axpy(x: Tensor, v: Tensor, a: number): Tensor {
  return float32(
    x.dims,
    Array.from(x.data as Float32Array, (xi, i) => xi + a * (v.data[i] as number)),
  );
}

/** Step of the central differences: float32 forward passes, inputs and states of size ~1. */
const EPS = 1e-3;

/**
 * Relative L2 distance of `analytic` from the differences at EPS. With `halves` (differences at
 * EPS/2, for piecewise activations and clip), elements whose two differences disagree by more
 * than 25% cross a kink and are left out; at most a `kinks` fraction of them may be.
 */
function fdError(
  analytic: Tensor,
  fd: ArrayLike<number>,
  halves: ArrayLike<number> | undefined,
  kinks: number,
) {
  const keep: number[] = [];
  const scale = Math.max(...Array.from(fd, Math.abs), 1e-12);
  for (let i = 0; i < fd.length; i++)
    if (!halves || Math.abs(fd[i]! - halves[i]!) <= 0.25 * (Math.abs(fd[i]!) + 1e-2 * scale)) keep.push(i);
  const dropped = fd.length - keep.length;
  assert.ok(dropped <= kinks * fd.length, `${dropped} of ${fd.length} differences cross kinks`);
  const a = toFloat64(analytic);
  const error = relativeL2(
    keep.map((i) => a[i]!),
    keep.map((i) => fd[i]!),
  );
  return { error, note: halves ? ` (${dropped} of ${fd.length} crossing kinks left out)` : "" };
}

async function check(c: Case, seed = 1) {
  const { model, reference, feeds } = build(c, seed);
  const backend = nodeBackend();
  const rng = new Random(seed + 100);
  const randomLike = (t: Tensor) =>
    float32(
      t.dims,
      Array.from(t.data as Float32Array, () => rng.normal()),
    );
  const decomposed = decomposeModel(model, declaredShapes(feeds, initializersOf(model)));
  assert.ok(
    decomposed.graph!.node.every((n) => !["LSTM", "GRU", "RNN"].includes(n.opType!)),
    "no recurrent op left",
  );
  const ref = await backend.createSession(encodeModel(reference));
  const wrt = Object.keys(feeds).filter((k) => feeds[k]!.dtype === "float32");
  const s = await GradientSession.create(backend, decomposed, feeds, { wrt, hvp: true });
  try {
    const want = await ref.run(feeds);
    const seeds = Object.fromEntries(c.outputs.map((o) => [o, randomLike(want[o]!)]));
    const v = Object.fromEntries(wrt.map((w) => [w, randomLike(feeds[w]!)]));
    const r = await s.run(feeds, seeds, v);
    for (const o of c.outputs) {
      assert.deepEqual(r.outputs[o]!.dims, want[o]!.dims, `${o} dims`);
      const e = relativeL2(toFloat64(r.outputs[o]!), toFloat64(want[o]!));
      assert.ok(e <= 1e-5, `${o}: decomposed vs onnxruntime relative L2 ${e}`);
    }
    if (c.forwardOnly) return;
    const objective = async (fs: Record<string, Tensor>) => {
      const out = await ref.run(fs, c.outputs);
      let sum = 0;
      for (const o of c.outputs)
        out[o]!.data.forEach((y, i) => {
          sum += (y as number) * (seeds[o]!.data[i] as number);
        });
      return sum;
    };
    // gradient: central differences of onnxruntime's forward, one element at a time
    const gradientFd = async (x: Tensor, w: string, step: number) => {
      const fd = new Float64Array(x.data.length);
      for (let i = 0; i < fd.length; i++) {
        const e = float32(x.dims, new Float32Array(x.data.length));
        (e.data as Float32Array)[i] = 1;
        const plus = await objective({ ...feeds, [w]: axpy(x, e, step) });
        const minus = await objective({ ...feeds, [w]: axpy(x, e, -step) });
        fd[i] = (plus - minus) / (2 * step);
      }
      return fd;
    };
    const kinks = c.kinks ?? 0;
    for (const w of wrt) {
      const fd = await gradientFd(feeds[w]!, w, EPS);
      const halves = kinks ? await gradientFd(feeds[w]!, w, EPS / 2) : undefined;
      const { error: e, note } = fdError(r.gradients[w]!, fd, halves, kinks);
      if (process.env.PATHLENS_VERBOSE) console.log(`${c.title}: gradient wrt ${w} ${e}${note}`);
      assert.ok(e <= 2e-3, `gradient wrt ${w}: relative L2 ${e} from central differences`);
    }
    // HVP: central differences of the (checked) gradient along v
    const hvpFd = async (step: number) => {
      const at = (a: number) =>
        s.run(
          Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, v[k] ? axpy(t, v[k]!, a) : t])),
          seeds,
          v,
        );
      const [gp, gm] = [await at(step), await at(-step)];
      return Object.fromEntries(
        wrt.map((w) => {
          const minus = gm.gradients[w]!.data as Float32Array;
          return [
            w,
            Array.from(gp.gradients[w]!.data as Float32Array, (p, i) => (p - minus[i]!) / (2 * step)),
          ];
        }),
      );
    };
    const fd = await hvpFd(EPS);
    const halves = kinks ? await hvpFd(EPS / 2) : undefined;
    for (const w of wrt) {
      const { error: e, note } = fdError(r.hvp![w]!, fd[w]!, halves?.[w], kinks);
      if (process.env.PATHLENS_VERBOSE) console.log(`${c.title}: HVP wrt ${w} ${e}${note}`);
      assert.ok(e <= 2e-3, `HVP wrt ${w}: relative L2 ${e} from central differences`);
    }
  } finally {
    await ref.dispose();
    await s.dispose();
  }
}

const CASES: Case[] = [
  {
    title: "LSTM forward, no B, HardSigmoid/LeakyRelu(default α)/Softsign, clip",
    op: "LSTM",
    attrs: {
      activations: ["HardSigmoid", "LeakyRelu", "Softsign"],
      activation_alpha: [0.3],
      activation_beta: [0.45],
      clip: 2.5,
    },
    kinks: 0.1,
    outputs: ["Y", "Y_h", "Y_c"],
  },
  {
    title: "LSTM reverse, input_forget, peepholes, initial states, sequence_lens input",
    op: "LSTM",
    attrs: { direction: "reverse", input_forget: 1 },
    bias: true,
    peephole: true,
    h0: true,
    c0: true,
    lengths: [3, 1],
    outputs: ["Y", "Y_h", "Y_c"],
  },
  {
    title:
      "LSTM bidirectional, per-direction activations (ScaledTanh, Affine), lengths with 0, only Y_h and Y_c",
    op: "LSTM",
    attrs: {
      direction: "bidirectional",
      activations: ["Sigmoid", "Tanh", "Tanh", "sigmoid", "ScaledTanh", "Affine"],
      activation_alpha: [1.3, 0.8],
      activation_beta: [0.7, 0.1],
    },
    dims: [4, 3, 3, 4],
    bias: true,
    peephole: true,
    h0: true,
    c0: true,
    lengths: [4, 0, 2],
    outputs: ["Y_h", "Y_c"],
  },
  {
    title: "LSTM layout 1, bidirectional, initial states, constant sequence_lens",
    op: "LSTM",
    attrs: { direction: "bidirectional", layout: 1 },
    bias: true,
    h0: true,
    c0: true,
    lengths: [2, 4],
    constantLengths: true,
    outputs: ["Y", "Y_h", "Y_c"],
  },
  {
    title: "GRU forward, linear_before_reset 0, initial_h, clip",
    op: "GRU",
    attrs: { clip: 1.5 },
    kinks: 0.1,
    bias: true,
    h0: true,
    outputs: ["Y", "Y_h"],
  },
  {
    title: "GRU reverse, linear_before_reset 0, HardSigmoid/Softplus, sequence_lens",
    op: "GRU",
    attrs: {
      direction: "reverse",
      activations: ["HardSigmoid", "Softplus"],
      activation_alpha: [0.25],
      activation_beta: [0.55],
    },
    kinks: 0.1,
    bias: true,
    h0: true,
    lengths: [2, 4],
    outputs: ["Y", "Y_h"],
  },
  {
    title: "GRU bidirectional, linear_before_reset 1, no B, Elu",
    op: "GRU",
    attrs: {
      direction: "bidirectional",
      linear_before_reset: 1,
      activations: ["Sigmoid", "Elu", "Sigmoid", "Tanh"],
      activation_alpha: [0.8],
    },
    outputs: ["Y", "Y_h"],
  },
  {
    title: "GRU layout 1, linear_before_reset 1, initial_h, sequence_lens",
    op: "GRU",
    attrs: { layout: 1, linear_before_reset: 1 },
    bias: true,
    h0: true,
    lengths: [4, 3],
    outputs: ["Y", "Y_h"],
  },
  {
    title: "RNN forward, LeakyRelu, clip, initial_h",
    op: "RNN",
    attrs: { activations: ["LeakyRelu"], activation_alpha: [0.2], clip: 2 },
    // piecewise linear: the HVP is 0 almost everywhere, and one kink crossed along v moves a
    // whole batch row of the differences of the gradient
    kinks: 0.5,
    bias: true,
    h0: true,
    outputs: ["Y", "Y_h"],
  },
  {
    title: "RNN bidirectional, Relu/ThresholdedRelu, sequence_lens, only Y_h",
    op: "RNN",
    attrs: {
      direction: "bidirectional",
      activations: ["Relu", "ThresholdedRelu"],
      activation_alpha: [0, 0.05],
    },
    kinks: 0.1,
    bias: true,
    h0: true,
    lengths: [4, 2],
    outputs: ["Y_h"],
  },
  {
    title: "RNN at opset 9 (Split, Squeeze and Clip attributes; ThresholdedRelu as x·[x > α])",
    op: "RNN",
    opset: 9,
    attrs: {
      direction: "bidirectional",
      activations: ["ThresholdedRelu", "Tanh"],
      activation_alpha: [-0.3],
      clip: 2.5,
    },
    bias: true,
    h0: true,
    outputs: ["Y", "Y_h"],
    kinks: 0.1,
  },
  {
    title: "RNN reverse, layout 1, Tanh",
    op: "RNN",
    attrs: { direction: "reverse", layout: 1 },
    bias: true,
    h0: true,
    outputs: ["Y", "Y_h"],
  },
];

/** Defaults where onnxruntime departs from the standalone ONNX operators': the graph follows onnxruntime. */
const DEFAULTS: Case[] = [
  {
    title: "LSTM Affine and ThresholdedRelu without alpha/beta (onnxruntime: 0, not the ops' 1)",
    op: "LSTM",
    attrs: { activations: ["Sigmoid", "Affine", "ThresholdedRelu"] },
    bias: true,
    h0: true,
    c0: true,
    outputs: ["Y", "Y_c"],
    forwardOnly: true,
  },
  {
    title: "RNN LeakyRelu and bidirectional Affine without alpha/beta (0.01; 0)",
    op: "RNN",
    attrs: { direction: "bidirectional", activations: ["LeakyRelu", "Affine"] },
    bias: true,
    outputs: ["Y"],
    forwardOnly: true,
  },
  {
    title: "GRU HardSigmoid and Elu without alpha/beta (0.2/0.5 and 1)",
    op: "GRU",
    attrs: { activations: ["HardSigmoid", "Elu"] },
    bias: true,
    outputs: ["Y"],
    forwardOnly: true,
  },
];

for (const c of DEFAULTS) test(`${c.title}: forward matches onnxruntime`, () => check(c));

for (const c of CASES)
  test(`${c.title}: forward matches onnxruntime, gradient and HVP match central differences`, () => check(c));
