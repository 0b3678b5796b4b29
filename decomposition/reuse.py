"""Reuse and replacement (Pan & Rajan 2020, Sec. 5.2-5.3), and the models they are compared against.

The paper's point is that a module is a software part: it can be taken out of
one model and put into another classifier.

1. **Intra-dataset reuse** (Sec. 5.2): for each of the 45 pairs of classes
   (a, b) of one data set, the two CM-RIE modules of the 4-hidden-layer model
   are composed into a binary classifier; its accuracy on the test images of
   a and b (MA) is compared with a 4x49 network trained on the training
   images of just a and b for 10 epochs (TMA). Paper: MA >= TMA for
   MNIST 36/45, FMNIST 31/45, EMNIST 36/45, KMNIST 23/45.
2. **Inter-dataset reuse**: module a of one data set, module b of another
   (all 10 x 10 pairs, as the authors' ``Reuse/MNISTEMNIST`` scripts do);
   paper: mean MA - TMA of MNIST+EMNIST -5.36, MNIST+KMNIST -8.28 points.
3. **Intra-dataset replacement** (Sec. 5.3): module k of the 1-hidden-layer
   model's composition replaced by module k of the 4-hidden-layer model.
   Paper: accuracy rose in 10 of 40 cases, mean drop 0.76, median 0.50.
4. **The faulty model** (the paper's motivating example): a 4x49 MNIST model
   trained with only 500 images of class 5; its module 5 is replaced by the
   sound MNIST-4 model's CM-RIE module 5.
5. **Inter-dataset replacement** (Sec. 5.2.3, Table 5; the authors'
   ``Replacement/MNISTEMNIST`` and ``MNISTKMNIST``): for each MNIST digit k
   and each class j of the other data set, the ten-class MNIST problem with
   digit k's images swapped for class j's images (labelled k). MA composes
   the nine other MNIST-4 CM-RIE modules with the other data set's module j
   in slot k; TMA is a 4x49 ten-class network trained 10 epochs on the
   swapped training set. Both are scored on the swapped test set (9,020 or so
   MNIST digits plus 800 letters or 1,000 KMNIST images). Paper: mean
   MA - TMA -1.62 (median -1.16) with EMNIST, -5.44 (median -5.40) with
   KMNIST; the authors' stored outputs give -1.6288 and -5.4489.
6. **The duodecimal classifier** (Sec. 5.2.2 and Fig. 1; the authors'
   ``Reuse/Motivating Example``): the ten MNIST-4 CM-RIE modules and the
   EMNIST-4 modules of A and B compose a 12-class (0-9, A, B) classifier,
   scored on the 10,000 MNIST and 1,600 A/B test images, against a 4x49
   12-class network trained 50 epochs (their ``trainDense4`` default) on
   the 60,000 MNIST and 9,600 A/B training images. Paper: 83.40 vs 91.45
   (8.05 points lower); the authors' stored TMA output is 92.64.

Data and scoring follow ``experiments.load_dataset`` (pixels / 65025). KMNIST
has no training images here; two labelled protocols (``KMNIST_PROTOCOLS``):
``"held-out"`` trains TMA on the first 5,000 test images and scores on the
other 5,000; ``"authors"`` uses all 10,000 test images for both, as the
authors' KMNIST data function does for decomposition (their reuse and
replacement folders had the 60,000 training images, which we lack), so there
TMA is scored on images it was trained on. The modules are either the
authors' stored CM-RIE modules (``source="stored"``) or our own decomposition
of the authors' model (``source="ours"``: CM-RIE, official fidelity).

Two rules compose a pair of modules:

- ``"correct"``: the composition rule of ``modules.compose_predict``
  (module k votes when its argmax is its own class; ties and no-votes go to
  the higher own-class probability).
- ``"official"``: the authors' ``Reuse/<DS>/Reuse.py``. When both or neither
  module votes, it compares ``[P_b(a), P_a(b)]``, i.e. each module's
  probability of the *other* module's class (``Mpred[0][class1]`` with
  ``Mmodule0`` the module of class2), and picks the larger one's position.
"""
import json
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np

from nnlite import functional as F
from nnlite import io
from nnlite._checks import check_labels, check_rng
from nnlite.models import MLP
from nnlite.optim import Adam
from nnlite.train import fit

from .approaches import decompose
from .modules import (compose_binary, composed_accuracy, load_official_modules, replace_module, resolve_models_dir,
                      vote)
from .official_models import ensure_models
from .validation import check_count, check_real_array

HIDDEN_UNITS = 49
PAIR_RULES = ("correct", "official")
MODULE_SOURCES = ("stored", "ours")
#: Paper values (Sec. 5.2-5.3).
PAPER_REUSE_COUNTS = {"mnist": 36, "fmnist": 31, "emnist": 36, "kmnist": 23}
PAPER_INTER_REUSE_MEAN = {("mnist", "emnist"): -5.36, ("mnist", "kmnist"): -8.28}
PAPER_REPLACEMENT = {"n_rose": 10, "n_cases": 40, "mean_drop": 0.76, "median_drop": 0.50}
PAPER_FAULTY = {"model_faulty_subset": 96.82, "repaired": 98.66}
#: Paper, Sec. 5.2.3: mean and median MA - TMA of inter-dataset replacement.
PAPER_INTER_REPLACEMENT = {("mnist", "emnist"): {"mean": -1.62, "median": -1.16},
                           ("mnist", "kmnist"): {"mean": -5.44, "median": -5.40}}
#: Mean MA (percent) of the 100 cases in the authors' stored Replacement/MNIST{E,K}MNIST/outputAcc.txt.
AUTHORS_INTER_REPLACEMENT_MA = {("mnist", "emnist"): 93.49, ("mnist", "kmnist"): 90.19}
#: Paper, Sec. 5.2.2: the duodecimal classifier.
PAPER_DUODECIMAL = {"ma": 83.40, "tma": 91.45, "ma_minus_tma": -8.05}
KMNIST_PROTOCOLS = ("held-out", "authors")
AUTHORS_KMNIST_NOTE = ("KMNIST training images are not available: authors' protocol, the 10,000 KMNIST test "
                       "images serve as training and test images (TMA is scored on images it was trained on)")


# ---------------------------------------------------------------------------
# Models trained with nnlite (the authors' architecture)
# ---------------------------------------------------------------------------

def train_model(X, y, n_hidden_layers, n_classes=None, epochs=50, batch_size=32, lr=1e-3, rng=0,
                progress=False):
    """A network of ``n_hidden_layers`` x 49 ReLU units trained like the authors' (Adam 1e-3, batch 32).

    Parameters
    ----------
    X : ndarray of shape (n, d_in), scaled as the model should see it
        (the authors: pixels / 65025).
    y : ndarray of int, shape (n,)
    n_classes : int or None
        Outputs (default: ``y.max() + 1``).

    Returns
    -------
    nnlite.MLP
    """
    rng = check_rng(rng)
    check_count(n_hidden_layers, "n_hidden_layers", minimum=0)
    check_count(epochs, "epochs", minimum=1)
    n_rows = len(check_real_array(X, "X"))
    if n_classes is not None:
        check_count(n_classes, "n_classes", minimum=2)
    labels = check_labels(y, "y", n_rows, np.iinfo(np.int64).max if n_classes is None else n_classes)
    if n_classes is None:
        n_classes, present = int(labels.max()) + 1, np.unique(labels)
        if len(present) != n_classes:
            raise ValueError(f"y: expected every class 0..{n_classes - 1} to appear (n_classes is inferred as "
                             f"y.max() + 1), found only {present.tolist()[:10]}; pass n_classes explicitly")
    model = MLP([X.shape[1]] + [HIDDEN_UNITS] * n_hidden_layers + [n_classes], rng=rng)
    fit(model, X, y, optimizer=Adam(lr), epochs=epochs, batch_size=batch_size, rng=rng, progress=progress)
    return model


def cached_model(path, train):
    """Load ``path`` when it exists, else ``model = train()``, save it there and return it."""
    path = Path(path)
    if path.is_file():
        return io.load(path)
    model = train()
    path.parent.mkdir(parents=True, exist_ok=True)
    io.save(model, path)
    return model


# ---------------------------------------------------------------------------
# Composing two modules (reuse)
# ---------------------------------------------------------------------------

def compose_pair(module_a, module_b, X, rule="correct"):
    """Binary predictions (0: ``module_a``'s class, 1: ``module_b``'s) of two composed modules, shape (n,)."""
    if rule == "correct":
        return compose_binary(module_a, module_b, X)
    if rule != "official":
        raise ValueError(f"rule: expected one of {PAIR_RULES}, found {rule!r}")
    P_a, P_b = module_a.predict_proba(X), module_b.predict_proba(X)
    votes = np.stack([P_a.argmax(axis=1) == module_a.target, P_b.argmax(axis=1) == module_b.target], axis=1)
    # Deviation from paper: the authors' Reuse.py compares each module's
    # probability of the *other* class when both or neither vote.
    swapped = np.stack([P_b[:, module_a.target], P_a[:, module_b.target]], axis=1)
    n_votes = votes.sum(axis=1)
    return np.where(n_votes == 1, np.argmax(votes, axis=1), np.argmax(swapped, axis=1))


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


def intra_reuse_rows(dataset, modules, arrays, pairs="all", epochs=10, rule="correct", rng=0, progress=True,
                     skip=()):
    """Yield one dict per class pair of one data set (see the module docstring, item 1).

    ``skip``: pairs (a, b) not to compute (rows a resumed run already has).
    An int ``rng`` is recorded as the row's ``seed``.
    """
    X_train, y_train, X_test, y_test, note = arrays
    for a, b in class_pairs(pairs, len(modules)):
        if (a, b) in skip:
            continue
        start = time.perf_counter()
        row = {"experiment": "intra-reuse", "dataset": dataset, "class_a": a, "class_b": b,
               **reuse_pair(modules[a], modules[b], pair_data(X_train, y_train, a, b),
                            pair_data(X_test, y_test, a, b), epochs, rule, rng),
               "rule": rule, "epochs": epochs, **_seed_field(rng)}
        yield _finish_row(row, start, note, progress, f"{dataset} {a}-{b}")


def inter_reuse_rows(datasets, modules, arrays, pairs="all", epochs=10, rule="correct", rng=0, progress=True,
                     skip=()):
    """Yield one dict per (class a of datasets[0], class b of datasets[1]) (module docstring, item 2).

    ``modules`` and ``arrays`` are pairs (one entry per data set); ``pairs``
    "all" means the 100 combinations, an int the first ones in row-major order;
    ``skip`` and ``rng`` as in :func:`intra_reuse_rows`.
    """
    chosen = first_pairs([(a, b) for a in range(10) for b in range(10)], pairs)
    (Xa_tr, ya_tr, Xa_te, ya_te, note_a), (Xb_tr, yb_tr, Xb_te, yb_te, note_b) = arrays
    for a, b in chosen:
        if (a, b) in skip:
            continue
        start = time.perf_counter()
        row = {"experiment": "inter-reuse", "dataset": "+".join(datasets), "class_a": a, "class_b": b,
               **reuse_pair(modules[0][a], modules[1][b], two_dataset_pair_data(Xa_tr, ya_tr, a, Xb_tr, yb_tr, b),
                            two_dataset_pair_data(Xa_te, ya_te, a, Xb_te, yb_te, b), epochs, rule, rng),
               "rule": rule, "epochs": epochs, **_seed_field(rng)}
        yield _finish_row(row, start, note_a or note_b, progress, f"{row['dataset']} {a}-{b}")


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


# ---------------------------------------------------------------------------
# Replacement
# ---------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------
# Inter-dataset replacement (module docstring, item 5)
# ---------------------------------------------------------------------------

def replaced_data(X_1, y_1, class_1, X_2, y_2, class_2):
    """Data set 1 with its ``class_1`` images swapped for data set 2's ``class_2`` images, labelled ``class_1``.

    Returns
    -------
    (X, y): X of shape (n, d), y of int (the labels of data set 1).
    """
    keep, new = np.flatnonzero(y_1 != class_1), np.flatnonzero(y_2 == class_2)
    X = np.concatenate([X_1[keep], X_2[new]])
    return X, np.concatenate([np.asarray(y_1)[keep], np.full(len(new), class_1, dtype=np.asarray(y_1).dtype)])


def replaced_modules(modules, k, module):
    """``modules`` with slot k taken by ``module`` (of another class and data set); a new list."""
    if not 0 <= k < len(modules):
        raise ValueError(f"k: expected an index in [0, {len(modules)}), found {k}")
    return [module if j == k else m for j, m in enumerate(modules)]


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


def inter_replacement_rows(datasets, modules, arrays, cases="all", epochs=10, rng=0, progress=True, skip=()):
    """Yield one dict per (digit k of datasets[0] replaced by class j of datasets[1]).

    ``modules``, ``arrays``: one entry per data set (``arrays`` as from
    :func:`experiment_arrays`); ``cases`` as in :func:`replacement_cases`;
    ``skip`` and ``rng`` as in :func:`intra_reuse_rows`.
    """
    (X1_tr, y1_tr, X1_te, y1_te, note_1), (X2_tr, y2_tr, X2_te, y2_te, note_2) = arrays
    for k, j in replacement_cases(cases, rng):
        if (k, j) in skip:
            continue
        start = time.perf_counter()
        train = replaced_data(X1_tr, y1_tr, k, X2_tr, y2_tr, j)
        test = replaced_data(X1_te, y1_te, k, X2_te, y2_te, j)
        row = {"experiment": "inter-replacement", "dataset": "+".join(datasets), "class_a": k, "class_b": j,
               **inter_replacement_row(modules[0], modules[1][j], k, train, test, epochs, rng), "epochs": epochs,
               **_seed_field(rng)}
        yield _finish_row(row, start, note_1 or note_2, progress, f"{row['dataset']} {k}<-{j}")


def inter_replacement_ma_rows(datasets, modules, arrays, cases="all", skip=()):
    """Yield MA alone (no network trained) per case (k, j) of :func:`inter_replacement_rows`.

    Cheap (no training), so it covers all 100 cases; with the authors' data
    (EMNIST; KMNIST under the "authors" protocol) its per-case values are the
    authors' ``Replacement/*/outputAcc.txt``.
    """
    (_, _, X1_te, y1_te, note_1), (_, _, X2_te, y2_te, note_2) = arrays
    for k, j in replacement_cases(cases):
        if (k, j) in skip:
            continue
        test = replaced_data(X1_te, y1_te, k, X2_te, y2_te, j)
        ma = 100 * composed_accuracy(replaced_modules(modules[0], k, modules[1][j]), *test)
        row = {"experiment": "inter-replacement-ma", "dataset": "+".join(datasets), "class_a": k, "class_b": j,
               "ma": round(ma, 2), "n_test": len(test[1])}
        if note_1 or note_2:
            row["note"] = note_1 or note_2
        yield row


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


# ---------------------------------------------------------------------------
# The duodecimal classifier (module docstring, item 6)
# ---------------------------------------------------------------------------

def duodecimal_data(X_digits, y_digits, X_letters, y_letters, letters=(0, 1)):
    """Digits 0-9 plus the letters ``letters`` (A=0, B=1 of EMNIST A-J) relabelled 10, 11, ...: ``(X, y)``."""
    parts_X, parts_y = [X_digits], [np.asarray(y_digits)]
    for offset, letter in enumerate(letters):
        rows = np.flatnonzero(np.asarray(y_letters) == letter)
        parts_X.append(X_letters[rows])
        parts_y.append(np.full(len(rows), 10 + offset, dtype=parts_y[0].dtype))
    return np.concatenate(parts_X), np.concatenate(parts_y)


def compose_predict_reported(modules, X, reported):
    """The authors' N-module composition when a module's vote *reports* ``reported[j]`` instead of j.

    Their ``Reuse/Motivating Example/Reuse.py`` records the vote of the EMNIST
    module of A as 0 and of B as 1 (each module's own class), not as 10 and 11:
    one vote then predicts digit 0 or 1; with several votes the voters are
    ranked by ``own[:, reported[j]]`` and the first slot holding the best
    value wins; with no vote, the slot with the highest own-class probability.
    With ``reported = range(N)`` this is :func:`modules.compose_predict`.

    Returns
    -------
    ndarray of int, shape (n,): the predicted slot (label).
    """
    reported = np.asarray(reported)
    own, votes = [], []
    for m in modules:
        P = m.predict_proba(X)
        own.append(P[:, m.target])
        votes.append(P.argmax(axis=1) == m.target)
    own, votes = np.stack(own, axis=1), np.stack(votes, axis=1)
    n_votes = votes.sum(axis=1)
    # Deviation from paper: the authors' code reads each voter's value at the slot its vote reports
    best = np.where(votes, own[:, reported], -np.inf).max(axis=1)
    several = np.argmax(own == best[:, None], axis=1)
    single = reported[np.argmax(votes, axis=1)]
    return np.where(n_votes == 1, single, np.where(n_votes == 0, np.argmax(own, axis=1), several))


def duodecimal_row(digit_modules, letter_modules, train, test, epochs=50, rng=0):
    """MA (correct and authors' rule) and TMA (percent) of the duodecimal classifier.

    Parameters
    ----------
    digit_modules, letter_modules : lists of Module (ten MNIST ones; A and B)
    train, test : (X, y) from :func:`duodecimal_data`, labels 0-11
    """
    modules = list(digit_modules) + list(letter_modules)
    X_test, y_test = test
    reported = [m.target for m in modules]
    ma = 100 * composed_accuracy(modules, X_test, y_test)
    ma_official = 100 * float(np.mean(compose_predict_reported(modules, X_test, reported) == y_test))
    trained = train_model(*train, n_hidden_layers=4, n_classes=len(modules), epochs=epochs, rng=rng)
    tma = 100 * trained.score(X_test, y_test)
    return {"experiment": "duodecimal", "dataset": "mnist+emnist", "ma": round(ma, 2),
            "ma_official_rule": round(ma_official, 2), "tma": round(tma, 2), "ma_minus_tma": round(ma - tma, 2),
            "ma_official_rule_minus_tma": round(ma_official - tma, 2), "n_test": len(y_test),
            "n_train": len(train[1]), "epochs": epochs, **_seed_field(rng)}


def summarize_duodecimal(rows):
    """Means of ``ma``, ``ma_official_rule``, ``tma`` and the two differences over ``rows`` (one per seed)."""
    keys = ("ma", "ma_official_rule", "tma", "ma_minus_tma", "ma_official_rule_minus_tma")
    return {k: round(float(np.mean([r[k] for r in rows])), 2) for k in keys}


# ---------------------------------------------------------------------------
# Statistics per seed, for ``replicates.replicate_summary``
# ---------------------------------------------------------------------------

#: experiment -> the statistics of one seed's rows
SEED_STATISTICS = {"intra-reuse": summarize_reuse, "inter-reuse": summarize_reuse,
                   "inter-replacement": summarize_inter_replacement, "duodecimal": summarize_duodecimal,
                   "inter-replacement-ma": summarize_inter_replacement_ma}


def _seed_field(rng):
    """``{"seed": rng}`` for an int seed, else {} (a Generator has no seed to record)."""
    return {"seed": int(rng)} if isinstance(rng, (int, np.integer)) else {}


# ---------------------------------------------------------------------------
# The faulty model
# ---------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------
# Data and modules of the authors' models: stored or ours
# ---------------------------------------------------------------------------

_LAST_LOADED = {}


def dataset_arrays(dataset, data_dir=None):
    """``experiments.load_dataset(dataset, data_dir)``, keeping the last two data sets loaded in memory.

    The commands and notebooks score several experiments on the same data one
    after another; MNIST takes seconds to decompress.
    """
    from .experiments import load_dataset

    key = (dataset, None if data_dir is None else str(data_dir))
    if key not in _LAST_LOADED:
        while len(_LAST_LOADED) >= 2:
            _LAST_LOADED.pop(next(iter(_LAST_LOADED)))
        _LAST_LOADED[key] = load_dataset(dataset, data_dir)
    return _LAST_LOADED[key]


def experiment_arrays(dataset, protocol="held-out", data_dir=None):
    """(X_train, y_train, X_test, y_test, note) for reuse and replacement.

    ``protocol`` matters for KMNIST only (module docstring): "held-out" is
    :func:`dataset_arrays`; "authors" gives all 10,000 test images as both
    the training and the test set, with ``AUTHORS_KMNIST_NOTE``.
    """
    if protocol not in KMNIST_PROTOCOLS:
        raise ValueError(f"protocol: expected one of {KMNIST_PROTOCOLS}, found {protocol!r}")
    arrays = dataset_arrays(dataset, data_dir)
    if dataset != "kmnist" or protocol == "held-out":
        return arrays
    X, y = np.concatenate([arrays[0], arrays[2]]), np.concatenate([arrays[1], arrays[3]])
    return X, y, X, y, AUTHORS_KMNIST_NOTE


# ---------------------------------------------------------------------------
# ---------------------------------------------------------------------------

def cm_rie_modules(model_name, source="stored", arrays=None, models_dir=None, propagation="linear", rng=0):
    """The ten CM-RIE modules of the authors' ``model_name`` (e.g. "mnist-4").

    source : "stored" (the authors' files) or "ours" (our decomposition of
    their model, official fidelity, from ``arrays[:2]`` of
    ``experiments.load_dataset``).
    """
    if source == "stored":
        return load_official_modules("CM-RIE", model_name, models_dir)
    if source != "ours":
        raise ValueError(f"source: expected one of {MODULE_SOURCES}, found {source!r}")
    ensure_models([model_name], models_dir)
    model = io.load(resolve_models_dir(models_dir) / f"{model_name}.npz")
    return decompose(model, arrays[0], arrays[1], "CM-RIE", propagation=propagation, fidelity="official", rng=rng)


# ---------------------------------------------------------------------------
# The authors' tie-break bug (for the errata)
# ---------------------------------------------------------------------------

def compose_predict_voter_position(modules, X):
    """The composition with the tie-break bug of some of the authors' ``Reuse.py`` files.

    With two or more votes they return ``valPred.index(max(valPred))``: the
    *position among the voters* of the best voter, not its class. Otherwise
    the rule of ``modules.compose_predict``. Returns shape (n,).
    """
    own, votes = [], []
    for m in modules:
        P = F.softmax(m.forward(X))
        own.append(P[:, m.target])
        votes.append(P.argmax(axis=1) == m.target)
    own, votes = np.stack(own, axis=1), np.stack(votes, axis=1)
    correct = vote(own, votes)
    best_voter = np.argmax(np.where(votes, own, -np.inf), axis=1)
    position = np.cumsum(votes, axis=1)[np.arange(len(X)), best_voter] - 1
    return np.where(votes.sum(axis=1) >= 2, position, correct)


def _finish_row(row, start, note, progress, label):
    """Complete a reuse or replacement row: MA >= TMA, seconds, the data note; report it on stderr."""
    row["ma_ge_tma"] = row["ma"] >= row["tma"]
    row["seconds"] = round(time.perf_counter() - start, 2)
    if note:
        row["note"] = note
    _progress(progress, f"{label}: MA {row['ma']:6.2f} TMA {row['tma']:6.2f}")
    return row


def _progress(enabled, message):
    if enabled:
        print(message, file=sys.stderr, flush=True)


def print_rows(rows):
    """Print each row as one JSON line (stdout) and return them as a list."""
    out = []
    for row in rows:
        print(json.dumps(row), flush=True)
        out.append(row)
    return out


__all__ = ["KMNIST_PROTOCOLS", "MODULE_SOURCES", "PAIR_RULES", "SEED_STATISTICS", "cached_model", "class_pairs",
           "cm_rie_modules", "compose_pair", "compose_predict_reported", "compose_predict_voter_position",
           "dataset_arrays", "duodecimal_data", "duodecimal_row", "experiment_arrays", "faulty_model_report",
           "faulty_subset", "first_pairs", "inter_replacement_ma_rows", "inter_replacement_row",
           "inter_replacement_rows", "inter_reuse_rows", "intra_reuse_rows", "pair_data", "print_rows",
           "replaced_data", "replaced_modules", "replacement_cases", "replacement_rows", "reuse_pair",
           "summarize_duodecimal", "summarize_inter_replacement", "summarize_inter_replacement_ma",
           "summarize_replacement", "summarize_reuse", "train_model", "two_dataset_pair_data"]
