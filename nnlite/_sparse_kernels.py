"""Compiled loops for the CSR products (the optional ``numba`` backend of ``nnlite.sparse``).

NumPy and SciPy have no kernel for the CSR weight gradient (the dense
product sampled at the stored positions), and SciPy's CSR product is
single-threaded. These loops are the textbook algorithms, compiled by numba
when it is installed (``pip install numba``, or the ``fast`` extra);
``nnlite.sparse`` falls back to its NumPy/SciPy code without it, and the
tests check that both give the same numbers.

Layout: the kernels work on *transposed* activations, ``XT (d, n)`` with
the batch along the contiguous axis, so that every inner loop is a
contiguous, vectorisable loop over the batch. ``transpose`` makes that copy
in small blocks (several times faster than ``np.ascontiguousarray(X.T)``).
A CSR matrix is passed as its three arrays ``(indptr, indices, data)``;
the callers in ``nnlite.sparse`` have checked their structure and the shapes
(these loops index without bounds checks).

Same bits on any core count: every output element is computed by one thread,
in an order fixed by the code, never by the number of threads (the gathers
and sampled dots run in parallel over rows, the scatter over fixed blocks of
the batch). The vectorised sums may still differ from NumPy's in the last bits.
"""
import numpy as np

try:
    import numba
except ImportError:  # the NumPy backend is used instead
    numba = None

AVAILABLE = numba is not None
_TILE = 8  # transpose block: 8 x 8 (2x faster than 32 x 32 here, 7x faster than NumPy's copy)
_BATCH_BLOCK = 256  # batch columns per task of scatter_rows: fixed (results must not depend on the thread count);
# smaller blocks re-walk the CSR arrays more often (128: up to 13% slower at batch 256, one thread)


def _compile(parallel=False):
    # reassociation (vectorised sums) and fused multiply-adds, but NaN and inf keep their meaning
    return numba.njit(fastmath={"reassoc", "contract"}, parallel=parallel, cache=True, nogil=True)


def _transpose(A):
    """A C-contiguous copy of A.T, written in _TILE x _TILE blocks (constant trip counts
    let the compiler unroll them), then the ragged edges."""
    n_rows, n_cols = A.shape
    out = np.empty((n_cols, n_rows), dtype=A.dtype)
    full_rows, full_cols = n_rows - n_rows % _TILE, n_cols - n_cols % _TILE
    for i0 in range(0, full_rows, _TILE):
        for j0 in range(0, full_cols, _TILE):
            for i in range(_TILE):
                for j in range(_TILE):
                    out[j0 + j, i0 + i] = A[i0 + i, j0 + j]
    for i in range(n_rows):  # the edges outside the full blocks
        for j in range(full_cols if i < full_rows else 0, n_cols):
            out[j, i] = A[i, j]
    return out


def _scatter_rows(indptr, indices, data, XT, n_out):
    """YT = W.T @ XT for CSR W (d_in, n_out): YT[j] += W[k, j] * XT[k] over the stored (k, j).

    Two rows k may write the same output row j, so the work is split along
    the batch instead: fixed blocks of ``_BATCH_BLOCK`` columns of XT, in
    parallel. Every YT[j, b] is then summed by one thread, over k in
    increasing order, with the same instructions whatever the number of
    threads: the result does not depend on it (same seed, same bits on any
    core count).
    """
    n_rows, n = len(indptr) - 1, XT.shape[1]
    YT = np.zeros((n_out, n), dtype=XT.dtype)
    for block in numba.prange((n + _BATCH_BLOCK - 1) // _BATCH_BLOCK):
        b0 = block * _BATCH_BLOCK
        b1 = min(n, b0 + _BATCH_BLOCK)
        for k in range(n_rows):
            x_k = XT[k, b0:b1]
            for p in range(indptr[k], indptr[k + 1]):
                w, y_j = data[p], YT[indices[p], b0:b1]
                for b in range(b1 - b0):
                    y_j[b] += w * x_k[b]
    return YT


def _gather_rows(indptr, indices, data, BT):
    """CT = W @ BT for CSR W (n_rows, d): CT[k] = sum over stored (k, j) of W[k, j] * BT[j].

    Rows k are independent: parallel over them.
    """
    n_rows, n = len(indptr) - 1, BT.shape[1]
    CT = np.zeros((n_rows, n), dtype=BT.dtype)
    for k in numba.prange(n_rows):
        for p in range(indptr[k], indptr[k + 1]):
            w, j = data[p], indices[p]
            for b in range(n):
                CT[k, b] += w * BT[j, b]
    return CT


def _sampled_dot(indptr, indices, A, BT):
    """out[p] = A[k] . BT[j] for the stored (k, j) = (row of p, indices[p]): (A @ BT.T) on the pattern."""
    n = A.shape[1]
    out = np.zeros(len(indices), dtype=A.dtype)
    for k in numba.prange(len(indptr) - 1):
        for p in range(indptr[k], indptr[k + 1]):
            j, total = indices[p], out[p]
            for b in range(n):
                total += A[k, b] * BT[j, b]
            out[p] = total
    return out


def _gather_rows_and_sampled_dot(indptr, indices, data, AT, BT):
    """``gather_rows(indptr, indices, data, BT)`` and ``sampled_dot(indptr, indices, AT, BT)``
    in one pass, reading each row BT[j] once for both (a dense layer's dX and dW)."""
    n_rows, n = len(indptr) - 1, BT.shape[1]
    CT = np.zeros((n_rows, n), dtype=BT.dtype)
    out = np.zeros(len(indices), dtype=BT.dtype)
    for k in numba.prange(n_rows):
        for p in range(indptr[k], indptr[k + 1]):
            w, j, total = data[p], indices[p], out[p]
            for b in range(n):
                CT[k, b] += w * BT[j, b]
                total += AT[k, b] * BT[j, b]
            out[p] = total
    return CT, out


if AVAILABLE:
    transpose = _compile()(_transpose)
    scatter_rows = _compile(parallel=True)(_scatter_rows)
    gather_rows = _compile(parallel=True)(_gather_rows)
    sampled_dot = _compile(parallel=True)(_sampled_dot)
    gather_rows_and_sampled_dot = _compile(parallel=True)(_gather_rows_and_sampled_dot)
