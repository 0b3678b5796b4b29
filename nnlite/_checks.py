"""Input validation shared by the public entry points.

Every check raises ``TypeError`` (wrong kind of object or dtype) or
``ValueError`` (wrong shape, range or content) with a message that names the
argument, what was expected, what was found, and how to fix it.
"""
import numpy as np
import scipy.sparse as sp


def check_rng(rng):
    """Normalise ``rng`` (None, int or Generator) with ``np.random.default_rng``."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng: expected None, an int or np.random.Generator, found {type(rng).__name__}")


def check_float_array(X, name, ndim=2, allow_empty=False):
    """Return ``X`` as a finite floating ndarray of ``ndim`` dimensions."""
    if sp.issparse(X):
        raise TypeError(f"{name}: expected a dense ndarray, found a scipy.sparse {type(X).__name__}")
    X = np.asarray(X)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool) or np.iscomplexobj(X):
        raise TypeError(f"{name}: expected a numeric array, found dtype {X.dtype}")
    if X.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, found shape {X.shape}")
    if X.size == 0 and not allow_empty:
        raise ValueError(f"{name}: expected a non-empty array, found shape {X.shape}")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float32)
    if not np.all(np.isfinite(X)):
        n_bad = int(np.size(X) - np.count_nonzero(np.isfinite(X)))
        raise ValueError(f"{name}: expected finite values, found {n_bad} NaN/inf entries; clean or impute them first")
    return X


def check_labels(y, name, n_samples, n_classes):
    """Return integer labels of shape (n_samples,) with values in [0, n_classes)."""
    y = np.asarray(y)
    if not (np.issubdtype(y.dtype, np.integer) or (np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0))):
        raise TypeError(f"{name}: expected integer class labels, found dtype {y.dtype}")
    if y.shape != (n_samples,):
        raise ValueError(f"{name}: expected shape ({n_samples},) to match X, found {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{name}: expected labels in [0, {n_classes}), found range [{y.min()}, {y.max()}]")
    return y.astype(np.int64, copy=False)


def check_n_features(X, name, n_expected):
    if X.shape[1] != n_expected:
        raise ValueError(f"{name}: expected {n_expected} features per row (the model's input size), found {X.shape[1]}")
