"""LeNet-300-100 on MNIST: does it reach >= 98.0% test accuracy within 20 epochs?

LeNet-300-100 (784-300-100-10, ReLU, Glorot-uniform weights, zero biases)
trained with ``nnlite.fit`` and Adam (lr 1.2e-3) at batch 60 on the 60000
MNIST training images (pixels / 255). After every epoch the script prints the
accuracy on the 10000 test images. The test set only watches: it selects
nothing (no early stopping, no checkpoint choice).

Not run in CI (about a minute on a quiet 2-core machine, longer when busy).

Usage::

    python benchmarks/lenet_accuracy.py [--data-dir DIR] [--epochs 20] [--seed 0] [--threads N]

Last line: ``{"target": 0.98, "epochs": .., "first_epoch_at_target": .. or null,
"best_test_accuracy": .., "final_test_accuracy": .., "test_accuracy": [..]}``
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import nnlite  # noqa: E402
from nnlite.data import flatten, load_mnist, scale_255  # noqa: E402

TARGET = 0.98


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=_common.default_data_dir(),
                        help="folder holding mnist/ (default: $NNLITE_DATA, else ../shared/data)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=60)
    parser.add_argument("--lr", type=float, default=1.2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=None, help="use only the first N training images (smoke run)")
    parser.add_argument("--threads", type=int, default=_common.blas_thread_count(),
                        help="BLAS threads (default: NumPy's current count; 1 is faster on a busy machine)")
    args = parser.parse_args()
    with _common.blas_threads(args.threads):
        train_and_report(args)


def train_and_report(args):
    """Train for ``args.epochs`` epochs, printing the test accuracy after each."""

    X, y = load_mnist("train", data_dir=args.data_dir)
    X_test, y_test = load_mnist("test", data_dir=args.data_dir)
    X, y, X_test = flatten(scale_255(X[:args.n_train])), y[:args.n_train], flatten(scale_255(X_test))
    model = nnlite.MLP([784, 300, 100, 10], init="glorot_uniform", rng=args.seed)
    optimizer = nnlite.Adam(args.lr)
    rng = np.random.default_rng(args.seed)
    print(f"LeNet-300-100, Adam lr {args.lr}, batch {args.batch_size}, {args.epochs} epochs, seed {args.seed}, "
          f"{args.threads} BLAS thread(s)", flush=True)

    test_accuracy = []
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        # One fit call per epoch: the optimizer state and the rng carry over,
        # so this is the same run as a single fit(epochs=args.epochs).
        history = nnlite.fit(model, X, y, optimizer=optimizer, epochs=1, batch_size=args.batch_size,
                             rng=rng, progress=False)
        test_accuracy.append(model.score(X_test, y_test))
        print(f"epoch {epoch:2d}: train loss {history.loss[0]:.4f}, train acc {history.accuracy[0]:.4f}, "
              f"test acc {test_accuracy[-1]:.4f} ({time.perf_counter() - start:.1f} s)", flush=True)

    reached = [epoch for epoch, acc in enumerate(test_accuracy, start=1) if acc >= TARGET]
    _common.print_json_last({
        "target": TARGET, "epochs": args.epochs,
        "first_epoch_at_target": reached[0] if reached else None,
        "best_test_accuracy": max(test_accuracy), "final_test_accuracy": test_accuracy[-1],
        "test_accuracy": test_accuracy,
    })


if __name__ == "__main__":
    main()
