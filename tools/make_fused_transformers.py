"""Whole transformer graphs in the fused form onnxruntime's transformer optimizer
(onnxruntime.transformers.optimizer, what Hugging Face Optimum ships) writes, which onnxruntime's
built-in graph optimizer does not produce from torch exports (it fuses SkipLayerNormalization,
Gelu and FusedMatMul, but not Attention or EmbedLayerNormalization): written node by node with
onnx.helper, with a float64 torch module computing the same function as the reference
(read by src/autodiff/decompositions/fused-transformers.test.ts).

- fused_bert: EmbedLayerNormalization (word + position + segment embeddings, LayerNorm, the
  attention mask turned into right-padding lengths) → Attention (merged QKV weights, mask_index)
  → MatMul → SkipLayerNormalization (with bias) → MatMul → BiasGelu → MatMul →
  SkipLayerNormalization → first token → Gemm. Differentiated with respect to the word-embedding
  table (a graph input here, so the gradient passes EmbedLayerNormalization's Gather).
- fused_llama: SimplifiedLayerNormalization (RMSNorm) → Q/K/V MatMuls → RotaryEmbedding on Q and K
  (position_ids, cos/sin caches) → MultiHeadAttention (causal, key padding mask) → MatMul →
  SkipSimplifiedLayerNormalization (residual) → MatMul. Differentiated with respect to x.

Each reference: outputs, the gradient of Σ seed·output and the Hessian-vector product along v,
torch float64 autograd. onnxruntime must run each graph and agree with torch's forward (checked
here, and again in the test), so the graph is the contrib ops' documented semantics, not a guess.

Run: /usr/bin/python3 tools/make_fused_transformers.py   (writes test/fixtures/contrib/fused_*)
"""
import json
import math
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "contrib")
MS = "com.microsoft"
EPS = 1e-5


def ln(x, g, b):
    m = x.mean(-1, keepdim=True)
    v = ((x - m) ** 2).mean(-1, keepdim=True)
    return (x - m) / torch.sqrt(v + EPS) * g + b


def rms(x, g):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + EPS) * g


def heads(x, n):
    b, s, d = x.shape
    return x.reshape(b, s, n, d // n).transpose(1, 2)


def merge(x):
    b, n, s, h = x.shape
    return x.transpose(1, 2).reshape(b, s, n * h)


def attention(q, k, v, n, key_mask, causal):
    """Scaled dot-product attention; masked scores get -10000 added (onnxruntime's mask_filter_value)."""
    q, k, v = heads(q, n), heads(k, n), heads(v, n)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    scores = scores + (1 - key_mask[:, None, None, :].double()) * -10000.0
    if causal:
        s, t = scores.shape[-2:]
        scores = scores + torch.triu(torch.ones(s, t, dtype=torch.float64), 1) * -10000.0
    return merge(torch.softmax(scores, -1) @ v)


def init(name, a):
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


def rand(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).float()


def fused_bert():
    B, S, D, N, V, F = 2, 6, 16, 2, 20, 32
    w = {
        "pos": rand(S, D, scale=0.5), "seg": rand(2, D, scale=0.5), "g0": 1 + rand(D, scale=0.1),
        "b0": rand(D, scale=0.1), "wqkv": rand(D, 3 * D, scale=0.3), "bqkv": rand(3 * D, scale=0.1),
        "wo": rand(D, D, scale=0.3), "bo": rand(D, scale=0.1), "g1": 1 + rand(D, scale=0.1), "b1": rand(D, scale=0.1),
        "w1": rand(D, F, scale=0.3), "bf1": rand(F, scale=0.1), "w2": rand(F, D, scale=0.3), "bf2": rand(D, scale=0.1),
        "g2": 1 + rand(D, scale=0.1), "b2": rand(D, scale=0.1), "wc": rand(3, D, scale=0.3), "bc": rand(3, scale=0.1),
    }
    word = rand(V, D, scale=0.5)
    ids = torch.randint(0, V, (B, S), dtype=torch.int32)
    seg = torch.randint(0, 2, (B, S), dtype=torch.int32)
    mask = torch.tensor([[1] * S, [1] * (S - 2) + [0] * 2], dtype=torch.int32)

    def forward(word_embedding):
        p = {k: t.double() for k, t in w.items()}
        e = word_embedding[ids.long()] + p["pos"][None] + p["seg"][seg.long()]
        e = ln(e, p["g0"], p["b0"])
        qkv = e @ p["wqkv"] + p["bqkv"]
        a = attention(qkv[..., :D], qkv[..., D:2 * D], qkv[..., 2 * D:], N, mask, False)
        h1 = ln(a @ p["wo"] + e + p["bo"], p["g1"], p["b1"])
        f = torch.nn.functional.gelu(h1 @ p["w1"] + p["bf1"]) @ p["w2"]
        h2 = ln(f + h1 + p["bf2"], p["g2"], p["b2"])
        return h2[:, 0] @ p["wc"].T + p["bc"]

    nodes = [
        helper.make_node("EmbedLayerNormalization", ["input_ids", "segment_ids", "word_embedding", "pos", "seg", "g0",
                                                     "b0", "attention_mask"], ["emb", "mask_index"], domain=MS,
                         epsilon=EPS),
        helper.make_node("Attention", ["emb", "wqkv", "bqkv", "mask_index"], ["attn"], domain=MS, num_heads=N),
        helper.make_node("MatMul", ["attn", "wo"], ["proj"]),
        helper.make_node("SkipLayerNormalization", ["proj", "emb", "g1", "b1", "bo"], ["h1"], domain=MS, epsilon=EPS),
        helper.make_node("MatMul", ["h1", "w1"], ["f1"]),
        helper.make_node("BiasGelu", ["f1", "bf1"], ["f1g"], domain=MS),
        helper.make_node("MatMul", ["f1g", "w2"], ["f2"]),
        helper.make_node("SkipLayerNormalization", ["f2", "h1", "g2", "b2", "bf2"], ["h2"], domain=MS, epsilon=EPS),
        helper.make_node("Gather", ["h2", "zero"], ["cls"], axis=1),
        helper.make_node("Gemm", ["cls", "wc", "bc"], ["y"], transB=1),
    ]
    inits = [init(k, t.numpy()) for k, t in w.items()] + [numpy_helper.from_array(np.array(0, dtype=np.int64), "zero")]
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT32, ["batch", "seq"]),
              helper.make_tensor_value_info("segment_ids", TensorProto.INT32, ["batch", "seq"]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT32, ["batch", "seq"]),
              helper.make_tensor_value_info("word_embedding", TensorProto.FLOAT, [V, D])]
    feeds = {"input_ids": ids.numpy(), "segment_ids": seg.numpy(), "attention_mask": mask.numpy(),
             "word_embedding": word.numpy()}
    return nodes, inits, inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])], feeds, \
        "word_embedding", forward, word


def fused_llama():
    B, S, D, N = 2, 5, 16, 2
    H = D // N
    w = {"g0": 1 + rand(D, scale=0.1), "wq": rand(D, D, scale=0.3), "wk": rand(D, D, scale=0.3),
         "wv": rand(D, D, scale=0.3), "wo": rand(D, D, scale=0.3), "g1": 1 + rand(D, scale=0.1),
         "wh": rand(D, 4, scale=0.3)}
    positions = torch.arange(16, dtype=torch.float64)[:, None]
    inv = 1.0 / (10000 ** (torch.arange(0, H, 2, dtype=torch.float64) / H))
    cos, sin = torch.cos(positions * inv).float(), torch.sin(positions * inv).float()
    pos_ids = torch.tensor([[0, 1, 2, 3, 4], [3, 4, 5, 6, 7]], dtype=torch.int64)
    key_mask = torch.tensor([[1] * S, [1] * (S - 1) + [0]], dtype=torch.int32)
    x = rand(B, S, D)

    def rotate(t):
        t = heads(t, N)  # B, N, S, H
        c = cos.double()[pos_ids][:, None]
        s = sin.double()[pos_ids][:, None]
        a, b = t[..., : H // 2], t[..., H // 2:]
        return merge(torch.cat([a * c - b * s, b * c + a * s], -1))

    def forward(xin):
        p = {k: t.double() for k, t in w.items()}
        n0 = rms(xin, p["g0"])
        q, k, v = rotate(n0 @ p["wq"]), rotate(n0 @ p["wk"]), n0 @ p["wv"]
        a = attention(q, k, v, N, key_mask, True) @ p["wo"]
        return rms(a + xin, p["g1"]) @ p["wh"]

    nodes = [
        helper.make_node("SimplifiedLayerNormalization", ["x", "g0"], ["n0"], epsilon=EPS, axis=-1),
        helper.make_node("MatMul", ["n0", "wq"], ["q"]),
        helper.make_node("MatMul", ["n0", "wk"], ["k"]),
        helper.make_node("MatMul", ["n0", "wv"], ["v"]),
        helper.make_node("RotaryEmbedding", ["q", "position_ids", "cos_cache", "sin_cache"], ["qr"], domain=MS,
                         num_heads=N),
        helper.make_node("RotaryEmbedding", ["k", "position_ids", "cos_cache", "sin_cache"], ["kr"], domain=MS,
                         num_heads=N),
        helper.make_node("MultiHeadAttention", ["qr", "kr", "v", "", "key_padding_mask"], ["attn"], domain=MS,
                         num_heads=N, unidirectional=1),
        helper.make_node("MatMul", ["attn", "wo"], ["proj"]),
        helper.make_node("SkipSimplifiedLayerNormalization", ["proj", "x", "g1"], ["h1"], domain=MS, epsilon=EPS),
        helper.make_node("MatMul", ["h1", "wh"], ["y"]),
    ]
    inits = [init(k, t.numpy()) for k, t in w.items()] + [init("cos_cache", cos.numpy()), init("sin_cache", sin.numpy())]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", D]),
              helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "seq"]),
              helper.make_tensor_value_info("key_padding_mask", TensorProto.INT32, ["batch", "seq"])]
    feeds = {"x": x.numpy(), "position_ids": pos_ids.numpy(), "key_padding_mask": key_mask.numpy()}
    return nodes, inits, inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", 4])], \
        feeds, "x", forward, x


def write(name, build):
    nodes, inits, inputs, outputs, feeds, wrt, forward, x = build()
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
    model.ir_version = 8
    path = os.path.join(OUT, f"{name}.onnx")
    onnx.save(model, path)
    z = x.double().clone().requires_grad_(True)
    y = forward(z)
    seed = torch.randn_like(y)
    v = torch.randn_like(z)
    (g,) = torch.autograd.grad((y * seed).sum(), z, create_graph=True)
    (hv,) = torch.autograd.grad((g * v).sum(), z)
    for k, a in feeds.items():
        np.save(os.path.join(OUT, f"{name}.{k}.npy"), a)
    for k, t in {"seed": seed.float(), "v": v.float()}.items():
        np.save(os.path.join(OUT, f"{name}.{k}.npy"), t.detach().numpy())
    for k, t in {"output": y, "grad": g, "hvp": hv}.items():
        np.save(os.path.join(OUT, f"{name}.{k}.npy"), t.detach().numpy())
    meta = {"wrt": wrt, "inputs": list(feeds), "ops": sorted({n.op_type for n in nodes if n.domain == MS})}
    with open(os.path.join(OUT, f"{name}.json"), "w") as fh:
        json.dump(meta, fh)
    print(name, os.path.getsize(path), "bytes;", meta["ops"])


def main():
    torch.manual_seed(0)
    write("fused_bert", fused_bert)
    write("fused_llama", fused_llama)


if __name__ == "__main__":
    main()
