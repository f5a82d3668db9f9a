"""torch float64 autograd references for the strided Conv input-gradient forms (polyphase for
depthwise kernels, ConvTranspose for dense ones) and for ReLU6 (Clip) after a depthwise Conv.

Run: /usr/bin/python3 tools/make_conv_grad_refs.py   (writes test/fixtures/conv/conv_grad_refs.json)
Each case: ONNX-style attributes (pads = [begin…, end…]), x, w, seed and torch's d(Σ seed·y)/dx.
"""
import json
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "conv")
torch.manual_seed(0)

CASES = [
    # name, x dims, w dims, strides, pads [hb, wb, he, we], group, relu6 after
    ("depthwise s2 k3 p1", (2, 4, 9, 8), (4, 1, 3, 3), 2, (1, 1, 1, 1), 4, False),
    ("depthwise ×2 s2 k5 p2", (2, 3, 11, 10), (6, 1, 5, 5), 2, (2, 2, 2, 2), 3, False),
    ("depthwise s3 k3 asymmetric pads", (2, 2, 10, 11), (2, 1, 3, 3), 3, (0, 1, 2, 0), 2, False),
    ("depthwise s2 k1", (2, 3, 7, 8), (3, 1, 1, 1), 2, (0, 0, 0, 0), 3, False),
    ("dense s2 k3 p1 (ConvTranspose)", (2, 3, 9, 9), (4, 3, 3, 3), 2, (1, 1, 1, 1), 1, False),
    ("depthwise s2 k3 p1 then ReLU6", (2, 4, 8, 8), (4, 1, 3, 3), 2, (1, 1, 1, 1), 4, True),
]


class Exact:
    """A tensor written with `digits` significant digits (9 round-trip float32 values)."""

    def __init__(self, t, digits):
        self.text = "@[" + ",".join(format(v, f".{digits}g") for v in t.detach().flatten().tolist()) + "]@"


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    for name, xd, wd, s, pads, group, relu6 in CASES:
        # float32-exact inputs: the float32 ONNX model sees exactly the values torch differentiates
        x = torch.randn(*xd).double().requires_grad_(True)
        w = torch.randn(*wd).double()
        hb, wb, he, we = pads
        y = F.conv2d(F.pad(x, (wb, we, hb, he)), w, stride=s, groups=group)
        if relu6:
            y = F.relu6(y)
        seed = torch.randn(*y.shape).double()
        (g,) = torch.autograd.grad((y * seed).sum(), x)
        cases.append({"name": name, "x_dims": list(xd), "w_dims": list(wd), "strides": [s, s],
                      "pads": list(pads), "group": group, "relu6": relu6, "y_dims": list(y.shape),
                      "x": Exact(x, 9), "w": Exact(w, 9), "seed": Exact(seed, 9), "grad": Exact(g, 12)})
    text = json.dumps(cases, default=lambda e: e.text)
    with open(os.path.join(OUT, "conv_grad_refs.json"), "w") as f:
        f.write(text.replace('"@', "").replace('@"', ""))
    print(f"{len(cases)} cases, {os.path.getsize(os.path.join(OUT, 'conv_grad_refs.json')) / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
