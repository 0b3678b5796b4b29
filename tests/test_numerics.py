"""The reassociation bound of tests/numerics.py admits every reordering of a sum and little more."""
import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tests.numerics import assert_reassociation_close, reassociation_bound


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40), st.randoms(use_true_random=False))
def test_any_order_of_a_float64_sum_lies_within_the_reassociation_bound(terms, random):
    shuffled = list(terms)
    random.shuffle(shuffled)
    forward, backward = sum(terms), 0.0
    for t in shuffled:
        backward += t
    assert_reassociation_close(np.array([forward]), np.array([backward]),
                               np.array([sum(abs(t) for t in terms)]), len(terms))
    assert abs(forward - math.fsum(terms)) <= reassociation_bound(sum(abs(t) for t in terms), len(terms),
                                                                  np.float64) / 2 * 1.01


def test_a_difference_larger_than_reassociation_is_caught():
    bound = reassociation_bound(np.array([12.0]), 5, np.float64)
    assert 0 < bound[0] < 1e-13
    try:
        assert_reassociation_close(np.array([12.0 + 1e-12]), np.array([12.0]), np.array([12.0]), 5)
    except AssertionError:
        return
    raise AssertionError("a 1e-12 difference on 12.0 over 5 terms passed")
