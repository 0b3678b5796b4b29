"""Replicated reuse and replacement: records, t-intervals, tables, and the inter-dataset experiments.

Synthetic records test the statistics; the commands run at a tiny scale
(one case, one epoch) on the real data, and are skipped without it. The
paper-scale figures in docs/decomposition.md are tables printed by
``python -m decomposition summarize docs/records/<file> --format table``;
a test checks that the docs hold exactly that output.
"""
import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from scipy import stats
from strategies import module_lists_with_batches, reuse_rows_over_seeds

import decomposition as dc
from decomposition import reuse
from decomposition.experiments import replicates
from decomposition.experiments import data as exp_data
from decomposition.experiments import duodecimal as exp_duodecimal
from decomposition.experiments import replacement as exp_replacement
from decomposition.experiments import reuse as exp_reuse
from decomposition.__main__ import main

REPO = Path(__file__).resolve().parents[2]
# The replicated experiments' records (other experiments' records in docs/records have their own tests).
RECORDS = sorted(p for p in (REPO / "docs" / "records").glob("*.jsonl")
                 if p.name.startswith(("reuse_", "replace_", "duodecimal")))


def _json_lines(capsys, err=None):
    """The JSON lines on stdout; stderr is appended to the list ``err`` when given."""
    captured = capsys.readouterr()
    if err is not None:
        err.append(captured.err)
    return [json.loads(line) for line in captured.out.splitlines() if line.startswith("{")]


def _data_args(shared_data_dir, official_models_dir):
    return ["--data-dir", str(shared_data_dir), "--models-dir", str(official_models_dir)]


# ---------------------------------------------------------------------------
# t-intervals and summaries over seeds (synthetic records)
# ---------------------------------------------------------------------------

def test_t_interval_by_hand():
    # mean 38, standard error 2 / sqrt(3), t(0.975, 2 degrees of freedom) = 4.3027
    interval = replicates.t_interval([36, 38, 40])
    assert interval["n"] == 3 and interval["mean"] == 38.0
    assert interval["ci_low"] == pytest.approx(38 - 4.3027 * 2 / np.sqrt(3), abs=0.01)   # rounded to 2 decimals
    assert replicates.t_interval([37]) == {"mean": 37.0, "ci_low": None, "ci_high": None, "n": 1}
    assert replicates.t_interval([5, 5, 5])["ci_low"] == 5.0          # no spread, no width
    with pytest.raises(ValueError, match="values"):
        replicates.t_interval([])
    assert replicates.format_interval(replicates.t_interval([36, 38, 40])) == "38.00 ± 4.97 (n=3)"


@given(reuse_rows_over_seeds())
def test_replicate_summary_is_the_t_interval_of_the_per_seed_counts(rows):
    summary = replicates.replicate_summary(rows, exp_reuse.summarize_reuse)
    seeds = sorted({r["seed"] for r in rows})
    counts = [sum(r["ma_ge_tma"] for r in rows if r["seed"] == s) for s in seeds]
    assert summary["n_seeds"] == len(seeds) and summary["n_incomplete_seeds"] == 0
    assert summary["n_ma_ge_tma"] == round(float(np.mean(counts)), 2)
    low, high = summary["n_ma_ge_tma_ci95"]
    if len(seeds) == 1:
        assert low is None and high is None
    else:                                         # the interval holds the mean, and scipy agrees (2-decimal rounding)
        assert low <= summary["n_ma_ge_tma"] <= high
        if np.ptp(counts) > 0:
            expected = stats.t.interval(0.95, len(counts) - 1, np.mean(counts), stats.sem(counts))
            assert (low, high) == pytest.approx(expected, abs=0.006)


@given(reuse_rows_over_seeds(max_seeds=3))
def test_a_seed_stopped_part_way_is_left_out_and_counted(rows):
    extra = dict(rows[0], seed=99)                  # one row of a seed that did not finish
    n_pairs = sum(1 for r in rows if r["seed"] == 0)
    summary = replicates.replicate_summary(rows + [extra], exp_reuse.summarize_reuse)
    if n_pairs > 1:
        assert summary["n_incomplete_seeds"] == 1 and 99 not in summary["seeds"]
    assert summary["n_cases"] == n_pairs


def test_a_run_stopped_in_its_only_seed_has_no_complete_seed():
    rows = [{"experiment": "inter-replacement", "dataset": "mnist+kmnist", "class_a": k, "class_b": k, "seed": 0,
             "ma": 93.0, "tma": 95.0, "ma_minus_tma": -2.0, "ma_ge_tma": False, "cases": "latin"} for k in range(4)]
    assert [replicates.planned_cases(dict(rows[0], cases=c)) for c in ("latin", "all", "7", None)] == [10, 100, 7,
                                                                                                       None]
    summary = replicates.replicate_summary(rows, exp_replacement.summarize_inter_replacement)
    assert (summary["n_seeds"], summary["n_incomplete_seeds"]) == (0, 1)
    assert replicates.format_tables([summary]) == "" and "no seed" in replicates.describe_summary(summary)


def test_summaries_of_each_experiment_have_their_table(tmp_path, capsys):
    rows = [{"experiment": "inter-replacement", "dataset": "mnist+emnist", "class_a": 0, "class_b": b, "seed": s,
             "ma": 93.0, "tma": 95.0 - s, "ma_minus_tma": s - 2.0, "ma_ge_tma": s >= 2, "epochs": 10,
             "cases": "2", "modules": "stored"} for s in range(3) for b in range(2)]
    rows += [{"experiment": "duodecimal", "dataset": "mnist+emnist", "seed": s, "ma": 92.02, "tma": 92.0 + s,
              "ma_official_rule": 83.41, "ma_minus_tma": 0.02 - s, "ma_official_rule_minus_tma": -8.59 - s,
              "epochs": 50, "modules": "stored"} for s in range(2)]
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    main(["summarize", str(path)])
    replacement, duodecimal = _json_lines(capsys)
    assert replacement["n_seeds"] == 3 and replacement["n_ma_ge_tma"] == 0.67 and replacement["mean_tma"] == 94
    assert replacement["paper_mean_ma_minus_tma"] == -1.62 and duodecimal["paper_ma_minus_tma"] == -8.05
    main(["summarize", str(path), "--format", "table"])
    table = capsys.readouterr().out
    assert "| MNIST + EMNIST | 0.7 ± 2.9 (n=3) of 2 | 93.0 | 94.00 ± 2.48 (n=3) |" in table
    assert "| 50 | 92.02 | 83.41 | 92.50 ± 6.35 (n=2) |" in table


def test_summarize_refuses_a_missing_file_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["summarize", str(tmp_path / "none.jsonl")])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "files" in err[0]


# ---------------------------------------------------------------------------
# Records: resume after a kill
# ---------------------------------------------------------------------------

def test_a_partial_last_line_is_cut_off_and_rows_append_whole(tmp_path):
    path = tmp_path / "r.jsonl"
    replicates.append_record(path, {"a": 1})
    with open(path, "a") as f:
        f.write('{"a": 2, "b"')                    # what a kill mid-write could leave
    assert replicates.read_records(path) == [{"a": 1}]             # a reader leaves the file alone
    assert path.read_text() == '{"a": 1}\n{"a": 2, "b"'
    assert replicates.read_records(path, repair=True) == [{"a": 1}]
    assert path.read_text() == '{"a": 1}\n'
    replicates.append_record(path, {"a": 3})
    assert replicates.read_records(path) == [{"a": 1}, {"a": 3}]
    assert replicates.read_records(tmp_path / "absent.jsonl") == []


# ---------------------------------------------------------------------------
# Building blocks of the inter-dataset experiments
# ---------------------------------------------------------------------------

@given(module_lists_with_batches())
def test_reporting_each_module_s_own_slot_is_the_composition_rule(drawn):
    modules, X = drawn
    assert np.array_equal(reuse.compose_predict_reported(modules, X, range(len(modules))),
                          dc.compose_predict(modules, X))


def test_the_authors_duodecimal_bug_reports_letters_as_digits():
    X = np.zeros((1, 2))
    # only the letter module in slot 2 (own class 0) votes: the authors' script predicts 0, the right answer is 2
    def constant(logits, target):
        return dc.Module([np.zeros((2, 3)), np.zeros((3, 3))], [np.zeros(3), np.asarray(logits, float)], target)
    modules = [constant([0.0, 1.0, 0.0], 0), constant([1.0, 0.0, 0.0], 1), constant([2.0, 0.0, 0.0], 0)]
    assert dc.compose_predict(modules, X).tolist() == [2]
    assert reuse.compose_predict_reported(modules, X, [m.target for m in modules]).tolist() == [0]


def test_replaced_data_swaps_one_class_and_keeps_its_label():
    X1, y1 = np.arange(6.0)[:, None], np.array([0, 1, 2, 0, 1, 2])
    X2, y2 = -np.arange(4.0)[:, None], np.array([3, 1, 3, 0])
    X, y = exp_replacement.replaced_data(X1, y1, 1, X2, y2, 3)
    assert X.ravel().tolist() == [0, 2, 3, 5, -0.0, -2] and y.tolist() == [0, 2, 0, 2, 1, 1]
    modules = list("abc")
    assert reuse.replaced_modules(modules, 1, "z") == ["a", "z", "c"] and modules == ["a", "b", "c"]
    with pytest.raises(ValueError, match="k"):
        reuse.replaced_modules(modules, 3, "z")


def test_latin_cases_take_every_class_once_and_ten_seeds_cover_all():
    for seed in range(10):
        cases = exp_replacement.replacement_cases("latin", seed)
        assert sorted(k for k, _ in cases) == sorted(j for _, j in cases) == list(range(10))
    assert {c for s in range(10) for c in exp_replacement.replacement_cases("latin", s)} == set(exp_replacement.replacement_cases("all"))
    assert exp_replacement.replacement_cases(2) == [(0, 0), (0, 1)]


def test_duodecimal_data_labels_the_letters_10_and_11():
    X, y = exp_duodecimal.duodecimal_data(np.zeros((3, 1)), [0, 5, 9], np.ones((4, 1)), [1, 0, 2, 1])
    assert y.tolist() == [0, 5, 9, 10, 11, 11] and X.shape == (6, 1)


def test_experiment_arrays_refuses_an_unknown_protocol():
    with pytest.raises(ValueError, match="protocol"):
        exp_data.experiment_arrays("kmnist", "test-set")


# ---------------------------------------------------------------------------
# The commands on the real data (tiny scale)
# ---------------------------------------------------------------------------

def test_inter_replacement_command_reproduces_the_authors_first_ma(capsys, shared_data_dir, official_models_dir):
    main(["replace", "--inter", "mnist", "emnist", "--cases", "1", "--epochs", "1",
          *_data_args(shared_data_dir, official_models_dir)])
    err = []
    row, summary = _json_lines(capsys, err)
    # the authors' Replacement/MNISTEMNIST/outputAcc.txt, first line: 0.939816700610998 (9,020 digits + 800 A's)
    assert (row["class_a"], row["class_b"], row["ma"], row["n_test"]) == (0, 0, 93.98, 9820)
    assert row["experiment"] == "inter-replacement" and "tma" in row and row["seed"] == 0
    assert summary["summary"] == "inter-replacement" and summary["paper_mean_ma_minus_tma"] == -1.62
    assert "inter-replacement" in err[0]          # the summary in words


def test_ma_only_replacement_gives_the_authors_per_case_values(capsys, shared_data_dir, official_models_dir):
    main(["replace", "--inter", "mnist", "emnist", "--ma-only", "--cases", "2",
          *_data_args(shared_data_dir, official_models_dir)])
    *rows, summary = _json_lines(capsys)
    # outputAcc.txt of Replacement/MNISTEMNIST: 0.939816700610998, 0.9431771894093687
    assert [r["ma"] for r in rows] == [93.98, 94.33] and "seed" not in rows[0]
    assert summary["summary"] == "inter-replacement-ma" and summary["authors_mean_ma"] == 93.49


def test_inter_replacement_with_kmnist_labels_the_protocol(capsys, shared_data_dir, official_models_dir):
    main(["replace", "--inter", "mnist", "kmnist", "--cases", "1", "--epochs", "1", "--protocol", "authors",
          *_data_args(shared_data_dir, official_models_dir)])
    row, summary = _json_lines(capsys)
    # the authors' Replacement/MNISTKMNIST/outputAcc.txt, first line: 0.9032934131736527 (9,020 + 1,000 images)
    assert (row["ma"], row["n_test"], row["protocol"]) == (90.33, 10020, "authors")
    assert "trained on" in row["note"] and summary["protocol"] == "authors"


def test_duodecimal_command_finds_the_papers_ma_only_with_the_authors_bug(capsys, shared_data_dir,
                                                                           official_models_dir):
    main(["duodecimal", "--epochs", "1", *_data_args(shared_data_dir, official_models_dir)])
    err = []
    row, summary = _json_lines(capsys, err)
    # paper: 83.40 (truncated); the composition rule itself gives 92.02 on the 11,600 test images
    assert (row["ma_official_rule"], row["ma"], row["n_test"], row["n_train"]) == (83.41, 92.02, 11600, 69600)
    assert summary["n_seeds"] == 1 and summary["paper_ma"] == 83.40
    assert "duodecimal" in err[0]


def test_reuse_with_seeds_and_records_resumes_without_recomputing(capsys, tmp_path, shared_data_dir,
                                                                  official_models_dir):
    records = tmp_path / "reuse.jsonl"
    args = ["reuse", "--inter", "mnist", "emnist", "--pairs", "1", "--epochs", "1", "--seeds", "2",
            "--records", str(records), *_data_args(shared_data_dir, official_models_dir)]
    main(args)
    *rows, summary = _json_lines(capsys)
    assert [r["seed"] for r in rows] == [0, 1] and summary["n_seeds"] == 2 and summary["n_cases"] == 1
    before = records.read_text()
    main(args)                                     # everything is in the records: nothing is trained again
    *again, summary_again = _json_lines(capsys)
    assert again == rows and records.read_text() == before and summary_again == summary


def test_seeds_must_be_positive(capsys, shared_data_dir, official_models_dir):
    with pytest.raises(SystemExit) as info:
        main(["duodecimal", "--seeds", "0", *_data_args(shared_data_dir, official_models_dir)])
    assert info.value.code == 2 and "--seeds" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# The docs' tables are the summarize command's output on the committed records
# ---------------------------------------------------------------------------

@pytest.mark.skipif(not RECORDS, reason="no docs/records/*.jsonl")
@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_docs_tables_are_the_summaries_of_the_committed_records(path, capsys):
    main(["summarize", str(path), "--format", "table"])
    table = capsys.readouterr().out.strip()
    docs = (REPO / "docs" / "decomposition.md").read_text()
    assert table and table in docs, f"docs/decomposition.md lacks the table of {path.name}; run " \
                                    f"python -m decomposition summarize {path.relative_to(REPO)} --format table"
    assert re.search(rf"summarize docs/records/{re.escape(path.name)}", docs)


def test_a_bad_case_selection_is_a_usage_error(capsys):
    for args in (["replace", "--inter", "mnist", "emnist", "--cases", "some"], ["reuse", "--pairs", "0"],
                 ["reuse", "--inter", "mnist", "letters"]):
        with pytest.raises(SystemExit) as info:
            main(args)
        assert info.value.code == 2
        assert re.search(r"--(cases|pairs|inter)", capsys.readouterr().err.strip().splitlines()[-1])
