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

Every product is a *gather*: an output row is the sum of the input rows its
stored weights select, so each output row is written by one loop and read
from cache. The forward product X @ W of a CSR W gathers along the columns
of W; it runs on W's transposed pattern (``transpose_pattern``, a counting
sort that ``nnlite.sparse`` redoes only when the pattern changes) and reads
W's values through the permutation, in place of a scatter (each stored
weight adding into a random output row). Timings before and after:
``benchmarks/cnn.py`` and ``benchmarks/README.md``.

Same bits on any core count: every output element is computed by one thread,
in an order fixed by the code, never by the number of threads (the loops run
in parallel over output rows). The vectorised sums may still differ from
NumPy's in the last bits.
"""
import numpy as np

try:
    import numba
except ImportError:  # the NumPy backend is used instead
    numba = None

AVAILABLE = numba is not None
_TILE = 16  # transpose block: 16 x 16, each column of the block written as one contiguous run


def _compile(parallel=False, exact=False):
    # reassociation (vectorised sums) and fused multiply-adds, but NaN and inf keep their meaning;
    # exact: neither (every operation rounded as NumPy rounds it), and no division-by-zero branch
    if exact:
        return numba.njit(cache=True, nogil=True, error_model="numpy")
    return numba.njit(fastmath={"reassoc", "contract"}, parallel=parallel, cache=True, nogil=True)


def _transpose(A):
    """A C-contiguous copy of A.T, written in _TILE x _TILE blocks (constant trip counts
    let the compiler unroll them), then the ragged edges."""
    n_rows, n_cols = A.shape
    out = np.empty((n_cols, n_rows), dtype=A.dtype)
    full_rows, full_cols = n_rows - n_rows % _TILE, n_cols - n_cols % _TILE
    for i0 in range(0, full_rows, _TILE):
        for j0 in range(0, full_cols, _TILE):
            for j in range(_TILE):
                for i in range(_TILE):
                    out[j0 + j, i0 + i] = A[i0 + i, j0 + j]
    for i in range(n_rows):  # the edges outside the full blocks
        for j in range(full_cols if i < full_rows else 0, n_cols):
            out[j, i] = A[i, j]
    return out


def _transpose_pattern(indptr, indices, n_cols):
    """The CSR pattern of W.T for a CSR W with ``n_cols`` columns: ``(indptr_t, indices_t, order)``,
    where entry q of W.T is entry ``order[q]`` of W (its value is ``data[order[q]]``).

    A counting sort by column, O(nnz + n_cols): within a column the rows stay
    in increasing order, so a sum over W.T's row j adds W's rows k in the
    same order as the row-by-row loop over W would.
    """
    n_rows, nnz = len(indptr) - 1, len(indices)
    indptr_t = np.zeros(n_cols + 1, dtype=indptr.dtype)
    for p in range(nnz):  # entries per column ...
        indptr_t[indices[p] + 1] += 1
    for j in range(n_cols):  # ... summed into where each column starts
        indptr_t[j + 1] += indptr_t[j]
    next_slot = indptr_t[:-1].copy()
    indices_t, order = np.empty(nnz, dtype=indices.dtype), np.empty(nnz, dtype=indices.dtype)
    for k in range(n_rows):
        for p in range(indptr[k], indptr[k + 1]):
            q = next_slot[indices[p]]
            indices_t[q], order[q] = k, p
            next_slot[indices[p]] = q + 1
    return indptr_t, indices_t, order


def _value(data, order, p):
    """The value of stored entry p: ``data[p]``, or ``data[order[p]]`` for a transposed pattern."""
    return data[p] if order is None else data[order[p]]


def _gather_rows(indptr, indices, data, BT, order):
    """CT = W @ BT for CSR W (n_rows, d): CT[k] = sum over stored (k, j) of W[k, j] * BT[j].

    ``order`` is None, or the ``order`` of ``transpose_pattern`` when
    (indptr, indices) is the transposed pattern of the matrix whose values are
    ``data``. Rows k are independent: parallel over them. Four stored
    entries are added per pass over CT[k] (one load and store of CT[k, b] for
    four products instead of one each), then the rest one by one.
    """
    n_rows, n = len(indptr) - 1, BT.shape[1]
    CT = np.zeros((n_rows, n), dtype=BT.dtype)
    for k in numba.prange(n_rows):
        c, end = CT[k], indptr[k + 1]
        for p in range(indptr[k], end - 3, 4):
            w0, w1 = _value(data, order, p), _value(data, order, p + 1)
            w2, w3 = _value(data, order, p + 2), _value(data, order, p + 3)
            b0, b1, b2, b3 = BT[indices[p]], BT[indices[p + 1]], BT[indices[p + 2]], BT[indices[p + 3]]
            for b in range(n):
                c[b] += w0 * b0[b] + w1 * b1[b] + w2 * b2[b] + w3 * b3[b]
        for p in range(end - (end - indptr[k]) % 4, end):
            w, b_j = _value(data, order, p), BT[indices[p]]
            for b in range(n):
                c[b] += w * b_j[b]
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
    """``gather_rows(indptr, indices, data, BT, None)`` and ``sampled_dot(indptr, indices, AT, BT)``
    in one pass, reading each row BT[j] once for both (a dense layer's dX and dW);
    four stored entries at a time, as in ``gather_rows``."""
    n_rows, n = len(indptr) - 1, BT.shape[1]
    CT = np.zeros((n_rows, n), dtype=BT.dtype)
    out = np.zeros(len(indices), dtype=BT.dtype)
    for k in numba.prange(n_rows):
        a, c, end = AT[k], CT[k], indptr[k + 1]
        for p in range(indptr[k], end - 3, 4):
            w0, w1, w2, w3 = data[p], data[p + 1], data[p + 2], data[p + 3]
            b0, b1, b2, b3 = BT[indices[p]], BT[indices[p + 1]], BT[indices[p + 2]], BT[indices[p + 3]]
            t0, t1, t2, t3 = out[p], out[p + 1], out[p + 2], out[p + 3]
            for b in range(n):
                c[b] += w0 * b0[b] + w1 * b1[b] + w2 * b2[b] + w3 * b3[b]
                t0 += a[b] * b0[b]
                t1 += a[b] * b1[b]
                t2 += a[b] * b2[b]
                t3 += a[b] * b3[b]
            out[p], out[p + 1], out[p + 2], out[p + 3] = t0, t1, t2, t3
        for p in range(end - (end - indptr[k]) % 4, end):
            w, b_j, total = data[p], BT[indices[p]], out[p]
            for b in range(n):
                c[b] += w * b_j[b]
                total += a[b] * b_j[b]
            out[p] = total
    return CT, out


if AVAILABLE:
    transpose = _compile()(_transpose)
    transpose_pattern = _compile()(_transpose_pattern)
    _value = _compile()(_value)
    gather_rows = _compile(parallel=True)(_gather_rows)
    sampled_dot = _compile(parallel=True)(_sampled_dot)
    gather_rows_and_sampled_dot = _compile(parallel=True)(_gather_rows_and_sampled_dot)
