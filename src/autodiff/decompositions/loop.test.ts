import assert from "node:assert/strict";
import { test } from "node:test";
import { makeModel, type NodeSpec, type ValueSpec } from "../../onnx/make.js";
import { GradientSession } from "../../runtime/gradient-session.js";
import { nodeBackend } from "../../runtime/node.js";
import { float64, int64, tensor } from "../../tensor/tensor.js";
import { sessionGradcheck } from "../../testing/session-gradcheck.js";
import { UnsupportedOpError } from "../gradient.js";

const backend = nodeBackend();

function graph(inputs: ValueSpec[], outputs: ValueSpec[], nodes: NodeSpec[]) {
  return makeModel({ inputs, outputs, nodes }).graph!;
}

/**
 * h ← σ(h·w + x) three times (M constant), scan output h·i per iteration (stacked), then
 * y = Σ final h + Σ scan outputs · 0.5. `condOut` makes the body's continuation condition.
 */
function loopModel(opset: number, m: string, condOut: NodeSpec[], extraInputs: ValueSpec[] = []) {
  const body = graph(
    [
      { name: "i", dtype: "int64", dims: [] },
      { name: "c", dtype: "bool", dims: [] },
      { name: "h", dtype: "float64" },
    ],
    [
      { name: "c_out", dtype: "bool", dims: [] },
      { name: "h_next", dtype: "float64" },
      { name: "scan", dtype: "float64" },
    ],
    [
      ...condOut,
      { op: "Mul", inputs: ["h", "w"], outputs: ["hw"] },
      { op: "Add", inputs: ["hw", "x"], outputs: ["pre"] },
      { op: "Sigmoid", inputs: ["pre"], outputs: ["h_next"] },
      { op: "Cast", inputs: ["i"], outputs: ["fi"], attrs: { to: 11 } },
      { op: "Mul", inputs: ["h_next", "fi"], outputs: ["scan"] },
    ],
  );
  return makeModel({
    opset,
    inputs: [{ name: "x", dtype: "float64", dims: ["N", 3] }, ...extraInputs],
    outputs: [{ name: "y", dtype: "float64" }],
    initializers: {
      three: int64([], [3]),
      yes: tensor("bool", [], Uint8Array.of(1)),
      w: float64([3], [0.5, -1.2, 0.8]),
      half: float64([], [0.5]),
      axis0: int64([1], [0]),
    },
    nodes: [
      { op: "Neg", inputs: ["x"], outputs: ["h0"] },
      { op: "Loop", inputs: [m, "yes", "h0"], outputs: ["hT", "scans"], attrs: { body } },
      { op: "Mul", inputs: ["scans", "half"], outputs: ["s2"] },
      opset >= 13
        ? { op: "ReduceSum", inputs: ["s2", "axis0"], outputs: ["s3"], attrs: { keepdims: 0 } }
        : { op: "ReduceSum", inputs: ["s2"], outputs: ["s3"], attrs: { axes: [0], keepdims: 0 } },
      { op: "Add", inputs: ["hT", "s3"], outputs: ["y"] },
    ],
  });
}

const passCond: NodeSpec[] = [{ op: "Identity", inputs: ["c"], outputs: ["c_out"] }];
const x = float64([2, 3], [0.3, -0.4, 0.9, -0.2, 0.1, 0.6]);

for (const opset of [11, 13, 16]) {
  test(`Loop with a constant trip count, carried state and scan output (opset ${opset}): unrolled; gradient and HVP`, async () => {
    const model = loopModel(opset, "three", passCond);
    const r = await sessionGradcheck(model, { x }, { wrt: ["x"], output: "y", hvp: true });
    assert.ok(r.gradient.x! < 1e-7, `gradient: ${r.gradient.x}`);
    assert.ok(r.hvp!.x! < 1e-6, `HVP: ${r.hvp!.x}`);
  });
}

test("the unrolled Loop leaves no Loop node in the gradient model", async () => {
  const s = await GradientSession.create(backend, loopModel(13, "three", passCond), { x }, { wrt: ["x"] });
  assert.equal(s.model.graph!.node.filter((n) => n.opType === "Loop").length, 0);
  await s.dispose();
});

test("a Loop whose trip count comes from a given scalar input is folded for that value and unrolled", async () => {
  const model = loopModel(13, "n", passCond, [{ name: "n", dtype: "int64", dims: [] }]);
  const n = int64([], [2]);
  const r = await sessionGradcheck(model, { x, n }, { wrt: ["x"], output: "y", hvp: true });
  assert.ok(r.gradient.x! < 1e-7, `gradient: ${r.gradient.x}`);
  assert.ok(r.hvp!.x! < 1e-6, `HVP: ${r.hvp!.x}`);
  const s = await GradientSession.create(backend, model, { x, n }, { wrt: ["x"] });
  assert.equal(s.foldedOn.get("n")?.data[0], 2n);
  await assert.rejects(
    () => s.run({ x, n: int64([], [3]) }, { y: float64([2, 3], [1, 1, 1, 1, 1, 1]) }),
    (e: Error) =>
      e.name === "FoldedInputChangedError" && /input "n"/.test(e.message) && /n = 2/.test(e.message),
  );
  await s.dispose();
});

test("a while loop (condition computed from data) is refused, saying why", async () => {
  const whileCond: NodeSpec[] = [
    { op: "ReduceSum", inputs: ["h"], outputs: ["tot"], attrs: { keepdims: 0 } },
    { op: "Less", inputs: ["tot", "limit"], outputs: ["c_out"] },
  ];
  const model = loopModel(13, "three", whileCond);
  model.graph!.initializer.push(
    ...makeModel({ inputs: [], outputs: [], nodes: [], initializers: { limit: float64([], [10]) } }).graph!
      .initializer,
  );
  await assert.rejects(
    () => GradientSession.create(backend, model, { x }, { wrt: ["x"] }),
    (e: Error) =>
      e instanceof UnsupportedOpError && /Loop/.test(e.message) && /continuation condition/.test(e.message),
  );
});

test("a Loop whose trip count is computed from data values is refused, naming the trip count", async () => {
  const model = loopModel(13, "m", passCond);
  model.graph!.node.unshift(
    ...makeModel({
      inputs: [],
      outputs: [],
      nodes: [
        { op: "ReduceSum", inputs: ["x"], outputs: ["sx"], attrs: { keepdims: 0 } },
        { op: "Cast", inputs: ["sx"], outputs: ["m"], attrs: { to: 7 } },
      ],
    }).graph!.node,
  );
  await assert.rejects(
    () => GradientSession.create(backend, model, { x }, { wrt: ["x"] }),
    (e: Error) => e instanceof UnsupportedOpError && /trip count "m" is computed from data/.test(e.message),
  );
});

/**
 * Scan with one state s and two scan inputs: a (T, 3) scanned forward on axis 0 and b (3, T)
 * scanned in reverse on axis 1; body: s' = σ(s·a_t + b_t), out_t = s'·a_t; the scan output is
 * stacked in reverse on axis 1.
 */
function scanModel(opset: number) {
  const body = graph(
    [
      { name: "s", dtype: "float64" },
      { name: "at", dtype: "float64" },
      { name: "bt", dtype: "float64" },
    ],
    [
      { name: "s_next", dtype: "float64" },
      { name: "out", dtype: "float64" },
    ],
    [
      { op: "Mul", inputs: ["s", "at"], outputs: ["sa"] },
      { op: "Add", inputs: ["sa", "bt"], outputs: ["pre"] },
      { op: "Sigmoid", inputs: ["pre"], outputs: ["s_next"] },
      { op: "Mul", inputs: ["s_next", "at"], outputs: ["out"] },
    ],
  );
  return makeModel({
    opset,
    inputs: [
      { name: "a", dtype: "float64", dims: [4, 3] },
      { name: "b", dtype: "float64", dims: [3, 4] },
    ],
    outputs: [
      { name: "sT", dtype: "float64" },
      { name: "outs", dtype: "float64" },
    ],
    initializers: { s0: float64([3], [0.1, -0.2, 0.3]) },
    nodes: [
      {
        op: "Scan",
        inputs: ["s0", "a", "b"],
        outputs: ["sT", "outs"],
        attrs: {
          body,
          num_scan_inputs: 2,
          scan_input_axes: [0, 1],
          scan_input_directions: [0, 1],
          scan_output_axes: [1],
          scan_output_directions: [1],
        },
      },
    ],
  });
}

for (const opset of [11, 16, 18]) {
  test(`Scan with axes and directions (opset ${opset}) is unrolled: gradients and HVP of both outputs`, async () => {
    const a = float64([4, 3], [0.2, -0.5, 0.7, 0.1, 0.4, -0.3, -0.6, 0.9, 0.2, 0.5, -0.1, 0.3]);
    const b = float64([3, 4], [0.3, 0.1, -0.2, 0.4, -0.5, 0.6, 0.2, -0.1, 0.7, -0.4, 0.2, 0.1]);
    for (const output of ["sT", "outs"]) {
      const r = await sessionGradcheck(scanModel(opset), { a, b }, { wrt: ["a", "b"], output, hvp: true });
      for (const w of ["a", "b"]) {
        assert.ok(r.gradient[w]! < 1e-7, `${output} gradient wrt ${w}: ${r.gradient[w]}`);
        assert.ok(r.hvp![w]! < 1e-6, `${output} HVP wrt ${w}: ${r.hvp![w]}`);
      }
    }
  });
}
