"""Pruning speed: seconds per lottery-ticket IMP round, WANN generations per second.

- **IMP round** (``pruning.LX.run_trial``, the module's own round: train
  ``--imp-iterations`` Adam steps at batch 60, prune 20/20/10% by magnitude,
  reset to theta_0) of LeNet-300-100 on real MNIST when it is found
  (``--data-dir``, else ``$NNLITE_DATA``, else ``../shared/data``), otherwise
  on scikit-learn's 8x8 digits (64 inputs; the ``imp_data`` key says which).
  Rounds 0 and 1 are run; the figure is their mean wall time.
- **WANN generations per second** (``pruning.wann.run_search``) on the 8x8
  digits task: population ``--population`` (64), batch 512, seed 0, for
  ``--generations`` (50) generations from the same start. The search uses the
  ``nnlite-v1`` defaults, the only ones the code before issue 13 has, so
  ``--compare-uncached`` and a run of this script on the old code (see
  benchmarks/README.md) time the same generations. ``--wann-task mnist16`` times
  the 16x16 MNIST search instead (larger networks, where the cache matters more).

``--compare-uncached`` also times the WANN search with the plan cache off
(``pruning.wann.CACHE_ENABLED = False``: every generation rebuilds every
network's layering and plan, as before issue 13) and checks that both
searches end with identical histories.

``--compare-evaluators N`` times the WANN search three ways from the same
start, each evaluating a generation's population differently: in this
process, on N threads (``ThreadEvaluator``, what ``python -m pruning wann
--n-jobs N`` does), and as grid tasks on N loky processes (``GridEvaluator``,
``--backend loky``); it checks that the three searches are identical.
``--wann-checkpoint PATH`` starts them from a saved search (a
``checkpoint.npz`` of ``python -m pruning wann``, with its population, batch
size and task) instead of a fresh population, to time grown networks.

Usage::

    python benchmarks/pruning.py [--quick] [--compare-uncached] [--compare-evaluators N] [--data-dir DIR]

Last line: ``{"imp_round_s": .., "wann_generations_per_s": .., ...}``.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# This file's name is the package's: import the package before this folder goes on the path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
from pruning import lottery, wann  # noqa: E402
from pruning.experiments import lottery as LX  # noqa: E402
from pruning.wann_tasks import load_task  # noqa: E402

sys.path.append(str(_HERE))
import _common  # noqa: E402


def imp_data(data_dir, n_train):
    """(data dict, name): MNIST if its files are found, else the 8x8 digits."""
    try:
        data = LX.load_data(n_validation=5000, n_train=n_train, data_dir=data_dir)
        return data, "mnist"
    except (OSError, ValueError):
        task = load_task("digits8")
        return ({"X_train": task.X_train, "y_train": task.y_train, "X_val": task.X_val, "y_val": task.y_val,
                 "X_test": task.X_test, "y_test": task.y_test}, "digits8")


def time_imp_round(data, n_iterations):
    """Mean wall seconds of rounds 0 and 1 of one trial (no control runs)."""
    sizes = (data["X_train"].shape[1], 300, 100, 10)
    config = lottery.LotteryConfig(layer_sizes=sizes, n_rounds=1, n_iterations=n_iterations, control_rounds=(),
                                   eval_every=max(1, n_iterations // 5))
    with tempfile.TemporaryDirectory(prefix="nnlite-bench-") as out:
        start = time.perf_counter()
        LX.run_trial(config, data, 0, out)
        return (time.perf_counter() - start) / 2


def wann_config(population, generations):
    settings = dict(population_size=population, n_generations=generations, batch_size=512)
    if hasattr(wann.SearchConfig, "from_defaults"):
        return wann.SearchConfig.from_defaults("nnlite-v1", **settings)
    return wann.SearchConfig(**settings)  # the code before issue 13: its defaults are nnlite-v1


def time_wann(population, generations, cached=True, task_name="digits8", data_dir=None):
    """(generations per wall second, generations per CPU second, history) of a fresh search."""
    task = load_task(task_name, data_dir=data_dir)
    if hasattr(wann, "CACHE_ENABLED"):
        wann.CACHE_ENABLED = cached
    state = wann.start_search(task.X_train.shape[1], task.n_classes, wann_config(population, generations), rng=0)
    start, start_cpu = time.perf_counter(), time.process_time()
    wann.run_search(state, task.X_train, task.y_train)
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    if hasattr(wann, "CACHE_ENABLED"):
        wann.CACHE_ENABLED = True
    return generations / wall, generations / cpu, state.history


def time_evaluators(args, population, generations, n_jobs):
    """Generations per wall second of the same search evaluated in-process, on threads and on processes."""
    from pruning.experiments import wann as WX
    task = load_task(args.wann_task, data_dir=args.data_dir)
    evaluators = {"in_process": lambda: None,
                  "threads": lambda: WX.ThreadEvaluator(task.X_train, task.y_train, n_jobs),
                  "loky": lambda: WX.GridEvaluator(args.wann_task, scratch, data_dir=args.data_dir, n_chunks=n_jobs,
                                                   backend="loky", n_jobs=n_jobs)}
    per_s, histories = {}, []
    with tempfile.TemporaryDirectory() as scratch:
        for name, make in evaluators.items():
            if args.wann_checkpoint:
                state = WX.load_state(args.wann_checkpoint)
            else:
                state = wann.start_search(task.X_train.shape[1], task.n_classes, wann_config(population, 0), rng=0)
            state.config.n_generations = state.generation + generations
            evaluate = make()
            if evaluate is not None:   # untimed: loky starts its workers, the workers load the task
                evaluate(state.population, np.arange(state.config.batch_size), state.config.shared_weights)
            start = time.perf_counter()
            wann.run_search(state, task.X_train, task.y_train, evaluate=evaluate)
            per_s[name] = generations / (time.perf_counter() - start)
            histories.append(state.history)
    return per_s, all(h == histories[0] for h in histories)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=_common.default_data_dir())
    parser.add_argument("--quick", action="store_true", help="tiny settings (a smoke run; figures meaningless)")
    parser.add_argument("--compare-uncached", action="store_true")
    parser.add_argument("--compare-evaluators", type=int, default=None, metavar="N",
                        help="also time the WANN search evaluated on N threads and on N loky processes")
    parser.add_argument("--wann-checkpoint", default=None,
                        help="with --compare-evaluators: start from this saved search (its task must be --wann-task)")
    parser.add_argument("--imp-iterations", type=int, default=None, help="default 500 (--quick: 20)")
    parser.add_argument("--imp-train", type=int, default=None, help="MNIST training images (default all; --quick 2000)")
    parser.add_argument("--population", type=int, default=None, help="default 64 (--quick: 8)")
    parser.add_argument("--generations", type=int, default=None, help="default 50 (--quick: 3)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    parser.add_argument("--wann-task", choices=("digits8", "mnist16"), default="digits8",
                        help="digits8 (default, the repeatable figure) or mnist16 (larger networks)")
    args = parser.parse_args()
    iterations = args.imp_iterations or (20 if args.quick else 500)
    population = args.population or (8 if args.quick else 64)
    generations = args.generations or (3 if args.quick else 50)
    n_train = args.imp_train or (2000 if args.quick else None)
    with _common.blas_threads(args.threads):
        results = measure(args, iterations, population, generations, n_train)
    _common.print_json_last(results)


def measure(args, iterations, population, generations, n_train):
    print(f"conditions: {args.threads} BLAS thread(s), wall clock, load average {_common.load_average()} "
          f"on {_common.os.cpu_count()} CPUs", flush=True)
    data, data_name = imp_data(args.data_dir, n_train)
    imp_s = time_imp_round(data, iterations)
    print(f"IMP round of LeNet-300-100 on {data_name} ({len(data['X_train'])} training images, "
          f"{iterations} iterations at batch 60): {imp_s:.2f} s", flush=True)
    per_s, per_cpu_s, history = time_wann(population, generations, True, args.wann_task, args.data_dir)
    print(f"WANN on {args.wann_task}, population {population}, {generations} generations: {per_s:.2f} generations/s "
          f"({per_cpu_s:.2f} per CPU second)", flush=True)
    results = {"imp_round_s": round(imp_s, 4), "wann_generations_per_s": round(per_s, 4),
               "wann_generations_per_cpu_s": round(per_cpu_s, 4), "imp_data": data_name,
               "imp_iterations": iterations, "imp_n_train": len(data["X_train"]),
               "wann_task": args.wann_task, "wann_population": population, "wann_generations": generations,
               "cache": bool(getattr(wann, "CACHE_ENABLED", False)), "load_average": _common.load_average()}
    if args.compare_uncached:
        old_s, old_cpu_s, old_history = time_wann(population, generations, False, args.wann_task, args.data_dir)
        same = old_history == history and np.isfinite(old_s)
        print(f"  uncached: {old_s:.2f} generations/s ({old_cpu_s:.2f} per CPU second); "
              f"speedup {per_s / old_s:.2f}x wall, {per_cpu_s / old_cpu_s:.2f}x CPU; identical search: {same}",
              flush=True)
        results.update({"wann_uncached_generations_per_s": round(old_s, 4),
                        "wann_uncached_generations_per_cpu_s": round(old_cpu_s, 4),
                        "uncached_identical": bool(same)})
    if args.compare_evaluators:
        n = args.compare_evaluators
        per_s, same = time_evaluators(args, population, generations, n)
        print(f"WANN evaluation, {generations} generations from "
              f"{args.wann_checkpoint or 'a fresh population'}: in process {per_s['in_process']:.2f}, "
              f"{n} threads {per_s['threads']:.2f}, {n} loky processes {per_s['loky']:.2f} generations/s; "
              f"threads/in-process {per_s['threads'] / per_s['in_process']:.2f}x, "
              f"threads/processes {per_s['threads'] / per_s['loky']:.2f}x; identical searches: {same}", flush=True)
        results.update({f"wann_{name}_generations_per_s": round(v, 4) for name, v in per_s.items()})
        results.update({"wann_evaluator_jobs": n, "evaluators_identical": bool(same),
                        "wann_checkpoint": args.wann_checkpoint})
    return results


if __name__ == "__main__":
    main()
