"""Reference resizes made with Pillow (Debian python3-pil), for src/explain/resize.test.ts.

A deterministic 61x45 RGB picture (gradients, a disc, a checkerboard corner, seeded noise) and its
Pillow resizes: bilinear and bicubic, downscaled (antialiased: the filter support grows with the
scale) to 24x18 and 10x7, and upscaled to 80x59. Run with /usr/bin/python3 tools/make_resize_refs.py.
"""
import os
import random

from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "resize")
os.makedirs(OUT, exist_ok=True)
W, H = 61, 45
rng = random.Random(3)
img = Image.new("RGB", (W, H))
px = img.load()
for y in range(H):
    for x in range(W):
        r = int(255 * x / (W - 1))
        g = int(255 * y / (H - 1))
        b = 255 if (x - 40) ** 2 + (y - 20) ** 2 < 120 else 0
        if x < 12 and y < 12 and (x // 3 + y // 3) % 2 == 0:
            r, g, b = 255, 255, 255
        n = rng.randint(-20, 20)
        px[x, y] = (max(0, min(255, r + n)), max(0, min(255, g - n)), b)
img.save(os.path.join(OUT, "input.png"))
for name, method in (("bilinear", Image.BILINEAR), ("bicubic", Image.BICUBIC)):
    for w, h in ((24, 18), (10, 7), (80, 59)):
        img.resize((w, h), method).save(os.path.join(OUT, f"{name}_{w}x{h}.png"))
print("wrote", sorted(os.listdir(OUT)))
