import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { fixturePath } from "../testing/fixtures.js";
import { decodeModel, encodeModel, ModelDecodeError } from "./codec.js";
import { opsetOf } from "./model.js";

const MODELS = [
  "digits_cnn",
  "digits_ae_encoder",
  "digits_ae_decoder",
  "softplus_mlp",
  "tabular_mlp",
  "tiny_bert",
  "tiny_bert_emb2logits",
  "tiny_bert_embeddings",
  "resnet18",
];

for (const name of MODELS) {
  const path = fixturePath(`models/${name}.onnx`);
  test(`decode → encode reproduces ${name}.onnx byte for byte`, {
    skip: !existsSync(path) && "large model not available",
  }, () => {
    const bytes = new Uint8Array(readFileSync(path));
    const model = decodeModel(bytes, path);
    assert.ok(model.graph!.node.length > 0);
    assert.ok(opsetOf(model) >= 9);
    const again = encodeModel(model);
    assert.equal(again.length, bytes.length);
    assert.ok(Buffer.from(again).equals(Buffer.from(bytes)), "identical bytes");
  });
}

test("a truncated or garbage model file is a ModelDecodeError naming the file", () => {
  const path = fixturePath("models/digits_cnn.onnx");
  const bytes = new Uint8Array(readFileSync(path));
  for (const bad of [
    bytes.subarray(0, Math.floor(bytes.length / 2)),
    new TextEncoder().encode("not a model at all"),
    new Uint8Array(0),
  ]) {
    assert.throws(
      () => decodeModel(bad, "broken.onnx"),
      (e: Error) => e instanceof ModelDecodeError && /broken\.onnx/.test(e.message),
    );
  }
});
