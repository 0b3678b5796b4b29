"""The speed-minded code paths give the same numbers as the plain formulas.

- ``dense_backward(..., need_dX=False)`` skips only dX (dense and CSR W);
  ``MLP.backward`` uses it for the first layer without changing any gradient.
- Adam's in-place update equals the textbook one-liner (Kingma & Ba 2015,
  Alg. 1 with the bias correction folded into lr_t) bit for bit, and its
  state arrays are created once and then updated in place.
- The bias is added on rows of at least 256 values when the layer is
  narrower (``nnlite.functional._add_bias_inplace``): the same additions, bit
  for bit, as NumPy's broadcast add, with the rows that do not fill a wide
  row added one by one.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnlite import MLP, Adam, SGD, sparse
from nnlite import functional as F
from tests.numerics import assert_reassociation_close
from tests.strategies import dense_layer_arrays, sparse_layer_arrays


@given(dense_layer_arrays())
def test_dense_backward_without_dX_keeps_dW_and_db(arrays):
    X, W, b = arrays[:3]
    dZ = F.dense_forward(X, W, b)
    _, dW, db = F.dense_backward(dZ, X, W)
    no_dX, dW_fast, db_fast = F.dense_backward(dZ, X, W, need_dX=False)
    assert no_dX is None
    # Exact: for a dense W both calls run the same BLAS product and the same NumPy sum on the same
    # arrays; need_dX only skips dX, so bit-identity is the claim.
    np.testing.assert_array_equal(dW_fast, dW)
    np.testing.assert_array_equal(db_fast, db)


@given(sparse_layer_arrays())
def test_csr_dense_backward_without_dX_keeps_pattern_gradient(arrays):
    X, W_csr = arrays[0], arrays[2]
    dZ = np.ones((X.shape[0], W_csr.shape[1]), dtype=X.dtype)
    _, dW, db = F.dense_backward(dZ, X, W_csr)
    no_dX, dW_fast, db_fast = F.dense_backward(dZ, X, W_csr, need_dX=False)
    assert no_dX is None and sparse.is_sparse(dW_fast)
    assert np.array_equal(dW_fast.indices, dW.indices) and np.array_equal(dW_fast.indptr, dW.indptr)
    # Not exact: with dX the numba backend computes dW in a fused kernel, without dX in the
    # pattern product, and the two may sum the n = X.shape[0] products of each entry in another
    # order (it happened: 12.000057113552415 vs ...417). Bound: reassociation over n terms.
    abs_terms = (np.abs(X).T @ np.abs(dZ)) * sparse.pattern_mask(W_csr)
    assert_reassociation_close(dW_fast.toarray(), dW.toarray(), abs_terms, X.shape[0])
    np.testing.assert_array_equal(db_fast, db)   # exact: the same NumPy sum of the same dZ in both calls


def test_mlp_backward_gradients_match_full_dense_backward():
    rng = np.random.default_rng(0)
    model = MLP([5, 4, 3], rng=0)
    X = rng.standard_normal((6, 5)).astype(np.float32)
    y = rng.integers(0, 3, 6)
    Zs, As = model.forward(X, return_all=True)
    dZ = F.softmax_cross_entropy_backward(Zs[-1], y)
    grads = model.backward(model.forward(X, return_caches=True)[1], dZ)
    # Reference: every layer's dense_backward with dX, as before the shortcut.
    dA, dW2, db2 = F.dense_backward(dZ, As[1], model.weights[1])
    _, dW1, db1 = F.dense_backward(F.relu_backward(dA, Zs[0]), As[0], model.weights[0])
    for got, expected in zip(grads, [dW1, db1, dW2, db2]):   # exact: dense W, the same BLAS and NumPy calls
        np.testing.assert_array_equal(got, expected)


def _textbook_adam(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    lr_t = lr * (1 - beta2**t) ** 0.5 / (1 - beta1**t)  # a Python float: no float64 promotion
    return w - (lr_t * m / (np.sqrt(v) + eps)).astype(w.dtype), m, v


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_inplace_update_equals_textbook_formula(dtype):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((7, 5)).astype(dtype)
    w_ref, m_ref, v_ref = w.copy(), np.zeros_like(w), np.zeros_like(w)
    optimizer = Adam(1e-2)
    for t in range(1, 4):
        dw = rng.standard_normal(w.shape).astype(dtype)
        optimizer.step_inplace([w], [dw])
        w_ref, m_ref, v_ref = _textbook_adam(w_ref, dw, m_ref, v_ref, t, lr=1e-2)
        assert w.dtype == dtype
        np.testing.assert_array_equal(w, w_ref)
        np.testing.assert_array_equal(optimizer.state[0]["m"], m_ref)
        np.testing.assert_array_equal(optimizer.state[0]["v"], v_ref)


@pytest.mark.parametrize("optimizer", [Adam(1e-2), SGD(1e-2, momentum=0.9)])
def test_optimizer_state_is_created_once_and_reused(optimizer):
    w = np.ones((3, 2), dtype=np.float32)
    optimizer.step_inplace([w], [np.ones_like(w)])
    arrays = [id(s) for s in optimizer.state[0].values()]
    optimizer.step_inplace([w], [np.ones_like(w)])
    assert [id(s) for s in optimizer.state[0].values()] == arrays


@given(st.integers(0, 70), st.integers(1, 300), st.sampled_from([np.float32, np.float64]), st.integers(0, 2**32 - 1))
def test_add_bias_inplace_gives_the_broadcast_adds_bits(n, d, dtype, seed):
    rng = np.random.default_rng(seed)
    Z = (rng.standard_normal((n, d)) * 10.0 ** rng.integers(-3, 4, (n, d))).astype(dtype)
    b = rng.standard_normal(d).astype(dtype)
    Z[rng.random((n, d)) < 0.05] = np.nan        # NaN and inf pass through as in NumPy's add
    b[rng.random(d) < 0.05] = np.inf
    expected = Z + b
    out = F._add_bias_inplace(Z, b)
    assert out is Z and Z.tobytes() == expected.tobytes()


def test_add_bias_inplace_leaves_a_strided_Z_to_numpy_and_broadcasts_a_scalar():
    Z = np.arange(64, dtype=np.float32).reshape(8, 8)[:, ::2]       # not contiguous: no reshape
    expected = Z + np.float32(1.5)
    F._add_bias_inplace(Z, np.float32(1.5))
    np.testing.assert_array_equal(Z, expected)
    Z = np.ones((300, 16), dtype=np.float32)
    F._add_bias_inplace(Z, np.arange(16, dtype=np.float32))
    np.testing.assert_array_equal(Z, np.ones((300, 16)) + np.arange(16))
