"""decomposition: every public entry point refuses bad input with a ValueError/TypeError naming the argument."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import decomposition as dc
from decomposition.reuse import compose_pair
from nnlite import MLP
from strategies import assert_rejected, bad_arrays

N_IN, N_HIDDEN, N_CLASSES, N = 4, 3, 3, 12


def _model():
    return MLP([N_IN, N_HIDDEN, N_CLASSES], rng=0, dtype=np.float64)


def _data():
    X = np.random.default_rng(0).normal(size=(N, N_IN))
    return X, np.arange(N) % N_CLASSES


def _modules():
    model = _model()
    return [dc.Module(model.weights, model.biases, k) for k in range(N_CLASSES)]


BAD_CLASSES = st.sampled_from([[1.5], [True], [np.float64(1.0)], [N_CLASSES], [-1], [], "01", 3, [0, 0]])
BAD_LABELS = st.sampled_from([None, np.full(N, 1.5), np.zeros(N - 1, int), np.full(N, N_CLASSES),
                              np.full(N, -1), np.zeros((N, 1), int), np.array(["a"] * N)])
BAD_INDICES = st.sampled_from([1.5, True, -1, N_CLASSES, "0", None])
NOT_MODULES = st.sampled_from([None, object(), "module", np.zeros((2, 2))])
BAD_NAMES = st.sampled_from([["linear"], {"a": 1}, np.array(["linear"]), 3, None, "tanh"])


# ---------------------------------------------------------------------------
# decompose
# ---------------------------------------------------------------------------

@given(bad_arrays((N, N_IN)))
def test_decompose_rejects_bad_X(drawn):
    kind, X = drawn
    y = np.arange(len(X)) % N_CLASSES if kind != "empty" else np.zeros(0, int)
    assert_rejected(dc.decompose, "X", _model(), X, y, fidelity="paper")


@given(BAD_LABELS)
def test_decompose_rejects_bad_y(y):
    assert_rejected(dc.decompose, "y", _model(), _data()[0], y, fidelity="paper")


@given(BAD_CLASSES)
def test_decompose_rejects_bad_classes(classes):
    # classes=[1.5] used to decompose class 1
    assert_rejected(dc.decompose, "classes", _model(), *_data(), fidelity="paper", classes=classes)


@given(st.sampled_from(["approach", "propagation", "fidelity"]), BAD_NAMES)
def test_decompose_rejects_bad_options(option, value):
    assert_rejected(dc.decompose, option, _model(), *_data(), **{option: value})


@given(bad_arrays((N_HIDDEN, N_CLASSES), kinds=("nan", "inf", "complex", "object", "string", "wrong_width")))
def test_decompose_rejects_a_model_with_bad_weights(drawn):
    model = _model()
    model.weights = [model.weights[0], drawn[1]]
    assert_rejected(dc.decompose, "model", model, *_data(), fidelity="paper")


def test_decompose_rejects_a_bad_rng_and_a_non_model():
    assert_rejected(dc.decompose, "rng", _model(), *_data(), rng="seed")
    assert_rejected(dc.decompose, "model", object(), *_data())


# ---------------------------------------------------------------------------
# Module
# ---------------------------------------------------------------------------

LAYER_SHAPES = [(N_IN, N_HIDDEN), (N_HIDDEN, N_CLASSES)]


@given(st.integers(0, 1), st.data())
def test_module_rejects_bad_weights(layer, data):
    model = _model()
    weights = list(model.weights)
    weights[layer] = data.draw(bad_arrays(LAYER_SHAPES[layer]))[1]
    # a wrong width is reported against the bias it no longer matches; that message names weights[layer] too
    assert_rejected(dc.Module, f"weights[{layer}]", weights, model.biases, 0)


@given(st.integers(0, 1), st.data())
def test_module_rejects_bad_biases(layer, data):
    model = _model()
    biases = list(model.biases)
    biases[layer] = data.draw(bad_arrays((LAYER_SHAPES[layer][1],)))[1]
    assert_rejected(dc.Module, f"biases[{layer}]", model.weights, biases, 0)


def test_module_rejects_mismatched_counts_and_shapes():
    model = _model()
    assert_rejected(dc.Module, "biases", model.weights, model.biases[:1], 0)
    assert_rejected(dc.Module, "biases", model.weights, model.biases + [np.zeros(3)], 0)
    assert_rejected(dc.Module, "weights", [], [], 0)
    assert_rejected(dc.Module, "weights", model.weights[0], model.biases, 0)
    assert_rejected(dc.Module, "weights[1]", [model.weights[0], np.zeros((5, 3))], model.biases, 0)


@given(BAD_INDICES)
def test_module_rejects_a_bad_target(target):
    model = _model()
    assert_rejected(dc.Module, "target", model.weights, model.biases, target)


def test_module_rejects_a_non_string_approach():
    model = _model()
    assert_rejected(dc.Module, "approach", model.weights, model.biases, 0, approach=3)


@given(bad_arrays((N, N_IN)), st.sampled_from(["forward", "predict_proba", "own_probability", "votes",
                                                "predict_binary"]))
def test_module_methods_reject_bad_X(drawn, method):
    assert_rejected(getattr(_modules()[1], method), "X", drawn[1])


# ---------------------------------------------------------------------------
# Composition, replacement, Jaccard
# ---------------------------------------------------------------------------

@given(bad_arrays((N, N_IN)), st.sampled_from(["compose_predict", "composed_accuracy", "compose_binary"]))
def test_composition_rejects_bad_X(drawn, function):
    modules, y = _modules(), np.arange(N) % N_CLASSES
    call = {"compose_predict": lambda X: dc.compose_predict(modules, X),
            "composed_accuracy": lambda X: dc.composed_accuracy(modules, X, y[:len(X)]),
            "compose_binary": lambda X: dc.compose_binary(modules[0], modules[1], X)}[function]
    assert_rejected(call, "X", drawn[1])


@given(BAD_LABELS)
def test_composed_accuracy_rejects_bad_y(y):
    # y=None used to give 0.0
    assert_rejected(dc.composed_accuracy, "y", _modules(), _data()[0], y)


def test_composition_rejects_bad_module_lists():
    modules, X = _modules(), _data()[0]
    other = dc.Module([np.ones((N_IN + 1, N_HIDDEN)), np.ones((N_HIDDEN, N_CLASSES))],
                      [np.zeros(N_HIDDEN), np.zeros(N_CLASSES)], 0)
    assert_rejected(dc.compose_predict, "modules", [], X)
    assert_rejected(dc.compose_predict, "modules", modules[0], X)
    assert_rejected(dc.compose_predict, "modules[1]", [modules[0], object()], X)
    assert_rejected(dc.compose_predict, "modules[1]", [modules[0], other], X)
    assert_rejected(dc.compose_binary, "module_a", None, modules[1], X)
    assert_rejected(dc.compose_binary, "module_b", modules[0], other, X)
    assert_rejected(compose_pair, "rule", modules[0], modules[1], X, rule="majority")


@given(BAD_INDICES)
def test_replace_module_rejects_a_bad_index(k):
    modules = _modules()
    assert_rejected(dc.replace_module, "k", modules, k, modules[0])


@given(NOT_MODULES)
def test_replace_module_and_jaccard_reject_non_modules(value):
    modules = _modules()
    assert_rejected(dc.replace_module, "module", modules, 0, value)
    assert_rejected(dc.replace_module, "modules", value, 0, modules[0])
    assert_rejected(dc.jaccard_official, "module_a", value, modules[0])
    assert_rejected(dc.jaccard_mask, "module_b", modules[0], value)
    assert_rejected(dc.mean_pairwise_jaccard, "modules", value)


def test_replace_module_jaccard_mask_and_mean_reject_mismatched_modules():
    modules = _modules()
    wider = dc.Module([np.ones((N_IN + 1, N_HIDDEN)), np.ones((N_HIDDEN, N_CLASSES))],
                      [np.zeros(N_HIDDEN), np.zeros(N_CLASSES)], 0)
    assert_rejected(dc.replace_module, "module", modules, 0, wider)
    assert_rejected(dc.jaccard_mask, "module_b", modules[0], wider)
    assert_rejected(dc.mean_pairwise_jaccard, "modules", [modules[0]])
    assert_rejected(dc.mean_pairwise_jaccard, "kind", modules, kind=["mask"])


# ---------------------------------------------------------------------------
# The activity pass and the stored modules
# ---------------------------------------------------------------------------

@given(bad_arrays((N, N_IN), kinds=("nan", "inf", "complex", "object", "string", "wrong_ndim", "wrong_width")))
def test_activity_pass_and_disagreement_reject_bad_X(drawn):
    model = _model()
    assert_rejected(dc.activity_pass, "X", model.weights, model.biases, drawn[1])
    assert_rejected(dc.activity_disagreement, "X", model.weights, model.biases, drawn[1])


def test_activity_pass_rejects_bad_layers_and_propagation():
    model, X = _model(), _data()[0]
    assert_rejected(dc.activity_pass, "biases", model.weights, model.biases[:1], X)
    assert_rejected(dc.activity_pass, "weights[1]", [model.weights[0], np.full((3, 3), np.nan)], model.biases, X)
    assert_rejected(dc.activity_pass, "propagation", model.weights, model.biases, X, propagation="tanh")


@pytest.mark.parametrize("argument, value", [("approach", "../CM-RIE"), ("approach", 3), ("model_name", ""),
                                             ("model_name", "mnist-1/../../x")])
def test_load_official_modules_rejects_bad_names(argument, value, tmp_path):
    names = {"approach": "CM-RIE", "model_name": "mnist-1", argument: value}
    assert_rejected(dc.load_official_modules, argument, names["approach"], names["model_name"], models_dir=tmp_path)


# ---------------------------------------------------------------------------
# Probe findings (issue 9, section 3): names, sizes and lists of the experiment helpers
# ---------------------------------------------------------------------------

from decomposition import experiments  # noqa: E402
from decomposition.experiments import data as exp_data  # noqa: E402
from decomposition.experiments import reuse as exp_reuse  # noqa: E402


@pytest.mark.parametrize("argument, value", [("approach", "bogus"), ("approach", None), ("model_name", "bogus"),
                                             ("model_name", 3), ("model_name", "emnist-1")])
def test_load_official_modules_lists_the_valid_names(argument, value, tmp_path):
    # TI-SNE has no EMNIST folder in the authors' repository: refused before any download is tried
    names = {"approach": "TI-SNE", "model_name": "mnist-1", argument: value}
    message = str(assert_rejected(dc.load_official_modules, argument, names["approach"], names["model_name"],
                                  models_dir=tmp_path))
    assert "expected one of" in message and ("CM-RIE" in message or "mnist-1" in message)


@pytest.mark.parametrize("kwargs, argument", [
    ({"pairs": 1000}, "pairs"), ({"pairs": 0}, "pairs"), ({"n_classes": 0}, "n_classes"),
    ({"n_classes": 1}, "n_classes"), ({"n_classes": -1}, "n_classes"), ({"n_classes": 1.5}, "n_classes")])
def test_class_pairs_rejects_counts_it_cannot_honour(kwargs, argument):
    assert_rejected(exp_reuse.class_pairs, argument, **{"pairs": "all", "n_classes": 10, **kwargs})


@pytest.mark.parametrize("kwargs, argument", [
    ({"n_hidden_layers": -1}, "n_hidden_layers"), ({"n_hidden_layers": 1.5}, "n_hidden_layers"),
    ({"n_hidden_layers": float("inf")}, "n_hidden_layers"), ({"epochs": float("nan")}, "epochs"),
    ({"y": np.full(N, -1)}, "y"), ({"y": np.full(N, N_CLASSES)}, "y"), ({"n_classes": 1}, "n_classes")])
def test_train_model_names_the_bad_argument(kwargs, argument):
    X, y = _data()
    call = {"X": X, "y": y, "n_hidden_layers": 1, "n_classes": N_CLASSES, "epochs": 1, **kwargs}
    assert_rejected(exp_data.train_model, argument, **call)


@given(st.sampled_from([("approaches", ("bogus",)), ("approaches", "TI-I"), ("approaches", ()),
                        ("propagations", ("bogus",)), ("propagations", ()), ("n_hidden_layers", -1),
                        ("n_hidden_layers", 1.5), ("n_hidden_layers", 10**9), ("epochs", float("nan")),
                        ("seed", "seed"), ("seed", 1.5)]))
def test_demo_rows_names_the_bad_argument_before_training(case):
    argument, value = case
    kwargs = {"approaches": ("TI-I",), "propagations": ("linear",), "epochs": 1, "fidelity": "paper", argument: value}
    assert_rejected(lambda: list(experiments.demo_rows(**kwargs)), argument)


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), float("inf"), "0.5", None, 0.0, 1.0])
def test_digits_split_names_test_fraction(value):
    assert_rejected(experiments.digits_split, "test_fraction", 0, value)


@pytest.mark.parametrize("argument, value", [("models", ("bogus",)), ("models", "mnist-1"), ("models", ()),
                                             ("approaches", ("bogus",)), ("propagations", ("bogus",)),
                                             ("fidelities", ("bogus",)), ("fidelities", ())])
def test_table1_rows_checks_its_lists_before_loading_anything(argument, value):
    kwargs = {"models": ("mnist-1",), "approaches": ("TI-I",), "propagations": ("linear",), "progress": False,
              argument: value}
    assert_rejected(lambda: list(experiments.table1_rows(**kwargs)), argument)


@pytest.mark.parametrize("function", [experiments.dataset_of, experiments.display_name])
@pytest.mark.parametrize("value", ["bogus", None, 3, "mnist", "mnist-x", "cifar-1"])
def test_model_name_helpers_refuse_unknown_names(function, value):
    assert_rejected(function, "model_name", value)


def test_model_name_helpers_keep_their_results():
    assert experiments.display_name("nnlite-kmnist-3") == "nnlite-KMNIST-3"
    assert experiments.dataset_of("nnlite-emnist-2") == "emnist" and experiments.dataset_of("mnist-4") == "mnist"
    assert_rejected(experiments.paper_values, "approach", "mnist-1", "bogus")
    assert_rejected(experiments.paper_values, "model_name", "bogus", "TI-I")


def test_train_model_refuses_to_infer_classes_that_never_appear():
    X, _ = _data()
    assert_rejected(exp_data.train_model, "y", X, np.full(N, N_CLASSES), n_hidden_layers=1, epochs=1)
