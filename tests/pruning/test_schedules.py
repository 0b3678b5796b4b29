"""pruning.schedules: Zhu & Gupta's cubic schedule with TFMOT PolynomialDecay semantics."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pruning.schedules import PolynomialDecay, cubic_sparsity, n_to_prune_now


def test_cubic_schedule_hand_values():
    # s_t = 0.9 + (0 - 0.9) * (1 - 50/100)^3 = 0.9 - 0.1125
    assert cubic_sparsity(60, 0.0, 0.9, 10, 4, 25) == pytest.approx(0.7875)
    schedule = PolynomialDecay(0.0, 0.9, begin_step=10, end_step=110, frequency=25)
    assert schedule(60) == (True, pytest.approx(0.7875))
    assert schedule(61) == (False, pytest.approx(0.9 - 0.9 * 0.49**3))
    assert schedule(10) == (True, 0.0) and schedule(110) == (True, pytest.approx(0.9))
    assert schedule(135) == (False, pytest.approx(0.9)) and schedule(0) == (False, 0.0)


def test_sparsity_in_force_updates_only_every_frequency_steps_and_is_constant_after_end():
    schedule = PolynomialDecay(0.5, 0.9, begin_step=10, end_step=110, frequency=25)
    steps = np.arange(0, 200)
    in_force = schedule.sparsity_in_force(steps)
    assert np.all(in_force[:10] == 0)                                  # no masks before begin_step
    changes = steps[1:][np.diff(in_force) != 0]
    assert changes.tolist() == [10, 35, 60, 85, 110]
    assert np.all(in_force[110:] == pytest.approx(0.9))
    assert schedule.should_prune(steps).sum() == 5


def test_final_sparsity_is_not_reached_when_the_range_is_not_a_multiple_of_frequency():
    schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=10, frequency=4)
    assert schedule.last_pruning_step(100) == 8
    assert schedule.sparsity_in_force(100) == pytest.approx(0.8 - 0.8 * 0.2**3)


@st.composite
def schedules(draw):
    s_i = draw(st.floats(0, 0.99))
    s_f = draw(st.floats(s_i, 0.99))
    begin = draw(st.integers(0, 50))
    return PolynomialDecay(s_i, s_f, begin, begin + draw(st.integers(1, 200)),
                           frequency=draw(st.integers(1, 30)))


@given(schedules())
def test_cubic_schedule_is_monotone_and_hits_its_endpoints(schedule):
    steps = np.arange(schedule.begin_step, schedule.end_step + 1)
    target = schedule.target_sparsity(steps)
    assert np.all(np.diff(target) >= -1e-12)
    assert target[0] == pytest.approx(schedule.initial_sparsity)
    assert target[-1] == pytest.approx(schedule.final_sparsity)
    in_force = schedule.sparsity_in_force(np.arange(0, schedule.end_step + 50))
    assert np.all(np.diff(in_force[schedule.begin_step:]) >= -1e-12)
    assert np.all(in_force <= schedule.final_sparsity + 1e-12)


@given(st.floats(0, 1), st.integers(1, 1000), st.data())
def test_n_to_prune_now_reaches_the_target_count(sparsity, n_total, data):
    n_unpruned = data.draw(st.integers(0, n_total))
    n = n_to_prune_now(sparsity, n_total, n_unpruned)
    assert 0 <= n <= n_unpruned
    assert n_total - (n_unpruned - n) == max(n_total - n_unpruned, round(sparsity * n_total))


@pytest.mark.parametrize("kwargs, match", [
    ({"initial_sparsity": 1.0}, "initial_sparsity"), ({"final_sparsity": -0.1}, "final_sparsity"),
    ({"begin_step": -1}, "begin_step"), ({"end_step": 5}, "end_step: expected an int >= 6"),
    ({"frequency": 0}, "frequency"), ({"power": 0}, "power")])
def test_bad_schedule_arguments_raise_clear_errors(kwargs, match):
    args = {"initial_sparsity": 0.0, "final_sparsity": 0.5, "begin_step": 5, "end_step": 50, **kwargs}
    with pytest.raises(ValueError, match=match):
        PolynomialDecay(**args)
    with pytest.raises(ValueError, match="n: expected an int >= 1"):
        cubic_sparsity(0, 0.0, 0.5, 0, 0, 1)
