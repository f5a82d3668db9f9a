"""Exports a few common architectures' building blocks with torch 1.13 (Debian's python3-torch)
at two opsets and stores torch's float64 input gradient and Hessian-vector product, for
pathlens' "any ONNX model" test: a MobileNetV3-style block (depthwise conv, BatchNorm,
Hardswish, squeeze-and-excitation with Hardsigmoid, residual), a transformer encoder layer
(nn.TransformerEncoderLayer: attention, LayerNorm, GELU) with mean pooling, and a 1-D
convolutional sequence model (Conv1d, dilation, AvgPool1d, LeakyReLU, ELU, Softmax over time).

Run: /usr/bin/python3 tools/make_zoo_models.py   (writes test/fixtures/zoo/)
"""
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "zoo")
torch.manual_seed(0)


class MobileBlock(nn.Module):
    def __init__(self, c=8):
        super().__init__()
        self.expand = nn.Conv2d(3, c, 1)
        self.bn1 = nn.BatchNorm2d(c)
        self.dw = nn.Conv2d(c, c, 3, stride=2, padding=1, groups=c)
        self.bn2 = nn.BatchNorm2d(c)
        self.se1 = nn.Conv2d(c, 4, 1)
        self.se2 = nn.Conv2d(4, c, 1)
        self.project = nn.Conv2d(c, c, 1)
        self.head = nn.Linear(c, 4)

    def forward(self, x):
        h = F.hardswish(self.bn1(self.expand(x)))
        h = F.hardswish(self.bn2(self.dw(h)))
        s = F.hardsigmoid(self.se2(F.relu(self.se1(F.adaptive_avg_pool2d(h, 1)))))
        h = h * s
        h = h + self.project(h)
        return self.head(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


class Encoder(nn.Module):
    def __init__(self, d=16):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(d, 2, dim_feedforward=32, dropout=0.0, activation="gelu", batch_first=True)
        self.head = nn.Linear(d, 3)

    def forward(self, x):
        return self.head(self.layer(x).mean(dim=1))


class Seq1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 6, 3, padding=2, dilation=2)
        self.c2 = nn.Conv1d(6, 6, 3, stride=2)
        self.out = nn.Linear(6, 2)

    def forward(self, x):
        h = F.leaky_relu(self.c1(x), 0.1)
        h = F.elu(F.avg_pool1d(self.c2(h), 2))
        w = torch.softmax(h.sum(1, keepdim=True), dim=-1)
        return self.out((h * w).sum(-1))


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    for name, net, shape in [
        ("mobile_block", MobileBlock(), (2, 3, 16, 16)),
        ("encoder_layer", Encoder(), (2, 5, 16)),
        ("seq1d", Seq1d(), (2, 4, 20)),
    ]:
        net.eval()
        if name == "mobile_block":  # non-trivial BatchNorm statistics
            with torch.no_grad():
                for bn in (net.bn1, net.bn2):
                    bn.running_mean.uniform_(-0.5, 0.5)
                    bn.running_var.uniform_(0.5, 2)
        x = torch.randn(*shape)
        with torch.no_grad():
            y = net(x)
        seed = torch.randn_like(y)
        v = torch.randn_like(x)
        net64 = net.double()

        def grad_at(z):
            z = z.clone().requires_grad_(True)
            o = net64(z)
            (gz,) = torch.autograd.grad((o * seed.double()).sum(), z)
            return o.detach(), gz

        out, g = grad_at(x.double())
        # Hessian-vector product by central differences of the float64 gradient (torch has no
        # second derivative for Hardsigmoid/Hardswish); eps 1e-6 keeps the error near 1e-10.
        eps = 1e-6
        hv = (grad_at(x.double() + eps * v.double())[1] - grad_at(x.double() - eps * v.double())[1]) / (2 * eps)
        net.float()
        for opset in (13, 17):
            f = f"{name}_opset{opset}.onnx"
            torch.onnx.export(net, x, os.path.join(OUT, f), opset_version=opset, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
            cases.append({"name": name, "opset": opset, "model": f"zoo/{f}"})
        for k, t in {"x": x, "seed": seed, "v": v}.items():
            np.save(os.path.join(OUT, f"{name}_{k}.npy"), t.numpy().astype(np.float32))
        np.save(os.path.join(OUT, f"{name}_output.npy"), out.numpy())
        np.save(os.path.join(OUT, f"{name}_grad.npy"), g.numpy())
        np.save(os.path.join(OUT, f"{name}_hvp.npy"), hv.numpy())
    with open(os.path.join(OUT, "manifest.json"), "w") as fh:
        json.dump({"torch": torch.__version__, "cases": cases}, fh, indent=1)


if __name__ == "__main__":
    main()
