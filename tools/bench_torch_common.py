"""Shared pieces of the side-by-side benchmark scripts (tools/bench_torch_*.py): a hand-written
Integrated Gradients loop in torch, the Captum runner, argument parsing and the timing report.

Every script prints one JSON line on stdout at the end:
  {"importSeconds", "buildSeconds", "computeSeconds", ...}
computeSeconds is the attribution call alone (model built, inputs loaded); the caller times the
whole process itself. Attributions are written as float32 .npy to --out.
"""
import argparse
import json
import time

T0 = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(2)


def parse_args(description, extra=None):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--impl", choices=["torch", "captum"], required=True)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--target", type=int, required=True)
    p.add_argument("--points-per-batch", type=int, default=0,
                   help="path points per forward/backward (Captum's internal_batch_size); 0: all at once")
    p.add_argument("--out", help="write the attributions here (.npy)")
    p.add_argument("--logits-out", help="only write the model's logits at the inputs here (.npy) and exit")
    if extra:
        extra(p)
    return p.parse_args()


def gauss_legendre(n):
    """Points in [0, 1] and weights summing to 1, as Captum's 'gausslegendre' method."""
    nodes, weights = np.polynomial.legendre.leggauss(n)
    return torch.tensor((nodes + 1) / 2, dtype=torch.float32), torch.tensor(weights / 2, dtype=torch.float32)


def hand_ig(f, x, xb, target, steps, per_batch, extra=()):
    """Integrated Gradients of f(points, *extra)[:, target] from xb to x: the path points of all
    examples in batches of `per_batch` points (rounded to whole quadrature steps), Gauss–Legendre.
    `extra` tensors (e.g. attention masks) are repeated along with the points."""
    alphas, w = gauss_legendre(steps)
    b = x.shape[0]
    k_max = max(1, (per_batch or steps * b) // b)
    total = torch.zeros_like(x)
    ones = (1,) * (x.dim() - 1)
    for s in range(0, steps, k_max):
        a = alphas[s : s + k_max]
        k = len(a)
        pts = (xb[None] + a.view(k, 1, *ones) * (x - xb)[None]).reshape(k * b, *x.shape[1:])
        pts.requires_grad_(True)
        reps = [e.repeat(k, *([1] * (e.dim() - 1))) for e in extra]
        out = f(pts, *reps)
        sel = out[torch.arange(k * b), target]
        (g,) = torch.autograd.grad(sel.sum(), pts)
        total += (g.view(k, b, *x.shape[1:]) * w[s : s + k].view(k, 1, *ones)).sum(0)
    return total * (x - xb)


def timed(fn):
    t = time.perf_counter()
    r = fn()
    return r, time.perf_counter() - t


def report(args, attributions, build_started, build_seconds, compute_seconds, **more):
    """Writes the attributions and prints the JSON line; build_started: perf_counter() when the
    imports were done (the script's own and Captum's) and the model building began."""
    if args.out:
        np.save(args.out, attributions.detach().numpy().astype(np.float32))
    print(json.dumps({
        "impl": args.impl,
        "importSeconds": build_started - T0,
        "buildSeconds": build_seconds,
        "computeSeconds": compute_seconds,
        "pointsPerBatch": args.points_per_batch,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        **more,
    }))

def captum_ig(model, x, xb, target, steps, per_batch, layer=None, extra=()):
    """Captum 0.8's IntegratedGradients (or LayerIntegratedGradients at `layer`), Gauss–Legendre."""
    from captum.attr import IntegratedGradients, LayerIntegratedGradients

    ig = LayerIntegratedGradients(model, layer) if layer is not None else IntegratedGradients(model)
    return ig.attribute(
        x,
        baselines=xb,
        target=target,
        additional_forward_args=tuple(extra) if extra else None,
        n_steps=steps,
        method="gausslegendre",
        internal_batch_size=per_batch or None,
    )
