import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { integratedGradients } from "../attribution/ig.js";
import { UnsupportedOpError } from "../autodiff/gradient.js";
import { decodeModel, encodeModel } from "../onnx/codec.js";
import { makeModel } from "../onnx/make.js";
import { float32, float64, int64, type Tensor, toFloat64 } from "../tensor/tensor.js";
import { modeModel } from "../testing/mode-model.js";
import { cachedBackend } from "./cache.js";
import { FOLDED_METADATA_KEY, foldGivenValues } from "./fold-given.js";
import { GradientSession } from "./gradient-session.js";
import { nodeBackend } from "./node.js";

const backend = nodeBackend();
const DIR = join(import.meta.dirname, "../../test/fixtures/controlflow");

const x = float64([2, 3], [1, -2, 0.5, 3, 1.5, -1]);
const ones = float64([2, 3], [1, 1, 1, 1, 1, 1]);
const w = [1, 2, 3];
const expected = (mode: number) =>
  Array.from(x.data, (xi, i) => (mode === 1 ? 2 * xi * w[i % 3]! : -w[i % 3]!));

test("an If decided by a scalar input is folded for the given value, which the session then requires", async () => {
  const mode = int64([], [1]);
  const s = await GradientSession.create(backend, modeModel(), { x, mode }, { wrt: ["x"] });
  assert.ok(!s.model.graph!.node.some((n) => n.opType === "If"), "folded");
  assert.match(s.model.metadataProps.find((p) => p.key === FOLDED_METADATA_KEY)?.value ?? "", /"mode".*"1"/);
  const r = await s.run({ x, mode }, { y: ones });
  assert.deepEqual(Array.from(r.gradients.x!.data as Float64Array), expected(1));
  await assert.rejects(
    () => s.run({ x, mode: int64([], [0]) }, { y: ones }),
    (e: Error) =>
      e.name === "FoldedInputChangedError" && /"mode"/.test(e.message) && /mode = 1/.test(e.message),
  );
  await s.dispose();
});

test("sessions folded for different values are different models, so a session cache never mixes them", async () => {
  const cached = cachedBackend(backend);
  for (const m of [1, 0, 1]) {
    const mode = int64([], [m]);
    const s = await GradientSession.create(cached, modeModel(), { x, mode }, { wrt: ["x"] });
    const r = await s.run({ x, mode }, { y: ones });
    assert.deepEqual(Array.from(r.gradients.x!.data as Float64Array), expected(m), `mode ${m}`);
    await s.dispose();
  }
  await cached.clear();
});

test("without folding (fixed: []) the same If is differentiated as data-dependent, valid for every mode", async () => {
  const s = await GradientSession.create(
    backend,
    modeModel(),
    { x, mode: int64([], [1]) },
    { wrt: ["x"], fixed: [] },
  );
  assert.ok(
    s.model.graph!.node.some((n) => n.opType === "If"),
    "kept",
  );
  for (const m of [1, 0]) {
    const r = await s.run({ x, mode: int64([], [m]) }, { y: ones });
    assert.deepEqual(Array.from(r.gradients.x!.data as Float64Array), expected(m), `mode ${m}`);
  }
  await s.dispose();
});

test("per-example data (a batched mask used in float math) is not folded by default: any values run", async () => {
  // y = If(Σ mask > 0, x·mask·w, −x·w): the mask is rank 2, so not a fixed input by default
  const model = modeModel();
  const g = model.graph!;
  g.input[1] = { ...g.input[1]!, name: "mask", type: { tensorType: { elemType: 11 } } };
  g.initializer.push(
    ...makeModel({ inputs: [], outputs: [], nodes: [], initializers: { zero: float64([], [0]) } }).graph!
      .initializer,
  );
  g.node[0] = { ...g.node[0]!, opType: "Greater", input: ["msum", "zero"] };
  g.node.unshift({
    input: ["mask"],
    output: ["msum"],
    name: "sum",
    opType: "ReduceSum",
    attribute: [],
    metadataProps: [],
  });
  const thenBranch = g.node[2]!.attribute.find((a) => a.name === "then_branch")!.g!;
  thenBranch.node[0] = { ...thenBranch.node[0]!, input: ["x", "mask"] };
  const masks = [float64([2, 3], [1, 0, 1, 0, 1, 1]), float64([2, 3], [-1, 0, 0, 0, 0, -1])];
  const s = await GradientSession.create(backend, model, { x, mask: masks[0]! }, { wrt: ["x"] });
  assert.equal(s.foldedOn.size, 0);
  for (const [k, mask] of masks.entries()) {
    const r = await s.run({ x, mask }, { y: ones });
    const want = Array.from(mask.data, (mi, i) => (k === 0 ? mi * w[i % 3]! : -w[i % 3]!));
    assert.deepEqual(Array.from(r.gradients.x!.data as Float64Array), want, `mask ${k}`);
  }
  await s.dispose();
});

async function fixture(name: string) {
  return decodeModel(new Uint8Array(await readFile(join(DIR, name))));
}

test("Integrated Gradients with a sample-rate extra (torch `if sr == 16000`): folded, completeness holds", async () => {
  const model = await fixture("sr_net_opset17.onnx");
  const xs = float32([3, 4], [0.3, -0.2, 0.4, 0.1, -0.4, 0.25, 0.1, 0.3, 0.2, 0.2, -0.3, 0.45]);
  const totals: number[] = [];
  for (const rate of [16000, 8000]) {
    const r = await integratedGradients(model, {
      backend,
      inputs: { x: xs },
      extra: { sr: int64([], [rate]) },
      target: 1,
      steps: 64,
    });
    const delta = r.delta;
    for (const d of delta) assert.ok(Math.abs(d) < 1e-4, `sr = ${rate}: completeness delta ${d}`);
    totals.push(toFloat64(r.attributions.x!).reduce((a, b) => a + b, 0));
  }
  assert.ok(Math.abs(totals[0]! - totals[1]!) > 1e-3, "the two sample rates explain different functions");
});

/**
 * A voiced-like chunk: two harmonics of 220 Hz at 16 kHz plus seeded broadband noise, so that no
 * spectrogram bin is near zero (the model takes the log of magnitudes: a pure tone leaves empty
 * bins where the log is so curved that finite differences measure curvature, not the gradient).
 */
function voiced(n: number): Tensor {
  // a small linear congruential generator (seed 7): the input whose finite differences were
  // checked to converge (eps 3e-3 and 1e-3 agree to 0.1 %)
  let state = 7;
  const noise = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648 - 0.5;
  };
  return float32(
    [1, n],
    Array.from(
      { length: n },
      (_, i) =>
        0.3 * Math.sin((2 * Math.PI * 220 * i) / 16000) +
        0.2 * Math.sin((2 * Math.PI * 440 * i) / 16000) +
        0.1 * noise(),
    ),
  );
}

test("Silero VAD (pretrained, from @ricky0123/vad-web): its If nodes fold given sr; forward unchanged; gradient checked", async () => {
  const model = await fixture("silero_vad_legacy.onnx");
  const feeds = {
    input: voiced(512),
    sr: int64([], [16000]),
    h: float32([2, 1, 64]),
    c: float32([2, 1, 64]),
  };
  const folded = await foldGivenValues(backend, model, feeds, new Set(["sr"]));
  assert.deepEqual([...folded.decidedBy.keys()], ["sr"]);
  assert.ok(model.graph!.node.some((n) => n.opType === "If"));
  assert.ok(!folded.model.graph!.node.some((n) => n.opType === "If"), "no If left in the main graph");
  const run = async (m: typeof model, fs: Record<string, Tensor> = feeds) => {
    const session = await backend.createSession(encodeModel(m), { optimization: "disabled" });
    try {
      return await session.run(fs);
    } finally {
      await session.dispose();
    }
  };
  const [a, b] = [await run(model), await run(folded.model)];
  for (const k of ["output", "hn", "cn"])
    assert.deepEqual(Array.from(b[k]!.data as Float32Array), Array.from(a[k]!.data as Float32Array), k);
  // Differentiating it needs the LSTM decomposition (another family): without it the error names
  // LSTM, not the If nodes (which are gone); with it, the directional derivative along a random
  // direction matches a central difference of onnxruntime forwards (float32, voiced input).
  let s: GradientSession;
  try {
    s = await GradientSession.create(backend, model, feeds, { wrt: ["input"], outputs: ["output"] });
  } catch (e) {
    assert.ok(e instanceof UnsupportedOpError, String(e));
    assert.match((e as Error).message, /no gradient rule for LSTM/);
    return;
  }
  try {
    const g = toFloat64((await s.run(feeds, { output: float32([1, 1], [1]) })).gradients.input!);
    const v = Array.from({ length: 512 }, (_, i) => Math.sin(i * 0.37) * 0.5);
    const eps = 2e-3;
    const at = async (sign: number) => {
      const moved = float32(
        [1, 512],
        Array.from(feeds.input.data as Float32Array, (xi, i) => xi + sign * eps * v[i]!),
      );
      return Number((await run(model, { ...feeds, input: moved })).output!.data[0]);
    };
    const fd = ((await at(1)) - (await at(-1))) / (2 * eps);
    const half = ((await at(0.5)) - (await at(-0.5))) / eps;
    assert.ok(Math.abs(fd - half) <= 1e-2 * Math.abs(fd), `finite differences converge (${fd}, ${half})`);
    const analytic = g.reduce((acc, gi, i) => acc + gi * v[i]!, 0);
    assert.ok(
      Math.abs(analytic - fd) <= 2e-2 * Math.abs(fd) + 1e-6,
      `directional derivative ${analytic} vs ${fd}`,
    );
  } finally {
    await s.dispose();
  }
});
