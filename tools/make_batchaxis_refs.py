"""torch float64 references for explaining sequence-first recurrent exports with `batchAxes`
(src/attribution/batch-axes.test.ts): Integrated Gradients and Expected Gradients of the models
in test/fixtures/rnn, computed by torch autograd in float64 in the models' own layout
(time × batch × features; states layers·directions × batch × hidden).

The networks are rebuilt by replaying tools/make_rnn_models.py with its seeds (its export step
skipped); their float64 outputs are checked against the stored test/fixtures/rnn/*.json before
anything is written, so the references belong to the committed ONNX files.

- IG: Gauss–Legendre quadrature with STEPS nodes on [0, 1] (the nodes and weights pathlens uses
  for method "gausslegendre"), zero baseline for every attributed input, target Σ seed ⊙ output
  (the fixture's seed of that output), attributions multiplied by (x − 0). pathlens evaluates
  the same quadrature, so the comparison is of gradients at the same points.
- EG (lstm2): fixed draws (reference index and α per example and sample), references shaped like
  one example of x (time × features); attribution mean_k (x − r_k) ⊙ ∇F(r_k + α_k (x − r_k)).

Run: /usr/bin/python3 tools/make_batchaxis_refs.py   (writes test/fixtures/batchaxis/refs.json)
"""
import json
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import make_rnn_models as rnn  # noqa: E402

HERE = os.path.dirname(__file__)
OUT = os.path.join(HERE, "..", "test", "fixtures", "batchaxis")
RNN = os.path.join(HERE, "..", "test", "fixtures", "rnn")
STEPS = 32


def rebuild():
    """The nets and inputs of make_rnn_models.main, by name (same seed, same draws)."""
    nets = {}
    original = rnn.case

    def capture(name, net, inputs, input_names, output_names, batch_axes, opsets=rnn.OPSETS):
        c = original(name, net, inputs, input_names, output_names, batch_axes, opsets)
        nets[name] = (net.eval(), dict(zip(input_names, inputs)), output_names, c)
        return c

    rnn.case = capture
    rnn.export = lambda *a, **k: []
    with tempfile.TemporaryDirectory() as tmp:
        rnn.OUT = tmp
        rnn.main()
    return nets


def tensor(j):
    return torch.tensor(j["data"], dtype=torch.float64).reshape(j["dims"])


def as_json(t):
    a = t.detach().numpy()
    return {"dims": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def check_against_fixture(name, net, inputs, output_names):
    stored = json.load(open(os.path.join(RNN, f"{name}.json")))
    with torch.no_grad():
        outs = net.double()(*[t.double() for t in inputs.values()])
    outs = outs if isinstance(outs, tuple) else (outs,)
    for n, o in zip(output_names, outs):
        err = float((o - tensor(stored["outputs"][n])).abs().max())
        assert err < 1e-12, f"{name}.{n}: rebuilt net differs from the fixture by {err}"
    return stored


def scalar(net, inputs, output_index, seed):
    outs = net(*inputs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    return (outs[output_index] * seed).sum()


def integrated_gradients(net, inputs, attributed, output_index, seed):
    """IG from zero baselines for the `attributed` inputs (others as given), per example sums."""
    nodes, weights = np.polynomial.legendre.leggauss(STEPS)
    alphas, weights = 0.5 * (1 + nodes), 0.5 * weights
    names = list(inputs)
    sums = {n: torch.zeros_like(inputs[n]) for n in attributed}
    for a, w in zip(alphas, weights):
        point = [(inputs[n] * a if n in attributed else inputs[n]).clone().requires_grad_(n in attributed) for n in names]
        f = scalar(net, point, output_index, seed)
        grads = torch.autograd.grad(f, [p for n, p in zip(names, point) if n in attributed])
        for n, g in zip(attributed, grads):
            sums[n] += w * g
    with torch.no_grad():
        fx = scalar(net, [inputs[n] for n in names], output_index, seed)
        f0 = scalar(net, [inputs[n] * 0 if n in attributed else inputs[n] for n in names], output_index, seed)
    return {n: sums[n] * inputs[n] for n in attributed}, float(fx), float(f0)


def expected_gradients(net, inputs, output_index, seed, references, index, alpha):
    """EG of x (batch axis 1) with the other inputs as given; draws index/alpha are [N, K]."""
    x = inputs["x"]
    n_examples, k = index.shape
    total = torch.zeros_like(x)
    names = list(inputs)
    for s in range(k):
        ref = torch.stack([references[index[n, s]] for n in range(n_examples)], dim=1)  # T × N × F
        a = torch.tensor(alpha[:, s], dtype=torch.float64).reshape(1, n_examples, 1)
        point = (ref + a * (x - ref)).requires_grad_(True)
        args = [point if n == "x" else inputs[n] for n in names]
        (g,) = torch.autograd.grad(scalar(net, args, output_index, seed), [point])
        total += (x - ref) * g / k
    return total


def main():
    torch.manual_seed(0)
    nets = rebuild()
    cases = {
        # label: (net, output explained, attributed inputs; the others are fed as given)
        "lstm2": ("lstm2", "y", ["x", "h0", "c0"]),
        "lstm2_x": ("lstm2", "y", ["x"]),
        "rnn_relu_bi": ("rnn_relu_bi", "y", ["x"]),
        "lstm_bi_bf": ("lstm_bi_bf", "hn", ["x", "h0", "c0"]),
        "gru2_bi_bf": ("gru2_bi_bf", "hn", ["x", "h0"]),
        "rnn_tanh2": ("rnn_tanh2", "y", ["x", "h0"]),
    }
    refs = {"steps": STEPS, "cases": {}}
    for label, (name, output, attributed) in cases.items():
        net, inputs, output_names, _ = nets[name]
        stored = check_against_fixture(name, net, inputs, output_names)
        x64 = {n: tensor(stored["inputs"][n]) for n in inputs}
        seed = tensor(stored["seeds"][output])
        index = output_names.index(output)
        attributions, fx, f0 = integrated_gradients(net, x64, attributed, index, seed)
        refs["cases"][label] = {
            "output": output,
            "attributions": {n: as_json(a) for n, a in attributions.items()},
            "outputAtInput": fx,
            "outputAtBaseline": f0,
        }
    net, inputs, output_names, _ = nets["lstm2"]
    stored = json.load(open(os.path.join(RNN, "lstm2.json")))
    x64 = {n: tensor(stored["inputs"][n]) for n in inputs}
    rng = np.random.default_rng(0)
    references = torch.tensor(rng.standard_normal((3, rnn.T, rnn.F)), dtype=torch.float64)
    index = np.array([[0, 2, 1], [1, 1, 0]])
    alpha = np.array([[0.3, 0.8, 0.55], [0.1, 0.65, 0.9]])
    eg = expected_gradients(net, x64, 0, tensor(stored["seeds"]["y"]), references, index, alpha)
    refs["expectedGradients"] = {
        "case": "lstm2",
        "output": "y",
        "references": as_json(references),
        "referenceIndex": index.reshape(-1).tolist(),
        "alpha": alpha.reshape(-1).tolist(),
        "attributions": {"x": as_json(eg)},
    }
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "refs.json"), "w") as fh:
        json.dump(refs, fh)


if __name__ == "__main__":
    main()
