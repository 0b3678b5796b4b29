"""Input validation shared by the public entry points.

Every check raises ``TypeError`` (wrong kind of object or dtype) or
``ValueError`` (wrong shape, range or content) with a message that names the
argument, what was expected, what was found, and how to fix it.
"""
import numpy as np
import scipy.sparse as sp


def check_rng(rng, name="rng"):
    """Normalise ``rng`` (None, int or Generator) with ``np.random.default_rng``."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng < 0:
        raise ValueError(f"{name}: expected a seed >= 0, found {rng}")
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"{name}: expected None, an int or np.random.Generator, found {type(rng).__name__}")


def check_float_array(X, name, ndim=2, allow_empty=False):
    """Return ``X`` as a finite floating ndarray of ``ndim`` dimensions."""
    if sp.issparse(X):
        raise TypeError(f"{name}: expected a dense ndarray, found a scipy.sparse {type(X).__name__}")
    X = np.asarray(X)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool) or np.iscomplexobj(X):
        raise TypeError(f"{name}: expected a numeric array, found dtype {X.dtype}")
    if np.issubdtype(X.dtype, np.complexfloating):
        raise TypeError(f"{name}: expected real numbers, found dtype {X.dtype}; pass {name}.real if the "
                        f"imaginary part is meant to be dropped")
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


# -- weights (dense or CSR) ---------------------------------------------------
# Where a CSR array enters the engine (MLP construction, the public products of
# nnlite.sparse and nnlite.functional, the dynamic layers), ``check_csr``
# proves that its structure is safe to index; the compiled kernels trust it.

def check_csr(W, name, formats=("csr", "csc")):
    """Raise unless ``W`` is a scipy.sparse array in one of ``formats`` whose
    structure a kernel may index: float32/float64 data, integer ``indices`` in
    [0, n_minor), ``indptr`` of length n_major + 1, non-decreasing from 0 to nnz.

    O(nnz) and vectorised (about 10 us for 50,000 stored entries); values are
    not looked at (``check_weight`` adds finiteness)."""
    if not sp.issparse(W) or W.format not in formats:
        found = f"scipy.sparse {W.format}" if sp.issparse(W) else type(W).__name__
        raise TypeError(f"{name}: expected a scipy.sparse {' or '.join(formats)} array, found {found}; "
                        f"convert it with nnlite.sparse.to_csr")
    if W.data.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name}: expected float32 or float64 stored values, found {W.data.dtype}")
    if len(W.shape) != 2:
        raise ValueError(f"{name}: expected a 2-d sparse array, found shape {W.shape}")
    n_major, n_minor = W.shape if W.format == "csr" else W.shape[::-1]
    indptr, indices = W.indptr, W.indices
    for part, array in (("indptr", indptr), ("indices", indices)):
        if array.ndim != 1 or array.dtype.kind not in "iu":
            raise TypeError(f"{name}.{part}: expected a 1-d integer array, found {array.dtype} shape {array.shape}")
    if len(indptr) != n_major + 1 or len(indices) != len(W.data):
        raise ValueError(f"{name}: expected len(indptr) == {n_major + 1} and len(indices) == len(data), found "
                         f"{len(indptr)}, {len(indices)} and {len(W.data)}; the CSR arrays are inconsistent")
    if indptr[0] != 0 or indptr[-1] != len(indices) or (n_major and np.diff(indptr).min() < 0):
        raise ValueError(f"{name}.indptr: expected non-decreasing offsets from 0 to nnz = {len(indices)}, "
                         f"found {indptr[0]} .. {indptr[-1]}; the CSR arrays are corrupt")
    if len(indices) and (indices.min() < 0 or indices.max() >= n_minor):
        raise ValueError(f"{name}.indices: expected column indices in [0, {n_minor}), found range "
                         f"[{indices.min()}, {indices.max()}]; the CSR arrays are corrupt")
    return W


def check_weight(W, name, allow_empty=False):
    """Raise unless ``W`` is a 2-d, non-empty (unless ``allow_empty``), finite float weight: an
    ndarray or a CSR/CSC array (structure checked by ``check_csr``). Returns W unchanged."""
    if sp.issparse(W):
        check_csr(W, name)
        values = W.data
    elif isinstance(W, np.ndarray):
        if not np.issubdtype(W.dtype, np.floating):
            raise TypeError(f"{name}: expected a float weight array, found dtype {W.dtype}; "
                            f"convert it with .astype(np.float32)")
        values = W
    else:
        raise TypeError(f"{name}: expected an ndarray or a scipy.sparse CSR array, found {type(W).__name__}")
    if W.ndim != 2 or (0 in W.shape and not allow_empty):
        raise ValueError(f"{name}: expected a 2-d float array (d_in, d_out), non-empty, found shape {W.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name}: expected finite weights, found {int(np.size(values) - np.isfinite(values).sum())} "
                         f"NaN/inf entries (a diverged training run?)")
    return W


def check_bias(b, name, d_out, allow_scalar=False, weight_name="W"):
    """Return ``b`` as a finite float array of shape (d_out,) (or a scalar, if allowed)."""
    scalar = allow_scalar and np.ndim(b) == 0
    b = check_float_array(b, name, ndim=0 if scalar else 1)
    if not scalar and b.shape != (d_out,):
        raise ValueError(f"{name}: expected shape ({d_out},) to match the {d_out} columns of {weight_name}, "
                         f"found {b.shape}")
    return b


def check_same_rows(A, name_a, B, name_b):
    if A.shape[0] != B.shape[0]:
        raise ValueError(f"{name_b}: expected {A.shape[0]} rows to match {name_a}, found shape {B.shape}")


def check_float_dtype(dtype, name):
    """np.dtype(dtype) if it is float32 or float64 (the dtypes the engine computes in)."""
    try:
        found = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name}: expected np.float32 or np.float64, found {dtype!r}") from None
    if found not in (np.float32, np.float64):
        raise TypeError(f"{name}: expected np.float32 or np.float64, found {found}; an integer "
                        f"network would round every weight to 0")
    return found


def check_int(value, name, minimum=1):
    """``value`` as an int if it is an integer (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer >= {minimum}, found {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, found {value}")
    return int(value)


def check_mask(mask, name, shape):
    """``mask`` as a boolean ndarray of ``shape`` (O(1): dtype and shape only, no copy)."""
    found = np.asarray(mask) if isinstance(mask, (np.ndarray, list, tuple)) else None
    if found is None or found.dtype != bool:
        kind = f"dtype {found.dtype}" if found is not None else type(mask).__name__
        raise TypeError(f"{name}: expected a boolean array of shape {shape}, found {kind}; "
                        f"build it with a comparison such as np.abs(W) > threshold")
    if found.shape != tuple(shape):
        raise ValueError(f"{name}: expected a boolean array of shape {tuple(shape)}, found shape {found.shape}")
    return found


def check_positive_float(value, name, example=1e-3):
    """``value`` as a float if it is a finite real number > 0 (not a bool or a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a finite number > 0 such as {example}, found "
                        f"{type(value).__name__} {value!r}; pass a number, not a string")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name}: expected a finite number > 0 such as {example}, found {value!r}")
    return float(value)


def check_subset_size(n, name, n_available, what="the training set"):
    """``n`` unchanged if it is None (everything) or a count in [1, ``n_available``], the size of ``what``."""
    if n is not None and check_int(n, name) > n_available:
        raise ValueError(f"{name}: expected at most {n_available} (the size of {what}), found {n}; "
                         f"pass {n_available} or less")
    return n


def check_choice(value, name, choices):
    """``value`` unchanged if it is one of ``choices`` (compared only among strings, so None/3 never match)."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, found {value!r}; "
                         f"pass one of those names")
    return value


def check_shape(shape, name, ndim=None):
    """``shape`` as a tuple of ints >= 1 (``ndim`` of them, if given)."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__"):
        raise TypeError(f"{name}: expected a tuple of positive ints such as (4, 3), found "
                        f"{type(shape).__name__} {shape!r}")
    if (ndim is not None and len(shape) != ndim) or len(shape) == 0:
        raise ValueError(f"{name}: expected {ndim or 'at least 1'} dimensions, found {tuple(shape)!r}")
    for size in shape:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"{name}: expected a tuple of positive ints such as (4, 3), found {tuple(shape)!r}")
    return tuple(int(size) for size in shape)


def check_real(value, name, minimum=0.0, example=1.0):
    """``value`` as a float if it is a finite real number >= ``minimum`` (not a bool or a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a finite number >= {minimum} such as {example}, found "
                        f"{type(value).__name__} {value!r}; pass a number, not a string")
    if not (np.isfinite(value) and value >= minimum):
        raise ValueError(f"{name}: expected a finite number >= {minimum} such as {example}, found {value!r}")
    return float(value)
