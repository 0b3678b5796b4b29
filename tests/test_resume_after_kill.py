"""Long runs resume bit-identically after SIGKILL, the way a user meets it.

Each test starts the real command (``python -m pruning ...``, tiny settings) in a
subprocess, kills it with SIGKILL at a point given by a file appearing on disk
(so the kills land at different stages: before the first checkpoint, between
the files of one round, after the search...), runs the same command again, and
compares every output with an uninterrupted run: arrays bit for bit, JSON
equal once the wall-clock fields are removed (they measure this machine, not
the run), figures byte for byte. No temporary file may be left behind.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nnlite.cli import TEMP_SUFFIX

REPO = Path(__file__).resolve().parents[1]
#: Wall-clock fields: they differ between any two runs, interrupted or not.
TIMING_KEYS = {"seconds", "seconds_per_round", "train_seconds", "search_seconds_this_run",
               "search_cpu_seconds_this_run"}

pytestmark = pytest.mark.slow


def _env():
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "NUMBA_NUM_THREADS": "1"}


def run_to_the_end(argv):
    result = subprocess.run([sys.executable, "-m", "pruning", *argv], capture_output=True, text=True, env=_env(),
                            cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def kill_when(argv, condition, timeout=120):
    """Start the command, SIGKILL it as soon as ``condition()`` holds; True if it was still running."""
    process = subprocess.Popen([sys.executable, "-m", "pruning", *argv], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=_env(), cwd=REPO)
    deadline = time.monotonic() + timeout
    while process.poll() is None and not condition() and time.monotonic() < deadline:
        time.sleep(0.002)
    was_running = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait()
    return was_running


def _without_timing(value):
    if isinstance(value, dict):
        return {k: _without_timing(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_without_timing(v) for v in value]
    return value


def outputs(folder):
    """Every output file of a run folder: .npz as {name: (dtype, shape, bytes)}, JSON without timing, else bytes."""
    found = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.is_dir():
            continue
        name = str(path.relative_to(folder))
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                found[name] = {k: (f[k].dtype.str, f[k].shape, f[k].tobytes()) for k in f.files}
        elif path.suffix == ".json":
            found[name] = _without_timing(json.loads(path.read_text()))
        elif path.suffix == ".jsonl":
            found[name] = [_without_timing(json.loads(line)) for line in path.read_text().splitlines()]
        else:
            found[name] = path.read_bytes()
    return found


def assert_same_outputs(resumed, reference):
    assert not list(Path(resumed).rglob(f"*{TEMP_SUFFIX}")), "a temporary file was left behind"
    got, want = outputs(resumed), outputs(reference)
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name] == want[name], f"{name} differs from the uninterrupted run"


def a_dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def file_exists(path):
    return lambda: Path(path).exists()


def n_files_at_least(folder, n):
    return lambda: Path(folder).is_dir() and len(list(Path(folder).glob("*.json"))) >= n


# -- WANN (offline: the 8x8 digits) -------------------------------------------------

def wann_argv(out):
    return ["wann", "--task", "digits8", "--population", "8", "--generations", "8", "--batch-size", "64",
            "--tune-epochs", "1", "--resume", "--out", str(out)]


@pytest.fixture(scope="module")
def wann_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("wann") / "reference"
    run_to_the_end(wann_argv(out))
    return out


def test_wann_search_killed_at_every_stage_resumes_bit_identically(wann_reference, tmp_path):
    out = tmp_path / "run"
    checkpoint, start = out / "checkpoint.npz", []
    some_generations_later = lambda: checkpoint.exists() and (  # noqa: E731
        start.append(time.monotonic()) or time.monotonic() - start[0] > 0.1)
    for condition in (file_exists(out / "settings.json"), file_exists(checkpoint), some_generations_later,
                      file_exists(out / "champion.npz")):
        kill_when(wann_argv(out), condition)   # each restart resumes the previous one and is killed again
    stale = out / f".checkpoint.npz.{a_dead_pid()}{TEMP_SUFFIX}"   # what a kill during a save leaves
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"half a checkpoint")
    run_to_the_end(wann_argv(out))
    assert_same_outputs(out, wann_reference)


# -- lottery (MNIST) ----------------------------------------------------------------

def lottery_argv(out, data_dir):
    return ["lottery", "--iterations", "20", "--rounds", "2", "--trials", "1", "--n-train", "300", "--eval-every",
            "10", "--control-rounds", "1", "--rewind", "5", "--data-dir", str(data_dir), "--out", str(out)]


@pytest.fixture(scope="module")
def lottery_reference(tmp_path_factory, shared_data_dir):
    out = tmp_path_factory.mktemp("lottery") / "reference"
    run_to_the_end(lottery_argv(out, shared_data_dir))
    return out


def test_lottery_killed_at_every_stage_resumes_bit_identically(lottery_reference, shared_data_dir, tmp_path):
    out = tmp_path / "run"
    # theta_rewind written, records.json not yet: the restart must redo round 0 from theta_0, not from theta_k
    for stage in ("trial_0/theta_0.npz", "trial_0/theta_rewind.npz", "trial_0/records.json",
                  "trial_0/masks_round_3.npz"):
        kill_when(lottery_argv(out, shared_data_dir), file_exists(out / stage))
    run_to_the_end(lottery_argv(out, shared_data_dir))
    assert_same_outputs(out, lottery_reference)


# -- DSR (Fashion-MNIST) ----------------------------------------------------------------

def dsr_argv(out, data_dir):
    return ["dsr", "--n-train", "300", "--epochs", "1", "--sparsity", "0.9", "--methods", "dense", "dsr", "gmp",
            "--channels", "2", "4", "--hidden", "8", "--rewire-period", "2", "--data-dir", str(data_dir),
            "--out", str(out)]


@pytest.fixture(scope="module")
def dsr_reference(tmp_path_factory, shared_data_dir):
    out = tmp_path_factory.mktemp("dsr") / "reference"
    run_to_the_end(dsr_argv(out, shared_data_dir))
    return out


def test_dsr_killed_between_or_inside_runs_resumes_bit_identically(dsr_reference, shared_data_dir, tmp_path):
    out = tmp_path / "run"
    reference_lines = outputs(dsr_reference)["dsr.jsonl"]
    # the runs are grid tasks: dsr.jsonl holds its header from the start, each finished run is a record
    for condition in (file_exists(out / "dsr.jsonl"), n_files_at_least(out / "records", 1),
                      n_files_at_least(out / "records", 2)):
        kill_when(dsr_argv(out, shared_data_dir), condition)
        # what survives a kill is a prefix of the uninterrupted file, never truncated
        lines = outputs(out)["dsr.jsonl"]
        assert lines == reference_lines[:len(lines)] and len(lines) >= 1
    run_to_the_end(dsr_argv(out, shared_data_dir))
    assert_same_outputs(out, dsr_reference)


# -- OBD (MNIST) ------------------------------------------------------------------------

def obd_argv(out, data_dir):
    return ["obd", "--n-train", "600", "--hessian-samples", "200", "--hidden", "8", "--epochs", "1", "--fractions",
            "0.5", "0.9", "--n-single", "3", "--seeds", "2", "--data-dir", str(data_dir), "--out", str(out)]


def test_obd_killed_between_seeds_resumes_bit_identically(shared_data_dir, tmp_path):
    reference, out = tmp_path / "reference", tmp_path / "run"
    run_to_the_end(obd_argv(reference, shared_data_dir))
    kill_when(obd_argv(out, shared_data_dir), n_files_at_least(out / "records", 1))
    run_to_the_end(obd_argv(out, shared_data_dir))
    assert_same_outputs(out, reference)
