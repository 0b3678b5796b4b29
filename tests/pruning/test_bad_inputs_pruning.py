"""Bad input to pruning's public entry points: a ValueError or TypeError naming the argument.

Arrays come from ``bad_arrays`` (tests/strategies.py); options are listed per
entry point. Each message must name the argument as the caller spelled it
(``W``, ``scores``, ``rates``, ``data['X_train']``, ...), not an internal variable.
"""
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlite import MLP
from pruning import dsr, lottery, masks, obd, schedules, wann
from pruning.experiments import dsr as DX
from pruning.experiments import lottery as LX
from pruning.experiments import obd as OX
from pruning.experiments import wann as WX
from strategies import assert_rejected, bad_arrays

#: Array kinds that are bad for a weight or an input batch: every kind.
EVERY_KIND = ("nan", "inf", "complex", "object", "string", "empty", "wrong_ndim", "wrong_width")
#: Scores may be +-inf (an entry to keep or to prune first) and of any shape or size: only the dtype and NaN are bad.
BAD_SCORE_KINDS = ("nan", "complex", "object", "string")
#: A weight's values are bad (its shape is free: any layer, conv kernels included).
BAD_WEIGHT_KINDS = ("nan", "inf", "complex", "object", "string")

MODEL = MLP([4, 5, 3], rng=0)


def _labels(n, k=3):
    return np.arange(n) % k


# -- pruning.masks ------------------------------------------------------------------

@given(bad_arrays((4, 3), kinds=BAD_WEIGHT_KINDS))
def test_magnitude_mask_rejects_bad_weights_naming_W(case):
    assert_rejected(masks.magnitude_mask, "W", case[1], 0.5)


@given(bad_arrays((4, 3), kinds=BAD_SCORE_KINDS))
def test_lowest_score_mask_rejects_bad_scores_naming_scores(case):
    message = assert_rejected(masks.lowest_score_mask, "scores", case[1], 0.5)
    assert "scores[0]" not in str(message)


@given(bad_arrays((4, 3), kinds=("empty", "wrong_ndim", "wrong_width")))
def test_magnitude_mask_rejects_a_mask_of_another_shape_naming_mask(case):
    assert_rejected(masks.magnitude_mask, "mask", np.ones((4, 3)), 0.5, case[1].astype(bool))


@pytest.mark.parametrize("amount", [1.5, -0.1, float("nan"), "half", True, 10**6])
def test_prune_masks_rejects_bad_amounts_naming_amount(amount):
    assert_rejected(masks.prune_masks, "amount", MODEL, amount)


# -- pruning.lottery ----------------------------------------------------------------

def _good_data(n=12):
    rng = np.random.default_rng(0)
    return {f"{a}_{s}": (rng.random((n, 4)).astype(np.float32) if a == "X" else _labels(n))
            for s in ("train", "val", "test") for a in ("X", "y")}


@given(bad_arrays((12, 4)))
@settings(max_examples=20)
def test_lottery_training_rejects_bad_data_naming_the_array(case):
    data = {**_good_data(), "X_train": case[1]}
    assert_rejected(lottery.train_network, "data['X_train']", MODEL, data, 2, batch_size=4)


@pytest.mark.parametrize("labels", [np.full(12, 3), np.full(12, -1), np.zeros(11, int), np.full(12, 0.5)])
def test_lottery_training_rejects_bad_labels_naming_them(labels):
    assert_rejected(lottery.train_network, "data['y_val']", MODEL, {**_good_data(), "y_val": labels}, 2)


@pytest.mark.parametrize("option, value", [
    ("rates", (0.2, 1.5, 0.1)), ("rates", (0.2, -0.1, 0.1)), ("rates", (0.2, float("nan"), 0.1)),
    ("rates", (0.2, 0.2)), ("n_iterations", 0), ("n_iterations", 2.5), ("batch_size", 0), ("eval_every", -1),
    ("n_rounds", -1), ("seed", -1), ("lr", float("nan")), ("lr", 0), ("control_rounds", (-1,)),
    ("rewind_iteration", -1), ("layer_sizes", (784, 0, 100, 10)), ("layer_sizes", (784,))])
def test_lottery_config_rejects_bad_options_naming_them(option, value):
    message = assert_rejected(lottery.LotteryConfig, option, **{option: value})
    assert "amount" not in str(message)


# -- pruning.obd ---------------------------------------------------------------------

@given(bad_arrays((6, 4)))
@settings(max_examples=20)
def test_obd_second_derivatives_reject_bad_X(case):
    assert_rejected(obd.second_derivatives, "X", MODEL, case[1], _labels(len(case[1])))


@pytest.mark.parametrize("y", [np.full(6, 3), np.zeros(5, int), np.full(6, 0.5), np.zeros((6, 1), int)])
def test_obd_rejects_bad_labels_naming_y(y):
    assert_rejected(obd.second_derivatives, "y", MODEL, np.zeros((6, 4)), y)


# -- pruning.wann -------------------------------------------------------------------------

GENOME = wann.initial_genome(4, 3, rng=0, p_enable=1.0)


@given(bad_arrays((6, 4)))
@settings(max_examples=20)
def test_wann_evaluation_rejects_bad_X(case):
    assert_rejected(wann.evaluate_genome, "X", GENOME, case[1])
    assert_rejected(wann.evaluate_population, "X", [GENOME, GENOME], case[1], _labels(len(case[1])))


def test_wann_rejects_bad_labels_and_weights():
    assert_rejected(wann.evaluate_population, "y", [GENOME], np.zeros((6, 4)), np.full(6, 3))
    assert_rejected(wann.train_individual_weights, "y", GENOME, np.zeros((6, 4)), np.zeros(5, int))
    assert_rejected(wann.evaluate_genome, "weights", GENOME, np.zeros((6, 4)), [np.nan])


def _tampered_genome(tmp_path, **changes):
    arrays = {"n_inputs": 4, "n_outputs": 3, "activations": GENOME.activations, "src": GENOME.src,
              "dst": GENOME.dst, "enabled": GENOME.enabled, **changes}
    np.savez(tmp_path / "genome.npz", **arrays)
    return tmp_path / "genome.npz"


@pytest.mark.parametrize("changes, named", [
    ({"activations": np.r_[GENOME.activations[:-1].astype(np.int64), 99]}, "activations"),
    # 300 would wrap around to 44 in int8
    ({"activations": np.r_[GENOME.activations[:-1].astype(np.int64), 300]}, "activations"),
    ({"activations": GENOME.activations.astype(float)}, "activations"),
    ({"src": GENOME.src + 100}, "node ids"),
    ({"src": np.r_[GENOME.src[:-1], -1]}, "node ids"),
    ({"dst": GENOME.dst[:-1]}, "common 1-d shape"),
    ({"enabled": GENOME.enabled.astype(int)}, "enabled"),
    ({"n_inputs": 0}, "input"),
])
def test_wann_load_genome_validates_the_file(tmp_path, changes, named):
    message = assert_rejected(WX.load_genome, "path", _tampered_genome(tmp_path, **changes))
    assert named in str(message)


def test_wann_load_genome_refuses_a_cycle_and_a_text_file(tmp_path):
    # 5 -> 9 -> 10 -> 9 : a hidden cycle (node ids 8..10 hidden after 1 bias, 4 inputs, 3 outputs)
    cyclic = {"activations": np.zeros(11, np.int8), "src": np.array([1, 8, 9, 10], np.int32),
              "dst": np.array([8, 9, 10, 9], np.int32), "enabled": np.ones(4, bool)}
    with pytest.raises(ValueError, match="cycle"):  # a Genome is checked on construction, as on load
        wann.Genome(4, 3, **cyclic)
    assert "cycle" in str(assert_rejected(WX.load_genome, "path", _tampered_genome(
        tmp_path, n_inputs=4, n_outputs=3, **cyclic)))
    (tmp_path / "text.npz").write_text("not a genome")
    assert_rejected(WX.load_genome, "path", tmp_path / "text.npz")


def _saved_state(tmp_path):
    state = wann.start_search(4, 3, wann.SearchConfig(population_size=4, batch_size=8), rng=0)
    WX.save_state(state, tmp_path / "state.npz")
    with np.load(tmp_path / "state.npz") as f:
        return dict(f)


@pytest.mark.parametrize("edit", [
    lambda meta, a: meta["rng_state"].update(state=-1),
    lambda meta, a: meta.update(rng_state={"bit_generator": "os.system", "state": {"state": 1, "inc": 1},
                                           "has_uint32": 0, "uinteger": 0}),
    lambda meta, a: meta["config"].update(population_size=1),
    lambda meta, a: meta["config"].update(unknown_key=1),
    lambda meta, a: meta.update(generation=-2),
    lambda meta, a: a.update(n_conn=a["n_conn"] + 1),
    lambda meta, a: a.update(activations=a["activations"] + 50),
    lambda meta, a: a.pop("src"),
])
def test_wann_load_state_validates_every_part_and_runs_nothing_named_in_the_file(tmp_path, edit):
    arrays = _saved_state(tmp_path)
    meta = json.loads(str(arrays["meta"]))
    edit(meta, arrays)
    np.savez(tmp_path / "state.npz", **{**arrays, "meta": np.array(json.dumps(meta))})
    assert_rejected(WX.load_state, "path", tmp_path / "state.npz")


def test_wann_checkpoint_stores_the_rng_as_plain_ints_and_resumes_it(tmp_path):
    arrays = _saved_state(tmp_path)
    saved = json.loads(str(arrays["meta"]))["rng_state"]
    assert set(saved) == {"state", "inc", "has_uint32", "uinteger"} and all(type(v) is int for v in saved.values())
    state = wann.start_search(4, 3, wann.SearchConfig(population_size=4, batch_size=8), rng=0)
    assert WX.load_state(tmp_path / "state.npz").rng.random() == state.rng.random()


@pytest.mark.parametrize("option, value", [
    ("population_size", 1), ("n_generations", -1), ("batch_size", 0), ("tournament_size", 0), ("p_enable", 1.5),
    ("elite_fraction", 1.0), ("mutation_probabilities", (1, 1)), ("output_activation", "softplus"),
    ("shared_weights", (np.nan,))])
def test_wann_search_config_rejects_bad_options(option, value):
    assert_rejected(wann.SearchConfig, "weights" if option == "shared_weights" else
                    "activation" if option == "output_activation" else option, **{option: value})


# -- pruning.dsr -------------------------------------------------------------------------

@pytest.mark.parametrize("option, value", [
    ("H", 0), ("H", -1), ("H", float("inf")), ("H", float("nan")), ("H", "0.1"),
    ("rewire_period", 0), ("rewire_period", -3), ("rewire_period", 1.5), ("rewire_period", None),
    ("n_prune_target", 0), ("n_prune_target", float("nan")), ("n_prune_target", 1.5), ("rounding", "floor")])
def test_dsr_rejects_bad_options_naming_them(option, value):
    assert_rejected(dsr.DSR, option, **{option: value})


@pytest.mark.parametrize("option, value", [
    ("frequency", 0), ("frequency", -1), ("n_steps", 0), ("begin_step", -1), ("end_fraction", 0),
    ("end_fraction", 1.5), ("final_sparsity", 1.0)])
def test_gmp_rejects_bad_options_naming_them(option, value):
    kwargs = {"final_sparsity": 0.9, "n_steps": 100, option: value}
    assert_rejected(dsr.GMP, option, **kwargs)


@given(st.sampled_from([1.0, -0.1, float("nan"), "0.9", None]))
def test_sparsity_options_are_checked(value):
    assert_rejected(dsr.layer_sparsities, "sparsity", [(4, 3)], value)
    assert_rejected(dsr.SET, "zeta", zeta=value if value != "0.9" else 1.5)


def test_schedules_reject_bad_steps():
    with pytest.raises((ValueError, TypeError)):
        schedules.PolynomialDecay(0.0, 0.9, 0, 100, frequency=0)


# ---------------------------------------------------------------------------
# Probe findings (issue 9, section 3): WANN sizes, probabilities, ids and genomes
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, argument", [
    ({"n_inputs": 0}, "n_inputs"), ({"n_inputs": -1}, "n_inputs"), ({"n_inputs": 1.5}, "n_inputs"),
    ({"n_inputs": float("nan")}, "n_inputs"), ({"n_inputs": "3"}, "n_inputs"), ({"n_outputs": 0}, "n_outputs"),
    ({"n_outputs": 1.5}, "n_outputs"), ({"p_enable": -0.1}, "p_enable"), ({"p_enable": 1.5}, "p_enable"),
    ({"p_enable": float("nan")}, "p_enable"), ({"p_enable": float("inf")}, "p_enable"),
    ({"p_enable": "0.5"}, "p_enable"),
    ({"output_activation": "bogus"}, "output_activation"), ({"output_activation": None}, "output_activation"),
    ({"output_activation": 3}, "output_activation")])
def test_initial_genome_and_start_search_name_bad_sizes_and_probabilities(kwargs, argument):
    assert_rejected(wann.initial_genome, argument, **{"n_inputs": 3, "n_outputs": 2, "rng": 0, **kwargs})
    if argument in ("n_inputs", "n_outputs"):
        assert_rejected(wann.start_search, argument, **{"n_inputs": 3, "n_outputs": 2, "rng": 0, **kwargs})


@pytest.mark.parametrize("changes, argument", [
    ({"src": np.full(GENOME.src.shape, 99)}, "src"), ({"src": np.full(GENOME.src.shape, -1)}, "src"),
    ({"src": GENOME.src[:-1]}, "src"), ({"dst": np.zeros_like(GENOME.dst)}, "dst"),
    ({"dst": np.full(GENOME.dst.shape, 99)}, "dst"),
    ({"activations": np.full_like(GENOME.activations, 99)}, "activations"),
    ({"activations": GENOME.activations[:1]}, "activations"), ({"n_inputs": 0}, "n_inputs"),
    ({"n_inputs": -1}, "n_inputs"), ({"enabled": GENOME.enabled[:1]}, "enabled")])
def test_genome_is_validated_on_construction_like_on_load(tmp_path, changes, argument):
    fields = {"n_inputs": 4, "n_outputs": 3, "activations": GENOME.activations, "src": GENOME.src,
              "dst": GENOME.dst, "enabled": GENOME.enabled, **changes}
    constructed = assert_rejected(wann.Genome, argument, **fields)
    loaded = assert_rejected(WX.load_genome, "path", _tampered_genome(tmp_path, **changes))
    assert str(constructed) in str(loaded)  # one check, two doors


def test_wann_helpers_name_their_bad_arguments(tmp_path):
    X, y = np.ones((5, 4)), np.arange(5) % 3
    for k in (99, -1, "relu", 1.5):
        assert_rejected(wann.activation_forward, "k", X, k)
    for name in ("bogus", None, 3):
        assert_rejected(wann.activation_id, "name", name)
    assert_rejected(wann.mutate, "genome", "g", 0)
    assert_rejected(wann.mutate, "mutation_probabilities", GENOME, 0, mutation_probabilities=(np.nan, 1, 1, 1))
    assert_rejected(wann.evaluate_genome, "weights", GENOME, X, "w")
    assert_rejected(wann.evaluate_genome, "genome", "g", X)
    assert_rejected(wann.start_search, "config", 3, 2, {"population_size": 4}, 0)
    assert_rejected(wann.ensemble_predict, "outputs", np.ones((5, 2)))
    assert_rejected(wann.ensemble_predict, "outputs", np.full((6, 5, 2), np.nan))
    assert_rejected(wann.SearchConfig, "shared_weights", shared_weights=())
    assert_rejected(wann.SearchConfig, "output_activation", output_activation="bogus")
    for argument, value in (("epochs", -1), ("epochs", 1.5), ("epochs", np.nan), ("batch_size", 0),
                            ("batch_size", -1), ("batch_size", 1.5), ("init_weight", np.nan), ("lr", np.inf)):
        assert_rejected(wann.train_individual_weights, argument, GENOME, X, y, **{"epochs": 1, argument: value})
    assert_rejected(WX.save_genome, "genome", "g", tmp_path / "g.npz")
    assert_rejected(WX.save_genome, "path", GENOME, 3)
    assert_rejected(WX.save_genome, "path", GENOME, tmp_path / "missing" / "g.npz")
    assert not (tmp_path / "missing").exists()

# -- pruning.obd: options of the recipe (fixprune) -------------------------------------
# Each option is checked at entry and named as the caller spelled it (``retrain_epochs``,
# not the ``epochs`` of the training loop it is passed on to; ``hessian_samples``, not X).

OBD_DATA = (np.random.default_rng(0).random((12, 4)), _labels(12))
BAD_COUNTS = [0, -1, 1.5, float("nan"), float("inf"), "3", None, True]


@pytest.mark.parametrize("option, value", [
    *[("n_iterations", v) for v in BAD_COUNTS], *[("batch_size", v) for v in BAD_COUNTS],
    *[("retrain_epochs", v) for v in BAD_COUNTS if v != 0],
    *[("hessian_samples", v) for v in BAD_COUNTS if v is not None], ("hessian_samples", 13),
    *[("lr", v) for v in (0, -1, float("nan"), float("inf"), "0.1", None, True)],
    *[("method", v) for v in ("unknown", None, 3, "OBD")]])
def test_optimal_brain_damage_rejects_bad_options_naming_them(option, value):
    options = {"n_iterations": 1, "retrain_epochs": 0, "rng": 0, option: value}
    message = assert_rejected(obd.optimal_brain_damage, option, MODEL.copy(), *OBD_DATA, **options)
    assert "epochs:" not in str(message).replace("retrain_epochs:", "")  # the training loop's name, not the user's


def test_optimal_brain_damage_rejects_a_model_that_is_not_an_mlp():
    assert_rejected(obd.optimal_brain_damage, "model", "model", *OBD_DATA)


@pytest.mark.parametrize("value", BAD_COUNTS)
def test_obd_second_derivatives_rejects_bad_batch_size(value):
    assert_rejected(obd.second_derivatives, "batch_size", MODEL, *OBD_DATA, batch_size=value)


@pytest.mark.parametrize("method", ["unknown", None, 0])
def test_obd_deletion_scores_rejects_an_unknown_method(method):
    assert_rejected(obd.deletion_scores, "method", MODEL, None, method, np.random.default_rng(0))


@pytest.mark.parametrize("n", BAD_COUNTS)
def test_pin_threads_rejects_a_bad_count(n):
    # obd.blas_threads became the one thread-pinning helper, nnlite.experiment.pin_threads
    from nnlite.experiment import pin_threads
    assert_rejected(pin_threads, "n_threads", n)


@pytest.mark.parametrize("n_train", [0, -1, 2.5, 13])
def test_obd_run_seed_rejects_n_train_outside_the_training_set(n_train):
    X, y = OBD_DATA
    assert_rejected(OX.run_seed, "n_train", (X, y, X, y), 0, n_train=n_train, hidden=(3,), epochs=1)


# -- pruning.lottery: rates, init, summaries (fixprune) ------------------------------------

LOTTERY_MODEL = MLP.from_weights([np.linspace(-1, 1, 20).reshape(4, 5), np.linspace(-1, 1, 15).reshape(5, 3)],
                                 [np.zeros(5), np.zeros(3)])


@pytest.mark.parametrize("rates", [(1.5, 0.1), (-0.1, 0.1), (float("nan"), 0.1), (0.2,), (0.2, 0.1, 0.1), "0.2",
                                   0.2, None, (True, 0.1), ("0.2", 0.1)])
def test_prune_parameters_rejects_bad_rates_naming_rates(rates):
    message = assert_rejected(lottery.prune_parameters, "rates", LOTTERY_MODEL, rates)
    assert "amount" not in str(message)


def test_prune_parameters_rejects_a_model_that_is_not_an_mlp():
    assert_rejected(lottery.prune_parameters, "trained", "model", (0.2, 0.1))


@pytest.mark.parametrize("init", ["unknown", None, 3])
def test_lottery_config_rejects_an_unknown_init(init):
    assert_rejected(lottery.LotteryConfig, "init", init=init)


@pytest.mark.parametrize("rounds", [(-1,), (1.5,), "3", None])
def test_lottery_summarize_rejects_bad_reported_rounds(rounds):
    assert_rejected(LX.summarize, "reported_rounds", [], rounds)


@pytest.mark.parametrize("records", ["x", None, [["x"]]])
def test_lottery_summarize_rejects_bad_trial_records(records):
    assert_rejected(LX.summarize, "trial_records", records)


@pytest.mark.parametrize("n_train", [0, -1, 2.5, "300", 55001])
def test_lottery_load_data_rejects_n_train_outside_the_training_set(shared_data_dir, n_train):
    assert_rejected(LX.load_data, "n_train", n_train=n_train, data_dir=shared_data_dir)


# -- pruning.dsr and pruning.sparse_layers: the helpers of Alg. 1, the experiment's builders ----------------------

@pytest.mark.parametrize("option, value", [
    ("K", -1), ("K", 1.5), ("K", float("nan")), ("R", np.array([np.nan, 1.0])), ("R", np.array([-1.0, 1.0])),
    ("R", "55"), ("capacity", np.array([20])), ("capacity", np.array([-1, 20])), ("capacity", np.array([1.5, 2])),
    ("rounding", "floor")])
def test_dsr_reallocate_rejects_bad_counts_naming_them(option, value):
    kwargs = {"K": 10, "R": np.array([5.0, 5.0]), "capacity": np.array([20, 20]), option: value}
    assert_rejected(dsr.reallocate, option, **kwargs)


@given(bad_arrays((3,), kinds=("nan", "inf", "complex", "object", "string", "empty", "wrong_ndim")))
def test_dsr_reallocate_rejects_bad_survivor_arrays_naming_R(case):
    assert_rejected(dsr.reallocate, "R", 4, case[1], np.array([5, 5, 5]))


def test_dsr_reallocate_keeps_its_documented_clipping_and_integer_counts():
    # K above sum(capacity) is documented (a layer denser than half); counts above 2**24 stay exact.
    assert dsr.reallocate(100, np.array([5.0, 5.0]), np.array([20, 20])).tolist() == [20, 20]
    assert dsr.reallocate(2**25 + 1, [2**25 + 1, 0], [2**26, 2**26]).tolist() == [2**25 + 1, 0]


@pytest.mark.parametrize("option, value", [("H", float("nan")), ("H", float("inf")), ("H", -1.0), ("H", "0.1"),
                                           ("K", -1), ("K", float("nan")), ("n_prune_target", 0)])
def test_dsr_adapt_threshold_rejects_bad_values_naming_them(option, value):
    assert_rejected(dsr.adapt_threshold, option, **{"H": 0.001, "K": 10, "n_prune_target": 10, option: value})


@pytest.mark.parametrize("value", BAD_COUNTS)
def test_dsr_period_schedules_reject_bad_counts_naming_them(value):
    assert_rejected(dsr.constant_period, "period", value)
    assert_rejected(dsr.doubling_period, "period", value, 5)
    assert_rejected(dsr.doubling_period, "every", 10, value)


def test_dsr_gmp_rejects_a_begin_step_after_the_end_of_pruning():
    assert_rejected(dsr.GMP, "begin_step", 0.8, 100, begin_step=1000)


@pytest.mark.parametrize("shapes", [[], [(-4, 3)], "s", [(4,)], [(4, 3.5)], None])
def test_dsr_layer_sparsities_rejects_bad_shapes_naming_shapes(shapes):
    assert_rejected(dsr.layer_sparsities, "shapes", shapes, 0.5)


GOOD_MODEL = {"method": "dsr", "input_shape": (8, 8, 1), "n_classes": 3, "sparsity": 0.5, "channels": (2, 2),
              "hidden": 4, "rng": 0}


@pytest.mark.parametrize("option, value", [
    ("method", "bogus"), ("method", None), ("method", 3), ("input_shape", (8, 8)), ("input_shape", (0, 8, 1)),
    ("n_classes", 0), ("n_classes", 1.5), ("channels", (0, 2)), ("channels", ()), ("channels", "16"),
    ("hidden", 0), ("hidden", float("nan")), ("sparsity", 1.0)])
def test_dsr_build_model_rejects_bad_options_naming_them(option, value):
    assert_rejected(dsr.build_model, option, **{**GOOD_MODEL, option: value})


@pytest.mark.parametrize("option, value", [("method", "rig"), ("method", None), ("sparsity", -0.1), ("sparsity", 1.5),
                                           ("sparsity", float("nan")), *[("n_steps", v) for v in BAD_COUNTS]])
def test_dsr_make_method_rejects_bad_options_naming_them(option, value):
    kwargs = {"method": "dsr", "sparsity": 0.5, "n_steps": 100, "rng": 0, option: value}
    assert_rejected(dsr.make_method, option, **kwargs)


@pytest.mark.parametrize("option, value", [("name", "bogus"), ("name", None), ("name", 3), ("n_train", 0),
                                           ("n_train", -1), ("n_train", 1.5), ("n_train", float("nan")),
                                           ("n_validation", -1), ("n_validation", 1.5)])
def test_dsr_load_dataset_rejects_bad_options_before_reading_data(option, value):
    assert_rejected(DX.load_dataset, option, **{"name": "fashion-mnist", "data_dir": "/nonexistent", option: value})


def test_dsr_load_dataset_rejects_more_training_images_than_exist(shared_data_dir):
    assert_rejected(DX.load_dataset, "n_train", "fashion-mnist", shared_data_dir, n_train=60001)


def test_dsr_read_runs_rejects_what_is_not_a_jsonl_file_naming_path(tmp_path):
    (tmp_path / "text.jsonl").write_text("hello\n")
    for path in (3, None, tmp_path, tmp_path / "missing.jsonl", tmp_path / "text.jsonl"):
        assert_rejected(DX.read_runs, "path", path)


@pytest.mark.parametrize("option, value", [("sparsity", -0.1), ("sparsity", 1.5), ("sparsity", float("nan")),
                                           ("sparsity", float("inf")), ("n_total", -1), ("n_total", 1.5),
                                           ("n_total", "10")])
def test_dynamic_n_active_for_rejects_bad_values_naming_them(option, value):
    from pruning import sparse_layers
    assert_rejected(sparse_layers.n_active_for, option, **{"sparsity": 0.5, "n_total": 10, option: value})


@pytest.mark.parametrize("option, value", [("shape", (-4, 3)), ("shape", "s"), ("shape", ()), ("n_active", -1),
                                           ("n_active", 13), ("n_active", 1.5), ("rng", "seed"), ("rng", 0)])
def test_dynamic_random_topology_rejects_bad_values_naming_them(option, value):
    from pruning import sparse_layers
    kwargs = {"shape": (4, 3), "n_active": 5, "rng": np.random.default_rng(0), option: value}
    assert_rejected(sparse_layers.random_topology, option, **kwargs)


@pytest.mark.parametrize("value", ["0.1", None, float("nan"), -1.0, 1.5])
def test_dynamic_set_density_crossover_rejects_bad_values_naming_value(value):
    from pruning import sparse_layers
    assert_rejected(sparse_layers.set_density_crossover, "value", value)


@pytest.mark.parametrize("model", ["m", None, 3])
def test_dynamic_memory_report_rejects_what_is_not_a_model_naming_model(model):
    from pruning import sparse_layers
    assert_rejected(sparse_layers.memory_report, "model", model)


# -- pruning.rigl and pruning.torch_like --------------------------------------------------------------------

@pytest.mark.parametrize("option, value", [("t", -1), ("t", float("nan")), ("t", "10"), ("alpha", -0.1),
                                           ("alpha", 1.5), ("alpha", float("inf")), ("end_iteration", 0),
                                           ("end_iteration", 1.5), ("end_iteration", float("inf"))])
def test_rigl_update_fraction_rejects_bad_values_naming_them(option, value):
    from pruning import rigl
    assert_rejected(rigl.update_fraction, option, **{"t": 10, "alpha": 0.3, "end_iteration": 100, option: value})


@given(bad_arrays((4, 3), kinds=EVERY_KIND))
def test_rigl_drop_and_grow_reject_bad_arrays_naming_them(case):
    from pruning import rigl
    active = np.ones((4, 3), bool)
    assert_rejected(rigl.drop_smallest, "W", case[1], active, 1)
    assert_rejected(rigl.grow_largest_gradient, "grad", ~active, case[1], 0)


@pytest.mark.parametrize("k", [-1, 1.5, "2", None, 13])
def test_rigl_drop_and_grow_reject_bad_counts_naming_k(k):
    from pruning import rigl
    W, active = np.ones((4, 3)), np.ones((4, 3), bool)
    assert_rejected(rigl.drop_smallest, "k", W, active, k)
    assert_rejected(rigl.grow_largest_gradient, "k", np.eye(4, 3, dtype=bool), W, k)


def test_rigl_drop_and_grow_reject_masks_that_are_not_boolean_or_of_another_shape():
    from pruning import rigl
    W = np.ones((4, 3))
    for mask in (np.full((4, 3), 0.5), np.ones((3, 4), bool), None):
        assert_rejected(rigl.drop_smallest, "active", W, mask, 1)
        assert_rejected(rigl.grow_largest_gradient, "kept", mask, W, 1)


def test_torch_like_errors_name_the_argument_as_passed():
    from pruning import torch_like
    assert_rejected(torch_like.global_unstructured, "layers", MLP([4, 5, 3], rng=0), 0.5, layers=[5])
    assert_rejected(torch_like.global_unstructured, "rng", MLP([4, 5, 3], rng=0), 0.5, rng="seed")
    assert_rejected(torch_like.dim_from_torch, "torch_dim", MLP([4, 5, 3], rng=0), 0, 2)
    assert_rejected(torch_like.custom_from_mask, "mask", MLP([4, 5, 3], rng=0), 0, None)
