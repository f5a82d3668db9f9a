"""Exports torchvision's mobile-class CNNs (mobilenet_v2, mobilenet_v3_small, efficientnet_b0) with
seeded random weights for the mobile bench (bench/mobile.ts), and optionally times a hand-written
torch Integrated Gradients on the same weights.

BatchNorm running statistics are estimated by a few seeded batches in train mode (momentum None:
a cumulative average), so the eval-mode activations are neither exploding nor dead.

Run: /usr/bin/python3 tools/make_mobile_models.py OUT_DIR            (writes OUT_DIR/<name>.onnx)
     /usr/bin/python3 tools/make_mobile_models.py OUT_DIR --ig-time efficientnet_b0 X.npy STEPS TARGET
       (prints the seconds of a hand-written torch IG, Gauss-Legendre nodes, torch.set_num_threads(2))
The bench calls it when a model file is missing; the outputs are not committed (≈ 10-20 MB each).
"""
import os
import sys
import time

import numpy as np
import torch
import torchvision

NAMES = ("mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0")
OPSET = 17


def build(name):
    torch.manual_seed(0)
    net = getattr(torchvision.models, name)(weights=None)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the estimation batches
            m.reset_running_stats()
    net.train()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _ in range(4):
            net(torch.randn(8, 3, 224, 224, generator=g))
    net.eval()
    return net


def export(out_dir, name):
    net = build(name)
    path = os.path.join(out_dir, f"{name}.onnx")
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    torch.onnx.export(net, x, path + ".tmp", opset_version=OPSET, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=True)
    os.replace(path + ".tmp", path)  # never leave a half-written model behind
    with torch.no_grad():
        y = net(x)
    print(f"{name}: {os.path.getsize(path) / 1e6:.1f} MB, logits std {y.std().item():.3f}")


def ig_time(out_dir, name, x_file, steps, target):
    """Seconds of IG (zero baseline, Gauss-Legendre like pathlens/Captum), after one warm-up."""
    torch.set_num_threads(2)
    net = build(name)
    x = torch.from_numpy(np.load(x_file)).float()
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    alphas = torch.tensor((nodes + 1) / 2, dtype=torch.float32)
    w = torch.tensor(weights / 2, dtype=torch.float32)

    def run(chunk=8):
        total = torch.zeros_like(x)
        for i in range(x.shape[0]):
            xi = x[i:i + 1]
            for s in range(0, steps, chunk):
                a = alphas[s:s + chunk].view(-1, 1, 1, 1)
                pts = (a * xi).requires_grad_(True)
                out = net(pts)[:, target].sum()
                (g,) = torch.autograd.grad(out, pts)
                total[i] += (g * w[s:s + chunk].view(-1, 1, 1, 1)).sum(0)
        return total * x

    run()
    t = time.perf_counter()
    run()
    print(f"{time.perf_counter() - t:.4f}")


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    if len(sys.argv) > 2 and sys.argv[2] == "--ig-time":
        ig_time(out_dir, sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
        return
    for name in sys.argv[2:] or NAMES:
        export(out_dir, name)


if __name__ == "__main__":
    main()
