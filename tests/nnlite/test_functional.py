"""nnlite.functional: hand-computed examples, finite differences, properties."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnlite import functional as F
from nnlite import sparse
from strategies import dense_layer_arrays, float_matrices, logit_rows_with_labels, sparse_layer_arrays
from gradcheck import numerical_gradient

LN3 = np.log(3.0)


def snapshot(a):
    """Bytes of an ndarray or a CSR array's three arrays, for bit-exact comparisons."""
    if sparse.is_sparse(a):
        return (a.data.tobytes(), a.indices.tobytes(), a.indptr.tobytes(), a.shape)
    return (np.asarray(a).tobytes(), np.asarray(a).dtype, np.shape(a))


# -- hand-computed examples ---------------------------------------------------

def test_relu_forward_and_backward_by_hand():
    Z = np.array([[-1.0, 0.0, 2.0], [3.0, -0.5, 0.25]])
    assert np.array_equal(F.relu_forward(Z), [[0, 0, 2], [3, 0, 0.25]])
    dA = np.array([[5.0, 6.0, 7.0], [8.0, 9.0, 10.0]])
    # the subgradient at Z = 0 is 0
    assert np.array_equal(F.relu_backward(dA, Z), [[0, 0, 7], [8, 0, 10]])


def test_dense_forward_and_backward_by_hand():
    X = np.array([[1.0, 2.0]])
    W = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]])
    b = np.array([0.5, 0.0, -0.5])
    # Z = [1*1 + 2*2 + 0.5, 1*0 + 2*1 + 0, 1*-1 + 2*0 - 0.5]
    assert np.array_equal(F.dense_forward(X, W, b), [[5.5, 2.0, -1.5]])
    dX, dW, db = F.dense_backward(np.array([[1.0, -1.0, 2.0]]), X, W)
    assert np.array_equal(dX, [[-1.0, 1.0]])            # dZ @ W.T
    assert np.array_equal(dW, [[1, -1, 2], [2, -2, 4]])  # X.T @ dZ
    assert np.array_equal(db, [1, -1, 2])


def test_dense_forward_and_backward_by_hand_with_csr_weight():
    W = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]])
    W_csr = sparse.to_csr(W)  # stores 4 of the 6 entries: (0,0) (0,2) (1,0) (1,1)
    X = np.array([[1.0, 2.0]])
    assert np.array_equal(F.dense_forward(X, W_csr, np.zeros(3)), [[5.0, 2.0, -1.0]])
    dX, dW, db = F.dense_backward(np.array([[1.0, -1.0, 2.0]]), X, W_csr)
    assert np.array_equal(dX, [[-1.0, 1.0]])
    assert sparse.is_sparse(dW) and dW.nnz == 4
    assert np.array_equal(dW.toarray(), [[1, 0, 2], [2, -2, 0]])  # X.T @ dZ on the pattern only


def test_softmax_by_hand():
    P = F.softmax(np.array([[0.0, LN3], [1.0, 1.0], [1000.0, 1000.0 + LN3]]))
    np.testing.assert_allclose(P, [[0.25, 0.75], [0.5, 0.5], [0.25, 0.75]], rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(np.array([[0.0, LN3]])), [[np.log(0.25), np.log(0.75)]], rtol=1e-12)


def test_softmax_cross_entropy_by_hand():
    Z = np.array([[0.0, LN3], [0.0, LN3]])
    y = np.array([0, 1])
    # mean of -log 0.25 and -log 0.75
    assert F.softmax_cross_entropy_forward(Z, y) == pytest.approx((np.log(4) + np.log(4 / 3)) / 2, rel=1e-12)
    # (P - onehot) / n
    np.testing.assert_allclose(F.softmax_cross_entropy_backward(Z, y),
                               [[-0.375, 0.375], [0.125, -0.125]], rtol=1e-12)


# -- finite differences (float64) ----------------------------------------------

@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_dense_backward_matches_finite_differences(rng):
    X, W, b, G = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=5), rng.normal(size=(4, 5))
    loss = lambda: float(np.sum(G * F.dense_forward(X, W, b)))  # dL/dZ = G
    dX, dW, db = F.dense_backward(G, X, W)
    np.testing.assert_allclose(dX, numerical_gradient(loss, X), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dW, numerical_gradient(loss, W), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, numerical_gradient(loss, b), rtol=1e-6, atol=1e-8)


def test_relu_backward_matches_finite_differences(rng):
    Z = rng.normal(size=(4, 6))
    Z[np.abs(Z) < 1e-3] = 0.5  # keep away from the kink
    G = rng.normal(size=Z.shape)
    loss = lambda: float(np.sum(G * F.relu_forward(Z)))
    np.testing.assert_allclose(F.relu_backward(G, Z), numerical_gradient(loss, Z), rtol=1e-6, atol=1e-8)


def test_softmax_cross_entropy_backward_matches_finite_differences(rng):
    Z, y = rng.normal(scale=3, size=(5, 4)), rng.integers(0, 4, size=5)
    loss = lambda: F.softmax_cross_entropy_forward(Z, y)
    np.testing.assert_allclose(F.softmax_cross_entropy_backward(Z, y), numerical_gradient(loss, Z),
                               rtol=1e-6, atol=1e-9)


def test_csr_dense_backward_gives_finite_difference_gradient_on_the_stored_pattern_only(rng):
    X, G = rng.normal(size=(4, 5)), rng.normal(size=(4, 3))
    mask = rng.random((5, 3)) < 0.5
    W = rng.normal(size=(5, 3)) * mask
    W_csr = sparse.to_csr(W, mask)
    loss_csr = lambda: float(np.sum(G * F.dense_forward(X, W_csr, 0.0)))
    dX, dW, _ = F.dense_backward(G, X, W_csr)
    # dW is CSR with W's pattern; its values are the FD gradient w.r.t. the stored values
    assert sparse.is_sparse(dW)
    assert np.array_equal(dW.indices, W_csr.indices) and np.array_equal(dW.indptr, W_csr.indptr)
    np.testing.assert_allclose(dW.data, numerical_gradient(loss_csr, W_csr.data), rtol=1e-6, atol=1e-8)
    # ... which equal the FD gradient of the dense weight at those positions
    loss_dense = lambda: float(np.sum(G * F.dense_forward(X, W, 0.0)))
    fd_dense = numerical_gradient(loss_dense, W)
    np.testing.assert_allclose(dW.toarray()[mask], fd_dense[mask], rtol=1e-6, atol=1e-8)
    assert np.all(dW.toarray()[~mask] == 0)
    np.testing.assert_allclose(dX, numerical_gradient(loss_csr, X), rtol=1e-6, atol=1e-8)


# -- properties -------------------------------------------------------------------

@given(logit_rows_with_labels(bound=1e4))
def test_softmax_rows_sum_to_one_and_stay_finite_for_logits_up_to_1e4(Zy):
    Z, y = Zy
    for dtype in (np.float64, np.float32):
        P = F.softmax(Z.astype(dtype))
        assert np.all(np.isfinite(P)) and np.all((P >= 0) & (P <= 1))
        np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=10 * np.finfo(dtype).eps * Z.shape[1])
        assert np.all(np.isfinite(F.log_softmax(Z.astype(dtype))))
    loss = F.softmax_cross_entropy_forward(Z, y)
    assert np.isfinite(loss) and loss >= 0
    dZ = F.softmax_cross_entropy_backward(Z, y)
    assert np.all(np.isfinite(dZ))
    np.testing.assert_allclose(dZ.sum(axis=1), 0.0, atol=1e-12)


@given(sparse_layer_arrays())
def test_dense_and_csr_forward_agree(arrays):
    X, W, W_csr, b, _ = arrays
    np.testing.assert_allclose(F.dense_forward(X, W_csr, b), F.dense_forward(X, W, b), rtol=1e-12, atol=1e-10)


@given(sparse_layer_arrays(), st.data())
def test_dense_and_csr_backward_agree_on_the_pattern(arrays, data):
    X, W, W_csr, b, mask = arrays
    dZ = data.draw(float_matrices((X.shape[0], W.shape[1])))
    dX_d, dW_d, db_d = F.dense_backward(dZ, X, W)
    dX_s, dW_s, db_s = F.dense_backward(dZ, X, W_csr)
    np.testing.assert_allclose(dX_s, dX_d, rtol=1e-12, atol=1e-10)
    assert np.array_equal(sparse.pattern_mask(dW_s), mask)
    np.testing.assert_allclose(dW_s.toarray(), dW_d * mask, rtol=1e-12, atol=1e-10)
    assert np.array_equal(db_s, db_d)   # exact: db is the same NumPy sum of the same dZ for dense and CSR W


@given(sparse_layer_arrays(), st.data())
def test_functional_ops_do_not_mutate_their_inputs(arrays, data):
    X, W, W_csr, b, _ = arrays
    Z, y = data.draw(logit_rows_with_labels(bound=50.0))
    dZ = data.draw(float_matrices((X.shape[0], W.shape[1])))
    inputs = [X, W, W_csr, b, Z, y, dZ]
    before = [snapshot(a) for a in inputs]
    F.relu_forward(Z), F.relu_backward(Z, Z)
    F.dense_forward(X, W, b), F.dense_forward(X, W_csr, b)
    F.dense_backward(dZ, X, W), F.dense_backward(dZ, X, W_csr)
    F.softmax(Z), F.log_softmax(Z)
    F.softmax_cross_entropy_forward(Z, y), F.softmax_cross_entropy_backward(Z, y)
    assert [snapshot(a) for a in inputs] == before


@given(dense_layer_arrays())
def test_dense_backward_db_is_column_sum_and_shapes_match(arrays):
    X, W, b = arrays
    dZ = np.ones((X.shape[0], W.shape[1]))
    dX, dW, db = F.dense_backward(dZ, X, W)
    assert dX.shape == X.shape and dW.shape == W.shape and db.shape == b.shape
    assert np.array_equal(db, np.full(b.shape, float(X.shape[0])))
