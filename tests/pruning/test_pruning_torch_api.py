"""pruning.torch_like: torch.nn.utils.prune's interface on MLP and CNN, reversible until ``remove``."""
import numbers

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (assert_rejected, bad_arrays, masked_mlps_with_batches, pruning_amounts_torch,
                        small_cnns_with_batches)

from nnlite import MLP, SGD, Adam, sparse
from nnlite.models import small_cnn
from nnlite.train import train_step_inplace
from pruning import masks as M
from pruning import torch_like as P
from pruning.sparse_layers import DynamicConv2d, DynamicLinear


def _mlp(W):
    """A one-layer MLP around the kernel W (d_in, d_out)."""
    W = np.asarray(W, dtype=np.float64)
    return MLP.from_weights([W], [np.zeros(W.shape[1])])


# -- hand examples mirroring torch's documented behaviour -----------------------------
def test_l1_unstructured_prunes_the_smallest_fraction_and_keeps_the_original():
    W = np.array([[0.5, -1.0, 3.0, -0.2, 2.0], [-4.0, 0.1, 1.5, -2.5, 0.7]])
    model = P.l1_unstructured(_mlp(W), 0, amount=0.3)          # round(0.3 * 10) = 3: 0.1, -0.2, 0.5
    assert P.weight_mask(model, 0).tolist() == [[False, True, True, False, True], [True, False, True, True, True]]
    assert np.array_equal(model.weights[0], W * P.weight_mask(model, 0))
    assert np.array_equal(P.weight_orig(model, 0), W)           # copied, not computed: exact
    assert P.is_pruned(model)


def test_ln_structured_n2_torch_dim0_prunes_output_units_which_are_our_last_axis():
    # torch's Linear weight is (out, in); ours is (d_in, d_out): torch dim=0 is our dim=1.
    W = np.array([[1.0, 0.1, 3.0, 0.0], [1.0, 0.1, 0.0, 0.2], [1.0, 0.1, 0.0, 0.2]])  # column L2: 1.73 .17 3 .28
    model = _mlp(W)
    dim = P.dim_from_torch(model, 0, 0)
    assert dim == 1
    P.ln_structured(model, 0, amount=0.5, n=2, dim=dim)
    assert P.weight_mask(model, 0).all(axis=0).tolist() == [True, False, True, False]
    assert not P.weight_mask(model, 0)[:, [1, 3]].any()
    # L1 ranks the columns 3.0, 3.0, 0.3, 0.4: n=1 keeps 0 and 2 as well; inf (max) keeps 0 and 2.
    assert P.ln_structured(_mlp(W), 0, 2, 1, 1).masks[0].all(axis=0).tolist() == [True, False, True, False]
    assert P.ln_structured(_mlp(W), 0, 2, np.inf, 1).masks[0].all(axis=0).tolist() == [True, False, True, False]


def test_ln_structured_torch_dim1_prunes_inputs_which_are_our_rows():
    W = np.array([[0.1, 0.1], [5.0, 5.0], [1.0, 1.0]])
    model = P.ln_structured(_mlp(W), 0, 1, 2, P.dim_from_torch(_mlp(W), 0, 1))
    assert P.weight_mask(model, 0).all(axis=1).tolist() == [False, True, True]


def test_true_is_the_count_one_and_false_zero_as_in_torch():
    # torch: bool is numbers.Integral, so amount=True prunes one entry (not all of them).
    W = np.arange(1.0, 7.0).reshape(2, 3)
    assert (~P.l1_unstructured(_mlp(W), 0, True).masks[0]).sum() == 1
    assert (~P.l1_unstructured(_mlp(W), 0, False).masks[0]).sum() == 0
    assert (~P.l1_unstructured(_mlp(W), 0, 1.0).masks[0]).sum() == 6    # a float 1.0 is all
    assert (~P.l1_unstructured(_mlp(W), 0, 1).masks[0]).sum() == 1      # an int 1 is one
    assert P.torch_amount(True) == 1 and isinstance(P.torch_amount(True), int)


def test_a_second_pruning_acts_on_the_unpruned_entries_like_torchs_container():
    model = P.l1_unstructured(_mlp([[1.0, 2.0, 3.0, 4.0]]), 0, 0.5)    # 2 of 4 go
    P.l1_unstructured(model, 0, 0.5)                                   # round(0.5 * 2) = 1 more, not 2
    assert model.masks[0].tolist() == [[False, False, False, True]]
    # Structured: channels already all pruned are not counted again.
    model = P.ln_structured(_mlp(np.arange(1.0, 9.0).reshape(2, 4)), 0, 0.5, 2, 1)   # 2 of 4 columns
    P.ln_structured(model, 0, 0.5, 2, 1)                                             # 1 of the 2 left
    assert model.masks[0].all(axis=0).tolist() == [False, False, False, True]


def test_structured_after_unstructured_keeps_both_masks():
    W = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    model = P.l1_unstructured(_mlp(W), 0, 1)                           # 1.0 goes
    P.random_structured(model, 0, 1, dim=1, rng=0)                     # one whole column goes
    mask = model.masks[0]
    assert not mask[0, 0] and (~mask).all(axis=0).sum() == 1 and (~mask).sum() in (2, 3)
    assert np.array_equal(P.weight_orig(model, 0), W)


def test_remove_bakes_the_zeros_in_and_a_second_remove_raises_naming_layer():
    W = np.array([[1.0, -2.0], [3.0, -0.5]])
    model = P.l1_unstructured(_mlp(W), 0, 2)
    P.remove(model, 0)
    assert model.masks == [None] and not P.is_pruned(model)
    assert np.array_equal(model.weights[0], [[0.0, -2.0], [3.0, 0.0]])
    assert np.array_equal(P.weight_orig(model, 0), model.weights[0])  # nothing to recover any more
    error = assert_rejected(P.remove, "layer", model, 0)
    assert "has to be pruned" in str(error)
    assert_rejected(P.remove, "layer", _mlp(W), "weights[0]")


def test_remove_drops_the_masked_stored_entries_of_a_csr_weight():
    model = MLP([3, 2], rng=0)
    model.weights[0] = sparse.to_csr(model.weights[0], np.ones((3, 2), bool))
    P.l1_unstructured(model, 0, 2)
    P.remove(model, 0)
    assert model.weights[0].nnz == 4 and model.masks == [None]


def test_originals_survive_the_destructive_helpers_only_where_they_still_apply():
    W = np.array([[1.0, -2.0, 3.0, -4.0]])
    model = P.l1_unstructured(_mlp(W), 0, 2)                                  # 1 and -2 pruned, kept aside
    M.remove_masks_inplace(model)                                             # pruning.masks' permanent remove
    assert np.array_equal(P.weight_orig(model, 0), [[0.0, 0.0, 3.0, -4.0]])   # nothing pruned: orig is W
    P.l1_unstructured(model, 0, 1)                                            # a zero goes: orig is the zero
    assert np.array_equal(P.weight_orig(model, 0), [[0.0, 0.0, 3.0, -4.0]])
    M.set_masks_inplace(model, [np.ones((1, 4), bool)])                       # revived at 0, as documented
    assert np.array_equal(P.weight_orig(model, 0), model.weights[0])


def test_a_cnn_of_dynamic_layers_keeps_structured_pruning_through_training():
    model = small_cnn((4, 4, 1), 2, channels=(3,), hidden=4, rng=0, conv_layer=DynamicConv2d,
                      dense_layer=DynamicLinear, sparsity=0.3, storage="csr")
    P.ln_structured(model, 0, 1, 2, dim=-1)
    P.random_structured(model, 1, 2, dim=0, rng=0)
    masks = [P.weight_mask(model, i) for i in range(3)]
    X, y = np.random.default_rng(0).normal(size=(5, 4, 4, 1)).astype(np.float32), np.arange(5) % 2
    opt = Adam(0.05)
    for _ in range(3):
        train_step_inplace(model, opt, X, y)
    for (_, slot), mask in zip(P.weight_layers(model), masks):
        assert np.array_equal(slot.mask, mask) and not np.any(sparse.to_dense(slot.W)[~mask])


def test_cnn_layers_are_named_and_structured_pruning_removes_output_channels():
    model = small_cnn((6, 6, 2), 3, channels=(4,), hidden=5, rng=0)
    assert [name for name, _ in P.weight_layers(model)] == ["layers[0]", "layers[4]", "layers[5]"]
    assert P.dim_from_torch(model, 0, 0) == 3 and P.dim_from_torch(model, "layers[0]", 1) == 2
    W = model.layers[0].W.copy()
    P.ln_structured(model, "layers[0]", 0.5, 2, dim=-1)
    kernel_mask = model.layers[0].mask.reshape(3, 3, 2, 4)
    dropped = ~kernel_mask.any(axis=(0, 1, 2))
    assert dropped.sum() == 2 and kernel_mask[..., ~dropped].all()
    norms = np.linalg.norm(W, axis=0)
    assert norms[dropped].max() <= norms[~dropped].min()
    assert P.is_pruned(model) and P.is_pruned(model.layers[0]) and not P.is_pruned(model.layers[4])
    P.ln_structured(model.layers[0], None, 1, 1, dim=0)               # a kernel row (kh axis) of the layer itself
    assert not model.layers[0].mask.reshape(3, 3, 2, 4)[P.channel_norms(W.reshape(3, 3, 2, 4), 1, 0).argmin()].any()


def test_global_unstructured_ranks_the_chosen_layers_of_a_cnn_together():
    model = small_cnn((4, 4, 1), 2, channels=(2,), hidden=3, rng=1)
    P.global_unstructured(model, 10, layers=[0, "layers[5]"])
    assert sum((~L.mask).sum() for L in (model.layers[0], model.layers[5])) == 10 and model.layers[4].mask is None


def test_dynamic_layers_can_be_pruned_but_keep_their_topology():
    layer = DynamicConv2d(2, 4, 3, sparsity=0.5, storage="csr", rng=0)
    P.ln_structured(layer, None, 1, 2, dim=-1)
    assert (~layer.mask.reshape(3, 3, 2, 4).any(axis=(0, 1, 2))).sum() == 1
    assert not np.any(sparse.to_dense(layer.W)[~layer.mask])
    assert_rejected(P.remove, "layer", layer)
    dense = DynamicLinear(5, 4, sparsity=0.5, storage="dense", rng=0)
    before = dense.mask.copy()
    P.l1_unstructured(dense, None, 0.5)
    assert dense.mask.sum() == before.sum() - round(0.5 * before.sum()) and not np.any(dense.mask & ~before)


def test_torch_oracle_when_torch_is_installed():
    torch = pytest.importorskip("torch")
    prune = pytest.importorskip("torch.nn.utils.prune")
    rng = np.random.default_rng(0)
    W = rng.normal(size=(6, 5)).astype(np.float32)   # distinct values and norms: no ties; float32 like torch's
    linear = torch.nn.Linear(6, 5, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(W.T))
    prune.l1_unstructured(linear, "weight", amount=0.3)
    prune.ln_structured(linear, "weight", amount=True, n=2, dim=0)       # True: one channel
    prune.ln_structured(linear, "weight", amount=0.5, n=1, dim=1)
    prune.l1_unstructured(linear, "weight", amount=2)
    model = P.l1_unstructured(_mlp(W), 0, 0.3)
    P.ln_structured(model, 0, True, 2, P.dim_from_torch(model, 0, 0))
    P.ln_structured(model, 0, 0.5, 1, P.dim_from_torch(model, 0, 1))
    P.l1_unstructured(model, 0, 2)
    assert np.array_equal(model.masks[0], linear.weight_mask.numpy().T.astype(bool))
    assert np.array_equal(P.weight_orig(model, 0), linear.weight_orig.detach().numpy().T.astype(np.float64))
    # As documented in pruning.masks: torch's unstructured methods refuse True past validation (topk's parser).
    with pytest.raises(TypeError):
        prune.l1_unstructured(torch.nn.Linear(3, 2), "weight", amount=True)


# -- properties --------------------------------------------------------------------------
@st.composite
def masked_mlps_with_two_amounts(draw):
    model, X, y = draw(masked_mlps_with_batches())
    i = draw(st.integers(0, model.n_layers - 1))
    n1 = int(model.masks[i].sum())
    first = draw(pruning_amounts_torch(n1))
    n2 = n1 - (int(first) if isinstance(first, numbers.Integral) else round(first * n1))
    return model, i, first, draw(pruning_amounts_torch(n2))


@given(masked_mlps_with_two_amounts(), st.sampled_from(["l1", "random"]))
def test_successive_prunings_each_remove_their_amount_of_the_unpruned_entries(drawn, method):
    model, i, first, second = drawn
    prune = P.l1_unstructured if method == "l1" else lambda m, i, a: P.random_unstructured(m, i, a, rng=0)
    for amount in (first, second):
        old = model.masks[i].copy()
        prune(model, i, amount)
        n_old = int(old.sum())
        expected = int(amount) if isinstance(amount, numbers.Integral) else round(amount * n_old)   # torch's rule
        assert not np.any(model.masks[i] & ~old) and n_old - int(model.masks[i].sum()) == expected


@given(small_cnns_with_batches(), st.data())
def test_structured_pruning_removes_its_amount_of_the_live_channels_and_never_revives(drawn, data):
    model, _, _ = drawn
    slots = P.weight_layers(model)
    index = data.draw(st.integers(0, len(slots) - 1))
    slot = slots[index][1]
    dim = data.draw(st.integers(0, len(slot.kernel_shape) - 1))
    for _ in range(2):
        old = P.weight_mask(model, index).reshape(slot.kernel_shape)
        other = tuple(a for a in range(old.ndim) if a != dim)
        alive = int(old.any(axis=other).sum())
        amount = data.draw(pruning_amounts_torch(alive))
        if data.draw(st.booleans()):
            P.ln_structured(model, index, amount, data.draw(st.sampled_from([1, 2, np.inf, "fro"])), dim)
        else:
            P.random_structured(model, index, amount, dim, rng=0)
        new = P.weight_mask(model, index).reshape(slot.kernel_shape)
        assert not np.any(new & ~old)
        assert alive - int(new.any(axis=other).sum()) == M.n_to_prune(P.torch_amount(amount), alive)


@given(st.one_of(masked_mlps_with_batches(), small_cnns_with_batches()), st.sampled_from(["sgd", "momentum", "adam"]),
       st.data())
def test_reparametrised_weight_stays_orig_times_mask_and_pruned_entries_stay_zero_through_training(
        drawn, optimizer, data):
    model, X, y = drawn
    P.global_unstructured(model, data.draw(st.floats(0.0, 1.0)), pruning_method=data.draw(
        st.sampled_from(["l1", "random"])), rng=0)
    frozen = [P.weight_orig(model, i)[~P.weight_mask(model, i)] for i in range(len(P.weight_layers(model)))]
    opt = {"sgd": SGD(0.1), "momentum": SGD(0.1, momentum=0.9), "adam": Adam(0.05)}[optimizer]
    for _ in range(3):
        train_step_inplace(model, opt, X, y)
    for i, (_, slot) in enumerate(P.weight_layers(model)):
        mask, W = P.weight_mask(model, i), sparse.to_dense(slot.W)
        assert np.all(W[~mask] == 0)
        assert np.array_equal(P.weight_orig(model, i)[~mask], frozen[i])        # pruned originals are kept
        assert np.array_equal(P.weight_orig(model, i) * mask, W)                 # W = orig * mask
    for p, m, state in zip(model.params(), model.param_masks(), (opt.state[j] for j in range(len(opt.state)))):
        if m is not None and not sparse.is_sparse(p):
            assert all(np.all(s[~m] == 0) for s in state.values())              # no momentum on pruned weights


@given(st.one_of(masked_mlps_with_batches(), small_cnns_with_batches()), st.data())
def test_is_pruned_until_every_pruned_layer_is_removed_and_remove_twice_raises(drawn, data):
    model, _, _ = drawn
    n = len(P.weight_layers(model))
    P.l1_unstructured(model, data.draw(st.integers(0, n - 1)), data.draw(st.floats(0, 1)))
    assert P.is_pruned(model)
    for i in range(n):
        if P.weight_layers(model)[i][1].mask is not None:
            P.remove(model, i)
            assert_rejected(P.remove, "layer", model, i)
    assert not P.is_pruned(model)


@given(masked_mlps_with_batches(sparse_layers=False), st.data())
def test_global_pruning_removes_its_amount_over_all_layers_and_layer_pruning_per_layer(drawn, data):
    model, _, _ = drawn
    before = [m.copy() for m in model.masks]
    total = sum(int(m.sum()) for m in before)
    amount = data.draw(pruning_amounts_torch(total))
    P.global_unstructured(model, amount)
    assert total - sum(int(m.sum()) for m in model.masks) == M.n_to_prune(P.torch_amount(amount), total)
    origs = [P.weight_orig(model, i) for i in range(model.n_layers)]
    removed = np.concatenate([np.abs(W)[b & ~m] for W, b, m in zip(origs, before, model.masks)])
    kept = np.concatenate([np.abs(W)[m] for W, m in zip(model.weights, model.masks)])
    if removed.size and kept.size:
        assert removed.max() <= kept.min()


def test_the_differences_table_in_pruning_masks_names_every_torch_like_function():
    table = M.__doc__[M.__doc__.index("Differences from torch"):]
    for name in ("l1_unstructured", "random_unstructured", "ln_structured", "random_structured",
                 "global_unstructured", "custom_from_mask", "remove", "is_pruned", "weight_orig", "weight_mask"):
        assert name in table and callable(getattr(P, name))


# -- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize("amount", [-1, 1.5, -0.1, float("nan"), "0.5", None, np.bool_(True), 7])
def test_bad_amounts_are_rejected_naming_amount(amount):
    # 7 > the 6 entries; np.bool_ is not a numbers.Real, so torch refuses it too.
    assert_rejected(P.l1_unstructured, "amount", _mlp(np.ones((2, 3))), 0, amount)
    assert_rejected(P.ln_structured, "amount", _mlp(np.ones((2, 3))), 0, amount if amount != 7 else 4, 2, 1)


def test_bad_layers_dims_norms_methods_masks_and_models_are_rejected_naming_the_argument():
    model = small_cnn((4, 4, 1), 2, channels=(2,), hidden=3, rng=0)
    for layer in (3, -4, "layers[1]", True, None, 1.0):
        assert_rejected(P.l1_unstructured, "layer", model, layer, 0.5)
    for dim in (4, -5, True, 1.0):
        assert_rejected(P.ln_structured, "dim", model, 0, 0.5, 2, dim)
        assert_rejected(P.random_structured, "dim", model, 0, 0.5, dim)
    for n in (0, -1, "nuc", None, True, float("nan")):
        assert_rejected(P.ln_structured, "n", model, 0, 0.5, n, 0)
    assert_rejected(P.global_unstructured, "pruning_method", model, 0.5, pruning_method="l2")
    assert_rejected(P.global_unstructured, "layers", model, 0.5, layers=[0, 0])
    assert_rejected(P.custom_from_mask, "mask", model, 0, np.ones((3, 3), bool))
    assert_rejected(P.is_pruned, "model", object())
    assert not P.is_pruned(model)                                              # nothing was half-applied
    assert not any(hasattr(L, "weights_orig") for L in model.layers)          # nor any original saved


@given(bad_arrays((3, 4)))
def test_bad_importance_scores_are_rejected_naming_them(drawn):
    _, scores = drawn
    model = _mlp(np.ones((3, 4)))
    assert_rejected(P.l1_unstructured, "importance_scores", model, 0, 0.5, importance_scores=scores)
    assert_rejected(P.ln_structured, "importance_scores", model, 0, 0.5, 2, 1, importance_scores=scores)
    assert not P.is_pruned(model)
