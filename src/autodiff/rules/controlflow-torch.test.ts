/**
 * torch.jit.script exports with data-dependent control flow (tools/make_controlflow_models.py,
 * torch 1.13): gradients and Hessian-vector products against torch float64 autograd.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { readNpy } from "../../io/npy.js";
import { decodeModel } from "../../onnx/codec.js";
import { GradientSession } from "../../runtime/gradient-session.js";
import { nodeBackend } from "../../runtime/node.js";
import { float32, int64, relativeL2, toFloat64 } from "../../tensor/tensor.js";
import { UnsupportedOpError } from "../gradient.js";

const DIR = join(import.meta.dirname, "../../../test/fixtures/controlflow");
const backend = nodeBackend();

async function model(name: string) {
  return decodeModel(new Uint8Array(await readFile(join(DIR, `${name}.onnx`))));
}

async function refs(tag: string) {
  const get = (k: string) => readNpy(join(DIR, `${tag}_${k}.npy`));
  return {
    x: await get("x"),
    seed: await get("seed"),
    v: await get("v"),
    y: await get("y"),
    grad: await get("grad"),
    hvp: await get("hvp"),
  };
}

/** Runs the model's HVP session on the reference point and compares with torch float64. */
async function compare(file: string, tag: string, extra: Record<string, ReturnType<typeof int64>> = {}) {
  const r = await refs(tag);
  const s = await GradientSession.create(
    backend,
    await model(file),
    { x: r.x, ...extra },
    { wrt: ["x"], hvp: true },
  );
  try {
    const out = await s.run({ x: r.x, ...extra }, { y: r.seed }, { x: r.v });
    return {
      model: s.model,
      y: relativeL2(toFloat64(out.outputs.y!), toFloat64(r.y)),
      grad: relativeL2(toFloat64(out.gradients.x!), toFloat64(r.grad)),
      hvp: relativeL2(toFloat64(out.hvp!.x!), toFloat64(r.hvp)),
    };
  } finally {
    await s.dispose();
  }
}

for (const opset of [11, 13, 17]) {
  test(`torch script \`if x.sum() > 0\` (If on data, opset ${opset}): both branches match torch float64`, async () => {
    for (const tag of ["if_net_0", "if_net_1"]) {
      const e = await compare(`if_net_opset${opset}`, tag);
      assert.ok(
        e.model.graph!.node.some((n) => n.opType === "If"),
        "the If stays (decided by data)",
      );
      assert.ok(e.y < 1e-6, `${tag} output ${e.y}`);
      assert.ok(e.grad < 1e-6, `${tag} gradient ${e.grad}`);
      assert.ok(e.hvp < 1e-6, `${tag} HVP ${e.hvp}`);
    }
  });

  test(`torch script \`for t in range(x.size(1))\` (Loop over a shape, opset ${opset}): unrolled, matches torch float64`, async () => {
    const e = await compare(`shape_loop_net_opset${opset}`, "shape_loop_net_0");
    assert.ok(!e.model.graph!.node.some((n) => n.opType === "Loop"), "the Loop is unrolled");
    assert.ok(e.y < 1e-6, `output ${e.y}`);
    assert.ok(e.grad < 1e-6, `gradient ${e.grad}`);
    assert.ok(e.hvp < 1e-6, `HVP ${e.hvp}`);
  });
}

for (const opset of [13, 17]) {
  test(`torch script \`if sr == 16000\` on an int input (opset ${opset}): folded per value, matches torch float64`, async () => {
    for (const rate of [16000, 8000]) {
      const sr = int64([], [rate]);
      const e = await compare(`sr_net_opset${opset}`, `sr_net_${rate}`, { sr });
      assert.ok(!e.model.graph!.node.some((n) => n.opType === "If"), `sr = ${rate}: the If is folded`);
      assert.ok(e.y < 1e-6, `sr = ${rate}: output ${e.y}`);
      assert.ok(e.grad < 1e-6, `sr = ${rate}: gradient ${e.grad}`);
      assert.ok(e.hvp < 1e-6, `sr = ${rate}: HVP ${e.hvp}`);
    }
  });
}

test("torch script `while h.abs().sum() < 10` is refused: the loop's condition is computed from data", async () => {
  const x = float32([2, 3], [0.5, -1, 2, 0.25, 1, -0.5]);
  await assert.rejects(
    async () => GradientSession.create(backend, await model("while_net_opset13"), { x }, { wrt: ["x"] }),
    (e: Error) =>
      e instanceof UnsupportedOpError && /Loop/.test(e.message) && /computed from data/.test(e.message),
  );
});

test("a Loop unrolled over x.size(1) refuses another length but accepts another batch", async () => {
  const r = await refs("shape_loop_net_0");
  const s = await GradientSession.create(
    backend,
    await model("shape_loop_net_opset13"),
    { x: r.x },
    { wrt: ["x"] },
  );
  try {
    const [n, t, c] = r.x.dims as [number, number, number];
    const longer = float32([n, t + 1, c], new Float32Array(n * (t + 1) * c).fill(0.1));
    await assert.rejects(
      () => s.run({ x: longer }, { y: float32([n, c], new Float32Array(n * c).fill(1)) }),
      (e: Error) => e.name === "FoldedInputChangedError" && /shape of input "x"/.test(e.message),
    );
    const wider = float32([n + 1, t, c], new Float32Array((n + 1) * t * c).fill(0.1));
    const out = await s.run({ x: wider }, { y: float32([n + 1, c], new Float32Array((n + 1) * c).fill(1)) });
    assert.deepEqual(out.gradients.x!.dims, [n + 1, t, c]);
  } finally {
    await s.dispose();
  }
});
