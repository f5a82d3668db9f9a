/**
 * The scorer every explainer shares: one forward run for the prediction shown next to an
 * explanation (all outputs, float64), the softmax / sigmoid that turn logits into the
 * probabilities reported, and — when probabilities rather than logits are explained — the
 * model with that activation appended, so the gradient graph differentiates it too.
 */
import { encodeModel } from "../onnx/codec.js";
import { cloneModel, makeAttribute, makeNode, makeValueInfo } from "../onnx/model.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend } from "../runtime/backend.js";
import type { Tensor } from "../tensor/tensor.js";

/** One output of a forward run: its shape and values (float64). */
export interface ScoredOutput {
  dims: number[];
  values: Float64Array;
}

/** Runs `model` once on `feeds`; every output by name. */
export async function scoreOutputs(
  backend: Backend,
  model: ModelProto,
  feeds: Record<string, Tensor>,
): Promise<Record<string, ScoredOutput>> {
  const session = await backend.createSession(encodeModel(model));
  try {
    const out = await session.run(feeds);
    return Object.fromEntries(
      session.outputNames.map((n) => [
        n,
        { dims: [...out[n]!.dims], values: Float64Array.from(out[n]!.data as Float32Array, Number) },
      ]),
    );
  } finally {
    await session.dispose();
  }
}

/** Softmax of a vector. */
export function softmax(v: ArrayLike<number>): number[] {
  const xs = Array.from(v);
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / total);
}

/** The logistic sigmoid. */
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Index of the largest value. */
export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

/** Logits, probabilities and the predicted class of the first example of a classifier. */
export interface ClassScores {
  logits: number[];
  probabilities: number[];
  predicted: number;
}

/** Scores a classifier (the first output, first example) with a softmax. */
export async function classScores(
  backend: Backend,
  model: ModelProto,
  feeds: Record<string, Tensor>,
): Promise<ClassScores> {
  const outputs = await scoreOutputs(backend, model, feeds);
  const first = outputs[model.graph!.output[0]!.name!]!;
  const perExample = first.values.length / (first.dims[0] ?? 1);
  const logits = Array.from(first.values.subarray(0, perExample));
  const probabilities = softmax(logits);
  return { logits, probabilities, predicted: argmax(probabilities) };
}

/** What is explained of an output: its raw values (logits) or their probabilities. */
export type ScoreKind = "logit" | "softmax" | "sigmoid";

/**
 * The model with softmax / sigmoid (over the last axis) appended to `output` as a new output;
 * `logit` returns the model unchanged.
 */
export function withScore(
  model: ModelProto,
  output: string,
  kind: ScoreKind,
): { model: ModelProto; output: string } {
  if (kind === "logit") return { model, output };
  const out = cloneModel(model);
  const name = `${output}_${kind}`;
  out.graph!.node.push(
    kind === "softmax"
      ? makeNode("Softmax", [output], [name], `pathlens_${name}`, [makeAttribute("axis", -1)])
      : makeNode("Sigmoid", [output], [name], `pathlens_${name}`),
  );
  out.graph!.output.push(makeValueInfo(name, 1));
  return { model: out, output: name };
}
