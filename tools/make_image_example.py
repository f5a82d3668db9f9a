"""Trains the bundled image example: a small CNN that tells circles, squares and triangles
apart in 32×32 RGB images (random colours, positions, sizes and noise), and writes
examples/image-shapes/{model.onnx, config.json, circle.png, square.png, triangle.png}.

Run: /usr/bin/python3 tools/make_image_example.py   (Debian's python3-torch and python3-pil)
"""
import json
import os
import random

import numpy as np
import torch
import torch.nn as nn
from PIL import Image, ImageDraw

OUT = os.path.join(os.path.dirname(__file__), "..", "examples", "image-shapes")
LABELS = ["circle", "square", "triangle"]
random.seed(0)
np.random.seed(0)
torch.manual_seed(0)


def draw(kind, size=32):
    bg = tuple(int(v) for v in np.random.randint(0, 90, 3))
    fg = tuple(int(v) for v in np.random.randint(140, 256, 3))
    img = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(img)
    r = random.randint(6, 11)
    cx, cy = random.randint(r + 1, size - r - 2), random.randint(r + 1, size - r - 2)
    if kind == 0:
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fg)
    elif kind == 1:
        d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fg)
    else:
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fg)
    a = np.asarray(img, dtype=np.float32)
    a = np.clip(a + np.random.normal(0, 8, a.shape), 0, 255)
    return a.astype(np.uint8)


def to_tensor(a):
    x = a.astype(np.float32) / 255.0
    x = (x - 0.5) / 0.5
    return torch.from_numpy(x.transpose(2, 0, 1).copy())


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


def main():
    os.makedirs(OUT, exist_ok=True)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    for step in range(700):
        ys = [random.randrange(3) for _ in range(64)]
        x = torch.stack([to_tensor(draw(k)) for k in ys])
        loss = nn.functional.cross_entropy(net(x), torch.tensor(ys))
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    ys = [random.randrange(3) for _ in range(300)]
    with torch.no_grad():
        acc = (net(torch.stack([to_tensor(draw(k)) for k in ys])).argmax(1) == torch.tensor(ys)).float().mean().item()
    print("accuracy", acc)
    torch.onnx.export(net, torch.zeros(1, 3, 32, 32), os.path.join(OUT, "model.onnx"), opset_version=13,
                      input_names=["image"], output_names=["logits"], dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    for k, name in enumerate(LABELS):
        Image.fromarray(draw(k)).save(os.path.join(OUT, f"{name}.png"))
    config = {
        "id2label": {str(i): l for i, l in enumerate(LABELS)},
        "preprocess": {"resize": 32, "scale": 1 / 255, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "layout": "nchw", "channels": "rgb"},
        "accuracy_on_300_generated_images": acc,
    }
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(config, f, indent=1)


if __name__ == "__main__":
    main()
