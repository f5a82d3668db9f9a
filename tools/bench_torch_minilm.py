"""Side-by-side benchmark, MiniLM-sized encoder (tools/make_minilm.py): layer Integrated
Gradients at the embedding output, by Captum 0.8's LayerIntegratedGradients or by a
hand-written torch loop, on the weights the ONNX file was exported from (minilm.pt). Run by
`npm run bench` (bench/captum.ts; the whole process is timed there). `--logits-out` writes
torch's logits for the inputs so the bench can compare them with onnxruntime's before timing.

Run: [PYTHONPATH=/work/captum] /usr/bin/python3 tools/bench_torch_minilm.py --weights minilm.pt
       --ids ids.npy --mask mask.npy --base base.npy --target 1 --impl captum|torch
"""
import time

import bench_torch_common as common
import numpy as np
import torch
from make_minilm import MiniLM


def extra_args(p):
    p.add_argument("--weights", required=True)
    p.add_argument("--ids", required=True)
    p.add_argument("--mask", required=True)
    p.add_argument("--base", required=True, help="baseline input ids")


def main():
    args = common.parse_args(__doc__.splitlines()[0], extra_args)
    build_started = time.perf_counter()
    if args.impl == "captum":
        import captum.attr  # noqa: F401  (its import is part of Captum's start-up)
        build_started = time.perf_counter()
    net = MiniLM()
    net.load_state_dict(torch.load(args.weights))
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
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
            with torch.no_grad():
                x, xb = net.embeddings(ids), net.embeddings(base)
            return common.hand_ig(net.body, x, xb, args.target, args.steps, args.points_per_batch, (mask,))

        attr, seconds = common.timed(run)
    common.report(args, attr, build_started, build, seconds)


if __name__ == "__main__":
    main()
