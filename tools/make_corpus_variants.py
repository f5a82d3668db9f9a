"""float16 and QDQ-quantized versions of three small torchvision corpus architectures
(mobilenet_v2, densenet, efficientnet_b0 of tools/make_corpus.py, the same weights: seed 0,
the same BatchNorm calibration), with torch float64 references of exactly the network each
file holds (read by src/runtime/corpus-variants.test.ts).

float16 (<name>_fp16.onnx): every float parameter and buffer of the module rounded to float16,
exported at opset 17 with BatchNorm kept as its own node (training=PRESERVE: folding it into the
convolutions would compute new weights in float32, which would no longer be the rounded
module's), then every float initializer, Constant and graph input/output switched to float16
(all of them are float16 values already). References: torch float64 of the rounded module on the
float16-rounded input (<name>_fp16_output/_grad), and the float32 network's
(<name>_grad.npy of the corpus, on the unrounded input).

QDQ (<name>_qdq.onnx): onnxruntime's static QDQ format written onto the float export (opset 13,
BatchNorm kept): the input and every Conv / Gemm output pass QuantizeLinear → DequantizeLinear
(uint8, per-tensor scale and zero point from the range the float network reaches on a calibration
batch that includes x), and Conv / Gemm weights are int8 (symmetric, per tensor) behind a
DequantizeLinear. The dequantized network pathlens explains is the float network with the
dequantized weights and each quantized activation clipped to its quantization range; its
reference is torch float64 of the module with the dequantized weights and those clamps as
forward hooks (<name>_qdq_output/_grad). Conv / Linear modules run in the same order as the
exported graph's Conv / Gemm nodes, which is how each hook finds its range.

Run: /usr/bin/python3 tools/make_corpus_variants.py   (writes test/fixtures/corpus/)
"""
import json
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
from make_corpus import MODELS, SMALL_DIR, calibrate_batchnorm  # noqa: E402

NAMES = ["mobilenet_v2", "densenet", "efficientnet_b0"]


def built(name):
    """The corpus module and input of make_corpus.build (same seed, same order of random draws)."""
    _, make, shape, _, _ = next(m for m in MODELS if m[0] == name)
    torch.manual_seed(0)
    net = make()
    calibrate_batchnorm(net, shape)
    net.eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        y = net(x)
    seed = torch.randn_like(y)
    assert np.array_equal(x.numpy(), np.load(os.path.join(SMALL_DIR, f"{name}_x.npy"))), "not the corpus input"
    assert np.array_equal(seed.numpy(), np.load(os.path.join(SMALL_DIR, f"{name}_seed.npy"))), "not the corpus seed"
    return net, x, seed


def grad64(net, x, seed, hooks=()):
    net = net.double()
    handles = [m.register_forward_hook(h) for m, h in hooks]
    z = x.double().clone().requires_grad_(True)
    y = net(z)
    (g,) = torch.autograd.grad((y * seed.double()).sum(), z)
    for h in handles:
        h.remove()
    net.float()
    return y.detach(), g


def export(net, x, path, opset):
    torch.onnx.export(net, x, path, opset_version=opset, input_names=["x"], output_names=["y"],
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    return onnx.load(path)


def to_float16(model):
    g = model.graph
    for i, t in enumerate(g.initializer):
        if t.data_type == TensorProto.FLOAT:
            a = numpy_helper.to_array(t)
            assert np.array_equal(a.astype(np.float16).astype(np.float32), a), f"{t.name} is not float16-exact"
            g.initializer[i].CopyFrom(numpy_helper.from_array(a.astype(np.float16), t.name))
    for n in g.node:
        for a in n.attribute:
            if n.op_type == "Constant" and a.name == "value" and a.t.data_type == TensorProto.FLOAT:
                v = numpy_helper.to_array(a.t)
                assert np.array_equal(v.astype(np.float16).astype(np.float32), v), f"{n.name}: constant {v}"
                a.t.CopyFrom(numpy_helper.from_array(v.astype(np.float16)))
            if n.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16
    for v in list(g.input) + list(g.output):
        if v.type.tensor_type.elem_type == TensorProto.FLOAT:
            v.type.tensor_type.elem_type = TensorProto.FLOAT16
    del g.value_info[:]
    return model


def float16_variant(name):
    net, x, seed = built(name)
    with torch.no_grad():
        for t in list(net.parameters()) + list(net.buffers()):
            if t.is_floating_point():
                t.copy_(t.half().float())
    xh = x.half().float()
    path = os.path.join(SMALL_DIR, f"{name}_fp16.onnx")
    model = to_float16(export(net, xh, path, 17))
    onnx.save(model, path)
    y, g = grad64(net, xh, seed)
    np.save(os.path.join(SMALL_DIR, f"{name}_fp16_output.npy"), y.numpy())
    np.save(os.path.join(SMALL_DIR, f"{name}_fp16_grad.npy"), g.numpy())
    return {"name": name, "kind": "float16", "model": f"{name}_fp16.onnx", "size": os.path.getsize(path)}


def uint8_range(lo, hi):
    """onnxruntime's asymmetric uint8 parameters for [lo, hi] (the range always contains 0)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / 255 or 1.0
    zero = int(round(-lo / scale))
    return np.float32(scale), np.uint8(zero)


def qdq_variant(name):
    net, x, seed = built(name)
    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    # calibration: x and three random batches; ranges of the input and of every Conv/Linear output
    calib = torch.cat([x, torch.randn(3, *x.shape[1:])])
    ranges = {}

    def record(m, _, out):
        ranges[m] = (min(ranges.get(m, (0, 0))[0], float(out.min())), max(ranges.get(m, (0, 0))[1], float(out.max())))

    handles = [m.register_forward_hook(record) for m in layers]
    with torch.no_grad():
        net(calib)
    for h in handles:
        h.remove()
    # int8 symmetric per-tensor weights, dequantized in the module itself
    wq = {}
    with torch.no_grad():
        for m in layers:
            w = m.weight.detach()
            scale = np.float32(float(w.abs().max()) / 127)
            q = torch.clamp(torch.round(w / float(scale)), -127, 127)
            wq[m] = (q.to(torch.int8).numpy(), scale)
            m.weight.copy_(q * float(scale))
    path = os.path.join(SMALL_DIR, f"{name}_qdq.onnx")
    model = export(net, x, path, 13)
    g = model.graph
    convs = [n for n in g.node if n.op_type in ("Conv", "Gemm")]
    assert len(convs) == len(layers), f"{len(convs)} Conv/Gemm nodes for {len(layers)} modules"
    inits = {t.name: t for t in g.initializer}
    new_nodes, extra = [], []

    def qdq(tensor, scale, zero, tag):
        extra.extend([numpy_helper.from_array(np.array(scale, np.float32), f"{tag}_scale"),
                      numpy_helper.from_array(np.array(zero, np.uint8), f"{tag}_zero")])
        return [helper.make_node("QuantizeLinear", [tensor, f"{tag}_scale", f"{tag}_zero"], [f"{tag}_q"]),
                helper.make_node("DequantizeLinear", [f"{tag}_q", f"{tag}_scale", f"{tag}_zero"], [f"{tag}_dq"])]

    lo, hi = float(calib.min()), float(calib.max())
    s_in, z_in = uint8_range(lo, hi)
    input_clamp = (float(s_in) * (0 - int(z_in)), float(s_in) * (255 - int(z_in)))
    new_nodes += qdq("x", s_in, z_in, "x")
    renames = {"x": "x_dq"}
    clamps = []
    k = 0
    for n in g.node:
        n.input[:] = [renames.get(i, i) for i in n.input]
        if n.op_type in ("Conv", "Gemm"):
            m = layers[k]
            k += 1
            q, scale = wq[m]
            wname = n.input[1]
            assert wname in inits, f"{n.name}: weight {wname} is not an initializer"
            if n.op_type == "Gemm" and any(a.name == "transB" and a.i == 1 for a in n.attribute):
                assert tuple(inits[wname].dims) == q.shape
            extra.extend([numpy_helper.from_array(q, f"{wname}_int8"),
                          numpy_helper.from_array(np.array(scale, np.float32), f"{wname}_wscale"),
                          numpy_helper.from_array(np.array(0, np.int8), f"{wname}_wzero")])
            g.initializer.remove(inits[wname])
            new_nodes.append(helper.make_node("DequantizeLinear", [f"{wname}_int8", f"{wname}_wscale", f"{wname}_wzero"],
                                              [wname]))
            out = n.output[0]
            n.output[0] = f"{out}_float"
            new_nodes.append(n)
            s, z = uint8_range(*ranges[m])
            tag = f"q{k}"
            new_nodes += qdq(n.output[0], s, z, tag)
            new_nodes.append(helper.make_node("Identity", [f"{tag}_dq"], [out]))
            clamps.append((m, (float(s) * (0 - int(z)), float(s) * (255 - int(z)))))
        else:
            new_nodes.append(n)
    del g.node[:]
    g.node.extend(new_nodes)
    g.initializer.extend(extra)
    onnx.checker.check_model(model)
    onnx.save(model, path)

    def clamp(bounds):
        return lambda _m, _i, out: torch.clamp(out, *bounds)

    class Clamp(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, z):
            return self.inner(torch.clamp(z, *input_clamp))

    y, g64 = grad64(Clamp(net), x, seed, hooks=[(m, clamp(b)) for m, b in clamps])
    np.save(os.path.join(SMALL_DIR, f"{name}_qdq_output.npy"), y.numpy())
    np.save(os.path.join(SMALL_DIR, f"{name}_qdq_grad.npy"), g64.numpy())
    return {"name": name, "kind": "qdq", "model": f"{name}_qdq.onnx", "size": os.path.getsize(path)}


def main():
    cases = []
    for name in NAMES:
        cases.append(float16_variant(name))
        cases.append(qdq_variant(name))
        print(cases[-2], cases[-1], flush=True)
    with open(os.path.join(SMALL_DIR, "variants.json"), "w") as fh:
        json.dump({"torch": torch.__version__, "cases": cases}, fh, indent=1)


if __name__ == "__main__":
    main()
