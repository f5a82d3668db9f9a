/**
 * Reference cases written by the torch generator scripts (tools/make_rnn*_models.py): stored
 * tensors as JSON, and the worst relative error of pathlens's tensors against them.
 */
import assert from "node:assert/strict";
import { float32, relativeL2, type Tensor, toFloat64 } from "../tensor/tensor.js";

/** A tensor as the generators store it. */
export interface Stored {
  dims: number[];
  data: number[];
}

/** One torch float64 reference case: inputs, seeds, HVP directions and the expected results. */
export interface TorchCase {
  name: string;
  models: { opset: number; model: string }[];
  inputs: Record<string, Stored>;
  seeds: Record<string, Stored>;
  v: Record<string, Stored>;
  outputs: Record<string, Stored>;
  gradients: Record<string, Stored>;
  hvp: Record<string, Stored>;
}

/** The stored tensors as float32 tensors, by name. */
export const f32 = (m: Record<string, Stored>): Record<string, Tensor<"float32">> =>
  Object.fromEntries(Object.entries(m).map(([k, s]) => [k, float32(s.dims, s.data)]));

/** Largest relative L2 error over the named tensors, with the name where it occurs. */
export function worst(got: Record<string, Tensor>, want: Record<string, Stored>): [number, string] {
  let w: [number, string] = [0, ""];
  for (const [k, s] of Object.entries(want)) {
    const g = got[k];
    assert.ok(g, `missing ${k}`);
    assert.deepEqual(g.dims, s.dims, `${k} dims`);
    const e = relativeL2(toFloat64(g), s.data);
    if (!(e <= w[0])) w = [e, k];
  }
  return w;
}
