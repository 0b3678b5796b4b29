"""The gradual pruning schedule of Zhu & Gupta (2017).

M. Zhu and S. Gupta, "To prune, or not to prune: exploring the efficacy of
pruning for model compression", arXiv:1710.01878, Eq. 1:

    s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt))^3,
    for t in {t0, t0 + dt, ..., t0 + n * dt},

starting at sparsity s_i at step t0 and reaching s_f after n pruning steps
spaced dt apart: the network is pruned quickly while it is redundant and more
gently as few weights are left.

``PolynomialDecay`` follows the semantics of TensorFlow Model Optimization's
``tfmot.sparsity.keras.PolynomialDecay(initial_sparsity, final_sparsity,
begin_step, end_step, power=3, frequency=100)``, where
``begin_step = t0``, ``end_step = t0 + n * dt`` and ``frequency = dt``:

- ``schedule(step)`` returns ``(should_prune, sparsity)``: ``sparsity`` is the
  polynomial with (t - t0) / (n dt) clipped to [0, 1], and ``should_prune`` is
  True only on steps begin_step <= step <= end_step with
  (step - begin_step) % frequency == 0. Masks change only on those steps.
- ``sparsity_in_force(step)`` is the sparsity of the masks after that step's
  update: 0 before begin_step (no pruning yet, as in TFMOT), then the value at
  the last pruning step, constant after end_step. When
  (end_step - begin_step) is not a multiple of ``frequency`` the last pruning
  step falls before end_step and, as in TFMOT, ``final_sparsity`` is never
  quite reached.

Sparsity here is the fraction of *all* entries of a weight that are zero (not
of the unpruned ones, unlike ``amount`` in ``pruning.masks``); use
``n_to_prune_now`` to convert.
"""
import numbers

import numpy as np


def cubic_sparsity(t, s_i, s_f, t0, n, dt):
    """Zhu & Gupta Eq. 1 (GMP step 2) for step(s) ``t``, clipped to s_i before t0 and s_f after t0 + n dt.

    Parameters
    ----------
    t : int or ndarray of int
    s_i, s_f : float in [0, 1]
        Initial and final sparsity.
    t0 : int
        First pruning step.
    n : int >= 1
        Number of pruning steps.
    dt : int >= 1
        Pruning frequency in steps.

    Returns
    -------
    float or ndarray of float, shaped like ``t``.
    """
    _check_int(n, "n", 1)
    _check_int(dt, "dt", 1)
    _check_int(t0, "t0", 0)
    t = _check_steps(t, "t")
    for value, name in ((s_i, "s_i"), (s_f, "s_f")):
        _check_fraction(value, name, closed=True)
    progress = np.clip((np.asarray(t, dtype=np.float64) - t0) / (n * dt), 0.0, 1.0)
    s_t = s_f + (s_i - s_f) * (1.0 - progress) ** 3
    return float(s_t) if np.ndim(s_t) == 0 else s_t


class PolynomialDecay:
    """PolynomialDecay(initial_sparsity, final_sparsity, begin_step, end_step, power=3, frequency=100).

    Parameters
    ----------
    initial_sparsity, final_sparsity : float in [0, 1)
        As in TFMOT (a sparsity of 1 would remove every weight).
    begin_step : int >= 0
    end_step : int > begin_step
        TFMOT allows end_step == begin_step and then divides by zero; here it
        is an error.
    power : float > 0
        3 gives Zhu & Gupta's cubic schedule.
    frequency : int >= 1
        Masks are updated every ``frequency`` steps from ``begin_step``.
    """

    def __init__(self, initial_sparsity, final_sparsity, begin_step, end_step, power=3, frequency=100):
        _check_fraction(initial_sparsity, "initial_sparsity", closed=False)
        _check_fraction(final_sparsity, "final_sparsity", closed=False)
        _check_int(begin_step, "begin_step", 0)
        _check_int(end_step, "end_step", begin_step + 1)
        _check_int(frequency, "frequency", 1)
        if not (isinstance(power, numbers.Real) and np.isfinite(power) and power > 0):
            raise ValueError(f"power: expected a positive finite number (3 for the cubic schedule), found {power!r}")
        self.initial_sparsity, self.final_sparsity = float(initial_sparsity), float(final_sparsity)
        self.begin_step, self.end_step = int(begin_step), int(end_step)
        self.power, self.frequency = power, int(frequency)

    def target_sparsity(self, step):
        """The polynomial at ``step`` (int or array), progress clipped to [0, 1]."""
        step = _check_steps(step)
        progress = np.clip((step - self.begin_step) / (self.end_step - self.begin_step), 0.0, 1.0)
        s = self.final_sparsity + (self.initial_sparsity - self.final_sparsity) * (1.0 - progress) ** self.power
        return float(s) if np.ndim(s) == 0 else s

    def should_prune(self, step):
        """True on the steps where masks are updated (int or array)."""
        step = _check_steps(step)
        in_range = (step >= self.begin_step) & (step <= self.end_step)
        prune = in_range & ((step - self.begin_step) % self.frequency == 0)
        return bool(prune) if np.ndim(prune) == 0 else prune

    def __call__(self, step):
        """(should_prune, sparsity) at ``step``, as TFMOT's schedule returns."""
        return self.should_prune(step), self.target_sparsity(step)

    def last_pruning_step(self, step):
        """The latest pruning step <= ``step`` (int or array); -1 before ``begin_step``."""
        step = np.minimum(_check_steps(step), self.end_step)
        last = self.begin_step + (step - self.begin_step) // self.frequency * self.frequency
        last = np.where(step >= self.begin_step, last, -1)
        return int(last) if np.ndim(last) == 0 else last

    def sparsity_in_force(self, step):
        """Sparsity of the masks after the update at ``step``: 0 before begin_step, then piecewise constant."""
        last = np.asarray(self.last_pruning_step(step))
        s = np.where(last >= 0, self.target_sparsity(np.maximum(last, self.begin_step)), 0.0)
        return float(s) if np.ndim(s) == 0 else s

    def get_config(self):
        """The constructor arguments (JSON-serialisable), as in TFMOT."""
        return {"initial_sparsity": self.initial_sparsity, "final_sparsity": self.final_sparsity,
                "begin_step": self.begin_step, "end_step": self.end_step, "power": self.power,
                "frequency": self.frequency}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"PolynomialDecay({args})"


def n_to_prune_now(sparsity, n_total, n_unpruned):
    """Entries to remove from ``n_unpruned`` of ``n_total`` so that a fraction ``sparsity`` is zero.

    Returns ``max(0, round(sparsity * n_total) - (n_total - n_unpruned))``, an
    int count for ``pruning.masks`` (which never revives a weight).
    """
    _check_fraction(sparsity, "sparsity", closed=True)
    _check_int(n_total, "n_total", 0)
    _check_int(n_unpruned, "n_unpruned", 0)
    if not 0 <= n_unpruned <= n_total:
        raise ValueError(f"n_unpruned: expected 0 <= n_unpruned <= n_total = {n_total}, found {n_unpruned}")
    return max(0, int(round(sparsity * n_total)) - (n_total - n_unpruned))


def _check_int(value, name, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, found {value!r}")


def _check_steps(step, name="step"):
    """``step`` as an int array (0-d for an int): training steps are ints >= 0."""
    if isinstance(step, (bool, np.bool_)) or isinstance(step, (str, bytes)) or step is None:
        raise TypeError(f"{name}: expected an int step >= 0 or an array of them, found {step!r}")
    array = np.asarray(step)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name}: expected an int step >= 0 or an array of them, found dtype {array.dtype}")
    if not (np.all(np.isfinite(array)) and np.all(np.mod(array, 1) == 0) and np.all(array >= 0)):
        raise ValueError(f"{name}: expected int steps >= 0, found {step!r}; count steps from 0")
    return array.astype(np.int64)


def _check_fraction(value, name, closed):
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and (
        0 <= value <= 1 if closed else 0 <= value < 1)
    if not ok:
        interval = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"{name}: expected a sparsity in {interval}, found {value!r}")
