"""Weight initialisers: ``W (n_in, n_out)`` drawn from ``rng``, biases are zero."""
import numpy as np


def glorot_uniform(n_in, n_out, rng, dtype=np.float32):
    """U(-a, a) with a = sqrt(6 / (n_in + n_out)) (Glorot & Bengio 2010)."""
    a = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-a, a, size=(n_in, n_out)).astype(dtype)


def glorot_normal(n_in, n_out, rng, dtype=np.float32):
    """N(0, 2 / (n_in + n_out)), the Gaussian Glorot used by the lottery-ticket paper."""
    return (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / (n_in + n_out))).astype(dtype)


def he_normal(n_in, n_out, rng, dtype=np.float32):
    """N(0, 2 / n_in) (He et al. 2015), suited to ReLU layers."""
    return (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(dtype)


def he_uniform(n_in, n_out, rng, dtype=np.float32):
    """U(-a, a) with a = sqrt(6 / n_in)."""
    a = np.sqrt(6.0 / n_in)
    return rng.uniform(-a, a, size=(n_in, n_out)).astype(dtype)


INITIALISERS = {f.__name__: f for f in (glorot_uniform, glorot_normal, he_normal, he_uniform)}
