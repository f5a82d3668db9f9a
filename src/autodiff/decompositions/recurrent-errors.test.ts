/**
 * Recurrent nodes outside the spec: each is refused with a ModelStructureError that names the
 * node and the attribute or input at fault, before any graph is emitted.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { PathlensError } from "../../errors.js";
import { makeModel } from "../../onnx/make.js";
import { type AttrValue, ModelStructureError } from "../../onnx/model.js";
import { float32, type Tensor, tensor } from "../../tensor/tensor.js";
import type { ShapeInfo } from "../builder.js";
import { decomposeModel } from "../decompose.js";
import "../gradient.js";

const T = 3;
const B = 2;
const I = 3;
const H = 4;

interface Spec {
  op?: "LSTM" | "GRU" | "RNN";
  attrs?: Record<string, AttrValue>;
  /** Rows of W/R in units of H (default: the op's gate count). */
  gates?: number;
  lengths?: Tensor;
  opset?: number;
}

function attempt(s: Spec): () => unknown {
  const op = s.op ?? "LSTM";
  const g = s.gates ?? { LSTM: 4, GRU: 3, RNN: 1 }[op];
  const inits: Record<string, Tensor> = { W: float32([1, g * H, I]), R: float32([1, g * H, H]) };
  if (s.lengths) inits.lens = s.lengths;
  const model = makeModel({
    opset: s.opset ?? 17,
    inputs: [{ name: "X", dtype: "float32", dims: [T, B, I] }],
    outputs: [{ name: "Y", dtype: "float32" }],
    nodes: [
      {
        op,
        name: "rec",
        inputs: ["X", "W", "R", "", s.lengths ? "lens" : ""],
        outputs: ["Y"],
        attrs: { hidden_size: H, ...s.attrs },
        floats: ["clip", "activation_alpha"],
      },
    ],
    initializers: inits,
  });
  const shapes: ShapeInfo = new Map([["X", { dtype: "float32", dims: [T, B, I] }]]);
  for (const [k, t] of Object.entries(inits)) shapes.set(k, { dtype: t.dtype, dims: [...t.dims] });
  return () => decomposeModel(model, shapes);
}

/** Expects a ModelStructureError naming the node and mentioning every `words`. */
function refuses(s: Spec, ...words: string[]) {
  assert.throws(attempt(s), (e: unknown) => {
    assert.ok(e instanceof ModelStructureError && e instanceof PathlensError, String(e));
    assert.match(e.message, new RegExp(`${s.op ?? "LSTM"} node "rec"`));
    for (const w of words) assert.ok(e.message.includes(w), `"${e.message}" should mention ${w}`);
    return true;
  });
}

test("a direction outside forward/reverse/bidirectional is refused", () =>
  refuses({ attrs: { direction: "sideways" } }, '"direction"', "sideways"));

test("layout other than 0 or 1 is refused", () =>
  refuses({ op: "GRU", attrs: { layout: 2 } }, '"layout"', "2"));

test("input_forget and linear_before_reset other than 0 or 1 are refused", () => {
  refuses({ attrs: { input_forget: 2 } }, '"input_forget"');
  refuses({ op: "GRU", attrs: { linear_before_reset: 5 } }, '"linear_before_reset"');
});

test("a clip threshold that is not positive is refused", () => {
  refuses({ attrs: { clip: -1 } }, '"clip"', "-1");
  refuses({ op: "RNN", attrs: { clip: 0 } }, '"clip"');
});

test("an activation outside the spec's list, or the wrong number of them, is refused", () => {
  refuses({ attrs: { activations: ["Sigmoid", "Tanh", "Swish"] } }, '"activations"', "Swish");
  refuses({ attrs: { activations: ["Sigmoid", "Tanh"] } }, '"activations"', "2 entries", "need 3");
  refuses({ op: "GRU", attrs: { direction: "bidirectional", activations: ["Sigmoid", "Tanh"] } }, "need 4");
});

test("weights that do not match hidden_size are refused, naming the input and shapes", () =>
  refuses({ attrs: { hidden_size: 5 } }, "input W", `[1, ${4 * H}, ${I}]`, "[1, 20, 3]"));

test("sequence_lens of the wrong type or out of range is refused", () => {
  refuses({ lengths: tensor("int32", [B], Int32Array.of(3, 4)) }, "sequence_lens", "4", `[0, ${T}]`);
  refuses({ op: "RNN", lengths: tensor("int64", [B], BigInt64Array.of(1n, 2n)) }, "sequence_lens", "int64");
});

test("recurrent ops before opset 7, and sequence_lens before opset 9, are refused", () => {
  refuses({ op: "RNN", opset: 6 }, "opset 7");
  refuses(
    { op: "GRU", opset: 8, lengths: tensor("int32", [B], Int32Array.of(1, 2)) },
    "sequence_lens",
    "opset ≥ 9",
  );
});

test("a node the spec allows is accepted (the harness itself is sound)", () => {
  const m = attempt({ attrs: { direction: "reverse", clip: 3, input_forget: 1 } })() as {
    graph: { node: { opType: string }[] };
  };
  assert.ok(m.graph.node.length > 10 && m.graph.node.every((n) => n.opType !== "LSTM"));
});
