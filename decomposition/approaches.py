"""The six approaches of Pan & Rajan's Table 1 and the one entry point, :func:`decompose`.

=========  ================================================================
approach   steps (per class c)
=========  ================================================================
TI-I       CI (Alg. 1) on positives of c, then TI (Alg. 2) on negatives (Alg. 3)
TI-PN      as TI-I with TI-PN's counts and CI output rule
TI-HP      TI on negatives first, then CI on positives
TI-SNE     as TI-I with more negatives and TI output threshold 0.5
CM-C       TI-SNE, then channel (Alg. 4)
CM-RIE     TI-SNE, then remove irrelevant edges (Alg. 5), then channel
=========  ================================================================

Examples (the inputs of Alg. 3; counts in ``fidelity``): positives are the
first examples of class c in ``X`` order (official fidelity: only those the
model gives probability > 0.9, among the first 10,000 rows); negatives are
the first ``n_negatives_per_class`` examples of every other class, in an
order drawn from ``rng`` (the authors shuffle without a seed).

Each module starts as P&R Alg. 3, line 3 says under fidelity "paper" (the
network itself, indicator off) and as the authors' code does under
"official" (empty, flag set); see ``tangling_identification.start_module``.

Order of the negatives: no approach depends on it, under either fidelity
(the reasons are in ``tangling_identification``'s docstring), so ``rng``
changes the processing order but never a module; a Hypothesis property
checks it for all six approaches, both fidelities and both propagations.

=========  =========================  ===========================
approach   fidelity "paper"           fidelity "official"
=========  =========================  ===========================
TI-I       order-free                 order-free
TI-PN      order-free                 order-free
TI-HP      order-free (TI restores    order-free (the check after
           nothing on D = W)          negatives keeps the set flag)
TI-SNE     order-free                 order-free
CM-C       order-free (of TI-SNE)     order-free (of TI-SNE)
CM-RIE     order-free (of TI-SNE)     order-free (of TI-SNE)
=========  =========================  ===========================
"""
import numpy as np

from nnlite import functional as F
from nnlite import sparse
from nnlite._checks import check_float_array, check_labels, check_n_features, check_rng
from nnlite.models import mlp_logits

from .activity import activity_pass, check_propagation
from .authors_loop import apply_folder_behaviours, decompose_sequential
from .concern_modularization import channel, remove_irrelevant_edges
from .fidelity import check_fidelity, variant_of
from .modules import Module
from .tangling_identification import decompose_variant, start_module
from .validation import check_classes, check_layers, check_real_array

APPROACHES = ("TI-I", "TI-PN", "TI-HP", "TI-SNE", "CM-C", "CM-RIE")


def check_approach(approach):
    if not isinstance(approach, str) or approach not in APPROACHES:
        raise ValueError(f"approach: expected one of {APPROACHES}, found {approach!r}")
    return approach


def select_positives(rows_of_class, target, n_positives, fidelity, probabilities=None):
    """P&R Alg. 3, line 4: the positives CI runs on, row indices of examples of ``target`` in ``X`` order.

    rows_of_class : list of int arrays, the rows of X of each class in order.
    probabilities : (n_scanned, n_classes) model probabilities of the first
    rows of X (needed by the official filter).
    """
    rows = rows_of_class[target]
    if fidelity.positive_filter:
        # Deviation from paper: the authors keep only examples the model
        # classifies as the class with p > 0.9, scanning the first 10,000.
        rows = rows[rows < len(probabilities)]
        rows = rows[probabilities[rows, target] > fidelity.positive_min_probability]
    return rows[:n_positives]


def select_negatives(rows_of_class, target, n_per_class, rng):
    """P&R Alg. 3, lines 9-11: the negatives TI runs on, the first ``n_per_class`` rows of every other class.

    Their order is drawn from ``rng`` (the authors shuffle without a seed).
    """
    rows = np.concatenate([r[:n_per_class] for c, r in enumerate(rows_of_class) if c != target])
    return rng.permutation(rows)


def _model_arrays(model):
    weights, biases = getattr(model, "weights", None), getattr(model, "biases", None)
    if weights is None or biases is None or len(weights) != len(biases) or len(weights) < 2:
        raise TypeError("model: expected an nnlite MLP (lists weights, biases) with at least one hidden "
                        f"layer, found {type(model).__name__}")
    if any(sparse.is_sparse(W) for W in weights):
        raise TypeError("model: expected dense weights, found a CSR layer; convert with nnlite.sparse.to_dense")
    # finite, real, chained shapes (a NaN model would otherwise decompose into NaN modules)
    return check_layers(list(weights), list(biases), "model.weights", "model.biases")


def _check_inputs(weights, X, y):
    X = np.asarray(X)
    check_real_array(X[:1] if X.ndim == 2 and len(X) else X, "X")   # kind, dtype, dimensions
    if not np.isfinite(np.sum(X, dtype=np.float64)):
        # NaN and inf survive a sum (a float64 sum of finite floats overflows only near 1e308); the full
        # check then counts them, or passes if the sum merely overflowed
        check_real_array(X, "X")
    check_n_features(X, "X", weights[0].shape[0])
    n_classes = weights[-1].shape[1]
    y = check_labels(y, "y", len(X), n_classes)
    counts = np.bincount(y, minlength=n_classes)
    if np.any(counts == 0):
        missing = np.flatnonzero(counts == 0).tolist()
        raise ValueError(f"y: expected at least one example of every class 0..{n_classes - 1}, found none of "
                         f"classes {missing}; add examples of them (every class needs a module)")
    return X.astype(weights[0].dtype, copy=False), y


def decompose(model, X, y, approach="TI-SNE", propagation="linear", fidelity="official", rng=None,
              classes=None):
    """Decompose ``model`` into one module per class (Pan & Rajan 2020; P&R Alg. 3, line 1 for each class).

    Parameters
    ----------
    model : nnlite.MLP
        Dense weights in the Keras layout, ReLU hidden layers, softmax output.
    X : ndarray of shape (n, d_in)
        Inputs, already scaled as the model expects (pixels / 65025 for the
        authors' models); the examples CI and TI draw from.
    y : ndarray of int, shape (n,)
        Labels in [0, n_classes); every class needs at least one example.
    approach : {"TI-I", "TI-PN", "TI-HP", "TI-SNE", "CM-C", "CM-RIE"}
    propagation : {"linear", "relu"}
        The activity pass (see ``decomposition.activity``).
    fidelity : {"paper", "official"} or fidelity.Fidelity
        Pseudocode or authors' code wherever they differ (``fidelity.FIDELITY``),
        or one folder of the authors' code (``fidelity.folder_fidelity``; its
        ``example_split`` is the caller's to honour, by passing that split).
    rng : None, int or np.random.Generator
        Order of the negatives (no approach's modules depend on it; see the
        module docstring).
    classes : iterable of int or None
        Decompose only these classes (default: all).

    Returns
    -------
    list of Module, one per class (``modules[k].target == k``)
    """
    weights, biases = _model_arrays(model)
    X, y = _check_inputs(weights, X, y)
    check_approach(approach)
    check_propagation(propagation)
    fidelity = check_fidelity(fidelity)
    rng = check_rng(rng)
    n_classes = weights[-1].shape[1]
    classes = check_classes(classes, n_classes)
    variant = variant_of(approach)

    probabilities = None
    if fidelity.positive_filter:
        scanned = X if fidelity.positive_scan_limit is None else X[:fidelity.positive_scan_limit]
        probabilities = _real_probabilities(weights, biases, check_float_array(scanned, "X"))
    rows_of_class = [np.flatnonzero(y == c) for c in range(n_classes)]
    chosen = {}
    for c in classes:
        positives = select_positives(rows_of_class, c, fidelity.n_positives[variant], fidelity, probabilities)
        if len(positives) == 0:
            raise ValueError(f"X, y: class {c} has no positive example the model classifies as {c} with "
                             f"p > {fidelity.positive_min_probability} among the first "
                             f"{fidelity.positive_scan_limit} rows (fidelity {fidelity.name!r}); use "
                             "fidelity='paper' or pass more examples of the class")
        negatives = select_negatives(rows_of_class, c, fidelity.n_negatives_per_class[variant], rng)
        chosen[c] = (positives, negatives)
    chosen = apply_folder_behaviours(chosen, fidelity)          # fidelity.FOLDER_OVERRIDES
    if fidelity.authors_loop:
        return decompose_sequential(weights, biases, X, chosen, approach, propagation, fidelity, modularize)

    # One activity pass (one product per layer) over every example any class uses.
    rows = np.unique(np.concatenate([np.concatenate(pn) for pn in chosen.values()]))
    activity = activity_pass(weights, biases, check_float_array(X[rows], "X"), propagation)
    modules = []
    for c in classes:
        positives, negatives = (np.searchsorted(rows, r) for r in chosen[c])
        masks = decompose_variant(start_module(weights, biases, fidelity), weights, activity.subset(positives),
                                  activity.subset(negatives), fidelity, variant)
        D, d = masks.weights_and_biases(weights, biases)
        D, d = modularize(D, d, c, approach, fidelity)
        modules.append(Module(D, d, c, approach))
    return modules


def modularize(weights, biases, target, approach, fidelity):
    """Concern modularization for CM-C and CM-RIE (identity for the TI approaches)."""
    if approach == "CM-RIE":
        weights, biases, _ = remove_irrelevant_edges(weights, biases, target, fidelity)
    # P&R Alg. 5, line 38: CM-RIE ends with channeling; CM-C is channeling alone (P&R Alg. 4)
    if approach in ("CM-C", "CM-RIE"):
        weights, biases = channel(weights, biases, target, fidelity)
    return weights, biases


def _real_probabilities(weights, biases, X):
    """Softmax outputs of the real network (ReLU between layers), shape (n, n_classes)."""
    return F.softmax(mlp_logits(X, weights, biases))
