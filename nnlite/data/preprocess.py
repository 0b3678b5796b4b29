"""Preprocessing: raw pixels to model inputs, labels to one-hot rows, the one train/validation split."""
import math

import numpy as np

from nnlite._checks import check_labels, check_rng


def _check_raw_pixels(X, name="X", max_value=255):
    X = np.asarray(X)
    if X.dtype == bool or not (np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating)):
        raise TypeError(f"{name}: expected a numeric array of raw pixels (e.g. uint8), found dtype {X.dtype}")
    if X.size == 0:
        raise ValueError(f"{name}: expected at least one pixel, found an empty array of shape {X.shape}")
    if not (np.all(np.isfinite(X)) and X.min() >= 0 and X.max() <= max_value):
        raise ValueError(f"{name}: expected raw pixel values in [0, {max_value}], found range "
                         f"[{np.min(X)}, {np.max(X)}]; pass the images as loaded, before any scaling")
    if np.issubdtype(X.dtype, np.floating) and np.any(np.mod(X, 1)):
        raise ValueError(f"{name}: expected whole raw pixel values 0..{max_value}, found fractional values such as "
                         f"{X[np.mod(X, 1) != 0].flat[0]}; the images look scaled already, pass them as loaded")
    return X


def scale_255(X):
    """Scale raw pixels to [0, 1]: ``X / 255`` as float32.

    Parameters
    ----------
    X : ndarray of any shape, values in [0, 255]

    Returns
    -------
    ndarray of the same shape, float32, values in [0, 1]
    """
    X_scaled = _check_raw_pixels(X).astype(np.float32)
    X_scaled /= np.float32(255)
    return X_scaled


def scale_65025(X):
    """Scale raw pixels to [0, 1/255]: ``X / 65025 = X / 255 / 255`` as float32.

    The decomposition authors' code divides the images by 255 twice, so their
    models were trained on inputs in [0, 1/255]. Their trained weights give
    their reported accuracies only on inputs scaled the same way; use this
    (not :func:`scale_255`) to reproduce them.

    Parameters
    ----------
    X : ndarray of any shape, values in [0, 255]

    Returns
    -------
    ndarray of the same shape, float32, values in [0, 1/255]
    """
    X_scaled = _check_raw_pixels(X).astype(np.float32)
    X_scaled /= np.float32(255 * 255)
    return X_scaled


def flatten(X):
    """Flatten each sample row-major: ``(n, ...) -> (n, d)``.

    Parameters
    ----------
    X : ndarray of shape (n, ...), at least 2 dimensions

    Returns
    -------
    ndarray of shape (n, d), d = product of the other sizes
        A view of ``X`` when ``X`` is C-contiguous (as ``np.reshape``).
    """
    X = np.asarray(X)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise TypeError(f"X: expected a numeric array of samples, found dtype {X.dtype}")
    if X.ndim < 2:
        raise ValueError(f"X: expected samples of shape (n, ...) with at least 2 dimensions, found shape "
                         f"{X.shape}; for a single sample pass X[np.newaxis]")
    return X.reshape(X.shape[0], math.prod(X.shape[1:]))


def train_validation_split(X, y, validation_fraction=None, rng=None, *, n_validation=None):
    """Split samples at random into a training part and a validation part.

    Parameters
    ----------
    X : ndarray of shape (n, ...)
    y : ndarray of shape (n, ...)
    validation_fraction : float in (0, 1) or None
        Share of samples for validation (rounded to a count). Give this or
        ``n_validation``.
    rng : None, int or np.random.Generator
    n_validation : int or None
        Number of validation samples, 1..n-1.

    Returns
    -------
    X_train, X_val, y_train, y_val : ndarrays (new arrays, scikit-learn order)
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ValueError(f"X, y: expected the same number of samples along axis 0, found shapes "
                         f"{X.shape} and {y.shape}")
    n_validation = _n_validation(len(X), validation_fraction, n_validation)
    order = check_rng(rng).permutation(len(X))
    train, val = order[n_validation:], order[:n_validation]
    return X[train], X[val], y[train], y[val]


def _n_validation(n_samples, validation_fraction, n_validation):
    if (validation_fraction is None) == (n_validation is None):
        raise ValueError(f"validation_fraction, n_validation: expected exactly one of them, found "
                         f"{validation_fraction!r} and {n_validation!r}")
    if n_validation is None:
        if isinstance(validation_fraction, bool) or not isinstance(validation_fraction, (float, int, np.number)):
            raise TypeError(f"validation_fraction: expected a float in (0, 1), found "
                            f"{type(validation_fraction).__name__}")
        if not 0 < validation_fraction < 1:
            raise ValueError(f"validation_fraction: expected a float in (0, 1), found {validation_fraction}")
        n_validation = int(round(validation_fraction * n_samples))
    elif isinstance(n_validation, bool) or not isinstance(n_validation, (int, np.integer)):
        raise TypeError(f"n_validation: expected an int, found {type(n_validation).__name__}")
    if not 1 <= n_validation < n_samples:
        raise ValueError(f"n_validation: expected 1..{n_samples - 1} so both parts of {n_samples} samples "
                         f"are non-empty, found {n_validation}; change validation_fraction or n_validation")
    return int(n_validation)


def one_hot(y, n_classes):
    """One-hot encode integer labels.

    Parameters
    ----------
    y : ndarray of shape (n,), integers in [0, n_classes)
    n_classes : int

    Returns
    -------
    Y : ndarray of shape (n, n_classes), float32
        ``Y[i, y[i]] = 1``, all else 0.
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)):
        raise TypeError(f"n_classes: expected an int, found {type(n_classes).__name__}")
    if n_classes < 1:
        raise ValueError(f"n_classes: expected at least 1, found {n_classes}")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y: expected labels of shape (n,), found shape {y.shape}")
    y = check_labels(y, "y", len(y), n_classes)
    return np.eye(n_classes, dtype=np.float32)[y]
