"""Finite differences shared by the tests of every backward pass."""
import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    """Central differences of the scalar f() with respect to every entry of x (mutated, restored)."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        up = f()
        x[idx] = old - eps
        down = f()
        x[idx] = old
        grad[idx] = (up - down) / (2 * eps)
    return grad
