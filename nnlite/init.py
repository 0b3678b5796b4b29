"""Weight initialisers: ``W (n_in, n_out)`` drawn from ``rng``, biases are zero.

Each takes ``rng`` as None, an int seed or a ``np.random.Generator``.
"""
import numpy as np

from ._checks import check_float_dtype, check_rng


def _check_fans(n_in, n_out, rng, dtype):
    """Validate the arguments every initialiser shares; returns (n_in, n_out, rng, dtype)."""
    for name, n in (("n_in", n_in), ("n_out", n_out)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"{name}: expected a positive int, found {type(n).__name__} {n!r}")
        if n < 1:
            raise ValueError(f"{name}: expected a positive number of units, found {n}")
    return int(n_in), int(n_out), check_rng(rng), check_float_dtype(dtype, "dtype")


def glorot_uniform(n_in, n_out, rng=None, dtype=np.float32):
    """U(-a, a) with a = sqrt(6 / (n_in + n_out)) (Glorot & Bengio 2010)."""
    n_in, n_out, rng, dtype = _check_fans(n_in, n_out, rng, dtype)
    a = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-a, a, size=(n_in, n_out)).astype(dtype)


def glorot_normal(n_in, n_out, rng=None, dtype=np.float32):
    """N(0, 2 / (n_in + n_out)), the Gaussian Glorot used by the lottery-ticket paper."""
    n_in, n_out, rng, dtype = _check_fans(n_in, n_out, rng, dtype)
    return (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / (n_in + n_out))).astype(dtype)


def he_normal(n_in, n_out, rng=None, dtype=np.float32):
    """N(0, 2 / n_in) (He et al. 2015), suited to ReLU layers."""
    n_in, n_out, rng, dtype = _check_fans(n_in, n_out, rng, dtype)
    return (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(dtype)


def he_uniform(n_in, n_out, rng=None, dtype=np.float32):
    """U(-a, a) with a = sqrt(6 / n_in)."""
    n_in, n_out, rng, dtype = _check_fans(n_in, n_out, rng, dtype)
    a = np.sqrt(6.0 / n_in)
    return rng.uniform(-a, a, size=(n_in, n_out)).astype(dtype)


INITIALISERS = {f.__name__: f for f in (glorot_uniform, glorot_normal, he_normal, he_uniform)}
