"""Forward/backward function pairs on arrays (notation in ``nnlite.__init__``).

Each backward sits under its forward and takes what it needs from the caller;
nothing is cached. A weight ``W`` may be a dense ndarray or a
``scipy.sparse.csr_array``; the weight gradient of a CSR weight is computed
only on its stored pattern (see ``nnlite.sparse.pattern_matmul``).

Checks: ``dense_forward`` and ``dense_backward`` validate their arrays
(dtype, shape, finite values, CSR structure) unless called with
``check=False``, which the model classes do after validating at their entry
points (``Sequential.forward``, model construction); shapes and CSR
structure are checked before every compiled kernel whatever ``check`` says.
An empty batch (0 rows) is accepted: its products are well-defined.
"""
import numpy as np

from . import sparse
from ._checks import check_bias, check_float_array, check_labels, check_same_rows, check_weight


def _check_any_ndim(Z, name):
    return check_float_array(Z, name, ndim=max(1, np.ndim(Z)), allow_empty=True)


def relu_forward(Z, check=True):
    """A = max(Z, 0)."""
    return np.maximum(_check_any_ndim(Z, "Z") if check else Z, 0)


def relu_backward(dA, Z, check=True):
    """dZ = dA * 1[Z > 0] (the subgradient at 0 is taken as 0)."""
    if check:
        dA, Z = _check_any_ndim(dA, "dA"), _check_any_ndim(Z, "Z")
        if dA.shape != Z.shape:
            raise ValueError(f"dA: expected the shape of Z {Z.shape}, found {dA.shape}")
    return dA * (Z > 0)


def dense_forward(X, W, b, check=True):
    """Z = X @ W + b for X (n, d_in), W (d_in, d_out) dense or CSR, b (d_out,) (or a scalar)."""
    if check:
        X = check_float_array(X, "X", allow_empty=True)  # an empty batch is well-defined
        check_weight(W, "W")
        b = check_bias(b, "b", W.shape[1], allow_scalar=True)
    Z = sparse.matmul(X, W, check=False)  # a new array: add b in place unless b widens the dtype
    return _add_bias_inplace(Z, b) if np.result_type(Z, b) == Z.dtype else Z + b


#: Values per row for ``_add_bias_inplace``: a narrower Z is added to as rows of about this length.
BIAS_ROW = 256


def _add_bias_inplace(Z, b):
    """Z += b for Z (n, d) and b (d,) or a scalar; returns Z.

    NumPy's broadcast add loops over d values per row, slow for narrow layers (d = 16: the DSR CNN's
    first convolution, 100,352 rows per minibatch). A contiguous Z with d < ``BIAS_ROW`` is added to
    as rows of k = BIAS_ROW // d of its rows against b repeated k times: the same additions, the same
    bits, 2.7x faster for d = 16. The n % k rows that do not fill such a row are added as they are.
    """
    k = max(1, BIAS_ROW // Z.shape[1]) if Z.ndim == 2 and Z.shape[1] else 1
    bulk = len(Z) - len(Z) % k
    if k < 2 or np.shape(b) != Z.shape[1:] or not Z.flags.c_contiguous or not bulk:
        return np.add(Z, b, out=Z)
    wide = Z[:bulk].reshape(-1, k * Z.shape[1])    # a view (Z is contiguous): written in place
    np.add(wide, np.tile(b, k), out=wide)
    np.add(Z[bulk:], b, out=Z[bulk:])
    return Z


def dense_backward(dZ, X, W, need_dX=True, check=True):
    """Return (dX, dW, db) for Z = X @ W + b.

    dX = dZ @ W.T, dW = X.T @ dZ (only on W's stored pattern if W is CSR),
    db = sum over samples of dZ. With ``need_dX=False`` dX is None (the first
    layer's input needs no gradient, and dX is its most expensive product).
    """
    if check:
        dZ, X = check_float_array(dZ, "dZ", allow_empty=True), check_float_array(X, "X", allow_empty=True)
        check_weight(W, "W")
        check_same_rows(X, "X", dZ, "dZ")
        if (X.shape[1], dZ.shape[1]) != W.shape:
            raise ValueError(f"X, dZ: expected {W.shape[0]} and {W.shape[1]} columns to match W of shape "
                             f"{W.shape}, found shapes {X.shape} and {dZ.shape}")
    if sparse.is_sparse(W):
        dX, dW = sparse.backward_products(dZ, X, W, need_dX, check=False)
    else:
        dX, dW = (dZ @ W.T if need_dX else None), X.T @ dZ
    return dX, dW, dZ.sum(axis=0)


def log_softmax(Z, check=True):
    """Row-wise log softmax, stable for any finite logits (max subtracted)."""
    Z = check_float_array(Z, "Z", allow_empty=True) if check else Z
    shifted = Z - Z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(Z, check=True):
    """Row-wise softmax P = exp(Z) / sum exp(Z), stable for any finite logits."""
    Z = check_float_array(Z, "Z", allow_empty=True) if check else Z
    shifted = np.exp(Z - Z.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _check_logits_and_labels(Z, y):
    Z = check_float_array(Z, "Z")
    return Z, check_labels(y, "y", len(Z), Z.shape[1])


def softmax_cross_entropy_forward(Z, y, check=True):
    """L = mean_n(-log softmax(Z)[n, y_n]) for logits Z (n, k) and labels y (n,)."""
    if check:
        Z, y = _check_logits_and_labels(Z, y)
    return float(-log_softmax(Z, check=False)[np.arange(len(y)), y].mean())


def softmax_cross_entropy_backward(Z, y, check=True):
    """dZ = (softmax(Z) - onehot(y)) / n, the gradient of the mean loss."""
    if check:
        Z, y = _check_logits_and_labels(Z, y)
    dZ = softmax(Z, check=False)
    dZ[np.arange(len(y)), y] -= 1
    return dZ / len(y)
