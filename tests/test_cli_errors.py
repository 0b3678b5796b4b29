"""Every command-line user error: one line on stderr naming the option, no traceback, exit status 2.

Most cases call the commands' ``main(argv)`` in this process (what ``python -m`` runs after the
imports); a few run the real command in a subprocess, as a user meets it.
"""
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from decomposition.__main__ import main as decomposition_main
from nnlite import cli
from pruning.__main__ import main as pruning_main

REPO = Path(__file__).resolve().parents[1]

PRUNING_ERRORS = [
    (["lottery", "--trials", "0"], "--trials"),
    (["lottery", "--n-train", "0"], "--n-train"),
    (["lottery", "--iterations", "-5"], "--iterations"),
    (["lottery", "--rounds", "-1"], "--rounds"),
    (["lottery", "--eval-every", "0"], "--eval-every"),
    (["lottery", "--control-rounds", "-2"], "--control-rounds"),
    (["lottery", "--trial-ids", "-1"], "--trial-ids"),
    (["lottery", "--seed", "x"], "--seed"),
    (["lottery", "--rewind", "300", "--iterations", "300"], "--rewind"),
    (["wann", "--batch-size", "0"], "--batch-size"),
    (["wann", "--generations", "-3"], "--generations"),
    (["wann", "--population", "1"], "--population"),
    (["wann", "--p-enable", "1.5"], "--p-enable"),
    (["wann", "--tournament-size", "0"], "--tournament-size"),
    (["wann", "--time-budget-minutes", "-1"], "--time-budget-minutes"),
    (["wann", "--n-jobs", "0"], "--n-jobs"),
    (["dsr", "--batch-size", "0"], "--batch-size"),
    (["dsr", "--channels", "0"], "--channels"),
    (["dsr", "--hidden", "0"], "--hidden"),
    (["dsr", "--epochs", "-1"], "--epochs"),
    (["dsr", "--rewire-period", "0"], "--rewire-period"),
    (["dsr", "--sparsity", "1.0"], "--sparsity"),
    (["dsr", "--n-prune-target", "1.5"], "--n-prune-target"),
    (["dsr", "--lr", "nan"], "--lr"),
    (["dsr", "--channels", "4", "4", "4", "4", "4", "4"], "--channels"),
    (["dsr", "--momentum", "1.0"], "--momentum"),
    (["dsr", "--weight-decay", "-1"], "--weight-decay"),
    (["dsr", "--weight-decay", "5e-4"], "--optimizer adam"),
    (["dsr", "--recipe", "papers"], "--recipe"),
    (["obd", "--hidden", "0"], "--hidden"),
    (["obd", "--fractions", "1.5"], "--fractions"),
    (["obd", "--epochs", "0"], "--epochs"),
    (["obd", "--retrain-epochs", "-1"], "--retrain-epochs"),
    (["nope"], "nope"),
    ([], "required"),
]

DECOMPOSITION_ERRORS = [
    (["demo", "--epochs", "0"], "--epochs"),
    (["demo", "--hidden-layers", "-1"], "--hidden-layers"),
    (["demo", "--seed", "-1"], "--seed"),
    (["table1", "--epochs", "0"], "--epochs"),
    (["table1", "--models", "no-such-model"], "--models"),
    (["table1", "--models", "mnist-1", "nnlite-mnist-1"], "--models"),
    (["reuse", "--pairs", "0"], "--pairs"),
    (["summarize", "/no/such/file.jsonl"], "/no/such/file.jsonl"),
]


def assert_one_line_error(capsys, call, argv, named, status=2):
    with pytest.raises(SystemExit) as stop:
        call(argv)
    err = capsys.readouterr().err
    assert stop.value.code == status, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and ": error: " in lines[0], err
    assert named in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("argv, named", PRUNING_ERRORS)
def test_pruning_command_errors_are_one_line_with_status_2(argv, named, capsys, tmp_path):
    needs_out = argv and argv[0] in ("wann", "lottery", "dsr", "obd")
    assert_one_line_error(capsys, pruning_main, argv + (["--out", str(tmp_path / "out")] if needs_out else []), named)
    assert not (tmp_path / "out").exists() or argv[0] == "lottery"  # a refused run writes nothing (lottery: a folder)


@pytest.mark.parametrize("argv, named", DECOMPOSITION_ERRORS)
def test_decomposition_command_errors_are_one_line_with_status_2(argv, named, capsys):
    assert_one_line_error(capsys, decomposition_main, argv, named)


def _wann(out, *extra):
    return ["wann", "--population", "4", "--generations", "1", "--batch-size", "32", "--tune-epochs", "0",
            "--out", str(out), *extra]


def test_wann_refuses_to_overwrite_a_saved_search_without_resume(capsys, tmp_path):
    assert pruning_main(_wann(tmp_path)) == 0
    before = (tmp_path / "checkpoint.npz").read_bytes()
    line = assert_one_line_error(capsys, pruning_main, _wann(tmp_path), "--resume")
    assert "choose another --out" in line and (tmp_path / "checkpoint.npz").read_bytes() == before
    line = assert_one_line_error(capsys, pruning_main, _wann(tmp_path, "--resume", "--population", "6"),
                                 "--population 4")
    assert "--population 6" in line


def test_wann_resume_refuses_a_tampered_checkpoint(capsys, tmp_path):
    assert pruning_main(_wann(tmp_path)) == 0
    with np.load(tmp_path / "checkpoint.npz") as f:
        arrays = dict(f)
    meta = json.loads(str(arrays["meta"]))
    meta["rng_state"] = {"bit_generator": "os.system", "state": {"state": 1, "inc": 1}, "has_uint32": 0,
                         "uinteger": 0}
    np.savez(tmp_path / "checkpoint.npz", **{**arrays, "meta": np.array(json.dumps(meta))})
    assert_one_line_error(capsys, pruning_main, _wann(tmp_path, "--resume"), "os.system")
    arrays["src"] = arrays["src"] + 10_000      # connections to nodes that do not exist
    np.savez(tmp_path / "checkpoint.npz", **arrays)
    assert_one_line_error(capsys, pruning_main, _wann(tmp_path, "--resume"), "invalid search")


def test_dsr_resume_with_other_settings_is_refused_naming_them(capsys, tmp_path):
    header = {"dataset": "fashion-mnist", "settings": {"dataset": "fashion-mnist", "epochs": 1}}
    (tmp_path / "dsr.jsonl").write_text(json.dumps(header) + "\n")
    line = assert_one_line_error(capsys, pruning_main, ["dsr", "--epochs", "2", "--out", str(tmp_path)], "--epochs 1")
    assert "--epochs 2" in line and (tmp_path / "dsr.jsonl").read_text() == json.dumps(header) + "\n"


def test_lottery_summary_only_without_runs_and_resume_with_another_subset_are_refused(capsys, tmp_path):
    assert_one_line_error(capsys, pruning_main, ["lottery", "--summary-only", "--out", str(tmp_path / "none")],
                          "--summary-only")
    from pruning import lottery
    from pruning.experiments import lottery as LX
    (tmp_path / "trial_0").mkdir()
    (tmp_path / "trial_0" / "records.json").write_text(json.dumps(
        {"config": LX._config_json(lottery.LotteryConfig(n_iterations=20)), "data": {"n_train": 300},
         "records": []}))
    line = assert_one_line_error(capsys, pruning_main, ["lottery", "--iterations", "20", "--n-train", "400",
                                                        "--out", str(tmp_path)], "n_train=400 (saved run: 300)")
    assert "n_iterations" not in line


def test_quick_leaves_explicit_options_alone(tmp_path):
    from pruning.experiments import dsr as DX
    from pruning.experiments import lottery as LX
    from pruning.experiments import obd as OX
    args = dict(quick=True, epochs=5, channels=None, hidden=None, rewire_period=None, n_train=None)
    filled = DX.apply_quick(type("Args", (), args)())
    assert (filled.epochs, filled.channels, filled.hidden, filled.n_train) == (5, [8, 16], 64, 3000)
    filled = OX.apply_quick(type("Args", (), dict(quick=True, n_train=None, hidden=[7], epochs=None,
                                                   hessian_samples=None, fractions=None))())
    assert filled.hidden == [7] and filled.epochs == 2
    assert set(LX.QUICK) == set(LX.COMMAND_DEFAULTS)


def test_library_errors_are_named_after_the_option():
    with pytest.raises(ValueError, match="^--iterations: bad"), cli.option_names({"n_iterations": "--iterations"}):
        raise ValueError("n_iterations: bad")
    with pytest.raises(TypeError, match="^other: bad"), cli.option_names({"n_iterations": "--iterations"}):
        raise TypeError("other: bad")


def _run(argv, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env, cwd=REPO, **kwargs)


@pytest.mark.parametrize("argv", [
    ["-m", "pruning", "wann", "--batch-size", "0", "--out", "unused"],
    ["-m", "pruning", "dsr", "--hidden", "0"],
    ["-m", "decomposition", "demo", "--epochs", "0"],
])
def test_real_commands_print_one_line_and_exit_2(argv):
    result = _run(argv, timeout=120)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_stops_a_run_cleanly_and_it_resumes(tmp_path):
    out = tmp_path / "run"
    argv = ["-m", "pruning"] + _wann(out, "--resume")
    argv[argv.index("--generations") + 1] = "400"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=env, cwd=REPO)
    deadline = time.monotonic() + 60
    while not (out / "checkpoint.npz").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    err = process.communicate(timeout=60)[1]
    assert process.returncode == 143, err
    last = err.strip().splitlines()[-1]
    assert last.endswith("stopped by SIGTERM; run the same command again to resume with --resume"), err
    assert "Traceback" not in err and not list(out.rglob(f"*{cli.TEMP_SUFFIX}"))


# -- nnlite.cli's pieces ---------------------------------------------------------------------

@pytest.mark.parametrize("kind, good, bad", [
    (cli.positive_int, {"1": 1, "7": 7}, ["0", "-1", "1.5", "x", ""]),
    (cli.non_negative_int, {"0": 0, "3": 3}, ["-1", "2.0", "x"]),
    (cli.positive_float, {"0.5": 0.5, "3": 3.0}, ["0", "-1", "nan", "inf", "x"]),
    (cli.fraction, {"0.5": 0.5}, ["0", "1", "1.5", "nan"]),
    (cli.probability, {"0": 0.0, "1": 1.0}, ["-0.1", "1.1", "nan"]),
    (cli.sparsity, {"0": 0.0, "0.9": 0.9}, ["1", "-0.1", "nan"]),
    (cli.count_or_fraction, {"0.02": 0.02, "5": 5.0}, ["0", "1.5", "nan", "-2"]),
])
def test_option_types_accept_good_and_refuse_bad_values(kind, good, bad):
    import argparse
    for text, value in good.items():
        assert kind(text) == value
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match=repr(text).replace("'", ".")):
            kind(text)


def test_atomic_write_leaves_the_old_file_and_no_temporary_file_on_failure(tmp_path):
    target = tmp_path / "state.json"
    cli.write_text_atomic(target, "old")

    def fail_halfway(f):
        f.write(b"half")
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        cli.atomic_write(target, fail_halfway)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_stale_temporary_files_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    (tmp_path / "trial_0").mkdir()
    dead = tmp_path / "trial_0" / f".records.json.{process.pid}{cli.TEMP_SUFFIX}"
    live = tmp_path / f".records.json.{os.getpid()}{cli.TEMP_SUFFIX}"
    dead.write_text("x")
    live.write_text("x")
    assert cli.remove_stale_temp_files(tmp_path) == [dead] and live.exists() and not dead.exists()
    assert cli.remove_stale_temp_files(tmp_path / "missing") == []


def test_a_diverging_dsr_run_is_one_line_and_never_writes_nan(shared_data_dir, tmp_path, capsys):
    argv = ["dsr", "--n-train", "200", "--epochs", "1", "--sparsity", "0.9", "--methods", "dense", "--channels", "2",
            "--hidden", "4", "--lr", "1e30", "--data-dir", str(shared_data_dir), "--out", str(tmp_path)]
    with warnings.catch_warnings(), pytest.raises(SystemExit) as stop:
        warnings.simplefilter("ignore", RuntimeWarning)   # overflow warnings on the way to inf
        pruning_main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code != 0 and len(err) == 1 and "Traceback" not in err[0], err
    assert "--lr" in err[0] or "loss" in err[0], err
    text = (tmp_path / "dsr.jsonl").read_text()
    assert "NaN" not in text and "Infinity" not in text and len(text.splitlines()) == 1   # the header only


# --- issue 9, section 3: the decomposition commands' remaining probe findings ---------------------------------

@pytest.mark.parametrize("argv, named", [
    (["demo", "--hidden-layers", "1000000000"], "--hidden-layers"),   # refused, not started
    (["demo", "--hidden-layers", "1001"], "--hidden-layers"),
    (["reuse", "--pairs", "1", "--inter", "mnist", "bogus"], "--inter"),
    (["fetch-models", "mnist-1", "--base-url", "127.0.0.1/x"], "--base-url"),   # a user error: 2, not 1
    (["fetch-models", "mnist-1", "--base-url", "ftp://127.0.0.1/"], "--base-url"),
])
def test_decomposition_options_refused_before_any_work(argv, named, capsys):
    assert_one_line_error(capsys, decomposition_main, argv, named)


def test_demo_help_states_the_hidden_layer_bound(capsys):
    from decomposition.experiments import MAX_HIDDEN_LAYERS
    with pytest.raises(SystemExit):
        decomposition_main(["demo", "--help"])
    assert f"1 to {MAX_HIDDEN_LAYERS}" in capsys.readouterr().out

@pytest.mark.parametrize("command, n_available", [("obd", 60000), ("lottery", 55000)])
def test_n_train_larger_than_the_training_set_is_refused(command, n_available, shared_data_dir, capsys, tmp_path):
    # The check needs the dataset's size, so it runs after loading MNIST, and before any training
    # (lottery holds 5000 training images out for validation).
    line = assert_one_line_error(capsys, pruning_main, [command, "--n-train", "100000000", "--data-dir",
                                                         str(shared_data_dir), "--out", str(tmp_path / "out")],
                                 "--n-train")
    assert f"at most {n_available}" in line, line
    assert not list(tmp_path.glob("out/**/*.json*"))  # no records written


def test_dsr_compare_seeds_refuses_what_is_not_a_run_file_naming_the_option(capsys, tmp_path):
    (tmp_path / "text.jsonl").write_text("hello\n")
    for path in (tmp_path, tmp_path / "missing.jsonl", tmp_path / "text.jsonl"):
        line = assert_one_line_error(capsys, pruning_main, ["dsr", "--compare-seeds", str(path)], "--compare-seeds")
        assert str(path) in line


def test_dsr_n_train_above_the_training_set_is_refused_and_writes_nothing(capsys, tmp_path, shared_data_dir):
    argv = ["dsr", "--n-train", "60001", "--data-dir", str(shared_data_dir), "--epochs", "1", "--methods", "dense",
            "--out", str(tmp_path / "out")]
    line = assert_one_line_error(capsys, pruning_main, argv, "--n-train")
    assert "60000" in line and not (tmp_path / "out").exists()


def test_a_grid_resumed_with_another_thread_count_is_refused_in_one_line(capsys, tmp_path, shared_data_dir):
    # OpenBLAS's bits differ between one and two threads (docs/cluster.md): the grid's thread count is saved
    out = tmp_path / "out"
    out.mkdir()
    (out / "grid.json").write_text('{"n_threads":2,"seed":0}')
    line = assert_one_line_error(capsys, pruning_main, ["obd", "--quick", "--data-dir", str(shared_data_dir),
                                                        "--out", str(out)], "grid.json")
    assert "n_threads=2" in line and "n_threads=1" in line and "--blas-threads" in line, line
    assert not list(out.glob("records/*.json"))   # nothing run
