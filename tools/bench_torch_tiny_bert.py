"""Side-by-side benchmark, tiny BERT: layer Integrated Gradients at the embedding output
('/embeddings/LayerNorm/Add_1_output_0' in the ONNX file) of test/fixtures/models/tiny_bert.onnx,
its weights read from the ONNX file into a torch re-implementation, by Captum 0.8's
LayerIntegratedGradients or by a hand-written torch loop (run by `npm run bench`,
bench/captum.ts; the whole process is timed there). `--logits-out` writes torch's logits for the
inputs so the bench can compare them with onnxruntime's before timing.

Run: [PYTHONPATH=/work/captum] /usr/bin/python3 tools/bench_torch_tiny_bert.py --ids ids.npy
       --mask mask.npy --base base.npy --target 1 --impl captum|torch [--points-per-batch N]
"""
import math
import os
import time

import bench_torch_common as common
import numpy as np
import onnx
import torch
from onnx import numpy_helper

HERE = os.path.dirname(__file__)


def extra_args(p):
    p.add_argument("--model", default=os.path.join(HERE, "..", "test", "fixtures", "models", "tiny_bert.onnx"))
    p.add_argument("--ids", required=True)
    p.add_argument("--mask", required=True)
    p.add_argument("--base", required=True, help="baseline input ids")


def ln(x, w, b):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + 1e-12) * w + b


class Embeddings(torch.nn.Module):
    def __init__(self, W):
        super().__init__()
        self.W = W

    def forward(self, ids):
        W = self.W
        t = ids.shape[1]
        e = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:t][None]
        return ln(e, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"])


class TinyBert(torch.nn.Module):
    """The fixture's two-layer, 4-head, hidden-64 BERT classifier over the ONNX file's weights."""

    def __init__(self, path):
        super().__init__()
        m = onnx.load(path)
        W = {t.name: torch.tensor(numpy_helper.to_array(t).copy(), dtype=torch.float32) for t in m.graph.initializer}
        mats = sorted([k for k in W if k.startswith("onnx::MatMul_")], key=lambda k: int(k.split("_")[-1]))
        names = ["query", "key", "value", "attn_out", "inter", "out"]
        self.L = [{n: mats[6 * i + j] for j, n in enumerate(names)} for i in range(2)]
        self.W = W
        self.embeddings = Embeddings(W)

    def body(self, h, mask):
        W, L = self.W, self.L
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

    def forward(self, ids, mask):
        return self.body(self.embeddings(ids), mask)


def main():
    args = common.parse_args(__doc__.splitlines()[0], extra_args)
    build_started = time.perf_counter()
    if args.impl == "captum":
        import captum.attr  # noqa: F401  (its import is part of Captum's start-up)
        build_started = time.perf_counter()
    net = TinyBert(args.model)
    ids, mask, base = (torch.tensor(np.load(f)) for f in (args.ids, args.mask, args.base))
    build = time.perf_counter() - build_started
    if args.logits_out:
        with torch.no_grad():
            np.save(args.logits_out, net(ids, mask).numpy())
        return
    if args.impl == "captum":
        attr, seconds = common.timed(
            lambda: common.captum_ig(
                net, ids, base, args.target, args.steps, args.points_per_batch, net.embeddings, (mask,)
            )
        )
    else:

        def run():
            x, xb = net.embeddings(ids), net.embeddings(base)
            return common.hand_ig(net.body, x, xb, args.target, args.steps, args.points_per_batch, (mask,))

        attr, seconds = common.timed(run)
    common.report(args, attr, build_started, build, seconds)


if __name__ == "__main__":
    main()
