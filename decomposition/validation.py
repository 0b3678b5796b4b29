"""Checks for the decomposition package's public entry points.

Each check raises ``TypeError`` (wrong kind of object or dtype) or
``ValueError`` (wrong shape, range or content) whose message names the
argument as the caller spelled it, says what was expected and what was
found, and how to fix it (the house rule of ``nnlite._checks``).
"""
import numbers

import numpy as np

from nnlite import sparse
from nnlite._checks import check_float_array


def check_real_array(X, name, ndim=2, allow_empty=False):
    """``check_float_array`` that also refuses complex values (which NumPy would cast away with a warning)."""
    if np.iscomplexobj(X):
        raise TypeError(f"{name}: expected real numbers, found complex dtype {np.asarray(X).dtype}; "
                        "pass the real part explicitly (X.real) if that is what you mean")
    return check_float_array(X, name, ndim=ndim, allow_empty=allow_empty)


def check_index(value, name, n):
    """An int (not bool, not float) in [0, n); returns it as a Python int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int in [0, {n}), found {type(value).__name__} {value!r}")
    if not 0 <= int(value) < n:
        raise ValueError(f"{name}: expected an int in [0, {n}), found {value}")
    return int(value)


def _check_weight(W, name):
    if sparse.is_sparse(W):
        if W.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D weight, found shape {W.shape}")
        check_real_array(W.data, name, ndim=1, allow_empty=True)
        return W
    return check_real_array(W, name, ndim=2)


def check_layers(weights, biases, weights_name="weights", biases_name="biases"):
    """Weights W_i (d_in_i, d_out_i) and biases b_i (d_out_i,) of a chain of dense layers.

    Returns
    -------
    (list of ndarray or CSR, list of ndarray): the checked arrays (floats
    unchanged, no copies).
    """
    for value, name in ((weights, weights_name), (biases, biases_name)):
        if isinstance(value, np.ndarray) or not isinstance(value, (list, tuple)):
            raise TypeError(f"{name}: expected a list of arrays, one per layer, found {type(value).__name__}")
    if len(weights) == 0:
        raise ValueError(f"{weights_name}: expected at least one layer, found an empty list")
    if len(biases) != len(weights):
        raise ValueError(f"{biases_name}: expected {len(weights)} arrays (one per layer of {weights_name}), "
                         f"found {len(biases)}")
    weights = [_check_weight(W, f"{weights_name}[{i}]") for i, W in enumerate(weights)]
    biases = [check_real_array(b, f"{biases_name}[{i}]", ndim=1) for i, b in enumerate(biases)]
    for i, (W, b) in enumerate(zip(weights, biases)):
        if b.shape != (W.shape[1],):
            raise ValueError(f"{biases_name}[{i}]: expected shape ({W.shape[1]},) to match {weights_name}[{i}] "
                             f"{W.shape}, found {b.shape}")
        if i and W.shape[0] != weights[i - 1].shape[1]:
            raise ValueError(f"{weights_name}[{i}]: expected {weights[i - 1].shape[1]} rows (the outputs of "
                             f"{weights_name}[{i - 1}]), found shape {W.shape}")
    return weights, biases


def check_classes(classes, n_classes):
    """``decompose``'s ``classes``: None (all) or distinct ints in [0, n_classes); returns a list of int."""
    if classes is None:
        return list(range(n_classes))
    if isinstance(classes, (str, bytes)) or not np.iterable(classes):
        raise TypeError(f"classes: expected None or an iterable of ints, found {type(classes).__name__}")
    checked = [check_index(c, "classes", n_classes) for c in classes]
    if not checked:
        raise ValueError("classes: expected at least one class, found none; pass None for all classes")
    if len(set(checked)) != len(checked):
        raise ValueError(f"classes: expected distinct classes, found {checked}")
    return checked


def check_count(value, name, minimum=1, maximum=None):
    """An int (not bool, not float) in [minimum, maximum]; returns it as a Python int.

    ``maximum`` guards sizes that would only exhaust memory or time (e.g. a
    billion hidden layers).
    """
    bound = f"an int >= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected {bound}, found {type(value).__name__} {value!r}; pass a whole number")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name}: expected {bound}, found {value}")
    return int(value)


def check_fraction(value, name, closed=True):
    """A finite real in [0, 1] (``closed``) or in (0, 1); returns it as a float."""
    interval = "[0, 1]" if closed else "(0, 1)"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number in {interval}, found {type(value).__name__} {value!r}")
    inside = 0 <= value <= 1 if closed else 0 < value < 1
    if not inside:  # NaN fails both comparisons
        raise ValueError(f"{name}: expected a number in {interval}, found {value}")
    return float(value)


def check_choice(value, name, choices):
    """One of ``choices`` (strings); the message lists them all."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: expected one of {tuple(choices)}, found {value!r}")
    return value


def check_choices(values, name, choices):
    """A non-empty list or tuple of items of ``choices`` (a bare string is refused, not split into letters)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        raise TypeError(f"{name}: expected a list or tuple of names from {tuple(choices)}, found "
                        f"{type(values).__name__} {values!r}; wrap a single name: [{values!r}]")
    if not values:
        raise ValueError(f"{name}: expected at least one of {tuple(choices)}, found an empty {type(values).__name__}")
    return [check_choice(v, f"{name}", choices) for v in values]


def named_as(names):
    """Context manager: a ValueError/TypeError whose message starts with an inner argument name in ``names``
    (``"rng: ..."``) is raised again starting with the caller's name for it (``"seed: ..."``)."""
    from nnlite.cli import option_names
    return option_names(names)
