"""pruning.sparse_layers: DynamicLinear / DynamicConv2d in dense-with-mask and CSR storage."""
import numpy as np
import pytest

from nnlite import sparse
from nnlite.layers import Flatten, MaxPool2d
from nnlite.models import Sequential
from nnlite.optim import Adam
from nnlite.train import train_step_inplace
from pruning import sparse_layers
from pruning.sparse_layers import DynamicConv2d, DynamicLinear
from gradcheck import numerical_gradient
from test_sparse import AVAILABLE_BACKENDS


def make_pair(kind, sparsity=0.7, rng=0):
    """The same layer (same rng: same init and topology) stored dense and as CSR."""
    if kind == "linear":
        build = lambda storage: DynamicLinear(6, 5, sparsity, storage=storage, rng=rng, dtype=np.float64)  # noqa: E731
        X = np.random.default_rng(1).standard_normal((4, 6))
    else:
        build = lambda storage: DynamicConv2d(2, 3, 3, padding=1, sparsity=sparsity, storage=storage,  # noqa: E731
                                              rng=rng, dtype=np.float64)
        X = np.random.default_rng(1).standard_normal((2, 5, 5, 2))
    return build("dense"), build("csr"), X


@pytest.mark.parametrize("backend", AVAILABLE_BACKENDS)
@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_csr_and_dense_with_mask_layers_agree_forward_and_backward(kind, backend):
    dense, csr, X = make_pair(kind)
    assert not dense.is_csr and csr.is_csr and np.array_equal(dense.mask, csr.mask)
    A, cache = dense.forward(X)
    with sparse.use_backend(backend):
        A_s, cache_s = csr.forward(X)
    np.testing.assert_allclose(A_s, A, atol=1e-12)
    dA = np.random.default_rng(2).standard_normal(A.shape)
    dX, (dW, db) = dense.backward(dA, cache)
    with sparse.use_backend(backend):
        dX_s, (dW_s, db_s) = csr.backward(dA, cache_s)
    np.testing.assert_allclose(dX_s, dX, atol=1e-12)
    np.testing.assert_allclose(db_s, db, atol=1e-12)
    assert np.all(dW[~dense.mask] == 0)
    np.testing.assert_allclose(sparse.to_dense(dW_s), dW, atol=1e-12)


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_csr_layer_backward_matches_finite_differences_on_its_pattern(kind):
    _, layer, X = make_pair(kind)
    G = np.random.default_rng(3).standard_normal(layer.forward(X)[0].shape)
    dX, (dW, db) = layer.backward(G, layer.forward(X)[1])
    loss = lambda: np.sum(layer.forward(X)[0] * G)  # noqa: E731
    np.testing.assert_allclose(dX, numerical_gradient(loss, X), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dW.data, numerical_gradient(loss, layer.W.data), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, numerical_gradient(loss, layer.b), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("sparsity", [-0.1, 1.0, 1.5])
def test_sparsity_outside_unit_interval_is_a_clear_error(sparsity):
    with pytest.raises(ValueError, match=r"sparsity: expected a fraction of zero weights in \[0, 1\)"):
        DynamicLinear(4, 3, sparsity)
    with pytest.raises(ValueError, match="sparsity"):
        DynamicLinear(4, 3, 0.5, storage="dense", rng=0).set_sparsity_inplace(sparsity)


def test_non_numeric_sparsity_and_unknown_storage_are_clear_errors():
    with pytest.raises(TypeError, match="sparsity: expected a float"):
        DynamicConv2d(1, 2, 3, sparsity="0.9", storage="csr")
    with pytest.raises(ValueError, match="storage: expected one of"):
        DynamicLinear(4, 3, 0.5, storage="coo")


def test_dynamic_conv_reports_kernel_and_channel_errors():
    with pytest.raises(ValueError, match="kernel 7x7 is larger"):
        Sequential([DynamicConv2d(1, 2, 7, sparsity=0.5, storage="csr"), Flatten(), DynamicLinear(2, 2, 0.5, storage="csr")],
            input_shape=(5, 5, 1))
    with pytest.raises(ValueError, match=r"\(h, w, 2\)"):
        Sequential([DynamicConv2d(2, 2, 3, sparsity=0.5, storage="csr"), Flatten(), DynamicLinear(18, 2, 0.5, storage="csr")],
            input_shape=(5, 5, 1))


@pytest.mark.parametrize("storage", ["dense", "csr"])
def test_construction_gives_exactly_the_requested_number_of_active_weights(storage):
    layer = DynamicLinear(40, 25, 0.9, storage=storage, rng=0)
    assert layer.n_active == 100 and np.isclose(layer.sparsity, 0.9)
    assert np.all(layer.dense_weight()[~layer.mask] == 0)


@pytest.mark.parametrize("storage", ["dense", "csr"])
def test_set_sparsity_prunes_smallest_magnitudes_then_regrows_zeros(storage):
    layer = DynamicLinear(20, 10, 0.5, storage=storage, rng=0)
    W0, mask0 = layer.dense_weight(), layer.mask.copy()
    layer.set_sparsity_inplace(0.8)
    assert layer.n_active == 40 and np.all(layer.mask <= mask0)
    kept, dropped = np.abs(W0[layer.mask]), np.abs(W0[mask0 & ~layer.mask])
    assert kept.min() >= dropped.max()
    mask1 = layer.mask.copy()
    layer.set_sparsity_inplace(0.6, rng=1)
    grown = layer.mask & ~mask1
    assert layer.n_active == 80 and grown.sum() == 40 and np.all(layer.dense_weight()[grown] == 0)


@pytest.mark.parametrize("before, after", [("dense", "csr"), ("csr", "csr"), ("csr", "dense"), ("dense", "dense")])
def test_topology_change_keeps_optimizer_state_of_kept_weights_and_zeroes_the_rest(before, after):
    model = Sequential([DynamicConv2d(1, 2, 3, padding=1, sparsity=0.5, storage=before, rng=0), MaxPool2d(2), Flatten(),
                 DynamicLinear(8, 3, 0.5, activation=None, storage=before, rng=0)], input_shape=(4, 4, 1))
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((5, 4, 4, 1)).astype(np.float32), rng.integers(0, 3, 5)
    optimizer = Adam(1e-2)
    train_step_inplace(model, optimizer, X, y)
    layer = model.layers[3]
    state = sparse_layers.optimizer_state(model, optimizer, layer)
    m_before = sparse_layers._state_to_full(state["m"], layer.W).copy()
    new_mask = layer.mask.copy()
    new_mask.ravel()[np.flatnonzero(layer.mask)[:3]] = False
    new_mask.ravel()[np.flatnonzero(~layer.mask)[:3]] = True
    layer.storage = after
    layer.set_topology_inplace(new_mask, state)
    m_after = sparse_layers._state_to_full(state["m"], layer.W)
    assert layer.is_csr == (after == "csr") and state["m"].shape == _values(layer.W).shape
    np.testing.assert_array_equal(m_after, m_before * new_mask)
    train_step_inplace(model, optimizer, X, y)  # the optimizer runs on the new layout
    assert np.all(layer.dense_weight()[~new_mask] == 0)


def _values(W):
    return W.data if sparse.is_sparse(W) else W


def test_inactive_weights_stay_zero_and_csr_pattern_is_fixed_between_topology_changes():
    model = Sequential([DynamicConv2d(1, 3, 3, padding=1, sparsity=0.6, storage="csr", rng=0), MaxPool2d(2), Flatten(),
                 DynamicLinear(12, 3, 0.6, activation=None, storage="dense", rng=0)], input_shape=(4, 4, 1))
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 4, 4, 1)).astype(np.float32), rng.integers(0, 3, 8)
    conv, dense = model.layers[0], model.layers[3]
    indices = conv.W.indices.copy()
    optimizer = Adam(1e-2)
    for _ in range(5):
        train_step_inplace(model, optimizer, X, y)
    assert np.array_equal(conv.W.indices, indices) and np.all(dense.W[~dense.mask] == 0)


def test_memory_report_counts_csr_bytes_from_the_active_weights():
    layer = DynamicLinear(100, 50, 0.9, storage="dense", rng=0)
    memory = layer.memory()
    assert memory["bytes_dense"] == 100 * 50 * 4 + 50 * 4
    assert memory["bytes_csr"] == 500 * (4 + 4) + 101 * 4 + 50 * 4 == 4604
    assert memory["bytes_stored"] == memory["bytes_dense"]
    model = Sequential([Flatten(), layer], input_shape=(10, 10, 1))
    report = sparse_layers.memory_report(model)
    assert report["n_active"] == 500 and np.isclose(report["csr_over_dense"], 4604 / 20200)


def test_storage_for_follows_the_crossover_and_the_measurement_is_a_tested_density():
    sparse_layers.set_density_crossover(0.2)
    try:
        assert sparse_layers.storage_for(0.9) == "csr" and sparse_layers.storage_for(0.5) == "dense"
        assert DynamicLinear(10, 10, 0.9, storage=sparse_layers.storage_for(0.9), rng=0).is_csr
        layer = DynamicLinear(10, 10, 0.5, storage=sparse_layers.storage_for(0.5), rng=0)
        layer.set_sparsity_inplace(0.95)
        assert not layer.is_csr   # storage is fixed at construction: a sparser topology stays dense
    finally:
        sparse_layers._crossover.clear()
    value = sparse_layers.measure_density_crossover(64, 64, 16, densities=(0.05, 0.5), repeats=1)
    assert value in (0.0, 0.05, 0.5)
    with pytest.raises(ValueError, match="value: expected a density"):
        sparse_layers.set_density_crossover(2)
    with pytest.raises(ValueError, match="kind: expected one of"):
        sparse_layers.density_crossover("lstm")
    with pytest.raises(ValueError, match="storage: expected one of .*storage_for"):
        DynamicLinear(10, 10, 0.9, storage="auto")


def test_each_kind_of_layer_follows_its_own_crossover():
    sparse_layers.set_density_crossover(0.2, kind="linear")
    sparse_layers.set_density_crossover(0.0, kind="conv")
    try:
        assert sparse_layers.storage_for(0.9, "linear") == "csr"
        assert sparse_layers.storage_for(0.9, "conv") == "dense"
        assert sparse_layers.density_crossover("linear") == 0.2 and sparse_layers.density_crossover("conv") == 0.0
    finally:
        sparse_layers._crossover.clear()


def test_crossover_comes_from_the_environment_for_every_kind(monkeypatch):
    monkeypatch.setenv("NNLITE_CSR_CROSSOVER", "0.3")
    sparse_layers._crossover.clear()
    try:
        assert sparse_layers.density_crossover("linear") == sparse_layers.density_crossover("conv") == 0.3
    finally:
        sparse_layers._crossover.clear()
