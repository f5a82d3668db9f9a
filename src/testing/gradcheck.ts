/**
 * Test helper: checks a gradient graph (and optionally its Hessian-vector product graph) against
 * central finite differences of the original model. Not part of the published package.
 */
import type { GradientDevice } from "../autodiff/builder.js";
import { gradientModel } from "../autodiff/gradient.js";
import { encodeModel } from "../onnx/codec.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend } from "../runtime/backend.js";
import { nodeBackend } from "../runtime/node.js";
import { probeShapes } from "../runtime/probe.js";
import { probeBranchShapes } from "../runtime/probe-branches.js";
import { Random } from "../tensor/random.js";
import { allocate, type Tensor, tensor } from "../tensor/tensor.js";

/** What {@link gradcheck} compares. */
export interface GradcheckOptions {
  wrt: string[];
  outputs?: string[];
  /** Finite-difference step (default 1e-6 for float64 inputs, 1e-2 for float32). */
  eps?: number;
  /** Relative tolerance (default 1e-5 for float64, 2e-2 for float32). */
  rtol?: number;
  /** Absolute tolerance (default rtol × max |fd|). */
  atol?: number;
  /** Also check the Hessian-vector product from differentiating the gradient graph. */
  hvp?: boolean;
  seed?: number;
  backend?: Backend;
  /** Build the gradient graphs for this device's formulations (default "cpu"); they run on `backend`. */
  device?: GradientDevice;
  /** Check at most this many elements per wrt tensor (random subset). */
  maxElements?: number;
  /**
   * For piecewise models (MaxPool, Relu) in float32: the largest fraction of Hessian-vector
   * product elements whose finite difference may be discarded as crossing a kink (detected when
   * the differences at eps and eps/2 disagree by more than 25%; default 0: none).
   */
  kinks?: number;
}

/** Result of a gradient check: the worst scaled error (≤ 1 passes) and details. */
export interface GradcheckResult {
  worst: number;
  message: string;
}

function randomLike(t: { dtype: Tensor["dtype"]; dims: readonly number[] }, rng: Random): Tensor {
  const out = tensor(t.dtype, t.dims);
  const d = out.data as Float64Array;
  for (let i = 0; i < d.length; i++) d[i] = rng.normal();
  return out;
}

function perturbed(t: Tensor, i: number, delta: number): Tensor {
  const data = (t.data as Float64Array).slice();
  data[i] = data[i]! + delta;
  return tensor(t.dtype, t.dims, data as Tensor["data"]);
}

function axpy(t: Tensor, v: Tensor, a: number): Tensor {
  const data = allocate(t.dtype, t.data.length) as Float64Array;
  for (let i = 0; i < data.length; i++) data[i] = (t.data[i] as number) + a * (v.data[i] as number);
  return tensor(t.dtype, t.dims, data as Tensor["data"]);
}

function seededSum(out: Record<string, Tensor>, seeds: Record<string, Tensor>): number {
  let s = 0;
  for (const [k, seed] of Object.entries(seeds)) {
    const o = out[k]!;
    for (let i = 0; i < o.data.length; i++) s += (o.data[i] as number) * (seed.data[i] as number);
  }
  return s;
}

function compare(
  label: string,
  analytic: ArrayLike<number>,
  fd: ArrayLike<number>,
  idx: number[],
  rtol: number,
  atol?: number,
) {
  let scale = 0;
  for (const i of idx) scale = Math.max(scale, Math.abs(fd[i]!));
  const a = atol ?? rtol * Math.max(scale, 1e-12);
  let worst = 0;
  let at = -1;
  for (const i of idx) {
    const err = Math.abs(analytic[i]! - fd[i]!) / (a + rtol * Math.abs(fd[i]!));
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  const msg =
    at >= 0
      ? `${label}: worst at element ${at}: analytic ${analytic[at]} vs finite difference ${fd[at]}`
      : label;
  return { worst, message: msg };
}

/**
 * Compares the gradient graph of `model` with central finite differences at `feeds`.
 * Returns the worst error scaled by the tolerance (≤ 1 passes).
 */
export async function gradcheck(
  model: ModelProto,
  feeds: Record<string, Tensor>,
  options: GradcheckOptions,
): Promise<GradcheckResult> {
  const backend = options.backend ?? nodeBackend();
  const rng = new Random(options.seed ?? 1);
  const f64 = options.wrt.every((w) => feeds[w]!.dtype === "float64");
  const eps = options.eps ?? (f64 ? 1e-6 : 1e-2);
  const rtol = options.rtol ?? (f64 ? 1e-5 : 2e-2);
  const shapes = await probeShapes(backend, model, feeds);
  await probeBranchShapes(backend, model, feeds, shapes);
  const outputs = options.outputs ?? model.graph!.output.map((o) => o.name!);
  const gm = gradientModel(model, { wrt: options.wrt, outputs, shapes, device: options.device });
  const seeds: Record<string, Tensor> = {};
  const seedByOutput: Record<string, Tensor> = {};
  gm.seeds.forEach((s, k) => {
    const t = randomLike(shapes.get(outputs[k]!)! as { dtype: Tensor["dtype"]; dims: number[] }, rng);
    seeds[s] = t;
    seedByOutput[outputs[k]!] = t;
  });
  const fwd = await backend.createSession(encodeModel(model), { optimization: "disabled" });
  const grad = await backend.createSession(encodeModel(gm.model));
  const results: GradcheckResult[] = [];
  try {
    const g = await grad.run({ ...feeds, ...seeds }, gm.gradients);
    const f = async (fs: Record<string, Tensor>) => seededSum(await fwd.run(fs, outputs), seedByOutput);
    for (const [k, w] of options.wrt.entries()) {
      const x = feeds[w]!;
      const n = x.data.length;
      let idx = Array.from({ length: n }, (_, i) => i);
      if (options.maxElements && n > options.maxElements) {
        idx = idx.sort(() => rng.uniform() - 0.5).slice(0, options.maxElements);
      }
      const fd = new Float64Array(n);
      for (const i of idx) {
        const fp = await f({ ...feeds, [w]: perturbed(x, i, eps) });
        const fm = await f({ ...feeds, [w]: perturbed(x, i, -eps) });
        fd[i] = (fp - fm) / (2 * eps);
      }
      const analytic = Array.from(g[gm.gradients[k]!]!.data as Float64Array);
      results.push(compare(`gradient wrt ${w}`, analytic, fd, idx, rtol, options.atol));
    }
    if (options.hvp) {
      const shapes2 = await probeShapes(backend, gm.model, { ...feeds, ...seeds });
      await probeBranchShapes(backend, gm.model, { ...feeds, ...seeds }, shapes2);
      const hm = gradientModel(gm.model, {
        wrt: options.wrt,
        outputs: gm.gradients,
        shapes: shapes2,
        keepOutputs: false,
        device: options.device,
      });
      const vs: Record<string, Tensor> = {};
      hm.seeds.forEach((s, k) => {
        vs[s] = randomLike(feeds[options.wrt[k]!]!, rng);
      });
      const hs = await backend.createSession(encodeModel(hm.model));
      try {
        const h = await hs.run({ ...feeds, ...seeds, ...vs }, hm.gradients);
        // H v by central differences of the gradient along v (all wrt moved together)
        const plus: Record<string, Tensor> = { ...feeds };
        const minus: Record<string, Tensor> = { ...feeds };
        options.wrt.forEach((w, k) => {
          plus[w] = axpy(feeds[w]!, vs[hm.seeds[k]!]!, eps);
          minus[w] = axpy(feeds[w]!, vs[hm.seeds[k]!]!, -eps);
        });
        const differences = async (step: number) => {
          const plus: Record<string, Tensor> = { ...feeds };
          const minus: Record<string, Tensor> = { ...feeds };
          options.wrt.forEach((w, k) => {
            plus[w] = axpy(feeds[w]!, vs[hm.seeds[k]!]!, step);
            minus[w] = axpy(feeds[w]!, vs[hm.seeds[k]!]!, -step);
          });
          const gp = await grad.run({ ...plus, ...seeds }, gm.gradients);
          const gmn = await grad.run({ ...minus, ...seeds }, gm.gradients);
          return options.wrt.map((_, k) => {
            const a = gp[gm.gradients[k]!]!.data as Float64Array;
            const c = gmn[gm.gradients[k]!]!.data as Float64Array;
            return Array.from(a, (v, i) => (v - c[i]!) / (2 * step));
          });
        };
        const fds = await differences(eps);
        const halves = options.kinks ? await differences(eps / 2) : undefined;
        options.wrt.forEach((w, k) => {
          const fd = fds[k]!;
          let idx = fd.map((_, i) => i);
          let note = "";
          if (halves) {
            const scale = Math.max(...fd.map(Math.abs), 1e-12);
            const smooth = idx.filter(
              (i) => Math.abs(fd[i]! - halves[k]![i]!) <= 0.25 * (Math.abs(fd[i]!) + 2e-2 * scale),
            );
            const dropped = idx.length - smooth.length;
            if (process.env.GRADCHECK_DEBUG)
              for (const i of idx)
                if (!smooth.includes(i)) console.log(i, fd[i], halves[k]![i], h[hm.gradients[k]!]!.data[i]);
            if (dropped > options.kinks! * idx.length) {
              results.push({
                worst: Infinity,
                message: `Hessian-vector product wrt ${w}: ${dropped} of ${idx.length} differences cross kinks`,
              });
            }
            idx = smooth;
            note = ` (${dropped} kink elements skipped)`;
          }
          const r = compare(
            `Hessian-vector product wrt ${w}`,
            Array.from(h[hm.gradients[k]!]!.data as Float64Array),
            fd,
            idx,
            rtol,
            options.atol,
          );
          results.push({ worst: r.worst, message: r.message + note });
        });
      } finally {
        await hs.dispose();
      }
    }
  } finally {
    await fwd.dispose();
    await grad.dispose();
  }
  const worst = results.reduce((a, r) => (r.worst > a.worst ? r : a), { worst: 0, message: "" });
  return worst;
}
