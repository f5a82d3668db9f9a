/**
 * One forward run of a classifier: the logits of the first example and their softmax, for
 * reporting a prediction next to its explanation.
 */
import { encodeModel } from "../onnx/codec.js";
import type { ModelProto } from "../onnx/types.js";
import type { Tensor } from "../tensor/tensor.js";
import type { Backend } from "./backend.js";

/** Logits, probabilities and the predicted class of the first example. */
export interface ClassScores {
  logits: number[];
  probabilities: number[];
  predicted: number;
}

/** Runs `model` once on `feeds` and scores the first example of its first output. */
export async function classScores(
  backend: Backend,
  model: ModelProto,
  feeds: Record<string, Tensor>,
): Promise<ClassScores> {
  const session = await backend.createSession(encodeModel(model));
  try {
    const out = (await session.run(feeds))[session.outputNames[0]!]!;
    const perExample = out.data.length / (out.dims[0] ?? 1);
    const logits = Array.from(out.data as Float32Array).slice(0, perExample);
    const m = Math.max(...logits);
    const e = logits.map((v) => Math.exp(v - m));
    const total = e.reduce((a, b) => a + b, 0);
    const probabilities = e.map((v) => v / total);
    return { logits, probabilities, predicted: probabilities.indexOf(Math.max(...probabilities)) };
  } finally {
    await session.dispose();
  }
}
