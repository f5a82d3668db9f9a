/**
 * Gradient checks through {@link GradientSession} (so folding, decompositions and the branch probe
 * all take part): the gradient against central differences of onnxruntime forward passes of the
 * original model, and the Hessian-vector product against central differences of that gradient.
 * Both are reported as relative L2 errors.
 */
import { encodeModel } from "../onnx/codec.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend } from "../runtime/backend.js";
import { GradientSession } from "../runtime/gradient-session.js";
import { nodeBackend } from "../runtime/node.js";
import { Random } from "../tensor/random.js";
import { relativeL2, type Tensor, tensor, toFloat64 } from "../tensor/tensor.js";

/** Options of {@link sessionGradcheck}. */
export interface SessionGradcheckOptions {
  wrt: string[];
  output: string;
  hvp?: boolean;
  /** Finite-difference step (default 1e-5). */
  eps?: number;
  fixed?: string[];
  seed?: number;
  backend?: Backend;
}

/** Relative L2 errors of the gradient (and HVP) per wrt tensor. */
export interface SessionGradcheckResult {
  gradient: Record<string, number>;
  hvp?: Record<string, number>;
  /** The session's gradient, for further checks. */
  analytic: Record<string, Float64Array>;
}

function randomLike(t: Tensor, rng: Random): Tensor {
  const out = tensor(t.dtype, t.dims);
  for (let i = 0; i < out.data.length; i++) (out.data as Float64Array)[i] = rng.uniform() * 2 - 1;
  return out;
}

/** `x` moved by `step` along `dir`, or at element `dir` when it is an index. */
function moved(x: Tensor, dir: Tensor | number, step: number): Tensor {
  const out = tensor(x.dtype, x.dims, (x.data as Float64Array).slice() as Float64Array);
  const d = out.data as Float64Array;
  if (typeof dir === "number") d[dir] = d[dir]! + step;
  else for (let i = 0; i < d.length; i++) d[i] = d[i]! + step * (dir.data as Float64Array)[i]!;
  return out;
}

/** Checks `model`'s gradient (and HVP) at `feeds` with a random seed on `output`. */
export async function sessionGradcheck(
  model: ModelProto,
  feeds: Record<string, Tensor>,
  options: SessionGradcheckOptions,
): Promise<SessionGradcheckResult> {
  const backend = options.backend ?? nodeBackend();
  const rng = new Random(options.seed ?? 3);
  const eps = options.eps ?? 1e-5;
  const s = await GradientSession.create(backend, model, feeds, {
    wrt: options.wrt,
    outputs: [options.output],
    hvp: options.hvp,
    fixed: options.fixed,
  });
  const fwd = await backend.createSession(encodeModel(model), { optimization: "disabled" });
  try {
    const y = (await fwd.run(feeds, [options.output]))[options.output]!;
    const seed = randomLike(y, rng);
    const vs = Object.fromEntries(options.wrt.map((w) => [w, randomLike(feeds[w]!, rng)]));
    const r = await s.run(feeds, { [options.output]: seed }, options.hvp ? vs : undefined);
    const f = async (fs: Record<string, Tensor>) => {
      const out = toFloat64((await fwd.run(fs, [options.output]))[options.output]!);
      const sd = toFloat64(seed);
      return out.reduce((acc, v, i) => acc + v * sd[i]!, 0);
    };
    const result: SessionGradcheckResult = { gradient: {}, analytic: {} };
    for (const w of options.wrt) {
      const x = feeds[w]!;
      const fd = new Float64Array(x.data.length);
      for (let i = 0; i < fd.length; i++) {
        const fp = await f({ ...feeds, [w]: moved(x, i, eps) });
        const fm = await f({ ...feeds, [w]: moved(x, i, -eps) });
        fd[i] = (fp - fm) / (2 * eps);
      }
      result.analytic[w] = toFloat64(r.gradients[w]!);
      result.gradient[w] = relativeL2(result.analytic[w], fd);
    }
    if (options.hvp) {
      // H v ≈ (∇f(x + εv) − ∇f(x − εv)) / 2ε, every wrt moved together along its v
      const at = async (sign: number) => {
        const fs = { ...feeds };
        for (const w of options.wrt) fs[w] = moved(feeds[w]!, vs[w]!, sign * eps);
        return (await s.run(fs, { [options.output]: seed }, vs)).gradients;
      };
      const gp = await at(1);
      const gm = await at(-1);
      result.hvp = {};
      for (const w of options.wrt) {
        const a = toFloat64(gp[w]!);
        const b = toFloat64(gm[w]!);
        const fd = a.map((v, i) => (v - b[i]!) / (2 * eps));
        result.hvp[w] = relativeL2(toFloat64(r.hvp![w]!), fd);
      }
    }
    return result;
  } finally {
    await fwd.dispose();
    await s.dispose();
  }
}
