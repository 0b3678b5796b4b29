"""The benchmark scripts in ``benchmarks/`` run with tiny settings and end with the JSON line
their docstrings promise (nothing is timed here: the speed targets are ratios the scripts print)."""
import json
import os
import subprocess
import sys
from pathlib import Path


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _last_json_line(script, *args, env=None):
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_sparse_matmul_benchmark_reports_every_density():
    results = _last_json_line("sparse_matmul.py", "--repeats", "1", "--number", "1")
    assert list(results) == ["density_0.5", "density_0.2", "density_0.1", "density_0.05", "density_0.01"]
    for entry in results.values():
        assert set(entry) == {"speedup", "csr_bytes", "dense_bytes"} and entry["speedup"] > 0
        assert entry["dense_bytes"] == 1024 * 1024 * 4
    assert results["density_0.01"]["csr_bytes"] < results["density_0.5"]["csr_bytes"]


def test_train_mlp_benchmark_reports_both_batch_sizes(shared_data_dir):
    results = _last_json_line("train_mlp.py", "--n-train", "600", "--repeats", "1", "--threads", "1",
                              env={"NNLITE_DATA": str(shared_data_dir)})
    assert list(results) == ["batch_60", "batch_256"]
    for entry in results.values():
        assert set(entry) == {"nnlite_s", "torch_s", "ratio", "torch_fused_s", "ratio_fused"} and entry["nnlite_s"] > 0
        assert (entry["ratio"] is None) == (entry["torch_s"] is None)
        assert (entry["ratio_fused"] is None) == (entry["torch_fused_s"] is None)


def test_lenet_accuracy_command_reports_per_epoch_accuracy(shared_data_dir):
    results = _last_json_line("lenet_accuracy.py", "--n-train", "600", "--epochs", "2", "--threads", "1",
                              env={"NNLITE_DATA": str(shared_data_dir)})
    assert results["epochs"] == 2 and len(results["test_accuracy"]) == 2
    assert 0.5 < results["final_test_accuracy"] <= 1


def test_epoch_logging_benchmark_reports_both_settings(shared_data_dir):
    results = _last_json_line("epoch_logging.py", "--n-train", "300", "--repeats", "1",
                              env={"NNLITE_DATA": str(shared_data_dir)})
    assert set(results) == {"running_s", "rescore_s", "rescore_extra"} and results["running_s"] > 0


def test_cnn_benchmark_times_one_engine_alone(shared_data_dir):
    results = _last_json_line("cnn.py", "--n-train", "256", "--repeats", "1", "--engines", "nnlite",
                              env={"NNLITE_DATA": str(shared_data_dir)})
    assert results["nnlite_epoch_s"] > 0 and results["torch_epoch_s"] is None and results["epoch_ratio"] is None
    assert results["sparse_speedup"] > 0 and results["n_train"] == 256


def test_cnn_benchmark_times_each_engine_alone_in_rounds(shared_data_dir):
    # --alone: each engine in a process of its own, taking turns; without PyTorch the ratios are null
    results = _last_json_line("cnn.py", "--n-train", "128", "--alone", "2", "--no-sparse",
                              env={"NNLITE_DATA": str(shared_data_dir)})
    assert results["nnlite_epoch_s"] > 0 and results["n_train"] == 128 and results["sparse_speedup"] is None
    if results["torch_epoch_s"] is None:
        assert results["epoch_ratio"] is None and results["epoch_ratios"] is None
    else:
        assert len(results["epoch_ratios"]) == 2 and results["epoch_ratio"] > 0
        low, high = results["epoch_ratio_ci95"]
        assert low <= results["epoch_ratio_mean"] <= high


def test_train_mlp_benchmark_times_each_engine_alone_in_rounds(shared_data_dir):
    results = _last_json_line("train_mlp.py", "--n-train", "600", "--repeats", "1", "--threads", "1", "--alone", "2",
                              env={"NNLITE_DATA": str(shared_data_dir)})
    assert list(results) == ["batch_60", "batch_256"]
    for entry in results.values():
        assert entry["nnlite_s"] > 0
        for ratio, each, torch_s in (("ratio", "ratios", "torch_s"), ("ratio_fused", "ratios_fused", "torch_fused_s")):
            assert (entry[ratio] is None) == (entry[torch_s] is None) == (entry[each] is None)
            if entry[each] is not None:
                assert len(entry[each]) == 2 and min(entry[each]) <= entry[ratio] <= max(entry[each])
                low, high = entry[f"{ratio}_ci95"]
                assert low <= entry[f"{ratio}_mean"] <= high


def test_train_mlp_breakdown_times_the_epochs_products_alone(shared_data_dir):
    results = _last_json_line("train_mlp.py", "--n-train", "600", "--repeats", "1", "--threads", "1", "--breakdown",
                              env={"NNLITE_DATA": str(shared_data_dir)})
    assert list(results) == ["batch_60", "batch_256"]
    for entry in results.values():
        assert set(entry) == {"nnlite_s", "products_s", "products_share", "torch_products_s"}
        assert entry["nnlite_s"] > 0 and entry["products_s"] > 0
        assert abs(entry["products_share"] - entry["products_s"] / entry["nnlite_s"]) < 0.01   # of unrounded times
        assert entry["torch_products_s"] is None or entry["torch_products_s"] > 0


def test_train_mlp_breakdown_multiplies_the_steps_eight_products():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import train_mlp
    finally:
        sys.path.remove(str(BENCHMARKS))
    import numpy as np
    pairs = train_mlp.step_products(60, np.random.default_rng(0))
    assert [(A.shape, B.shape) for A, B in pairs] == [
        ((60, 784), (784, 300)), ((784, 60), (60, 300)),
        ((60, 300), (300, 100)), ((300, 60), (60, 100)), ((60, 100), (100, 300)),
        ((60, 100), (100, 10)), ((100, 60), (60, 10)), ((60, 10), (10, 100))]
