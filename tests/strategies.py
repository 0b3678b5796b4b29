"""Shared Hypothesis strategies, named after the shapes they draw.

Every strategy draws bounded finite floats and has a test in
``tests/test_strategies.py``. Sections belong to the engineers who wrote them;
append a new section rather than editing another one.
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nnlite import MLP, sparse

# ---------------------------------------------------------------------------
# Engine (nnlite.functional, sparse, mlp, optim, train, io)
# ---------------------------------------------------------------------------

#: Largest value drawn for inputs and weights (logits have their own bound).
FLOAT_BOUND = 10.0


def finite_floats(bound=FLOAT_BOUND, width=64):
    """Floats in [-bound, bound], never NaN or inf."""
    return st.floats(-bound, bound, allow_nan=False, allow_infinity=False, width=width)


def float_matrices(shape, bound=FLOAT_BOUND, dtype=np.float64):
    """An ndarray of ``shape`` with finite entries in [-bound, bound]."""
    width = np.dtype(dtype).itemsize * 8
    return hnp.arrays(dtype, shape, elements=finite_floats(bound, width))


def boolean_masks(shape):
    """A boolean ndarray of ``shape`` (True where a weight may be nonzero)."""
    return hnp.arrays(np.bool_, shape)


@st.composite
def dense_layer_arrays(draw, max_n=5, max_d=6, dtype=np.float64):
    """(X, W, b) with X (n, d_in), W (d_in, d_out), b (d_out,), sizes in [1, max]."""
    n, d_in, d_out = (draw(st.integers(1, m)) for m in (max_n, max_d, max_d))
    return (draw(float_matrices((n, d_in), dtype=dtype)), draw(float_matrices((d_in, d_out), dtype=dtype)),
            draw(float_matrices((d_out,), dtype=dtype)))


@st.composite
def sparse_layer_arrays(draw, max_n=5, max_d=6, dtype=np.float64):
    """(X, W, W_csr, b, mask): dense W zero off ``mask``, W_csr storing exactly the mask.

    X (n, d_in); W, mask (d_in, d_out); W_csr a csr_array of that shape.
    """
    X, W, b = draw(dense_layer_arrays(max_n, max_d, dtype))
    mask = draw(boolean_masks(W.shape))
    W = W * mask
    return X, W, sparse.to_csr(W, mask), b, mask


@st.composite
def logit_rows_with_labels(draw, bound=1e4, max_n=6, max_k=8):
    """(Z, y): logits Z (n, k) in [-bound, bound] (k >= 2), labels y (n,) in [0, k)."""
    n, k = draw(st.integers(1, max_n)), draw(st.integers(2, max_k))
    Z = draw(float_matrices((n, k), bound=bound))
    y = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    return Z, y


def mlp_layer_sizes(min_layers=1, max_layers=3, max_width=6):
    """``[d_in, h_1, ..., n_classes]`` with 1..max_layers layers and n_classes >= 2."""
    hidden = st.lists(st.integers(1, max_width), min_size=min_layers - 1, max_size=max_layers - 1)
    return st.tuples(st.integers(1, max_width), hidden, st.integers(2, max_width)).map(
        lambda t: [t[0], *t[1], t[2]])


@st.composite
def masked_mlps_with_batches(draw, max_n=6, dtype=np.float64, sparse_layers=True):
    """(model, X, y): an MLP with random masks (some layers CSR), X (n, d_in), y (n,).

    Every layer has a mask. A CSR layer stores either exactly its mask or its
    full pattern with the masked values set to 0 (converted before masking).
    """
    sizes = draw(mlp_layer_sizes())
    model = MLP(sizes, rng=draw(st.integers(0, 2**32 - 1)), dtype=dtype)
    for i, W in enumerate(model.weights):
        mask, layout = draw(boolean_masks(W.shape)), draw(st.sampled_from(["dense", "csr", "csr_then_mask"]))
        if sparse_layers and layout == "csr_then_mask":
            model.weights[i] = sparse.to_csr(W, np.ones(W.shape, dtype=bool))
        model.set_mask_inplace(i, mask)
        if sparse_layers and layout == "csr":
            model.weights[i] = sparse.to_csr(model.weights[i], mask)
    n = draw(st.integers(1, max_n))
    X = draw(float_matrices((n, sizes[0]), bound=3.0, dtype=dtype))
    y = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, sizes[-1] - 1)))
    return model, X, y


# ---------------------------------------------------------------------------
# Pruning (pruning.masks, pruning.schedules)
# ---------------------------------------------------------------------------

@st.composite
def weight_lists_with_masks(draw, max_layers=3, max_d=6):
    """(weights, masks): 1..max_layers float64 arrays W_i (d_i, e_i) and boolean masks of the same shapes.

    Weights are zero wherever their mask is False (as on a pruned model).
    """
    n_layers = draw(st.integers(1, max_layers))
    shapes = [(draw(st.integers(1, max_d)), draw(st.integers(1, max_d))) for _ in range(n_layers)]
    masks = [draw(boolean_masks(s)) for s in shapes]
    weights = [draw(float_matrices(s)) * m for s, m in zip(shapes, masks)]
    return weights, masks


def pruning_amounts(n_unpruned):
    """An ``amount`` for pruning: a float fraction in [0, 1] or an int count in [0, n_unpruned]."""
    return st.one_of(st.floats(0.0, 1.0, allow_nan=False), st.integers(0, n_unpruned))


# ---------------------------------------------------------------------------
# Conv (nnlite.conv, nnlite.layers, pruning.sparse_layers)
# ---------------------------------------------------------------------------

@st.composite
def conv_geometries(draw, max_n=3, max_hw=7, max_c=3, max_k=4):
    """(X, W, b, kernel_size, stride, padding) for one valid float64 convolution.

    X (n, h, w, c_in) NHWC, W (kh * kw * c_in, c_out), b (c_out,); the kernel
    fits the padded input (h + 2 * padding >= kh, likewise for w).
    """
    n, c_in, c_out = draw(st.integers(1, max_n)), draw(st.integers(1, max_c)), draw(st.integers(1, max_c))
    padding, stride = draw(st.integers(0, 2)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, max_k)), draw(st.integers(1, max_k))
    h = draw(st.integers(max(1, kh - 2 * padding), max_hw))
    w = draw(st.integers(max(1, kw - 2 * padding), max_hw))
    X = draw(float_matrices((n, h, w, c_in), bound=3.0))
    W = draw(float_matrices((kh * kw * c_in, c_out), bound=3.0))
    b = draw(float_matrices((c_out,), bound=3.0))
    return X, W, b, (kh, kw), stride, padding


@st.composite
def pool_geometries(draw, max_n=3, max_hw=7, max_c=3):
    """(X, pool_size, stride): X (n, h, w, c) float64 with h, w >= the pool size."""
    ph, pw, stride = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    shape = (draw(st.integers(1, max_n)), draw(st.integers(ph, max_hw)), draw(st.integers(pw, max_hw)),
             draw(st.integers(1, max_c)))
    return draw(float_matrices(shape, bound=3.0)), (ph, pw), stride


# ---------------------------------------------------------------------------
# Decomposition (decomposition.*)
# ---------------------------------------------------------------------------

@st.composite
def decomposable_mlps_with_labelled_batches(draw, min_hidden=1, max_hidden=3, max_width=5, max_classes=4,
                                            max_n=24):
    """(model, X, y): a float64 MLP with 1..max_hidden hidden layers and X (n, d_in), y (n,) with every class.

    Widths in [2, max_width], n_classes in [2, max_classes], n in [2 * n_classes, max_n];
    weights are drawn from a seed (Glorot uniform), biases in [-0.5, 0.5], X in [-3, 3].
    """
    n_hidden = draw(st.integers(min_hidden, max_hidden))
    n_classes = draw(st.integers(2, max_classes))
    sizes = [draw(st.integers(2, max_width)) for _ in range(n_hidden + 1)] + [n_classes]
    model = MLP(sizes, rng=draw(st.integers(0, 2**32 - 1)), dtype=np.float64)
    model.biases = [draw(float_matrices(b.shape, bound=0.5)) for b in model.biases]
    n = draw(st.integers(2 * n_classes, max(2 * n_classes, max_n)))
    X = draw(float_matrices((n, sizes[0]), bound=3.0))
    order = draw(st.permutations(range(n)))
    y = (np.asarray(order) % n_classes).astype(np.int64)
    return model, X, y


def decomposition_settings():
    """(approach, propagation) pairs accepted by ``decomposition.decompose``."""
    return st.tuples(st.sampled_from(("TI-I", "TI-PN", "TI-HP", "TI-SNE", "CM-C", "CM-RIE")),
                     st.sampled_from(("linear", "relu")))


# ---------------------------------------------------------------------------
# WANN (pruning.wann)
# ---------------------------------------------------------------------------

#: Names of the four WANN mutations (as in ``pruning.wann.MUTATIONS``).
WANN_MUTATIONS = ("add_connection", "add_node", "enable_connection", "change_activation")


@st.composite
def wann_genomes(draw, max_inputs=4, max_outputs=3, max_mutations=25):
    """A valid ``pruning.wann.Genome``: a minimal genome (1..max_inputs inputs,
    1..max_outputs outputs, each input->output connection enabled with a drawn
    probability) grown by 0..max_mutations random mutations from a drawn seed."""
    from pruning import wann
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    genome = wann.initial_genome(draw(st.integers(1, max_inputs)), draw(st.integers(1, max_outputs)), rng,
                                 p_enable=draw(st.floats(0.0, 1.0)))
    for _ in range(draw(st.integers(0, max_mutations))):
        genome = wann.mutate(genome, rng)
    return genome


def wann_mutation_sequences(max_length=20):
    """A list of 0..max_length mutation names drawn from ``WANN_MUTATIONS``."""
    return st.lists(st.sampled_from(WANN_MUTATIONS), max_size=max_length)


# ---------------------------------------------------------------------------
# Bad inputs (the bad-input suites, tests/test_bad_inputs_*.py)
# ---------------------------------------------------------------------------

#: The kinds of bad array every public entry point must refuse.
BAD_ARRAY_KINDS = ("nan", "inf", "complex", "object", "string", "empty", "wrong_ndim", "wrong_width")


@st.composite
def bad_arrays(draw, shape, kinds=BAD_ARRAY_KINDS):
    """(kind, array): an array meant to have ``shape`` (a tuple of ints) but bad in one way.

    "nan"/"inf" put one non-finite value in a float array of ``shape``;
    "complex", "object" and "string" have ``shape`` but the wrong dtype;
    "empty" has a zero-length first axis; "wrong_ndim" adds an axis;
    "wrong_width" changes the last axis by one or more.
    """
    kind = draw(st.sampled_from(kinds))
    good = draw(float_matrices(shape, bound=1.0))
    if kind in ("nan", "inf"):
        bad = good.copy()
        bad.flat[draw(st.integers(0, bad.size - 1))] = np.nan if kind == "nan" else -np.inf
    elif kind == "complex":
        bad = good + 1j
    elif kind == "object":
        bad = good.astype(object)
    elif kind == "string":
        bad = good.astype(str)
    elif kind == "empty":
        bad = np.zeros((0,) + tuple(shape[1:]))
    elif kind == "wrong_ndim":
        bad = good[..., None]
    else:
        bad = np.zeros(tuple(shape[:-1]) + (shape[-1] + draw(st.integers(1, 3)),))
    return kind, bad


def assert_rejected(call, argument, *args, **kwargs):
    """``call(*args, **kwargs)`` raises ValueError or TypeError whose message names ``argument``."""
    import pytest
    with pytest.raises((ValueError, TypeError)) as info:
        call(*args, **kwargs)
    assert argument in str(info.value), f"message does not name {argument!r}: {info.value}"
    return info.value


# ---------------------------------------------------------------------------
# Pairs of decomposition modules (reuse, the pair rule)
# ---------------------------------------------------------------------------

@st.composite
def module_pairs_with_inputs(draw, max_width=5, max_classes=4, max_n=12):
    """(module_a, module_b, X): two ``decomposition.Module`` of one shape and inputs X (n, d_in).

    One hidden layer of width in [1, max_width], n_classes in [2, max_classes],
    weights in [-2, 2]; the two modules have independent weights (as modules of
    two models would) and any targets, equal ones included; X in [-3, 3].
    """
    from decomposition import Module
    d_in, h = draw(st.integers(1, max_width)), draw(st.integers(1, max_width))
    n_classes = draw(st.integers(2, max_classes))

    def module():
        return Module([draw(float_matrices((d_in, h), bound=2.0)), draw(float_matrices((h, n_classes), bound=2.0))],
                      [draw(float_matrices((1, h), bound=2.0))[0], draw(float_matrices((1, n_classes), bound=2.0))[0]],
                      draw(st.integers(0, n_classes - 1)))
    return module(), module(), draw(float_matrices((draw(st.integers(1, max_n)), d_in), bound=3.0))

# Compact modules (decomposition.compact_modules)
# ---------------------------------------------------------------------------

def _zeroed(W, keep, rng):
    """W with the entries outside ``keep`` set to +0.0 or -0.0 (both signs of zero occur in real modules)."""
    zeros = np.where(rng.random(W.shape) < 0.5, 0.0, -0.0).astype(W.dtype)
    return np.where(keep, W, zeros)


def _module_with_dead_units(model, target, rng):
    """One module of ``model`` for ``target``: whole columns, rows and single edges zeroed, biases reset."""
    from decomposition import Module
    p_edge, p_column, p_row = rng.uniform(0.0, 0.5, size=3)
    weights, biases = [], []
    for i, (W, b) in enumerate(zip(model.weights, model.biases)):
        keep = (rng.random(W.shape) >= p_edge) & (rng.random(W.shape[1]) >= p_column) & \
               (rng.random((W.shape[0], 1)) >= p_row)
        weights.append(_zeroed(W, keep, rng))
        # bias: kept, 0, -0.0, negative or positive (a positive bias makes a unit without inputs a constant)
        kind = rng.integers(0, 5, size=b.shape)
        choices = [b, np.zeros_like(b), np.full_like(b, -0.0), -np.abs(b) - 0.1, np.abs(b) + 0.1]
        biases.append(np.choose(kind, choices).astype(b.dtype))
    if rng.random() < 0.5:  # channeled like CM: only the target and one other output column live
        live = np.zeros(weights[-1].shape[1], dtype=bool)
        live[[target, (target + 1) % len(live)]] = True
        weights[-1], biases[-1] = _zeroed(weights[-1], live, rng), np.where(live, biases[-1], 0.0)
    return Module(weights, biases, target, "drawn")


@st.composite
def modules_with_dead_units(draw, max_hidden=3, max_width=6, max_classes=4):
    """(modules, X): one ``decomposition.Module`` per class of a drawn MLP (float64), and X (n, d_in).

    Each module zeroes, from a drawn seed, whole incoming columns, outgoing
    rows and single edges (as +0.0 or -0.0), resets biases to 0, -0.0,
    negative or positive values, and in half the cases keeps only two live
    output columns (the target's and the next one), like CM-RIE. So units
    without inputs (constant or 0), without outputs, and dead logits all occur.
    """
    model, X, _ = draw(decomposable_mlps_with_labelled_batches(max_hidden=max_hidden, max_width=max_width,
                                                               max_classes=max_classes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return [_module_with_dead_units(model, k, rng) for k in range(model.layer_sizes[-1])], X

# Corrupt CSR weights (the engine's bad-input suite, tests/nnlite/test_bad_inputs_engine.py)
# ---------------------------------------------------------------------------

#: The ways a CSR weight's arrays can be corrupt (as read from a tampered file).
CORRUPT_CSR_KINDS = ("index_too_large", "index_negative", "indptr_not_from_0", "indptr_decreasing",
                     "indptr_past_nnz", "indptr_too_short", "indices_too_short", "nan_data", "int_indices_float")


def _corrupt_csr(W, kind, big):
    """Corrupt a CSR array's attributes in place, the way a tampered file would."""
    if kind == "index_too_large":
        W.indices[0] = W.shape[1] + big
    elif kind == "index_negative":
        W.indices[0] = -big
    elif kind == "indptr_not_from_0":
        W.indptr = W.indptr + 1
    elif kind == "indptr_decreasing":
        W.indptr[1] = W.indptr[-1] + 1
    elif kind == "indptr_past_nnz":
        W.indptr[-1] = W.nnz + big
    elif kind == "indptr_too_short":
        W.indptr = W.indptr[:-1]
    elif kind == "indices_too_short":
        W.indices = W.indices[:-1]
    elif kind == "nan_data":
        W.data[0] = np.nan
    else:
        W.indices = W.indices.astype(np.float64)
    return W


@st.composite
def corrupt_csr_weights(draw, shape, kinds=CORRUPT_CSR_KINDS):
    """(kind, W): a float32 CSR weight of ``shape`` (at least 2 rows; row 0 stores an
    entry) whose structure or values are corrupt in one way."""
    import scipy.sparse as sp
    kind = draw(st.sampled_from(kinds))
    dense = draw(float_matrices(shape, bound=1.0, dtype=np.float32))
    dense[0, 0] = 1.0
    W = sp.csr_array(dense)
    return kind, _corrupt_csr(W, kind, draw(st.sampled_from((1, 1000, 2**30))))


# -- grid parameters (nnlite.experiment.run_grid) ---------------------------------------

JSON_SCALARS = st.none() | st.booleans() | st.integers(-10**6, 10**6) | \
    st.floats(allow_nan=False, allow_infinity=False, width=64) | st.text(max_size=6)


def grid_params(max_size=5):
    """A task's parameters: a dict of str -> JSON value (scalars, lists and dicts nested twice at most)."""
    values = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)
    return st.dictionaries(st.text(max_size=6), values, max_size=max_size)


# -- torch-like pruning (pruning.torch_like) -------------------------------------------

@st.composite
def small_cnns_with_batches(draw, max_n=4, dtype=np.float64):
    """(model, X, y): a ``small_cnn`` on (4, 4, c) images (one conv block, c in 1..2), X (n, 4, 4, c), y (n,).

    The conv layer has 1..3 output channels, the hidden Dense 1..4 units, 2..3 classes.
    """
    from nnlite.models import small_cnn
    c, n_classes = draw(st.integers(1, 2)), draw(st.integers(2, 3))
    model = small_cnn((4, 4, c), n_classes, channels=(draw(st.integers(1, 3)),), hidden=draw(st.integers(1, 4)),
                      rng=draw(st.integers(0, 2**32 - 1)), dtype=dtype)
    n = draw(st.integers(1, max_n))
    X = draw(float_matrices((n, 4, 4, c), bound=3.0, dtype=dtype))
    y = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, n_classes - 1)))
    return model, X, y


def pruning_amounts_torch(n_candidates):
    """An ``amount`` torch accepts for ``n_candidates``: a bool, an int count <= n or a float fraction in [0, 1]."""
    return st.one_of(st.booleans() if n_candidates >= 1 else st.just(False), st.integers(0, n_candidates),
                     st.floats(0.0, 1.0, allow_nan=False))

# Replicated reuse/replacement records and module lists (decomposition.replicates, decomposition.reuse)
# ---------------------------------------------------------------------------

@st.composite
def reuse_rows_over_seeds(draw, max_seeds=6, max_pairs=5):
    """A list of synthetic intra-reuse rows: every pair (0, b) for b < n_pairs, once per seed 0..n_seeds-1.

    ``ma``, ``ma_official_rule`` and ``tma`` are percentages in [50, 100] with two decimals, as the commands print.
    """
    n_seeds, n_pairs = draw(st.integers(1, max_seeds)), draw(st.integers(1, max_pairs))
    percent = st.integers(5000, 10000).map(lambda v: v / 100)
    rows = []
    for seed in range(n_seeds):
        for b in range(n_pairs):
            ma, ma_official, tma = draw(percent), draw(percent), draw(percent)
            rows.append({"experiment": "intra-reuse", "dataset": "d", "class_a": 0, "class_b": b + 1,
                         "ma": ma, "ma_official_rule": ma_official, "tma": tma, "ma_ge_tma": ma >= tma,
                         "rule": "correct", "epochs": 1, "seed": seed, "modules": "stored"})
    return rows


@st.composite
def module_lists_with_batches(draw, max_modules=5, max_classes=5, max_n=8):
    """(modules, X): 2..max_modules one-hidden-layer ``decomposition.Module``s with random targets, X (n, 3).

    Weights in [-2, 2], X in [-3, 3]; every module has the same number of classes (2..max_classes).
    """
    from decomposition import Module
    n_classes, n_modules = draw(st.integers(2, max_classes)), draw(st.integers(2, max_modules))
    modules = [Module([draw(float_matrices((3, 4), bound=2.0)), draw(float_matrices((4, n_classes), bound=2.0))],
                      [draw(float_matrices((4,), bound=2.0)), draw(float_matrices((n_classes,), bound=2.0))],
                      draw(st.integers(0, n_classes - 1))) for _ in range(n_modules)]
    return modules, draw(float_matrices((draw(st.integers(1, max_n)), 3), bound=3.0))
