"""Weight initialisers: ``W (d_in, d_out)`` drawn from ``rng``, biases are zero.

Each takes ``rng`` as None, an int seed or a ``np.random.Generator``.
"""
import numpy as np

from ._checks import check_float_dtype, check_rng


def _check_fans(d_in, d_out, rng, dtype):
    """Validate the arguments every initialiser shares; returns (d_in, d_out, rng, dtype)."""
    for name, n in (("d_in", d_in), ("d_out", d_out)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"{name}: expected a positive int, found {type(n).__name__} {n!r}")
        if n < 1:
            raise ValueError(f"{name}: expected a positive number of units, found {n}")
    return int(d_in), int(d_out), check_rng(rng), check_float_dtype(dtype, "dtype")


def glorot_uniform(d_in, d_out, rng=None, dtype=np.float32):
    """U(-a, a) with a = sqrt(6 / (d_in + d_out)) (Glorot & Bengio 2010)."""
    d_in, d_out, rng, dtype = _check_fans(d_in, d_out, rng, dtype)
    a = np.sqrt(6.0 / (d_in + d_out))
    return rng.uniform(-a, a, size=(d_in, d_out)).astype(dtype)


def glorot_normal(d_in, d_out, rng=None, dtype=np.float32):
    """N(0, 2 / (d_in + d_out)), the Gaussian Glorot used by the lottery-ticket paper."""
    d_in, d_out, rng, dtype = _check_fans(d_in, d_out, rng, dtype)
    return (rng.standard_normal((d_in, d_out)) * np.sqrt(2.0 / (d_in + d_out))).astype(dtype)


def he_normal(d_in, d_out, rng=None, dtype=np.float32):
    """N(0, 2 / d_in) (He et al. 2015), suited to ReLU layers."""
    d_in, d_out, rng, dtype = _check_fans(d_in, d_out, rng, dtype)
    return (rng.standard_normal((d_in, d_out)) * np.sqrt(2.0 / d_in)).astype(dtype)


def he_uniform(d_in, d_out, rng=None, dtype=np.float32):
    """U(-a, a) with a = sqrt(6 / d_in)."""
    d_in, d_out, rng, dtype = _check_fans(d_in, d_out, rng, dtype)
    a = np.sqrt(6.0 / d_in)
    return rng.uniform(-a, a, size=(d_in, d_out)).astype(dtype)


INITIALISERS = {f.__name__: f for f in (glorot_uniform, glorot_normal, he_normal, he_uniform)}
