"""The one place where dense and CSR weights meet.

A weight is an ndarray or a ``scipy.sparse.csr_array``; the rest of the code
uses ``@`` through ``matmul`` and never densifies silently. A mask is a
boolean ndarray of the weight's shape.

The CSR products have two backends with the same results: ``"numpy"``
(SciPy's product, and a chunked gather for the weight gradient: the
reference) and ``"numba"`` (the compiled loops of ``nnlite._sparse_kernels``,
several times faster, used when numba is installed). ``set_backend`` or the
environment variable ``NNLITE_SPARSE_BACKEND`` chooses one. The same switch
turns on the compiled loops of ``nnlite.conv`` (max pooling and col2im,
``nnlite._conv_kernels``) and of Adam (``nnlite._optim_kernels``): one
choice for every compiled loop.

Memory the numba backend adds: the forward product of a CSR W keeps W's
transposed pattern and a copy of its pattern while W lives (with int32
indices, 12 bytes per stored weight and 4 per row and per column, beside
W's own 8 per stored float32 weight), so that it is built once per
topology; ``nbytes`` counts W alone.

Checks. A CSR array's structure is validated (``nnlite._checks.check_csr``:
index range, monotone ``indptr`` from 0 to nnz, matching lengths, dtypes)
before every kernel or SciPy call that indexes with it, whatever the caller:
a corrupt weight raises ValueError instead of crashing the process
(O(nnz), about 1% of a product). Shapes are checked before every product.
The products (``matmul``, ``pattern_matmul``, ``backward_products``) also
check their values (real, finite) unless called with ``check=False``, which
the model classes do after validating at their entry points. An empty batch
is accepted.
"""
import contextlib
import os
import weakref

import numpy as np
import scipy.sparse as sp

from nnlite import _sparse_kernels as kernels
from nnlite._checks import check_csr, check_float_array, check_mask, check_weight

_CHUNK = 1 << 18  # elements gathered at once by pattern_matmul (cache-sized: 3x faster than 1 << 22)
BACKENDS = ("numpy", "numba")
_backend = {}


def set_backend(name):
    """Use ``name`` ("numpy" or "numba") for the CSR products; None: back to the default."""
    if name is not None:
        _check_backend(name, "name")
    _backend.clear()
    if name is not None:
        _backend["name"] = name


@contextlib.contextmanager
def use_backend(name):
    """``with use_backend("numpy"): ...`` runs the block on that backend, then restores the previous one."""
    previous = _backend.get("name")
    set_backend(name)
    try:
        yield
    finally:  # restored as it was, unchecked
        _backend.clear()
        _backend.update({} if previous is None else {"name": previous})


def backend():
    """The CSR backend in use: ``set_backend``'s choice, else ``$NNLITE_SPARSE_BACKEND``,
    else "numba" when numba is installed, else "numpy"."""
    if "name" not in _backend:
        env = os.environ.get("NNLITE_SPARSE_BACKEND")
        _backend["name"] = _check_backend(env, "NNLITE_SPARSE_BACKEND") if env else \
            ("numba" if kernels.AVAILABLE else "numpy")
    return _backend["name"]


def _check_backend(name, argument):
    if name not in BACKENDS:
        raise ValueError(f"{argument}: expected one of {BACKENDS}, found {name!r}")
    if name == "numba" and not kernels.AVAILABLE:
        raise ImportError(f"{argument}: the 'numba' backend needs numba (pip install numba); "
                          f"use 'numpy' or install it")
    return name


def _c_contiguous(M, dtype):
    """M as a C-contiguous array of ``dtype`` (a tiled transpose when M is a transposed view)."""
    M = M.astype(dtype, copy=False)
    if M.flags.c_contiguous:
        return M
    if M.flags.f_contiguous:
        return kernels.transpose(M.T)
    return np.ascontiguousarray(M)


def is_sparse(W):
    return sp.issparse(W)


def to_csr(W, mask=None):
    """CSR copy of ``W`` storing the nonzeros (or exactly the ``mask`` positions).

    W : float32/float64 ndarray (or CSR/CSC array) of shape (d_in, d_out),
        finite (``nnlite._checks.check_weight``); float16 is refused (SciPy
        cannot store it sparse). Any shape is accepted (there is none to
        match), an empty one too (0 rows or columns: a layer of a compact
        module that keeps no unit), and an all-zero W gives a CSR array with
        no stored entries (a fully pruned layer).
    mask : None or a boolean ndarray of W's shape (``nnlite._checks.check_mask``).
    """
    if np.asarray(W).dtype == np.float16:   # SciPy stores no float16 sparse: the file would not load
        raise TypeError("W: expected float32 or float64 to store as CSR, found float16, which SciPy cannot hold "
                        "sparse; convert first with W.astype(np.float32)")
    W = check_weight(W, "W", allow_empty=True)   # a compact module's layer may keep no unit
    if is_sparse(W):
        W = W.toarray()
    keep = (W != 0) if mask is None else check_mask(mask, "mask", W.shape)
    rows, cols = np.nonzero(keep)
    # int32 indices when they fit, so the stored bytes are the ones nbytes(W, "csr") reports.
    index = np.int32 if max(len(rows), W.shape[1]) < 2**31 else np.int64
    indptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(index)
    return sp.csr_array((W[rows, cols], cols.astype(index), indptr), shape=W.shape)


def _check_dense_or_csr(W, name="W"):
    """A CSR/CSC ``W`` passes ``check_weight`` (structure, float, finite; empty allowed); a dense
    one must be a real numeric ndarray (its values are not looked at)."""
    if is_sparse(W):
        return check_weight(W, name, allow_empty=True)
    if not isinstance(W, np.ndarray) or not (np.issubdtype(W.dtype, np.number) or W.dtype == bool) \
            or np.iscomplexobj(W):
        raise TypeError(f"{name}: expected a real numeric ndarray or a scipy.sparse CSR array, found "
                        f"{type(W).__name__} {getattr(W, 'dtype', '')}")
    return W


def to_dense(W):
    """Dense ndarray copy of ``W`` (a CSR weight is checked first: structure and finite values)."""
    W = _check_dense_or_csr(W)
    return W.toarray() if is_sparse(W) else np.array(W)


def pattern_mask(W):
    """Boolean mask of W's stored positions (CSR) or nonzeros (dense)."""
    W = _check_dense_or_csr(W)
    if is_sparse(W):
        mask = np.zeros(W.shape, dtype=bool)
        rows, cols = stored_positions(W)
        mask[rows, cols] = True
        return mask
    return W != 0


def stored_positions(W):
    """(rows, cols) of the stored entries of a CSR weight, in ``W.data`` order."""
    check_csr(W, "W", ("csr",))
    rows = np.repeat(np.arange(W.shape[0]), np.diff(W.indptr))
    return rows, W.indices


def mask_values(mask, W):
    """Mask entries at W's stored positions (same order as ``W.data``); ``mask`` a boolean
    array of W's shape (checked in O(1), W's structure in O(nnz))."""
    rows, cols = stored_positions(W)
    return check_mask(mask, "mask", W.shape)[rows, cols]


def _check_operands(X, x_name, W, w_name, check, formats=("csr", "csc")):
    """Validate a product's operands before any kernel runs; returns X as an array.

    check=True: X a finite, real 2-d array (possibly 0 rows) and W a finite weight
    (``check_weight``). check=False (callers that validated at their entry
    point): only what a kernel needs not to crash or read out of bounds, W's
    CSR structure (O(nnz), about 1% of a product) and the shapes (O(1)).
    """
    if check:
        X = check_float_array(X, x_name, allow_empty=True)  # an empty batch has a well-defined product
        check_weight(W, w_name)
    if is_sparse(W):
        if not check or W.format not in formats:
            check_csr(W, w_name, formats)
    if np.ndim(X) != 2 or X.shape[1] != W.shape[0]:
        raise ValueError(f"{x_name}: expected a 2-d array with {W.shape[0]} columns to match {w_name} of shape "
                         f"{W.shape}, found shape {np.shape(X)}")
    return X


_patterns_t = {}  # id(W) -> (weak reference to W, its indptr, its indices, the pattern of W.T)


def _transposed_pattern(W):
    """``kernels.transpose_pattern`` of a CSR W, computed once per pattern: kept while W lives,
    and reused while W's indptr and indices equal the kept copies (checked every call, O(nnz):
    a pattern changed in place, or a new W at a dead one's address, is never served stale)."""
    kept = _patterns_t.get(id(W))
    if kept is None or kept[0]() is not W or not (np.array_equal(kept[1], W.indptr)
                                                   and np.array_equal(kept[2], W.indices)):
        forget = weakref.ref(W, lambda _, key=id(W): _patterns_t.pop(key, None))
        kept = (forget, W.indptr.copy(), W.indices.copy(),
                kernels.transpose_pattern(W.indptr, W.indices, W.shape[1]))
        _patterns_t[id(W)] = kept
    return kept[3]


def batch_last(X):
    """X laid out for the CSR kernels: with the numba backend, an F-ordered copy (X.T C-contiguous),
    so that the forward product and the backward one read X.T without copying it each time;
    otherwise X itself. Same values and shape as X."""
    if backend() != "numba" or X.flags.f_contiguous:
        return X
    return kernels.transpose(X).T


def matmul(X, W, check=True):
    """X @ W for dense X (n, d_in) and dense or CSR W (d_in, d_out) (the result is dense).

    ``check=False`` skips the value checks (finite, real) for callers that
    made them at their entry point; shapes and CSR structure are always checked.
    """
    X = _check_operands(X, "X", W, "W", check)
    if not is_sparse(W):
        return X @ W
    if backend() == "numba":
        dtype = np.result_type(X, W)
        XT, data = _c_contiguous(X.T, dtype), W.data.astype(dtype, copy=False)
        # (X @ W).T = W.T @ X.T, row by row over W.T: a CSC W holds W.T's CSR arrays,
        # a CSR W needs its transposed pattern
        indptr_t, indices_t, order = (W.indptr, W.indices, None) if W.format == "csc" else _transposed_pattern(W)
        return kernels.gather_rows(indptr_t, indices_t, data, XT, order).T
    # (W.T @ X.T).T keeps the sparse operand on the left, scipy's fast path.
    return np.asarray(W.T @ X.T).T


def pattern_matmul(A, B, pattern, check=True):
    """(A @ B) evaluated only at the stored positions of CSR ``pattern``.

    A (d_in, n), B (n, d_out), pattern (d_in, d_out). Returns a CSR array with
    ``pattern``'s structure; costs O(nnz * n), never forms the dense product.
    ``check`` as in ``matmul`` (pattern's values are not used, only its structure).
    """
    if check:
        A, B = check_float_array(A, "A", allow_empty=True), check_float_array(B, "B", allow_empty=True)
    check_csr(pattern, "pattern", ("csr",))
    if np.ndim(A) != 2 or np.ndim(B) != 2 or A.shape[1] != B.shape[0] or (A.shape[0], B.shape[1]) != pattern.shape:
        raise ValueError(f"A, B: expected shapes ({pattern.shape[0]}, n) and (n, {pattern.shape[1]}) to match "
                         f"pattern of shape {pattern.shape}, found {np.shape(A)} and {np.shape(B)}")
    dtype = np.result_type(A, B)
    if backend() == "numba":
        data = kernels.sampled_dot(pattern.indptr, pattern.indices, _c_contiguous(A, dtype),
                                   _c_contiguous(B.T, dtype))
    else:
        rows, cols = stored_positions(pattern)
        AT, BT = np.ascontiguousarray(A), np.ascontiguousarray(B.T)
        data = np.empty(len(rows), dtype=dtype)
        step = max(1, _CHUNK // max(1, A.shape[1]))
        for s in range(0, len(rows), step):
            data[s:s + step] = np.einsum("kn,kn->k", AT[rows[s:s + step]], BT[cols[s:s + step]])
    return sp.csr_array((data, pattern.indices.copy(), pattern.indptr.copy()), shape=pattern.shape)


def backward_products(dZ, X, W, need_dX=True, check=True):
    """(dZ @ W.T, X.T @ dZ on W's pattern) for a CSR W (d_in, d_out): a dense layer's dX and dW.

    dZ (n, d_out), X (n, d_in). The same as ``matmul(dZ, W.T)`` and
    ``pattern_matmul(X.T, dZ, W)``; the numba backend computes both in one
    pass. dX is None if ``need_dX`` is False. ``check`` as in ``matmul``.
    """
    X = _check_operands(X, "X", W, "W", check, formats=("csr",))
    dZ = check_float_array(dZ, "dZ", allow_empty=True) if check else dZ
    if np.ndim(dZ) != 2 or dZ.shape != (X.shape[0], W.shape[1]):
        raise ValueError(f"dZ: expected shape ({X.shape[0]}, {W.shape[1]}) to match X {X.shape} and "
                         f"W {W.shape}, found {np.shape(dZ)}")
    if backend() != "numba" or not need_dX:
        return (matmul(dZ, W.T, check=False) if need_dX else None), pattern_matmul(X.T, dZ, W, check=False)
    dtype = np.result_type(X, dZ, W)
    dXT, data = kernels.gather_rows_and_sampled_dot(W.indptr, W.indices, W.data.astype(dtype, copy=False),
                                                    _c_contiguous(X.T, dtype), _c_contiguous(dZ.T, dtype))
    return dXT.T, sp.csr_array((data, W.indices.copy(), W.indptr.copy()), shape=W.shape)


def nbytes(W, fmt=None):
    """Bytes to store ``W`` as it is (fmt=None), as dense ("dense") or CSR ("csr").

    CSR bytes = data + indices + indptr (int32 indices when they fit).
    """
    if not (is_sparse(W) or isinstance(W, np.ndarray)):
        raise TypeError(f"W: expected an ndarray or a scipy.sparse CSR array, found {type(W).__name__}")
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
