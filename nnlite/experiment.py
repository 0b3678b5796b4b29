"""What every experiment shares: data, safe files, threads, records, and the grid that runs them.

- ``Dataset``: the six arrays of an experiment (train, validation, test);
  ``load_dataset(name, **settings)`` builds one by NAME through a registered
  loader (cached per process), so a task receives a name, never arrays.
- ``atomic_write(path, write)``: the one atomic write. A temporary file beside
  the target, ``.<name>.<pid>.nnlite-tmp``, fsync, ``os.replace``;
  ``remove_stale_temp_files`` deletes those a killed process left behind.
- ``pin_threads(n)``: BLAS/OpenMP (threadpoolctl) and numba threads of a block.
- ``locate(kind, path=None)``: where the data sets and the authors' models live.
- ``run_grid(fn, params_list, out_dir, ...)``: one task per parameter dict,
  keyed by the hash of its canonical JSON. Each task writes
  ``out_dir/records/<key>.json`` atomically; a grid skips the keys already
  recorded, so a killed grid resumes; ``out_dir/grid.json`` holds the root
  seed and the threads per task, and a grid resumed with others is refused
  (OpenBLAS runs other kernels on one thread than on two: other last bits).
  ``out_dir/results.jsonl`` (records, sorted by key) and
  ``out_dir/timings.jsonl`` (wall-clock seconds, kept apart so the records
  compare byte for byte) are rebuilt at the end.
  joblib's ``Parallel`` runs the tasks: ``sequential``, ``loky`` (local
  processes) or ``dask`` (a Dask cluster; ``pip install -e ".[cluster]"``).
- ``map_in_threads(fn, items, n)``: a map on threads of this process, for
  steps too fine for task records (WANN's evaluation of one generation);
  the same ``Parallel`` call site.
"""
import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from ._checks import check_int

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = Path("~/.cache/nnlite")

# -- one dataset container ------------------------------------------------------------

SPLITS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")


@dataclasses.dataclass(frozen=True)
class Dataset:
    """X_train (n, ...), y_train (n,), X_val, y_val, X_test, y_test of one experiment."""
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    def as_dict(self):
        return {name: getattr(self, name) for name in SPLITS}

    @classmethod
    def from_dict(cls, arrays):
        missing = [name for name in SPLITS if name not in arrays]
        if missing:
            raise ValueError(f"arrays: expected the keys {SPLITS}, found {sorted(arrays)}; add {missing}")
        return cls(**{name: arrays[name] for name in SPLITS})

    @classmethod
    def from_path(cls, path):
        """A ``Dataset`` saved by ``save`` (an ``.npz`` of the six arrays, no pickle)."""
        with np.load(path, allow_pickle=False) as f:
            return cls.from_dict(dict(f))

    def save(self, path):
        atomic_write(path, lambda f: np.savez(f, **self.as_dict()))


_LOADERS = {}


def register_dataset(name, loader):
    """Make ``load_dataset(name, **settings)`` call ``loader(**settings)`` (a dict or a ``Dataset``)."""
    _LOADERS[name] = loader


@functools.lru_cache(maxsize=4)
def _cached_dataset(name, settings_json):
    loaded = _LOADERS[name](**json.loads(settings_json))
    return loaded if isinstance(loaded, Dataset) else Dataset.from_dict(loaded)


def load_dataset(name, **settings):
    """The ``Dataset`` NAME with ``settings`` (JSON values), or the one saved at path NAME; cached per process."""
    if name not in _LOADERS:
        if Path(name).suffix == ".npz":
            return Dataset.from_path(name)
        raise ValueError(f"name: expected a registered dataset {sorted(_LOADERS)} or an .npz path, found {name!r}; "
                         "register its loader with nnlite.experiment.register_dataset")
    return _cached_dataset(name, canonical_json(settings))


# -- one atomic write -------------------------------------------------------------------

TEMP_SUFFIX = ".nnlite-tmp"


def temp_path(path):
    """The temporary file of ``path``: beside it, ``.<name>.<pid>.nnlite-tmp``."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")


def atomic_write(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, then rename it to ``path``.

    Readers see the old file or the new one, never a half-written one; the
    temporary file is removed on any exception (a SIGKILL leaves it for
    ``remove_stale_temp_files``).
    """
    path, tmp = Path(path), temp_path(path)
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path, text):
    atomic_write(path, lambda f: f.write(text.encode()))


def _process_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_files(folder, recursive=True):
    """Delete the temporary files under ``folder`` whose writing process is gone; return their paths."""
    removed = []
    found = Path(folder).rglob if recursive else Path(folder).glob
    for tmp in found(f"*{TEMP_SUFFIX}") if Path(folder).is_dir() else []:
        pid = tmp.name[: -len(TEMP_SUFFIX)].rsplit(".", 1)[-1]
        if not (pid.isdigit() and _process_alive(int(pid))):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


# -- one thread-pinning helper ----------------------------------------------------------

def pin_threads(n_threads=1):
    """A context inside which BLAS and OpenMP pools (threadpoolctl) and numba use ``n_threads`` threads
    (an int >= 1, checked at the call)."""
    return _pinned_threads(check_int(n_threads, "n_threads"))


@contextlib.contextmanager
def _pinned_threads(n_threads):
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=n_threads), _numba_threads(n_threads):
        yield


@contextlib.contextmanager
def _numba_threads(n_threads):
    try:
        import numba
    except ImportError:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        numba.set_num_threads(before)


# -- one data-location lookup -----------------------------------------------------------

#: kind -> (environment variable, folder beside the repository read when present, fallback).
LOCATIONS = {
    "data": ("NNLITE_DATA", None, lambda: DEFAULT_DATA_DIR),
    "official_models": ("NNLITE_OFFICIAL_MODELS", REPO.parent / "shared" / "official-models",
                        lambda: locate("data") / "official-models"),
}


def locate(kind, path=None, shared=None):
    """The folder of ``kind`` ("data", "official_models"): ``path``, else ``$ENV``, else the shared
    folder beside the repository (``shared``, default ``LOCATIONS[kind]``) if it exists, else the
    download cache. ``~`` is expanded."""
    env, default_shared, fallback = LOCATIONS[kind]
    shared = shared if shared is not None else default_shared
    if path is None:
        path = os.environ.get(env) or (shared if shared is not None and shared.is_dir() else None) or fallback()
    name = "models_dir" if kind == "official_models" else "data_dir"
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: expected None, a str or a path, found {type(path).__name__}")
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{name}: expected a folder, found the file {folder}; pass the folder itself "
                         f"(or set {env})")
    return folder


# -- JSON-lines records -------------------------------------------------------------------

def canonical_json(value):
    """JSON with sorted keys and no spaces: equal values, equal text (NaN and inf refused)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def task_key(params):
    """The first 16 hex digits of the SHA-256 of ``params``' canonical JSON."""
    return hashlib.sha256(canonical_json(params).encode()).hexdigest()[:16]


def task_seed(root_seed, key):
    """The ``SeedSequence`` of one task: the root seed and the task's key, whatever the task's position."""
    return np.random.SeedSequence([root_seed, int(key, 16)])


def write_jsonl(path, rows):
    """Write ``rows`` as JSON lines (canonical JSON) to ``path``, atomically."""
    write_text_atomic(path, "".join(canonical_json(row) + "\n" for row in rows))


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line]


# -- the grid -------------------------------------------------------------------------------

BACKENDS = ("sequential", "loky", "dask")


def run_grid(fn, params_list, out_dir, *, backend="sequential", scheduler=None, n_jobs=2, seed=0, n_threads=1,
             progress=None):
    """Run ``fn(params, seed_sequence)`` once per dict of ``params_list``; return the records, sorted by key.

    Parameters
    ----------
    fn : callable(dict, np.random.SeedSequence) -> JSON-able result
        Module-level (workers import it); it loads its data by name or path.
    params_list : list of dict of JSON values, all different
    out_dir : str or Path
        Receives ``records/<key>.json``, ``timings/<key>.json``,
        ``results.jsonl`` and ``timings.jsonl``.
    backend : {"sequential", "loky", "dask"}
    scheduler : str, distributed.Client or None
        Dask only: a scheduler address, a client, or None for a LocalCluster
        of ``n_jobs`` single-threaded workers on 127.0.0.1.
    n_jobs : int
        loky workers, or LocalCluster workers.
    seed : int
        Root of the tasks' ``SeedSequence``s.
    n_threads : int
        BLAS/numba threads per task. With ``seed``, saved in ``out_dir/grid.json``: a
        task's last bits may depend on it (OpenBLAS runs other kernels on one thread than
        on two), so resuming with another value raises ValueError.
    progress : bool or None
        A tqdm bar of the finished tasks on stderr; None: only when stderr is
        a terminal (so a command's error stays one line in a log).
    """
    keys = _check_grid(params_list, backend, n_jobs, seed, n_threads)
    out_dir = Path(out_dir)
    (out_dir / "records").mkdir(parents=True, exist_ok=True)
    _check_grid_identity(out_dir, {"n_threads": int(n_threads), "seed": int(seed)})
    (out_dir / "timings").mkdir(exist_ok=True)
    remove_stale_temp_files(out_dir)
    todo = [(key, params) for key, params in zip(keys, params_list) if not _record_path(out_dir, key).exists()]
    from joblib import delayed
    from tqdm.auto import tqdm
    tasks = (delayed(_run_task)(fn, params, key, task_seed(seed, key), str(out_dir), n_threads)
             for key, params in todo)
    # progress on stderr: the finished tasks, those of an earlier run counted from the start
    with _parallel_config(backend, scheduler, n_jobs), tqdm(total=len(keys), initial=len(keys) - len(todo),
                                                             desc=out_dir.name, unit="task", leave=False,
                                                             disable=None if progress is None else not progress) as bar:
        for _ in _parallel(tasks, ordered=False):
            bar.update()
    return _collect(out_dir, sorted(keys))


def _check_grid_identity(out_dir, identity):
    """Save ``identity`` (threads per task, root seed) as ``out_dir/grid.json``, or raise ValueError
    if the folder holds a grid run with other values (a folder from before grid.json is adopted)."""
    path = out_dir / "grid.json"
    if not path.exists():
        write_text_atomic(path, canonical_json(identity))
        return
    saved = json.loads(path.read_text())
    if saved != identity:
        def describe(values):
            return " and ".join(f"{name}={values.get(name)}" for name in sorted(identity))
        raise ValueError(f"out_dir: {out_dir} was run with {describe(saved)} (grid.json), found {describe(identity)}; "
                         f"a task's numbers depend on both, so resume with the saved values (--blas-threads, --seed) "
                         f"or use another out_dir (--out)")


def _parallel(tasks, ordered):
    """The project's one parallel call site: joblib's ``Parallel`` under the active ``parallel_config``."""
    from joblib import Parallel
    return Parallel(return_as="list" if ordered else "generator_unordered")(tasks)


def map_in_threads(fn, items, n_threads):
    """``[fn(item) for item in items]``, computed on ``n_threads`` threads of this process, in order.

    For steps too fine for a grid (a task record per call would cost more than
    the call) whose work releases the GIL: NumPy's ufuncs and SciPy's sparse
    products do. joblib's threading backend through the one call site.
    """
    from joblib import delayed, parallel_config

    with parallel_config(backend="threading", n_jobs=check_int(n_threads, "n_threads")):
        return _parallel((delayed(fn)(item) for item in items), ordered=True)


def _check_grid(params_list, backend, n_jobs, seed, n_threads):
    check_int(n_threads, "n_threads")
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, found {backend!r}")
    if not (isinstance(n_jobs, int) and n_jobs >= 1):
        raise ValueError(f"n_jobs: expected an int >= 1, found {n_jobs!r}")
    if not (isinstance(seed, (int, np.integer)) and seed >= 0):
        raise ValueError(f"seed: expected an int >= 0, found {seed!r}")
    if not (isinstance(params_list, (list, tuple)) and all(isinstance(p, dict) for p in params_list)):
        raise TypeError(f"params_list: expected a list of dicts, found {type(params_list).__name__}")
    keys = [task_key(p) for p in params_list]
    if len(set(keys)) != len(keys):
        raise ValueError("params_list: expected distinct parameter dicts, found duplicates; a task is one point")
    return keys


def _record_path(out_dir, key):
    return Path(out_dir) / "records" / f"{key}.json"


def _run_task(fn, params, key, seed_sequence, out_dir, n_threads):
    """One task, in a worker: run it pinned to ``n_threads``, write its timing, then its record.

    The record is the commit point: a task killed between the two files runs again and rewrites its
    timing, so a resumed grid ends with the same files as an uninterrupted one.
    """
    t0 = time.perf_counter()
    with pin_threads(n_threads):
        result = fn(params, seed_sequence)
    seconds = time.perf_counter() - t0
    record = canonical_json({"key": key, "params": params, "result": result})   # refuses NaN before any file
    write_text_atomic(Path(out_dir) / "timings" / f"{key}.json", canonical_json({"key": key, "seconds": seconds}))
    write_text_atomic(_record_path(out_dir, key), record)
    return key


def _collect(out_dir, keys):
    """Rebuild ``results.jsonl`` and ``timings.jsonl`` from the per-task files, in key order."""
    records = [json.loads(_record_path(out_dir, key).read_text()) for key in keys]
    timing_paths = [out_dir / "timings" / f"{key}.json" for key in keys]
    write_jsonl(out_dir / "results.jsonl", records)
    write_jsonl(out_dir / "timings.jsonl", [json.loads(p.read_text()) for p in timing_paths if p.exists()])
    return records


@contextlib.contextmanager
def _parallel_config(backend, scheduler, n_jobs):
    from joblib import parallel_config
    if backend != "dask":
        with parallel_config(backend=backend, n_jobs=1 if backend == "sequential" else n_jobs,
                             inner_max_num_threads=None if backend == "sequential" else 1):
            yield
        return
    with dask_client(scheduler, n_jobs) as client, parallel_config(backend="dask", client=client, n_jobs=-1):
        yield


@contextlib.contextmanager
def dask_client(scheduler, n_jobs=2):
    """The client of ``scheduler`` (an address or a client), or of a new LocalCluster on 127.0.0.1."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as error:
        raise ValueError('backend: "dask" needs dask.distributed; install it with pip install -e ".[cluster]"') \
            from error
    if isinstance(scheduler, Client):
        yield scheduler
    elif scheduler is not None:
        with Client(scheduler, set_as_default=False) as client:
            yield client
    else:
        with LocalCluster(n_workers=n_jobs, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                          processes=True) as cluster, Client(cluster, set_as_default=False) as client:
            yield client
