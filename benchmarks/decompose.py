"""Decomposition speed: TI-SNE and CM-RIE on the authors' MNIST-4 model, all ten modules each.

The authors' code takes 377-450 s and a peak of 1.26-1.34 GB for the ten
modules of one approach on MNIST-1 or MNIST-4 (2-vCPU machine; spec
``decomposition.md``), 81-87% of it in per-weight Python loops over the
positive examples. Ours does the same work (official fidelity, linear
propagation) with one activity pass per layer for all examples.

What is loaded: only the first 10,000 MNIST training images, the rows the
official fidelity scans for positives (and where its negatives, the first
110 of each class, lie), as uint8 and then scaled to float32 (pixels / 65025).
What is timed: both ``decompose`` calls (the positive filter's forward pass,
the activity pass, the mask bookkeeping, CM-RIE's edits).
``peak_mb`` is the peak resident memory of the whole process
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``), imports and data included.

Usage::

    python benchmarks/decompose.py [--data-dir DIR] [--models-dir DIR] [--repeats R]

Last line: ``{"seconds": .., "peak_mb": .., ...}`` (``seconds``: the best of
``--repeats`` runs of both approaches).
"""
import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

#: The spec's reference: the authors' code, ten modules of MNIST-1 or MNIST-4, one approach.
AUTHORS_SECONDS = (377, 450)
AUTHORS_PEAK_MB = (1260, 1340)
APPROACHES = ("TI-SNE", "CM-RIE")


def peak_rss_mb():
    """Peak resident memory of this process in MB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def load_first_training_images(n_images=10_000, data_dir=None):
    """The first ``n_images`` MNIST training images as float32 pixels / 65025, shape (n, 784), and labels."""
    from nnlite import data

    X, y = data.load_mnist("train", data_dir=data_dir)
    X = data.flatten(data.scale_65025(X[:n_images]))   # scale only the rows used
    return X, y[:n_images].copy()


def benchmark_decompose(model, X, y, approaches=APPROACHES, repeats=1, rng=0, fidelity="official"):
    """Time ``decompose`` for each approach (``fidelity``, linear propagation).

    Returns
    -------
    dict with ``seconds`` (best total over ``repeats``), ``per_approach``
    (seconds of each approach in the best round), ``n_modules`` and ``peak_mb``.
    """
    from decomposition import decompose

    best = None
    for _ in range(repeats):
        times = {}
        for approach in approaches:
            start = time.perf_counter()
            modules = decompose(model, X, y, approach, propagation="linear", fidelity=fidelity, rng=rng)
            times[approach] = time.perf_counter() - start
        if best is None or sum(times.values()) < sum(best.values()):
            best = times
    return {"seconds": round(sum(best.values()), 3), "per_approach": {k: round(v, 3) for k, v in best.items()},
            "n_modules": len(modules), "peak_mb": round(peak_rss_mb(), 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=_common.default_data_dir())
    parser.add_argument("--models-dir", default=None, help="default: $NNLITE_OFFICIAL_MODELS or ../shared")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    from decomposition.official_models import resolve_models_dir
    from nnlite import io

    model = io.load(resolve_models_dir(args.models_dir) / "mnist-4.npz")
    X, y = load_first_training_images(data_dir=args.data_dir)
    result = benchmark_decompose(model, X, y, repeats=args.repeats)
    per_approach = result["seconds"] / len(APPROACHES)
    print(f"ours: {' + '.join(APPROACHES)} on MNIST-4, 10 modules each: {result['seconds']:.2f} s "
          f"({result['per_approach']}), peak RSS {result['peak_mb']:.0f} MB "
          f"(best of {args.repeats}, wall clock, {_common.blas_thread_count()} BLAS thread(s), "
          f"load average {_common.load_average()})")
    print(f"reference (spec): the authors' code, one approach, 10 modules of MNIST-1/MNIST-4: "
          f"{AUTHORS_SECONDS[0]}-{AUTHORS_SECONDS[1]} s, peak {AUTHORS_PEAK_MB[0] / 1000:.2f}-"
          f"{AUTHORS_PEAK_MB[1] / 1000:.2f} GB")
    speedup = AUTHORS_SECONDS[0] / per_approach
    memory_ratio = AUTHORS_PEAK_MB[0] / result["peak_mb"]
    print(f"ratio: {speedup:.0f}x faster per approach (377 s / our {per_approach:.2f} s), "
          f"{memory_ratio:.1f}x less peak memory (1.26 GB / our whole process)")
    _common.print_json_last({**result, "speedup_vs_authors": round(speedup, 1),
                             "memory_ratio_vs_authors": round(memory_ratio, 2)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
