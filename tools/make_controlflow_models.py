"""Exports torch.jit.script'ed modules with data-dependent control flow (torch 1.13 scripting
export emits ONNX If and Loop nodes) at opsets 11, 13 and 17, and stores torch's float64 input
gradient and Hessian-vector product for pathlens' control-flow tests:

- if_net: an `if` on a tensor value (Σx > 0) choosing between two float computations (If);
- shape_loop_net: a `for` loop over x.size(1) (Loop, M computed from a shape; a `for` over a
  constant range is unrolled by torch itself, so constant trip counts are tested on hand-built
  Loops);
- while_net: a `while` on a tensor value (Loop with a data-dependent condition: must be refused);
- sr_net: an `if` on an int sample-rate input (decided by a given value; folded).

Run: /usr/bin/python3 tools/make_controlflow_models.py   (writes test/fixtures/controlflow/)
"""
import json
import os

import numpy as np
import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "controlflow")
torch.manual_seed(0)


class IfNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(4, 3)

    def forward(self, x):
        if x.sum() > 0:
            h = torch.tanh(self.a(x)) * x[:, :3]
        else:
            h = torch.sigmoid(self.b(x * x))
        return h.sum(1, keepdim=True) + h


class ShapeLoopNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Linear(2, 2)

    def forward(self, x):
        # x: (N, T, 2); a simple recurrent cell over time, unrolled over x.size(1)
        h = torch.zeros_like(x[:, 0])
        for t in range(x.size(1)):
            h = torch.tanh(self.w(h) + x[:, t])
        return h


class WhileNet(nn.Module):
    def forward(self, x):
        h = x
        while h.abs().sum() < 10.0:
            h = h * 2.0
        return h


class SrNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 2)
        self.b = nn.Linear(2, 2)

    def forward(self, x, sr: int):
        if sr == 16000:
            h = torch.tanh(self.a(x))
        else:
            h = torch.sigmoid(self.a(x[:, ::2].repeat(1, 2)))
        return self.b(h)


def fgrad_hvp(module, x, seed, v, *extra):
    m = module.double()
    xd = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = m(xd, *extra)
    (g,) = torch.autograd.grad((y * torch.tensor(seed, dtype=torch.float64)).sum(), xd, create_graph=True)
    (h,) = torch.autograd.grad((g * torch.tensor(v, dtype=torch.float64)).sum(), xd)
    module.float()
    return y.detach().numpy(), g.detach().numpy(), h.detach().numpy()


def export(module, name, args, input_names, opsets, dynamic):
    scripted = torch.jit.script(module)
    for opset in opsets:
        path = os.path.join(OUT, f"{name}_opset{opset}.onnx")
        torch.onnx.export(
            scripted, args, path, opset_version=opset, input_names=input_names,
            output_names=["y"], dynamic_axes=dynamic,
        )


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(0)
    manifest = {}
    cases = [
        ("if_net", IfNet(), (2, 4), {"x": {0: "N"}, "y": {0: "N"}}, [1.0, -1.0]),
        ("shape_loop_net", ShapeLoopNet(), (2, 5, 2), {"x": {0: "N", 1: "T"}, "y": {0: "N"}}, [1.0]),
    ]
    for name, module, shape, dynamic, signs in cases:
        module.eval()
        x0 = rng.uniform(-0.5, 0.5, shape).astype(np.float32)
        export(module, name, (torch.tensor(x0),), ["x"], [11, 13, 17], dynamic)
        for k, sign in enumerate(signs):
            # the If case: one point per branch (Σx > 0 and Σx < 0)
            x = (np.abs(x0) * sign).astype(np.float32) if name == "if_net" else x0
            with torch.no_grad():
                y = module(torch.tensor(x)).numpy()
            seed = rng.uniform(-1, 1, y.shape).astype(np.float32)
            v = rng.uniform(-1, 1, x.shape).astype(np.float32)
            out, g, h = fgrad_hvp(module, x, seed, v)
            tag = f"{name}_{k}"
            for key, arr in [("x", x), ("seed", seed), ("v", v), ("y", out), ("grad", g), ("hvp", h)]:
                np.save(os.path.join(OUT, f"{tag}_{key}.npy"), arr.astype(np.float32 if key in ("x", "seed", "v") else np.float64))
            manifest[tag] = {"model": name, "opsets": [11, 13, 17]}

    export(WhileNet(), "while_net", (torch.ones(2, 3),), ["x"], [13], {"x": {0: "N"}})

    sr = SrNet().eval()
    x = rng.uniform(-0.5, 0.5, (3, 4)).astype(np.float32)
    export(sr, "sr_net", (torch.tensor(x), 16000), ["x", "sr"], [13, 17], {"x": {0: "N"}, "y": {0: "N"}})
    for rate in (16000, 8000):
        with torch.no_grad():
            y = sr(torch.tensor(x), rate).numpy()
        seed = rng.uniform(-1, 1, y.shape).astype(np.float32)
        v = rng.uniform(-1, 1, x.shape).astype(np.float32)
        out, g, h = fgrad_hvp(sr, x, seed, v, rate)
        tag = f"sr_net_{rate}"
        for key, arr in [("x", x), ("seed", seed), ("v", v), ("y", out), ("grad", g), ("hvp", h)]:
            np.save(os.path.join(OUT, f"{tag}_{key}.npy"), arr.astype(np.float32 if key in ("x", "seed", "v") else np.float64))
        manifest[tag] = {"model": "sr_net", "opsets": [13, 17], "sr": rate}
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
