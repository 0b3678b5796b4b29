"""CSR against dense ``W @ X`` for a 1024 x 1024 float32 layer and a batch of 256.

For each density (fraction of nonzero weights) the script builds a random
1024 x 1024 float32 weight with exactly that many nonzeros (standard normal
values at uniformly drawn positions), stores it dense and as CSR
(``nnlite.sparse.to_csr``), and times ``W @ X`` for X of shape (1024, 256)
(features x batch, the sparse operand on the left: scipy's fast path) as the
best of ``--repeats`` rounds of ``--number`` products. Both results are
checked to agree before timing.

Reported per density: speedup = dense time / CSR time, and the bytes to store
the weight as CSR (data + indices + indptr, ``nnlite.sparse.nbytes``) and
dense. Target: speedup >= 10 at density 0.01.

Threads: scipy's CSR product is single-threaded, so by default the dense
product gets one BLAS thread too: the comparison is between storage formats
on equal hardware. ``--threads 2`` gives the dense product two BLAS threads
(the CSR product still uses one).

Usage::

    python benchmarks/sparse_matmul.py [--threads N] [--repeats R] [--number K] [--clock wall|cpu]

Last line: ``{"density_0.5": {"speedup": .., "csr_bytes": .., "dense_bytes": ..}, ..., "density_0.01": {...}}``
"""
import argparse
import sys
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

from nnlite import sparse  # noqa: E402

N_OUT, N_IN, BATCH = 1024, 1024, 256
DENSITIES = (0.5, 0.2, 0.1, 0.05, 0.01)


def random_weight(density, rng):
    """Dense float32 (N_OUT, N_IN) with exactly round(density * size) nonzeros."""
    n_nonzero = int(round(density * N_OUT * N_IN))
    W = np.zeros(N_OUT * N_IN, dtype=np.float32)
    W[rng.permutation(W.size)[:n_nonzero]] = rng.standard_normal(n_nonzero, dtype=np.float32)
    return W.reshape(N_OUT, N_IN)


def best_seconds(product, args):
    """Best time of one call of ``product()`` over ``args.repeats`` rounds of ``args.number`` calls."""
    rounds = timeit.repeat(product, number=args.number, repeat=args.repeats, timer=_common.CLOCKS[args.clock])
    return min(rounds) / args.number


def benchmark_density(density, X, rng, args):
    W_dense = random_weight(density, rng)
    W_csr = sparse.to_csr(W_dense)
    np.testing.assert_allclose(W_csr @ X, W_dense @ X, rtol=1e-4, atol=1e-3)
    dense_s = best_seconds(lambda: W_dense @ X, args)
    csr_s = best_seconds(lambda: W_csr @ X, args)
    entry = {"speedup": round(dense_s / csr_s, 2),
             "csr_bytes": sparse.nbytes(W_csr), "dense_bytes": sparse.nbytes(W_dense, "dense")}
    print(f"density {density:<5}: dense {dense_s * 1e3:7.3f} ms, CSR {csr_s * 1e3:7.3f} ms, "
          f"speedup {entry['speedup']:6.2f}x, bytes CSR {entry['csr_bytes']:>8} / dense {entry['dense_bytes']}",
          flush=True)
    return entry


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _common.add_timing_arguments(parser, repeats=7, threads=1)
    parser.add_argument("--number", type=int, default=20, help="products per timing round")
    parser.add_argument("--seed", type=int, default=0)
    args = _common.parse_timing_args(parser)
    rng = np.random.default_rng(args.seed)
    X = rng.standard_normal((N_IN, BATCH), dtype=np.float32)
    print(f"W @ X, W {N_OUT}x{N_IN} float32, X {N_IN}x{BATCH}, {args.number} products per round; "
          f"{_common.conditions(args)}", flush=True)
    with _common.blas_threads(args.threads):
        results = {f"density_{d}": benchmark_density(d, X, rng, args) for d in DENSITIES}
    print(f"load average at the end: {_common.load_average()}", flush=True)
    _common.print_json_last(results)


if __name__ == "__main__":
    main()
