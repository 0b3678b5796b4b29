"""pruning.rigl: RigL's drop and grow steps by hand, its invariants on a model in
both storages, and the dense gradient it regrows by."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnlite.models import small_cnn
from nnlite.optim import Adam
from nnlite.train import train_step_inplace
from pruning import rigl
from pruning.sparse_layers import dynamic_layers
from test_dsr import sparse_cnn, toy_data


def test_update_fraction_decays_by_a_cosine_to_zero_at_the_end():
    assert rigl.update_fraction(0, 0.3, 100) == 0.3
    assert np.isclose(rigl.update_fraction(50, 0.3, 100), 0.15)  # cos(pi / 2) = 0 up to rounding
    assert rigl.update_fraction(100, 0.3, 100) == 0.0 and rigl.update_fraction(150, 0.3, 100) == 0.0


def test_drop_and_grow_by_hand():
    W = np.array([[0.5, -0.1, 0.0], [0.3, 0.0, 0.0]])
    active = np.array([[True, True, False], [True, False, False]])
    kept = rigl.drop_smallest(W, active, 1)
    assert np.array_equal(kept, [[True, False, False], [True, False, False]])  # |-0.1| is the smallest
    grad = np.array([[9.0, 2.0, -3.0], [9.0, 0.5, 1.0]])
    # candidates: every position outside `kept` (the just-dropped one included); largest |grad| is -3.0
    assert np.array_equal(rigl.grow_largest_gradient(kept, grad, 1), [[True, False, True], [True, False, False]])
    # two to grow: -3.0 then 2.0 (the position just dropped)
    assert np.array_equal(rigl.grow_largest_gradient(kept, grad, 2), [[True, True, True], [True, False, False]])


def test_dense_weight_gradients_match_a_plain_model_with_the_same_weights():
    X, y = toy_data()
    for storage in ("dense", "csr"):
        model = sparse_cnn(storage)
        plain = small_cnn((8, 8, 1), 3, channels=(4, 6), hidden=10, rng=0)
        for a, b in zip(plain.weight_layers(), dynamic_layers(model)):
            a.W, a.b = b.dense_weight(), b.b.copy()
        _, grads = plain.loss_and_grads(X, y)
        expected = [g for g, p in zip(grads, plain.params()) if any(p is L.W for L in plain.weight_layers())]
        masks = [layer.mask.copy() for layer in dynamic_layers(model)]
        got = rigl.dense_weight_gradients(model, X, y)
        # the same products in the same order for dense storage; CSR forward sums in another order (float32)
        for g, e in zip(got, expected):
            assert g.shape == e.shape and np.allclose(g, e, rtol=1e-4, atol=1e-6)
        assert any(np.abs(g[~m]).sum() > 0 for g, m in zip(got, masks))  # inactive positions get a gradient
        assert all(np.array_equal(layer.mask, m) for layer, m in zip(dynamic_layers(model), masks))
        assert all(layer.is_csr == (storage == "csr") for layer in dynamic_layers(model))  # storage untouched


@pytest.mark.parametrize("storage", ["dense", "csr"])
def test_rigl_regrows_at_zero_and_keeps_every_layer_count(storage):
    model, (X, y) = sparse_cnn(storage), toy_data()
    optimizer = Adam(1e-2)
    method = rigl.RigL(n_steps=40, data=(X, y), batch_size=16, alpha=0.5, update_period=3, rng=0)
    counts = [layer.n_active for layer in dynamic_layers(model)]
    for _ in range(12):
        train_step_inplace(model, optimizer, X, y)
        before = [layer.mask.copy() for layer in dynamic_layers(model)]
        n_updates = len(method.history_)
        method.on_step(model, optimizer)
        for layer, mask in zip(dynamic_layers(model), before):
            new = layer.mask & ~mask
            if len(method.history_) == n_updates:  # between updates: nothing moves
                assert np.array_equal(layer.mask, mask)
            assert np.all(layer.dense_weight()[new] == 0) and np.all(layer.dense_weight()[~layer.mask] == 0)
            state = optimizer.state.get(next(i for i, p in enumerate(model.params()) if p is layer.W), {})
            if not layer.is_csr:  # a new connection's moments start at 0
                assert all(np.all(v[new] == 0) for v in state.values())
        assert [layer.n_active for layer in dynamic_layers(model)] == counts
    assert len(method.history_) == 4 and sum(sum(h["n_new"]) for h in method.history_) > 0


def test_pruned_weights_stay_zero_between_updates():
    model, (X, y) = sparse_cnn("dense"), toy_data()
    optimizer = Adam(1e-2)
    method = rigl.RigL(n_steps=10000, data=(X, y), batch_size=16, update_period=1000, rng=0)
    for _ in range(3):
        train_step_inplace(model, optimizer, X, y)
    method.iteration = 999
    method.on_step(model, optimizer)  # one update at iteration 1000
    masks = [layer.mask.copy() for layer in dynamic_layers(model)]
    for _ in range(5):
        train_step_inplace(model, optimizer, X, y)
        method.on_step(model, optimizer)
    for layer, mask in zip(dynamic_layers(model), masks):
        assert np.array_equal(layer.mask, mask) and np.all(layer.dense_weight()[~mask] == 0)


@given(st.integers(0, 2**16), st.floats(0.01, 1.0), st.sampled_from(["dense", "csr"]))
def test_rigl_update_keeps_the_number_of_active_weights(seed, alpha, storage):
    model, (X, y) = sparse_cnn(storage, rng=seed % 5), toy_data(rng=seed % 3)
    method = rigl.RigL(n_steps=10, data=(X, y), batch_size=8, alpha=alpha, update_period=1, end_fraction=1.0,
                       rng=seed)
    counts = [layer.n_active for layer in dynamic_layers(model)]
    for _ in range(3):
        method.on_step(model, None)
    assert [layer.n_active for layer in dynamic_layers(model)] == counts
    assert all(np.all(layer.dense_weight()[~layer.mask] == 0) for layer in dynamic_layers(model))


@pytest.mark.parametrize("kwargs, name", [({"n_steps": 0}, "n_steps"), ({"alpha": 0.0}, "alpha"),
                                          ({"end_fraction": 1.5}, "end_fraction"), ({"batch_size": 0}, "batch_size"),
                                          ({"update_period": True}, "update_period"), ({"data": None}, "data")])
def test_bad_rigl_options_raise_naming_them(kwargs, name):
    X, y = toy_data()
    with pytest.raises(ValueError, match=f"^{name}: expected"):
        rigl.RigL(**{"n_steps": 10, "data": (X, y), **kwargs})
