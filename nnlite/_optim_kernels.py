"""A compiled loop for Adam's update (the optional ``numba`` backend of ``nnlite.optim``).

NumPy runs Adam's update as about ten passes over each parameter (a
temporary or an in-place operation per arithmetic step), a large share of a
small network's training step (LeNet-300-100 at batch 60:
``benchmarks/train_mlp.py``). This loop makes one pass. It performs the
NumPy code's operations in its order, element by element, with no fused
multiply-add and no reassociation (compiled without fastmath;
``error_model="numpy"`` only drops the division-by-zero branch that kept
the loop from being vectorised), so it gives the same bits; the tests
compare the two. ``nnlite.optim.Adam`` uses it when the compiled backend is
on (``nnlite.sparse.backend() == "numba"``) and the arrays are contiguous
and of one dtype, and its NumPy code otherwise.

The caller passes the constants already cast to the parameter's dtype, as
NumPy casts a Python float in an operation with a float32 array.
"""
import numpy as np

from ._sparse_kernels import AVAILABLE, _compile


def _adam_update(w, dw, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2, lr_t, eps):
    """In place, for 1-d arrays: m = m beta1 + (1 - beta1) dw; v = v beta2 + ((1 - beta2) dw) dw;
    w = w - (lr_t m) / (sqrt(v) + eps)."""
    for i in range(w.size):
        g = dw[i]
        m[i] = m[i] * beta1 + one_minus_beta1 * g
        v[i] = v[i] * beta2 + one_minus_beta2 * g * g
        w[i] = w[i] - lr_t * m[i] / (np.sqrt(v[i]) + eps)


if AVAILABLE:
    adam_update = _compile(exact=True)(_adam_update)
