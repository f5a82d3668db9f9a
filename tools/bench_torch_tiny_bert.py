"""A hand-written torch reference for the benchmark: tiny BERT (weights read from the ONNX
fixture) and layer Integrated Gradients at the embedding output, as Captum's
LayerIntegratedGradients computes it (all 50 Gauss–Legendre points of all sequences in one
batch), 32 sequences × 128 tokens, 2 threads. Prints the in-process seconds (the model is
already loaded; Python and torch start-up are not counted), a lower bound for Captum's time.

Run: /usr/bin/python3 tools/bench_torch_tiny_bert.py   (python3-torch, python3-onnx)
"""
import math
import os
import time

import numpy as np
import onnx
import torch
from onnx import numpy_helper

torch.set_num_threads(2)
HERE = os.path.dirname(__file__)
m = onnx.load(os.path.join(HERE, "..", "test", "fixtures", "models", "tiny_bert.onnx"))
W = {t.name: torch.tensor(numpy_helper.to_array(t).copy(), dtype=torch.float32) for t in m.graph.initializer}
mats = sorted([k for k in W if k.startswith("onnx::MatMul_")], key=lambda k: int(k.split("_")[-1]))
names = ["query", "key", "value", "attn_out", "inter", "out"]
L = [{n: mats[6 * i + j] for j, n in enumerate(names)} for i in range(2)]


def ln(x, w, b):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + 1e-12) * w + b


def body(h, mask):
    b, t, d = h.shape
    add = (1.0 - mask[:, None, None, :].float()) * -10000.0
    for i in range(2):
        p = f"body.layers.{i}."
        def split(x):
            return x.view(b, t, 4, d // 4).transpose(1, 2)
        q = split(h @ W[L[i]["query"]] + W[p + "query.bias"])
        k = split(h @ W[L[i]["key"]] + W[p + "key.bias"])
        v = split(h @ W[L[i]["value"]] + W[p + "value.bias"])
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // 4) + add, -1) @ v
        a = a.transpose(1, 2).reshape(b, t, d) @ W[L[i]["attn_out"]] + W[p + "attn_out.bias"]
        h = ln(h + a, W[p + "attn_ln.weight"], W[p + "attn_ln.bias"])
        f = h @ W[L[i]["inter"]] + W[p + "inter.bias"]
        f = 0.5 * f * (1 + torch.erf(f / math.sqrt(2)))
        f = f @ W[L[i]["out"]] + W[p + "out.bias"]
        h = ln(h + f, W[p + "out_ln.weight"], W[p + "out_ln.bias"])
    pooled = torch.tanh(h[:, 0] @ W["body.pooler.weight"].T + W["body.pooler.bias"])
    return pooled @ W["body.classifier.weight"].T + W["body.classifier.bias"]


def embed(ids):
    t = ids.shape[1]
    e = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:t][None]
    return ln(e, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"])


def check():
    ids = torch.tensor(np.load(os.path.join(HERE, "..", "test", "fixtures", "refs", "tiny_bert_lig_input_ids.npy")))
    mask = torch.tensor(np.load(os.path.join(HERE, "..", "test", "fixtures", "refs", "tiny_bert_lig_attention_mask.npy")))
    ref = np.load(os.path.join(HERE, "..", "test", "fixtures", "refs", "tiny_bert_lig_model_output_input.npy"))
    out = body(embed(ids), mask).detach().numpy()
    tgt = np.load(os.path.join(HERE, "..", "test", "fixtures", "refs", "tiny_bert_lig_target.npy"))
    got = out[np.arange(len(tgt)), tgt] if ref.ndim == 1 else out
    print("max |torch − reference output|", float(np.abs(got.reshape(ref.shape) - ref).max()))


def layer_ig(ids, base, mask, target, n=50, per_batch=50):
    """per_batch: quadrature points per forward/backward (Captum's internal_batch_size / rows)."""
    x, xb = embed(ids).detach(), embed(base).detach()
    nodes, weights = np.polynomial.legendre.leggauss(n)
    alphas = torch.tensor((nodes + 1) / 2, dtype=torch.float32)
    w = torch.tensor(weights / 2, dtype=torch.float32)
    b = x.shape[0]
    total = torch.zeros_like(x)
    for s in range(0, n, per_batch):
        a = alphas[s : s + per_batch]
        k = len(a)
        pts = (xb[None] + a[:, None, None, None] * (x - xb)[None]).reshape(k * b, *x.shape[1:]).requires_grad_(True)
        out = body(pts, mask.repeat(k, 1))
        sel = out[torch.arange(k * b), target.repeat(k)]
        (g,) = torch.autograd.grad(sel.sum(), pts)
        total += (g.view(k, b, *x.shape[1:]) * w[s : s + per_batch, None, None, None]).sum(0)
    return total * (x - xb)


if __name__ == "__main__":
    check()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(2, 992, (32, 128), generator=g)
    ids[:, 0] = 1
    base = torch.zeros_like(ids)
    base[:, 0] = 1
    mask = torch.ones_like(ids)
    target = torch.ones(32, dtype=torch.long)
    layer_ig(ids[:2], base[:2], mask[:2], target[:2])  # warm-up
    for per in (50, 10, 2):
        times = []
        for _ in range(2):
            t = time.perf_counter()
            layer_ig(ids, base, mask, target, per_batch=per)
            times.append(time.perf_counter() - t)
        print(f"torch layer IG, 32×128, 50 steps, {per} points per batch: {min(times):.2f} s (best of 2, in process, 2 threads)")
