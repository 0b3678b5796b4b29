"""Helpers shared by the benchmark scripts: data folder, thread pinning, clocks, JSON.

Every benchmark prints human-readable lines first and, as its very last line,
one JSON object with the figures (so ``tail -n 1`` gives machine-readable
results).

Clocks: ``wall`` (``time.perf_counter``, the default) is what a user waits.
On a machine shared with other jobs, wall time mostly measures the other
jobs; ``cpu`` (``time.process_time``, the CPU seconds of this process) is
then far steadier, but it is only comparable across engines with one thread
(idle threads spinning in a BLAS or OpenMP pool count as CPU time).
"""
import json
import os
import time
import sys
from pathlib import Path

import numpy as np

# benchmarks/pruning.py bears the name of the ``pruning`` package: once a script has imported this
# module, the checkout's root leads the path and this folder goes to its end, so that ``import pruning``
# finds the package (of the checkout the benchmarks sit in).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]

REPO = Path(__file__).resolve().parent.parent
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def default_data_dir():
    """``$NNLITE_DATA``, else ``../shared/data`` beside the repository (as in CI), else None."""
    if os.environ.get("NNLITE_DATA"):
        return os.environ["NNLITE_DATA"]
    shared = REPO.parent / "shared" / "data"
    return str(shared) if shared.is_dir() else None


def blas_thread_count():
    """Threads NumPy's BLAS uses now (threadpoolctl), else the CPU count."""
    from threadpoolctl import threadpool_info
    counts = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return max(counts) if counts else (os.cpu_count() or 1)


def blas_architecture():
    """The kernel family NumPy's OpenBLAS runs ("Haswell": AVX2, "SkylakeX": AVX-512, ...; threadpoolctl),
    with ``$OPENBLAS_CORETYPE`` when it forces one: dense products depend on it."""
    from threadpoolctl import threadpool_info
    found = sorted({pool.get("architecture") or "?" for pool in threadpool_info() if pool["user_api"] == "blas"})
    forced = os.environ.get("OPENBLAS_CORETYPE")
    return ", ".join(found) + (f" (OPENBLAS_CORETYPE={forced})" if forced else "")


def blas_threads(n_threads):
    """Pin NumPy's BLAS and numba's parallel loops to ``n_threads`` inside the block (``nnlite.experiment.pin_threads``)."""
    from nnlite.experiment import pin_threads
    return pin_threads(n_threads)


def add_timing_arguments(parser, repeats, threads=None):
    """Add ``--threads`` (default ``threads``, else NumPy's BLAS count), ``--repeats`` and ``--clock``."""
    threads = threads or blas_thread_count()
    parser.add_argument("--threads", type=int, default=threads,
                        help=f"threads for NumPy's BLAS (and PyTorch); default: {threads}")
    parser.add_argument("--repeats", type=int, default=repeats, help="timing rounds; the best is kept")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall (default) or cpu: this process's CPU time, steadier on a busy machine "
                             "(use with --threads 1)")


def parse_timing_args(parser):
    """``parser.parse_args()``, refusing ``--clock cpu`` with more than one thread."""
    args = parser.parse_args()
    if args.clock == "cpu" and args.threads != 1:
        parser.error(f"--clock cpu: expected --threads 1 (idle pool threads spin and count as CPU time), "
                     f"found --threads {args.threads}")
    return args


def timed(run, clock="wall"):
    """(seconds, result) of one call of ``run()`` on ``clock`` ("wall" or "cpu")."""
    now = CLOCKS[clock]
    start = now()
    result = run()
    return now() - start, result


def load_average():
    """The 1-minute load average as text ("n/a" where the OS has none): timings depend on it."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):
        return "n/a"


def conditions(args):
    """One line describing how the figures were taken."""
    return (f"{args.threads} thread(s), {args.clock} clock, best of {args.repeats}, "
            f"load average {load_average()} on {os.cpu_count()} CPUs")


def print_json_last(results):
    """Print ``results`` as one JSON line (the benchmark's last line)."""
    print(json.dumps(results), flush=True)


def runs_alone(script, engines, rounds, report, extra=()):
    """``--alone``: ``rounds`` dicts {engine: last JSON line of ``script`` run with this command's
    arguments, ``extra`` and ``--engines engine --alone 0``}, each engine in a process of its own, the
    engines taking turns; ``report(engine, line)`` describes a finished run for the progress line."""
    import subprocess
    results = []
    for _ in range(rounds):
        results.append({})
        for engine in engines:
            child = [sys.executable, script, *sys.argv[1:], *extra, "--engines", engine, "--alone", "0"]
            done = subprocess.run(child, capture_output=True, text=True, check=True)
            results[-1][engine] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"  {engine} alone: {report(engine, results[-1][engine])}", flush=True)
    return results


def ratio_summary(ratios):
    """(median, [each ratio], mean, [95% t interval of the mean]) of the rounds' ratios; all None
    when ``ratios`` is None (PyTorch not installed), the interval None with a single round."""
    if ratios is None:
        return None, None, None, None
    from scipy import stats
    ratios = np.asarray(ratios, dtype=float)
    interval = ([float(v) for v in stats.t.interval(0.95, len(ratios) - 1, loc=ratios.mean(),
                                                    scale=stats.sem(ratios))] if len(ratios) > 1 else None)
    return (round(float(np.median(ratios)), 4), [round(float(r), 4) for r in ratios],
            round(float(ratios.mean()), 4), interval)
