"""Forward/backward function pairs on arrays (notation in ``nnlite.__init__``).

Each backward sits under its forward and takes what it needs from the caller;
nothing is cached. A weight ``W`` may be a dense ndarray or a
``scipy.sparse.csr_array``; the weight gradient of a CSR weight is computed
only on its stored pattern (see ``nnlite.sparse.pattern_matmul``).
"""
import numpy as np

from . import sparse


def relu_forward(Z):
    """A = max(Z, 0)."""
    return np.maximum(Z, 0)


def relu_backward(dA, Z):
    """dZ = dA * 1[Z > 0] (the subgradient at 0 is taken as 0)."""
    return dA * (Z > 0)


def dense_forward(X, W, b):
    """Z = X @ W + b for X (n, d_in), W (d_in, d_out) dense or CSR, b (d_out,)."""
    return sparse.matmul(X, W) + b


def dense_backward(dZ, X, W, need_dX=True):
    """Return (dX, dW, db) for Z = X @ W + b.

    dX = dZ @ W.T, dW = X.T @ dZ (only on W's stored pattern if W is CSR),
    db = sum over samples of dZ. With ``need_dX=False`` dX is None (the first
    layer's input needs no gradient, and dX is its most expensive product).
    """
    if sparse.is_sparse(W):
        dX, dW = sparse.backward_products(dZ, X, W, need_dX)
    else:
        dX, dW = (dZ @ W.T if need_dX else None), X.T @ dZ
    return dX, dW, dZ.sum(axis=0)


def log_softmax(Z):
    """Row-wise log softmax, stable for any finite logits (max subtracted)."""
    shifted = Z - Z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(Z):
    """Row-wise softmax P = exp(Z) / sum exp(Z), stable for any finite logits."""
    shifted = np.exp(Z - Z.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def softmax_cross_entropy_forward(Z, y):
    """L = mean_n(-log softmax(Z)[n, y_n]) for logits Z (n, k) and labels y (n,)."""
    return float(-log_softmax(Z)[np.arange(len(y)), y].mean())


def softmax_cross_entropy_backward(Z, y):
    """dZ = (softmax(Z) - onehot(y)) / n, the gradient of the mean loss."""
    dZ = softmax(Z)
    dZ[np.arange(len(y)), y] -= 1
    return dZ / len(y)
