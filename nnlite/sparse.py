"""The one place where dense and CSR weights meet.

A weight is an ndarray or a ``scipy.sparse.csr_array``; the rest of the code
uses ``@`` through ``matmul`` and never densifies silently. A mask is a
boolean ndarray of the weight's shape.
"""
import numpy as np
import scipy.sparse as sp

_CHUNK = 1 << 18  # elements gathered at once by pattern_matmul (cache-sized: 3x faster than 1 << 22)


def is_sparse(W):
    return sp.issparse(W)


def to_csr(W, mask=None):
    """CSR copy of ``W`` storing the nonzeros (or exactly the ``mask`` positions)."""
    if is_sparse(W):
        W = W.toarray()
    keep = (W != 0) if mask is None else np.asarray(mask, dtype=bool)
    if keep.shape != W.shape:
        raise ValueError(f"mask: expected a boolean array of shape {W.shape}, found shape {keep.shape}")
    rows, cols = np.nonzero(keep)
    # int32 indices when they fit, so the stored bytes are the ones nbytes(W, "csr") reports.
    index = np.int32 if max(len(rows), W.shape[1]) < 2**31 else np.int64
    indptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(index)
    return sp.csr_array((W[rows, cols], cols.astype(index), indptr), shape=W.shape)


def to_dense(W):
    """Dense ndarray copy of ``W``."""
    return W.toarray() if is_sparse(W) else np.array(W)


def pattern_mask(W):
    """Boolean mask of W's stored positions (CSR) or nonzeros (dense)."""
    if is_sparse(W):
        mask = np.zeros(W.shape, dtype=bool)
        rows, cols = stored_positions(W)
        mask[rows, cols] = True
        return mask
    return W != 0


def stored_positions(W):
    """(rows, cols) of the stored entries of a CSR weight, in ``W.data`` order."""
    rows = np.repeat(np.arange(W.shape[0]), np.diff(W.indptr))
    return rows, W.indices


def mask_values(mask, W):
    """Mask entries at W's stored positions (same order as ``W.data``)."""
    return mask[stored_positions(W)]


def matmul(X, W):
    """X @ W for dense X and dense or CSR W (the result is dense)."""
    if is_sparse(W):
        # (W.T @ X.T).T keeps the sparse operand on the left, scipy's fast path.
        return np.asarray(W.T @ X.T).T
    return X @ W


def pattern_matmul(A, B, pattern):
    """(A @ B) evaluated only at the stored positions of CSR ``pattern``.

    A (d_in, n), B (n, d_out). Returns a CSR array with ``pattern``'s
    structure; costs O(nnz * n), never forms the dense product.
    """
    rows, cols = stored_positions(pattern)
    AT, BT = np.ascontiguousarray(A), np.ascontiguousarray(B.T)
    data = np.empty(len(rows), dtype=np.result_type(A, B))
    step = max(1, _CHUNK // max(1, A.shape[1]))
    for s in range(0, len(rows), step):
        data[s:s + step] = np.einsum("kn,kn->k", AT[rows[s:s + step]], BT[cols[s:s + step]])
    return sp.csr_array((data, pattern.indices.copy(), pattern.indptr.copy()), shape=pattern.shape)


def nbytes(W, fmt=None):
    """Bytes to store ``W`` as it is (fmt=None), as dense ("dense") or CSR ("csr").

    CSR bytes = data + indices + indptr (int32 indices when they fit).
    """
    if fmt is None and is_sparse(W):
        return W.data.nbytes + W.indices.nbytes + W.indptr.nbytes
    if fmt is None:
        fmt = "dense"
    if fmt == "dense":
        return int(np.prod(W.shape)) * W.dtype.itemsize
    if fmt != "csr":
        raise ValueError(f"fmt: expected None, 'dense' or 'csr', found {fmt!r}")
    nnz = W.nnz if is_sparse(W) else int(np.count_nonzero(W))
    index = 4 if max(nnz, W.shape[1]) < 2**31 else 8
    return nnz * (W.dtype.itemsize + index) + (W.shape[0] + 1) * index
