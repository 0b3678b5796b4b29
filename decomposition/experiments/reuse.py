"""Reuse (Pan & Rajan 2020, Sec. 5.2): two modules composed into a binary classifier (MA) against a trained one (TMA).

1. **Intra-dataset reuse**: for each of the 45 pairs of classes (a, b) of one
   data set, the two CM-RIE modules of the 4-hidden-layer model are composed
   into a binary classifier; its accuracy on the test images of a and b (MA)
   is compared with a 4x49 network trained on the training images of just a
   and b for 10 epochs (TMA). Paper: MA >= TMA for MNIST 36/45, FMNIST
   31/45, EMNIST 36/45, KMNIST 23/45.
2. **Inter-dataset reuse**: module a of one data set, module b of another
   (all 10 x 10 pairs, as the authors' ``Reuse/MNISTEMNIST`` scripts do);
   paper: mean MA - TMA of MNIST+EMNIST -5.36, MNIST+KMNIST -8.28 points.

Every row holds MA under both pair rules (``decomposition.reuse.compose_pair``).
``reuse_task`` computes one row for ``nnlite.experiment.run_grid``. Data and
modules: :mod:`decomposition.experiments.data` (KMNIST protocols included).
"""
import functools
import sys
from itertools import combinations

import numpy as np

from ..reuse import compose_pair
from ..validation import check_count
from .data import cm_rie_modules, experiment_arrays, train_model

#: Paper values (Sec. 5.2-5.3).
PAPER_REUSE_COUNTS = {"mnist": 36, "fmnist": 31, "emnist": 36, "kmnist": 23}


PAPER_INTER_REUSE_MEAN = {("mnist", "emnist"): -5.36, ("mnist", "kmnist"): -8.28}


def pair_data(X, y, class_a, class_b):
    """The rows of classes a and b, relabelled 0 (a) and 1 (b): ``(X_pair, y_pair)``."""
    rows = np.flatnonzero((y == class_a) | (y == class_b))
    return X[rows], (y[rows] == class_b).astype(np.int64)


def two_dataset_pair_data(X_1, y_1, class_a, X_2, y_2, class_b):
    """Class a of data set 1 (label 0) and class b of data set 2 (label 1): ``(X_pair, y_pair)``."""
    rows_1, rows_2 = np.flatnonzero(y_1 == class_a), np.flatnonzero(y_2 == class_b)
    X = np.concatenate([X_1[rows_1], X_2[rows_2]])
    return X, np.concatenate([np.zeros(len(rows_1), np.int64), np.ones(len(rows_2), np.int64)])


def reuse_pair(module_a, module_b, train, test, epochs=10, rule="correct", rng=0):
    """MA and TMA (percent) for one pair.

    Parameters
    ----------
    train, test : (X, y01) pairs of the two classes (labels 0 for a, 1 for b)
        from :func:`pair_data` or :func:`two_dataset_pair_data`.

    Returns
    -------
    dict with ``ma`` (the two modules composed with ``rule``, on ``test``),
    ``ma_official_rule`` (composed with the authors' rule) and ``tma`` (a
    4x49 network trained on ``train`` for ``epochs``, on ``test``).
    """
    ma, ma_official = (np.mean(compose_pair(module_a, module_b, test[0], r) == test[1]) for r in (rule, "official"))
    trained = train_model(*train, n_hidden_layers=4, n_classes=2, epochs=epochs, rng=rng)
    return {"ma": round(100 * float(ma), 2), "ma_official_rule": round(100 * float(ma_official), 2),
            "tma": round(100 * trained.score(*test), 2)}


def first_pairs(every, pairs):
    """``every`` for ``pairs`` "all" (or None), else its first ``int(pairs)`` entries."""
    if pairs in (None, "all"):
        return list(every)
    every = list(every)
    if not str(pairs).isdigit() or not 1 <= int(pairs) <= len(every):
        raise ValueError(f"pairs: expected 'all' or a number of pairs in [1, {len(every)}], found {pairs!r}")
    return every[:int(pairs)]


def class_pairs(pairs, n_classes=10):
    """The first ``pairs`` of the 45 pairs (a < b) in ``itertools.combinations`` order ("all": every one)."""
    check_count(n_classes, "n_classes", minimum=2)
    return first_pairs(combinations(range(n_classes), 2), pairs)


def intra_reuse_row(dataset, modules, arrays, a, b, epochs=10, rule="correct", rng=0, progress=True):
    """One dict for the class pair (a, b) of one data set (module docstring, item 1).

    ``arrays``: (X_train, y_train, X_test, y_test, note) of
    ``data.experiment_arrays``. An int ``rng`` is recorded as the row's ``seed``.
    """
    X_train, y_train, X_test, y_test, note = arrays
    row = {"experiment": "intra-reuse", "dataset": dataset, "class_a": a, "class_b": b,
           **reuse_pair(modules[a], modules[b], pair_data(X_train, y_train, a, b), pair_data(X_test, y_test, a, b),
                        epochs, rule, rng),
           "rule": rule, "epochs": epochs, **_seed_field(rng)}
    return _finish_row(row, note, progress, f"{dataset} {a}-{b}")


def inter_reuse_row(datasets, modules, arrays, a, b, epochs=10, rule="correct", rng=0, progress=True):
    """One dict for (class a of datasets[0], class b of datasets[1]) (module docstring, item 2).

    ``modules`` and ``arrays`` are pairs (one entry per data set).
    """
    (Xa_tr, ya_tr, Xa_te, ya_te, note_a), (Xb_tr, yb_tr, Xb_te, yb_te, note_b) = arrays
    row = {"experiment": "inter-reuse", "dataset": "+".join(datasets), "class_a": a, "class_b": b,
           **reuse_pair(modules[0][a], modules[1][b], two_dataset_pair_data(Xa_tr, ya_tr, a, Xb_tr, yb_tr, b),
                        two_dataset_pair_data(Xa_te, ya_te, a, Xb_te, yb_te, b), epochs, rule, rng),
           "rule": rule, "epochs": epochs, **_seed_field(rng)}
    return _finish_row(row, note_a or note_b, progress, f"{row['dataset']} {a}-{b}")


def inter_pairs(pairs="all"):
    """The (a, b) of inter-dataset reuse: "all" the 100 in row-major order, an int the first ones."""
    return first_pairs([(a, b) for a in range(10) for b in range(10)], pairs)


def intra_reuse_rows(dataset, modules, arrays, pairs="all", epochs=10, rule="correct", rng=0, progress=True,
                     skip=()):
    """Yield :func:`intra_reuse_row` for the first ``pairs`` class pairs, leaving out the pairs in ``skip``."""
    for a, b in class_pairs(pairs, len(modules)):
        if (a, b) not in skip:
            yield intra_reuse_row(dataset, modules, arrays, a, b, epochs, rule, rng, progress)


def inter_reuse_rows(datasets, modules, arrays, pairs="all", epochs=10, rule="correct", rng=0, progress=True,
                     skip=()):
    """Yield :func:`inter_reuse_row` for the pairs of :func:`inter_pairs`, leaving out those in ``skip``."""
    for a, b in inter_pairs(pairs):
        if (a, b) not in skip:
            yield inter_reuse_row(datasets, modules, arrays, a, b, epochs, rule, rng, progress)


def reuse_task(params, seed_sequence, data_dir=None, models_dir=None, module_seed=0):
    """One pair of ``python -m decomposition reuse`` as a ``run_grid`` task (data loaded by name, in the worker).

    params : dict with ``experiment`` ("intra-reuse" or "inter-reuse"),
        ``datasets`` (one or two names), ``class_a``, ``class_b``, ``epochs``,
        ``rule``, ``modules`` (``data.MODULE_SOURCES``), ``seed`` (TMA's) and,
        where KMNIST is involved, ``protocol``.
    seed_sequence : unused; TMA's seed is ``params["seed"]``, as in the
        committed records (``default_rng(seed)`` is itself a SeedSequence's).
    """
    datasets, protocol = params["datasets"], params.get("protocol", "held-out")
    arrays = [experiment_arrays(ds, protocol, data_dir) for ds in datasets]
    modules = [experiment_modules(f"{ds}-4", params["modules"], protocol, data_dir, models_dir, module_seed)
               for ds in datasets]
    case = (params["class_a"], params["class_b"], params["epochs"], params["rule"], params["seed"])
    if params["experiment"] == "intra-reuse":
        return intra_reuse_row(datasets[0], modules[0], arrays[0], *case)
    return inter_reuse_row(datasets, modules, arrays, *case)


@functools.lru_cache(maxsize=4)
def experiment_modules(model_name, source, protocol, data_dir, models_dir, rng):
    """``data.cm_rie_modules`` of ``model_name``, kept per process (a grid's tasks share them)."""
    arrays = experiment_arrays(model_name.split("-")[0], protocol, data_dir) if source == "ours" else None
    return cm_rie_modules(model_name, source, arrays, models_dir, rng=rng)


def summarize_reuse(rows):
    """Counts and mean difference of reuse rows: ``n_pairs``, ``n_ma_ge_tma``, ``mean_ma_minus_tma``, ..."""
    rows = list(rows)
    diff = np.array([r["ma"] - r["tma"] for r in rows])
    return {"n_pairs": len(rows), "n_ma_ge_tma": int(sum(r["ma_ge_tma"] for r in rows)),
            "n_ma_official_rule_ge_tma": int(sum(r["ma_official_rule"] >= r["tma"] for r in rows)),
            "mean_ma": round(float(np.mean([r["ma"] for r in rows])), 2),
            "mean_tma": round(float(np.mean([r["tma"] for r in rows])), 2),
            "mean_ma_minus_tma": round(float(np.mean(diff)), 2),
            "median_ma_minus_tma": round(float(np.median(diff)), 2),
            "mean_ma_official_rule_minus_tma": round(float(np.mean([r["ma_official_rule"] - r["tma"]
                                                                    for r in rows])), 2)}


def _seed_field(rng):
    """``{"seed": rng}`` for an int seed, else {} (a Generator has no seed to record)."""
    return {"seed": int(rng)} if isinstance(rng, (int, np.integer)) else {}


def _finish_row(row, note, progress, label):
    """Complete a reuse or replacement row: MA >= TMA, the data note; report it on stderr.

    Rows hold results only: a task's seconds go to the grid's ``timings.jsonl``.
    """
    row["ma_ge_tma"] = row["ma"] >= row["tma"]
    if note:
        row["note"] = note
    _progress(progress, f"{label}: MA {row['ma']:6.2f} TMA {row['tma']:6.2f}")
    return row


def _progress(enabled, message):
    if enabled:
        print(message, file=sys.stderr, flush=True)
