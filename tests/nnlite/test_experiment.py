"""nnlite.experiment: one grid, the same records on every backend, resumed after SIGKILL, never half-written."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given

from nnlite import experiment as E
from strategies import grid_params

REPO = Path(__file__).resolve().parents[2]
GRID = [{"n": n, "scale": s} for n in (3, 5) for s in (0.5, 2.0)]


def least_squares_task(params, seed):
    """A small task with BLAS in it: the residual norm of a random least-squares problem."""
    rng = np.random.default_rng(seed)
    A = params["scale"] * rng.normal(size=(40, params["n"]))
    b = rng.normal(size=40)
    x = np.linalg.lstsq(A, b, rcond=None)[0]
    if os.environ.get("NNLITE_TEST_TASK_SLEEP"):   # room for the kill test to kill between tasks
        time.sleep(float(os.environ["NNLITE_TEST_TASK_SLEEP"]))
    return {"residual": float(np.linalg.norm(A @ x - b)), "x0": float(x[0])}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("grid") / "sequential"
    E.run_grid(least_squares_task, GRID, out, backend="sequential")
    return (out / "results.jsonl").read_bytes()


@pytest.fixture(scope="module")
def local_cluster():
    """One real 2-worker LocalCluster on 127.0.0.1 for the module (workers are separate processes)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster, distributed.Client(cluster) as client:
        # the workers import this module by name, as they would import an experiment module
        client.run(sys.path.insert, 0, str(Path(__file__).resolve().parents[1]))  # tests/ (strategies)
        client.run(sys.path.insert, 0, str(Path(__file__).resolve().parent))
        yield client


def test_records_are_keyed_by_their_parameters_and_hold_no_timing(reference, tmp_path):
    records = [json.loads(line) for line in reference.decode().splitlines()]
    assert [r["key"] for r in records] == sorted(E.task_key(p) for p in GRID)
    assert all(set(r) == {"key", "params", "result"} and r["key"] == E.task_key(r["params"]) for r in records)
    assert E.task_key({"a": 1, "b": 2}) == E.task_key({"b": 2, "a": 1})


def test_same_grid_gives_byte_identical_records_under_loky(reference, tmp_path):
    E.run_grid(least_squares_task, GRID, tmp_path, backend="loky", n_jobs=2)
    assert (tmp_path / "results.jsonl").read_bytes() == reference   # same code, same arrays, 1 BLAS thread
    assert len(E.read_jsonl(tmp_path / "timings.jsonl")) == len(GRID)


# The in-process (inproc://) scheduler asks which IP would reach the internet only to name itself; none is needed.
@pytest.mark.filterwarnings("ignore:Couldn't detect a suitable IP address")
def test_same_grid_gives_byte_identical_records_under_an_in_process_dask_client(reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.Client(processes=False, dashboard_address=None) as client:
        E.run_grid(least_squares_task, GRID, tmp_path, backend="dask", scheduler=client)
    assert (tmp_path / "results.jsonl").read_bytes() == reference


def test_same_grid_gives_byte_identical_records_on_a_2_worker_local_cluster(reference, local_cluster, tmp_path):
    E.run_grid(least_squares_task, GRID, tmp_path, backend="dask", scheduler=local_cluster.scheduler.address)
    assert (tmp_path / "results.jsonl").read_bytes() == reference
    worker_pids = set(local_cluster.run(os.getpid).values())
    assert len(worker_pids) == 2 and os.getpid() not in worker_pids


def test_a_grid_skips_the_keys_already_recorded(reference, tmp_path):
    E.run_grid(least_squares_task, GRID[:2], tmp_path)
    first = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "records").iterdir()}
    E.run_grid(least_squares_task, GRID, tmp_path)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "records").iterdir() if p.name in first} == first
    assert (tmp_path / "results.jsonl").read_bytes() == reference


def test_a_grid_saves_its_seed_and_thread_count_and_refuses_to_resume_with_others(reference, tmp_path):
    # OpenBLAS runs other kernels on one thread than on two (LeNet-300-100's first product differs in its
    # last bits on this project's CI machines), so a grid resumed with another thread count would mix bits
    E.run_grid(least_squares_task, GRID[:2], tmp_path)
    assert json.loads((tmp_path / "grid.json").read_text()) == {"n_threads": 1, "seed": 0}
    before = sorted(p.name for p in (tmp_path / "records").iterdir())
    for changed in ({"n_threads": 2}, {"seed": 1}):
        with pytest.raises(ValueError, match=r"out_dir: .* was run with n_threads=1 and seed=0 \(grid.json\), "
                                             r"found n_threads=\d and seed=\d; .*another out_dir"):
            E.run_grid(least_squares_task, GRID, tmp_path, **changed)
    assert sorted(p.name for p in (tmp_path / "records").iterdir()) == before   # nothing run
    E.run_grid(least_squares_task, GRID, tmp_path)
    assert (tmp_path / "results.jsonl").read_bytes() == reference


def test_a_grid_folder_from_before_grid_json_is_resumed_and_given_one(reference, tmp_path):
    E.run_grid(least_squares_task, GRID[:2], tmp_path)
    (tmp_path / "grid.json").unlink()
    E.run_grid(least_squares_task, GRID, tmp_path)
    assert (tmp_path / "results.jsonl").read_bytes() == reference and (tmp_path / "grid.json").exists()


def test_a_grid_shows_its_progress_on_stderr_counting_the_tasks_recorded_before(tmp_path, capsys):
    E.run_grid(least_squares_task, GRID[:2], tmp_path)
    assert capsys.readouterr().err == ""                    # stderr is no terminal here: no bar by default
    E.run_grid(least_squares_task, GRID, tmp_path, progress=True)
    progress = capsys.readouterr().err
    assert f"2/{len(GRID)}" in progress and "task" in progress   # (tqdm redraws at most every 0.1 s)


@given(grid_params())
def test_task_key_ignores_the_order_of_the_parameters_and_the_record_round_trips(params):
    reordered = dict(reversed(list(params.items())))
    assert E.task_key(reordered) == E.task_key(params)
    assert json.loads(E.canonical_json(params)) == params


def test_task_seeds_depend_on_the_root_seed_and_the_key_not_the_position():
    key = E.task_key(GRID[1])
    assert E.task_seed(0, key).generate_state(2).tolist() == E.task_seed(0, key).generate_state(2).tolist()
    assert E.task_seed(0, key).generate_state(2).tolist() != E.task_seed(1, key).generate_state(2).tolist()


GRID_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
sys.path.insert(0, {tests_root!r})
from nnlite import experiment as E
from test_experiment import GRID, least_squares_task
E.run_grid(least_squares_task, GRID, {out!r})
"""


def test_a_grid_killed_mid_way_resumes_to_the_same_records(reference, tmp_path):
    script = GRID_SCRIPT.format(tests=str(Path(__file__).resolve().parent),
                                tests_root=str(Path(__file__).resolve().parents[1]), out=str(tmp_path))
    env = {**os.environ, "PYTHONPATH": str(REPO), "NNLITE_TEST_TASK_SLEEP": "0.3", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=REPO)
    deadline = time.monotonic() + 60
    while process.poll() is None and len(list((tmp_path / "records").glob("*.json"))) < 2 \
            and time.monotonic() < deadline:
        time.sleep(0.005)
    assert process.poll() is None, "the grid ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 2 <= len(list((tmp_path / "records").glob("*.json"))) < len(GRID) and not (tmp_path / "results.jsonl").exists()
    (tmp_path / "records" / f".{E.task_key(GRID[0])}.json.{process.pid}{E.TEMP_SUFFIX}").write_text("{half")
    subprocess.run([sys.executable, "-c", script], env={**env, "NNLITE_TEST_TASK_SLEEP": ""}, cwd=REPO, check=True)
    assert (tmp_path / "results.jsonl").read_bytes() == reference
    assert not list(tmp_path.rglob(f"*{E.TEMP_SUFFIX}"))


def test_atomic_write_that_fails_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "record.json"
    E.write_text_atomic(target, "old")

    def half_then_fail(f):
        f.write(b"half")
        raise RuntimeError("killed mid-write")
    with pytest.raises(RuntimeError):
        E.atomic_write(target, half_then_fail)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["record.json"]


def test_bad_grid_arguments_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="backend: expected one of"):
        E.run_grid(least_squares_task, GRID, tmp_path, backend="spark")
    with pytest.raises(ValueError, match="params_list: expected distinct"):
        E.run_grid(least_squares_task, [GRID[0], dict(GRID[0])], tmp_path)
    with pytest.raises(TypeError, match="params_list"):
        E.run_grid(least_squares_task, {"n": 3}, tmp_path)
    with pytest.raises(ValueError, match="n_threads: expected"):
        E.run_grid(least_squares_task, GRID, tmp_path, n_threads=0)


def test_dataset_round_trips_through_a_path_and_loads_by_name(tmp_path):
    arrays = {name: np.arange(6.0).reshape(3, 2) if name.startswith("X") else np.arange(3) for name in E.SPLITS}
    data = E.Dataset.from_dict(arrays)
    data.save(tmp_path / "d.npz")
    loaded = E.load_dataset(str(tmp_path / "d.npz"))
    assert all(np.array_equal(getattr(loaded, k), arrays[k]) for k in E.SPLITS)
    E.register_dataset("toy", lambda size: {k: v[:size] for k, v in arrays.items()})
    assert E.load_dataset("toy", size=2) is E.load_dataset("toy", size=2) and len(E.load_dataset("toy", size=2).y_val) == 2
    with pytest.raises(ValueError, match="name: expected a registered dataset"):
        E.load_dataset("nope")


def test_locate_prefers_the_argument_then_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NNLITE_DATA", str(tmp_path))
    assert E.locate("data") == tmp_path and E.locate("data", "~/x") == Path("~/x").expanduser()
    monkeypatch.delenv("NNLITE_DATA")
    assert E.locate("data") == E.DEFAULT_DATA_DIR.expanduser()
    monkeypatch.setenv("NNLITE_OFFICIAL_MODELS", str(tmp_path))
    assert E.locate("official_models") == tmp_path


# -- python -m pruning lottery through the grid (real MNIST) -------------------------------------

def lottery_argv(out, data_dir, *backend):
    return ["lottery", "--iterations", "20", "--rounds", "1", "--seeds", "2", "--n-train", "300", "--eval-every",
            "10", "--control-rounds", "1", "--data-dir", str(data_dir), "--out", str(out), *backend]


def test_lottery_command_writes_the_same_results_jsonl_sequentially_and_on_dask(shared_data_dir, tmp_path, capsys):
    from pruning.__main__ import main
    main(lottery_argv(tmp_path / "A", shared_data_dir, "--backend", "sequential"))
    # No --scheduler: the command starts its own 2-worker LocalCluster on 127.0.0.1, as a user's would.
    main(lottery_argv(tmp_path / "B", shared_data_dir, "--backend", "dask", "--jobs", "2"))
    a, b = (tmp_path / "A" / "results.jsonl").read_bytes(), (tmp_path / "B" / "results.jsonl").read_bytes()
    assert a == b   # same code on the same arrays, one BLAS thread: bit identity
    records = [json.loads(line) for line in a.decode().splitlines()]
    assert sorted(r["params"]["trial"] for r in records) == [0, 1] and all(len(r["result"]) == 2 for r in records)
    assert all("seconds" not in round_record for r in records for round_record in r["result"])
    capsys.readouterr()


def test_lottery_scheduler_without_dask_and_seeds_against_trials_are_one_line_errors(capsys, tmp_path):
    from pruning.__main__ import main
    for extra, option in ((["--scheduler", "tcp://127.0.0.1:1"], "--scheduler"), (["--trials", "3"], "--seeds")):
        with pytest.raises(SystemExit) as stop:
            main(lottery_argv(tmp_path / "out", tmp_path, *extra))
        err = capsys.readouterr().err
        assert stop.value.code == 2 and len(err.splitlines()) == 1 and option in err


PRUNING_GRIDS = {
    "obd": ["obd", "--n-train", "600", "--hessian-samples", "200", "--hidden", "8", "--epochs", "1", "--fractions",
            "0.5", "0.9", "--n-single", "3", "--seeds", "2"],
    "dsr": ["dsr", "--n-train", "200", "--epochs", "1", "--sparsity", "0.9", "--methods", "dense", "dsr",
            "--channels", "2", "4", "--hidden", "8", "--rewire-period", "2", "--seeds", "2"],
    "wann": ["wann", "--task", "digits8", "--population", "6", "--generations", "2", "--batch-size", "40",
             "--tune-epochs", "1", "--seeds", "2"],
}


@pytest.mark.parametrize("command", sorted(PRUNING_GRIDS))
def test_every_pruning_command_writes_the_same_results_jsonl_sequentially_and_on_loky(command, shared_data_dir,
                                                                                      tmp_path, capsys):
    from pruning.__main__ import main
    argv = PRUNING_GRIDS[command] + ([] if command == "wann" else ["--data-dir", str(shared_data_dir)])
    jobs = ["--n-jobs", "2"] if command == "wann" else ["--jobs", "2"]
    assert main([*argv, "--out", str(tmp_path / "A"), "--backend", "sequential"]) == 0
    assert main([*argv, "--out", str(tmp_path / "B"), "--backend", "loky", *jobs]) == 0
    capsys.readouterr()
    a, b = (tmp_path / "A" / "results.jsonl").read_bytes(), (tmp_path / "B" / "results.jsonl").read_bytes()
    assert a == b and len(a.splitlines()) >= 2                     # one record per task, results only
    assert all("seconds" not in line for line in a.decode().splitlines())
    assert len(E.read_jsonl(tmp_path / "A" / "timings.jsonl")) == len(a.splitlines())


@pytest.mark.parametrize("n_threads", [1, 2, 5])
def test_map_in_threads_keeps_the_order_of_the_items(n_threads):
    import threading
    names = E.map_in_threads(lambda i: (i * i, threading.current_thread().name), range(23), n_threads)
    assert [value for value, _ in names] == [i * i for i in range(23)]


@pytest.mark.parametrize("n_threads, error", [(0, ValueError), (1.5, TypeError), (True, TypeError)])
def test_map_in_threads_refuses_a_bad_thread_count(n_threads, error):
    with pytest.raises(error, match="n_threads"):
        E.map_in_threads(abs, [1], n_threads)
