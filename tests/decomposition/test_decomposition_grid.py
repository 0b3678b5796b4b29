"""Every decomposition experiment command runs its tasks through ``nnlite.experiment.run_grid`` (issue 11).

Records (``--out DIR/results.jsonl``) hold results only and are the same bytes
under every backend; the seconds go to ``timings.jsonl``; a grid resumes from
the tasks it finished.
"""
import json

import pytest

from decomposition.__main__ import main


def _data_args(shared_data_dir, official_models_dir):
    return ["--data-dir", str(shared_data_dir), "--models-dir", str(official_models_dir)]


def _stdout_rows(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def inter_reuse(tmp_path_factory, shared_data_dir, official_models_dir):
    """``reuse --inter mnist emnist`` on 2 pairs x 2 seeds, sequentially, in a fresh --out folder."""
    out = tmp_path_factory.mktemp("grid") / "sequential"
    args = ["reuse", "--inter", "mnist", "emnist", "--pairs", "2", "--epochs", "1", "--seeds", "2",
            *_data_args(shared_data_dir, official_models_dir)]
    assert main([*args, "--out", str(out)]) == 0
    return args, out


def test_reuse_records_hold_results_only_and_timings_go_apart(inter_reuse):
    _, out = inter_reuse
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(records) == 4 and [r["key"] for r in records] == sorted(r["key"] for r in records)
    assert all("seconds" not in r["result"] and r["params"]["experiment"] == "inter-reuse" for r in records)
    assert {(r["params"]["seed"], r["params"]["class_b"]) for r in records} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    timings = [json.loads(line) for line in (out / "timings.jsonl").read_text().splitlines()]
    assert sorted(t["key"] for t in timings) == sorted(r["key"] for r in records)
    assert all(t["seconds"] > 0 for t in timings)


def test_reuse_gives_the_same_records_under_loky(inter_reuse, tmp_path, capsys):
    args, out = inter_reuse
    assert main([*args, "--backend", "loky", "--jobs", "2", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "results.jsonl").read_bytes() == (out / "results.jsonl").read_bytes()


def test_an_interrupted_reuse_grid_resumes_to_the_same_records(inter_reuse, tmp_path, capsys):
    args, out = inter_reuse
    folder = tmp_path / "copy"
    (folder / "records").mkdir(parents=True)
    kept = sorted((out / "records").glob("*.json"))[:2]          # as if killed after two tasks
    for path in kept:
        (folder / "records" / path.name).write_bytes(path.read_bytes())
    assert main([*args, "--out", str(folder)]) == 0
    assert (folder / "results.jsonl").read_bytes() == (out / "results.jsonl").read_bytes()
    assert len((folder / "timings.jsonl").read_text().splitlines()) == 2      # only the two it ran again
    rows = _stdout_rows(capsys)
    assert [r["seed"] for r in rows[:-1]] == [0, 0, 1, 1] and "seconds" not in rows[0]
    assert list(rows[0]) == ["experiment", "dataset", "class_a", "class_b", "ma", "ma_official_rule", "tma", "rule",
                             "epochs", "seed", "ma_ge_tma", "modules", "pairs"]      # the committed rows' order


def test_table1_prints_seconds_that_its_records_keep_apart(tmp_path, capsys, shared_data_dir, official_models_dir):
    assert main(["table1", "--models", "mnist-1", "--approaches", "TI-SNE", "CM-C", "--propagation", "linear",
                 "--seeds", "2", "--out", str(tmp_path), *_data_args(shared_data_dir, official_models_dir)]) == 0
    rows = _stdout_rows(capsys)
    assert [(r["approach"], r["seed"]) for r in rows] == [("TI-SNE", 0), ("CM-C", 0), ("TI-SNE", 1), ("CM-C", 1)]
    assert all(r["seconds"] >= 0 for r in rows)
    assert all(list(r)[:9] == ["model", "approach", "propagation", "fidelity", "model_accuracy", "composed_accuracy",
                               "ji_official", "ji_mask", "seconds"] for r in rows)   # table1_row's order
    records = [json.loads(line)["result"] for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(records) == 4 and all("seconds" not in r for r in records)
    assert sorted(json.dumps(r, sort_keys=True) for r in records) == \
        sorted(json.dumps({k: v for k, v in r.items() if k != "seconds"}, sort_keys=True) for r in rows)


@pytest.mark.parametrize("command", [["reuse", "--pairs", "1"], ["replace"], ["duodecimal"],
                                     ["table1", "--models", "mnist-1"]])
def test_a_scheduler_without_dask_is_a_one_line_error(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([*command, "--scheduler", "tcp://127.0.0.1:1"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--scheduler" in err[0]


@pytest.mark.parametrize("command", ["table1", "reuse", "replace", "duodecimal"])
def test_every_experiment_command_takes_the_grid_options(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    for option in ("--backend", "--scheduler", "--seeds", "--out", "--jobs"):
        assert option in text
