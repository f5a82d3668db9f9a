import assert from "node:assert/strict";
import { test } from "node:test";
import { makeModel } from "../../onnx/make.js";
import { GradientSession } from "../../runtime/gradient-session.js";
import { nodeBackend } from "../../runtime/node.js";
import { float64, int64 } from "../../tensor/tensor.js";
import { sessionGradcheck } from "../../testing/session-gradcheck.js";

/** y = σ(Pad(x, mode) ⊙ w) with pads (axis 0: 0 before, 1 after; axis 1: 2 before, 3 after). */
function padModel(mode: string, opset: number) {
  const w = Array.from({ length: 3 * 10 }, (_, i) => Math.sin(i + 1));
  return makeModel({
    opset,
    inputs: [{ name: "x", dtype: "float64", dims: [2, 5] }],
    outputs: [{ name: "y", dtype: "float64" }],
    initializers: { pads: int64([4], [0, 2, 1, 3]), w: float64([3, 10], w) },
    nodes: [
      { op: "Pad", inputs: ["x", "pads"], outputs: ["p"], attrs: { mode } },
      { op: "Mul", inputs: ["p", "w"], outputs: ["pw"] },
      { op: "Sigmoid", inputs: ["pw"], outputs: ["y"] },
    ],
  });
}

const x = float64([2, 5], [0.3, -0.4, 0.9, -0.2, 0.1, 0.6, -0.7, 0.2, 0.5, -0.3]);

for (const mode of ["reflect", "edge"])
  for (const opset of [11, 13, 18])
    test(`Pad mode ${mode} (opset ${opset}) is rewritten into Slices and Concats: gradient and HVP`, async () => {
      const s = await GradientSession.create(nodeBackend(), padModel(mode, opset), { x }, { wrt: ["x"] });
      assert.ok(
        !s.model.graph!.node.some((n) => n.opType === "Pad" && n.name?.startsWith("Pad_")),
        "rewritten",
      );
      await s.dispose();
      const r = await sessionGradcheck(padModel(mode, opset), { x }, { wrt: ["x"], output: "y", hvp: true });
      assert.ok(r.gradient.x! < 1e-7, `gradient: ${r.gradient.x}`);
      assert.ok(r.hvp!.x! < 1e-6, `HVP: ${r.hvp!.x}`);
    });
