"""Edge cases of the recurrent decompositions, with torch float64 references (same JSON layout as
tools/make_rnn_models.py; read by src/autodiff/decompositions/recurrent-edge.test.ts):

- Sequence length 1 on a dynamic axis: torch exports with the time axis dynamic, fed T = 1
  (pathlens' shape probe tiles dynamic axes of size 1 to 2; the unrolled gradient must still be
  the one of a single step): lstm2_t1 (2 layers, sequence first, given h0/c0, batch 2),
  lstm2_t1_b1 (the same with batch 1 too), gru_bi_bf_t1 (bidirectional GRU, batch_first).
- layout = 1 (batch first inside the op), which torch never exports (it transposes around a
  layout-0 op): ONNX LSTM (bidirectional, initial_h/initial_c) and GRU (linear_before_reset 1,
  initial_h) nodes written with onnx.helper from the weights of nn.LSTM / nn.GRU(batch_first=True),
  gates reordered to ONNX's (LSTM i,o,f,c from torch's i,f,g,o; GRU z,r,h from r,z,n). The torch
  reference transposes the states to (batch, directions, hidden) and reshapes Y to
  (batch, time, directions, hidden), as the spec's layout 1 defines them.

Run: /usr/bin/python3 tools/make_rnn_edge_models.py   (writes test/fixtures/rnn/edge/)
"""
import json
import os
import sys

import onnx
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
from make_rnn_models import as_json, references  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "rnn", "edge")
F, H = 5, 8


class Lstm2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(F, H, num_layers=2)
        self.head = nn.Linear(H, 3)

    def forward(self, x, h0, c0):
        y, (hn, cn) = self.rnn(x, (h0, c0))
        return self.head(y), hn, cn


class GruBiBatchFirst(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(F, H, bidirectional=True, batch_first=True)

    def forward(self, x, h0):
        return self.rnn(x, h0)


class LstmLayout1(nn.Module):
    """What an ONNX LSTM with layout 1 computes: states (batch, directions, hidden), Y (batch, time, directions, hidden)."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(F, H, bidirectional=True, batch_first=True)

    def forward(self, x, h0, c0):
        y, (hn, cn) = self.rnn(x, (h0.transpose(0, 1).contiguous(), c0.transpose(0, 1).contiguous()))
        return y.reshape(y.shape[0], y.shape[1], 2, H), hn.transpose(0, 1), cn.transpose(0, 1)


class GruLayout1(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(F, H, batch_first=True)

    def forward(self, x, h0):
        y, hn = self.rnn(x, h0.transpose(0, 1).contiguous())
        return y.reshape(y.shape[0], y.shape[1], 1, H), hn.transpose(0, 1)


def gates(w, order):
    """Rows of a stacked gate matrix/vector reordered from torch's gate order to ONNX's."""
    blocks = w.detach().reshape(len(order), H, *w.shape[1:])
    return torch.cat([blocks[k] for k in order]).numpy()


def onnx_recurrent(op, rnn, order, directions, attrs, input_names, output_names, shapes):
    """An ONNX LSTM/GRU node (layout 1) with rnn's weights; graph inputs X, initial states."""
    import numpy as np

    suffixes = [""] + (["_reverse"] if directions == 2 else [])
    w = np.stack([gates(getattr(rnn, f"weight_ih_l0{s}"), order) for s in suffixes])
    r = np.stack([gates(getattr(rnn, f"weight_hh_l0{s}"), order) for s in suffixes])
    b = np.stack([np.concatenate([gates(getattr(rnn, f"bias_ih_l0{s}"), order),
                                  gates(getattr(rnn, f"bias_hh_l0{s}"), order)]) for s in suffixes])
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for a, n in ((w, "W"), (r, "R"), (b, "B"))]
    node_inputs = [input_names[0], "W", "R", "B", ""] + input_names[1:]
    node = helper.make_node(op, node_inputs, output_names, hidden_size=H, layout=1,
                            direction="bidirectional" if directions == 2 else "forward", **attrs)
    graph = helper.make_graph(
        [node], f"{op.lower()}_layout1",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shapes[n]) for n in input_names],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shapes[n]) for n in output_names],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def stored(name, net, inputs, input_names, output_names, files):
    net.eval()
    with torch.no_grad():
        outs = net(*inputs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    seeds = [torch.randn_like(o) for o in outs]
    vs = [torch.randn_like(t) for t in inputs]
    ref_out, grads, hvps = references(net, inputs, seeds, vs)
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


def exported(name, net, inputs, input_names, output_names, dynamic):
    f = f"{name}_opset17.onnx"
    torch.onnx.export(net.eval(), tuple(inputs), os.path.join(OUT, f), opset_version=17, input_names=input_names,
                      output_names=output_names, dynamic_axes=dynamic)
    return stored(name, net, inputs, input_names, output_names, [{"opset": 17, "model": f"rnn/edge/{f}"}])


def written(name, net, model, inputs, input_names, output_names):
    f = f"{name}_opset17.onnx"
    onnx.save(model, os.path.join(OUT, f))
    return stored(name, net, inputs, input_names, output_names, [{"opset": 17, "model": f"rnn/edge/{f}"}])


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(1)
    seq_dynamic = {"x": {0: "time", 1: "batch"}, "h0": {1: "batch"}, "c0": {1: "batch"}}
    cases = []
    lstm2 = Lstm2Seq()
    for name, b in (("lstm2_t1", 2), ("lstm2_t1_b1", 1)):
        cases.append(exported(name, lstm2, [torch.randn(1, b, F), 0.5 * torch.randn(2, b, H),
                                            0.5 * torch.randn(2, b, H)],
                              ["x", "h0", "c0"], ["y", "hn", "cn"], seq_dynamic))
    cases.append(exported("gru_bi_bf_t1", GruBiBatchFirst(), [torch.randn(2, 1, F), 0.5 * torch.randn(2, 2, H)],
                          ["x", "h0"], ["y", "hn"], {"x": {0: "batch", 1: "time"}, "h0": {1: "batch"}}))

    B, T = 2, 4
    lstm = LstmLayout1().eval()
    shapes = {"X": [B, T, F], "initial_h": [B, 2, H], "initial_c": [B, 2, H], "Y": [B, T, 2, H],
              "Y_h": [B, 2, H], "Y_c": [B, 2, H]}
    model = onnx_recurrent("LSTM", lstm.rnn, [0, 3, 1, 2], 2, {}, ["X", "initial_h", "initial_c"],
                           ["Y", "Y_h", "Y_c"], shapes)
    cases.append(written("lstm_bi_layout1", lstm, model,
                         [torch.randn(B, T, F), 0.5 * torch.randn(B, 2, H), 0.5 * torch.randn(B, 2, H)],
                         ["X", "initial_h", "initial_c"], ["Y", "Y_h", "Y_c"]))
    gru = GruLayout1().eval()
    shapes = {"X": [B, T, F], "initial_h": [B, 1, H], "Y": [B, T, 1, H], "Y_h": [B, 1, H]}
    model = onnx_recurrent("GRU", gru.rnn, [1, 0, 2], 1, {"linear_before_reset": 1}, ["X", "initial_h"],
                           ["Y", "Y_h"], shapes)
    cases.append(written("gru_layout1", gru, model, [torch.randn(B, T, F), 0.5 * torch.randn(B, 1, H)],
                         ["X", "initial_h"], ["Y", "Y_h"]))
    for c in cases:
        with open(os.path.join(OUT, f"{c['name']}.json"), "w") as fh:
            json.dump(c, fh)
    with open(os.path.join(OUT, "manifest.json"), "w") as fh:
        json.dump({"torch": torch.__version__, "cases": [c["name"] for c in cases]}, fh, indent=1)


if __name__ == "__main__":
    main()
