"""The quick-start demo: a small MLP trained on the offline 8x8 digits, decomposed every way.

``python -m decomposition demo``; see :func:`demo_rows`.
"""
import time

import numpy as np

from nnlite import data

from ..activity import PROPAGATIONS
from ..approaches import APPROACHES, decompose
from ..modules import composed_accuracy, mean_pairwise_jaccard
from ..validation import check_choices, check_count, check_fraction, named_as
from .data import train_model

#: Most hidden layers of the demo: 49 units each, a 1,000-layer network already takes minutes to train.
MAX_HIDDEN_LAYERS = 1000


def digits_split(rng=0, test_fraction=0.3):
    """scikit-learn's 8x8 digits (offline), pixels / 16 as float32, split at random with ``rng``.

    Returns X_train (n, 64), X_test, y_train, y_test (``nnlite.data.train_validation_split``'s order).
    """
    X, y = data.load_digits()
    X = data.flatten(X).astype(np.float32) / np.float32(16)
    check_fraction(test_fraction, "test_fraction", closed=False)
    with named_as({"validation_fraction": "test_fraction"}):
        return data.train_validation_split(X, y, test_fraction, rng=rng)


def demo_rows(approaches=APPROACHES, propagations=("linear", "relu"), n_hidden_layers=2, epochs=30, seed=0,
              fidelity="official"):
    """Train a 64-49-...-10 MLP on the digits, decompose it every way, score on the test split.

    The decomposition draws positives and negatives from the training split.
    The official fidelity asks for up to 1,000 positives and 110 negatives
    per class; the digits have ~125 training images per class, so it uses
    all of them (``decompose`` takes the first ones available).

    Yields dicts with the keys of :func:`table1_row` (``model`` is "digits-<n>").
    """
    approaches = check_choices(approaches, "approaches", APPROACHES)
    propagations = check_choices(propagations, "propagations", PROPAGATIONS)
    check_count(n_hidden_layers, "n_hidden_layers", 1, MAX_HIDDEN_LAYERS)
    with named_as({"rng": "seed"}):
        X_train, X_test, y_train, y_test = digits_split(seed)
        model = train_model(X_train, y_train, n_hidden_layers, n_classes=10, epochs=epochs, rng=seed)
    model_accuracy = round(100 * model.score(X_test, y_test), 2)
    for approach in approaches:
        for propagation in propagations:
            start = time.perf_counter()
            modules = decompose(model, X_train, y_train, approach, propagation=propagation, fidelity=fidelity,
                                rng=seed)
            yield {"model": f"digits-{n_hidden_layers}", "approach": approach, "propagation": propagation,
                   "fidelity": fidelity if isinstance(fidelity, str) else fidelity.name,
                   "model_accuracy": model_accuracy,
                   "composed_accuracy": round(100 * composed_accuracy(modules, X_test, y_test), 2),
                   "ji_official": round(mean_pairwise_jaccard(modules, "official"), 4),
                   "ji_mask": round(mean_pairwise_jaccard(modules, "mask"), 4),
                   "seconds": round(time.perf_counter() - start, 3)}


def format_demo_table(rows):
    """The demo rows as a text table: one line per approach, linear and relu side by side."""
    rows = list(rows)
    propagations = list(dict.fromkeys(r["propagation"] for r in rows))
    head = f"{'approach':8s}" + "".join(f" | {p + ' composed':>15s} {'JI':>6s} {'mask JI':>7s}" for p in propagations)
    lines = [f"model {rows[0]['model']}: test accuracy {rows[0]['model_accuracy']:.2f}% "
             f"({rows[0]['fidelity']} fidelity; composed accuracy in %, JI = the authors' Jaccard, "
             "mask JI = positional)", head, "-" * len(head)]
    for approach in dict.fromkeys(r["approach"] for r in rows):
        cells = {r["propagation"]: r for r in rows if r["approach"] == approach}
        lines.append(f"{approach:8s}" + "".join(
            f" | {cells[p]['composed_accuracy']:15.2f} {cells[p]['ji_official']:6.3f} {cells[p]['ji_mask']:7.3f}"
            for p in propagations))
    return "\n".join(lines)
