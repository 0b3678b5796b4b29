"""nnlite.conv: hand examples, naive-loop oracles, finite differences."""
import numpy as np
import pytest
from hypothesis import given

from hypothesis import strategies as st

from nnlite import _conv_kernels, conv, sparse
from strategies import conv_geometries, float_matrices, pool_geometries
from gradcheck import numerical_gradient

BACKENDS = ["numpy"] + (["numba"] if _conv_kernels.AVAILABLE else [])


@pytest.fixture(autouse=True, params=BACKENDS)
def backend(request):
    """Every test here runs on the NumPy code and on the compiled loops (``nnlite._conv_kernels``)."""
    with sparse.use_backend(request.param):
        yield request.param


def naive_conv2d(X, W, b, kernel_size, stride, padding):
    """Six nested loops over the definition (the oracle)."""
    (n, h, w, c_in), (kh, kw), c_out = X.shape, kernel_size, W.shape[1]
    K = W.reshape(kh, kw, c_in, c_out)
    Xp = np.pad(X, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    h_out, w_out = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    Z = np.zeros((n, h_out, w_out, c_out))
    for m in range(n):
        for i in range(h_out):
            for j in range(w_out):
                patch = Xp[m, i * stride:i * stride + kh, j * stride:j * stride + kw]
                Z[m, i, j] = np.tensordot(patch, K, axes=3) + b
    return Z


def naive_maxpool2d(X, pool_size, stride):
    (n, h, w, c), (ph, pw) = X.shape, pool_size
    A = np.zeros((n, (h - ph) // stride + 1, (w - pw) // stride + 1, c))
    for i in range(A.shape[1]):
        for j in range(A.shape[2]):
            A[:, i, j] = X[:, i * stride:i * stride + ph, j * stride:j * stride + pw].max(axis=(1, 2))
    return A


# -- tiny hand-computed examples ------------------------------------------------

def test_conv2d_of_ones_kernel_sums_each_window():
    X = np.arange(9.0).reshape(1, 3, 3, 1)
    Z = conv.conv2d_forward(X, np.ones((4, 1)), np.array([0.5]), (2, 2))
    assert np.array_equal(Z[0, :, :, 0], [[8.5, 12.5], [20.5, 24.5]])


@given(pool_geometries())
def test_maxpool2d_backward_with_ties_sends_each_window_gradient_to_its_first_maximum(drawn):
    X, pool_size, stride = drawn
    X = np.round(X)  # a few integer levels: most windows hold ties
    (ph, pw), A = pool_size, conv.maxpool2d_forward(X, pool_size, stride)
    dA = np.random.default_rng(0).standard_normal(A.shape)
    expected = np.zeros_like(X)
    for m, i, j, ch in np.ndindex(A.shape):  # naive loop: np.argmax is the first maximum, row-major
        window = X[m, i * stride:i * stride + ph, j * stride:j * stride + pw, ch]
        di, dj = divmod(int(np.argmax(window)), pw)
        expected[m, i * stride + di, j * stride + dj, ch] += dA[m, i, j, ch]
    np.testing.assert_allclose(conv.maxpool2d_backward(dA, X, pool_size, stride), expected, rtol=1e-12, atol=1e-12)


def test_maxpool2d_hand_example_and_first_max_gets_the_gradient():
    X = np.array([[1.0, 3.0], [3.0, 2.0]]).reshape(1, 2, 2, 1)
    assert conv.maxpool2d_forward(X, (2, 2)).item() == 3.0
    dX = conv.maxpool2d_backward(np.ones((1, 1, 1, 1)), X, (2, 2))
    assert np.array_equal(dX[0, :, :, 0], [[0, 1], [0, 0]])


def test_flatten_round_trips():
    X = np.arange(24.0).reshape(2, 2, 3, 2)
    A = conv.flatten_forward(X)
    assert A.shape == (2, 12) and np.array_equal(conv.flatten_backward(A, X.shape), X)


# -- oracles (Hypothesis) ---------------------------------------------------------

@given(conv_geometries())
def test_im2col_conv_agrees_with_naive_loop_conv(drawn):
    X, W, b, kernel_size, stride, padding = drawn
    Z = conv.conv2d_forward(X, W, b, kernel_size, stride, padding)
    np.testing.assert_allclose(Z, naive_conv2d(X, W, b, kernel_size, stride, padding), rtol=1e-10, atol=1e-9)


@given(conv_geometries())
def test_col2im_is_the_adjoint_of_im2col(drawn):
    X, W, _, kernel_size, stride, padding = drawn
    cols = conv.im2col(X, kernel_size, stride, padding)
    C = np.random.default_rng(0).standard_normal(cols.shape)
    lhs = np.sum(cols * C)
    rhs = np.sum(X * conv.col2im(C, X.shape, kernel_size, stride, padding))
    assert np.isclose(lhs, rhs, rtol=1e-9, atol=1e-9)


@given(conv_geometries())
def test_conv2d_with_csr_weight_matches_dense_forward_and_backward(drawn):
    X, W, b, kernel_size, stride, padding = drawn
    W = W * (np.arange(W.size).reshape(W.shape) % 3 != 0)
    W_csr = sparse.to_csr(W, W != 0)
    Z = conv.conv2d_forward(X, W, b, kernel_size, stride, padding)
    np.testing.assert_allclose(conv.conv2d_forward(X, W_csr, b, kernel_size, stride, padding), Z, atol=1e-9)
    dZ = np.ones_like(Z)
    dX, dW, db = conv.conv2d_backward(dZ, X, W, kernel_size, stride, padding)
    dX_s, dW_s, db_s = conv.conv2d_backward(dZ, X, W_csr, kernel_size, stride, padding)
    np.testing.assert_allclose(dX_s, dX, atol=1e-9)
    np.testing.assert_allclose(dW_s.toarray(), dW * (W != 0), atol=1e-9)


@given(conv_geometries())
def test_input_grad_on_the_flat_grid_matches_the_per_offset_sum(drawn):
    # the stride-1 fast path (BLAS accumulating on the flat padded grid) against the per-offset loop
    X, W, b, kernel_size, _, padding = drawn
    dZ = np.random.default_rng(1).standard_normal(conv.conv2d_forward(X, W, b, kernel_size, 1, padding).shape)
    np.testing.assert_allclose(conv._input_grad_on_flat_grid(dZ, W, kernel_size),
                               conv._input_grad_per_offset(dZ, W, X.shape, kernel_size, 1, padding), atol=1e-12)


@given(pool_geometries())
def test_maxpool2d_agrees_with_naive_loop_pool(drawn):
    X, pool_size, stride = drawn
    np.testing.assert_array_equal(conv.maxpool2d_forward(X, pool_size, stride), naive_maxpool2d(X, pool_size, stride))


@given(pool_geometries())
def test_maxpool2d_backward_routes_each_window_gradient_to_one_input(drawn):
    X, pool_size, stride = drawn
    A = conv.maxpool2d_forward(X, pool_size, stride)
    dX = conv.maxpool2d_backward(np.ones_like(A), X, pool_size, stride)
    assert np.isclose(dX.sum(), A.size)
    assert np.all(X[dX > 0] >= X.min())


# -- finite differences -------------------------------------------------------

def test_conv2d_input_gradient_over_several_grid_blocks_matches_finite_differences():
    # 3 images of 18x18, padding 1: a flat grid of 3 * 20 * 20 = 1,200 rows, more than one GRID_BLOCK_ROWS block
    rng = np.random.default_rng(2)
    X, W, b = rng.standard_normal((3, 18, 18, 1)), rng.standard_normal((9, 2)), rng.standard_normal(2)
    assert 3 * 20 * 20 > conv.GRID_BLOCK_ROWS
    G = rng.standard_normal((3, 18, 18, 2))
    loss = lambda: np.sum(conv.conv2d_forward(X, W, b, (3, 3), 1, 1) * G)  # noqa: E731
    dX, _, _ = conv.conv2d_backward(G, X, W, (3, 3), 1, 1)
    np.testing.assert_allclose(dX, numerical_gradient(loss, X), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kernel_size, stride, padding", [((3, 3), 1, 1), ((2, 3), 2, 0), ((3, 2), 3, 2)])
@pytest.mark.parametrize("block_bytes", [conv.BLOCK_BYTES, 1])   # one block; one image per block
def test_conv2d_backward_matches_finite_differences(kernel_size, stride, padding, block_bytes, monkeypatch):
    monkeypatch.setattr(conv, "BLOCK_BYTES", block_bytes)   # patches (18 values) longer than outputs (3)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2, 5, 6, 2))
    W, b = rng.standard_normal((kernel_size[0] * kernel_size[1] * 2, 3)), rng.standard_normal(3)
    G = rng.standard_normal(conv.conv2d_forward(X, W, b, kernel_size, stride, padding).shape)
    loss = lambda: np.sum(conv.conv2d_forward(X, W, b, kernel_size, stride, padding) * G)  # noqa: E731
    dX, dW, db = conv.conv2d_backward(G, X, W, kernel_size, stride, padding)
    for analytic, array in ((dX, X), (dW, W), (db, b)):
        np.testing.assert_allclose(analytic, numerical_gradient(loss, array), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("pool_size, stride", [((2, 2), 2), ((3, 2), 1), ((2, 2), 3)])
def test_maxpool2d_backward_matches_finite_differences(pool_size, stride):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((2, 7, 6, 3))  # continuous values: no ties
    G = rng.standard_normal(conv.maxpool2d_forward(X, pool_size, stride).shape)
    loss = lambda: np.sum(conv.maxpool2d_forward(X, pool_size, stride) * G)  # noqa: E731
    np.testing.assert_allclose(conv.maxpool2d_backward(G, X, pool_size, stride), numerical_gradient(loss, X),
                               rtol=1e-6, atol=1e-7)


def test_flatten_backward_matches_finite_differences():
    rng = np.random.default_rng(3)
    X, G = rng.standard_normal((2, 2, 3, 2)), rng.standard_normal((2, 12))
    loss = lambda: np.sum(conv.flatten_forward(X) * G)  # noqa: E731
    np.testing.assert_allclose(conv.flatten_backward(G, X.shape), numerical_gradient(loss, X), rtol=1e-7)


@pytest.mark.parametrize("n, size", [(2, 5), (3, 20)])   # one block of the flat grid, and 1,452 rows: two
def test_conv_backward_runs_on_numpys_blas_alone(monkeypatch, n, size):
    # SciPy's wheel ships its own OpenBLAS: calling it beside NumPy's gave two thread pools spinning against
    # each other, and a two-thread CNN epoch took about twice the one-thread time (benchmarks/cnn.py).
    import scipy.linalg.blas

    def refuse(*args, **kwargs):
        raise AssertionError("the conv backward called SciPy's BLAS")
    monkeypatch.setattr(scipy.linalg.blas, "get_blas_funcs", refuse)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, size, size, 3)).astype(np.float32)
    W = rng.standard_normal((27, 4)).astype(np.float32)
    dZ = rng.standard_normal((n, size, size, 4)).astype(np.float32)
    dX, _, _ = conv.conv2d_backward(dZ, X, W, (3, 3), padding=1)
    dX_reference = conv.col2im(dZ.reshape(-1, 4) @ W.T, X.shape, (3, 3), padding=1)
    np.testing.assert_allclose(dX, dX_reference, rtol=1e-5, atol=1e-5)


# -- the compiled loops against the NumPy code ------------------------------------

@st.composite
def disjoint_pools(draw):
    """(X, pool): X (n, h, w, c) with ties, NaN sometimes, float32 or float64, possibly a view with a
    remainder row/column outside the windows; pool (ph, pw) with stride ph == pw (the compiled case)."""
    size = draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = (draw(st.integers(1, 3)), draw(st.integers(size, 9)), draw(st.integers(size, 9)), draw(st.integers(1, 5)))
    X = np.round(draw(float_matrices(shape, bound=2.0, dtype=dtype)))  # a few levels: ties in most windows
    if draw(st.booleans()):
        X.flat[draw(st.integers(0, X.size - 1))] = np.nan
    if draw(st.booleans()):  # a non-contiguous view
        X = np.concatenate([X, X], axis=3)[..., ::2]
    return X, (size, size)


@pytest.mark.skipif(not _conv_kernels.AVAILABLE, reason="numba is not installed (pip install numba)")
@given(disjoint_pools())
def test_compiled_max_pool_gives_the_bits_of_the_numpy_code(drawn):
    X, pool = drawn
    dA = np.random.default_rng(0).standard_normal(conv.maxpool2d_forward(X, pool).shape).astype(X.dtype)
    results = {}
    for name in BACKENDS:
        with sparse.use_backend(name):
            A = conv.maxpool2d_forward(X, pool)
            results[name] = A, conv.maxpool2d_backward(dA, X, pool, A=A), conv.maxpool2d_backward(dA, X, pool)
    for numpy_result, compiled_result in zip(results["numpy"], results["numba"]):
        assert numpy_result.dtype == compiled_result.dtype
        np.testing.assert_array_equal(numpy_result, compiled_result)   # NaN where NaN


@pytest.mark.skipif(not _conv_kernels.AVAILABLE, reason="numba is not installed (pip install numba)")
@given(conv_geometries())
def test_compiled_col2im_gives_the_bits_of_col2im_at_stride_one(drawn):
    X, W, b, kernel_size, _, padding = drawn
    dcols = np.random.default_rng(1).standard_normal((conv.im2col(X, kernel_size, 1, padding).shape))
    np.testing.assert_array_equal(_conv_kernels.col2im(dcols, *X.shape[:3], *kernel_size, padding),
                                  conv.col2im(dcols, X.shape, kernel_size, 1, padding))


@pytest.mark.skipif(not _conv_kernels.AVAILABLE, reason="numba is not installed (pip install numba)")
@given(conv_geometries(), st.sampled_from([np.float32, np.float64]), st.booleans())
def test_compiled_im2col_gives_the_bits_of_the_numpy_code(drawn, dtype, view):
    # copies only, so the same bits at any geometry; NaN/inf and -0.0 are copied as they are
    X, _, _, kernel_size, stride, padding = drawn
    X = X.astype(dtype)
    X.flat[::5] = [np.nan, -0.0, np.inf][: len(X.flat[::5])] + [0.5] * max(0, len(X.flat[::5]) - 3)
    if view:   # a non-contiguous block of images, as the layers pass X[block]
        X = np.concatenate([X, X], axis=0)[::2]
    results = {}
    for name in BACKENDS:
        with sparse.use_backend(name):
            results[name] = conv.im2col(X, kernel_size, stride, padding)
    assert results["numba"].dtype == results["numpy"].dtype and results["numba"].shape == results["numpy"].shape
    assert results["numba"].tobytes() == results["numpy"].tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_backward_input_gradient_agrees_on_both_backends(dtype):
    # numba: one GEMM dZ @ W.T, then the compiled col2im; NumPy: BLAS products accumulated on the flat grid
    rng = np.random.default_rng(3)
    X, W = rng.standard_normal((3, 9, 8, 4)).astype(dtype), rng.standard_normal((36, 5)).astype(dtype)
    dZ = rng.standard_normal((3, 9, 8, 5)).astype(dtype)
    results = []
    for name in BACKENDS:
        with sparse.use_backend(name):
            results.append(conv.conv2d_backward(dZ, X, W, (3, 3), 1, 1))
    reference = conv.col2im(dZ.reshape(-1, 5).astype(np.float64) @ W.T.astype(np.float64), X.shape, (3, 3), 1, 1)
    for dX, dW, db in results:
        assert dX.dtype == dtype and dX.shape == X.shape
        np.testing.assert_allclose(dX, reference, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)
        np.testing.assert_array_equal(dW, results[0][1])
        np.testing.assert_array_equal(db, results[0][2])


# -- im2col by blocks of images ------------------------------------------------------

@given(conv_geometries(max_n=5), st.integers(1, 4000))
def test_convolution_by_blocks_of_images_matches_the_naive_loops(drawn, block_bytes):
    # a small BLOCK_BYTES splits even these tiny batches into several blocks (one image each at the least)
    X, W, b, kernel_size, stride, padding = drawn
    dZ = np.random.default_rng(4).standard_normal(naive_conv2d(X, W, b, kernel_size, stride, padding).shape)
    cols = conv.im2col(X, kernel_size, stride, padding)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv, "BLOCK_BYTES", block_bytes)
        Z, kept = conv._conv2d_forward(X, W, b, kernel_size, stride, padding)
        dX, dW, db = conv.conv2d_backward(dZ, X, W, kernel_size, stride, padding)
    np.testing.assert_allclose(Z, naive_conv2d(X, W, b, kernel_size, stride, padding), atol=1e-10)
    assert kept is None or np.array_equal(kept, cols)
    np.testing.assert_allclose(dW, cols.T @ dZ.reshape(-1, W.shape[1]), atol=1e-10)
    np.testing.assert_allclose(db, dZ.sum(axis=(0, 1, 2)), atol=1e-10)
    np.testing.assert_allclose(dX, conv.col2im(dZ.reshape(-1, W.shape[1]) @ W.T, X.shape, kernel_size, stride, padding),
                               atol=1e-10)


@given(conv_geometries(max_n=6), st.integers(1, 5000))
def test_image_blocks_cover_every_image_once_in_order_within_the_byte_budget(drawn, block_bytes):
    X, W, _, kernel_size, stride, padding = drawn
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv, "BLOCK_BYTES", block_bytes)
        blocks = conv._image_blocks(X, W.shape[1], kernel_size, stride, padding)
    assert np.array_equal(np.concatenate([np.arange(len(X))[block] for block in blocks]), np.arange(len(X)))
    patch_bytes = conv.im2col(X[:1], kernel_size, stride, padding).nbytes
    if W.shape[0] <= W.shape[1]:   # patches no longer than the output rows: built whole, kept
        assert blocks == [slice(0, len(X))]
    else:
        assert all(len(np.arange(len(X))[block]) * patch_bytes <= max(block_bytes, patch_bytes) for block in blocks)


def test_a_conv_layer_keeps_short_patches_and_rebuilds_long_ones_by_blocks():
    from nnlite.layers import Conv2d
    X = np.random.default_rng(5).random((40, 12, 12, 4)).astype(np.float32)
    wide, narrow = Conv2d(4, 64, 3, padding=1, rng=0), Conv2d(4, 8, 3, padding=1, rng=0)  # patch: 36 values
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv, "BLOCK_BYTES", 20_000)
        (_, (_, wide_cols, _)), (_, (_, narrow_cols, _)) = wide.forward(X), narrow.forward(X)
    np.testing.assert_array_equal(wide_cols, conv.im2col(X, (3, 3), 1, 1))
    assert narrow_cols is None
