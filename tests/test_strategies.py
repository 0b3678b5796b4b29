"""Each shared strategy in tests/strategies.py draws what its name and docstring promise."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from nnlite import MLP, sparse
from strategies import (FLOAT_BOUND, boolean_masks, dense_layer_arrays, finite_floats, float_matrices,
                        logit_rows_with_labels, masked_mlps_with_batches, mlp_layer_sizes, sparse_layer_arrays)

# ---------------------------------------------------------------------------
# Engine strategies
# ---------------------------------------------------------------------------


@given(finite_floats(bound=2.5))
def test_finite_floats_are_finite_and_bounded(x):
    assert np.isfinite(x) and -2.5 <= x <= 2.5


@given(st.data())
def test_float_matrices_have_requested_shape_dtype_and_bound(data):
    shape = data.draw(st.tuples(st.integers(0, 4), st.integers(1, 4)))
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    A = data.draw(float_matrices(shape, bound=3.0, dtype=dtype))
    assert A.shape == shape and A.dtype == dtype
    assert np.all(np.isfinite(A)) and np.all(np.abs(A) <= 3.0)


@given(boolean_masks((3, 4)))
def test_boolean_masks_are_bool_of_requested_shape(mask):
    assert mask.dtype == bool and mask.shape == (3, 4)


@given(dense_layer_arrays(max_n=4, max_d=5))
def test_dense_layer_arrays_have_matching_shapes(arrays):
    X, W, b = arrays
    (n, d_in), (d_in_w, d_out) = X.shape, W.shape
    assert d_in == d_in_w and b.shape == (d_out,) and 1 <= n <= 4 and max(d_in, d_out) <= 5
    for A in arrays:
        assert A.dtype == np.float64 and np.all(np.abs(A) <= FLOAT_BOUND)


@given(sparse_layer_arrays())
def test_sparse_layer_arrays_store_exactly_the_mask(arrays):
    X, W, W_csr, b, mask = arrays
    assert sparse.is_sparse(W_csr) and W_csr.format == "csr" and W_csr.shape == W.shape == mask.shape
    assert np.array_equal(sparse.pattern_mask(W_csr), mask)
    assert np.array_equal(W_csr.toarray(), W) and np.all(W[~mask] == 0)
    assert X.shape[1] == W.shape[0] and b.shape == (W.shape[1],)


@given(logit_rows_with_labels(bound=1e4))
def test_logit_rows_with_labels_have_valid_labels_and_bounded_logits(Zy):
    Z, y = Zy
    n, k = Z.shape
    assert k >= 2 and y.shape == (n,) and y.dtype == np.int64
    assert np.all((0 <= y) & (y < k)) and np.all(np.abs(Z) <= 1e4)


@given(mlp_layer_sizes(max_layers=3, max_width=6))
def test_mlp_layer_sizes_are_positive_with_at_least_two_classes(sizes):
    assert 2 <= len(sizes) <= 4 and min(sizes) >= 1 and sizes[-1] >= 2 and max(sizes) <= 6
    assert MLP(sizes, rng=0).layer_sizes == sizes


@given(masked_mlps_with_batches())
def test_masked_mlps_with_batches_respect_their_masks(drawn):
    model, X, y = drawn
    assert X.shape == (len(y), model.layer_sizes[0]) and X.dtype == np.float64
    assert np.all((0 <= y) & (y < model.layer_sizes[-1])) and np.all(np.abs(X) <= 3.0)
    for W, mask in zip(model.weights, model.masks):
        assert mask is not None and mask.shape == W.shape
        if sparse.is_sparse(W):
            pattern = sparse.pattern_mask(W)
            assert np.array_equal(pattern, mask) or pattern.all()
        assert np.all(sparse.to_dense(W)[~mask] == 0)


# -- pruning ----------------------------------------------------------------
from strategies import pruning_amounts, weight_lists_with_masks  # noqa: E402


@given(weight_lists_with_masks())
def test_weight_lists_with_masks_are_zero_off_their_masks(drawn):
    weights, masks = drawn
    assert 1 <= len(weights) == len(masks) <= 3
    for W, m in zip(weights, masks):
        assert m.dtype == bool and m.shape == W.shape and np.all(np.isfinite(W)) and np.all(W[~m] == 0)


@given(st.integers(0, 50).flatmap(lambda n: st.tuples(st.just(n), pruning_amounts(n))))
def test_pruning_amounts_are_fractions_or_counts_within_range(drawn):
    n, amount = drawn
    if isinstance(amount, int):
        assert 0 <= amount <= n
    else:
        assert 0.0 <= amount <= 1.0


# ---------------------------------------------------------------------------
# Conv strategies
# ---------------------------------------------------------------------------
from strategies import conv_geometries, pool_geometries  # noqa: E402


@given(conv_geometries())
def test_conv_geometries_fit_the_kernel_into_the_padded_input(drawn):
    X, W, b, (kh, kw), stride, padding = drawn
    n, h, w, c_in = X.shape
    assert W.shape[0] == kh * kw * c_in and b.shape == (W.shape[1],) and stride >= 1 and padding >= 0
    assert h + 2 * padding >= kh and w + 2 * padding >= kw
    assert all(np.all(np.isfinite(A)) and np.all(np.abs(A) <= 3.0) for A in (X, W, b))


@given(pool_geometries())
def test_pool_geometries_are_at_least_one_window(drawn):
    X, (ph, pw), stride = drawn
    assert X.ndim == 4 and X.shape[1] >= ph and X.shape[2] >= pw and stride >= 1
    assert np.all(np.isfinite(X)) and np.all(np.abs(X) <= 3.0)


# ---------------------------------------------------------------------------
# Decomposition strategies
# ---------------------------------------------------------------------------

from strategies import decomposable_mlps_with_labelled_batches, decomposition_settings  # noqa: E402


@given(decomposable_mlps_with_labelled_batches(max_hidden=2))
def test_decomposable_mlps_have_every_class_and_matching_shapes(drawn):
    model, X, y = drawn
    n_classes = model.layer_sizes[-1]
    assert 1 <= model.n_layers - 1 <= 2 and 2 <= n_classes <= 4
    assert X.shape == (len(y), model.layer_sizes[0]) and np.all(np.abs(X) <= 3.0)
    assert set(y.tolist()) == set(range(n_classes)) and y.dtype == np.int64
    assert all(np.all(np.abs(b) <= 0.5) for b in model.biases)


@given(decomposition_settings())
def test_decomposition_settings_are_known_names(setting):
    import decomposition
    approach, propagation = setting
    assert approach in decomposition.APPROACHES and propagation in decomposition.PROPAGATIONS


# ---------------------------------------------------------------------------
# WANN strategies
# ---------------------------------------------------------------------------

from strategies import WANN_MUTATIONS, wann_genomes, wann_mutation_sequences  # noqa: E402


@given(wann_genomes())
def test_wann_genomes_are_valid_with_bounded_inputs_and_outputs(genome):
    from pruning import wann
    wann.check_genome(genome)
    assert 1 <= genome.n_inputs <= 4 and 1 <= genome.n_outputs <= 3


@given(wann_mutation_sequences(max_length=5))
def test_wann_mutation_sequences_name_known_mutations(names):
    from pruning import wann
    assert len(names) <= 5 and set(names) <= set(WANN_MUTATIONS) == set(wann.MUTATIONS)


# ---------------------------------------------------------------------------
# Module pairs (decomposition reuse)
# ---------------------------------------------------------------------------

from strategies import module_pairs_with_inputs  # noqa: E402


@given(module_pairs_with_inputs())
def test_module_pairs_share_a_shape_and_take_X(drawn):
    module_a, module_b, X = drawn
    assert [W.shape for W in module_a.weights] == [W.shape for W in module_b.weights]
    assert X.shape[1] == module_a.d_in and 1 <= len(X) <= 12 and np.all(np.abs(X) <= 3.0)
    assert 0 <= module_a.target < module_a.n_classes and 0 <= module_b.target < module_b.n_classes

from strategies import modules_with_dead_units  # noqa: E402


@given(modules_with_dead_units())
def test_modules_with_dead_units_are_one_module_per_class_of_one_shape(drawn):
    modules, X = drawn
    assert [m.target for m in modules] == list(range(len(modules))) and len(modules) >= 2
    shapes = [W.shape for W in modules[0].weights]
    assert all([W.shape for W in m.weights] == shapes for m in modules)
    assert X.shape[1] == modules[0].d_in and np.all(np.isfinite(X))
    assert all(np.all(np.isfinite(W)) for m in modules for W in m.weights + m.biases)


# -- grid parameters ---------------------------------------------------------------------
from strategies import grid_params  # noqa: E402  (appended section)


@given(grid_params())
def test_grid_params_are_dicts_of_str_to_json_values(params):
    import json
    assert isinstance(params, dict) and all(isinstance(k, str) for k in params)
    json.dumps(params, allow_nan=False)   # raises if a value is not JSON


# -- torch-like pruning ---------------------------------------------------------
from strategies import pruning_amounts_torch, small_cnns_with_batches  # noqa: E402


@given(small_cnns_with_batches())
def test_small_cnns_with_batches_fit_their_model(drawn):
    model, X, y = drawn
    assert X.shape[1:] == model.input_shape and len(X) == len(y) and np.all(np.abs(X) <= 3.0)
    assert model.forward(X).shape == (len(X), model.n_classes) and np.all((0 <= y) & (y < model.n_classes))


@given(st.integers(0, 5).flatmap(lambda n: st.tuples(st.just(n), pruning_amounts_torch(n))))
def test_pruning_amounts_torch_are_valid_for_their_count(drawn):
    n, amount = drawn
    assert (0 <= amount <= n) if isinstance(amount, int) else 0.0 <= amount <= 1.0

# Replicated records and module lists (decomposition.replicates, decomposition.reuse)
# ---------------------------------------------------------------------------

from strategies import module_lists_with_batches, reuse_rows_over_seeds  # noqa: E402


@given(reuse_rows_over_seeds(max_seeds=3, max_pairs=4))
def test_reuse_rows_over_seeds_have_every_pair_once_per_seed(rows):
    seeds = {r["seed"] for r in rows}
    assert seeds == set(range(len(seeds))) and 1 <= len(seeds) <= 3
    pairs = [(r["class_a"], r["class_b"]) for r in rows if r["seed"] == 0]
    assert len(pairs) == len(set(pairs)) <= 4 and len(rows) == len(pairs) * len(seeds)
    assert all(50 <= r[k] <= 100 for r in rows for k in ("ma", "ma_official_rule", "tma"))
    assert all(r["ma_ge_tma"] == (r["ma"] >= r["tma"]) for r in rows)


@given(module_lists_with_batches(max_modules=3))
def test_module_lists_share_their_class_count_and_take_the_batch(drawn):
    modules, X = drawn
    assert 2 <= len(modules) <= 3 and len({m.n_classes for m in modules}) == 1
    assert all(0 <= m.target < m.n_classes for m in modules)
    assert modules[0].forward(X).shape == (len(X), modules[0].n_classes) and np.all(np.abs(X) <= 3)
