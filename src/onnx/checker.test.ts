import assert from "node:assert/strict";
import { test } from "node:test";
import { float32 } from "../tensor/tensor.js";
import { assertWellFormedModel, findModelProblems, ModelShapeError, TensorDataError } from "./checker.js";
import { decodeModel, encodeModel, ModelDecodeError } from "./codec.js";
import { makeAttribute, makeNode, makeValueInfo, tensorToProto } from "./model.js";
import type { GraphProto, ModelProto } from "./types.js";

function graph(node: GraphProto["node"], extra: Partial<GraphProto> = {}): GraphProto {
  return {
    node,
    name: "g",
    initializer: [],
    sparseInitializer: [],
    input: [makeValueInfo("x", 1, [2, 3])],
    output: [makeValueInfo("y", 1)],
    valueInfo: [],
    quantizationAnnotation: [],
    metadataProps: [],
    ...extra,
  };
}

function model(g: GraphProto): ModelProto {
  return {
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    metadataProps: [],
    trainingInfo: [],
    functions: [],
    graph: g,
  };
}

const messages = (m: ModelProto) => findModelProblems(m).map((p) => p.message);

test("subgraphs may read outer names; an undefined read inside a branch is named", () => {
  const branch = (out: string, read: string) =>
    graph([makeNode("Identity", [read], [out], `${out}_id`)], {
      name: `${out}_branch`,
      input: [],
      output: [makeValueInfo(out, 1)],
    });
  const ok = model(
    graph([
      makeNode("Relu", ["x"], ["h"], "relu"),
      makeNode("ReduceSum", ["h"], ["s"], "sum"),
      makeNode("Greater", ["s", "s"], ["c"], "gt"),
      makeNode("If", ["c"], ["y"], "if", [
        makeAttribute("then_branch", branch("a", "h")),
        makeAttribute("else_branch", branch("b", "x")),
      ]),
    ]),
  );
  assert.deepEqual(messages(ok), []);
  ok.graph!.node[3]!.attribute[1]!.g!.node[0]!.input[0] = "nothing";
  assert.deepEqual(messages(ok), [
    'Identity node "b_id" (in subgraph "b_branch") reads "nothing", which no node, input or initializer defines',
  ]);
});

test("Gemm bias and Conv channels are checked against declared shapes, naming node and tensors", () => {
  const w = tensorToProto("w", float32([4, 3], new Array(12).fill(0.5)));
  const c = tensorToProto("c", float32([5], new Array(5).fill(0)));
  const m = model(graph([makeNode("Gemm", ["x", "w", "c"], ["y"], "fc")], { initializer: [w, c] }));
  assert.throws(() => assertWellFormedModel(m, "m.onnx"), ModelShapeError);
  assert.deepEqual(messages(m), [
    'Gemm node "fc": "x" [2, 3] and "w" [4, 3] disagree on the inner dimension (3 vs 4)',
    'Gemm node "fc": bias "c" [5] does not broadcast to the output [2, 3]',
  ]);
  m.graph!.initializer[0] = tensorToProto("w", float32([3, 4], new Array(12).fill(0.5)));
  m.graph!.initializer[1] = tensorToProto("c", float32([4], new Array(4).fill(0)));
  assert.deepEqual(messages(m), []);
});

test("NaN weights name the initializer; Inf (attention masks) is allowed", () => {
  const w = tensorToProto(
    "w",
    float32([3, 4], [...new Array(7).fill(1), Number.NaN, ...new Array(4).fill(1)]),
  );
  const m = model(graph([makeNode("MatMul", ["x", "w"], ["y"], "mm")], { initializer: [w] }));
  assert.throws(
    () => assertWellFormedModel(m),
    (e: unknown) =>
      e instanceof TensorDataError && /initializer "w" holds NaN at element 7/.test((e as Error).message),
  );
  m.graph!.initializer[0] = tensorToProto("w", float32([3, 4], new Array(12).fill(Number.NEGATIVE_INFINITY)));
  assert.deepEqual(messages(m), []);
});

test("issue 12 regression: a protobuf length of 2³² + n no longer wraps around to n", () => {
  // Model.producer_name (field 2, wire type 2) with length varint 2^32 + 3, then 3 bytes.
  const bytes = Uint8Array.from([0x12, 0x83, 0x80, 0x80, 0x80, 0x10, 0x61, 0x62, 0x63]);
  assert.throws(
    () => decodeModel(bytes, "wrap.onnx"),
    (e: unknown) =>
      e instanceof ModelDecodeError && /Model\.producer_name: length 4294967299/.test((e as Error).message),
  );
});

test("weights decoded from an unaligned Node Buffer are scanned without a RangeError", () => {
  const w = tensorToProto("w", float32([3, 4], new Array(12).fill(0.25)));
  const bytes = encodeModel(
    model(graph([makeNode("MatMul", ["x", "w"], ["y"], "mm")], { initializer: [w] })),
  );
  const odd = Buffer.alloc(bytes.length + 1);
  odd.set(bytes, 1);
  assert.deepEqual(messages(decodeModel(odd.subarray(1))), []);
});
