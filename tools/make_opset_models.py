"""Exports one small network at ONNX opsets 9, 11, 13 and 17 with torch 1.13 (Debian's
python3-torch) and stores torch's float64 input gradient and Hessian-vector product as the
reference for pathlens' "models of every opset work as exported" test.

The network uses what old exporters emit differently per opset: Clip (ReLU6; min/max
attributes before 11), Upsample/Resize, Slice (attributes before 10), ReduceMean and
Squeeze/Unsqueeze (axes attributes before 13/18), Pow in a hand-written LayerNorm, Softmax
(2-D coercion before 13), Gather, Concat, MaxPool with overlapping windows, Tanh, Gemm.
Smooth activations (Tanh, softplus) keep the Hessian non-trivial.

Run: /usr/bin/python3 tools/make_opset_models.py   (writes test/fixtures/opsets/)
"""
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "opsets")
torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, stride=2, padding=1)
        self.fc = nn.Linear(4 * 3 * 2 + 4, 5)
        self.gamma = nn.Parameter(torch.rand(5) + 0.5)

    def forward(self, x):
        h = torch.tanh(self.conv(x))                      # Conv, Tanh
        h = F.relu6(h * 3.0)                               # Clip (min/max attrs before opset 11)
        h = F.max_pool2d(h, 3, stride=2, padding=1)        # overlapping MaxPool
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")  # Upsample / Resize
        h = torch.tanh(self.conv2(h))                      # strided Conv
        h = h[:, :, 1:, :-1]                               # Slice
        m = h.mean(dim=(2, 3))                             # ReduceMean
        flat = torch.flatten(h, 1)
        z = torch.cat([flat, m], dim=1)                    # Concat
        z = self.fc(z)                                     # Gemm
        mu = z.mean(dim=-1, keepdim=True)                  # hand-written LayerNorm: Pow, Sqrt
        var = ((z - mu) ** 2).mean(dim=-1, keepdim=True)
        z = (z - mu) / torch.sqrt(var + 1e-5) * self.gamma
        z = F.softplus(z).unsqueeze(1).squeeze(1)          # Softplus, Unsqueeze/Squeeze
        return torch.softmax(z, dim=-1)                    # Softmax


def main():
    os.makedirs(OUT, exist_ok=True)
    net = Net().eval()
    x = torch.randn(3, 2, 8, 6)
    seed = torch.randn(3, 5)
    v = torch.randn(3, 2, 8, 6)
    manifest = {"cases": []}
    for opset in (9, 11, 13, 17):
        path = os.path.join(OUT, f"net_opset{opset}.onnx")
        torch.onnx.export(net, x, path, opset_version=opset, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
        manifest["cases"].append({"opset": opset, "model": f"opsets/net_opset{opset}.onnx"})
    net64 = net.double()
    xd = x.double().requires_grad_(True)
    y = net64(xd)
    (g,) = torch.autograd.grad((y * seed.double()).sum(), xd, create_graph=True)
    (hv,) = torch.autograd.grad((g * v.double()).sum(), xd)
    np.save(os.path.join(OUT, "x.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(OUT, "seed.npy"), seed.numpy().astype(np.float32))
    np.save(os.path.join(OUT, "v.npy"), v.numpy().astype(np.float32))
    np.save(os.path.join(OUT, "output.npy"), y.detach().numpy())
    np.save(os.path.join(OUT, "grad.npy"), g.detach().numpy())
    np.save(os.path.join(OUT, "hvp.npy"), hv.numpy())
    manifest["torch"] = torch.__version__
    manifest["note"] = "reference in float64 at the float32 inputs; the ONNX models run in float32"
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
