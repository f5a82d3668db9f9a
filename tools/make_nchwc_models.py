"""Small CNNs whose onnxruntime level-"all" graphs are full of com.microsoft.nchwc ops
(ReorderInput/ReorderOutput, Conv with fused activation and Sum, MaxPool, AveragePool,
GlobalMaxPool, GlobalAveragePool). The tests optimize them at test time (block size is the
machine's). Run: /usr/bin/python3 tools/make_nchwc_models.py"""
import os

import torch
from torch import nn

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "nchwc")


class ResBlock(nn.Module):
    """16-channel input (so onnxruntime inserts ReorderInput), residual Add (Conv Sum fusion)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(16, 32, 3, padding=1)
        self.c2 = nn.Conv2d(32, 32, 3, padding=1)
        self.c3 = nn.Conv2d(32, 32, 3, padding=1)
        self.fc = nn.Linear(64, 4)

    def forward(self, x):
        h = torch.relu(self.c1(x))
        h = nn.functional.max_pool2d(h, 2)
        r = torch.relu(self.c3(torch.relu(self.c2(h))) + h)
        r = nn.functional.avg_pool2d(r, 3, stride=1, padding=1, count_include_pad=False)
        g = torch.cat([r.amax(dim=(2, 3)), r.mean(dim=(2, 3))], dim=1)
        return self.fc(g)


class MobileBlock(nn.Module):
    """3-channel input (NCHW conv), depthwise conv, ReLU6 (Clip) and HardSigmoid fused activations."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.pw = nn.Conv2d(16, 32, 1)
        self.fc = nn.Linear(32, 3)

    def forward(self, x):
        h = nn.functional.relu6(self.stem(x))
        h = nn.functional.relu6(self.dw(h))
        h = nn.functional.hardsigmoid(self.pw(h))
        return self.fc(nn.functional.adaptive_avg_pool2d(h, 1).flatten(1))


class UpBlock(nn.Module):
    """Nearest and bilinear 2× upsampling of blocked tensors (NCHWc Upsample)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(16, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, 16, 3, padding=1)
        self.c3 = nn.Conv2d(16, 16, 3, padding=1)
        self.fc = nn.Linear(16, 3)

    def forward(self, x):
        h = torch.relu(self.c1(x))
        h = nn.functional.interpolate(h, scale_factor=2, mode="nearest")
        h = torch.relu(self.c2(h))
        h = nn.functional.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
        h = torch.relu(self.c3(h))
        return self.fc(h.mean(dim=(2, 3)))


class PadBlock(nn.Module):
    """20 input channels: ReorderInput pads them to the block size; GlobalMaxPool."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(20, 16, 3, padding=1)
        self.fc = nn.Linear(16, 3)

    def forward(self, x):
        h = torch.relu(self.c1(nn.functional.max_pool2d(x, 2)))
        return self.fc(nn.functional.adaptive_max_pool2d(h, 1).flatten(1))


class NhwcBlock(nn.Module):
    """Channels-last input and output: onnxruntime folds the Transposes into the reorders."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(16, 32, 3, padding=1)
        self.c2 = nn.Conv2d(32, 16, 1)

    def forward(self, x):
        h = torch.relu(self.c1(x.permute(0, 3, 1, 2)))
        return self.c2(h).permute(0, 2, 3, 1)


def export(model, shape, name):
    model.eval()
    torch.onnx.export(model, torch.randn(*shape), os.path.join(OUT, f"{name}.onnx"),
                      input_names=["x"], output_names=["y"], opset_version=13,
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})


os.makedirs(OUT, exist_ok=True)
export(ResBlock(), (1, 16, 8, 8), "resblock")
export(MobileBlock(), (1, 3, 12, 12), "mobileblock")
export(UpBlock(), (1, 16, 5, 5), "upblock")
export(PadBlock(), (1, 20, 6, 6), "padblock")
export(NhwcBlock(), (1, 5, 5, 16), "nhwcblock")

# torch writes its adaptive max pool as a MaxPool over the whole (static) map: make it the
# GlobalMaxPool other exporters write, so that onnxruntime's NCHWc GlobalMaxPool is tested too
import onnx  # noqa: E402

path = os.path.join(OUT, "padblock.onnx")
m = onnx.load(path)
for k, n in enumerate(m.graph.node):
    if n.op_type == "MaxPool" and n.output[0] == "/MaxPool_1_output_0":
        m.graph.node[k].CopyFrom(onnx.helper.make_node("GlobalMaxPool", list(n.input), list(n.output), n.name))
onnx.checker.check_model(m)
onnx.save(m, path)
