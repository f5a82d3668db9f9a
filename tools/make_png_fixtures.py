"""PNG fixtures for src/io/png.test.ts: one small image per PNG colour type / bit depth, written
by PIL, with PIL's own RGBA conversion saved next to it as the independent reference.
Run with Debian's python: /usr/bin/python3 tools/make_png_fixtures.py"""
import numpy as np
from PIL import Image

OUT = "test/fixtures/png"
rng = np.random.default_rng(12)
rgba = rng.integers(0, 256, size=(7, 5, 4), dtype=np.uint8)
base = Image.fromarray(rgba, "RGBA")
cases = {
    "rgba8": base,
    "rgb8": base.convert("RGB"),
    "gray8": base.convert("L"),
    "graya8": base.convert("LA"),
    "gray1": base.convert("1"),
    "palette8": base.convert("RGB").convert("P", palette=Image.ADAPTIVE, colors=200),
    "palette4": base.convert("RGB").convert("P", palette=Image.ADAPTIVE, colors=16),
}
for name, img in cases.items():
    kw = {"bits": 4} if name == "palette4" else {}
    img.save(f"{OUT}/{name}.png", optimize=False, **kw)
    back = Image.open(f"{OUT}/{name}.png").convert("RGBA")
    np.save(f"{OUT}/{name}.rgba.npy", np.asarray(back, dtype=np.uint8))
print("wrote", len(cases), "images")
