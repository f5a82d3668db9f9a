/**
 * The checker's op-schema and shape-propagation passes on hand-built models. Each expectation is
 * what the ONNX specification says (op schemas, numpy broadcasting, Conv/Reshape arithmetic),
 * and every refused case was also checked to be refused by onnxruntime (see the fuzz campaign
 * "onnx edits + onnxruntime" in tools/fuzz-long.ts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { float32, int64 } from "../tensor/tensor.js";
import { assertWellFormedModel, findModelProblems, ModelShapeError, OpSchemaError } from "./checker.js";
import { makeAttribute, makeNode, makeValueInfo, tensorToProto } from "./model.js";
import type { GraphProto, ModelProto, NodeProto, TensorProto } from "./types.js";

function model(node: NodeProto[], initializer: TensorProto[] = [], opset = 17, dims = [2, 3]): ModelProto {
  const g: GraphProto = {
    node,
    name: "g",
    initializer,
    sparseInitializer: [],
    input: [makeValueInfo("x", 1, dims)],
    output: [makeValueInfo("y", 1)],
    valueInfo: [],
    quantizationAnnotation: [],
    metadataProps: [],
  };
  return {
    irVersion: 8,
    opsetImport: [{ domain: "", version: opset }],
    metadataProps: [],
    trainingInfo: [],
    functions: [],
    graph: g,
  };
}

const messages = (m: ModelProto) => findModelProblems(m).map((p) => p.message);

test("an op that does not exist, or not yet at the model's opset, is named", () => {
  assert.deepEqual(messages(model([makeNode("Nope", ["x"], ["y"], "n")])), [
    'Nope node "n": "Nope" is not an ONNX operator (opset 17)',
  ]);
  // Gelu came in opset 20: at opset 17 it is unknown; beyond the schema table's 17 it passes.
  assert.equal(messages(model([makeNode("Gelu", ["x"], ["y"], "g")], [], 21)).length, 0);
  assert.deepEqual(messages(model([makeNode("Trilu", ["x"], ["y"], "t")], [], 13)), [
    'Trilu node "t": Trilu exists from opset 14, the model imports opset 13',
  ]);
});

test("input counts, empty required inputs, unknown/missing/mistyped attributes are named", () => {
  const relu = makeNode("Relu", ["x", "x"], ["y"], "r", [makeAttribute("axis", 1)]);
  assert.deepEqual(messages(model([relu])), [
    'Relu node "r": has 2 inputs; Relu (opset 17) takes 1',
    'Relu node "r": has attribute "axis", which Relu (opset 17) does not define',
  ]);
  assert.deepEqual(messages(model([makeNode("Relu", [""], ["y"], "r")])), [
    'Relu node "r": input 0 is required but empty',
  ]);
  const cast = makeNode("Cast", ["x"], ["y"], "c");
  assert.deepEqual(messages(model([cast])), ['Cast node "c": the required attribute "to" is missing']);
  const flat = makeNode("Flatten", ["x"], ["y"], "f", [makeAttribute("axis", [1, 2])]);
  assert.deepEqual(messages(model([flat])), [
    'Flatten node "f": attribute "axis" is INTS, Flatten expects INT',
  ]);
});

test("element types must meet the op's type constraints and agree across a type variable", () => {
  const w = tensorToProto("w", int64([3], [1n, 2n, 3n]));
  assert.deepEqual(messages(model([makeNode("Add", ["x", "w"], ["y"], "a")], [w], 17, [3])), [
    'Add node "a": inputs "x" (float) and "w" (int64) must have the same element type',
  ]);
  const m = model([makeNode("Sqrt", ["x"], ["y"], "s")]);
  m.graph!.input[0]!.type!.tensorType!.elemType = 6; // int32
  assert.throws(() => assertWellFormedModel(m, "m.onnx"), OpSchemaError);
  assert.match(
    messages(m)[0]!,
    /^Sqrt node "s": input "x" is int32, which Sqrt \(opset 17\) does not accept/,
  );
  // Types flow through nodes: Cast to int64, then Sqrt refuses it.
  const chain = model([
    makeNode("Cast", ["x"], ["xi"], "c", [makeAttribute("to", 7)]),
    makeNode("Sqrt", ["xi"], ["y"], "s"),
  ]);
  assert.match(messages(chain)[0]!, /Sqrt node "s": input "xi" is int64/);
  // bfloat16 on Sqrt: not allowed at opset 12, allowed at 13.
  const bf = (opset: number) => {
    const mm = model([makeNode("Sqrt", ["x"], ["y"], "s")], [], opset);
    mm.graph!.input[0]!.type!.tensorType!.elemType = 16;
    return messages(mm);
  };
  assert.equal(bf(12).length, 1);
  assert.deepEqual(bf(13), []);
});

test("opsets older than 7 are refused as onnxruntime refuses them", () => {
  assert.match(messages(model([makeNode("Relu", ["x"], ["y"], "r")], [], 5))[0]!, /older than onnxruntime/);
});

test("shapes propagate through Conv, pooling, Flatten and Gemm to a mismatch downstream", () => {
  const w = tensorToProto("w", float32([4, 1, 3, 3], new Array(36).fill(0)));
  const fcw = tensorToProto("fcw", float32([10, 5], new Array(50).fill(0)));
  const nodes = [
    makeNode("Conv", ["x", "w"], ["c"], "conv", [makeAttribute("pads", [1, 1, 1, 1])]),
    makeNode("Relu", ["c"], ["r"], "relu"),
    makeNode("MaxPool", ["r"], ["p"], "pool", [
      makeAttribute("kernel_shape", [2, 2]),
      makeAttribute("strides", [2, 2]),
    ]),
    makeNode("Flatten", ["p"], ["f"], "flat"),
    makeNode("Gemm", ["f", "fcw"], ["y"], "fc", [makeAttribute("transB", 1)]),
  ];
  // x [1,1,6,6] → conv [1,4,6,6] → pool [1,4,3,3] → flatten [1,36]; the Gemm weight holds 5.
  const m = model(nodes, [w, fcw], 17, [1, 1, 6, 6]);
  assert.throws(() => assertWellFormedModel(m), ModelShapeError);
  assert.deepEqual(messages(m), [
    'Gemm node "fc": "f" [1, 36] and "fcw" [10, 5] disagree on the inner dimension (36 vs 5)',
  ]);
  m.graph!.initializer[1] = tensorToProto("fcw", float32([10, 36], new Array(360).fill(0)));
  assert.deepEqual(messages(m), []);
  // A 3×3 kernel without padding on a 2×2 input.
  const small = model([makeNode("Conv", ["x", "w"], ["y"], "conv")], [w], 17, [1, 1, 2, 2]);
  assert.match(messages(small)[0]!, /kernel 3 \(dilated\) is larger than input "x" \[1, 1, 2, 2\]/);
});

test("broadcasting and Reshape element counts are checked; symbolic dims never mismatch", () => {
  const b = tensorToProto("b", float32([4], [0, 0, 0, 0]));
  assert.deepEqual(messages(model([makeNode("Add", ["x", "b"], ["y"], "add")], [b])), [
    'Add node "add": "x" [2, 3] and "b" [4] do not broadcast (3 vs 4)',
  ]);
  const sym = model([makeNode("Add", ["x", "b"], ["y"], "add")], [b], 17, ["n", "k"] as never);
  assert.deepEqual(messages(sym), []);
  const shape = (v: bigint[]) => tensorToProto("s", int64([v.length], v));
  const reshape = (v: bigint[]) =>
    messages(model([makeNode("Reshape", ["x", "s"], ["y"], "rs")], [shape(v)]));
  assert.deepEqual(reshape([3n, 2n]), []);
  assert.deepEqual(reshape([-1n, 2n]), []);
  assert.deepEqual(reshape([0n, -1n]), []);
  assert.deepEqual(reshape([4n, 2n]), [
    'Reshape node "rs": input "x" [2, 3] has 6 elements, shape "s" [4, 2] cannot hold them',
  ]);
  assert.equal(reshape([-1n, 4n]).length, 1);
  assert.equal(reshape([-1n, -1n]).length, 1);
});

test("Expand and ConstantOfShape to huge constant shapes are refused before onnxruntime allocates", () => {
  const shape = (v: bigint[]) => tensorToProto("s", int64([v.length], v));
  const cos = (v: bigint[]) => messages(model([makeNode("ConstantOfShape", ["s"], ["y"], "c")], [shape(v)]));
  assert.deepEqual(cos([2n, 3n]), []);
  assert.match(
    cos([100000n, 100000n])[0]!,
    /ConstantOfShape node "c": shape "s" \[100000, 100000\] makes 1\.00e\+10 elements/,
  );
  const expand = messages(
    model([makeNode("Expand", ["x", "s"], ["y"], "e")], [shape([1n << 20n, 1n << 20n, 3n])]),
  );
  assert.match(expand[0]!, /Expand node "e": shape "s" .* more than/);
  assert.throws(
    () => assertWellFormedModel(model([makeNode("Expand", ["x", "s"], ["y"], "e")], [shape([-2n, 3n])])),
    ModelShapeError,
  );
});
