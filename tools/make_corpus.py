"""Real-model corpus for pathlens: torchvision architectures with random weights, exported by
torch 1.13 (Debian's python3-torch) at opsets 13 and 17 (three of them at 11 too), with torch references for the input
gradient of a random seed·output: float64 autograd (the reference), torch's own float32 gradient
(how far float32 alone is from float64: ReLU/max-pool decisions flip) and, for twice
differentiable nets, the float64 Hessian-vector product.

Small models (reduced widths through torchvision's constructors, 50–280 KB each) go to
test/fixtures/corpus/ and are committed; full-size googlenet, inception_v3 and resnet50, and a
small Swin (its exported graph is ~470 KB), go to the gitignored build folder .corpus/
(src/runtime/corpus.test.ts uses them when present).

BatchNorm running statistics are set from a few random batches in train mode (cumulative
average) before eval, so that activations are neither blown up nor dead with random weights.

Run: /usr/bin/python3 tools/make_corpus.py [--small | --large] [names...]
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision.models as tvm
from torchvision.models import convnext, efficientnet, mobilenetv3
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.segmentation import lraspp
from torchvision.ops.misc import Conv2dNormActivation

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SMALL_DIR = os.path.join(ROOT, "test", "fixtures", "corpus")
LARGE_DIR = os.path.join(ROOT, ".corpus")


class OutOnly(nn.Module):
    """Segmentation models return a dict; export its "out" tensor."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)["out"]


def small_efficientnet():
    setting, last = efficientnet._efficientnet_conf("efficientnet_b0", width_mult=0.25, depth_mult=0.25)
    return efficientnet.EfficientNet(setting[:5], 0.2, num_classes=10, last_channel=128)


def small_mobilenet_v3():
    setting, last = mobilenetv3._mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.25, reduced_tail=True)
    return mobilenetv3.MobileNetV3(setting, 128, num_classes=10)


def small_convnext():
    # layer_scale 1e-6 (torchvision's default) makes every block nearly the identity at random init.
    setting = [convnext.CNBlockConfig(16, 32, 1), convnext.CNBlockConfig(32, None, 1)]
    return convnext.ConvNeXt(setting, layer_scale=0.5, num_classes=10)


def small_lraspp():
    """torchvision's lraspp_mobilenet_v3_large wiring (C2 and C5 features) on a MobileNetV3-Small at width 0.25."""
    features = tvm.mobilenet_v3_small(weights=None, width_mult=0.25, reduced_tail=True, dilated=True).features
    stages = [0] + [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)] + [len(features) - 1]
    low, high = stages[-4], stages[-1]
    body = IntermediateLayerGetter(features, return_layers={str(low): "low", str(high): "high"})
    return OutOnly(lraspp.LRASPP(body, features[low].out_channels, features[high].out_channels, 3, inter_channels=32))


def small_mobilenet_v2():
    # torchvision's stages up to 96 channels (the 160/320-channel stages and the 1280-wide last
    # conv would be 3/4 of the weights).
    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2], [6, 64, 1, 2], [6, 96, 1, 1]]
    net = tvm.MobileNetV2(width_mult=0.25, inverted_residual_setting=setting, num_classes=10)
    net.features[-1] = Conv2dNormActivation(net.features[-2].out_channels, 128, kernel_size=1,
                                            activation_layer=nn.ReLU6)
    net.classifier[-1] = nn.Linear(128, 10)
    return net


def small_vit():
    net = tvm.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64,
                                num_classes=10)
    nn.init.normal_(net.heads.head.weight, std=0.2)  # torchvision zero-initializes the head
    return net


# name, constructor, input shape, twice differentiable (HVP reference), size class
MODELS = [
    ("mobilenet_v2", small_mobilenet_v2, (1, 3, 32, 32), False, "small"),
    ("mobilenet_v3_small", small_mobilenet_v3, (1, 3, 32, 32), False, "small"),
    ("efficientnet_b0", small_efficientnet, (1, 3, 32, 32), True, "small"),
    ("densenet", lambda: tvm.DenseNet(growth_rate=8, block_config=(2, 2), num_init_features=16, bn_size=2,
                                      num_classes=10), (1, 3, 32, 32), False, "small"),
    ("convnext", small_convnext, (1, 3, 32, 32), True, "small"),
    ("vit", small_vit, (1, 3, 32, 32), True, "small"),
    ("swin", lambda: tvm.SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[1, 2],
                                         window_size=[4, 4], stochastic_depth_prob=0.0, num_classes=10),
     (1, 3, 32, 32), True, "large"),  # ~470 KB: built, not committed
    ("lraspp_mobilenet_v3_small", small_lraspp, (1, 3, 48, 48), False, "small"),
    ("googlenet", lambda: tvm.googlenet(weights=None, aux_logits=False, init_weights=True), (1, 3, 96, 96),
     False, "large"),
    ("inception_v3", lambda: tvm.inception_v3(weights=None, aux_logits=False, init_weights=True),
     (1, 3, 107, 107), False, "large"),
    ("resnet50", lambda: tvm.resnet50(weights=None), (1, 3, 128, 128), False, "large"),
]


# Also exported at opset 11 (LayerNorm, GELU, Softmax and Flatten in their pre-13 forms), kept to
# three small models so the committed corpus stays small.
OPSET11 = {"mobilenet_v2", "densenet", "vit"}


def calibrate_batchnorm(net, shape, batches=4):
    """Running statistics = average over a few random batches (train mode, no gradient)."""
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average
    net.train()
    with torch.no_grad():
        for _ in range(batches):
            net(torch.randn(4, *shape[1:]))


def rel_l2(a, b):
    return float(torch.linalg.norm((a - b).flatten()) / torch.linalg.norm(b.flatten()))


def build(name, make, shape, smooth, size):
    out_dir = SMALL_DIR if size == "small" else LARGE_DIR
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    net = make()
    calibrate_batchnorm(net, shape)
    net.eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        y = net(x)
    seed = torch.randn_like(y)
    v = torch.randn_like(x)

    def gradient(dtype, want_hvp=False):
        net.to(dtype)
        z = x.to(dtype).clone().requires_grad_(True)
        o = net(z)
        (g,) = torch.autograd.grad((o * seed.to(dtype)).sum(), z, create_graph=want_hvp)
        hv = None
        if want_hvp:
            (hv,) = torch.autograd.grad((g * v.to(dtype)).sum(), z)
        return o.detach().double(), g.detach().double(), hv

    out64, g64, hv64 = gradient(torch.float64, smooth)
    out32, g32, _ = gradient(torch.float32)
    cases = []
    for opset in ((11, 13, 17) if name in OPSET11 else (13, 17)):
        f = f"{name}_opset{opset}.onnx"
        try:
            torch.onnx.export(net, x, os.path.join(out_dir, f), opset_version=opset, input_names=["x"],
                              output_names=["y"])
        except Exception as e:  # noqa: BLE001 — record which opsets torch cannot export
            print(f"{name} opset {opset}: torch.onnx.export failed: {type(e).__name__}: {str(e)[:200]}")
            continue
        cases.append({"name": name, "opset": opset, "model": f, "hvp": smooth,
                      "torch32_gradient_rel": rel_l2(g32, g64), "torch32_output_rel": rel_l2(out32, out64)})
    arrays = {"x": x, "seed": seed, "output": out64, "grad": g64, "grad32": g32}
    if smooth:
        arrays["v"] = v
        arrays["hvp"] = hv64
    for k, t in arrays.items():
        arr = t.numpy()
        np.save(os.path.join(out_dir, f"{name}_{k}.npy"), arr.astype(np.float32) if k in ("x", "seed", "v", "grad32") else arr)
    print(f"{name}: {[(c['opset'], os.path.getsize(os.path.join(out_dir, c['model']))) for c in cases]} "
          f"torch float32 gradient vs float64 {rel_l2(g32, g64):.3e}", flush=True)
    return out_dir, cases


def main():
    args = sys.argv[1:]
    sizes = {"small", "large"}
    if "--small" in args:
        sizes = {"small"}
    if "--large" in args:
        sizes = {"large"}
    names = [a for a in args if not a.startswith("--")]
    manifests = {}
    for name, make, shape, smooth, size in MODELS:
        if size not in sizes or (names and name not in names):
            continue
        out_dir, cases = build(name, make, shape, smooth, size)
        manifests.setdefault(out_dir, []).extend(cases)
    for out_dir, cases in manifests.items():
        path = os.path.join(out_dir, "manifest.json")
        old = []
        if os.path.exists(path):
            with open(path) as fh:
                old = [c for c in json.load(fh)["cases"] if c["name"] not in {k["name"] for k in cases}]
        with open(path, "w") as fh:
            json.dump({"torch": torch.__version__, "cases": old + cases}, fh, indent=1)


if __name__ == "__main__":
    main()
