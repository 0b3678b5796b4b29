"""nnlite.layers: one gradient-masking rule, a weight layer's counts, and layers around given arrays."""
import numpy as np

from nnlite import sparse
from nnlite.layers import Conv2d, Dense, Flatten, MaxPool2d, ReLU


def test_a_layer_masks_dense_and_csr_gradients_by_one_rule():
    rng = np.random.default_rng(0)
    X, dA = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    mask = rng.random((4, 3)) < 0.5
    dense, csr = Dense(4, 3, activation=None, rng=0, dtype=np.float64), Dense(4, 3, activation=None, rng=0,
                                                                               dtype=np.float64)
    csr.W = sparse.to_csr(csr.W, np.ones((4, 3), bool))
    for layer in (dense, csr):
        layer.set_mask_inplace(mask)
    (_, (dW, _)), (_, (dW_csr, _)) = (L.backward(dA, L.forward(X)[1]) for L in (dense, csr))
    assert np.all(dW[~mask] == 0) and np.all(sparse.to_dense(dW_csr)[~mask] == 0)
    np.testing.assert_allclose(sparse.to_dense(dW_csr), dW, rtol=1e-12, atol=1e-12)


def test_a_csr_dense_layer_keeps_its_input_laid_out_once_for_both_products_on_every_backend():
    rng = np.random.default_rng(1)
    X, dA = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    layer = Dense(4, 3, activation=None, rng=0, dtype=np.float64)
    W = layer.W.copy()
    layer.W = sparse.to_csr(W)
    for backend in [b for b in sparse.BACKENDS if b == "numpy" or sparse.kernels.AVAILABLE]:
        with sparse.use_backend(backend):
            Z, cache = layer.forward(X)
            dX, (dW, db) = layer.backward(dA, cache)
        assert cache[0].flags.f_contiguous == (backend == "numba") and np.array_equal(cache[0], X)
        np.testing.assert_allclose(Z, X @ W + layer.b, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dX, dA @ W.T, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dW.toarray(), X.T @ dA, rtol=1e-12, atol=1e-12)


def test_a_sparse_update_mask_is_none_when_the_csr_pattern_is_the_mask():
    from pruning.sparse_layers import DynamicLinear
    csr, dense = DynamicLinear(6, 4, 0.5, storage="csr", rng=0), DynamicLinear(6, 4, 0.5, storage="dense", rng=0)
    assert csr.param_masks() == [None, None] and dense.param_masks()[0] is dense.mask
    np.testing.assert_array_equal(sparse.pattern_mask(csr.W), csr.mask)


def test_a_weight_layer_counts_its_nonzeros_and_bytes_as_stored():
    layer = Dense(4, 3, rng=0)
    layer.set_mask_inplace(np.arange(12).reshape(4, 3) % 2 == 0)
    assert layer.count_nonzero() == 6 and layer.nbytes() == 4 * 3 * 4 + 3 * 4
    assert layer.nbytes("csr") == sparse.nbytes(layer.W, "csr") + 3 * 4
    conv = Conv2d(2, 5, 3, rng=0)
    assert conv.W.shape == (18, 5) and conv.count_nonzero() == np.count_nonzero(conv.W)


def test_dense_from_arrays_holds_the_given_arrays_without_copying():
    W, b = np.ones((3, 2)), np.zeros(2)
    layer = Dense.from_arrays(W, b, activation=None)
    assert layer.W is W and layer.b is b and layer.mask is None
    np.testing.assert_array_equal(layer.forward(np.ones((1, 3)))[0], [[3.0, 3.0]])


def test_parameter_free_layers_have_no_parameters_and_keep_shapes():
    for layer, shape, out in ((MaxPool2d(2), (4, 4, 3), (2, 2, 3)), (ReLU(), (5,), (5,)), (Flatten(), (2, 3, 4), (24,))):
        assert layer.params() == [] and layer.param_masks() == [] and tuple(layer.output_shape(shape)) == out
