"""A command's tasks through ``nnlite.experiment.run_grid``, and its rows back in the command's order.

Every experiment command (``table1``, ``reuse``, ``replace``, ``duodecimal``)
builds one parameter dict per task (a Table 1 cell, a class pair, a
replacement case, a seed) and runs them with :func:`run_tasks`: joblib's
``Parallel`` under ``--backend sequential``, ``loky`` or ``dask``
(``--scheduler ADDRESS``, or a LocalCluster of ``--jobs`` workers). Each task
loads its data and modules by name in the worker (``data.experiment_arrays``,
kept per process), so no array travels through the scheduler. ``--out DIR``
keeps ``DIR/records/<key>.json`` (an interrupted grid resumes there),
``DIR/results.jsonl`` (results only, sorted by key: the same bytes under every
backend) and ``DIR/timings.jsonl`` (each task's seconds); without ``--out``
the grid runs in a temporary folder.
"""
import contextlib
import tempfile
from pathlib import Path

from nnlite.cli import add_grid_arguments, grid_options
from nnlite.experiment import read_jsonl, run_grid, task_key


def add_grid_options(parser):
    """``--backend``, ``--scheduler``, ``--jobs``, ``--seeds`` (``nnlite.cli``) and ``--out``."""
    add_grid_arguments(parser)
    parser.add_argument("--out", default=None,
                        help="grid folder: DIR/results.jsonl (records), DIR/timings.jsonl (seconds), DIR/records/ "
                             "(one file per finished task: a killed run resumes); default a temporary folder")


def n_seeds(args):
    """``--seeds`` (None: 1)."""
    return 1 if args.seeds is None else args.seeds


def run_tasks(task, params_list, args, subfolder=None):
    """``[(result, seconds)]`` of ``task(params, seed_sequence)`` for each of ``params_list``, in that order.

    The tasks run through ``run_grid`` in ``args.out`` (or ``args.out/subfolder``), else in a temporary
    folder that is removed afterwards.
    """
    grid = grid_options(args)
    keys = [task_key(p) for p in params_list]
    with _grid_folder(args.out, subfolder) as out:
        records = run_grid(task, params_list, out, **grid)
        timings = {t["key"]: t["seconds"] for t in read_jsonl(out / "timings.jsonl")}
    results = {r["key"]: r["result"] for r in records}
    return [(results[key], timings.get(key)) for key in keys]


@contextlib.contextmanager
def _grid_folder(out, subfolder):
    if out is not None:
        folder = Path(out) / subfolder if subfolder else Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="decomposition-grid-") as folder:
        yield Path(folder)


#: The order in which the experiments build their rows: records come back from ``run_grid`` with sorted keys
#: (canonical JSON), and the commands print them in this order again, like the rows committed before the grids.
ROW_ORDER = ("model", "experiment", "dataset", "approach", "propagation", "fidelity", "class", "class_a", "class_b",
             "model_accuracy", "composed_accuracy", "ji_official", "ji_mask", "seconds", "paper_composed_accuracy",
             "paper_ji", "target_composed_accuracy", "accuracy_before", "accuracy_after", "change", "ma",
             "ma_official_rule", "tma", "ma_minus_tma", "ma_official_rule_minus_tma", "n_test", "n_train", "rule",
             "epochs", "protocol", "seed", "behaviours", "model_bytes", "compact_module_bytes",
             "composed_accuracy_plain_official", "ma_ge_tma", "note")


def in_row_order(row):
    """``row`` with its keys in :data:`ROW_ORDER` (keys it does not list keep their order, after those)."""
    rank = {key: i for i, key in enumerate(ROW_ORDER)}
    return dict(sorted(row.items(), key=lambda item: rank.get(item[0], len(rank))))

