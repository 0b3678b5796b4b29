"""The duodecimal classifier (Pan & Rajan 2020, Sec. 5.2.2 and Fig. 1; the authors' ``Reuse/Motivating Example``).

The ten MNIST-4 CM-RIE modules and the EMNIST-4 modules of A and B compose a
12-class (0-9, A, B) classifier, scored on the 10,000 MNIST and 1,600 A/B
test images, against a 4x49 12-class network trained 50 epochs (their
``trainDense4`` default) on the 60,000 MNIST and 9,600 A/B training images.
Paper: 83.40 vs 91.45 (8.05 points lower); the authors' stored TMA output is
92.64. Their script's rule is ``decomposition.reuse.compose_predict_reported``.
"""
import numpy as np

from ..modules import composed_accuracy
from ..reuse import compose_predict_reported
from .data import experiment_arrays, train_model
from .reuse import _seed_field, experiment_modules

#: Paper, Sec. 5.2.2: the duodecimal classifier.
PAPER_DUODECIMAL = {"ma": 83.40, "tma": 91.45, "ma_minus_tma": -8.05}


def duodecimal_data(X_digits, y_digits, X_letters, y_letters, letters=(0, 1)):
    """Digits 0-9 plus the letters ``letters`` (A=0, B=1 of EMNIST A-J) relabelled 10, 11, ...: ``(X, y)``."""
    parts_X, parts_y = [X_digits], [np.asarray(y_digits)]
    for offset, letter in enumerate(letters):
        rows = np.flatnonzero(np.asarray(y_letters) == letter)
        parts_X.append(X_letters[rows])
        parts_y.append(np.full(len(rows), 10 + offset, dtype=parts_y[0].dtype))
    return np.concatenate(parts_X), np.concatenate(parts_y)


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


def duodecimal_task(params, seed_sequence, data_dir=None, models_dir=None, module_seed=0):
    """One seed of ``python -m decomposition duodecimal`` for ``run_grid``: :func:`duodecimal_row`.

    params : dict with ``epochs``, ``modules`` and ``seed`` (TMA's; ``seed_sequence`` unused, see
    ``reuse.reuse_task``).
    """
    digits, letters = (experiment_arrays(ds, "held-out", data_dir) for ds in ("mnist", "emnist"))
    modules = experiment_modules("mnist-4", params["modules"], "held-out", data_dir, models_dir, module_seed)
    letter_modules = experiment_modules("emnist-4", params["modules"], "held-out", data_dir, models_dir,
                                        module_seed)[:2]
    train = duodecimal_data(digits[0], digits[1], letters[0], letters[1])
    test = duodecimal_data(digits[2], digits[3], letters[2], letters[3])
    return duodecimal_row(modules, letter_modules, train, test, params["epochs"], params["seed"])

