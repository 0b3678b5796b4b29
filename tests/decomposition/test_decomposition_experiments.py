"""The experiments as commands: demo, reuse, replacement, the faulty model, nnlite-trained models, the benchmark.

Tiny scales (one or two pairs, one epoch); the paper-scale figures are in
docs/decomposition.md ("Results") and come from the same commands.
"""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import decomposition as dc
import decomposition.experiments  # noqa: F401  (dc.experiments)
from decomposition import reuse
from decomposition.experiments import data as exp_data
from decomposition.experiments import replacement as exp_replacement
from decomposition.experiments import reuse as exp_reuse
from decomposition.__main__ import main
from nnlite import MLP

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "decompose.py"


def _json_lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def _data_args(shared_data_dir, official_models_dir):
    return ["--data-dir", str(shared_data_dir), "--models-dir", str(official_models_dir)]


# ---------------------------------------------------------------------------
# The quick-start demo (offline)
# ---------------------------------------------------------------------------

def test_demo_prints_every_approach_under_both_propagations(capsys):
    # (its speed is not a test: the demo is the README's quick start and takes a few seconds)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and "linear composed" in out and "relu composed" in out
    for approach in dc.APPROACHES:
        assert any(line.startswith(approach) for line in out.splitlines())


def test_demo_json_rows_have_the_table1_keys(capsys):
    main(["demo", "--format", "json", "--epochs", "20", "--hidden-layers", "1"])
    rows = _json_lines(capsys)
    assert len(rows) == 2 * len(dc.APPROACHES)
    for key in ("model", "approach", "propagation", "fidelity", "model_accuracy", "composed_accuracy",
                "ji_official", "ji_mask", "seconds"):
        assert key in rows[0]
    # one hidden layer: both propagations give the same modules (a property of the activity pass)
    by = {(r["approach"], r["propagation"]): r["composed_accuracy"] for r in rows}
    assert all(by[(a, "linear")] == by[(a, "relu")] for a in ("TI-I", "TI-SNE", "CM-C", "CM-RIE"))


# ---------------------------------------------------------------------------
# Pair composition rules and the tie-break bug, by hand
# ---------------------------------------------------------------------------

def _constant_module(logits, target):
    """A module whose output is ``logits`` for every input (zero weights, the logits as output bias)."""
    logits = np.asarray(logits, dtype=np.float64)
    weights = [np.zeros((2, 3)), np.zeros((3, len(logits)))]
    return dc.Module(weights, [np.zeros(3), logits], target)


def test_official_pair_rule_compares_the_other_class_probabilities():
    X = np.zeros((1, 2))
    # neither module votes: correct rule takes the higher own-class probability (module b: class 2),
    # the authors' rule compares P_b(class 0) = high with P_a(class 2) = low and picks position 0
    a = _constant_module([0.0, 3.0, -1.0], target=0)
    b = _constant_module([2.0, 3.0, 1.0], target=2)
    assert reuse.compose_pair(a, b, X, "correct").tolist() == [1]
    assert reuse.compose_pair(a, b, X, "official").tolist() == [0]
    with pytest.raises(ValueError, match="rule"):
        reuse.compose_pair(a, b, X, "other")


def test_voter_position_tie_break_returns_the_position_among_voters():
    X = np.zeros((1, 2))
    # modules 1 and 2 vote, module 2 is surer: the right answer is 2, the bug says 1 (its position among voters)
    modules = [_constant_module([0.0, 1.0, 1.0], 0), _constant_module([0.0, 1.0, 0.0], 1),
               _constant_module([0.0, 0.0, 3.0], 2)]
    assert dc.compose_predict(modules, X).tolist() == [2]
    assert reuse.compose_predict_voter_position(modules, X).tolist() == [1]


def test_summaries_count_and_average():
    rows = [{"ma": 99.0, "ma_official_rule": 99.0, "tma": 98.0, "ma_ge_tma": True},
            {"ma": 97.0, "ma_official_rule": 98.0, "tma": 98.0, "ma_ge_tma": False}]
    s = exp_reuse.summarize_reuse(rows)
    assert (s["n_pairs"], s["n_ma_ge_tma"], s["n_ma_official_rule_ge_tma"], s["mean_ma_minus_tma"]) == (2, 1, 2, 0.0)
    r = exp_replacement.summarize_replacement([{"change": 0.5}, {"change": -1.0}, {"change": -2.0}])
    assert r == {"n_cases": 3, "n_rose": 1, "mean_drop": 0.83, "median_drop": 1.0}


def test_propagation_effect_and_the_summarize_command(tmp_path, capsys):
    def row(model, approach, propagation, composed):
        return {"model": model, "approach": approach, "propagation": propagation, "fidelity": "official",
                "model_accuracy": 90.0, "composed_accuracy": composed}
    rows = [row("A-1", "TI-PN", "linear", 50.0), row("A-1", "TI-PN", "relu", 89.0),
            row("A-2", "TI-PN", "linear", 88.0), row("A-2", "TI-PN", "relu", 90.0)]
    (effect,) = dc.experiments.propagation_effect(rows)
    assert (effect["max_abs_change"], effect["model"], effect["linear"], effect["relu"]) == (39.0, "A-1", 50.0, 89.0)
    assert (effect["mean_loss_linear"], effect["mean_loss_relu"], effect["n_models"]) == (21.0, 0.5, 2)
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    main(["summarize", str(path)])
    (line,) = _json_lines(capsys)
    assert line["summary"] == "propagation" and line["max_abs_change"] == 39.0
    reuse_rows = [{"experiment": "intra-reuse", "dataset": "d", "epochs": 1, "ma": 99.0, "ma_official_rule": 97.0,
                   "tma": 98.0, "ma_ge_tma": True}]
    path.write_text(json.dumps(reuse_rows[0]) + "\n")
    main(["summarize", str(path)])
    (line,) = _json_lines(capsys)
    assert (line["summary"], line["n_ma_ge_tma"], line["mean_ma_official_rule_minus_tma"]) == ("intra-reuse", 1, -1.0)


def test_class_pairs_and_pair_data():
    assert len(exp_reuse.class_pairs("all")) == 45 and exp_reuse.class_pairs(2) == [(0, 1), (0, 2)]
    with pytest.raises(ValueError, match="pairs"):
        exp_reuse.class_pairs("some")
    X, y = np.arange(6.0)[:, None], np.array([0, 1, 2, 1, 0, 2])
    X_pair, y_pair = exp_reuse.pair_data(X, y, 2, 0)
    assert X_pair.ravel().tolist() == [0, 2, 4, 5] and y_pair.tolist() == [1, 0, 1, 0]


def test_train_model_has_the_authors_architecture():
    rng = np.random.default_rng(0)
    X, y = rng.random((64, 5)).astype(np.float32), np.arange(64) % 2
    model = exp_data.train_model(X, y, n_hidden_layers=3, epochs=1)
    assert model.layer_sizes == [5, 49, 49, 49, 2]


# ---------------------------------------------------------------------------
# The commands on the real data (tiny scale)
# ---------------------------------------------------------------------------

def test_reuse_command_prints_pairs_and_a_summary(capsys, shared_data_dir, official_models_dir):
    main(["reuse", "--dataset", "mnist", "--pairs", "1", "--epochs", "1",
          *_data_args(shared_data_dir, official_models_dir)])
    *rows, summary = _json_lines(capsys)
    assert len(rows) == 1
    for key in ("dataset", "class_a", "class_b", "ma", "ma_official_rule", "tma", "ma_ge_tma", "epochs"):
        assert key in rows[0]
    assert rows[0]["ma"] == 100.0             # stored CM-RIE MNIST-4 modules 0 and 1 on the 2,115 test images
    assert summary["n_pairs"] == 1 and summary["paper_n_ma_ge_tma"] == 36


def test_inter_reuse_command_with_kmnist_notes_the_split(capsys, shared_data_dir, official_models_dir):
    main(["reuse", "--inter", "mnist", "kmnist", "--pairs", "1", "--epochs", "1",
          *_data_args(shared_data_dir, official_models_dir)])
    row, summary = _json_lines(capsys)
    assert row["dataset"] == "mnist+kmnist" and "5,000" in row["note"]
    assert summary["paper_mean_ma_minus_tma"] == -8.28


def test_replace_command_on_mnist_with_stored_modules(capsys, shared_data_dir, official_models_dir):
    main(["replace", "--dataset", "mnist", *_data_args(shared_data_dir, official_models_dir)])
    *rows, summary = _json_lines(capsys)
    assert [r["class"] for r in rows] == list(range(10))
    assert rows[0]["accuracy_before"] == 94.90        # stored CM-RIE MNIST-1, Table 1
    assert summary["n_cases"] == 10 and {"n_rose", "mean_drop", "median_drop"} <= set(summary)


def test_faulty_command_reproduces_the_readme_numbers(capsys, shared_data_dir, official_models_dir):
    main(["faulty", *_data_args(shared_data_dir, official_models_dir)])
    (report,) = _json_lines(capsys)
    assert report["n_faulty_subset"] == 9158
    assert report["model_full_test"] == 95.41
    assert report["model_faulty_subset"] == 96.82
    assert report["repaired_full_test"] == 96.47
    assert report["repaired_train"] == 98.6683


def test_our_cm_rie_modules_of_mnist_4_equal_the_stored_ones(shared_data_dir, official_models_dir):
    arrays = exp_data.dataset_arrays("mnist", shared_data_dir)
    ours = exp_data.cm_rie_modules("mnist-4", "ours", arrays, official_models_dir)
    stored = exp_data.cm_rie_modules("mnist-4", "stored", models_dir=official_models_dir)
    assert all(np.array_equal(a, b) for m, s in zip(ours, stored) for a, b in zip(m.weights, s.weights))
    with pytest.raises(ValueError, match="source"):
        exp_data.cm_rie_modules("mnist-4", "theirs", arrays, official_models_dir)


def test_table1_trains_and_caches_an_nnlite_model(capsys, shared_data_dir, tmp_path, monkeypatch):
    from decomposition.experiments import table1   # where the command's tasks look their data up
    full = table1.load_dataset

    def first_images(dataset, data_dir=None):      # a quick scale: 3,000 training and 1,000 test images
        X, y, X_test, y_test, note = full(dataset, data_dir)
        return X[:3000], y[:3000], X_test[:1000], y_test[:1000], note
    monkeypatch.setattr(table1, "load_dataset", first_images)
    args = ["table1", "--models", "nnlite-mnist-1", "--epochs", "1", "--approaches", "TI-SNE", "--fidelity", "paper",
            "--propagation", "linear", "--cache-dir", str(tmp_path), "--data-dir", str(shared_data_dir)]
    main(args)
    (row,) = _json_lines(capsys)
    assert row["model"] == "nnlite-MNIST-1" and row["paper_composed_accuracy"] is None
    path = tmp_path / "nnlite-mnist-1-e1-s0.npz"
    assert path.is_file()
    first = path.stat().st_mtime_ns
    main(args)                                      # second run: loaded from the cache, same numbers
    assert _json_lines(capsys)[0]["model_accuracy"] == row["model_accuracy"] and path.stat().st_mtime_ns == first


def test_models_argument_expands_groups_and_rejects_mixtures():
    from decomposition.experiments.cli import _models
    assert len(_models(["nnlite"])) == 16 and _models(["nnlite-fmnist-2"]) == ["nnlite-fmnist-2"]
    with pytest.raises(SystemExit, match="both"):
        _models(["mnist-1", "nnlite-mnist-1"])
    with pytest.raises(SystemExit, match="--models"):
        _models(["cifar-1"])


# ---------------------------------------------------------------------------
# benchmarks/decompose.py
# ---------------------------------------------------------------------------

def test_benchmark_function_reports_seconds_and_peak_memory():
    spec = importlib.util.spec_from_file_location("decompose_benchmark", BENCHMARK)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rng = np.random.default_rng(0)
    model = MLP([6, 5, 4, 3], rng=0)
    X, y = rng.random((60, 6)).astype(np.float32), np.arange(60) % 3
    result = bench.benchmark_decompose(model, X, y, approaches=("TI-SNE", "CM-RIE"), fidelity="paper")
    assert {"seconds", "peak_mb", "per_approach", "n_modules"} <= set(result)
    assert result["n_modules"] == 3 and set(result["per_approach"]) == {"TI-SNE", "CM-RIE"}
    assert result["seconds"] >= 0 and result["peak_mb"] > 0
