"""A MiniLM-sized BERT-like text classifier for the side-by-side benchmark (bench/captum.ts):
6 layers, hidden 384, 12 heads, intermediate 1536, vocabulary 30522, 2 labels, seeded random
weights (BERT's initialisation: normal σ 0.02, zero biases). Writes, into the folder given
(default .bench/minilm, gitignored: about 90 MB, not committed):
  minilm.onnx  exported by torch (opset 14, dynamic batch and sequence),
  minilm.pt    the same weights as a torch state dict (for Captum and the hand-written loop),
  minilm.json  the configuration and the name of the embedding-output tensor (layer IG's layer).

Run: /usr/bin/python3 tools/make_minilm.py [folder]   (python3-torch, python3-onnx)
"""
import json
import math
import os
import sys

import torch
from torch import nn

CONFIG = {"vocab": 30522, "hidden": 384, "layers": 6, "heads": 12, "intermediate": 1536, "positions": 512, "labels": 2}


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab"], c["hidden"])
        self.position_embeddings = nn.Embedding(c["positions"], c["hidden"])
        self.LayerNorm = nn.LayerNorm(c["hidden"], eps=1e-12)

    def forward(self, ids):
        positions = torch.arange(ids.shape[1], device=ids.device)
        return self.LayerNorm(self.word_embeddings(ids) + self.position_embeddings(positions)[None])


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden"]
        self.heads = c["heads"]
        self.scale = 1 / math.sqrt(h // c["heads"])
        self.query, self.key, self.value, self.attn_out = (nn.Linear(h, h) for _ in range(4))
        self.attn_ln = nn.LayerNorm(h, eps=1e-12)
        self.inter = nn.Linear(h, c["intermediate"])
        self.out = nn.Linear(c["intermediate"], h)
        self.out_ln = nn.LayerNorm(h, eps=1e-12)

    def forward(self, x, additive_mask):
        b, t, d = x.shape
        n, hd = self.heads, d // self.heads

        def split(y):
            return y.view(b, t, n, hd).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        a = torch.softmax(q @ k.transpose(-1, -2) * self.scale + additive_mask, -1) @ v
        x = self.attn_ln(x + self.attn_out(a.transpose(1, 2).reshape(b, t, d)))
        return self.out_ln(x + self.out(nn.functional.gelu(self.inter(x))))


class MiniLM(nn.Module):
    def __init__(self, c=CONFIG):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["layers"]))
        self.pooler = nn.Linear(c["hidden"], c["hidden"])
        self.classifier = nn.Linear(c["hidden"], c["labels"])

    def body(self, h, mask):
        additive = (1.0 - mask[:, None, None, :].to(h.dtype)) * -10000.0
        for layer in self.layers:
            h = layer(h, additive)
        return self.classifier(torch.tanh(self.pooler(h[:, 0])))

    def forward(self, input_ids, attention_mask):
        return self.body(self.embeddings(input_ids), attention_mask)


def seeded_model(seed=0):
    torch.manual_seed(seed)
    model = MiniLM()
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)
    return model.eval()


def main():
    import onnx

    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".bench", "minilm")
    os.makedirs(folder, exist_ok=True)
    model = seeded_model()
    ids = torch.randint(2, CONFIG["vocab"], (2, 16))
    mask = torch.ones_like(ids)
    path = os.path.join(folder, "minilm.onnx")
    torch.onnx.export(
        model,
        (ids, mask),
        path,
        input_names=["input_ids", "attention_mask"],
        output_names=["logits"],
        dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}},
        opset_version=14,
        do_constant_folding=True,
    )
    torch.save(model.state_dict(), os.path.join(folder, "minilm.pt"))
    # The embedding output: the tensor the embeddings' LayerNorm scope hands to the first layer.
    graph = onnx.load(path).graph
    scope = "/embeddings/LayerNorm/"
    produced = {o for n in graph.node if n.name.startswith(scope) for o in n.output}
    handed = [i for n in graph.node if not n.name.startswith(scope) for i in n.input if i in produced]
    if len(set(handed)) != 1:
        raise SystemExit(f"cannot find the embedding output in {path}: {sorted(set(handed))}")
    meta = {**CONFIG, "seed": 0, "opset": 14, "layer": handed[0], "torch": torch.__version__}
    with open(os.path.join(folder, "minilm.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"wrote {path} ({os.path.getsize(path) / 2**20:.0f} MiB), layer {handed[0]}")


if __name__ == "__main__":
    main()
