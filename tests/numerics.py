"""Tolerances for comparing results that a kernel may compute in another order.

Two floating-point evaluations of the same sum of n products, in any order and
with or without fused multiply-adds, each lie within gamma_n * sum|terms| of
the exact value (Higham, *Accuracy and Stability of Numerical Algorithms*,
2nd ed., eq. 3.5), gamma_n = n u / (1 - n u) and u the unit roundoff
(eps / 2). Hence they differ by at most 2 gamma_n sum|terms|. The bound is
entrywise and needs no tuning: it is exactly the room that reassociation
leaves, and nothing more.
"""
import numpy as np


def reassociation_bound(abs_terms, n_terms, dtype):
    """2 gamma_n * abs_terms: how far two orderings of an n-term sum may land apart.

    abs_terms : array, sum of |term| for each entry (e.g. ``|X|.T @ |Y|`` for ``X.T @ Y``).
    """
    u = np.finfo(dtype).eps / 2
    n_u = max(int(n_terms), 1) * u
    assert n_u < 0.5, "the bound assumes n u < 1/2"
    return 2 * n_u / (1 - n_u) * np.asarray(abs_terms, dtype=np.float64)


def assert_reassociation_close(actual, expected, abs_terms, n_terms):
    """Assert ``actual`` and ``expected`` (two orderings of the same sums) differ by at most
    :func:`reassociation_bound` entrywise; the computed ``abs_terms`` is given 1% of slack."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"shapes differ: {actual.shape} vs {expected.shape}"
    bound = 1.01 * reassociation_bound(abs_terms, n_terms, np.result_type(actual, expected))
    excess = np.abs(actual.astype(np.float64) - expected.astype(np.float64)) - bound
    assert np.all(excess <= 0), (f"{int(np.sum(excess > 0))} entries differ by more than reassociation over "
                                 f"{n_terms} terms allows; worst excess {excess.max():.3g}")
