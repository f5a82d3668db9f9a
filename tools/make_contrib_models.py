"""Small torch models for the contrib / quantized / float16 tests, with float64 references.

Run with Debian's torch: /usr/bin/python3 tools/make_contrib_models.py
Writes test/fixtures/contrib/<name>.onnx (float32 export; the tests let onnxruntime-node write
its own optimized graph from it, as Optimum does), <name>.input.npy, <name>.seed.npy,
<name>.output.npy and <name>.grad.npy: the output and the gradient of sum(seed * output) with
respect to the float input, computed by torch autograd in float64 on the same weights.
Random weights, seeded. Also writes float16 exports (<name>_fp16.onnx: weights and activations
in float16, inputs and outputs float16) for the precision tests.
"""

import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "contrib")
torch.manual_seed(0)


class BertLayer(nn.Module):
    """A BERT encoder layer written as Hugging Face's BertLayer exports it (erf GELU, post-LN)."""

    def __init__(self, hidden=32, heads=4, inner=64):
        super().__init__()
        self.heads = heads
        self.head = hidden // heads
        self.q = nn.Linear(hidden, hidden)
        self.k = nn.Linear(hidden, hidden)
        self.v = nn.Linear(hidden, hidden)
        self.o = nn.Linear(hidden, hidden)
        self.ln1 = nn.LayerNorm(hidden, eps=1e-12)
        self.fc1 = nn.Linear(hidden, inner)
        self.fc2 = nn.Linear(inner, hidden)
        self.ln2 = nn.LayerNorm(hidden, eps=1e-12)

    def split(self, x):
        b, s, _ = x.shape
        return x.view(b, s, self.heads, self.head).permute(0, 2, 1, 3)

    def forward(self, x, additive_mask):
        q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head) + additive_mask
        ctx = torch.matmul(scores.softmax(-1), v).permute(0, 2, 1, 3).contiguous()
        ctx = ctx.view(x.shape[0], x.shape[1], -1)
        h = self.ln1(self.o(ctx) + x)
        return self.ln2(self.fc2(F.gelu(self.fc1(h))) + h)


class TinyBert(nn.Module):
    """Embeddings (word, position, token type) + LayerNorm, two encoder layers, a classifier."""

    def __init__(self, vocab=40, hidden=32, seq=16, layers=2, classes=3, from_ids=True):
        super().__init__()
        self.from_ids = from_ids
        self.word = nn.Embedding(vocab, hidden)
        self.pos = nn.Embedding(seq, hidden)
        self.tok = nn.Embedding(2, hidden)
        self.ln = nn.LayerNorm(hidden, eps=1e-12)
        self.layers = nn.ModuleList([BertLayer(hidden) for _ in range(layers)])
        self.cls = nn.Linear(hidden, classes)

    def forward(self, x, attention_mask, token_type_ids):
        words = self.word(x) if self.from_ids else x
        seq = words.shape[1]
        pos = torch.arange(seq, dtype=torch.long).unsqueeze(0)
        h = self.ln(words + self.pos(pos) + self.tok(token_type_ids))
        mask = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * -10000.0
        for layer in self.layers:
            h = layer(h, mask)
        return self.cls(torch.tanh(h[:, 0]))


class GptBlock(nn.Module):
    """A GPT-2 block: pre-LN, causal attention with a merged QKV projection, tanh GELU."""

    def __init__(self, hidden=32, heads=4, seq=16):
        super().__init__()
        self.heads = heads
        self.head = hidden // heads
        self.ln1 = nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)
        self.ln2 = nn.LayerNorm(hidden)
        self.fc = nn.Linear(hidden, 4 * hidden)
        self.out = nn.Linear(4 * hidden, hidden)
        self.register_buffer("causal", torch.tril(torch.ones(seq, seq)).view(1, 1, seq, seq))

    def forward(self, x):
        b, s, h = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(h, dim=2)
        q, k, v = (t.view(b, s, self.heads, self.head).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head))
        att = att.masked_fill(self.causal[:, :, :s, :s] == 0, -10000.0).softmax(-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, s, h)
        x = x + self.proj(y)
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class SmallCnn(nn.Module):
    """Conv-BN-ReLU, a residual block, a MobileNetV3-style HardSwish / squeeze-excite, a Gemm head."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.b1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.c3 = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.se1 = nn.Conv2d(8, 4, 1)
        self.se2 = nn.Conv2d(4, 8, 1)
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 5)
        with torch.no_grad():
            self.b1.running_mean.uniform_(-0.2, 0.2)
            self.b1.running_var.uniform_(0.5, 1.5)

    def forward(self, x):
        h = F.relu(self.b1(self.c1(x)))
        h = F.relu(self.c2(h) + h)
        h = F.hardswish(self.c3(h))
        s = F.hardsigmoid(self.se2(F.relu(self.se1(F.adaptive_avg_pool2d(h, 1)))))
        h = F.adaptive_avg_pool2d(h * s, 1).flatten(1)
        return self.fc2(F.leaky_relu(self.fc1(h), 0.1))


class QdqCnn(nn.Module):
    """Eager-mode static quantization (fbgemm: per-channel int8 weights, uint8 activations)."""

    def __init__(self):
        super().__init__()
        import torch.ao.quantization as tq

        self.q = tq.QuantStub()
        self.c1 = nn.Conv2d(3, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.c2 = nn.Conv2d(4, 4, 3)
        self.fc = nn.Linear(64, 3)
        self.dq = tq.DeQuantStub()

    def forward(self, x):
        x = self.relu(self.c1(self.q(x)))
        return self.dq(self.fc(self.c2(x).flatten(1)))


def quantized_cnn():
    """The QDQ export and its dequantized network in float64: weights dequantized, every
    quantized activation clipped to its range [(0 − zp)·s, (255 − zp)·s], no rounding."""
    import torch.ao.quantization as tq

    m = QdqCnn().eval()
    m.qconfig = tq.get_default_qconfig("fbgemm")
    tq.prepare(m, inplace=True)
    for _ in range(8):
        m(torch.randn(4, 3, 6, 6))
    tq.convert(m, inplace=True)
    path = os.path.join(OUT, "qdq_cnn.onnx")
    x = torch.randn(2, 3, 6, 6) * 0.8
    torch.onnx.export(
        m, x, path, opset_version=13, input_names=["x"], output_names=["y"],
        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
    )

    def clip(t, mod):
        s, z = float(mod.scale), int(mod.zero_point)
        return t.clamp((0 - z) * s, (255 - z) * s)

    import onnx
    from onnx import numpy_helper

    graph = onnx.load(path).graph
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node if n.op_type == "Constant"}

    def deq(mod, prefix):
        # the export stores the bias as int32 at scale in_scale · w_scale (per channel), rounded
        # by the exporter: that bias (read back from the file) is the model's own
        node = next(n for n in graph.node if n.name == f"/{prefix}/DequantizeLinear_2")
        q, scale = consts[node.input[0]].astype(np.float64), consts[node.input[1]].astype(np.float64)
        return mod.weight().dequantize().double(), torch.from_numpy(q * scale)

    w1, b1 = deq(m.c1, "c1")
    w2, b2 = deq(m.c2, "c2")
    w3, b3 = deq(m.fc, "fc")
    xin = x.double().clone().requires_grad_(True)
    h = clip(xin, m.q)
    h = clip(F.conv2d(h, w1, b1, padding=1), m.c1)
    h = F.relu(h)
    h = clip(F.conv2d(h, w2, b2), m.c2)
    y = clip(F.linear(h.flatten(1), w3, b3), m.fc)
    seed = torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    (grad,) = torch.autograd.grad((y * seed).sum(), xin)
    save("qdq_cnn.input", x.numpy())
    save("qdq_cnn.seed", seed.numpy().astype(np.float32))
    save("qdq_cnn.output", y.detach().numpy())
    save("qdq_cnn.grad", grad.numpy())
    print("wrote", path, os.path.getsize(path), "bytes")


class HalfCnn(nn.Module):
    """Conv / ReLU / SiLU / pooling / Linear / Softmax: no float constants but the weights, so
    its float16 file holds exactly the half-rounded network the float64 reference computes."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 6, 3, padding=1)
        self.c2 = nn.Conv2d(6, 6, 3, padding=1)
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        h = F.relu(self.c1(x))
        h = self.c2(h)
        h = h * torch.sigmoid(h)
        return F.softmax(self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1)), dim=-1)


def float16_cnn():
    """half_cnn.onnx: float32 export of HalfCnn with weights w; half_cnn_fp16.onnx: the same graph
    with every float tensor float16 (weights rounded). References: torch float64 gradients of
    the float32 weights (.grad) and of the half-rounded weights (.grad16)."""
    import onnx
    from onnx import TensorProto, numpy_helper

    m = HalfCnn().eval()
    x = torch.randn(2, 3, 8, 8)
    export("half_cnn", m, [x], ["x"], 0, opset=13)
    rounded = HalfCnn().eval()
    rounded.load_state_dict({k: v.half().double() for k, v in m.state_dict().items()})
    rounded.double()
    xin = x.half().double().clone().requires_grad_(True)
    y = rounded(xin)
    seed = torch.from_numpy(np.load(os.path.join(OUT, "half_cnn.seed.npy")).astype(np.float64))
    (grad,) = torch.autograd.grad((y * seed).sum(), xin)
    save("half_cnn.output16", y.detach().numpy())
    save("half_cnn.grad16", grad.numpy())

    model = onnx.load(os.path.join(OUT, "half_cnn.onnx"))
    g = model.graph
    for i, t in enumerate(g.initializer):
        if t.data_type == TensorProto.FLOAT:
            half = numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name)
            g.initializer[i].CopyFrom(half)
    for v in list(g.input) + list(g.output):
        if v.type.tensor_type.elem_type == TensorProto.FLOAT:
            v.type.tensor_type.elem_type = TensorProto.FLOAT16
    del g.value_info[:]
    assert not any(n.op_type == "Constant" for n in g.node), "float constants would be rounded too"
    path = os.path.join(OUT, "half_cnn_fp16.onnx")
    onnx.save(model, path)
    print("wrote", path, os.path.getsize(path), "bytes")


def save(name, arr):
    np.save(os.path.join(OUT, f"{name}.npy"), np.ascontiguousarray(arr))


def export(name, model, inputs, names, wrt, opset=14):
    model.eval()
    path = os.path.join(OUT, f"{name}.onnx")
    # a dynamic batch axis, so `pathlens explain` can run the path points as a batch
    dynamic = {n: {0: "batch"} for n in [*names, "y"]}
    torch.onnx.export(
        model, tuple(inputs), path, input_names=names, output_names=["y"], opset_version=opset,
        dynamic_axes=dynamic, do_constant_folding=True,
    )
    m64 = model.double()
    feeds = [t.double() if t.is_floating_point() else t for t in inputs]
    feeds[wrt] = feeds[wrt].clone().requires_grad_(True)
    y = m64(*feeds)
    g = torch.Generator().manual_seed(1)
    seed = torch.randn(y.shape, generator=g, dtype=torch.float64)
    (grad,) = torch.autograd.grad((y * seed).sum(), feeds[wrt])
    save(f"{name}.input", inputs[wrt].numpy())
    save(f"{name}.seed", seed.numpy().astype(np.float32))
    save(f"{name}.output", y.detach().numpy())
    save(f"{name}.grad", grad.numpy())
    model.float()
    for i, (t, n) in enumerate(zip(inputs, names)):
        if i != wrt:
            save(f"{name}.{n}", t.numpy())
    print("wrote", path, os.path.getsize(path), "bytes")


def main():
    os.makedirs(OUT, exist_ok=True)
    b, s, hidden = 2, 16, 32
    mask = torch.ones(b, s, dtype=torch.long)
    mask[1, 11:] = 0
    types = torch.zeros(b, s, dtype=torch.long)
    types[:, 8:] = 1

    bert = TinyBert(from_ids=False)
    embeds = torch.randn(b, s, hidden) * 0.5
    export("bert_embeds", bert, [embeds, mask, types], ["embeds", "attention_mask", "token_type_ids"], 0)

    bert_ids = TinyBert(from_ids=True)
    ids = torch.randint(0, 40, (b, s))
    with torch.no_grad():
        emb = bert_ids.word.weight.clone()
    bert_ids.eval()
    path = os.path.join(OUT, "bert_ids.onnx")
    torch.onnx.export(
        bert_ids, (ids, mask, types), path, input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["y"], opset_version=14, do_constant_folding=True,
    )
    with torch.no_grad():
        y = bert_ids.double()(ids, mask, types)
    save("bert_ids.input_ids", ids.numpy())
    save("bert_ids.attention_mask", mask.numpy())
    save("bert_ids.token_type_ids", types.numpy())
    save("bert_ids.output", y.numpy())
    del emb
    print("wrote", path, os.path.getsize(path), "bytes")

    gpt = GptBlock()
    x = torch.randn(b, s, hidden)
    export("gpt_block", gpt, [x], ["x"], 0)

    cnn = SmallCnn()
    img = torch.randn(2, 3, 12, 12)
    export("cnn", cnn, [img], ["x"], 0, opset=13)

    quantized_cnn()
    float16_cnn()


if __name__ == "__main__":
    main()
