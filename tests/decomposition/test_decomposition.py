"""decomposition: hand-worked examples, a per-weight reference implementation, properties, bad input."""
import dataclasses

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import decomposition as dc
from decomposition.activity import activity_pass
from decomposition.concern_identification import ONCE, OFF, STICKY, ModuleMasks, identify_concern
from decomposition.concern_modularization import channel, remove_irrelevant_edges
from decomposition.fidelity import FIDELITY, fidelity_table
from decomposition.modules import Module, vote
from decomposition.tangling_identification import decompose_variant, identify_tangling, start_module
from nnlite import MLP
from strategies import decomposable_mlps_with_labelled_batches, decomposition_settings

PAPER, OFFICIAL = FIDELITY["paper"], FIDELITY["official"]
#: The official record without the p > 0.9 filter (random networks rarely reach it).
OFFICIAL_UNFILTERED = dataclasses.replace(OFFICIAL, name="official-unfiltered", positive_min_probability=0.0)
FIDELITIES = st.sampled_from([PAPER, OFFICIAL_UNFILTERED])

# ---------------------------------------------------------------------------
# A hand-built three-layer network (2 inputs, 2 hidden, 2 hidden, 2 classes)
# ---------------------------------------------------------------------------
W1 = np.array([[1.0, -1.0], [-1.0, 2.0]])
W2 = np.array([[1.0, 1.0], [-2.0, 1.0]])
W3 = np.array([[1.0, -1.0], [-1.0, 1.0]])
WEIGHTS = [W1, W2, W3]
BIASES = [np.zeros(2), np.zeros(2), np.zeros(2)]
X_A, X_C, X_N = np.array([[1.0, 0.0]]), np.array([[2.0, 1.0]]), np.array([[0.0, 1.0]])


def _ci(positives, propagation, fidelity=PAPER, variant="TI-I"):
    return identify_concern(ModuleMasks.empty(WEIGHTS, BIASES), WEIGHTS,
                            activity_pass(WEIGHTS, BIASES, positives, propagation), fidelity, variant)


def test_activity_pass_by_hand_linear_differs_from_relu():
    # x_a = [1, 0]: layer 1 = [1, -1]; linear layer 2 = [1, -1] @ W2 = [3, 0]; relu: [1, 0] @ W2 = [1, 1]
    linear, relu = (activity_pass(WEIGHTS, BIASES, X_A, p) for p in ("linear", "relu"))
    np.testing.assert_array_equal(linear.values[1], [[3.0, 0.0]])
    np.testing.assert_array_equal(relu.values[1], [[1.0, 1.0]])
    np.testing.assert_array_equal(linear.active[1], [[True, False]])
    np.testing.assert_array_equal(relu.active[1], [[True, True]])
    np.testing.assert_allclose(linear.probabilities.sum(axis=1), 1.0)


def test_concern_identification_by_hand_linear():
    # x_a copies the active columns (indicator set): layer 1 keeps column 0, layer 2 keeps column 0.
    # x_c = [2, 1]: layer 1 = [1, 0] -> node 1 inactive; linear layer 2 = [1, 0] @ W2 = [1, 1], both active.
    # keep common edges: column 0 of W1 keeps its positive weight (row 0); W2 loses row 1 (node 1 of
    # layer 1 inactive), column 0 keeps its positive weight, column 1 was already empty.
    masks = _ci(np.vstack([X_A, X_C]), "linear")
    np.testing.assert_array_equal(masks.hidden_edges[0], [[True, False], [False, False]])
    np.testing.assert_array_equal(masks.hidden_edges[1], [[True, False], [False, False]])
    np.testing.assert_array_equal(masks.hidden_biases[0], [True, False])   # latest example (x_c)
    np.testing.assert_array_equal(masks.hidden_biases[1], [True, True])
    assert masks.output_columns.all()                                      # D_L stays W_L


def test_concern_identification_by_hand_relu_keeps_more():
    # relu: x_a activates both nodes of layer 2 ([1, 0] @ W2 = [1, 1]), so W2 is copied whole; x_c then
    # removes row 1 and the negative weight W2[1, 0] = -2; W2[0, 1] = 1 survives (it did not in linear).
    masks = _ci(np.vstack([X_A, X_C]), "relu")
    np.testing.assert_array_equal(masks.hidden_edges[1], [[True, True], [False, False]])


def test_tangling_identification_by_hand():
    # negative x_n = [0, 1]: layer 1 = [-1, 2], linear layer 2 = [-1, 2] @ W2 = [-5, 1]: node 1 active in
    # both layers, so both columns 1 come back whole (negative weights included).
    masks = identify_tangling(_ci(np.vstack([X_A, X_C]), "linear"), WEIGHTS,
                              activity_pass(WEIGHTS, BIASES, X_N, "linear"), PAPER, "TI-SNE")
    np.testing.assert_array_equal(masks.hidden_edges[0], [[True, True], [False, True]])
    np.testing.assert_array_equal(masks.hidden_edges[1], [[True, True], [False, True]])
    np.testing.assert_array_equal(masks.hidden_biases[1], [True, True])


def test_ti_hp_official_positives_after_negatives_overwrite_tangling():
    # TI-HP, authors' start (empty, flag set): the first positive copies active columns and zeroes
    # inactive ones, erasing TI's column 1.
    masks = decompose_variant(start_module(WEIGHTS, BIASES, OFFICIAL), WEIGHTS,
                              activity_pass(WEIGHTS, BIASES, X_A, "linear"),
                              activity_pass(WEIGHTS, BIASES, X_N, "linear"), OFFICIAL, "TI-HP")
    np.testing.assert_array_equal(masks.hidden_edges[0], [[True, False], [True, False]])


def test_ti_hp_paper_starts_from_the_network_so_its_module_is_ci_alone():
    # Alg. 3, line 3: D = W, indicator off. TI on D = W restores nothing; x_a then keeps the common
    # edges: layer 1 keeps the positive weights of its active node 0 (W1[0, 0] = 1), node 1 is
    # inactive; layer 2 (linear [1, -1] @ W2 = [3, 0]) keeps W2[0, 0] = 1 (row 1: node 1 inactive).
    start = start_module(WEIGHTS, BIASES, PAPER)
    assert start.indicator == OFF and start.output_columns.all()
    masks = decompose_variant(start, WEIGHTS, activity_pass(WEIGHTS, BIASES, X_A, "linear"),
                              activity_pass(WEIGHTS, BIASES, X_N, "linear"), PAPER, "TI-HP")
    np.testing.assert_array_equal(masks.hidden_edges[0], [[True, False], [False, False]])
    np.testing.assert_array_equal(masks.hidden_edges[1], [[True, False], [False, False]])
    ci_alone = identify_concern(start, WEIGHTS, activity_pass(WEIGHTS, BIASES, X_A, "linear"), PAPER, "TI-HP")
    for a, b in zip(masks.hidden_edges, ci_alone.hidden_edges):
        np.testing.assert_array_equal(a, b)


def test_channel_by_hand_paper_and_official_bias():
    D_L = np.array([[1.0, 2.0, 4.0], [3.0, -6.0, 0.0]])
    d_L = np.array([1.0, 2.0, 3.0])
    for fidelity, negative_bias in ((PAPER, 1.5), (OFFICIAL, 1.0)):   # official: (1 + 2 + 0) / 3
        (D,), (d,) = channel([D_L], [d_L], target=2, fidelity=fidelity)
        np.testing.assert_array_equal(D, [[1.5, 0.0, 4.0], [-1.5, 0.0, 0.0]])
        np.testing.assert_array_equal(d, [negative_bias, 0.0, 3.0])
    (D,), (d,) = channel([D_L], [d_L], target=0, fidelity=OFFICIAL)   # target 0: column 1, true mean
    np.testing.assert_array_equal(D, [[1.0, 3.0, 0.0], [3.0, -3.0, 0.0]])
    np.testing.assert_array_equal(d, [1.0, 2.5, 0.0])


def test_remove_irrelevant_edges_by_hand_official():
    # |w| < 0.05 to target 2: nodes 0 and 1. Node 0: negatives [1, 2] -> mean 1.5 into column 0, then
    # both listed edges (column 0 included) zeroed. Node 1: [4] -> column 0 = 4, column 1 zeroed.
    # Merge: the code sums column 1 (0 + 0) / 2 = 0 into node 0's column 0; node 1's column 0 -> 0.
    D_L = np.array([[1.0, 2.0, 0.0], [0.0, 4.0, 0.01], [5.0, 0.0, 3.0]])
    D_below = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    (Db, D), _, irrelevant = remove_irrelevant_edges([D_below, D_L], [None, None], 2, OFFICIAL)
    np.testing.assert_array_equal(irrelevant, [0, 1])
    np.testing.assert_array_equal(D, [[0.0, 0.0, 0.0], [0.0, 0.0, 0.01], [5.0, 0.0, 3.0]])
    np.testing.assert_array_equal(Db, [[1.5, 0.0, 3.0], [4.5, 0.0, 6.0]])


def test_remove_irrelevant_edges_by_hand_paper():
    # == 0 to target 2 with a nonzero negative edge: nodes 0 and 1. Node 0 ends with no negative edge
    # (its negative column was listed); node 1 keeps 4 in column 0 (column 0 was not listed).
    # Merge: sum of column 0 = 0 + 4 = 4 into node 0; node 1 -> 0; layer below: mean of columns 0, 1.
    D_L = np.array([[1.0, 2.0, 0.0], [0.0, 4.0, 0.0], [5.0, 0.0, 3.0]])
    D_below = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    (Db, D), _, _ = remove_irrelevant_edges([D_below, D_L], [None, None], 2, PAPER)
    np.testing.assert_array_equal(D, [[4.0, 0.0, 0.0], [0.0, 0.0, 0.0], [5.0, 0.0, 3.0]])
    np.testing.assert_array_equal(Db, [[1.5, 0.0, 3.0], [4.5, 0.0, 6.0]])


def test_vote_rule_by_hand():
    own = np.array([[0.9, 0.8, 0.1], [0.2, 0.3, 0.1], [0.5, 0.7, 0.7], [0.6, 0.6, 0.1]])
    votes = np.array([[False, True, False], [False, False, False], [True, True, True], [True, True, False]])
    # one vote -> voter; none -> argmax of all; several -> best voter, ties -> lowest index
    np.testing.assert_array_equal(vote(own, votes), [1, 1, 1, 0])


def test_fidelity_table_lists_every_difference():
    fields = [row[0] for row in fidelity_table()]
    for name in ("indicator_rule", "n_positives", "n_negatives_per_class", "ti_output_threshold",
                 "ci_output_threshold", "rie_irrelevant_rule", "cm_bias_mean", "positive_filter"):
        assert name in fields
    assert all(paper != official for field, paper, official in fidelity_table()
               if field in ("indicator_rule", "rie_irrelevant_rule", "cm_bias_mean"))


# ---------------------------------------------------------------------------
# A per-weight reference: Alg. 1-2 / the authors' loops, transcribed literally
# ---------------------------------------------------------------------------

def _layer_values(weights, biases, x, propagation):
    values, a = [], x
    for W, b in zip(weights, biases):
        z = a @ W + b
        values.append(z)
        a = np.maximum(z, 0) if propagation == "relu" else z
    e = np.exp(values[-1] - values[-1].max())
    return values, e / e.sum()


def reference_variant(weights, biases, positives, negatives, fidelity, variant, propagation):
    L = len(weights)
    if fidelity.module_start == "original":   # Alg. 3, line 3: D = W, b = B, indicator off
        D, d, state = [W.copy() for W in weights], [b.copy() for b in biases], {"indicator": OFF}
    else:                                     # the authors' code: zeros, first = True
        D, d, state = [np.zeros_like(W) for W in weights], [np.zeros_like(b) for b in biases], {"indicator": ONCE}
    source = biases[-1].copy()
    ci_threshold, ti_threshold = fidelity.ci_output_threshold[variant], fidelity.ti_output_threshold[variant]

    def check_indicator(after_ti):
        count = np.count_nonzero(D[-1])
        if fidelity.indicator_rule == "sticky_10_percent":
            if state["indicator"] == STICKY or count <= 0.1 * D[-1].size:
                state["indicator"] = STICKY
            elif not after_ti:
                state["indicator"] = OFF
        elif count < 45:
            state["indicator"] = ONCE
        elif not after_ti:
            state["indicator"] = OFF

    def ci(x):
        values, p = _layer_values(weights, biases, x, propagation)
        restore = state["indicator"] != OFF
        for i in range(L - 1):
            for j in range(weights[i].shape[1]):
                if values[i][j] <= 0:
                    D[i][:, j] = 0
                    d[i][j] = 0
                    if fidelity.zero_outgoing_rows[variant] and i < L - 2:
                        D[i + 1][j, :] = 0
                elif restore:
                    D[i][:, j] = weights[i][:, j]
                    d[i][j] = biases[i][j]
                else:
                    for k in range(weights[i].shape[0]):
                        if weights[i][k, j] < 0:
                            D[i][k, j] = max(D[i][k, j], weights[i][k, j])
                            D[i][k, j] = max(D[i][k, j], 0)
                        else:
                            D[i][k, j] = min(D[i][k, j], weights[i][k, j])
                    d[i][j] = biases[i][j]
        for j in range(weights[-1].shape[1]):
            if ci_threshold is not None and p[j] <= ci_threshold:
                D[-1][:, j] = 0
                if fidelity.ci_output_overwrites_bias:
                    source[j] = 0
                else:
                    d[-1][j] = 0
                continue
            if restore:
                D[-1][:, j] = weights[-1][:, j]
            else:
                for k in range(weights[-1].shape[0]):
                    w = weights[-1][k, j]
                    D[-1][k, j] = max(D[-1][k, j], w) if w < 0 else min(D[-1][k, j], w)
            d[-1][j] = source[j]
        check_indicator(after_ti=False)

    def ti(x):
        values, p = _layer_values(weights, biases, x, propagation)
        for i in range(L - 1):
            for j in np.flatnonzero(values[i] > 0):
                D[i][:, j] = weights[i][:, j]
                d[i][j] = biases[i][j]
        if ti_threshold is not None:
            for j in np.flatnonzero(p > ti_threshold):
                D[-1][:, j] = weights[-1][:, j]
                d[-1][j] = source[j]
        if fidelity.indicator_after_negatives:
            check_indicator(after_ti=True)

    steps = ([(ti, negatives), (ci, positives)] if variant == "TI-HP" else [(ci, positives), (ti, negatives)])
    for step, rows in steps:
        for x in rows:
            step(x)
    return D, d


def _no_decision_within_rounding(weights, biases, X, propagation, thresholds, margin=1e-9):
    """True unless a hidden value lies within ``margin`` (relative to the sum of its terms' magnitudes)
    of 0, or an output probability within ``margin`` of a threshold.

    The reference computes one example at a time (a vector-matrix product), the library a whole
    batch (a matrix product): the sums may run in another order and differ by about 1e-16
    relative. Only a value that close to its threshold could flip a decision, so the masks may be
    compared exactly on every other example (1e-9 leaves room for the error carried through 3
    layers).
    """
    activity, a = activity_pass(weights, biases, X, propagation), X
    for Z, W, b in zip(activity.values[:-1], weights, biases):
        scale = np.abs(a) @ np.abs(W) + np.abs(b)
        if np.any((np.abs(Z) <= margin * scale) & (scale > 0)):
            return False
        a = np.maximum(Z, 0) if propagation == "relu" else Z
    return all(np.all(np.abs(activity.probabilities - t) > margin) for t in thresholds if t is not None)


@given(decomposable_mlps_with_labelled_batches(max_hidden=3), st.sampled_from(dc.fidelity.VARIANTS),
       st.sampled_from(["linear", "relu"]), FIDELITIES, st.integers(1, 6), st.integers(0, 6))
def test_vectorised_ci_ti_equal_the_per_weight_reference(drawn, variant, propagation, fidelity, n_pos, n_neg):
    model, X, y = drawn
    W, B = model.weights, model.biases
    positives, negatives = X[:n_pos], X[n_pos:n_pos + n_neg]
    thresholds = (fidelity.ci_output_threshold[variant], fidelity.ti_output_threshold[variant])
    assume(_no_decision_within_rounding(W, B, X[:n_pos + n_neg], propagation, thresholds))
    masks = decompose_variant(start_module(W, B, fidelity), W, activity_pass(W, B, positives, propagation),
                              activity_pass(W, B, negatives, propagation), fidelity, variant)
    D, d = masks.weights_and_biases(W, B)
    D_ref, d_ref = reference_variant(W, B, positives, negatives, fidelity, variant, propagation)
    for a, b in zip(D + d, D_ref + d_ref):
        np.testing.assert_array_equal(a, b)   # exact: both select (or zero) entries of the same W and B


# ---------------------------------------------------------------------------
# Properties on small random networks
# ---------------------------------------------------------------------------

@given(decomposable_mlps_with_labelled_batches(), st.sampled_from(["linear", "relu"]), st.integers(2, 8))
def test_ci_never_adds_an_edge_after_the_first_positive(drawn, propagation, n_pos):
    model, X, _ = drawn
    W, B = model.weights, model.biases
    activity = activity_pass(W, B, X[:n_pos], propagation)
    previous = None
    for k in range(1, len(X[:n_pos]) + 1):
        masks = identify_concern(ModuleMasks.empty(W, B), W, activity.subset(np.arange(k)), PAPER, "TI-I")
        if previous is not None and masks.indicator != STICKY:
            for before, after in zip(previous.hidden_edges, masks.hidden_edges):
                assert not np.any(after & ~before)
        previous = masks


@given(decomposable_mlps_with_labelled_batches(), st.sampled_from(["linear", "relu"]), FIDELITIES)
def test_ti_never_removes_an_edge(drawn, propagation, fidelity):
    model, X, _ = drawn
    W, B = model.weights, model.biases
    half = len(X) // 2
    before = identify_concern(ModuleMasks.empty(W, B), W, activity_pass(W, B, X[:half], propagation),
                              fidelity, "TI-SNE")
    after = identify_tangling(before, W, activity_pass(W, B, X[half:], propagation), fidelity, "TI-SNE")
    for m0, m1 in zip(before.hidden_edges + before.hidden_biases, after.hidden_edges + after.hidden_biases):
        assert np.all(m1 | ~m0)
    assert np.all(after.output_columns | ~before.output_columns)


@given(decomposable_mlps_with_labelled_batches(), decomposition_settings(), FIDELITIES)
def test_module_hidden_weights_are_zero_or_original(drawn, setting, fidelity):
    model, X, y = drawn
    approach, propagation = setting
    modules = dc.decompose(model, X, y, approach, propagation=propagation, fidelity=fidelity, rng=0)
    # CM-RIE re-values the column of the merged node in the layer below the output; skip that layer
    n_checked = len(model.weights) - (2 if approach == "CM-RIE" else 1)
    for module in modules:
        for D, W in zip(module.weights[:n_checked], model.weights[:n_checked]):
            assert np.all((D == 0) | (D == W))


@given(decomposable_mlps_with_labelled_batches(max_hidden=1))
def test_one_hidden_layer_linear_and_relu_give_identical_activity(drawn):
    model, X, _ = drawn
    linear, relu = (activity_pass(model.weights, model.biases, X, p) for p in ("linear", "relu"))
    np.testing.assert_array_equal(linear.active[0], relu.active[0])


# TI-PN's CI output rule reads the output probabilities, which differ between the propagations even
# with one hidden layer (the output layer sees unrectified values under "linear"), so its modules can
# differ. Every other approach reads them only in TI's output rule, whose columns CI keeps or copies
# back anyway (paper: D_L starts as W_L; official: the first positive copies every column).
@given(decomposable_mlps_with_labelled_batches(max_hidden=1),
       st.sampled_from(["TI-I", "TI-HP", "TI-SNE", "CM-C", "CM-RIE"]), FIDELITIES)
def test_one_hidden_layer_linear_and_relu_give_identical_modules(drawn, approach, fidelity):
    model, X, y = drawn
    linear = dc.decompose(model, X, y, approach, propagation="linear", fidelity=fidelity, rng=1)
    relu = dc.decompose(model, X, y, approach, propagation="relu", fidelity=fidelity, rng=1)
    for a, b in zip(linear, relu):
        for x, z in zip(a.weights + a.biases, b.weights + b.biases):
            np.testing.assert_array_equal(x, z)


@given(decomposable_mlps_with_labelled_batches())
def test_composing_modules_that_kept_every_edge_reproduces_the_model(drawn):
    model, X, _ = drawn
    modules = [Module(model.weights, model.biases, k) for k in range(model.layer_sizes[-1])]
    # the vote reads softmax outputs (as the authors' Keras models give), so compare with their argmax
    np.testing.assert_array_equal(dc.compose_predict(modules, X), model.predict_proba(X).argmax(axis=1))


@given(st.integers(0, 2**32 - 1), st.integers(2, 5), st.permutations(range(5)))
def test_permuting_classes_and_modules_permutes_predictions(seed, n_classes, permutation):
    rng = np.random.default_rng(seed)
    perm = np.array([p for p in permutation if p < n_classes])
    X = rng.normal(size=(30, 4))
    modules = [Module([rng.normal(size=(4, 3)), rng.normal(size=(3, n_classes))],
                      [rng.normal(size=3), rng.normal(size=n_classes)], k) for k in range(n_classes)]
    # class k becomes class perm[k]: permute output columns and reorder the modules
    inverse = np.argsort(perm)
    permuted = [Module([m.weights[0], m.weights[1][:, inverse]], [m.biases[0], m.biases[1][inverse]], int(perm[k]))
                for k, m in enumerate(modules)]
    permuted = sorted(permuted, key=lambda m: m.target)
    np.testing.assert_array_equal(dc.compose_predict(permuted, X), perm[dc.compose_predict(modules, X)])


@given(decomposable_mlps_with_labelled_batches(), FIDELITIES)
def test_cm_c_leaves_exactly_two_nonzero_output_columns(drawn, fidelity):
    model, X, y = drawn
    for module in dc.decompose(model, X, y, "CM-C", fidelity=fidelity, rng=0):
        nonzero_columns = set(np.flatnonzero(np.any(module.weights[-1] != 0, axis=0)).tolist())
        assert nonzero_columns <= {module.target, module.negative_column}
        if np.all(model.weights[-1] != 0):
            assert module.target in nonzero_columns
        assert module.is_channeled()


@given(decomposable_mlps_with_labelled_batches(), st.sampled_from(dc.APPROACHES))
def test_jaccard_indices_symmetric_bounded_and_one_for_identical(drawn, approach):
    model, X, y = drawn
    a, b = dc.decompose(model, X, y, approach, fidelity=PAPER, rng=0)[:2]
    for index in (dc.jaccard_official, dc.jaccard_mask):
        assert index(a, b) == index(b, a)
        assert 0.0 <= index(a, b) <= 1.0
    assert dc.jaccard_mask(a, a) == 1.0
    distinct = Module([np.arange(1.0, 7.0).reshape(2, 3), np.arange(7.0, 13.0).reshape(3, 2)],
                      [np.zeros(3), np.zeros(2)], 0)
    assert dc.jaccard_official(distinct, distinct) == 1.0   # 1 when all kernel values are distinct


@given(decomposable_mlps_with_labelled_batches(), decomposition_settings(), st.integers(0, 2**32 - 1))
def test_same_rng_gives_identical_modules(drawn, setting, seed):
    model, X, y = drawn
    approach, propagation = setting
    first = dc.decompose(model, X, y, approach, propagation=propagation, fidelity=PAPER, rng=seed)
    second = dc.decompose(model, X, y, approach, propagation=propagation, fidelity=PAPER, rng=seed)
    for a, b in zip(first, second):
        for x, z in zip(a.weights + a.biases, b.weights + b.biases):
            np.testing.assert_array_equal(x, z)


@given(decomposable_mlps_with_labelled_batches(), decomposition_settings())
def test_decompose_does_not_mutate_its_inputs(drawn, setting):
    model, X, y = drawn
    saved = [W.copy() for W in model.weights] + [b.copy() for b in model.biases] + [X.copy(), y.copy()]
    dc.decompose(model, X, y, setting[0], propagation=setting[1], fidelity=OFFICIAL_UNFILTERED, rng=0)
    for a, b in zip(model.weights + model.biases + [X, y], saved):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# Modules: size, binary view, reuse, replacement
# ---------------------------------------------------------------------------

def _tiny_model_and_data(seed=0):
    rng = np.random.default_rng(seed)
    model = MLP([6, 5, 4, 3], rng=seed, dtype=np.float64)
    X = rng.normal(size=(60, 6))
    return model, X, np.arange(len(X)) % 3


def test_module_size_binary_view_reuse_and_replacement():
    model, X, y = _tiny_model_and_data()
    modules = dc.decompose(model, X, y, "CM-RIE", fidelity=OFFICIAL_UNFILTERED, rng=0)
    m = modules[1]
    assert m.count_nonzero() == sum(int(np.count_nonzero(W)) for W in m.weights)
    assert m.nbytes("csr") > 0 and m.nbytes("dense") == sum(W.nbytes for W in m.weights) + sum(
        b.nbytes for b in m.biases)
    Wb, bb = m.binary_view()
    assert Wb[-1].shape == (4, 2) and bb[-1].shape == (2,)
    # after CM the 2-output logits are the module's target and negative logits
    logits = m.forward(X)
    binary = Module(Wb, bb, 0).forward(X)
    np.testing.assert_allclose(binary, logits[:, [m.target, m.negative_column]])
    assert m.predict_binary(X).shape == (60,)
    pair = dc.compose_binary(modules[0], modules[2], X)
    assert set(np.unique(pair).tolist()) <= {0, 1}
    other = dc.decompose(MLP([6, 5, 3], rng=7, dtype=np.float64), X, y, "TI-SNE", fidelity=PAPER, rng=0)
    replaced = dc.replace_module(modules, 2, other[2])
    assert replaced[2] is other[2] and replaced[0] is modules[0] and modules[2] is not other[2]
    with pytest.raises(ValueError, match="class 2"):
        dc.replace_module(modules, 1, other[2])
    assert 0.0 <= dc.composed_accuracy(replaced, X, y) <= 1.0


def test_binary_view_of_a_ti_module_uses_the_channeled_rest():
    model, X, y = _tiny_model_and_data(1)
    m = dc.decompose(model, X, y, "TI-SNE", fidelity=PAPER, rng=0)[0]
    Wb, _ = m.binary_view()
    np.testing.assert_allclose(Wb[-1][:, 1], m.weights[-1][:, 1:].mean(axis=1))


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

def test_bad_input_raises_clear_errors():
    model, X, y = _tiny_model_and_data()
    y = np.arange(len(X)) % 3
    with pytest.raises(ValueError, match=r"classes \[2\]"):
        dc.decompose(model, X, np.where(y == 2, 0, y))
    with pytest.raises(ValueError, match=r"labels in \[0, 3\)"):
        dc.decompose(model, X, np.where(y == 2, 5, y))
    with pytest.raises(ValueError, match="expected 6 features"):
        dc.decompose(model, X[:, :4], y)
    with pytest.raises(ValueError, match="approach: expected one of"):
        dc.decompose(model, X, y, approach="TI-X")
    with pytest.raises(ValueError, match="propagation"):
        dc.decompose(model, X, y, propagation="tanh")
    with pytest.raises(ValueError, match="fidelity"):
        dc.decompose(model, X, y, fidelity="keras")
    with pytest.raises(ValueError, match="y: expected shape"):
        dc.decompose(model, X, y[:-1])
    with pytest.raises(TypeError, match="model"):
        dc.decompose(object(), X, y)
    # the official p > 0.9 filter can leave a class without positives
    flat = MLP([6, 3], rng=0, dtype=np.float64)
    flat = MLP.from_weights([np.zeros((6, 4)), np.zeros((4, 3))], [np.zeros(4), np.zeros(3)])
    with pytest.raises(ValueError, match="no positive example"):
        dc.decompose(flat, X, y, fidelity="official")
    with pytest.raises(ValueError, match="kind"):
        dc.mean_pairwise_jaccard([], kind="cosine")
    with pytest.raises(ValueError, match="at least one Module"):
        dc.compose_predict([], X)


def test_docs_table_lists_every_fidelity_field():
    from pathlib import Path
    docs = (Path(__file__).resolve().parents[2] / "docs" / "decomposition.md").read_text()
    for field, _, _ in fidelity_table():
        assert f"| `{field}` |" in docs
