import assert from "node:assert/strict";
import { test } from "node:test";
import { makeModel, type NodeSpec } from "../../onnx/make.js";
import { float64, int64, tensor } from "../../tensor/tensor.js";
import { sessionGradcheck } from "../../testing/session-gradcheck.js";

/** A branch subgraph: no inputs, reads outer-scope tensors. */
function branch(nodes: NodeSpec[], outputs: string[]) {
  return makeModel({
    inputs: [],
    outputs: outputs.map((name) => ({ name, dtype: "float64" as const })),
    nodes,
  }).graph!;
}

/**
 * y = If(Σx > 0, then: (x·x·w, x·z), else: (−x·z, x)) · 2 with y2 = second output:
 * z is read only in the then branch's second output and the else branch's first; the else
 * branch's second output is a copy of the outer tensor x.
 */
function dataIfModel() {
  return makeModel({
    opset: 13,
    inputs: [
      { name: "x", dtype: "float64", dims: ["N", 3] },
      { name: "z", dtype: "float64", dims: ["N", 3] },
    ],
    outputs: [{ name: "y", dtype: "float64" }],
    initializers: { w: float64([3], [1, 2, 3]), zero: float64([], [0]) },
    nodes: [
      { op: "ReduceSum", inputs: ["x"], outputs: ["total"], attrs: { keepdims: 0 } },
      { op: "Greater", inputs: ["total", "zero"], outputs: ["cond"] },
      {
        op: "If",
        inputs: ["cond"],
        outputs: ["a", "c"],
        attrs: {
          then_branch: branch(
            [
              { op: "Mul", inputs: ["x", "x"], outputs: ["sq"] },
              { op: "Mul", inputs: ["sq", "w"], outputs: ["t"] },
              { op: "Mul", inputs: ["x", "z"], outputs: ["xz"] },
            ],
            ["t", "xz"],
          ),
          else_branch: branch(
            [
              { op: "Neg", inputs: ["x"], outputs: ["nx"] },
              { op: "Mul", inputs: ["nx", "z"], outputs: ["e"] },
              { op: "Identity", inputs: ["x"], outputs: ["xe"] },
            ],
            ["e", "xe"],
          ),
        },
      },
      { op: "Mul", inputs: ["a", "c"], outputs: ["ac"] },
      { op: "Sigmoid", inputs: ["ac"], outputs: ["y"] },
    ],
  });
}

const z = float64([2, 3], [0.3, -0.7, 1.1, 0.5, -0.2, 0.9]);

test("data-dependent If, then branch taken: gradient and HVP match central differences", async () => {
  const x = float64([2, 3], [0.4, -0.2, 0.5, 0.3, 0.6, -0.1]);
  const r = await sessionGradcheck(dataIfModel(), { x, z }, { wrt: ["x", "z"], output: "y", hvp: true });
  for (const w of ["x", "z"]) {
    assert.ok(r.gradient[w]! < 1e-7, `gradient wrt ${w}: ${r.gradient[w]}`);
    assert.ok(r.hvp![w]! < 1e-6, `HVP wrt ${w}: ${r.hvp![w]}`);
  }
});

test("data-dependent If, else branch taken (a branch output copies an outer tensor)", async () => {
  const x = float64([2, 3], [-0.4, -0.2, 0.5, -0.3, 0.6, -0.9]);
  const r = await sessionGradcheck(dataIfModel(), { x, z }, { wrt: ["x", "z"], output: "y", hvp: true });
  for (const w of ["x", "z"]) {
    assert.ok(r.gradient[w]! < 1e-7, `gradient wrt ${w}: ${r.gradient[w]}`);
    assert.ok(r.hvp![w]! < 1e-6, `HVP wrt ${w}: ${r.hvp![w]}`);
  }
});

/** An If nested in a data-dependent If's branch, its condition on data too. */
function nestedIfModel() {
  const inner = {
    op: "If",
    inputs: ["c2"],
    outputs: ["inner"],
    attrs: {
      then_branch: branch([{ op: "Sigmoid", inputs: ["u"], outputs: ["s"] }], ["s"]),
      else_branch: branch([{ op: "Mul", inputs: ["u", "u"], outputs: ["uu"] }], ["uu"]),
    },
  };
  return makeModel({
    opset: 17,
    inputs: [{ name: "x", dtype: "float64", dims: [4] }],
    outputs: [{ name: "y", dtype: "float64" }],
    initializers: { zero: float64([], [0]), half: float64([], [0.5]) },
    nodes: [
      { op: "ReduceSum", inputs: ["x"], outputs: ["total"], attrs: { keepdims: 0 } },
      { op: "Greater", inputs: ["total", "zero"], outputs: ["c1"] },
      { op: "Less", inputs: ["total", "half"], outputs: ["c2"] },
      {
        op: "If",
        inputs: ["c1"],
        outputs: ["y"],
        attrs: {
          then_branch: branch(
            [
              { op: "Mul", inputs: ["x", "half"], outputs: ["u"] },
              inner,
              { op: "Add", inputs: ["inner", "x"], outputs: ["o"] },
            ],
            ["o"],
          ),
          else_branch: branch([{ op: "Neg", inputs: ["x"], outputs: ["n"] }], ["n"]),
        },
      },
    ],
  });
}

test("nested data-dependent Ifs: both inner branches, gradient and HVP", async () => {
  for (const values of [
    [0.1, 0.2, -0.1, 0.1], // Σ = 0.3: outer then, inner then (sigmoid)
    [0.5, 0.4, 0.2, 0.1], // Σ = 1.2: outer then, inner else (square)
    [-0.5, 0.1, 0.1, 0.1], // outer else
  ]) {
    const x = float64([4], values);
    const r = await sessionGradcheck(nestedIfModel(), { x }, { wrt: ["x"], output: "y", hvp: true });
    assert.ok(r.gradient.x! < 1e-7, `gradient at ${values}: ${r.gradient.x}`);
    assert.ok(r.hvp!.x! < 1e-6, `HVP at ${values}: ${r.hvp!.x}`);
  }
});

/** A data-dependent If whose then branch runs a Loop with a constant trip count of the main graph. */
function loopInBranchModel() {
  const body = makeModel({
    inputs: [
      { name: "i", dtype: "int64", dims: [] },
      { name: "c", dtype: "bool", dims: [] },
      { name: "h", dtype: "float64" },
    ],
    outputs: [
      { name: "c_out", dtype: "bool", dims: [] },
      { name: "h_next", dtype: "float64" },
    ],
    nodes: [
      { op: "Identity", inputs: ["c"], outputs: ["c_out"] },
      { op: "Mul", inputs: ["h", "w"], outputs: ["hw"] },
      { op: "Add", inputs: ["hw", "x"], outputs: ["pre"] },
      { op: "Sigmoid", inputs: ["pre"], outputs: ["h_next"] },
    ],
  }).graph!;
  return makeModel({
    opset: 13,
    inputs: [{ name: "x", dtype: "float64", dims: ["N", 3] }],
    outputs: [{ name: "y", dtype: "float64" }],
    initializers: {
      w: float64([3], [0.5, -1.2, 0.8]),
      zero: float64([], [0]),
      three: int64([], [3]),
      yes: tensor("bool", [], Uint8Array.of(1)),
    },
    nodes: [
      { op: "ReduceSum", inputs: ["x"], outputs: ["total"], attrs: { keepdims: 0 } },
      { op: "Greater", inputs: ["total", "zero"], outputs: ["cond"] },
      {
        op: "If",
        inputs: ["cond"],
        outputs: ["y"],
        attrs: {
          then_branch: branch(
            [{ op: "Loop", inputs: ["three", "yes", "x"], outputs: ["hT"], attrs: { body } }],
            ["hT"],
          ),
          else_branch: branch([{ op: "Neg", inputs: ["x"], outputs: ["n"] }], ["n"]),
        },
      },
    ],
  });
}

test("a Loop inside a data-dependent If branch is unrolled there: gradient and HVP", async () => {
  for (const values of [
    [0.4, -0.2, 0.5, 0.3, 0.6, -0.1],
    [-0.4, -0.2, 0.5, -0.3, 0.1, -0.1],
  ]) {
    const x = float64([2, 3], values);
    const r = await sessionGradcheck(loopInBranchModel(), { x }, { wrt: ["x"], output: "y", hvp: true });
    assert.ok(r.gradient.x! < 1e-7, `gradient at ${values}: ${r.gradient.x}`);
    assert.ok(r.hvp!.x! < 1e-6, `HVP at ${values}: ${r.hvp!.x}`);
  }
});
