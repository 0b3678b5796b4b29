"""Replacement (Pan & Rajan 2020, Sec. 5.2.3 and 5.3) and the faulty model.

1. **Intra-dataset replacement** (Sec. 5.3): module k of the 1-hidden-layer
   model's composition replaced by module k of the 4-hidden-layer model.
   Paper: accuracy rose in 10 of 40 cases, mean drop 0.76, median 0.50.
2. **Inter-dataset replacement** (Sec. 5.2.3, Table 5; the authors'
   ``Replacement/MNISTEMNIST`` and ``MNISTKMNIST``): for each MNIST digit k
   and each class j of the other data set, the ten-class MNIST problem with
   digit k's images swapped for class j's images (labelled k). MA composes
   the nine other MNIST-4 CM-RIE modules with the other data set's module j
   in slot k; TMA is a 4x49 ten-class network trained 10 epochs on the
   swapped training set. Both are scored on the swapped test set (9,020 or so
   MNIST digits plus 800 letters or 1,000 KMNIST images). Paper: mean
   MA - TMA -1.62 (median -1.16) with EMNIST, -5.44 (median -5.40) with
   KMNIST; the authors' stored outputs give -1.6288 and -5.4489.
3. **The faulty model** (the paper's motivating example): a 4x49 MNIST model
   trained with only 500 images of class 5; its module 5 is replaced by the
   sound MNIST-4 model's CM-RIE module 5.
"""
import numpy as np

from ..approaches import decompose
from ..modules import composed_accuracy, replace_module
from ..reuse import replaced_modules
from .data import dataset_arrays, experiment_arrays, train_model
from .reuse import _finish_row, _seed_field, experiment_modules, first_pairs

PAPER_REPLACEMENT = {"n_rose": 10, "n_cases": 40, "mean_drop": 0.76, "median_drop": 0.50}


PAPER_FAULTY = {"model_faulty_subset": 96.82, "repaired": 98.66}


#: Paper, Sec. 5.2.3: mean and median MA - TMA of inter-dataset replacement.
PAPER_INTER_REPLACEMENT = {("mnist", "emnist"): {"mean": -1.62, "median": -1.16},
                           ("mnist", "kmnist"): {"mean": -5.44, "median": -5.40}}


#: Mean MA (percent) of the 100 cases in the authors' stored Replacement/MNIST{E,K}MNIST/outputAcc.txt.
AUTHORS_INTER_REPLACEMENT_MA = {("mnist", "emnist"): 93.49, ("mnist", "kmnist"): 90.19}


def replacement_rows(dataset, small, big, X, y, note=None):
    """Yield, per class k, the accuracy of ``small``'s composition with module k taken from ``big``.

    Keys: ``accuracy_before`` (``small`` composed), ``accuracy_after``,
    ``change`` (after - before, percentage points), all on (X, y).
    """
    before = round(100 * composed_accuracy(small, X, y), 2)
    for k in range(len(small)):
        after = round(100 * composed_accuracy(replace_module(small, k, big[k]), X, y), 2)
        row = {"experiment": "replacement", "dataset": dataset, "class": k, "accuracy_before": before,
               "accuracy_after": after, "change": round(after - before, 2)}
        if note:
            row["note"] = note
        yield row


def summarize_replacement(rows):
    """``n_cases``, ``n_rose`` (change > 0), ``mean_drop``, ``median_drop`` (before - after) of replacement rows."""
    drop = np.array([-r["change"] for r in rows])
    return {"n_cases": len(drop), "n_rose": int(np.sum(drop < 0)), "mean_drop": round(float(np.mean(drop)), 2),
            "median_drop": round(float(np.median(drop)), 2)}


def replaced_data(X_1, y_1, class_1, X_2, y_2, class_2):
    """Data set 1 with its ``class_1`` images swapped for data set 2's ``class_2`` images, labelled ``class_1``.

    Returns
    -------
    (X, y): X of shape (n, d), y of int (the labels of data set 1).
    """
    keep, new = np.flatnonzero(y_1 != class_1), np.flatnonzero(y_2 == class_2)
    X = np.concatenate([X_1[keep], X_2[new]])
    return X, np.concatenate([np.asarray(y_1)[keep], np.full(len(new), class_1, dtype=np.asarray(y_1).dtype)])


def inter_replacement_row(modules_1, module_2, k, train, test, epochs=10, rng=0):
    """MA and TMA (percent) of one inter-dataset replacement case.

    Parameters
    ----------
    modules_1 : list of Module, the ten modules of data set 1
    module_2 : Module, the module of data set 2 that takes slot ``k``
    train, test : (X, y) from :func:`replaced_data`

    Returns
    -------
    dict with ``ma`` (the composition, which is also the authors' rule: their
    ``Replacement/*/Reuse.py`` ranks the voters by each module's own-class
    probability), ``tma`` (a 4x49 ten-class network trained ``epochs`` on
    ``train``), ``ma_minus_tma`` and ``n_test``.
    """
    composed = replaced_modules(modules_1, k, module_2)
    ma = round(100 * composed_accuracy(composed, *test), 2)
    trained = train_model(*train, n_hidden_layers=4, n_classes=len(modules_1), epochs=epochs, rng=rng)
    tma = round(100 * trained.score(*test), 2)
    return {"ma": ma, "tma": tma, "ma_minus_tma": round(ma - tma, 2), "n_test": len(test[1])}


def replacement_cases(cases, seed=0):
    """The (k, j) cases of inter-dataset replacement: "all" (100, row-major), "latin" or the first N.

    Deviation from paper: each case trains a ten-class network on ~59,000
    images, so "latin" takes a Latin-square sample of 10 cases per seed,
    ``(k, (k + seed) % 10)`` for k = 0..9: every digit and every class of the
    other data set once; seeds 0-9 together cover all 100 cases.
    """
    if cases == "latin":
        return [(k, (k + int(seed)) % 10) for k in range(10)]
    return first_pairs([(k, j) for k in range(10) for j in range(10)], cases)


def inter_replacement_case(datasets, modules, arrays, k, j, epochs=10, rng=0, progress=True):
    """One dict for digit k of datasets[0] replaced by class j of datasets[1] (module docstring, item 2).

    ``modules``, ``arrays``: one entry per data set (``arrays`` as from
    ``data.experiment_arrays``). An int ``rng`` is recorded as the row's ``seed``.
    """
    (X1_tr, y1_tr, X1_te, y1_te, note_1), (X2_tr, y2_tr, X2_te, y2_te, note_2) = arrays
    train = replaced_data(X1_tr, y1_tr, k, X2_tr, y2_tr, j)
    test = replaced_data(X1_te, y1_te, k, X2_te, y2_te, j)
    row = {"experiment": "inter-replacement", "dataset": "+".join(datasets), "class_a": k, "class_b": j,
           **inter_replacement_row(modules[0], modules[1][j], k, train, test, epochs, rng), "epochs": epochs,
           **_seed_field(rng)}
    return _finish_row(row, note_1 or note_2, progress, f"{row['dataset']} {k}<-{j}")


def inter_replacement_ma_case(datasets, modules, arrays, k, j):
    """MA alone (no network trained) of the case (k, j) of :func:`inter_replacement_case`.

    Cheap (no training), so it covers all 100 cases; with the authors' data
    (EMNIST; KMNIST under the "authors" protocol) its per-case values are the
    authors' ``Replacement/*/outputAcc.txt``.
    """
    (_, _, X1_te, y1_te, note_1), (_, _, X2_te, y2_te, note_2) = arrays
    test = replaced_data(X1_te, y1_te, k, X2_te, y2_te, j)
    ma = 100 * composed_accuracy(replaced_modules(modules[0], k, modules[1][j]), *test)
    row = {"experiment": "inter-replacement-ma", "dataset": "+".join(datasets), "class_a": k, "class_b": j,
           "ma": round(ma, 2), "n_test": len(test[1])}
    if note_1 or note_2:
        row["note"] = note_1 or note_2
    return row


def inter_replacement_rows(datasets, modules, arrays, cases="all", epochs=10, rng=0, progress=True, skip=()):
    """Yield :func:`inter_replacement_case` for ``replacement_cases(cases, rng)``, leaving out those in ``skip``."""
    for k, j in replacement_cases(cases, rng):
        if (k, j) not in skip:
            yield inter_replacement_case(datasets, modules, arrays, k, j, epochs, rng, progress)


def inter_replacement_ma_rows(datasets, modules, arrays, cases="all", skip=()):
    """Yield :func:`inter_replacement_ma_case` for ``replacement_cases(cases)``, leaving out those in ``skip``."""
    for k, j in replacement_cases(cases):
        if (k, j) not in skip:
            yield inter_replacement_ma_case(datasets, modules, arrays, k, j)


def replacement_task(params, seed_sequence, data_dir=None, models_dir=None, module_seed=0):
    """One task of ``python -m decomposition replace`` for ``run_grid`` (data loaded by name, in the worker).

    params : dict with ``experiment``: "replacement" (``dataset``, ``modules``;
        the result is the list of its ten rows), "inter-replacement"
        (``datasets``, ``class_a``, ``class_b``, ``epochs``, ``modules``,
        ``seed`` and, with KMNIST, ``protocol``) or "inter-replacement-ma"
        (the same without ``epochs`` and ``seed``).
    seed_sequence : unused; TMA's seed is ``params["seed"]`` (see ``reuse.reuse_task``).
    """
    if params["experiment"] == "replacement":
        ds = params["dataset"]
        X_train, y_train, X_test, y_test, note = dataset_arrays(ds, data_dir)
        small, big = (experiment_modules(f"{ds}-{n}", params["modules"], "held-out", data_dir, models_dir,
                                         module_seed) for n in (1, 4))
        return list(replacement_rows(ds, small, big, X_test, y_test, note))
    datasets, protocol = params["datasets"], params.get("protocol", "held-out")
    arrays = [experiment_arrays(ds, protocol, data_dir) for ds in datasets]
    modules = [experiment_modules(f"{ds}-4", params["modules"], protocol, data_dir, models_dir, module_seed)
               for ds in datasets]
    k, j = params["class_a"], params["class_b"]
    if params["experiment"] == "inter-replacement-ma":
        return inter_replacement_ma_case(datasets, modules, arrays, k, j)
    return inter_replacement_case(datasets, modules, arrays, k, j, params["epochs"], params["seed"])


def summarize_inter_replacement_ma(rows):
    """``n_cases``, ``mean_ma`` and ``median_ma`` of :func:`inter_replacement_ma_rows` rows."""
    ma = [r["ma"] for r in rows]
    return {"n_cases": len(ma), "mean_ma": round(float(np.mean(ma)), 2), "median_ma": round(float(np.median(ma)), 2)}


def summarize_inter_replacement(rows):
    """``n_cases``, ``n_ma_ge_tma``, ``mean_ma``, ``mean_tma``, ``mean_ma_minus_tma``, ``median_ma_minus_tma``."""
    rows = list(rows)
    diff = np.array([r["ma"] - r["tma"] for r in rows])
    return {"n_cases": len(rows), "n_ma_ge_tma": int(sum(r["ma_ge_tma"] for r in rows)),
            "mean_ma": round(float(np.mean([r["ma"] for r in rows])), 2),
            "mean_tma": round(float(np.mean([r["tma"] for r in rows])), 2),
            "mean_ma_minus_tma": round(float(np.mean(diff)), 2),
            "median_ma_minus_tma": round(float(np.median(diff)), 2)}


def faulty_subset(y_test, faulty_class=5, n_kept=50):
    """Rows of the authors' "faulty" test subset: every non-5 test image plus the first 50 fives."""
    return np.concatenate([np.flatnonzero(y_test != faulty_class), np.flatnonzero(y_test == faulty_class)[:n_kept]])


def faulty_model_report(faulty_model, sound_module, X_train, y_train, X_test, y_test, faulty_class=5,
                        propagation="linear", rng=0):
    """The motivating example: the faulty model, its modules, and the repair by replacement.

    The faulty model's modules are our CM-RIE decomposition of it (official
    fidelity; the authors' are not stored); its module ``faulty_class`` is
    replaced by ``sound_module`` and the ten modules composed (the authors'
    ``Merged Model/Reuse.py``). Accuracies in percent.
    """
    subset = faulty_subset(y_test, faulty_class)
    own = decompose(faulty_model, X_train, y_train, "CM-RIE", propagation=propagation, fidelity="official", rng=rng)
    repaired = replace_module(own, faulty_class, sound_module)

    def pct(value):
        return round(100 * value, 2)
    return {
        "experiment": "faulty", "n_test": len(y_test), "n_faulty_subset": len(subset),
        "model_full_test": pct(faulty_model.score(X_test, y_test)),
        "model_faulty_subset": pct(faulty_model.score(X_test[subset], y_test[subset])),
        "modules_full_test": pct(composed_accuracy(own, X_test, y_test)),
        "modules_faulty_subset": pct(composed_accuracy(own, X_test[subset], y_test[subset])),
        "repaired_full_test": pct(composed_accuracy(repaired, X_test, y_test)),
        "repaired_faulty_subset": pct(composed_accuracy(repaired, X_test[subset], y_test[subset])),
        "repaired_train": round(100 * composed_accuracy(repaired, X_train, y_train), 4),
        "paper_model": PAPER_FAULTY["model_faulty_subset"], "paper_repaired": PAPER_FAULTY["repaired"],
    }
