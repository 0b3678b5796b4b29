"""The CNN of the DSR study: one training epoch against PyTorch, and a sparse layer.

1. One epoch of the experiment's CNN (``pruning.dsr.build_model("dense")``:
   conv3x3(16)+ReLU+maxpool2, conv3x3(32)+ReLU+maxpool2, dense 128+ReLU,
   dense 10) on the Fashion-MNIST training images (pixels / 255, float32),
   batch 128, Adam lr 1e-3. Timed per minibatch, identically for both
   engines: the gather ``X[idx], y[idx]``, forward, loss, backward, one Adam
   step and reading the loss back as a float. Not timed: loading, building,
   evaluation. PyTorch starts from a copy of nnlite's initial weights
   (kernels permuted from NHWC/(kh*kw*c_in, c_out) to NCHW/(c_out, c_in, kh,
   kw)), and the script first checks that both give the same logits. Both
   engines are pinned to the same thread count and walk the same minibatch
   order, interleaved in blocks of ``--block`` (10) minibatches, so that a
   change in the machine's load falls on both (the ratio is what to read on a
   busy machine). PyTorch is an optional oracle: without it ``epoch_ratio``
   is null.
   With ``--alone R`` each engine instead runs alone, in a process of its
   own (this script with ``--engines nnlite`` or ``--engines torch``), the
   two taking turns for R rounds: no engine's idle threads share the
   machine with the other's epoch (interleaved, NumPy's spinning BLAS
   threads slow PyTorch's epoch down at two threads), and a drift in the
   machine's speed falls on both engines of a round. ``epoch_ratio`` is
   then the median of the R rounds' ratios; ``epoch_ratios``,
   ``epoch_ratio_mean`` and ``epoch_ratio_ci95`` (the 95% t interval of
   the mean) are printed beside it. This is the measurement for
   ``--threads 2``.
2. Forward + backward (dX, dW on the stored pattern, db) of a 95%-sparse
   1024x1024 ``DynamicLinear`` stored as CSR, at batch 256, against the same
   layer stored dense (best of ``--repeats``); the forward alone is reported
   too. ``sparse_speedup`` is measured on the default CSR backend
   (``nnlite.sparse.backend()``: numba's compiled loops when numba is
   installed); the NumPy/SciPy backend's speedup is printed beside it.

Usage::

    python benchmarks/cnn.py [--data-dir DIR] [--threads N] [--n-train N] [--block B] [--repeats R] [--clock cpu]
                             [--engines nnlite torch] [--alone ROUNDS] [--no-sparse]

Last line: ``{"epoch_ratio": nnlite_s / torch_s, "sparse_speedup": dense_s / csr_s, ...}``
(targets: epoch_ratio <= 1.0, sparse_speedup >= 5); ``sparse_speedup`` is null with ``--no-sparse``.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

from nnlite import sparse  # noqa: E402
from nnlite.cli import non_negative_int  # noqa: E402
from nnlite.data import load_fashion_mnist, scale_255  # noqa: E402
from nnlite.optim import Adam  # noqa: E402
from nnlite.train import minibatches, train_step_inplace  # noqa: E402
from pruning.dsr import build_model  # noqa: E402
from pruning.sparse_layers import DynamicLinear  # noqa: E402

BATCH, LR = 128, 1e-3


def best_time(run, repeats, clock):
    """Smallest time of ``repeats`` calls of ``run()`` on ``clock``."""
    return min(_common.timed(run, clock)[0] for _ in range(repeats))


def nnlite_steps(X, y, seed=0):
    """step(idx): one nnlite training step on the minibatch ``idx``."""
    model, optimizer = build_model("dense", X.shape[1:], 10, 0.0, rng=seed), Adam(LR)
    return lambda idx: train_step_inplace(model, optimizer, X[idx], y[idx])


def torch_model(model):
    """The same network in PyTorch, with nnlite's weights copied (NCHW layout)."""
    import torch
    from torch import nn
    conv1, conv2, dense1, dense2 = model.weight_layers()
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(7 * 7 * 32, 128), nn.ReLU(), nn.Linear(128, 10))
    with torch.no_grad():
        for layer, source in ((net[0], conv1), (net[3], conv2)):
            (kh, kw), c_in, c_out = source.kernel_size, source.c_in, source.W.shape[1]
            layer.weight.copy_(torch.from_numpy(source.W.reshape(kh, kw, c_in, c_out).transpose(3, 2, 0, 1).copy()))
            layer.bias.copy_(torch.from_numpy(source.b))
        # nnlite flattens (h, w, c), PyTorch (c, h, w): permute the first dense kernel's rows
        kernel = dense1.W.reshape(7, 7, 32, 128).transpose(3, 2, 0, 1).reshape(128, -1)
        net[7].weight.copy_(torch.from_numpy(kernel.copy()))
        net[7].bias.copy_(torch.from_numpy(dense1.b))
        net[9].weight.copy_(torch.from_numpy(dense2.W.T.copy()))
        net[9].bias.copy_(torch.from_numpy(dense2.b))
    return net


def torch_steps(X, y, seed=0):
    """step(idx): one PyTorch training step of the same network, from the same weights."""
    import torch
    model = build_model("dense", X.shape[1:], 10, 0.0, rng=seed)
    net = torch_model(model)
    X_t = torch.from_numpy(np.ascontiguousarray(X.transpose(0, 3, 1, 2)))
    y_t = torch.from_numpy(y.astype(np.int64))
    logits = net(X_t[:64]).detach().numpy()
    assert np.allclose(logits, model.forward(X[:64]), atol=1e-4), "PyTorch copy disagrees with nnlite"
    optimizer, loss_fn = torch.optim.Adam(net.parameters(), lr=LR, eps=1e-7), torch.nn.CrossEntropyLoss()

    def step(idx):
        i = torch.from_numpy(idx)
        optimizer.zero_grad()
        loss = loss_fn(net(X_t[i]), y_t[i])
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def interleaved_epoch(engines, n, block, clock, seed=0):
    """Seconds per engine for one epoch of ``n`` images: every engine trains on the same
    minibatches, the engines taking turns every ``block`` minibatches. Each engine first takes
    one untimed step on the first minibatch (numba compiling or loading its kernels, PyTorch's
    first allocations): one-time costs, not an epoch's."""
    batches, seconds = minibatches(n, BATCH, np.random.default_rng(seed)), dict.fromkeys(engines, 0.0)
    for step in engines.values():
        step(batches[0])
    for start in range(0, len(batches), block):
        for name, step in engines.items():
            seconds[name] += _common.timed(lambda: [step(idx) for idx in batches[start:start + block]], clock)[0]
    return seconds


def sparse_layer_times(repeats, clock, rng=0):
    """(dense_s, csr_s, dense_forward_s, csr_forward_s) for the 95%-sparse 1024x1024 layer at batch 256."""
    csr = DynamicLinear(1024, 1024, 0.95, activation=None, storage="csr", rng=rng)
    dense = DynamicLinear(1024, 1024, 0.95, activation=None, storage="dense", rng=rng)
    X = np.random.default_rng(1).standard_normal((256, 1024)).astype(np.float32)
    dA = np.random.default_rng(2).standard_normal((256, 1024)).astype(np.float32)

    def step(layer):
        _, cache = layer.forward(X, check=False)  # as in training: Sequential.forward checks X once
        layer.backward(dA, cache)
    times = [best_time(lambda: step(layer), repeats, clock) for layer in (dense, csr)]
    times += [best_time(lambda: layer.forward(X, check=False), repeats, clock) for layer in (dense, csr)]
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=_common.default_data_dir())
    parser.add_argument("--n-train", type=int, default=None,
                        help="time an epoch of this many images (default: all 60000)")
    parser.add_argument("--block", type=int, default=10, help="minibatches per turn of each engine")
    parser.add_argument("--engines", nargs="+", choices=["nnlite", "torch"], default=["nnlite", "torch"],
                        help="engines to time (default both; one alone shows whether the other's idle "
                             "threads slow it down)")
    parser.add_argument("--alone", type=non_negative_int, default=0, metavar="ROUNDS",
                        help="time each engine alone in a process of its own, the two taking turns for ROUNDS "
                             "rounds; epoch_ratio is the median of the rounds' ratios (the measurement for "
                             "--threads 2)")
    parser.add_argument("--no-sparse", action="store_true", help="skip the sparse layer's timing")
    _common.add_timing_arguments(parser, repeats=20, threads=1)
    args = _common.parse_timing_args(parser)
    mode = (f"each engine alone in its own process, {args.alone} rounds" if args.alone
            else f"engines interleaved every {args.block} minibatches")
    print(f"epoch of {args.n_train or 'all'} Fashion-MNIST images, batch {BATCH}, {mode}; {_common.conditions(args)} "
          f"(best of --repeats is for the sparse layer); BLAS kernels: {_common.blas_architecture()}", flush=True)
    result = {"threads": args.threads, "clock": args.clock}
    if args.alone:
        result |= alone_result(args)
        if result["epoch_ratio"] is not None:
            print(f"ratios {result['epoch_ratios']}; median {result['epoch_ratio']:.3f} (target <= 1.0), "
                  f"mean {result['epoch_ratio_mean']:.3f}, 95% t interval {result['epoch_ratio_ci95']}")
    else:
        result |= interleaved_result(args)
    with _common.blas_threads(args.threads):
        for backend in [] if args.no_sparse else [sparse.backend()] + [b for b in sparse.BACKENDS
                                                                         if b != sparse.backend()]:
            try:
                with sparse.use_backend(backend):
                    dense_s, csr_s, dense_fwd_s, csr_fwd_s = sparse_layer_times(args.repeats, args.clock)
            except ImportError:
                continue  # numba is not installed
            print(f"95%-sparse 1024x1024 layer, batch 256, forward+backward, {backend} CSR backend: "
                  f"dense {1e3 * dense_s:.2f} ms, CSR {1e3 * csr_s:.2f} ms, speedup {dense_s / csr_s:.2f} "
                  f"(target >= 5); forward only {dense_fwd_s / csr_fwd_s:.2f}")
            prefix = "sparse" if backend == sparse.backend() else f"sparse_{backend}"
            result.update({f"{prefix}_backend": backend, f"{prefix}_dense_ms": 1e3 * dense_s,
                           f"{prefix}_csr_ms": 1e3 * csr_s, f"{prefix}_speedup": dense_s / csr_s,
                           f"{prefix}_forward_speedup": dense_fwd_s / csr_fwd_s})
    _common.print_json_last({k: result.get(k) for k in ("epoch_ratio", "sparse_speedup")} | result)
    return 0


def alone_result(args):
    """The epoch keys of ``--alone``: each engine's median epoch and the rounds' ratios, each engine
    timed by this script (``--engines E --no-sparse``) in a process of its own."""
    rounds = _common.runs_alone(__file__, ("nnlite", "torch"), args.alone, lambda engine, line: (
        "PyTorch not installed" if line[f"{engine}_epoch_s"] is None else f"{line[f'{engine}_epoch_s']:.2f} s"),
                                extra=("--no-sparse",))
    seconds = {engine: [r[engine][f"{engine}_epoch_s"] for r in rounds] for engine in ("nnlite", "torch")}
    ratios = None if None in seconds["torch"] else [n / t for n, t in zip(seconds["nnlite"], seconds["torch"])]
    median, each, mean, interval = _common.ratio_summary(ratios)
    return {"n_train": rounds[0]["nnlite"]["n_train"], "nnlite_epoch_s": float(np.median(seconds["nnlite"])),
            "torch_epoch_s": None if ratios is None else float(np.median(seconds["torch"])),
            "epoch_ratio": median, "epoch_ratios": each, "epoch_ratio_mean": mean, "epoch_ratio_ci95": interval}


def interleaved_result(args):
    """The epoch keys of the default mode: both engines in this process, taking turns every ``--block``."""
    X, y = load_fashion_mnist("train", data_dir=args.data_dir)
    X, y = scale_255(X)[:args.n_train, :, :, None], y[:args.n_train]
    with _common.blas_threads(args.threads):
        engines = {"nnlite": nnlite_steps(X, y)} if "nnlite" in args.engines else {}
        try:
            if "torch" in args.engines:
                import torch
                torch.set_num_threads(args.threads)
                engines["torch"] = torch_steps(X, y)
        except ImportError:
            print("PyTorch is not installed: epoch_ratio not measured (pip install torch for the oracle)")
        seconds = interleaved_epoch(engines, len(X), args.block, args.clock)
    ratio = seconds["nnlite"] / seconds["torch"] if len(seconds) == 2 else None
    print("; ".join(f"{name} epoch: {s:.2f} s" for name, s in seconds.items())
          + ("" if ratio is None else f"; ratio {ratio:.3f} (target <= 1.0)"), flush=True)
    return {"n_train": len(X), "nnlite_epoch_s": seconds.get("nnlite"), "torch_epoch_s": seconds.get("torch"),
            "epoch_ratio": ratio}


if __name__ == "__main__":
    sys.exit(main())
