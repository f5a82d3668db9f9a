"""Exports small recurrent models with torch 1.13 (Debian's python3-torch) at opsets 11, 13 and 17
and stores torch's float64 outputs, gradients and Hessian-vector products, for pathlens' tests of
the LSTM/GRU/RNN decompositions (src/autodiff/decompositions/recurrent.test.ts):

- lstm2:        nn.LSTM, 2 layers, given (h0, c0); outputs a linear head over Y, h_n and c_n
- lstm_bi_bf:   nn.LSTM, bidirectional, batch_first, given (h0, c0)
- gru2_bi_bf:   nn.GRU, 2 layers, bidirectional, batch_first, given h0 (exports linear_before_reset=1)
- rnn_tanh2:    nn.RNN tanh, 2 layers, given h0
- rnn_relu_bi:  nn.RNN relu, bidirectional, no initial state (the exporter supplies zeros)
- lstm_classifier (opset 17 only, also used by the integrated-gradients and CLI checks): an LSTM
  over (batch, time, features) whose last hidden state feeds a 3-class linear head.

Every case's gradient is ∂/∂inputs Σ_k seed_k ⊙ output_k, and its HVP ∂/∂inputs Σ grad ⊙ v, both
by torch autograd in float64 from the float32 inputs (exact double backward, no differences).

Run: /usr/bin/python3 tools/make_rnn_models.py   (writes test/fixtures/rnn/)
"""
import json
import os

import numpy as np
import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "rnn")
OPSETS = (11, 13, 17)
T, B, F, H = 6, 2, 5, 8


class Lstm2(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(F, H, num_layers=2)
        self.head = nn.Linear(H, 3)

    def forward(self, x, h0, c0):
        y, (hn, cn) = self.rnn(x, (h0, c0))
        return self.head(y), hn, cn


class LstmBiBatchFirst(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(F, H, bidirectional=True, batch_first=True)

    def forward(self, x, h0, c0):
        y, (hn, cn) = self.rnn(x, (h0, c0))
        return y, hn, cn


class Gru2BiBatchFirst(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(F, H, num_layers=2, bidirectional=True, batch_first=True)

    def forward(self, x, h0):
        y, hn = self.rnn(x, h0)
        return y, hn


class RnnTanh2(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(F, H, num_layers=2, nonlinearity="tanh")

    def forward(self, x, h0):
        y, hn = self.rnn(x, h0)
        return y, hn


class RnnReluBi(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(F, H, nonlinearity="relu", bidirectional=True)

    def forward(self, x):
        y, hn = self.rnn(x)
        return y, hn


class LstmClassifier(nn.Module):
    def __init__(self, features=F, hidden=H):
        super().__init__()
        self.rnn = nn.LSTM(features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 3)

    def forward(self, x):
        _, (hn, _) = self.rnn(x)
        return self.head(hn[-1])


def as_json(t):
    a = t.detach().cpu().numpy()
    return {"dims": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def references(net, inputs, seeds, vs):
    """Outputs, gradient and exact HVP in float64."""
    net64 = net.double()
    xs = [t.double().requires_grad_(True) for t in inputs]
    outs = net64(*xs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    loss = sum((o * s.double()).sum() for o, s in zip(outs, seeds))
    grads = torch.autograd.grad(loss, xs, create_graph=True)
    inner = sum((g * v.double()).sum() for g, v in zip(grads, vs))
    hvps = torch.autograd.grad(inner, xs)
    net.float()
    return outs, grads, hvps


def export(net, name, inputs, input_names, output_names, dynamic, opsets):
    files = []
    for opset in opsets:
        f = f"{name}_opset{opset}.onnx"
        torch.onnx.export(net, tuple(inputs), os.path.join(OUT, f), opset_version=opset, input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic)
        files.append({"opset": opset, "model": f"rnn/{f}"})
    return files


def case(name, net, inputs, input_names, output_names, batch_axes, opsets=OPSETS):
    net.eval()
    with torch.no_grad():
        outs = net(*inputs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    # unsaturated seeds and directions, the same scale as the values
    seeds = [torch.randn_like(o) for o in outs]
    vs = [torch.randn_like(t) for t in inputs]
    ref_out, grads, hvps = references(net, inputs, seeds, vs)
    dynamic = {n: {batch_axes[n]: "batch"} for n in input_names}
    files = export(net, name, inputs, input_names, output_names, dynamic, opsets)
    return {
        "name": name,
        "models": files,
        "inputs": {n: as_json(t) for n, t in zip(input_names, inputs)},
        "seeds": {n: as_json(s) for n, s in zip(output_names, seeds)},
        "v": {n: as_json(v) for n, v in zip(input_names, vs)},
        "outputs": {n: as_json(o) for n, o in zip(output_names, ref_out)},
        "gradients": {n: as_json(g) for n, g in zip(input_names, grads)},
        "hvp": {n: as_json(h) for n, h in zip(input_names, hvps)},
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    seq = lambda: torch.randn(T, B, F)  # noqa: E731
    batch_first = lambda: torch.randn(B, T, F)  # noqa: E731
    state = lambda layers: 0.5 * torch.randn(layers, B, H)  # noqa: E731
    cases = [
        case("lstm2", Lstm2(), [seq(), state(2), state(2)], ["x", "h0", "c0"], ["y", "hn", "cn"],
             {"x": 1, "h0": 1, "c0": 1}),
        case("lstm_bi_bf", LstmBiBatchFirst(), [batch_first(), state(2), state(2)], ["x", "h0", "c0"],
             ["y", "hn", "cn"], {"x": 0, "h0": 1, "c0": 1}),
        case("gru2_bi_bf", Gru2BiBatchFirst(), [batch_first(), state(4)], ["x", "h0"], ["y", "hn"],
             {"x": 0, "h0": 1}),
        case("rnn_tanh2", RnnTanh2(), [seq(), state(2)], ["x", "h0"], ["y", "hn"], {"x": 1, "h0": 1}),
        case("rnn_relu_bi", RnnReluBi(), [seq()], ["x"], ["y", "hn"], {"x": 1}),
        case("lstm_classifier", LstmClassifier(), [batch_first()], ["x"], ["logits"], {"x": 0}, opsets=(17,)),
    ]
    for c in cases:
        with open(os.path.join(OUT, f"{c['name']}.json"), "w") as fh:
            json.dump(c, fh)
    np.save(os.path.join(OUT, "lstm_classifier_x.npy"), np.array(cases[-1]["inputs"]["x"]["data"], dtype=np.float32)
            .reshape(cases[-1]["inputs"]["x"]["dims"]))
    bench = LstmClassifier(features=16, hidden=32).eval()
    torch.onnx.export(bench, torch.randn(2, 32, 16), os.path.join(OUT, "lstm_bench_opset17.onnx"), opset_version=17,
                      input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "batch"}})
    with open(os.path.join(OUT, "manifest.json"), "w") as fh:
        json.dump({"torch": torch.__version__, "cases": [c["name"] for c in cases]}, fh, indent=1)


if __name__ == "__main__":
    main()
