"""One epoch of LeNet-300-100 on MNIST: nnlite against PyTorch CPU, same run, same threads.

LeNet-300-100 (784-300-100-10, ReLU, softmax cross-entropy), Adam with
lr = 1.2e-3, trained for one epoch of the 60000 MNIST training images
(pixels / 255, float32) at batch 60 and at batch 256.

What is timed, identically for both engines, per epoch:
- one random permutation of the 60000 indices (the shuffling work),
- per minibatch: the gather ``X[idx], y[idx]``, forward, loss, backward,
  one Adam step, and reading the loss back as a Python float.
What is not timed: loading data, building the model, evaluation (the test
accuracy printed afterwards only shows that both engines really trained).

Fairness: float32 everywhere; PyTorch starts from a copy of nnlite's initial
weights (Glorot uniform, zero biases); the same Adam hyper-parameters
(beta1 0.9, beta2 0.999, eps 1e-7); NumPy's BLAS and PyTorch are pinned to the
same thread count; each engine gets ``--repeats`` fresh runs, interleaved, and
the best is kept. PyTorch runs twice: with its default Adam (on CPU
tensors, a loop over the parameters) and with its fused CPU kernel
(``torch.optim.Adam(..., fused=True)``), each against the same nnlite runs.

PyTorch is an optional oracle, never a dependency: without it the script
says so and reports ``torch_s`` and ``ratio`` as null.

With ``--alone R`` each engine (nnlite, PyTorch's default Adam, its fused
Adam) instead runs alone, in a process of its own (this script with
``--engines E``: its best of ``--repeats`` epochs, so that one-time costs
such as numba loading its compiled loops stay out), the three taking turns
for R rounds, as ``benchmarks/cnn.py --alone`` does: no engine's idle
threads share the process with another's epochs. Each entry's ``ratio``
and ``ratio_fused`` are then the medians of the rounds' ratios, with
``ratios``/``ratios_fused`` (each round's), ``ratio_mean``/``ratio_fused_mean``
and ``ratio_ci95``/``ratio_fused_ci95`` (95% t interval of the mean)
beside them; ``*_s`` are medians of the rounds' best epochs.

With ``--breakdown`` the script times, per batch size and in this process,
nnlite's epoch (best of ``--repeats``: the first includes numba's loading) and the eight matrix products of the
epoch's steps run alone (each layer's forward product and weight gradient,
the input gradients above the first layer; float32 operands of the step's
shapes), with NumPy and, if installed, with PyTorch: how much of nnlite's
epoch is matrix products, and whose products are faster. Last line then
``{"batch_60": {"nnlite_s", "products_s", "products_share", "torch_products_s"}, ...}``.

Usage::

    python benchmarks/train_mlp.py [--data-dir DIR] [--threads N] [--repeats R] [--clock wall|cpu]
                                   [--engines nnlite torch torch_fused] [--alone ROUNDS] [--breakdown]

Last line: ``{"batch_60": {"nnlite_s": .., "torch_s": .., "ratio": .., "torch_fused_s": .., "ratio_fused": ..},
"batch_256": {...}}`` with ratio = nnlite_s / torch_s (default Adam) and ratio_fused = nnlite_s /
torch_fused_s (target: <= 0.8 against both, at both batch sizes).
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import nnlite  # noqa: E402
from nnlite.cli import non_negative_int  # noqa: E402
from nnlite.data import flatten, load_mnist, scale_255  # noqa: E402
from nnlite.train import minibatches, train_step_inplace  # noqa: E402

LAYER_SIZES = [784, 300, 100, 10]
ENGINES = ("nnlite", "torch", "torch_fused")
LR = 1.2e-3
BETA1, BETA2, EPS = 0.9, 0.999, 1e-7


def load_data(data_dir):
    """MNIST train and test as float32 (n, 784) in [0, 1] and int64 labels."""
    X, y = load_mnist("train", data_dir=data_dir)
    X_test, y_test = load_mnist("test", data_dir=data_dir)
    return flatten(scale_255(X)), y, flatten(scale_255(X_test)), y_test


# -- nnlite ------------------------------------------------------------------
def nnlite_epoch(model, optimizer, X, y, batch_size, rng):
    """One epoch exactly as ``nnlite.fit`` runs it, without its end-of-epoch evaluation."""
    losses = []
    for idx in minibatches(len(X), batch_size, rng):
        losses.append(train_step_inplace(model, optimizer, X[idx], y[idx]))
    return losses


def time_nnlite(X, y, batch_size, seed, clock):
    """(seconds, trained model) for one epoch from a fresh model."""
    model = nnlite.MLP(LAYER_SIZES, init="glorot_uniform", rng=seed)
    optimizer = nnlite.Adam(LR, beta1=BETA1, beta2=BETA2, eps=EPS)
    rng = np.random.default_rng(seed)
    seconds, _ = _common.timed(lambda: nnlite_epoch(model, optimizer, X, y, batch_size, rng), clock)
    return seconds, model


# -- PyTorch -----------------------------------------------------------------
def torch_model_like(model):
    """A torch Sequential holding a float32 copy of ``model``'s weights (W transposed to (out, in))."""
    import torch
    layers = []
    for i, (W, b) in enumerate(zip(model.weights, model.biases)):
        linear = torch.nn.Linear(*W.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear] if i == model.n_layers - 1 else [linear, torch.nn.ReLU()]
    return torch.nn.Sequential(*layers)


def torch_epoch(net, optimizer, X, y, batch_size, generator):
    """One epoch of the same per-step work as ``nnlite_epoch``."""
    import torch
    cross_entropy = torch.nn.functional.cross_entropy
    losses = []
    order = torch.randperm(len(X), generator=generator)
    for start in range(0, len(X), batch_size):
        idx = order[start:start + batch_size]
        loss = cross_entropy(net(X[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def time_torch(X, y, batch_size, seed, fused, clock):
    """(seconds, trained net) for one epoch from nnlite's initial weights."""
    import torch
    net = torch_model_like(nnlite.MLP(LAYER_SIZES, init="glorot_uniform", rng=seed))
    optimizer = torch.optim.Adam(net.parameters(), lr=LR, betas=(BETA1, BETA2), eps=EPS,
                                 **({"fused": True} if fused else {}))
    generator = torch.Generator().manual_seed(seed)
    seconds, _ = _common.timed(lambda: torch_epoch(net, optimizer, X, y, batch_size, generator), clock)
    return seconds, net


def torch_accuracy(net, X, y):
    import torch
    with torch.no_grad():
        return float((net(torch.from_numpy(X)).argmax(dim=1).numpy() == y).mean())


# -- driver ------------------------------------------------------------------
def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=_common.default_data_dir(),
                        help="folder holding mnist/ (default: $NNLITE_DATA, else ../shared/data)")
    _common.add_timing_arguments(parser, repeats=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[60, 256])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=None,
                        help="use only the first N training images (a quick smoke run; figures need all 60000)")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES),
                        help="engines to time (default all three)")
    parser.add_argument("--alone", type=non_negative_int, default=0, metavar="ROUNDS",
                        help="time each engine alone in a process of its own, taking turns for ROUNDS rounds; "
                             "ratios are the medians of the rounds'")
    parser.add_argument("--breakdown", action="store_true",
                        help="time nnlite's epoch and its steps' matrix products alone (NumPy and PyTorch)")
    return _common.parse_timing_args(parser)


def import_torch(n_threads):
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: timing nnlite only (torch_s and ratio are null). "
              "Install a CPU build, e.g. `pip install torch`, to compare.")
        return None
    torch.set_num_threads(n_threads)
    return torch


def benchmark_batch_size(torch, data, batch_size, args):
    """Interleaved repeats of nnlite, PyTorch (default Adam) and PyTorch (fused Adam);
    returns the JSON entry for this batch size."""
    X, y, X_test, y_test = data
    X_t, y_t = (torch.from_numpy(X), torch.from_numpy(y)) if torch else (None, None)
    times, nets = {"nnlite": [], "torch": [], "torch_fused": []}, {}
    for _ in range(args.repeats):
        if "nnlite" in args.engines:
            seconds, model = time_nnlite(X, y, batch_size, args.seed, args.clock)
            times["nnlite"].append(seconds)
        for name, fused in (("torch", False), ("torch_fused", True)) if torch else ():
            if name in args.engines:
                seconds, nets[name] = time_torch(X_t, y_t, batch_size, args.seed, fused, args.clock)
                times[name].append(seconds)
    nnlite_s = min(times["nnlite"]) if times["nnlite"] else None
    entry = {"nnlite_s": None if nnlite_s is None else round(nnlite_s, 4)}
    line = f"batch {batch_size}:" + ("" if nnlite_s is None else
                                     f" nnlite {nnlite_s:.3f} s (test acc {model.score(X_test, y_test):.4f})")
    for name, ratio in (("torch", "ratio"), ("torch_fused", "ratio_fused")):
        torch_s = min(times[name]) if times[name] else None
        entry[f"{name}_s"] = None if torch_s is None else round(torch_s, 4)
        entry[ratio] = None if torch_s is None or nnlite_s is None else round(nnlite_s / torch_s, 3)
        if torch_s is not None:
            line += (f", {name.replace('_', ' ')} {torch_s:.3f} s (test acc "
                     f"{torch_accuracy(nets[name], X_test, y_test):.4f})"
                     + ("" if entry[ratio] is None else f", {ratio} {entry[ratio]:.3f}"))
    print(line + ("" if torch else " (PyTorch not installed)"), flush=True)
    return entry


def alone_results(args):
    """``--alone``: per batch size, each engine's median best epoch over ``args.alone`` rounds (each
    engine timed by this script in a process of its own) and the rounds' ratios."""
    rounds = _common.runs_alone(__file__, args.engines, args.alone, lambda engine, line: ", ".join(
        f"{key} {entry[f'{engine}_s']}" for key, entry in line.items()))
    results = {}
    for key in rounds[0][args.engines[0]]:
        seconds = {engine: [r[engine][key][f"{engine}_s"] for r in rounds] for engine in args.engines}
        entry = {f"{engine}_s": None if None in s else round(float(np.median(s)), 4) for engine, s in seconds.items()}
        for name, ratio, each in (("torch", "ratio", "ratios"), ("torch_fused", "ratio_fused", "ratios_fused")):
            paired = ([n / t for n, t in zip(seconds["nnlite"], seconds[name])]
                      if "nnlite" in seconds and name in seconds and None not in seconds[name] else None)
            entry[ratio], entry[each], entry[f"{ratio}_mean"], entry[f"{ratio}_ci95"] = _common.ratio_summary(paired)
        results[key] = entry
        print(f"{key}: " + ", ".join(f"{k} {v}" for k, v in entry.items()), flush=True)
    return results


def step_products(batch_size, rng):
    """Operand pairs of the eight matrix products of one training step: per layer X @ W and X.T @ dZ,
    and dZ @ W.T above the first layer (its input needs no gradient)."""
    pairs = []
    for i, (d_in, d_out) in enumerate(zip(LAYER_SIZES[:-1], LAYER_SIZES[1:])):
        X, W = rng.random((batch_size, d_in), dtype=np.float32), rng.random((d_in, d_out), dtype=np.float32)
        dZ = rng.standard_normal((batch_size, d_out), dtype=np.float32)
        pairs += [(X, W), (X.T, dZ)] + ([(dZ, W.T)] if i else [])
    return pairs


def products_seconds(pairs, n_steps, args, to_tensor=None):
    """Best of ``--repeats`` of ``n_steps`` times the step's products (NumPy, or PyTorch via ``to_tensor``)."""
    pairs = [tuple(map(to_tensor, pair)) for pair in pairs] if to_tensor else pairs

    def epoch():
        for _ in range(n_steps):
            for A, B in pairs:
                A @ B
    return min(_common.timed(epoch, args.clock)[0] for _ in range(args.repeats))


def breakdown_results(args):
    """``--breakdown``: per batch size, nnlite's epoch and the same steps' products alone (NumPy, PyTorch)."""
    X, y, _, _ = load_data(args.data_dir)
    X, y = X[:args.n_train], y[:args.n_train]
    torch, results = import_torch(args.threads), {}
    with _common.blas_threads(args.threads):
        for batch_size in args.batch_sizes:
            nnlite_s = min(time_nnlite(X, y, batch_size, args.seed, args.clock)[0] for _ in range(args.repeats))
            pairs, n_steps = step_products(batch_size, np.random.default_rng(args.seed)), -(-len(X) // batch_size)
            products_s = products_seconds(pairs, n_steps, args)
            torch_s = products_seconds(pairs, n_steps, args, torch.from_numpy) if torch else None
            results[f"batch_{batch_size}"] = entry = {
                "nnlite_s": round(nnlite_s, 4), "products_s": round(products_s, 4),
                "products_share": round(products_s / nnlite_s, 3),
                "torch_products_s": None if torch_s is None else round(torch_s, 4)}
            print(f"batch {batch_size}: " + ", ".join(f"{k} {v}" for k, v in entry.items()), flush=True)
    return results


def main():
    args = parse_args()
    if args.breakdown:
        print(f"LeNet-300-100: nnlite's epoch and its steps' matrix products alone; {_common.conditions(args)}",
              flush=True)
        _common.print_json_last(breakdown_results(args))
        return
    if args.alone:
        print(f"LeNet-300-100, one epoch, each engine alone in its own process, {args.alone} rounds; "
              f"{_common.conditions(args)}", flush=True)
        _common.print_json_last(alone_results(args))
        return
    X, y, X_test, y_test = load_data(args.data_dir)
    data = X[:args.n_train], y[:args.n_train], X_test, y_test
    torch = import_torch(args.threads)
    print(f"LeNet-300-100, MNIST train {data[0].shape}, Adam lr {LR}, one epoch; {_common.conditions(args)}"
          + (f"; torch {torch.__version__}" if torch else ""), flush=True)
    results = {}
    with _common.blas_threads(args.threads):
        for batch_size in args.batch_sizes:
            results[f"batch_{batch_size}"] = benchmark_batch_size(torch, data, batch_size, args)
    print(f"load average at the end: {_common.load_average()}", flush=True)
    _common.print_json_last(results)


if __name__ == "__main__":
    main()
