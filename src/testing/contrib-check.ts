/**
 * Test helper for decomposed ops: the rewritten forward against onnxruntime's own kernel for the
 * original op, and the gradient of the rewritten graph against central differences of
 * onnxruntime's forward of the *original* model (so the reference never runs pathlens' rewrite).
 * Not part of the published package.
 */
import { decomposeModel, decompositionNeedsShapes } from "../autodiff/decompose.js";
import { encodeModel } from "../onnx/codec.js";
import type { ModelProto } from "../onnx/types.js";
import { GradientSession } from "../runtime/gradient-session.js";
import { nodeBackend } from "../runtime/node.js";
import { probeFeeds, probeShapes } from "../runtime/probe.js";
import { Random } from "../tensor/random.js";
import { type Tensor, tensor } from "../tensor/tensor.js";

/** What {@link checkDecomposition} measured. */
export interface DecompositionCheck {
  /** max |rewritten − onnxruntime| / max(1, max |onnxruntime|) over all outputs. */
  forward: number;
  /** Worst |analytic − finite difference| / (atol + rtol·|fd|) over the checked elements (≤ 1 passes). */
  gradient: number;
  message: string;
  /** Op types left in the rewritten model's graph. */
  ops: string[];
}

/** Options of {@link checkDecomposition}. */
export interface CheckOptions {
  wrt: string[];
  /** Output differentiated (default: the first graph output). */
  output?: string;
  eps?: number;
  rtol?: number;
  maxElements?: number;
  seed?: number;
  /**
   * For ops onnxruntime's CPU build has no kernel for (CUDA-only fusions): the expected outputs
   * computed independently (e.g. by loops in the test); finite differences then run the rewritten
   * model.
   */
  reference?: (feeds: Record<string, Tensor>) => Record<string, Tensor>;
}

async function runModel(model: ModelProto, feeds: Record<string, Tensor>, fetches: string[]) {
  const s = await nodeBackend().createSession(encodeModel(model), { optimization: "disabled" });
  try {
    return await s.run(feeds, fetches);
  } finally {
    await s.dispose();
  }
}

/** Compares the decomposition of `model` with onnxruntime (forward and finite-difference gradient). */
export async function checkDecomposition(
  model: ModelProto,
  feeds: Record<string, Tensor>,
  options: CheckOptions,
): Promise<DecompositionCheck> {
  const backend = nodeBackend();
  const rng = new Random(options.seed ?? 7);
  const outputs = model.graph!.output.map((o) => o.name!);
  const shapes = decompositionNeedsShapes(model)
    ? await probeShapes(backend, model, probeFeeds(model, feeds))
    : undefined;
  const rewritten = decomposeModel(model, shapes);
  const ops = [...new Set(rewritten.graph!.node.map((n) => `${n.domain ? `${n.domain}.` : ""}${n.opType}`))];
  const ref = options.reference ? options.reference(feeds) : await runModel(model, feeds, outputs);
  const ours = await runModel(rewritten, feeds, outputs);
  let forward = 0;
  for (const o of outputs) {
    const a = ref[o]!.data as ArrayLike<number>;
    const c = ours[o]!.data as ArrayLike<number>;
    let scale = 1;
    for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(Number(a[i])));
    for (let i = 0; i < a.length; i++)
      forward = Math.max(forward, Math.abs(Number(a[i]) - Number(c[i])) / scale);
  }
  const out = options.output ?? outputs[0]!;
  const seedData = Float32Array.from(ref[out]!.data as ArrayLike<number>, () => rng.normal());
  const seed = tensor("float32", ref[out]!.dims, seedData);
  const session = await GradientSession.create(backend, model, feeds, { wrt: options.wrt, outputs: [out] });
  const fwd = await backend.createSession(encodeModel(options.reference ? rewritten : model), {
    optimization: "disabled",
  });
  let gradient = 0;
  let message = "";
  try {
    const g = await session.run(feeds, { [out]: seed });
    const eps = options.eps ?? 1e-3;
    const rtol = options.rtol ?? 2e-2;
    const f = async (fs: Record<string, Tensor>) => {
      const y = (await fwd.run(fs, [out]))[out]!.data as Float32Array;
      let s = 0;
      for (let i = 0; i < y.length; i++) s += y[i]! * seedData[i]!;
      return s;
    };
    for (const w of options.wrt) {
      const x = feeds[w]!;
      const n = x.data.length;
      let idx = Array.from({ length: n }, (_, i) => i);
      const max = options.maxElements ?? 16;
      if (n > max) idx = idx.sort(() => rng.uniform() - 0.5).slice(0, max);
      const difference = async (i: number, h: number) => {
        const plus = (x.data as Float32Array).slice();
        const minus = plus.slice();
        plus[i]! += h;
        minus[i]! -= h;
        const fp = await f({ ...feeds, [w]: tensor("float32", x.dims, plus) });
        const fm = await f({ ...feeds, [w]: tensor("float32", x.dims, minus) });
        return { central: (fp - fm) / (2 * h), oneSided: [(fp - f0) / h, (f0 - fm) / h] as const };
      };
      const f0 = await f(feeds);
      const fd: number[] = [];
      const half: number[] = [];
      const sides: (readonly [number, number])[] = [];
      for (const i of idx) {
        const d = await difference(i, eps);
        fd.push(d.central);
        sides.push(d.oneSided);
        half.push((await difference(i, eps / 2)).central);
      }
      const analytic = g.gradients[w]!.data as Float32Array;
      const scale = Math.max(1e-6, ...fd.map(Math.abs));
      // a difference that changes by > 25 % when the step halves, or whose one-sided halves
      // disagree, straddles a kink (ReLU, clip): it measures the kink, not the derivative; at most
      // a quarter may be skipped
      const far = (a: number, c: number, k: number, floor: number) =>
        Math.abs(a - c) > 0.25 * (Math.abs(fd[k]!) + floor * scale);
      const kink = (k: number) => far(fd[k]!, half[k]!, k, 2e-2) || far(sides[k]![0], sides[k]![1], k, 0.1);
      const kinks = idx.filter((_, k) => kink(k)).length;
      if (kinks > idx.length / 4) {
        gradient = Number.POSITIVE_INFINITY;
        message = `${kinks} of ${idx.length} finite differences wrt ${w} straddle kinks`;
      }
      idx.forEach((i, k) => {
        if (kink(k)) return;
        const err = Math.abs(analytic[i]! - fd[k]!) / (rtol * scale + rtol * Math.abs(fd[k]!));
        if (err > gradient) {
          gradient = err;
          message = `gradient wrt ${w}[${i}]: analytic ${analytic[i]} vs finite difference ${fd[k]}`;
        }
      });
      if (fd.every((v) => v === 0)) {
        gradient = Number.POSITIVE_INFINITY;
        message = `finite differences wrt ${w} are all zero: the check would prove nothing`;
      }
    }
  } finally {
    await session.dispose();
    await fwd.dispose();
  }
  return { forward, gradient, message, ops };
}
