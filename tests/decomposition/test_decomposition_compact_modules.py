"""decomposition.compact_modules: compact modules, their composition, their bytes, and what the 2-output view loses."""
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import decomposition as dc
from decomposition.compact_modules import (binary_view_disagreement, compact, compact_nbytes, compose_binary_views,
                                           compose_compact, forward_live_units, kept_units)
from decomposition.experiments.compact import compact_rows, main, official_test_set
from decomposition.modules import Module
from strategies import (BAD_ARRAY_KINDS, assert_rejected, bad_arrays, decomposable_mlps_with_labelled_batches,
                        decomposition_settings, modules_with_dead_units)

# ---------------------------------------------------------------------------
# A hand-built module: 3 inputs -> 4 -> 3 -> 4 classes, target 2
# ---------------------------------------------------------------------------
# hidden 1: unit 0 ordinary; unit 1 no input and bias 0 (always 0); unit 2 no input, bias 0.5 (a constant);
#           unit 3 fed by input 2 but with no outgoing weight (reaches nothing).
# hidden 2: units 0, 1 ordinary; unit 2 fed only by the dead unit 1, bias -0.2 (always 0).
# outputs:  0 and 2 live; 1 fed only by hidden-2 unit 2 (dead); 3 all zero.
W1 = np.array([[1.0, 0.0, 0.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0]])
B1 = np.array([0.1, 0.0, 0.5, 0.3])
W2 = np.array([[1.0, -1.0, 0.0], [3.0, 3.0, 3.0], [0.5, 0.0, 0.0], [0.0, 0.0, 0.0]])
B2 = np.array([0.0, 0.2, -0.2])
W3 = np.array([[0.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, 4.0, 0.0, 0.0]])
B3 = np.array([0.1, 0.0, -0.3, 0.0])
HAND = Module([W1, W2, W3], [B1, B2, B3], target=2, approach="hand")
X_HAND = np.array([[1.0, 0.0, 5.0], [0.0, 1.0, -5.0], [0.2, 0.3, 0.0]])


def test_hand_module_keeps_exactly_the_units_that_reach_a_live_output():
    kept = kept_units(HAND.weights, HAND.biases, HAND.target)
    assert [np.flatnonzero(k).tolist() for k in kept] == [[0, 1], [0, 2], [0, 1], [0, 2]]
    assert [f.tolist() for f in forward_live_units(HAND.weights, HAND.biases)][1:] == [
        [True, False, True, True], [True, True, False], [True, False, True, False]]
    c = compact(HAND)
    assert [u.tolist() for u in c.units] == [[0, 1], [0, 2], [0, 1], [0, 2]]
    assert c.layer_sizes == (3, 4, 3, 4) and c.n_zero_logits == 2 and c.live_outputs.tolist() == [0, 2]
    np.testing.assert_array_equal(c.weights[1], [[1.0, -1.0], [0.5, 0.0]])
    np.testing.assert_array_equal(c.biases[0], [0.1, 0.5])


def test_hand_module_bytes_by_hand():
    c = compact(HAND, fmt="dense")
    # weights 2x2 + 2x2 + 2x2 float64, biases 2 + 2 + 2, kept bits: one byte per layer of <= 8 units
    assert c.nbytes() == 3 * 4 * 8 + 3 * 2 * 8 + 4 == compact_nbytes(HAND) == compact_nbytes(c)
    assert HAND.nbytes("dense") == (12 + 12 + 12) * 8 + (4 + 3 + 4) * 8


def test_hand_module_logits_equal_the_full_form_and_dead_logits_are_zero():
    c = compact(HAND)
    full = HAND.forward(X_HAND)
    np.testing.assert_array_equal(c.forward(X_HAND), full)  # 2-term sums: no other order exists
    assert np.all(full[:, [1, 3]] == 0)
    np.testing.assert_array_equal(c.expand().forward(X_HAND), full)


def test_a_zero_target_logit_loses_the_argmax_to_an_earlier_zero_logit():
    """Positions of the zero logits matter, not only their count: np.argmax takes the first maximum."""
    W = [np.array([[1.0]]), np.array([[0.0, 1.0, -1.0]])]
    module = Module(W, [np.zeros(1), np.zeros(3)], target=1)
    X = np.array([[0.0], [2.0]])  # logits [0, 0, 0] (no vote: class 0 wins the tie), then [0, 2, -2]
    c = compact(module)
    assert c.live_outputs.tolist() == [1, 2] and c.n_zero_logits == 1
    for exact in (True, False):
        assert c.votes(X, exact).tolist() == [False, True]
        np.testing.assert_array_equal(c.own_probability(X, exact), module.own_probability(X))


def _one_unit_module(output_row, target):
    """1 input -> 1 hidden unit (value x) -> 3 logits ``output_row * x``."""
    return Module([np.array([[1.0]]), np.array([output_row])], [np.zeros(1), np.zeros(3)], target=target)


def test_the_2_output_view_votes_where_the_10_output_form_does_not():
    """Both live logits negative: the zero logit wins the full argmax; the 2-output view compares target and rest."""
    X = np.array([[1.0]])
    module_0 = _one_unit_module([-1.0, -3.0, 0.0], target=0)  # columns: target 0, negative 1, a zero logit
    module_1 = _one_unit_module([-1.0, 0.5, 0.0], target=1)   # columns: negative 0, target 1, a zero logit
    assert not module_0.votes(X)[0] and module_0.predict_binary(X)[0]
    assert binary_view_disagreement(module_0, X) == 1.0 and binary_view_disagreement(module_1, X) == 0.0
    # full: module 1 alone votes -> 1; views: both vote, own 2-way probabilities 1/(1+e^-2) > 1/(1+e^-1.5) -> 0
    assert dc.compose_predict([module_0, module_1], X).tolist() == [1]
    assert compose_binary_views([module_0, module_1], X).tolist() == [0]
    assert compose_compact([compact(module_0), compact(module_1)], X).tolist() == [1]


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

@given(modules_with_dead_units())
def test_compact_and_full_modules_compose_identically(drawn):
    """Exact equality is by construction, not by luck: every layer runs at the authors' shapes, every product
    of a removed unit is 0 in both forms (up to its sign), so the same numbers are summed in the same order."""
    modules, X = drawn
    compacted = [compact(m) for m in modules]
    np.testing.assert_array_equal(compose_compact(compacted, X), dc.compose_predict(modules, X))
    for c, m in zip(compacted, modules):
        np.testing.assert_array_equal(c.own_probability(X), m.own_probability(X))
        np.testing.assert_array_equal(c.votes(X), m.predict_proba(X).argmax(axis=1) == m.target)


@given(decomposable_mlps_with_labelled_batches(max_hidden=2), decomposition_settings())
def test_compact_and_full_decomposed_modules_compose_identically(drawn, setting):
    (model, X, y), (approach, propagation) = drawn, setting
    modules = dc.decompose(model, X, y, approach, propagation=propagation, fidelity="paper", rng=0)
    compacted = [compact(m) for m in modules]
    np.testing.assert_array_equal(compose_compact(compacted, X), dc.compose_predict(modules, X))


@given(modules_with_dead_units(), st.sampled_from(["smallest", "dense", "csr"]))
def test_compact_live_logits_match_the_full_logits_to_rounding(drawn, fmt):
    modules, X = drawn
    for m in modules:
        c = compact(m, fmt)
        full = m.forward(X)
        # the reduced products sum the same nonzero terms in another order (BLAS picks it from the shapes):
        # float64 sums of <= 7 terms of size <= ~1e3 differ by far less than 1e-9 relative
        np.testing.assert_allclose(c.live_logits(X), full[:, c.live_outputs], rtol=1e-9, atol=1e-9)
        assert np.all(c.forward(X)[:, np.setdiff1d(np.arange(c.n_classes), c.live_outputs)] == 0)


@given(modules_with_dead_units())
def test_compacting_is_idempotent_and_never_grows_a_layer(drawn):
    modules, _ = drawn
    for m in modules:
        c = compact(m, "dense")
        again = compact(c.expand(), "dense")
        assert [u.tolist() for u in again.units] == [u.tolist() for u in c.units]
        for W, V in zip(c.weights, again.weights):
            np.testing.assert_array_equal(W, V)
        bits = sum(-(-n // 8) for n in c.layer_sizes)
        assert c.nbytes() <= m.nbytes("dense") + bits
        assert compact(m).nbytes() <= c.nbytes()


@given(modules_with_dead_units())
def test_compacting_does_not_mutate_the_module(drawn):
    modules, _ = drawn
    before = [[W.copy() for W in m.weights + m.biases] for m in modules]
    for m in modules:
        compact(m).expand()
    for m, arrays in zip(modules, before):
        for A, B in zip(m.weights + m.biases, arrays):
            np.testing.assert_array_equal(A, B)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

def test_bad_input_is_rejected_naming_the_argument():
    assert_rejected(compact, "module", "not a module")
    assert_rejected(compact, "fmt", HAND, fmt="coo")
    assert_rejected(compose_compact, "modules[0]", [HAND], X_HAND)
    assert_rejected(compose_compact, "modules", [], X_HAND)
    assert_rejected(compact(HAND).live_logits, "X", X_HAND[:, :2])
    assert_rejected(compose_binary_views, "modules[0]", [compact(HAND)], X_HAND)


# "complex" left out: nnlite._checks.check_float_array casts complex input to float today (a shared checker)
@given(bad_arrays(X_HAND.shape, kinds=[k for k in BAD_ARRAY_KINDS if k != "complex"]), st.booleans())
def test_bad_inputs_to_compact_composition_are_rejected_naming_X(drawn, exact):
    _, X = drawn
    compacted = [compact(HAND)]
    assert_rejected(compose_compact, "X", compacted, X, exact=exact)
    assert_rejected(compacted[0].live_logits, "X", X)


def test_command_error_is_one_line_and_status_2(tmp_path, capsys):
    assert main(["--models", "mnist-1", "--approaches", "CM-RIE", "--models-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


# ---------------------------------------------------------------------------
# The authors' stored modules
# ---------------------------------------------------------------------------

@pytest.mark.shared_data
def test_compact_cm_rie_modules_are_on_average_at_most_70_percent_of_the_model(official_models_dir):
    rows = list(compact_rows(dc.experiments.OFFICIAL_MODELS, ["CM-RIE"], models_dir=official_models_dir))
    assert len(rows) == 16
    # byte counts: integers, no rounding involved
    assert np.mean([r["compact_percent_of_model"] for r in rows]) <= 70.0
    mnist_4 = next(r for r in rows if r["model"] == "mnist-4")
    assert (mnist_4["model_bytes"], mnist_4["module_dense_bytes"]) == (185260, 185260)
    assert mnist_4["module_csr_bytes"] > 1.4 * mnist_4["module_dense_bytes"]


@pytest.fixture(scope="module")
def official_test_sets(shared_data_dir):
    return {ds: official_test_set(ds, shared_data_dir) for ds in ("mnist", "fmnist", "kmnist", "emnist")}


@pytest.mark.shared_data
@pytest.mark.parametrize("approach", ["CM-RIE", "TI-SNE"])
def test_compact_stored_modules_compose_like_the_10_output_modules(approach, official_test_sets, official_models_dir):
    """Every stored CM-RIE (16 models) and TI-SNE (12) module set, on its data set's whole test set."""
    n_checked = 0
    for name in dc.experiments.OFFICIAL_MODELS:
        if approach == "TI-SNE" and name.startswith("emnist"):
            continue  # not stored (../shared/official-models/README.md)
        modules = dc.load_official_modules(approach, name, official_models_dir)
        X, _ = official_test_sets[name.split("-")[0]]
        np.testing.assert_array_equal(compose_compact([compact(m) for m in modules], X), dc.compose_predict(modules, X))
        n_checked += 1
    assert n_checked == (16 if approach == "CM-RIE" else 12)


@pytest.mark.shared_data
def test_composing_the_2_output_views_loses_accuracy_on_mnist(shared_data_dir, official_models_dir):
    mnist = {r["model"]: r for r in compact_rows([f"mnist-{n}" for n in (1, 2, 3, 4)], ["CM-RIE"], score=True,
                                                 data_dir=shared_data_dir, models_dir=official_models_dir)}
    assert all(r["compact_predictions_identical"] for r in mnist.values())
    # the figures: composing the 2-output views loses 0.67 points on MNIST-4 (96.75 -> 96.08: 67 of
    # 10,000 images), and a view votes differently from its module on 6-65% of the test images
    assert mnist["mnist-4"]["accuracy"] == 96.75 and mnist["mnist-4"]["accuracy_binary_views"] == 96.08
    assert mnist["mnist-4"]["loss"] == 0.67 and mnist["mnist-4"]["loss_ci95"][0] > 0
    assert 6.0 <= min(r["disagreement_min"] for r in mnist.values()) < 6.5
    assert 65.0 <= max(r["disagreement_max"] for r in mnist.values()) < 65.5


@pytest.mark.shared_data
def test_command_prints_one_json_row_per_model_and_a_table(official_models_dir, capsys):
    assert main(["--models", "mnist-4", "--approaches", "CM-RIE", "--format", "json",
                 "--models-dir", str(official_models_dir)]) == 0
    out, err = capsys.readouterr()
    row = json.loads(out.splitlines()[0])
    assert row["model"] == "mnist-4" and row["compact_percent_of_model"] == 68.23
    assert "68.23" in err
    assert "views %" not in err


def test_command_usage_error_is_one_line_and_status_2(capsys):
    from decomposition.__main__ import main as package_main
    with pytest.raises(SystemExit) as info:
        package_main(["compact", "--models", "no-such-model"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--models" in err
