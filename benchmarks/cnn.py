"""The CNN of the DSR study: one training epoch against PyTorch, and a sparse layer.

1. One epoch of the experiment's CNN (``pruning.dsr.build_model("dense")``:
   conv3x3(16)+ReLU+maxpool2, conv3x3(32)+ReLU+maxpool2, dense 128+ReLU,
   dense 10) on the Fashion-MNIST training images (pixels / 255, float32),
   batch 128, Adam lr 1e-3. Timed per minibatch, identically for both
   engines: the gather ``X[idx], y[idx]``, forward, loss, backward, one Adam
   step and reading the loss back as a float; the permutation too. Not timed:
   loading, building, evaluation. PyTorch starts from a copy of nnlite's
   initial weights (kernels permuted from NHWC/(kh*kw*c_in, c_out) to
   NCHW/(c_out, c_in, kh, kw)), and the script first checks that both give
   the same logits. Both engines are pinned to the same thread count.
   PyTorch is an optional oracle: without it ``epoch_ratio`` is null.
2. Forward + backward (dX, dW on the stored pattern, db) of a 95%-sparse
   1024x1024 ``DynamicLinear`` stored as CSR, at batch 256, against the same
   layer stored dense (best of ``--repeats``); the forward alone is reported
   too. ``sparse_speedup`` is measured on the default CSR backend
   (``nnlite.sparse.backend()``: numba's compiled loops when numba is
   installed); the NumPy/SciPy backend's speedup is printed beside it.

Usage::

    python benchmarks/cnn.py [--data-dir DIR] [--threads N] [--n-train N] [--repeats R] [--clock cpu]

Last line: ``{"epoch_ratio": nnlite_s / torch_s, "sparse_speedup": dense_s / csr_s, ...}``
(targets: epoch_ratio <= 2.0, sparse_speedup >= 3).
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

from nnlite import sparse  # noqa: E402
from nnlite.data import load_fashion_mnist, scale_255  # noqa: E402
from nnlite.optim import Adam  # noqa: E402
from nnlite.train import minibatches, train_step_inplace  # noqa: E402
from pruning.dsr import build_model  # noqa: E402
from pruning.sparse_layers import DynamicLinear  # noqa: E402

BATCH, LR = 128, 1e-3


def best_time(run, repeats, clock):
    """Smallest time of ``repeats`` calls of ``run()`` on ``clock``."""
    return min(_common.timed(run, clock)[0] for _ in range(repeats))


def nnlite_epoch(X, y, clock, seed=0):
    model, rng = build_model("dense", X.shape[1:], 10, 0.0, rng=seed), np.random.default_rng(seed)
    optimizer = Adam(LR)
    seconds, _ = _common.timed(lambda: [train_step_inplace(model, optimizer, X[i], y[i])
                                        for i in minibatches(len(X), BATCH, rng)], clock)
    return seconds


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


def torch_epoch(X, y, clock, seed=0):
    import torch
    model = build_model("dense", X.shape[1:], 10, 0.0, rng=seed)
    net = torch_model(model)
    X_t = torch.from_numpy(np.ascontiguousarray(X.transpose(0, 3, 1, 2)))
    y_t = torch.from_numpy(y.astype(np.int64))
    logits = net(X_t[:64]).detach().numpy()
    assert np.allclose(logits, model.forward(X[:64]), atol=1e-4), "PyTorch copy disagrees with nnlite"
    optimizer = torch.optim.Adam(net.parameters(), lr=LR, eps=1e-7)
    loss_fn, rng = torch.nn.CrossEntropyLoss(), np.random.default_rng(seed)

    def epoch():
        for idx in minibatches(len(X), BATCH, rng):
            i = torch.from_numpy(idx)
            optimizer.zero_grad()
            loss = loss_fn(net(X_t[i]), y_t[i])
            loss.backward()
            optimizer.step()
            loss.item()
    seconds, _ = _common.timed(epoch, clock)
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
    _common.add_timing_arguments(parser, repeats=20, threads=1)
    args = _common.parse_timing_args(parser)
    X, y = load_fashion_mnist("train", data_dir=args.data_dir)
    X, y = scale_255(X)[:args.n_train, :, :, None], y[:args.n_train]
    print(f"epoch of {len(X)} Fashion-MNIST images, batch {BATCH}; {_common.conditions(args)} "
          f"(the epochs run once each)")
    result = {"threads": args.threads, "clock": args.clock, "n_train": len(X)}
    with _common.blas_threads(args.threads):
        result["nnlite_epoch_s"] = nnlite_epoch(X, y, args.clock)
        print(f"nnlite epoch: {result['nnlite_epoch_s']:.2f} s")
        try:
            import torch
            torch.set_num_threads(args.threads)
            result["torch_epoch_s"] = torch_epoch(X, y, args.clock)
            result["epoch_ratio"] = result["nnlite_epoch_s"] / result["torch_epoch_s"]
            print(f"PyTorch {torch.__version__} epoch: {result['torch_epoch_s']:.2f} s; "
                  f"ratio {result['epoch_ratio']:.2f} (target <= 2.0)")
        except ImportError:
            print("PyTorch is not installed: epoch_ratio not measured (pip install torch for the oracle)")
            result["torch_epoch_s"] = result["epoch_ratio"] = None
        for backend in [sparse.backend()] + [b for b in sparse.BACKENDS if b != sparse.backend()]:
            try:
                with sparse.use_backend(backend):
                    dense_s, csr_s, dense_fwd_s, csr_fwd_s = sparse_layer_times(args.repeats, args.clock)
            except ImportError:
                continue  # numba is not installed
            print(f"95%-sparse 1024x1024 layer, batch 256, forward+backward, {backend} CSR backend: "
                  f"dense {1e3 * dense_s:.2f} ms, CSR {1e3 * csr_s:.2f} ms, speedup {dense_s / csr_s:.2f} "
                  f"(target >= 3); forward only {dense_fwd_s / csr_fwd_s:.2f}")
            prefix = "sparse" if backend == sparse.backend() else f"sparse_{backend}"
            result.update({f"{prefix}_backend": backend, f"{prefix}_dense_ms": 1e3 * dense_s,
                           f"{prefix}_csr_ms": 1e3 * csr_s, f"{prefix}_speedup": dense_s / csr_s,
                           f"{prefix}_forward_speedup": dense_fwd_s / csr_fwd_s})
    _common.print_json_last({k: result[k] for k in ("epoch_ratio", "sparse_speedup")} | result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
