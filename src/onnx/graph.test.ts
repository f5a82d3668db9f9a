import assert from "node:assert/strict";
import { test } from "node:test";
import { readModelFixture } from "../testing/fixtures.js";
import { cutModel, NameScope, pruneGraph, topologicalOrder, UnknownTensorError } from "./graph.js";
import { makeModel } from "./make.js";

const chain = () =>
  makeModel({
    inputs: [
      { name: "x", dtype: "float32" },
      { name: "unused", dtype: "float32" },
    ],
    outputs: [{ name: "y", dtype: "float32" }],
    nodes: [
      // deliberately out of order
      { op: "Neg", inputs: ["b"], outputs: ["y"], name: "last" },
      { op: "Relu", inputs: ["x"], outputs: ["a"], name: "first" },
      { op: "Exp", inputs: ["a"], outputs: ["b"], name: "middle" },
      { op: "Sigmoid", inputs: ["x"], outputs: ["dead"], name: "dead_end" },
    ],
  });

test("topologicalOrder puts producers before consumers", () => {
  const order = topologicalOrder(chain().graph!).map((n) => n.name);
  assert.ok(order.indexOf("first") < order.indexOf("middle"));
  assert.ok(order.indexOf("middle") < order.indexOf("last"));
});

test("pruneGraph drops nodes and inputs that reach no output", () => {
  const g = chain().graph!;
  pruneGraph(g);
  assert.deepEqual(g.node.map((n) => n.name).sort(), ["first", "last", "middle"]);
  assert.deepEqual(
    g.input.map((i) => i.name),
    ["x"],
  );
});

test("NameScope never hands out a name the graph uses, nor the same name twice", () => {
  const scope = new NameScope(chain().graph!);
  const a = scope.fresh("a");
  const b = scope.fresh("a");
  assert.notEqual(a, "a");
  assert.notEqual(a, b);
  assert.equal(scope.fresh("fresh"), "fresh");
});

test("cutModel splits tiny BERT at the embedding output: head computes it, tail takes it", () => {
  const model = readModelFixture("models/tiny_bert.onnx");
  const layer = "/embeddings/LayerNorm/Add_1_output_0";
  const { head, tail } = cutModel(model, layer);
  assert.deepEqual(
    head.graph!.output.map((o) => o.name),
    [layer],
  );
  assert.ok(tail.graph!.input.some((i) => i.name === layer));
  assert.ok(!tail.graph!.node.some((n) => n.output.includes(layer)), "the tail does not recompute the layer");
  assert.ok(
    !tail.graph!.input.some((i) => i.name === "input_ids"),
    "input_ids is no longer needed by the tail",
  );
  assert.throws(
    () => cutModel(model, "/no/such/tensor"),
    (e: Error) => e instanceof UnknownTensorError && /no\/such/.test(e.message),
  );
});
