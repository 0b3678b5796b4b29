"""nnlite.sparse: conversions, pattern products and byte counts."""
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from nnlite import _sparse_kernels as kernels
from nnlite import sparse
from strategies import boolean_masks, float_matrices, sparse_layer_arrays
from test_functional import snapshot

W_HAND = np.array([[0.0, 1.5, 0.0, 0.0],
                   [2.0, 0.0, 0.0, -1.0],
                   [0.0, 0.0, 0.0, 0.0]], dtype=np.float32)


def test_to_csr_by_hand():
    W = sparse.to_csr(W_HAND)
    assert isinstance(W, sp.csr_array) and W.shape == (3, 4)
    assert np.array_equal(W.data, [1.5, 2.0, -1.0]) and W.data.dtype == np.float32
    assert np.array_equal(W.indices, [1, 0, 3]) and np.array_equal(W.indptr, [0, 1, 3, 3])
    rows, cols = sparse.stored_positions(W)
    assert np.array_equal(rows, [0, 1, 1]) and np.array_equal(cols, [1, 0, 3])


def test_to_csr_with_mask_stores_exactly_the_mask_including_zeros():
    mask = np.zeros((3, 4), dtype=bool)
    mask[0, 1] = mask[2, 2] = True
    W = sparse.to_csr(W_HAND, mask)
    assert W.nnz == 2 and np.array_equal(W.data, [1.5, 0.0])
    assert np.array_equal(sparse.pattern_mask(W), mask)
    assert np.array_equal(sparse.mask_values(~mask | mask, W), [True, True])


def test_pattern_mask_of_dense_is_its_nonzeros():
    assert np.array_equal(sparse.pattern_mask(W_HAND), W_HAND != 0)


def test_to_dense_copies():
    W = sparse.to_dense(W_HAND)
    W[0, 0] = 7
    assert W_HAND[0, 0] == 0
    assert np.array_equal(sparse.to_dense(sparse.to_csr(W_HAND)), W_HAND)


def test_csr_nbytes_by_hand():
    # 3 stored float32 values (4 B) + 3 int32 column indices (4 B) + 3 + 1 int32 row pointers
    W = sparse.to_csr(W_HAND)
    assert sparse.nbytes(W_HAND, "csr") == 3 * (4 + 4) + (3 + 1) * 4 == 40
    assert sparse.nbytes(W) == W.data.nbytes + W.indices.nbytes + W.indptr.nbytes == 40
    assert sparse.nbytes(W_HAND) == sparse.nbytes(W, "dense") == 3 * 4 * 4 == 48
    assert sparse.nbytes(W_HAND.astype(np.float64), "csr") == 3 * (8 + 4) + 4 * 4 == 52


def test_nbytes_rejects_unknown_format():
    with pytest.raises(ValueError, match="fmt"):
        sparse.nbytes(W_HAND, "coo")


def test_to_csr_rejects_mask_of_wrong_shape():
    with pytest.raises(ValueError, match=r"mask: expected .*\(3, 4\).*found shape \(4, 3\)"):
        sparse.to_csr(W_HAND, np.ones((4, 3), dtype=bool))


def test_pattern_matmul_by_hand():
    A = np.array([[1.0, 2.0], [3.0, 4.0]])   # (d_in, n)
    B = np.array([[1.0, 0.0], [0.0, 1.0]])   # (n, d_out)
    pattern = sparse.to_csr(np.array([[1.0, 0.0], [0.0, 1.0]]))
    out = sparse.pattern_matmul(A, B, pattern)
    assert np.array_equal(out.toarray(), [[1.0, 0.0], [0.0, 4.0]])


@given(sparse_layer_arrays(max_n=7), st.integers(1, 20))
def test_pattern_matmul_equals_dense_product_on_the_pattern_for_any_chunk(arrays, chunk):
    X, W, W_csr, _, mask = arrays
    dZ = np.arange(X.shape[0] * W.shape[1], dtype=np.float64).reshape(X.shape[0], -1) - 3
    original = sparse._CHUNK
    try:
        sparse._CHUNK = chunk  # forces several chunks even for tiny layers
        with sparse.use_backend("numpy"):  # the backend that gathers in chunks
            out = sparse.pattern_matmul(X.T, dZ, W_csr)
    finally:
        sparse._CHUNK = original
    np.testing.assert_allclose(out.toarray(), (X.T @ dZ) * mask, rtol=1e-12, atol=1e-10)


@given(sparse_layer_arrays())
def test_matmul_agrees_for_dense_and_csr(arrays):
    X, W, W_csr, _, _ = arrays
    out = sparse.matmul(X, W_csr)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, X @ W, rtol=1e-12, atol=1e-10)


@given(float_matrices((4, 5)), boolean_masks((4, 5)))
def test_to_csr_to_dense_round_trip_is_exact(W, mask):
    W = W * mask
    assert np.array_equal(sparse.to_dense(sparse.to_csr(W)), W)
    assert np.array_equal(sparse.to_dense(sparse.to_csr(W, mask)), W)
    assert sparse.nbytes(sparse.to_csr(W)) == sparse.nbytes(W, "csr")


@given(sparse_layer_arrays())
def test_sparse_conversions_do_not_mutate_their_inputs(arrays):
    X, W, W_csr, _, mask = arrays
    inputs = [X, W, W_csr, mask]
    before = [snapshot(a) for a in inputs]
    sparse.to_csr(W), sparse.to_csr(W, mask), sparse.to_csr(W_csr), sparse.to_dense(W), sparse.to_dense(W_csr)
    sparse.pattern_mask(W_csr), sparse.mask_values(mask, W_csr), sparse.matmul(X, W_csr)
    sparse.pattern_matmul(X.T, X @ W, W_csr), sparse.nbytes(W, "csr"), sparse.nbytes(W_csr)
    sparse.backward_products(X @ W, X, W_csr), sparse.matmul(X @ W, W_csr.T)
    assert [snapshot(a) for a in inputs] == before


# -- backends: the numba kernels give the NumPy/SciPy reference's numbers --------------------------

AVAILABLE_BACKENDS = [pytest.param("numpy"),
                      pytest.param("numba", marks=pytest.mark.skipif(not kernels.AVAILABLE,
                                                                      reason="numba is not installed"))]


@pytest.mark.parametrize("backend", AVAILABLE_BACKENDS)
@given(arrays=sparse_layer_arrays(max_n=7, max_d=9), dtype=st.sampled_from([np.float32, np.float64]),
       transposed_input=st.booleans())
def test_every_backend_computes_the_dense_products_of_csr_and_csc_weights_and_the_layer_gradients(backend, arrays, dtype, transposed_input):
    X, W, W_csr, _, mask = (a.astype(dtype) if isinstance(a, np.ndarray) and a.dtype != bool else a for a in arrays)
    W_csr = sp.csr_array(W_csr, dtype=dtype)
    if transposed_input:  # a transposed view, as dense_backward passes X.T
        X = np.asfortranarray(X)
    dZ = (np.arange(X.shape[0] * W.shape[1], dtype=dtype).reshape(X.shape[0], -1) - 3) / 7
    tolerance = {"rtol": 1e-5, "atol": 1e-3} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-9}
    with sparse.use_backend(backend):
        Y, dX, dW = sparse.matmul(X, W_csr), sparse.matmul(dZ, W_csr.T), sparse.pattern_matmul(X.T, dZ, W_csr)
        dX_both, dW_both = sparse.backward_products(dZ, X, W_csr)
        no_dX, dW_alone = sparse.backward_products(dZ, X, W_csr, need_dX=False)
    assert no_dX is None and Y.dtype == dX.dtype == dW.dtype == dX_both.dtype == dtype
    np.testing.assert_allclose(dX_both, dX, **tolerance)
    for other in (dW_both, dW_alone):
        np.testing.assert_allclose(other.toarray(), dW.toarray(), **tolerance)
    np.testing.assert_allclose(Y, X @ W, **tolerance)
    np.testing.assert_allclose(dX, dZ @ W.T, **tolerance)
    assert np.array_equal(dW.indptr, W_csr.indptr) and np.array_equal(dW.indices, W_csr.indices)
    np.testing.assert_allclose(dW.toarray(), (X.T @ dZ) * mask, **tolerance)


@pytest.mark.parametrize("backend", AVAILABLE_BACKENDS)
def test_every_backend_handles_empty_rows_an_empty_pattern_and_an_empty_batch(backend):
    empty = sparse.to_csr(np.zeros((3, 4), np.float32))
    with sparse.use_backend(backend):
        assert np.array_equal(sparse.matmul(np.ones((2, 3), np.float32), empty), np.zeros((2, 4)))
        assert np.array_equal(sparse.matmul(np.ones((2, 4), np.float32), empty.T), np.zeros((2, 3)))
        assert sparse.pattern_matmul(np.ones((3, 2), np.float32), np.ones((2, 4), np.float32), empty).nnz == 0
        W = sparse.to_csr(W_HAND)  # its last row is empty
        assert sparse.matmul(np.zeros((0, 3), np.float32), W).shape == (0, 4)
        np.testing.assert_array_equal(sparse.matmul(np.eye(3, dtype=np.float32), W), W_HAND)
        np.testing.assert_array_equal(sparse.pattern_matmul(np.zeros((3, 0), np.float32), np.zeros((0, 4), np.float32),
                                                            W).data, [0.0, 0.0, 0.0])


@pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")
@given(st.integers(1, 27), st.integers(1, 27), st.data())
def test_tiled_transpose_equals_numpy_transpose_for_any_shape(n_rows, n_cols, data):
    A = data.draw(float_matrices((n_rows, n_cols), dtype=np.float32))
    out = kernels.transpose(A)
    assert out.flags.c_contiguous and np.array_equal(out, A.T)


def test_backend_defaults_to_numba_when_installed_else_numpy(monkeypatch):
    monkeypatch.delenv("NNLITE_SPARSE_BACKEND", raising=False)
    for available, expected in ((True, "numba"), (False, "numpy")):
        monkeypatch.setattr(kernels, "AVAILABLE", available)
        with sparse.use_backend(None):
            assert sparse.backend() == expected


def test_backend_comes_from_the_environment_and_use_backend_restores_it(monkeypatch):
    monkeypatch.setenv("NNLITE_SPARSE_BACKEND", "numpy")
    with sparse.use_backend(None):
        assert sparse.backend() == "numpy"
        with sparse.use_backend("numba" if kernels.AVAILABLE else "numpy"):
            assert sparse.backend() == ("numba" if kernels.AVAILABLE else "numpy")
        assert sparse.backend() == "numpy"


def test_unknown_or_unavailable_backends_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match=r"name: expected one of \('numpy', 'numba'\), found 'cuda'"):
        sparse.set_backend("cuda")
    monkeypatch.setenv("NNLITE_SPARSE_BACKEND", "scipy")
    with sparse.use_backend(None), pytest.raises(ValueError, match="NNLITE_SPARSE_BACKEND: expected one of"):
        sparse.backend()
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    with pytest.raises(ImportError, match=r"needs numba \(pip install numba\)"):
        sparse.set_backend("numba")


@pytest.mark.parametrize("backend", AVAILABLE_BACKENDS)
def test_every_backend_propagates_nan_and_inf_through_the_stored_weights(backend):
    # Unlike the dense product (0 * nan = nan), an unstored weight touches nothing.
    # (The checked calls refuse NaN; the kernels behind check=False keep IEEE semantics.)
    W = sparse.to_csr(W_HAND)  # stored: (0, 1) 1.5, (1, 0) 2.0, (1, 3) -1.0
    X = np.array([[np.nan, 0.0, 0.0], [0.0, np.inf, 0.0]], dtype=np.float32)
    dZ = np.ones((2, 4), dtype=np.float32)
    with sparse.use_backend(backend):
        Y = sparse.matmul(X, W, check=False)
        dX, dW = sparse.backward_products(dZ, X, W, check=False)
    np.testing.assert_array_equal(Y, [[0.0, np.nan, 0.0, 0.0], [np.inf, 0.0, 0.0, -np.inf]])
    np.testing.assert_array_equal(dW.data, [np.nan, np.inf, np.inf])
    assert np.all(np.isfinite(dX))


@pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")
@pytest.mark.parametrize("n", [1, 255, 256, 257, 600])
def test_numba_products_are_the_dense_ones_for_every_count_of_stored_entries_per_row_and_column(n):
    # the compiled loops add four stored entries per pass over an output row,
    # then the rest one by one: row k of W holds k entries and column j holds
    # 9 - j, so the forward (over columns) and the backward (over rows) meet
    # 0 to 9 entries, every split into fours and a rest; over several batch sizes
    rng = np.random.default_rng(n)
    W = np.tril(rng.standard_normal((10, 10)), k=-1)
    X, dZ = rng.standard_normal((n, 10)), rng.standard_normal((n, 10))
    with sparse.use_backend("numba"):
        W_csr = sparse.to_csr(W)
        Y, dX_alone = sparse.matmul(X, W_csr), sparse.matmul(dZ, W_csr.T)
        dX, dW = sparse.backward_products(dZ, X, W_csr)
    # float64, at most 9 terms of size ~1 per output: the summation order alone
    # (grouped in the kernel, blocked in BLAS) moves results by ~1e-15
    np.testing.assert_allclose(Y, X @ W, rtol=1e-12, atol=1e-12)
    for product in (dX, dX_alone):
        np.testing.assert_allclose(product, dZ @ W.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dW.toarray(), (X.T @ dZ) * (W != 0), rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")
@given(sparse_layer_arrays(max_d=9))
def test_transpose_pattern_is_the_pattern_of_the_transpose_and_where_its_values_come_from(arrays):
    _, W, W_csr, _, _ = arrays
    indptr_t, indices_t, order = kernels.transpose_pattern(W_csr.indptr, W_csr.indices, W.shape[1])
    T = sp.csr_array(W_csr.T)  # canonical: rows in increasing order within each column of W
    assert np.array_equal(indptr_t, T.indptr) and np.array_equal(indices_t, T.indices)
    assert np.array_equal(np.sort(order), np.arange(W_csr.nnz)) and np.array_equal(W_csr.data[order], T.data)


@pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")
def test_the_transposed_pattern_is_made_once_per_pattern_never_served_stale_and_forgotten_with_its_weight():
    W = sparse.to_csr(W_HAND)  # stored: (0, 1), (1, 0), (1, 3)
    first = sparse._transposed_pattern(W)
    W.data *= 2  # new values, same pattern: the same arrays serve
    assert sparse._transposed_pattern(W) is first
    W.indices[0] = 2  # the pattern changed in place: (0, 1) -> (0, 2)
    assert sparse._transposed_pattern(W) is not first
    with sparse.use_backend("numba"):
        np.testing.assert_array_equal(sparse.matmul(np.eye(3, dtype=np.float32), W), W.toarray())
    key = id(W)
    del W
    assert key not in sparse._patterns_t


def test_batch_last_keeps_the_values_and_lays_the_batch_out_for_the_backend():
    X = np.arange(12, dtype=np.float32).reshape(3, 4)
    with sparse.use_backend("numpy"):
        assert sparse.batch_last(X) is X
    if kernels.AVAILABLE:
        with sparse.use_backend("numba"):
            laid_out = sparse.batch_last(X)
            assert laid_out.flags.f_contiguous and np.array_equal(laid_out, X)
            assert sparse.batch_last(laid_out) is laid_out
