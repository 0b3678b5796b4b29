"""pruning.masks: amount semantics, mask invariants, apply/set/remove, bad input."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import masked_mlps_with_batches, pruning_amounts, small_cnns_with_batches, weight_lists_with_masks

from nnlite import MLP, SGD, Adam, sparse
from nnlite.train import train_step_inplace
from pruning import masks as M


# -- hand examples -----------------------------------------------------------
def test_n_to_prune_rounds_fractions_half_to_even_like_torch():
    assert M.n_to_prune(0.5, 5) == 2       # round(2.5) == 2
    assert M.n_to_prune(0.3, 5) == 2       # round(1.5) == 2
    assert M.n_to_prune(0.7, 5) == 4       # round(3.5) == 4
    assert M.n_to_prune(1.0, 7) == 7 and M.n_to_prune(0.0, 7) == 0
    assert M.n_to_prune(3, 7) == 3 and M.n_to_prune(np.int64(2), 7) == 2


def test_magnitude_mask_removes_the_smallest_absolute_values():
    W = np.array([[0.1, -3.0], [2.0, -0.5]])
    assert M.magnitude_mask(W, 0.5).tolist() == [[False, True], [True, False]]
    assert M.magnitude_mask(W, 1).tolist() == [[False, True], [True, True]]


def test_amount_counts_only_the_unpruned_weights():
    W = np.array([[0.0, 1.0, 2.0, 3.0, 4.0]])
    mask = np.array([[False, True, True, True, True]])
    # 50% of the 4 unpruned weights: 2 more go (1.0 and 2.0), not 50% of 5.
    assert M.magnitude_mask(W, 0.5, mask).tolist() == [[False, False, False, True, True]]


def test_ties_go_to_the_lower_flat_index_and_the_earlier_layer():
    assert M.magnitude_mask(np.ones((2, 2)), 2).tolist() == [[False, False], [True, True]]
    new = M.global_magnitude_masks([np.ones((1, 2)), np.ones((1, 2))], 3)
    assert [m.tolist() for m in new] == [[[False, False]], [[False, True]]]


def test_global_pruning_ranks_across_layers():
    weights = [np.array([[0.1, 0.2]]), np.array([[5.0, 0.05, 6.0]])]
    new = M.global_magnitude_masks(weights, 0.6)       # 3 of 5 go: 0.05, 0.1, 0.2
    assert [m.tolist() for m in new] == [[[False, False]], [[True, False, True]]]


def test_prune_of_a_model_keeps_biases_and_untouched_layers():
    model = MLP([4, 3, 2], rng=0)
    model.biases[0][:] = 1e-6
    pruned = M.prune(model, 0.5, layers=[1])
    assert pruned.masks[0].all() and pruned.masks[1].sum() == 3
    assert np.array_equal(pruned.biases[0], model.biases[0])
    assert model.masks == [None, None]                      # input untouched


def test_remove_masks_bakes_in_zeros_and_drops_the_masks():
    model = M.prune(MLP([4, 3, 2], rng=0), 0.5, scope="global")
    baked = M.remove_masks(model)
    assert baked.masks == [None, None] and model.masks[0] is not None
    for W, m in zip(baked.weights, model.masks):
        assert np.all(W[~m] == 0)
    # Without masks the zeros may be trained away, as after torch's prune.remove.
    X, y = np.random.default_rng(0).normal(size=(8, 4)), np.arange(8) % 2
    train_step_inplace(baked, SGD(0.5), X, y)
    assert any(np.any(W[~m] != 0) for W, m in zip(baked.weights, model.masks))


def test_remove_masks_drops_masked_stored_entries_of_a_csr_weight():
    model = MLP([3, 2], rng=0)
    model.weights[0] = sparse.to_csr(model.weights[0], np.ones((3, 2), bool))
    model.set_mask_inplace(0, np.array([[True, False], [True, True], [False, True]]))
    baked = M.remove_masks(model)
    assert baked.weights[0].nnz == 4 and baked.masks == [None]
    assert np.array_equal(sparse.to_dense(baked.weights[0]), sparse.to_dense(model.weights[0]))


def test_set_masks_revives_a_connection_at_zero_but_apply_masks_does_not():
    model = M.prune(MLP([3, 2], rng=0), 3)
    everything = [np.ones((3, 2), bool)]
    assert M.apply_masks(model, everything).masks[0].sum() == 3
    revived = M.set_masks(model, everything)
    assert revived.masks[0].all() and np.count_nonzero(revived.weights[0]) == 3


def test_fraction_remaining_and_current_masks():
    model = M.prune(MLP([4, 5, 2], rng=0), [0.2, 0.5])
    masks = M.current_masks(model)
    assert masks[0].sum() == 16 and masks[1].sum() == 5
    assert M.fraction_remaining(masks) == pytest.approx(21 / 30)
    assert M.fraction_remaining(masks, layers=1) == 0.5


def test_random_mask_is_reproducible_for_a_seed():
    a, b = M.random_mask((10, 10), 0.3, rng=5), M.random_mask((10, 10), 0.3, rng=5)
    assert np.array_equal(a, b) and a.sum() == 70
    assert M.global_random_masks([(2, 3), np.zeros((4, 1))], 5, rng=0)[1].shape == (4, 1)


# -- properties -----------------------------------------------------------------
@st.composite
def masked_weights_with_amount(draw):
    weights, masks = draw(weight_lists_with_masks())
    n_unpruned = sum(int(m.sum()) for m in masks)
    return weights, masks, draw(pruning_amounts(n_unpruned))


@given(masked_weights_with_amount(), st.sampled_from(["magnitude", "random"]))
def test_global_pruning_never_revives_and_removes_exactly_the_documented_count(drawn, method):
    weights, masks, amount = drawn
    before = [(W.copy(), m.copy()) for W, m in zip(weights, masks)]
    new = (M.global_magnitude_masks(weights, amount, masks) if method == "magnitude"
           else M.global_random_masks(weights, amount, masks, rng=0))
    n_unpruned = sum(int(m.sum()) for m in masks)
    assert all(not np.any(n & ~m) for n, m in zip(new, masks))              # never revives
    assert n_unpruned - sum(int(n.sum()) for n in new) == M.n_to_prune(amount, n_unpruned)
    assert all(np.array_equal(W, W0) and np.array_equal(m, m0) for W, m, (W0, m0) in zip(weights, masks, before))


@given(masked_weights_with_amount())
def test_per_layer_pruning_removes_the_documented_count_in_every_layer(drawn):
    weights, masks, _ = drawn
    for W, m in zip(weights, masks):
        n = M.magnitude_mask(W, 0.37, m)
        assert not np.any(n & ~m)
        assert int(m.sum()) - int(n.sum()) == M.n_to_prune(0.37, int(m.sum()))


@given(masked_weights_with_amount())
def test_global_magnitude_pruning_removes_no_weight_larger_than_a_survivor(drawn):
    weights, masks, amount = drawn
    new = M.global_magnitude_masks(weights, amount, masks)
    removed = np.concatenate([np.abs(W)[m & ~n] for W, m, n in zip(weights, masks, new)])
    kept = np.concatenate([np.abs(W)[n] for W, n in zip(weights, new)])
    if removed.size and kept.size:
        assert removed.max() <= kept.min()


@given(masked_mlps_with_batches(sparse_layers=False), st.sampled_from(["sgd", "momentum", "adam"]),
       st.sampled_from(["layer", "global"]))
def test_pruned_weights_stay_zero_through_training(drawn, optimizer, scope):
    model, X, y = drawn
    pruned = M.prune(model, 0.5, scope=scope)
    opt = {"sgd": SGD(0.1), "momentum": SGD(0.1, momentum=0.9), "adam": Adam(0.05)}[optimizer]
    for _ in range(5):
        train_step_inplace(pruned, opt, X, y)
    for W, m in zip(pruned.weights, pruned.masks):
        assert np.all(W[~m] == 0)


@given(masked_mlps_with_batches())
def test_prune_does_not_mutate_the_model(drawn):
    model, _, _ = drawn
    before = [sparse.to_dense(W) for W in model.weights], [m.copy() for m in model.masks]
    M.prune(model, 0.5, scope="global")
    M.prune(model, 0.3, method="random", rng=0)
    M.remove_masks(model)
    assert all(np.array_equal(sparse.to_dense(W), W0) for W, W0 in zip(model.weights, before[0]))
    assert all(np.array_equal(m, m0) for m, m0 in zip(model.masks, before[1]))


# -- bad input -------------------------------------------------------------------
@pytest.mark.parametrize("amount, error, match", [
    (1.5, ValueError, "fraction in \\[0, 1\\]"), (-0.1, ValueError, "fraction"), (-1, ValueError, "count"),
    (7, ValueError, "count in \\[0, 6\\]"), (True, TypeError, "amount"), ("0.5", TypeError, "amount"),
    (float("nan"), ValueError, "fraction")])
def test_bad_amounts_raise_clear_errors(amount, error, match):
    with pytest.raises(error, match=match):
        M.magnitude_mask(np.ones((2, 3)), amount)


def test_bad_masks_layers_methods_and_scopes_raise_clear_errors():
    model = MLP([3, 2, 2], rng=0)
    with pytest.raises(ValueError, match="mask of shape \\(2, 3\\)"):
        M.magnitude_mask(np.ones((2, 3)), 0.5, np.ones((3, 2), bool))
    with pytest.raises(ValueError, match="boolean mask"):
        M.magnitude_mask(np.ones((2, 3)), 0.5, np.ones((2, 3)))
    with pytest.raises(ValueError, match="layers: expected layer indices in \\[0, 2\\)"):
        M.prune(model, 0.5, layers=[2])
    with pytest.raises(ValueError, match="method"):
        M.prune(model, 0.5, method="l2")
    with pytest.raises(ValueError, match="scope"):
        M.prune(model, 0.5, scope="row")
    with pytest.raises(ValueError, match="one per chosen layer"):
        M.prune(model, [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="expected 2 masks"):
        M.apply_masks(model, [None])
    with pytest.raises(ValueError, match="without NaN"):
        M.lowest_score_mask(np.array([[np.nan, 1.0]]), 1)


# -- a CNN: the same primitives over its weight layers ---------------------------------
@given(small_cnns_with_batches(), st.sampled_from(["layer", "global"]), st.sampled_from(["magnitude", "random"]))
def test_pruning_a_cnn_masks_every_weight_layer_and_training_keeps_the_zeros(cnn_and_batch, scope, method):
    model, X, y = cnn_and_batch
    pruned = M.prune(model, 0.5, method=method, scope=scope, rng=0)
    layers = pruned.weight_layers()
    assert [L.mask.shape for L in layers] == [L.W.shape for L in model.weight_layers()]
    assert all(np.all(L.W[~L.mask] == 0) for L in layers)
    assert model.count_nonzero() >= pruned.count_nonzero()
    assert all(L.mask is None for L in model.weight_layers())            # the original is untouched
    optimizer = Adam(1e-2)
    for _ in range(2):
        train_step_inplace(pruned, optimizer, X, y)
    assert all(np.all(L.W[~L.mask] == 0) for L in layers)
    assert M.fraction_remaining(M.current_masks(pruned)) == pytest.approx(
        sum(int(L.mask.sum()) for L in layers) / sum(L.mask.size for L in layers))


def test_global_magnitude_pruning_of_a_cnn_ranks_conv_and_dense_weights_together():
    from nnlite.models import small_cnn
    model = small_cnn((4, 4, 1), 2, channels=(2,), hidden=3, rng=0)
    pruned = M.prune(model, 0.5, scope="global")
    everything = np.concatenate([np.abs(L.W).ravel() for L in model.weight_layers()])
    kept = np.concatenate([np.abs(L.W)[L.mask] for L in pruned.weight_layers()])
    assert len(kept) == len(everything) - round(0.5 * len(everything))
    assert kept.min() >= np.sort(everything)[len(everything) - len(kept) - 1]
    removed = M.remove_masks(pruned)
    assert all(L.mask is None for L in removed.weight_layers()) and removed.count_nonzero() == len(kept)


# -- comparing masks -----------------------------------------------------------
def test_mask_jaccard_hand_example_and_extremes():
    a = np.array([[True, True, False, False]])
    b = np.array([[True, False, True, False]])
    assert M.mask_jaccard(a, b) == 1 / 3
    assert M.mask_jaccard(a, a) == 1.0 and M.mask_jaccard(a, ~a) == 0.0
    assert M.mask_jaccard(np.zeros((2, 2), bool), np.zeros((2, 2), bool)) == 1.0


def test_jaccard_by_chance_is_the_mean_over_random_masks_of_the_same_densities():
    a = np.zeros((50, 40), bool)
    a.ravel()[:600] = True                       # density 0.3
    b = np.zeros((50, 40), bool)
    b.ravel()[:1400] = True                      # density 0.7
    rng = np.random.default_rng(0)
    drawn = [M.mask_jaccard(rng.permutation(a.ravel()), rng.permutation(b.ravel())) for _ in range(200)]
    assert M.jaccard_by_chance(a, b) == pytest.approx(0.21 / 0.79)
    assert np.mean(drawn) == pytest.approx(M.jaccard_by_chance(a, b), abs=0.005)


@pytest.mark.parametrize("mask_a, mask_b, error, name", [
    (np.ones((2, 2)), np.ones((2, 2), bool), TypeError, "mask_a"),
    (np.ones((2, 2), bool), np.ones((2, 3), bool), ValueError, "mask_b"),
])
def test_mask_comparisons_refuse_bad_masks_naming_the_argument(mask_a, mask_b, error, name):
    for function in (M.mask_jaccard, M.jaccard_by_chance):
        with pytest.raises(error, match=name):
            function(mask_a, mask_b)
