"""nnlite.models: MLP (a forward pass by hand, the whole backward by finite
differences, masks, byte counts, no mutation, and input validation) and Sequential."""
import numpy as np
import pytest
from hypothesis import given

from nnlite import MLP, sparse
from nnlite.layers import Conv2d, Dense, Flatten, MaxPool2d, ReLU
from nnlite.models import Sequential, small_cnn
from nnlite.optim import Adam
from nnlite import functional as F
from strategies import masked_mlps_with_batches
from gradcheck import numerical_gradient
from test_functional import snapshot

LN3 = np.log(3.0)


def tiny_mlp():
    """2-2-2 network worked by hand in test_tiny_mlp_forward_and_gradients_by_hand."""
    W1, b1 = np.array([[1.0, -1.0], [0.0, 2.0]]), np.array([0.0, -2.0])
    W2, b2 = np.array([[2.0, -1.0], [3.0, 4.0]]), np.array([-2.0, 1.0 + LN3])
    return MLP.from_weights([W1, W2], [b1, b2])


def test_tiny_mlp_forward_and_gradients_by_hand():
    model, X, y = tiny_mlp(), np.array([[1.0, 1.0]]), np.array([1])
    Zs, As = model.forward(X, return_all=True)
    # Z1 = [1*1 + 1*0 + 0, 1*-1 + 1*2 - 2] = [1, -1];  A1 = relu(Z1) = [1, 0]
    assert np.array_equal(Zs[0], [[1.0, -1.0]]) and np.array_equal(As[1], [[1.0, 0.0]])
    # Z2 = A1 @ W2 + b2 = [2 - 2, -1 + 1 + ln 3] = [0, ln 3];  softmax = [1/4, 3/4]
    np.testing.assert_allclose(Zs[1], [[0.0, LN3]], atol=1e-15)
    assert As[0] is X or np.array_equal(As[0], X)
    assert np.array_equal(As[2], Zs[1])
    np.testing.assert_allclose(model.predict_proba(X), [[0.25, 0.75]], rtol=1e-12)
    assert model.predict(X).tolist() == [1] and model.score(X, y) == 1.0
    loss, (dW1, db1, dW2, db2) = model.loss_and_grads(X, y)
    assert loss == pytest.approx(np.log(4 / 3), rel=1e-12)
    # dZ2 = P - onehot = [1/4, -1/4];  dW2 = A1.T @ dZ2;  dA1 = dZ2 @ W2.T = [3/4, -1/4]
    np.testing.assert_allclose(dW2, [[0.25, -0.25], [0, 0]], atol=1e-15)
    np.testing.assert_allclose(db2, [0.25, -0.25], atol=1e-15)
    # dZ1 = dA1 * 1[Z1 > 0] = [3/4, 0];  dW1 = X.T @ dZ1
    np.testing.assert_allclose(dW1, [[0.75, 0], [0.75, 0]], atol=1e-15)
    np.testing.assert_allclose(db1, [0.75, 0], atol=1e-15)


def fd_model(rng, csr_layer):
    """A float64 4-5-4-3 MLP with a mask on every layer, layer 1 optionally CSR."""
    model = MLP([4, 5, 4, 3], init="he_normal", rng=rng, dtype=np.float64)
    for i, W in enumerate(model.weights):
        model.biases[i] += rng.normal(scale=0.1, size=W.shape[1])
        model.set_mask_inplace(i, rng.random(W.shape) < 0.7)
    if csr_layer:
        model.weights[1] = sparse.to_csr(model.weights[1], model.masks[1])
    return model


@pytest.mark.parametrize("csr_layer", [False, True], ids=["dense", "csr-layer"])
def test_mlp_backward_matches_finite_differences(csr_layer):
    rng = np.random.default_rng(7)
    model = fd_model(rng, csr_layer)
    X, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    Zs, _ = model.forward(X, return_all=True)
    assert min(np.abs(Z).min() for Z in Zs[:-1]) > 1e-4  # no pre-activation near the ReLU kink
    _, grads = model.loss_and_grads(X, y)
    loss = lambda: model.loss(X, y)
    for p, g, m in zip(model.params(), grads, model.param_masks()):
        if sparse.is_sparse(p):
            assert np.array_equal(g.indices, p.indices) and np.array_equal(g.indptr, p.indptr)
            fd = numerical_gradient(loss, p.data)
            np.testing.assert_allclose(g.data * sparse.mask_values(m, p), fd * sparse.mask_values(m, p),
                                       rtol=1e-6, atol=1e-9)
            assert np.all(g.data[~sparse.mask_values(m, p)] == 0)
            continue
        fd = numerical_gradient(loss, p)
        if m is not None:
            assert np.all(g[~m] == 0)  # masked weights get no gradient
            fd = fd * m
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


def test_structure_params_and_masks():
    model = MLP([3, 4, 2], rng=0)
    assert model.layer_sizes == [3, 4, 2] and model.n_layers == 2 and model.dtype == np.float32
    assert [p.shape for p in model.params()] == [(3, 4), (4,), (4, 2), (2,)]
    assert model.params()[0] is model.weights[0] and model.params()[3] is model.biases[1]
    assert model.param_masks() == [None] * 4
    assert all(np.all(b == 0) for b in model.biases)
    mask = np.eye(3, 4, dtype=bool)
    model.set_mask_inplace(0, mask)
    assert model.param_masks()[0] is model.masks[0] and np.array_equal(model.masks[0], mask)
    assert np.all(model.weights[0][~mask] == 0) and model.count_nonzero() == 3 + 8
    mask[0, 0] = False  # the model keeps its own copy
    assert model.masks[0][0, 0]


@pytest.mark.parametrize("init", ["glorot_uniform", "glorot_normal", "he_normal", "he_uniform"])
def test_initialisers_have_the_documented_scale(init):
    W = MLP([400, 300], init=init, rng=0, dtype=np.float64).weights[0]
    var = {"glorot_uniform": 2 / 700, "glorot_normal": 2 / 700, "he_normal": 2 / 400, "he_uniform": 2 / 400}[init]
    assert W.var() == pytest.approx(var, rel=0.03)
    assert abs(W.mean()) < 0.01


def test_set_mask_inplace_on_csr_keeps_the_pattern_and_zeros_masked_values():
    model = MLP([3, 2], rng=0)
    model.weights[0] = sparse.to_csr(model.weights[0])
    mask = np.array([[True, False], [False, True], [True, True]])
    model.set_mask_inplace(0, mask)
    W = model.weights[0]
    assert W.nnz == 6 and np.all(W.toarray()[~mask] == 0) and np.all(W.toarray()[mask] != 0)


def test_model_bytes_dense_vs_csr_by_hand():
    W1 = np.array([[1, 0, 2], [0, 0, 3], [4, 0, 0], [0, 5, 0]], dtype=np.float32)  # 5 nonzeros
    W2 = np.array([[1, 0], [0, 0], [0, 6]], dtype=np.float32)                      # 2 nonzeros
    model = MLP.from_weights([W1, W2], [np.zeros(3, np.float32), np.zeros(2, np.float32)])
    biases = (3 + 2) * 4
    assert model.nbytes("dense") == (12 + 6) * 4 + biases == 92
    # CSR: nnz * (4 B value + 4 B int32 column) + (n_rows + 1) * 4 B row pointers
    assert model.nbytes("csr") == (5 * 8 + 5 * 4) + (2 * 8 + 4 * 4) + biases == 112
    assert model.nbytes() == model.nbytes("dense")
    model.weights = [sparse.to_csr(W) for W in model.weights]
    assert model.nbytes() == model.nbytes("csr") == 112
    assert model.count_nonzero() == 7


def test_from_weights_copies_and_copy_is_independent():
    W, b = np.ones((2, 3), np.float32), np.zeros(3, np.float32)
    model = MLP.from_weights([W], [b], [np.array([[True, False, True]] * 2)])
    assert np.array_equal(W, np.ones((2, 3))) and model.weights[0][0, 1] == 0
    clone = model.copy()
    clone.weights[0][0, 0] = 5
    clone.masks[0][0, 0] = False
    assert model.weights[0][0, 0] == 1 and model.masks[0][0, 0]


@given(masked_mlps_with_batches())
def test_mlp_methods_do_not_mutate_inputs_or_parameters(drawn):
    model, X, y = drawn
    inputs = [X, y] + model.params() + [m for m in model.masks if m is not None]
    before = [snapshot(a) for a in inputs]
    model.forward(X), model.forward(X, return_all=True), model.predict(X), model.predict_proba(X)
    model.score(X, y), model.loss(X, y), model.loss_and_grads(X, y), model.nbytes("csr"), model.copy()
    assert [snapshot(a) for a in inputs] == before


@given(masked_mlps_with_batches())
def test_masked_weights_get_zero_gradient(drawn):
    model, X, y = drawn
    _, grads = model.loss_and_grads(X, y)
    for g, W, mask in zip(grads[::2], model.weights, model.masks):
        assert g.shape == W.shape and sparse.is_sparse(g) == sparse.is_sparse(W)
        assert np.all(sparse.to_dense(g)[~mask] == 0)


@given(masked_mlps_with_batches())
def test_predict_proba_rows_sum_to_one_and_predict_picks_a_most_probable_class(drawn):
    model, X, _ = drawn
    P, y_hat = model.predict_proba(X), model.predict(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    assert np.array_equal(P, F.softmax(model.forward(X)))   # exact: predict_proba is this very computation
    assert np.array_equal(y_hat, model.forward(X).argmax(axis=1))
    assert np.array_equal(P[np.arange(len(X)), y_hat], P.max(axis=1))


# -- bad input --------------------------------------------------------------------

@pytest.mark.parametrize("X, exc, pattern", [
    (np.zeros((2, 4)), ValueError, r"X: expected 3 features .* found 4"),
    (np.zeros(3), ValueError, r"X: expected 2 dimensions, found shape \(3,\)"),
    (np.zeros((0, 3)), ValueError, r"X: expected a non-empty array, found shape \(0, 3\)"),
    (np.array([[0.0, np.nan, 1.0]]), ValueError, r"X: expected finite values, found 1 NaN/inf"),
    (np.array([[0.0, np.inf, -np.inf]]), ValueError, r"X: expected finite values, found 2 NaN/inf"),
    (np.array([["a", "b", "c"]]), TypeError, r"X: expected a numeric array, found dtype <U1"),
])
def test_bad_X_raises_naming_X(X, exc, pattern):
    model = MLP([3, 2], rng=0)
    for method in (model.forward, model.predict, model.predict_proba):
        with pytest.raises(exc, match=pattern):
            method(X)


@pytest.mark.parametrize("y, exc, pattern", [
    (np.array([0, 2]), ValueError, r"y: expected labels in \[0, 2\), found range \[0, 2\]"),
    (np.array([-1, 0]), ValueError, r"y: expected labels in \[0, 2\), found range \[-1, 0\]"),
    (np.array([0, 1, 1]), ValueError, r"y: expected shape \(2,\) to match X, found \(3,\)"),
    (np.array([0.5, 1.0]), TypeError, r"y: expected integer class labels, found dtype float64"),
])
def test_bad_labels_raise_naming_y(y, exc, pattern):
    model, X = MLP([3, 2], rng=0), np.zeros((2, 3))
    for method in (model.score, model.loss, model.loss_and_grads):
        with pytest.raises(exc, match=pattern):
            method(X, y)


def test_set_mask_inplace_rejects_wrong_shape_and_dtype():
    model = MLP([3, 2], rng=0)
    with pytest.raises(ValueError, match=r"mask: expected a boolean array of shape \(3, 2\), found bool \(2, 3\)"):
        model.set_mask_inplace(0, np.ones((2, 3), dtype=bool))
    with pytest.raises((ValueError, TypeError), match=r"mask: expected a boolean array .* found float64"):
        model.set_mask_inplace(0, np.ones((3, 2)))


def test_bad_constructor_arguments_raise_naming_them():
    with pytest.raises(ValueError, match=r"init: expected one of .*he_normal.*found 'xavier'"):
        MLP([3, 2], init="xavier")
    with pytest.raises(ValueError, match=r"layer_sizes: expected at least two positive sizes, found \[3\]"):
        MLP([3])
    with pytest.raises(ValueError, match=r"layer_sizes: .* found \[3, 0\]"):
        MLP([3, 0])
    with pytest.raises(TypeError, match="rng: expected None, an int or np.random.Generator, found str"):
        MLP([3, 2], rng="seed")


def test_mismatched_from_weights_raise_naming_the_argument():
    W1, W2 = np.zeros((3, 4)), np.zeros((5, 2))
    with pytest.raises(ValueError, match=r"weights\[1\]: expected 4 input rows, found shape \(5, 2\)"):
        MLP.from_weights([W1, W2], [np.zeros(4), np.zeros(2)])
    with pytest.raises(ValueError, match=r"biases\[0\]: expected shape \(4,\) .* found \(3,\)"):
        MLP.from_weights([W1], [np.zeros(3)])
    with pytest.raises(ValueError, match="weights, biases: expected equal non-zero lengths, found 1 and 2"):
        MLP.from_weights([W1], [np.zeros(4), np.zeros(2)])
    with pytest.raises(ValueError, match="masks: expected 1 entries .* found 2"):
        MLP.from_weights([W1], [np.zeros(4)], [None, None])
    with pytest.raises(ValueError, match=r"weights\[0\]: expected a 2-d float array"):
        MLP.from_weights([np.zeros(3)], [np.zeros(3)])
    with pytest.raises(ValueError, match=r"masks\[0\]: expected None or a boolean array of shape \(3, 4\)"):
        MLP.from_weights([W1], [np.zeros(4)], [np.ones((4, 3), dtype=bool)])


@given(masked_mlps_with_batches())
def test_dense_and_csr_mlps_agree_on_logits_loss_and_gradients(drawn):
    model, X, y = drawn
    dense = MLP.from_weights([sparse.to_dense(W) for W in model.weights], model.biases, model.masks)
    np.testing.assert_allclose(model.forward(X), dense.forward(X), rtol=1e-10, atol=1e-10)
    loss, grads = model.loss_and_grads(X, y)
    loss_dense, grads_dense = dense.loss_and_grads(X, y)
    assert loss == pytest.approx(loss_dense, rel=1e-10, abs=1e-12)
    for g, g_dense in zip(grads, grads_dense):
        np.testing.assert_allclose(sparse.to_dense(g), g_dense, rtol=1e-10, atol=1e-10)


# -- Sequential ---------------------------------------------------------------------------
def test_weights_biases_and_masks_list_the_weight_layers_and_write_through():
    model = small_cnn((4, 4, 1), 3, channels=(2,), hidden=4, rng=0)
    layers = model.weight_layers()
    assert [W is L.W for W, L in zip(model.weights, layers)] == [True] * 3 and model.n_layers == 3
    model.weights[1] = sparse.to_csr(model.weights[1])
    assert sparse.is_sparse(layers[1].W)
    model.biases = [b + 1 for b in model.biases]
    assert all(np.all(L.b == 1) for L in layers)
    model.masks[0] = np.ones(layers[0].W.shape, bool)
    assert layers[0].mask is not None and model.param_masks()[0] is layers[0].mask
    with pytest.raises(ValueError, match="weights: expected 3 entries"):
        model.weights = model.weights[:2]


def test_small_cnn_weight_shapes_are_the_built_models_without_building_it():
    from nnlite.models import small_cnn_weight_shapes
    for shape, channels in (((8, 8, 1), (2, 3)), ((9, 7, 3), (4,)), ((32, 32, 3), (16, 32))):
        model = small_cnn(shape, 10, channels=channels, hidden=5, rng=0)
        assert small_cnn_weight_shapes(shape, 10, channels, 5) == [L.W.shape for L in model.weight_layers()]


def test_mlp_logits_is_the_mlps_forward_pass_and_copy_is_independent():
    from nnlite.models import mlp_logits
    model = MLP([5, 4, 3], rng=0)
    X = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    np.testing.assert_array_equal(mlp_logits(X, model.weights, model.biases), model.forward(X))
    twin = model.copy()
    twin.weights[0][0, 0] += 1
    assert model.weights[0][0, 0] != twin.weights[0][0, 0]


def test_a_batched_prediction_equals_the_whole_batch():
    model = small_cnn((4, 4, 1), 3, channels=(2,), hidden=4, rng=0)
    X = np.random.default_rng(1).standard_normal((7, 4, 4, 1)).astype(np.float32)
    whole = model.predict_proba(X)
    model.predict_batch = 3
    np.testing.assert_allclose(model.predict_proba(X), whole, rtol=1e-6)


# -- a CNN as a Sequential (moved from test_conv.py) -------------------------------------
def tiny_cnn(rng=0, dtype=np.float64):
    return Sequential([Conv2d(2, 3, 3, padding=1, rng=rng, dtype=dtype), MaxPool2d(2),
                Conv2d(3, 2, 2, stride=1, rng=rng, dtype=dtype), Flatten(),
                Dense(2 * 2 * 2, 4, rng=rng, dtype=dtype), Dense(4, 3, activation=None, rng=rng, dtype=dtype)],
               input_shape=(6, 6, 2))


def test_cnn_loss_and_grads_match_finite_differences():
    rng = np.random.default_rng(4)
    model = tiny_cnn()
    X, y = rng.standard_normal((3, 6, 6, 2)), np.array([0, 2, 1])
    _, grads = model.loss_and_grads(X, y)
    for p, g in zip(model.params(), grads):
        np.testing.assert_allclose(g, numerical_gradient(lambda: model.loss_and_grads(X, y)[0], p),
                                   rtol=1e-5, atol=1e-7)


def test_pooling_before_relu_gives_the_same_values_and_gradients():
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((4, 6, 6, 2)), np.array([0, 1, 2, 1])
    relu_first = Sequential([Conv2d(2, 3, 3, padding=1, rng=0, dtype=np.float64), MaxPool2d(2), Flatten(),
                      Dense(27, 3, activation=None, rng=0, dtype=np.float64)], input_shape=(6, 6, 2))
    pool_first = Sequential([Conv2d(2, 3, 3, padding=1, activation=None, rng=0, dtype=np.float64), MaxPool2d(2), ReLU(),
                      Flatten(), Dense(27, 3, activation=None, rng=0, dtype=np.float64)], input_shape=(6, 6, 2))
    (loss_a, grads_a), (loss_b, grads_b) = relu_first.loss_and_grads(X, y), pool_first.loss_and_grads(X, y)
    # Exact: max and ReLU commute exactly, and both networks then run the same products on the same
    # arrays, so the claim is bit-identity.
    assert loss_a == loss_b and all(np.array_equal(a, b) for a, b in zip(grads_a, grads_b))


def test_cnn_grads_respect_masks_and_fit_learns_a_toy_problem():
    rng = np.random.default_rng(5)
    model = small_cnn((8, 8, 1), 2, channels=(4,), hidden=8, rng=0)
    mask = rng.random(model.layers[0].W.shape) < 0.5
    model.layers[0].set_mask_inplace(mask)
    X = rng.standard_normal((64, 8, 8, 1)).astype(np.float32)
    y = (X[:, :4].mean(axis=(1, 2, 3)) > X[:, 4:].mean(axis=(1, 2, 3))).astype(int)
    history = model.fit(X, y, optimizer=Adam(1e-2), epochs=15, batch_size=16, rng=0, progress=False).history_
    assert history.accuracy[-1] > 0.9 and np.all(model.layers[0].W[~mask] == 0)


def test_kernel_larger_than_input_is_a_clear_error():
    with pytest.raises(ValueError, match="kernel 5x5 is larger than the padded input 4x4"):
        Sequential([Conv2d(1, 2, 5), Flatten(), Dense(2, 2)], input_shape=(4, 4, 1))


def test_channel_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"expected an input of shape \(h, w, 3\).*found \(8, 8, 1\)"):
        Sequential([Conv2d(3, 2, 3), Flatten(), Dense(72, 2)], input_shape=(8, 8, 1))


def test_wrong_image_shape_and_missing_flatten_are_clear_errors():
    model = small_cnn((8, 8, 1), 2, channels=(2,), hidden=4, rng=0)
    with pytest.raises(ValueError, match="NHWC"):
        model.forward(np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match="add a Flatten layer"):
        Sequential([Conv2d(1, 2, 3), Dense(2, 2)], input_shape=(4, 4, 1))


def test_forward_does_not_mutate_its_input():
    X = np.random.default_rng(6).standard_normal((2, 6, 6, 2))
    before = X.copy()
    tiny_cnn().loss_and_grads(X, np.array([0, 1]))
    assert np.array_equal(X, before)


def test_cnn_predictions_probabilities_and_sizes_are_consistent():
    model = tiny_cnn()
    X = np.random.default_rng(8).standard_normal((5, 6, 6, 2))
    model.predict_batch = 2  # forces the batched path
    P = model.predict_proba(X)
    assert np.allclose(P.sum(axis=1), 1) and np.array_equal(P.argmax(axis=1), model.predict(X))
    n_weights = sum(layer.W.size for layer in model.weight_layers())
    assert model.count_nonzero() == n_weights
    assert model.nbytes("dense") == sum(layer.W.nbytes + layer.b.nbytes for layer in model.weight_layers())
