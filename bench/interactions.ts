/**
 * Integrated Hessians timing for `npm run bench`: the softplus MLP, 50 Gauss–Legendre nodes per
 * variable (2500 path points), all pairs, 8 examples.
 */
import { integratedHessians } from "../src/attribution/interactions.js";
import { nodeBackend } from "../src/runtime/node.js";
import { Random } from "../src/tensor/random.js";
import { float32 } from "../src/tensor/tensor.js";
import { readModelFixture } from "../src/testing/fixtures.js";

/** Runs the benchmark; returns the lines to print. */
export async function benchInteractions(): Promise<string[]> {
  const rng = new Random(7);
  const model = readModelFixture("models/softplus_mlp.onnx");
  const x = float32(
    [8, 10],
    Array.from({ length: 80 }, () => rng.normal()),
  );
  const backend = nodeBackend();
  await integratedHessians(model, {
    backend,
    inputs: { input: float32([1, 10], x.data.slice(0, 10)) },
    steps: 4,
  }); // warm-up
  const t = performance.now();
  const r = await integratedHessians(model, { backend, inputs: { input: x }, steps: 50 });
  const seconds = (performance.now() - t) / 1000;
  const evaluations = 8 * 50 * 50 * r.features; // one Hessian-vector product per point and feature
  const worst = Math.max(...Array.from(r.completenessDelta!, Math.abs));
  return [
    `softplus MLP, 8 examples × 10 features, 50×50 points: ${seconds.toFixed(2)} s, ${(evaluations / seconds).toFixed(0)} Hessian-vector products/s (each with its gradient), max |Σ Γ − (F(x) − F(x'))| ${worst.toExponential(1)}`,
  ];
}
