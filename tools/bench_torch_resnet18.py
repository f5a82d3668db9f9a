"""Side-by-side benchmark, resnet18: Integrated Gradients of the ONNX fixture's weights loaded
into torchvision's resnet18, by Captum 0.8 or by a hand-written torch loop (run by
`npm run bench`, bench/captum.ts; the whole process is timed there).

The ONNX file has each BatchNorm folded into its Conv (Conv with a bias); the torch model keeps
torchvision's structure and gets the folded weights: Conv weight = ONNX weight, BatchNorm as
the identity plus the ONNX bias (weight 1, running mean 0, running variance 1 − eps).
`--logits-out` writes torch's logits for the input so the bench can compare them with
onnxruntime's before timing.

Run: [PYTHONPATH=/work/captum] /usr/bin/python3 tools/bench_torch_resnet18.py --model resnet18.onnx
       --input x.npy --target 7 --impl captum|torch [--points-per-batch 32] [--out attr.npy]
"""
import time

import bench_torch_common as common
import numpy as np
import onnx
import torch
from onnx import numpy_helper


def extra_args(p):
    p.add_argument("--model", required=True)
    p.add_argument("--input", required=True)


def module_name(output):
    """'/layer2/layer2.0/downsample/downsample.0/Conv_output_0' → 'layer2.0.downsample.0' (torch's
    export scopes name a Sequential's child by its own name and its parent's)."""
    segs = output.split("/")[1:-1]
    name = segs[0]
    for prev, seg in zip(segs, segs[1:]):
        name += seg[len(prev) :] if seg.startswith(prev + ".") else "." + seg
    return name


def resnet18_from_onnx(path):
    """torchvision's resnet18 with the weights of the ONNX export (BatchNorm folded into Conv)."""
    import torchvision

    m = onnx.load(path)
    init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    alias = {n.output[0]: n.input[0] for n in m.graph.node if n.op_type == "Identity"}

    def value(name):
        while name in alias:
            name = alias[name]
        return torch.tensor(init[name].copy())

    net = torchvision.models.resnet18(weights=None)
    modules = dict(net.named_modules())
    state = {}
    for node in m.graph.node:
        if node.op_type == "Conv":
            conv = module_name(node.output[0])
            if conv not in modules or not isinstance(modules[conv], torch.nn.Conv2d):
                raise SystemExit(f"unexpected Conv node output {node.output[0]}")
            bn = conv.replace("conv", "bn") if "downsample" not in conv else conv[:-1] + "1"
            bn_module = modules[bn]
            weight = value(node.input[1])
            bias = value(node.input[2])
            state[f"{conv}.weight"] = weight
            state[f"{bn}.weight"] = torch.ones_like(bias)
            state[f"{bn}.bias"] = bias
            state[f"{bn}.running_mean"] = torch.zeros_like(bias)
            state[f"{bn}.running_var"] = torch.full_like(bias, 1 - bn_module.eps)
        elif node.op_type == "Gemm":
            state["fc.weight"] = value(node.input[1])
            state["fc.bias"] = value(node.input[2])
    missing = {k for k in net.state_dict() if not k.endswith("num_batches_tracked")} - set(state)
    if missing:
        raise SystemExit(f"weights not found in the ONNX file: {sorted(missing)}")
    net.load_state_dict(state, strict=False)
    return net.eval()


def main():
    args = common.parse_args(__doc__.splitlines()[0], extra_args)
    build_started = time.perf_counter()
    if args.impl == "captum":
        import captum.attr  # noqa: F401  (its import is part of Captum's start-up)
        build_started = time.perf_counter()
    net = resnet18_from_onnx(args.model)
    for p in net.parameters():
        p.requires_grad_(False)
    x = torch.tensor(np.load(args.input))
    build = time.perf_counter() - build_started
    if args.logits_out:
        with torch.no_grad():
            np.save(args.logits_out, net(x).numpy())
        return
    xb = torch.zeros_like(x)
    if args.impl == "captum":
        attr, seconds = common.timed(
            lambda: common.captum_ig(net, x, xb, args.target, args.steps, args.points_per_batch)
        )
    else:
        attr, seconds = common.timed(
            lambda: common.hand_ig(net, x, xb, args.target, args.steps, args.points_per_batch)
        )
    common.report(args, attr, build_started, build, seconds)


if __name__ == "__main__":
    main()
