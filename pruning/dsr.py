"""Dynamic Sparse Reparameterization (DSR) and its baselines on a small CNN.

H. Mostafa and X. Wang, "Parameter efficient training of deep convolutional
neural networks by dynamic sparse reparameterization", ICML 2019.

The network is sparse from the first step and stays at a fixed number of
active weights; every ``rewire_period`` iterations its topology moves:

    Alg. 1 (DSR), once per rewiring, with a global adaptive threshold H
    1. prune: in every sparse layer i remove the active weights with |w| < H;
       K_i removed, R_i surviving; K = sum_i K_i
    2. reallocate: G_i = round(K * R_i / sum_j R_j) free parameters go to
       layer i (layers whose weights survive grow)
    3. regrow: activate G_i connections of layer i chosen uniformly at random
       among its zero positions, excluding those just pruned; new weights = 0
    4. adapt H toward N_p pruned weights per rewiring:
       H = H / 2 if K > 1.1 N_p;  H = 2 H if K < 0.9 N_p

The total number of active weights is invariant (steps 1 and 3 remove and add
K each). Optimizer state: a pruned weight's moments are dropped and a
regrown weight's start at 0 (``pruning.sparse_layers``).

Baselines, each a callback object for ``nnlite.train.fit`` (``on_step`` /
``on_epoch_end``) over the same dynamic layers:

- ``Static``: a fixed random sparse topology (no rewiring).
- ``SET`` (Mocanu et al. 2018): once per epoch each layer drops the fraction
  ``zeta`` of its positive and of its negative active weights closest to zero
  and regrows as many at random among its inactive positions.
- ``RigL`` (Evci et al. 2020, ``pruning.rigl``): drop by magnitude, regrow
  where the dense gradient is largest, every ΔT steps with a cosine-decayed
  fraction, stopping at 75% of training.
- ``GMP`` (Zhu & Gupta 2017): start dense and prune each layer by magnitude
  to the cubic schedule s_t = s_f + (s_i - s_f)(1 - (t - t0)/(n dt))^3
  (``pruning.schedules.cubic_sparsity``).

The paper's training schedule is part of the method (Sec. 4, WRN-28-2 on
CIFAR-10, 200 epochs). A run keeps its shape in proportion to its length;
``RECIPES`` names the two settings and the command's ``--recipe`` picks one:

- ``"paper"``: the rewiring period doubles (100 -> 200 -> 400 -> 800
  iterations) at 0, 12.5, 40 and 70% of training (epochs 0, 25, 80, 140 of
  200) and rewiring stops at 95% (epoch 190); the first convolution and the
  output layer stay dense; SGD with momentum 0.9, learning rate 0.1 x 0.2 at
  30, 60 and 80% of training (epochs 60, 120, 160), weight decay 5e-4.
- ``"seed-study"``: # Deviation from paper: the seed CNN study's setting:
  Adam at a constant learning rate 1e-3, a constant rewiring period that
  never stops, and every layer sparse, first and last included.

Each of these is also an option of its own (``--rewire-schedule``,
``--dense-layers``, ``--optimizer``, ``--lr-schedule``, ``--momentum``,
``--weight-decay``, ``--lr``), so the seed study's setting can differ from the
paper in one respect at a time.

The experiment (``python -m pruning dsr``) trains one small CNN, dense vs
static vs SET vs DSR vs RigL vs GMP at 80% and 90% sparsity. All methods at
one ``--seed`` share the initial weights and the minibatch order: each seed
spawns independent streams (``seed_streams``) for the initial weights, the
data order, the initial sparse topologies and the regrowth, and no method
draws from another's stream. ``--seeds N`` repeats the experiment over N
seeds and reports each method's mean with a 95% t interval and its paired
difference to dense. ``--seed-study`` tests the seed CNN study's claim (a
Keras CNN at 70.42% on CIFAR-10 after 10 epochs, the dynamically pruned CNN
at 77.01%) with its design as closely as the data allows: only a 4,000-image
training / 1,000-image test subset of CIFAR-10 exists here.

Choices the paper leaves open (each a named option):

- ``reallocate(rounding=)``: the pseudocode's per-layer ``round`` does not
  conserve K; the default uses largest remainders so that sum G_i = K.
- ``reallocate``: a layer cannot regrow more than its free positions; the
  excess goes to the other layers in proportion to their survivors.
- ``DSR(n_prune_target=)``: the paper gives N_p as a count per network; a
  float below 1 here is a fraction of the active weights (default 2%).
- ``layer_sparsities(distribution=)``: the initial split of the budget over
  layers, uniform or Erdős–Rényi (the experiment's default, from SET).
- ``--rewire-period`` under ``"paper"`` is the first period (the paper's
  100 iterations): a short run therefore rewires far fewer times than the
  paper's 100,000-iteration WRN run; only the fractions are scaled.
"""
import json
from pathlib import Path

import numpy as np

from nnlite._checks import (check_choice, check_float_array, check_int, check_positive_float, check_rng,
                             check_shape, check_subset_size)
from nnlite.cli import (count_or_fraction, non_negative_int, option_names, positive_float, positive_int,
                        remove_stale_temp_files, resolve_defaults, save_figure, write_text_atomic)
from nnlite.cli import sparsity as sparsity_option
from pruning import masks as pmasks
from pruning.sparse_layers import check_sparsity, dynamic_layers, optimizer_state
from pruning.schedules import cubic_sparsity


def _is_real(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and bool(np.isfinite(value))


def _is_whole(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


# -- DSR step 1 ------------------------------------------------------------------
def prune_below_threshold(weights, active, H):
    """Masks without the active weights of magnitude below ``H``.

    Parameters
    ----------
    weights : list of ndarray, the i-th of shape (d_in_i, d_out_i) (dense values)
    active : list of bool ndarray, the current topologies
    H : float, the global threshold

    Returns
    -------
    survivors : list of bool ndarray (active and |w| >= H)
    pruned : list of bool ndarray (active and |w| < H)
    """
    pruned = [m & (np.abs(W) < H) for W, m in zip(weights, active)]
    return [m & ~p for m, p in zip(active, pruned)], pruned


# -- DSR step 2 ------------------------------------------------------------------
def reallocate(K, R, capacity, rounding="largest_remainder"):
    """G_i, the freed parameters given to each layer: about K * R_i / sum_j R_j.

    Parameters
    ----------
    K : int >= 0, parameters freed by this rewiring (sum of K_i). K may
        exceed sum(capacity) (a layer denser than half frees more than it can
        regrow): the surplus is not regrown, by design (see Returns).
    R : sequence of int, surviving weights per layer
    capacity : sequence of int, positions each layer can regrow into
        (its zeros that were not just pruned)
    rounding : {"largest_remainder", "paper"}
        "paper" rounds each share on its own, as the pseudocode writes it:
        sum_i G_i may then differ from K by up to half the number of layers,
        and the total of active weights drifts. "largest_remainder" (default)
        floors every share and gives the leftover units one each to the layers
        with the largest fractional parts (ties: earlier layer), so that
        sum_i G_i = K exactly.

    Returns
    -------
    G : ndarray of int, G_i <= capacity_i; sum(G) = min(K, sum(capacity)) for
        "largest_remainder".
    """
    K, R, capacity = check_int(K, "K", minimum=0), _check_counts(R, "R", float), _check_counts(capacity, "capacity", int)
    if len(capacity) != len(R):
        raise ValueError(f"capacity: expected {len(R)} entries (one per layer, as R), found {len(capacity)}")
    # Deviation from paper: with no survivors anywhere, shares follow capacity.
    weights = R if R.sum() > 0 else capacity.astype(np.float64)
    if K <= 0 or weights.sum() == 0:
        return np.zeros(len(R), dtype=np.int64)
    share = K * weights / weights.sum()
    if rounding == "paper":
        return np.minimum(np.round(share).astype(np.int64), capacity)
    if rounding != "largest_remainder":
        raise ValueError(f"rounding: expected 'largest_remainder' or 'paper', found {rounding!r}")
    G = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - G), kind="stable")
    G[order[:K - G.sum()]] += 1
    # Deviation from paper: a layer cannot regrow more connections than it has
    # free positions; the excess goes to the other layers, again by survivors.
    excess = np.maximum(G - capacity, 0).sum()
    G = np.minimum(G, capacity)
    while excess and (capacity > G).any():
        room = capacity - G
        extra = reallocate(int(min(excess, room.sum())), np.where(room > 0, weights + 1e-12, 0), room)
        G, excess = G + extra, excess - extra.sum()
    return G


def _check_counts(values, name, kind):
    """``values`` as a 1-d, non-empty array of finite numbers >= 0 (whole numbers if ``kind`` is int)."""
    array = np.asarray(values) if isinstance(values, (np.ndarray, list, tuple)) else values
    if getattr(array, "dtype", None) is not None and array.dtype.kind in "iu":
        array = array.astype(np.float64)  # exact for counts < 2**53 (check_float_array would use float32)
    array = check_float_array(array, name, ndim=1).astype(np.float64, copy=False)
    if array.min() < 0 or (kind is int and np.any(array != np.round(array))):
        raise ValueError(f"{name}: expected one {'whole ' if kind is int else ''}count >= 0 per layer, "
                         f"found {array.tolist()}")
    return array if kind is float else array.astype(np.int64)


# -- DSR step 3 ------------------------------------------------------------------
def regrow(active, just_pruned, n_grow, rng):
    """Mask with ``n_grow`` more connections, uniformly among positions that
    are neither active nor ``just_pruned``."""
    candidates = np.flatnonzero(~active & ~just_pruned)
    grown = active.copy()
    grown.ravel()[rng.choice(candidates, size=n_grow, replace=False)] = True
    return grown


# -- DSR step 4 ------------------------------------------------------------------
def adapt_threshold(H, K, n_prune_target):
    """H / 2 if K > 1.1 N_p; 2 H if K < 0.9 N_p; else H."""
    H, K = check_positive_float(H, "H"), check_int(K, "K", minimum=0)
    n_prune_target = check_positive_float(n_prune_target, "n_prune_target", example=0.02)
    if K > 1.1 * n_prune_target:
        return H / 2
    if K < 0.9 * n_prune_target:
        return 2 * H
    return H


def constant_period(period):
    """A rewiring period schedule: ``period`` iterations, always."""
    period = check_int(period, "period")
    return lambda iteration: period


def doubling_period(period, every):
    """A rewiring period schedule: ``period`` iterations, doubled every ``every`` iterations."""
    period, every = check_int(period, "period"), check_int(every, "every")
    return lambda iteration: period * 2 ** (iteration // every)


#: Fractions of training at which the paper's period doubles (epochs 25, 80, 140 of 200).
PAPER_PERIOD_FRACTIONS = (0.125, 0.4, 0.7)
#: Fraction of training after which the paper stops rewiring (epoch 190 of 200).
PAPER_STOP_FRACTION = 0.95
#: Fractions of training at which the paper multiplies the learning rate by 0.2 (epochs 60, 120, 160 of 200).
PAPER_LR_MILESTONES = (0.3, 0.6, 0.8)
PAPER_LR_FACTOR = 0.2


def paper_period(period, n_steps):
    """The paper's rewiring period schedule scaled to a run of ``n_steps``
    iterations: ``period``, doubled at each of ``PAPER_PERIOD_FRACTIONS``
    (100 -> 200 -> 400 -> 800 for the paper's period of 100)."""
    boundaries = [round(f * n_steps) for f in PAPER_PERIOD_FRACTIONS]
    return lambda iteration: period * 2 ** sum(iteration >= b for b in boundaries)


def paper_stop_iteration(n_steps):
    """The iteration from which the paper's schedule no longer rewires (95% of training)."""
    return round(PAPER_STOP_FRACTION * n_steps)


class StepDecay:
    """StepDecay(lr, n_steps, milestones=PAPER_LR_MILESTONES, factor=0.2): an
    ``on_step`` callback that sets ``optimizer.lr`` to lr x factor^k after the
    k-th milestone (a fraction of ``n_steps``) has passed."""

    def __init__(self, lr, n_steps, milestones=PAPER_LR_MILESTONES, factor=PAPER_LR_FACTOR):
        self.lr, self.factor, self.iteration = float(lr), float(factor), 0
        self.boundaries = [round(m * n_steps) for m in milestones]

    def lr_at(self, iteration):
        """The learning rate of the step after ``iteration`` steps."""
        return self.lr * self.factor ** sum(iteration >= b for b in self.boundaries)

    def on_step(self, model, optimizer):
        self.iteration += 1
        optimizer.lr = self.lr_at(self.iteration)


def chain(*callbacks):
    """One ``fit`` hook calling each non-None hook in turn (None if there is none)."""
    hooks = [c for c in callbacks if c is not None]
    if not hooks:
        return None

    def call_each(*args):
        for hook in hooks:
            hook(*args)
    return call_each


class DSR:
    """DSR(H=0.001, n_prune_target=0.02, rewire_period=100, rounding="largest_remainder", rng=None, stop_iteration=None).

    Parameters
    ----------
    H : float
        Initial global threshold (the paper's H(0) = 0.001).
    n_prune_target : int or float
        N_p, the number of weights a rewiring should prune; a float in (0, 1)
        is a fraction of the model's active weights (resolved at the first
        rewiring).
    rewire_period : int or callable
        Iterations between rewirings, or a schedule ``iteration -> period``
        (``constant_period``, ``doubling_period``).
    rounding : see ``reallocate``.
    rng : None, int or np.random.Generator (regrowth positions)
    stop_iteration : int or None
        No rewiring from this iteration on (the paper stops at epoch 190 of
        200: ``paper_stop_iteration``). # Deviation from paper: None (the
        seed study's setting) rewires to the end.

    Attributes
    ----------
    history_ : list of dict, one per rewiring: iteration, H (before adapting),
        K, G (per layer), n_active (per layer, after).
    """

    def __init__(self, H=0.001, n_prune_target=0.02, rewire_period=100, rounding="largest_remainder", rng=None,
                 stop_iteration=None):
        if not (_is_real(H) and H > 0):
            raise ValueError(f"H: expected a finite positive threshold, found {H!r}; the paper uses 0.001")
        if not (_is_real(n_prune_target) and (0 < n_prune_target < 1 or n_prune_target >= 1
                                               and n_prune_target == int(n_prune_target))):
            raise ValueError(f"n_prune_target: expected a fraction in (0, 1) or a whole count >= 1, "
                             f"found {n_prune_target!r}")
        if not (callable(rewire_period) or _is_whole(rewire_period) and rewire_period >= 1):
            raise ValueError(f"rewire_period: expected an int >= 1 (iterations) or a schedule, "
                             f"found {rewire_period!r}")
        if rounding not in ("largest_remainder", "paper"):
            raise ValueError(f"rounding: expected 'largest_remainder' or 'paper', found {rounding!r}")
        self.H, self.n_prune_target, self.rounding = float(H), n_prune_target, rounding
        self.period = rewire_period if callable(rewire_period) else constant_period(int(rewire_period))
        if stop_iteration is not None and not (_is_whole(stop_iteration) and stop_iteration >= 0):
            raise ValueError(f"stop_iteration: expected None or an int >= 0 (iterations), found {stop_iteration!r}")
        self.rng, self.iteration, self.next_rewire, self.history_ = check_rng(rng), 0, None, []
        self.stop_iteration = stop_iteration

    def on_step(self, model, optimizer):
        self.iteration += 1
        if self.stop_iteration is not None and self.iteration >= self.stop_iteration:
            return  # the paper's schedule: no rewiring near the end of training (DSR step 5)
        if self.next_rewire is None:
            self.next_rewire = self.period(0)
        if self.iteration >= self.next_rewire:
            self.rewire_inplace(model, optimizer)  # DSR step 5: rewire once per period
            self.next_rewire = self.iteration + self.period(self.iteration)

    def rewire_inplace(self, model, optimizer=None):
        """DSR steps 1-4 once over the model's dynamic layers (topologies, H, optimizer state)."""
        layers = dynamic_layers(model)
        active = [layer.mask for layer in layers]
        n_p = self.n_prune_target
        if n_p < 1:
            n_p = max(1, round(n_p * sum(int(m.sum()) for m in active)))
        # DSR step 1: prune |w| < H; K_i pruned, R_i surviving
        survivors, pruned = prune_below_threshold([layer.dense_weight() for layer in layers], active, self.H)
        K_i, R_i = [int(p.sum()) for p in pruned], [int(s.sum()) for s in survivors]
        K = sum(K_i)
        # DSR step 2: G_i = round(K R_i / sum_j R_j)
        capacity = [m.size - r - k for m, r, k in zip(active, R_i, K_i)]
        G = reallocate(K, R_i, capacity, self.rounding)
        # DSR step 3: regrow G_i among zeros, not the ones just pruned, at 0
        for layer, s, p, g in zip(layers, survivors, pruned, G):
            layer.set_topology_inplace(regrow(s, p, int(g), self.rng), optimizer_state(model, optimizer, layer))
        self.history_.append({"iteration": self.iteration, "H": self.H, "K": K, "G": [int(g) for g in G],
                              "n_active": [layer.n_active for layer in layers]})
        # DSR step 4: adapt H toward N_p
        self.H = adapt_threshold(self.H, K, n_p)


class Static:
    """A fixed random sparse topology: nothing happens during training."""

    def on_step(self, model, optimizer):
        pass


def set_survivors(W, active, zeta, removal="per_sign"):
    """The active weights SET keeps after removing a fraction ``zeta`` (SET steps 5-6).

    Parameters
    ----------
    W : ndarray (d_in, d_out), dense values; active : bool ndarray, same shape
    removal : {"per_sign", "magnitude"}
        "per_sign" (Mocanu et al. 2018, default): remove round(zeta * n_pos) of
        the positive active weights with the smallest values and
        round(zeta * n_neg) of the negative ones closest to zero; an active
        weight exactly 0 (no sign) is removed too, as the authors' code keeps
        only weights above a positive or below a negative threshold.
        "magnitude": # Deviation from paper: remove the fraction ``zeta`` of
        all active weights closest to zero, over both signs (this module's
        behaviour before the per-sign rule; ``magnitude_mask``).
    """
    if removal == "magnitude":
        return pmasks.magnitude_mask(W, zeta, active)
    if removal != "per_sign":
        raise ValueError(f"removal: expected 'per_sign' or 'magnitude', found {removal!r}")
    kept = active & (W != 0)
    for sign in (1, -1):
        side = (active & (sign * W > 0)).ravel()
        n_remove = int(round(zeta * side.sum()))
        order = np.argsort(np.where(side, np.abs(W).ravel(), np.inf), kind="stable")
        kept.ravel()[order[:n_remove]] = False
    return kept


class SET:
    """SET(zeta=0.3, regrow_init="zero", rng=None, removal="per_sign"): once
    per epoch (SET step 4: the epochs are ``nnlite.train.fit``'s), per
    layer, remove the fraction ``zeta`` of active weights closest to zero
    (``set_survivors``: of each sign separately, as in the paper, unless
    ``removal="magnitude"``) and regrow as many at random among the inactive
    positions.

    regrow_init : {"zero", "random"}
        # Deviation from paper: SET draws new weights from its initial
        # distribution ("random": N(0, std of the layer's active weights));
        # "zero" (default) starts them at 0 like DSR, so the two differ only
        # in where and how often they rewire.
    """

    def __init__(self, zeta=0.3, regrow_init="zero", rng=None, removal="per_sign"):
        if not (_is_real(zeta) and 0 < zeta < 1):
            raise ValueError(f"zeta: expected a fraction in (0, 1), found {zeta!r}")
        if regrow_init not in ("zero", "random"):
            raise ValueError(f"regrow_init: expected 'zero' or 'random', found {regrow_init!r}")
        if removal not in ("per_sign", "magnitude"):
            raise ValueError(f"removal: expected 'per_sign' or 'magnitude', found {removal!r}")
        # SET step 1: zeta (epsilon is the experiment's, through layer_sparsities)
        self.zeta, self.regrow_init, self.rng, self.removal = zeta, regrow_init, check_rng(rng), removal

    def on_epoch_end(self, model, optimizer, epoch):
        for layer in dynamic_layers(model):
            W, active = layer.dense_weight(), layer.mask
            kept = set_survivors(W, active, self.zeta, self.removal)   # SET steps 5-6
            n_grow = int(active.sum() - kept.sum())
            grown = regrow(kept, np.zeros_like(kept), n_grow, self.rng)   # SET step 7
            values = None
            if self.regrow_init == "random":
                std = float(W[kept].std()) if kept.any() else 0.01
                values = (self.rng.standard_normal(W.shape) * std).astype(W.dtype) * (grown & ~kept)
            layer.set_topology_inplace(grown, optimizer_state(model, optimizer, layer), grown_values=values)


class GMP:
    """GMP(final_sparsity, n_steps, begin_step=0, end_fraction=0.7, frequency=100).

    GMP step 1: the pruned layers are the model's dynamic layers, whose masks keep
    pruned weights out of the forward pass and the update.

    Gradual magnitude pruning, every layer to the same sparsity s_t of the
    cubic schedule (``pruning.schedules.cubic_sparsity``), from s_i = 0 at
    ``begin_step`` to ``final_sparsity`` at ``end_fraction`` of ``n_steps``,
    pruning every ``frequency`` iterations. Pruned weights never return.
    """

    def __init__(self, final_sparsity, n_steps, begin_step=0, end_fraction=0.7, frequency=100):
        self.final_sparsity = check_sparsity(final_sparsity, "final_sparsity")
        for name, value, low in (("n_steps", n_steps, 1), ("begin_step", begin_step, 0), ("frequency", frequency, 1)):
            if not (_is_whole(value) and value >= low):
                raise ValueError(f"{name}: expected an int >= {low} (iterations), found {value!r}")
        if not (_is_real(end_fraction) and 0 < end_fraction <= 1):
            raise ValueError(f"end_fraction: expected a fraction in (0, 1] of n_steps, found {end_fraction!r}")
        if begin_step >= end_fraction * n_steps:
            raise ValueError(f"begin_step: expected fewer than end_fraction * n_steps = {end_fraction * n_steps:g} "
                             f"iterations (pruning must start before it ends), found {begin_step}; lower begin_step")
        self.begin_step, self.frequency = int(begin_step), int(frequency)
        self.n_prunings = max(1, int(end_fraction * n_steps - begin_step) // self.frequency)
        self.iteration = 0

    def sparsity_at(self, t):
        return cubic_sparsity(t, 0.0, self.final_sparsity, self.begin_step, self.n_prunings, self.frequency)

    def on_step(self, model, optimizer):
        self.iteration += 1
        t = self.iteration - self.begin_step
        if t < 0 or t % self.frequency or t > self.n_prunings * self.frequency:
            return   # GMP step 4: an ordinary training step
        s_t = self.sparsity_at(self.iteration)   # GMP step 2
        for layer in dynamic_layers(model):
            if s_t > layer.sparsity:
                layer.set_sparsity_inplace(s_t, state=optimizer_state(model, optimizer, layer))   # GMP step 3


def layer_sparsities(shapes, sparsity, distribution="uniform"):
    """Per-layer sparsities whose active weights total round((1 - sparsity) * N).

    distribution : {"uniform", "erdos_renyi"}
        "uniform": every layer at ``sparsity``. "erdos_renyi" (Mocanu et al.
        2018, SET step 2): density_i = eps * (d_in_i + d_out_i) / (d_in_i * d_out_i),
        capped at 1 (the capped layers are dense and eps is solved again for
        the rest), so small layers keep more of their weights.
    """
    sparsity = check_sparsity(sparsity)
    if isinstance(shapes, (str, bytes)) or not hasattr(shapes, "__len__") or len(shapes) == 0:
        raise ValueError(f"shapes: expected a non-empty list of weight shapes such as [(784, 300), (300, 10)], "
                         f"found {shapes!r}")
    shapes = [check_shape(shape, f"shapes[{i}]", ndim=2) for i, shape in enumerate(shapes)]
    sizes = np.array([np.prod(s) for s in shapes], dtype=np.float64)
    if distribution == "uniform":
        return [sparsity] * len(shapes)
    if distribution != "erdos_renyi":
        raise ValueError(f"distribution: expected 'uniform' or 'erdos_renyi', found {distribution!r}")
    factor = np.array([(a + b) / (a * b) for a, b in shapes])
    budget, dense = (1 - sparsity) * sizes.sum(), np.zeros(len(shapes), dtype=bool)
    while True:
        eps = (budget - sizes[dense].sum()) / (factor[~dense] * sizes[~dense]).sum()
        density = np.where(dense, 1.0, eps * factor)
        if not (density > 1).any():
            break
        dense |= density > 1
    # a dense layer gets sparsity 0; keep every value strictly below 1
    return [float(min(max(1 - d, 0.0), 1 - 1e-9)) for d in density]


# ---------------------------------------------------------------------------
# The experiment: python -m pruning dsr
# ---------------------------------------------------------------------------
METHODS = ("dense", "static", "set", "dsr", "rigl", "gmp")
CIFAR_NOTE = ("CIFAR-10: only a 4,000-image training / 1,000-image test subset of the official binary "
              "files exists in shared/data/cifar-10; these results are on that subset, not the full dataset")
#: The layers kept dense: "none" (every layer sparse, the seed study) or "ends" (the first convolution and the
#: output layer, as in the paper).
DENSE_LAYERS = ("none", "ends")
#: The two named settings of the command (``--recipe``); see the module docstring.
RECIPES = {
    "paper": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "lr_schedule": "paper",
              "rewire_schedule": "paper", "dense_layers": "ends"},
    # Deviation from paper: Adam at a constant rate, a constant never-stopping period, every layer sparse.
    "seed-study": {"optimizer": "adam", "lr": 1e-3, "momentum": 0.0, "weight_decay": 0.0, "lr_schedule": "constant",
                   "rewire_schedule": "constant", "dense_layers": "none"},
}
#: The independent random streams of one seed, in ``SeedSequence.spawn`` order.
STREAMS = ("init", "data_order", "topology", "regrowth")


def seed_streams(seed):
    """One seed's independent generators: ``{"init", "data_order", "topology", "regrowth"}``.

    Spawned from ``np.random.SeedSequence(seed)``: the initial weights, the
    minibatch order, the initial sparse topologies and the methods' own
    draws (DSR/SET regrowth positions, RigL's gradient batches) never share a
    stream, so every method at one seed starts from the same weights and sees
    the same minibatches.
    """
    if not _is_whole(seed) or seed < 0:
        raise ValueError(f"seed: expected an int >= 0, found {seed!r}")
    children = np.random.SeedSequence(int(seed)).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}


def load_dataset(name, data_dir=None, n_train=None, n_validation=None, rng=None, validation="split"):
    """NHWC float32 images in [0, 1] and labels, split into train/validation/test.

    validation : {"split", "test"}
        "split": hold out ``n_validation`` (default 1/12) of the training
        images. "test": train on every training image and log the test set as
        the validation data (as a Keras script passing ``validation_data=
        (x_test, y_test)`` does; nothing is selected on it).

    Returns a dict with X, y, X_val, y_val, X_test, y_test and ``note``.
    """
    import warnings

    from nnlite import data
    rng = check_rng(rng)
    check_choice(name, "name", ("fashion-mnist", "cifar10"))
    for option, value in (("n_train", n_train), ("n_validation", n_validation)):
        if value is not None:
            check_int(value, option)
    if validation not in ("split", "test"):
        raise ValueError(f"validation: expected 'split' or 'test', found {validation!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", getattr(data, "SubsetWarning", UserWarning))
        loader = {"fashion-mnist": data.load_fashion_mnist, "cifar10": data.load_cifar10}[name]
        (X, y), (X_test, y_test) = loader("train", data_dir), loader("test", data_dir)
    if name == "cifar10":
        y = y[:len(X)]  # the labels file holds all 50,000 labels; the images are a prefix
    check_subset_size(n_train, "n_train", len(X), f"the {name} training set")
    if n_train is not None and n_train < len(X):
        keep = np.sort(rng.choice(len(X), n_train, replace=False))
        X, y = X[keep], y[keep]
    images = lambda A: data.scale_255(A).reshape(len(A), A.shape[1], A.shape[2], -1)  # noqa: E731
    if validation == "test":
        X, X_val, y_val = images(X), images(X_test), y_test
    else:
        n_validation = n_validation or max(1, len(X) // 12)
        X, X_val, y, y_val = data.train_validation_split(images(X), y, rng=rng, n_validation=n_validation)
    note = CIFAR_NOTE if name == "cifar10" else f"{name}: full test set, " + (
        f"a random {n_train:,}-image training subset" if n_train is not None and n_train < 60000
        else "full training set")
    return {"X": X, "y": y, "X_val": X_val, "y_val": y_val, "X_test": images(X_test), "y_test": y_test,
            "note": note + ("; validation curves = the test set" if validation == "test" else "")}


def layer_plan(method, shapes, sparsity, distribution="erdos_renyi", dense_layers="none"):
    """Each weight layer's initial sparsity, None for a layer kept dense (a plain layer).

    dense_layers : {"none", "ends"}
        "ends" (the paper): the first convolution and the output layer are
        plain dense layers and ``sparsity`` is the sparsity of the others.
        # Deviation from paper: "none" (the seed study) makes every layer
        sparse and spreads ``sparsity`` over all of them.
    """
    if dense_layers not in DENSE_LAYERS:
        raise ValueError(f"dense_layers: expected one of {DENSE_LAYERS}, found {dense_layers!r}")
    kept = {0, len(shapes) - 1} if dense_layers == "ends" else set()
    if method == "dense":
        return [None] * len(shapes)
    sparse_shapes = [shape for i, shape in enumerate(shapes) if i not in kept]
    per_sparse = iter([0.0] * len(sparse_shapes) if method == "gmp"
                      else layer_sparsities(sparse_shapes, sparsity, distribution))
    return [None if i in kept else next(per_sparse) for i in range(len(shapes))]


def build_model(method, input_shape, n_classes, sparsity, *, channels=(16, 32), hidden=128,
                distribution="erdos_renyi", storage="dense", dense_layers="none", rng=None, topology_rng=None):
    """The experiment's CNN: two conv blocks and a dense head (``nnlite.models.small_cnn``).

    "dense" uses plain layers; "gmp" starts from dynamic layers at sparsity 0;
    the sparse-from-scratch methods start at the per-layer sparsities of
    ``layer_plan`` (``layer_sparsities(..., sparsity, distribution)``).
    ``rng`` draws the initial weights and ``topology_rng`` (default: ``rng``)
    the sparse topologies: with two streams every method's initial weights
    are the dense model's, masked.
    """
    from nnlite.layers import Conv2d, Dense
    from nnlite.models import small_cnn, small_cnn_weight_shapes
    from pruning.sparse_layers import DynamicConv2d, DynamicLinear, storage_for
    rng = check_rng(rng)
    topology_rng = rng if topology_rng is None else check_rng(topology_rng)
    check_choice(method, "method", METHODS)
    check_shape(input_shape, "input_shape", ndim=3)
    check_int(n_classes, "n_classes")
    check_int(hidden, "hidden")
    check_shape(channels, "channels")
    plan = iter(layer_plan(method, small_cnn_weight_shapes(input_shape, n_classes, channels, hidden), sparsity,
                           distribution, dense_layers))

    def layer(plain, dynamic):
        def make(*a, **k):
            s = next(plan)
            if s is None:
                return plain(*a, **k)
            # storage "auto": chosen once per layer, at the sparsity it trains at (gmp's target)
            chosen = storage if storage != "auto" else storage_for(sparsity if method == "gmp" else s, dynamic.kind)
            return dynamic(*a, sparsity=s, storage=chosen, topology_rng=topology_rng, **k)
        return make
    return small_cnn(input_shape, n_classes, channels, hidden, rng=rng, conv_layer=layer(Conv2d, DynamicConv2d),
                     dense_layer=layer(Dense, DynamicLinear))


def make_method(method, sparsity, n_steps, rng, rewire_period=100, n_prune_target=0.02, *,
                rewire_schedule="constant", set_removal="per_sign", data=None, batch_size=128):
    """The callback object driving ``method`` during ``nnlite.train.fit`` (None for dense).

    rewire_schedule : {"constant", "paper"}
        DSR's period: "paper" doubles it at ``PAPER_PERIOD_FRACTIONS`` of
        ``n_steps`` and stops at ``PAPER_STOP_FRACTION``. # Deviation from
        paper: "constant" (the seed study) keeps ``rewire_period`` to the end.
    set_removal : see ``set_survivors``.
    data, batch_size : the training set and batch size (RigL's gradient batches).
    """
    from pruning.rigl import RigL
    check_choice(method, "method", METHODS)
    sparsity, n_steps = check_sparsity(sparsity), check_int(n_steps, "n_steps")
    if rewire_schedule not in ("constant", "paper"):
        raise ValueError(f"rewire_schedule: expected 'constant' or 'paper', found {rewire_schedule!r}")
    if method == "dense":
        return None
    if method == "static":
        return Static()
    if method == "set":
        return SET(0.3, rng=rng, removal=set_removal)
    if method == "dsr" and rewire_schedule == "paper":
        return DSR(rewire_period=paper_period(rewire_period, n_steps), n_prune_target=n_prune_target, rng=rng,
                   stop_iteration=paper_stop_iteration(n_steps))
    if method == "dsr":
        return DSR(rewire_period=rewire_period, n_prune_target=n_prune_target, rng=rng)
    if method == "rigl":
        return RigL(n_steps, data, batch_size=batch_size, update_period=rewire_period, rng=rng)
    if method == "gmp":
        return GMP(sparsity, n_steps, frequency=min(100, max(1, n_steps // 20)))
    raise ValueError(f"method: expected one of {METHODS}, found {method!r}")


def check_optimizer_options(args):
    """Refuse --momentum or --weight-decay with --optimizer adam (this Adam has neither)."""
    if args.optimizer == "adam" and (args.weight_decay or args.momentum):
        raise ValueError(f"--optimizer adam: takes no --momentum or --weight-decay, found {args.momentum} and "
                         f"{args.weight_decay}; set them to 0 or use --optimizer sgd")


def make_optimizer(args, n_steps):
    """(optimizer, its learning-rate hook or None) for ``args.optimizer``, ``lr``, ``momentum``,
    ``weight_decay`` and ``lr_schedule`` ("paper": ``StepDecay``; "constant": none)."""
    from nnlite.optim import SGD, Adam
    check_optimizer_options(args)
    optimizer = Adam(args.lr) if args.optimizer == "adam" else SGD(args.lr, args.momentum, args.weight_decay)
    return optimizer, (StepDecay(args.lr, n_steps).on_step if args.lr_schedule == "paper" else None)


def run_one(method, sparsity, dataset, args, seed):
    """Train one model from the streams of ``seed``; return a JSON-ready record
    (curves, test accuracy, sizes)."""
    import time

    from nnlite.train import fit
    from pruning.sparse_layers import memory_report
    from pruning.rigl import RigL
    streams = seed_streams(seed)
    X, y = dataset["X"], dataset["y"]
    n_classes = int(max(y.max(), dataset["y_test"].max())) + 1
    model = build_model(method, X.shape[1:], n_classes, sparsity, channels=tuple(args.channels), hidden=args.hidden,
                        distribution=args.distribution, storage=args.storage, dense_layers=args.dense_layers,
                        rng=streams["init"], topology_rng=streams["topology"])
    n_steps = args.epochs * -(-len(X) // args.batch_size)
    driver = make_method(method, sparsity, n_steps, streams["regrowth"], args.rewire_period, args.n_prune_target,
                         rewire_schedule=args.rewire_schedule, set_removal=args.set_removal, data=(X, y),
                         batch_size=args.batch_size)
    optimizer, lr_hook = make_optimizer(args, n_steps)
    start = time.perf_counter()
    history = fit(model, X, y, optimizer=optimizer, epochs=args.epochs, batch_size=args.batch_size,
                  rng=streams["data_order"], validation_data=(dataset["X_val"], dataset["y_val"]), progress=False,
                  on_step=chain(getattr(driver, "on_step", None), lr_hook),
                  on_epoch_end=getattr(driver, "on_epoch_end", None), rescore_train=args.rescore_train)
    memory = memory_report(model)
    record = {"method": method, "sparsity": 0.0 if method == "dense" else sparsity, "seed": seed,
              "test_accuracy": model.score(dataset["X_test"], dataset["y_test"]),
              "train_seconds": time.perf_counter() - start, **memory, **history.as_dict()}
    if isinstance(driver, DSR):
        record["dsr_final_H"] = driver.H
        record["dsr_rewirings"] = len(driver.history_)
        record["dsr_n_active_per_layer"] = driver.history_[-1]["n_active"] if driver.history_ else None
    if isinstance(driver, RigL):
        record["rigl_updates"] = len(driver.history_)
    return record


def plot_curves(records, path):
    """Training and validation accuracy and loss per epoch, one line per run."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for r in records:
        label = r["method"] if r["method"] == "dense" else f"{r['method']} {r['sparsity']:.0%}"
        epochs = np.arange(1, len(r["loss"]) + 1)
        for ax, key in zip(axes.ravel(), ("accuracy", "val_accuracy", "loss", "val_loss")):
            ax.plot(epochs, r[key], marker="o", ms=3, label=label)
            ax.set_title(key.replace("_", " ").replace("val", "validation"))
    for ax in axes.ravel():
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    for ax in axes[1]:
        ax.set_xlabel("epoch")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def format_table(records):
    """Markdown table: method, sparsity, test accuracy, active weights, bytes dense vs CSR."""
    lines = ["| method | sparsity | test acc. | active weights | dense bytes | CSR bytes | CSR / dense |",
             "|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['method']} | {r['sparsity']:.0%} | {r['test_accuracy']:.4f} | {r['n_active']:,} "
                     f"| {r['bytes_dense']:,} | {r['bytes_csr']:,} | {r['csr_over_dense']:.3f} |")
    return "\n".join(lines)


def summarise(records):
    """The issue's two targets, evaluated on whichever runs exist."""
    dense = next((r for r in records if r["method"] == "dense"), None)
    dsr90 = next((r for r in records if r["method"] == "dsr" and np.isclose(r["sparsity"], 0.9)), None)
    out = {}
    if dense and dsr90:
        out["dsr90_minus_dense_points"] = 100 * (dsr90["test_accuracy"] - dense["test_accuracy"])
        out["dsr90_within_1_point"] = bool(out["dsr90_minus_dense_points"] >= -1.0)
    if dsr90:
        out["dsr90_csr_over_dense_bytes"] = dsr90["csr_over_dense"]
        out["dsr90_csr_at_most_0.21"] = bool(dsr90["csr_over_dense"] <= 0.21)
    return out


def read_runs(path):
    """The per-run records (one per method and sparsity) of a ``dsr.jsonl`` file."""
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path: expected a file path (str or Path), found {type(path).__name__} {path!r}")
    if not Path(path).exists():
        raise ValueError(f"path: expected a dsr.jsonl file, found nothing at {str(path)!r}; check the path "
                         f"(python -m pruning dsr writes <--out>/dsr.jsonl)")
    if Path(path).is_dir():
        raise ValueError(f"path: expected a dsr.jsonl file, found the directory {str(path)!r}; "
                         f"pass the file inside it (e.g. {str(Path(path) / 'dsr.jsonl')!r})")
    with open(path) as lines:
        try:
            records = [json.loads(line) for line in lines if line.strip()]
        except json.JSONDecodeError as error:
            raise ValueError(f"path: expected JSON lines written by python -m pruning dsr, found {str(path)!r} "
                             f"not JSON ({error}); pass the run's dsr.jsonl") from None
    return [r for r in records if "method" in r]


def mean_ci(values, confidence=0.95):
    """(mean, half-width of the ``confidence`` t interval) of ``values``; the
    half-width is None for fewer than two values."""
    from scipy import stats
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return float(values.mean()), None
    half = stats.t.ppf((1 + confidence) / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean()), float(half)


def seed_statistics(paths, score=lambda record: record["test_accuracy"]):
    """One row per (method, sparsity) over ``dsr.jsonl`` files: the test
    accuracies (by seed), their mean and 95% t interval, and the paired
    difference to dense at the same seed, in points. A run's seed is its
    record's ``seed`` (the position of its file for records without one), so
    the methods of one seed may come from different files. ``score`` picks
    the accuracy from a run's record."""
    accuracy = {}
    for index, path in enumerate(paths):
        for r in read_runs(path):
            accuracy.setdefault((r["method"], r["sparsity"]), {})[r.get("seed", index)] = score(r)
    dense = accuracy.get(("dense", 0.0), {})
    rows = []
    for (method, sparsity), by_file in accuracy.items():
        mean, half = mean_ci(list(by_file.values()))
        row = {"method": method, "sparsity": sparsity, "n": len(by_file), "seeds": list(by_file),
               "accuracies": list(by_file.values()), "mean": mean, "ci95": half}
        paired = [100 * (v - dense[k]) for k, v in by_file.items() if k in dense]
        if method != "dense" and paired:
            row["minus_dense_points"], row["minus_dense_ci95"] = mean_ci(paired)
            row["n_paired"] = len(paired)
        rows.append(row)
    return sorted(rows, key=lambda r: (r["sparsity"], -r["mean"]))


def _pm(mean, half, scale=1.0, digits=4, sign=""):
    return f"{scale * mean:{sign}.{digits}f}" + ("" if half is None else f" ± {scale * half:.{digits}f}")


def format_seed_table(rows):
    """Markdown: method, sparsity, n, accuracy per seed, mean ± 95% CI, paired gap to dense ± 95% CI."""
    lines = ["| method | sparsity | n | test acc. per seed | mean ± 95% CI | minus dense, paired (points) ± 95% CI |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        gap = _pm(r["minus_dense_points"], r["minus_dense_ci95"], digits=2, sign="+") if "n_paired" in r else ""
        lines.append(f"| {r['method']} | {r['sparsity']:.0%} | {r['n']} | "
                     f"{', '.join(f'{v:.4f}' for v in r['accuracies'])} | {_pm(r['mean'], r['ci95'])} | {gap} |")
    return "\n".join(lines)


def compare_seeds(paths):
    """``format_seed_table`` of the ``dsr.jsonl`` files of runs with different ``--seed``."""
    return format_seed_table(seed_statistics(paths))


#: The seed CNN study's reported test accuracies on CIFAR-10 after 10 epochs (the pruned CNN: 73.15% after 4).
SEED_STUDY_REPORTED = {"dense": 0.7042, "dynamic": 0.7701, "dynamic_after_4_epochs": 0.7315}


def seed_study_verdict(rows):
    """Plain sentences: for each sparse method, whether the seed study's claim
    (dynamic pruning beats the conventional CNN) holds on these runs."""
    reported = SEED_STUDY_REPORTED
    sentences = [f"seed study (full CIFAR-10, one run each, 10 epochs): conventional CNN {reported['dense']:.2%}, "
                 f"dynamically pruned {reported['dynamic']:.2%} "
                 f"({100 * (reported['dynamic'] - reported['dense']):+.2f} points)"]
    for r in rows:
        if "n_paired" not in r:
            continue
        mean, half = r["minus_dense_points"], r["minus_dense_ci95"]
        if half is None:
            verdict = "not testable with one seed"
        elif mean - half > 0:
            verdict = "holds: the pruned CNN is more accurate (the 95% CI of the paired gap is above 0)"
        elif mean + half < 0:
            verdict = "does not hold: the pruned CNN is less accurate (the 95% CI of the paired gap is below 0)"
        else:
            verdict = "not resolved: the 95% CI of the paired gap contains 0"
        sentences.append(f"{r['method']} at {r['sparsity']:.0%} minus dense over {r['n_paired']} seeds: "
                         f"{_pm(mean, half, digits=2, sign='+')} points; the claim {verdict}")
    return sentences


#: The options that change results: saved in dsr.jsonl's first line; a resumed run must match them.
SETTINGS = ("dataset", "epochs", "sparsity", "methods", "batch_size", "lr", "channels", "hidden", "distribution",
            "storage", "rewire_period", "n_prune_target", "n_train", "seed", "recipe", "optimizer", "momentum",
            "weight_decay", "lr_schedule", "rewire_schedule", "dense_layers", "set_removal", "rescore_train",
            "validation")
#: Options the command fills in when left unset: the defaults, and with --quick (seconds, not hours).
COMMAND_DEFAULTS = {"epochs": 10, "channels": [16, 32], "hidden": 128, "rewire_period": 100, "n_train": None,
                    "dataset": "fashion-mnist", "sparsity": [0.8, 0.9], "methods": list(METHODS),
                    "recipe": "seed-study", "seeds": 1, "validation": "split"}
QUICK = {"epochs": 2, "channels": [8, 16], "hidden": 64, "rewire_period": 10, "n_train": 3000}
#: What ``--seed-study`` fills in (options given explicitly, and --quick's, win): the seed study's design.
SEED_STUDY = {"dataset": "cifar10", "methods": ["dense", "dsr"], "sparsity": [0.9], "epochs": 10,
              "recipe": "seed-study", "seeds": 5, "validation": "test"}


def _option_number(low, high, text, expected):
    import argparse
    try:
        value = float(text)
    except ValueError:
        value = np.nan
    if not (np.isfinite(value) and low <= value < high):
        raise argparse.ArgumentTypeError(f"expected {expected}, found {text!r}")
    return value


def momentum_option(text):
    """A float in [0, 1)."""
    return _option_number(0.0, 1.0, text, "a momentum in [0, 1)")


def non_negative_float(text):
    """A finite float >= 0."""
    return _option_number(0.0, np.inf, text, "a finite number >= 0")


def add_arguments(parser):
    parser.add_argument("--dataset", choices=("fashion-mnist", "cifar10"), default=None,
                        help="default: fashion-mnist (--seed-study: cifar10)")
    parser.add_argument("--epochs", type=positive_int, default=None, help="default: 10 (--quick: 2)")
    parser.add_argument("--sparsity", type=sparsity_option, nargs="+", default=None,
                        help="default: 0.8 0.9 (--seed-study: 0.9)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=None,
                        help="default: all (--seed-study: dense dsr)")
    parser.add_argument("--batch-size", type=positive_int, default=128)
    parser.add_argument("--recipe", choices=tuple(RECIPES), default=None,
                        help="named setting of the options below (default: seed-study). paper: SGD momentum 0.9, "
                             "lr 0.1 x0.2 at 30/60/80%% of training, weight decay 5e-4, DSR period doubling at "
                             "12.5/40/70%% and stopping at 95%%, first conv and output layer dense. seed-study: Adam "
                             "1e-3 constant, constant period that never stops, every layer sparse")
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default=None, help="default: from --recipe")
    parser.add_argument("--lr", type=positive_float, default=None, help="default: from --recipe (0.1 or 1e-3)")
    parser.add_argument("--momentum", type=momentum_option, default=None, help="SGD momentum (default: from --recipe)")
    parser.add_argument("--weight-decay", type=non_negative_float, default=None,
                        help="SGD weight decay (default: from --recipe)")
    parser.add_argument("--lr-schedule", choices=("constant", "paper"), default=None,
                        help="paper: x0.2 at 30, 60 and 80%% of training (default: from --recipe)")
    parser.add_argument("--rewire-schedule", choices=("constant", "paper"), default=None,
                        help="DSR: paper doubles the period at 12.5, 40 and 70%% of training and stops at 95%% "
                             "(default: from --recipe)")
    parser.add_argument("--dense-layers", choices=DENSE_LAYERS, default=None,
                        help="ends: keep the first convolution and the output layer dense (default: from --recipe)")
    parser.add_argument("--set-removal", choices=("per_sign", "magnitude"), default="per_sign",
                        help="SET: remove a fraction of each sign (the paper) or of all weights by magnitude")
    parser.add_argument("--rescore-train", action="store_true",
                        help="log the training accuracy by rescoring the whole training set after each epoch "
                             "(default: the running minibatch accuracy, as Keras logs it)")
    parser.add_argument("--channels", type=positive_int, nargs="+", default=None,
                        help="conv block widths (default: 16 32; --quick: 8 16)")
    parser.add_argument("--hidden", type=positive_int, default=None,
                        help="dense head width (default: 128; --quick: 64)")
    parser.add_argument("--distribution", choices=("uniform", "erdos_renyi"), default="erdos_renyi",
                        help="initial per-layer sparsities of the sparse-from-scratch methods")
    parser.add_argument("--storage", choices=("auto", "dense", "csr"), default="dense",
                        help="how the sparse layers store W (default: dense with a mask). The results agree up "
                             "to float rounding, but DSR amplifies rounding, and 'auto' chooses by a timing: "
                             "with it a run need not repeat bit for bit")
    parser.add_argument("--rewire-period", type=positive_int, default=None,
                        help="DSR: iterations between rewirings, the first period under --rewire-schedule paper; "
                             "RigL: ΔT (default: 100; --quick: 10)")
    parser.add_argument("--n-prune-target", type=count_or_fraction, default=0.02,
                        help="DSR: N_p, a count or a fraction (< 1) of the active weights")
    parser.add_argument("--n-train", type=positive_int, default=None,
                        help="training subset (default: all; --quick: 3000)")
    parser.add_argument("--validation", choices=("split", "test"), default=None,
                        help="split: hold out 1/12 of the training images; test: train on all and log the test "
                             "set as validation (default: split; --seed-study: test)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="the (first) seed")
    parser.add_argument("--seeds", type=positive_int, default=None,
                        help="run seeds --seed .. --seed + N - 1, each in --out/seed<k>, and write "
                             "seeds.md/seeds.json: mean ± 95%% t interval and paired gap to dense (default: 1; "
                             "--seed-study: 5)")
    parser.add_argument("--seed-study", action="store_true",
                        help="test the seed CNN study's claim: CIFAR-10 subset (4,000/1,000), dense vs DSR, 10 "
                             "epochs, Adam, 5 seeds, paired difference with its 95%% CI (options given win)")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $NNLITE_DATA)")
    parser.add_argument("--out", default="results/dsr",
                        help="folder for dsr.jsonl, dsr_curves.png, dsr_table.md; an interrupted run there is "
                             "resumed (its finished runs kept), other settings than its are refused")
    parser.add_argument("--blas-threads", type=positive_int, default=1)
    parser.add_argument("--quick", action="store_true",
                        help="3,000 training images, 2 epochs, a narrower CNN (options given explicitly win)")
    parser.add_argument("--compare-seeds", nargs="+", metavar="DSR_JSONL", default=None,
                        help="train nothing: read the dsr.jsonl of runs with different --seed and print "
                             "each method's accuracies, mean ± 95%% CI and paired gap to dense")


def apply_quick(args):
    """Fill the options left unset from the defaults, or with ``--quick`` from seconds-long settings."""
    return resolve_defaults(args, COMMAND_DEFAULTS, QUICK)


def apply_presets(args):
    """Fill the options left unset: ``--seed-study``'s design (``SEED_STUDY``,
    except what ``--quick`` sets), then ``apply_quick``, then ``--recipe``'s."""
    if getattr(args, "seed_study", False):
        for name, value in SEED_STUDY.items():
            if getattr(args, name, None) is None and not (getattr(args, "quick", False) and name in QUICK):
                setattr(args, name, value)
    apply_quick(args)
    for name, value in RECIPES[args.recipe].items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    return args


def command_args(argv=()):
    """The command's options for ``argv`` with every default filled in (for notebooks and tests)."""
    from nnlite.cli import ArgumentParser
    parser = ArgumentParser(prog="python -m pruning dsr")
    add_arguments(parser)
    return apply_presets(parser.parse_args(list(argv)))


def planned_runs(args):
    """The (method, sparsity) runs of the experiment, in order (dense first, then by decreasing sparsity)."""
    runs = [("dense", 0.0)] if "dense" in args.methods else []
    return runs + [(m, s) for s in sorted(args.sparsity, reverse=True) for m in args.methods if m != "dense"]


def run_experiment(args, emit=print, done=()):
    """Every (method, sparsity) run in turn; ``emit`` gets one JSON line per run.

    ``done``: the records of the runs already finished (a resumed experiment),
    emitted again instead of trained. Every run trains from the streams of
    ``args.seed`` (``seed_streams``): the methods share the initial weights
    and the minibatch order, and the remaining runs repeat bit for bit.
    """
    _check_channels(args.channels, IMAGE_SIZES[args.dataset])
    dataset = load_dataset(args.dataset, args.data_dir, args.n_train, rng=args.seed, validation=args.validation)
    emit(json_line({"dataset": args.dataset, "note": dataset["note"], "n_train": len(dataset["X"]),
                    "n_validation": len(dataset["X_val"]), "n_test": len(dataset["X_test"]),
                    "epochs": args.epochs, "batch_size": args.batch_size,
                    "settings": {k: getattr(args, k) for k in SETTINGS}}))
    records = []
    for i, (method, sparsity) in enumerate(planned_runs(args)):
        records.append(done[i] if i < len(done) else run_one(method, sparsity, dataset, args, seed=args.seed))
        emit(json_line(records[-1]))
    return dataset, records


IMAGE_SIZES = {"fashion-mnist": 28, "cifar10": 32}


def _check_channels(channels, image_size):
    """Each conv block halves the image: at most log2(image_size) blocks."""
    if image_size >> len(channels) < 1:
        raise ValueError(f"--channels: {len(channels)} conv blocks halve {image_size}x{image_size} images "
                         f"below one pixel; give at most {int(np.log2(image_size))} widths")


def json_line(record):
    """One JSON line; a NaN or inf (a diverged run) is an error, never written."""
    try:
        return json.dumps(record, allow_nan=False)
    except ValueError:
        bad = [k for k, v in record.items() if isinstance(v, float) and not np.isfinite(v)
               or isinstance(v, list) and any(isinstance(x, float) and not np.isfinite(x) for x in v)]
        raise FloatingPointError(f"the {record.get('method')} run at sparsity {record.get('sparsity')} diverged "
                                 f"(non-finite {', '.join(bad) or 'values'}); try a smaller --lr") from None


def finished_runs(path, args):
    """The records of the finished runs in an existing ``dsr.jsonl`` made with the same settings (else refused)."""
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    saved = lines[0].get("settings") if lines else None
    if saved is None:
        raise ValueError(f"--out: {path} was written without its settings and cannot be resumed; "
                         "choose another --out")
    wanted = json.loads(json.dumps({k: getattr(args, k) for k in SETTINGS}))
    differ = [k for k in SETTINGS if saved.get(k) != wanted[k]]
    if differ:
        raise ValueError(f"--out: {path.parent} holds a run made with "
                         + ", ".join(f"--{k.replace('_', '-')} {saved.get(k)}" for k in differ) + ", found "
                         + ", ".join(f"--{k.replace('_', '-')} {wanted[k]}" for k in differ)
                         + "; use the same options or another --out")
    return [r for r in lines if "method" in r]


def main(args):
    """``python -m pruning dsr``: JSON lines on stdout and in --out/dsr.jsonl, curves, table.

    dsr.jsonl is rewritten atomically after every finished run, so it always
    holds the finished runs; the same command run again resumes after them.
    With ``--seeds N`` (or ``--seed-study``) each seed has its own folder
    ``--out/seed<k>`` and ``seeds.md``/``seeds.json`` summarise them.
    """
    with option_names({"path": "--compare-seeds", "n_train": "--n-train"}):
        if args.compare_seeds:
            print(compare_seeds(args.compare_seeds))
            return 0
        apply_presets(args)
        _check_channels(args.channels, IMAGE_SIZES[args.dataset])
        check_optimizer_options(args)
        if args.seeds == 1 and not args.seed_study:
            return run_and_write(args, Path(args.out))
        return run_seeds(args, Path(args.out))


def run_and_write(args, out):
    """One seed's experiment into ``out`` (resumed if ``out`` holds a part of it)."""
    from pruning.obd import blas_threads
    remove_stale_temp_files(out)
    done = finished_runs(out / "dsr.jsonl", args)
    lines = []

    def emit(line):  # the folder appears with the first line: a run refused on loading its data writes nothing
        out.mkdir(parents=True, exist_ok=True)
        print(line, flush=True)
        lines.append(line)
        write_text_atomic(out / "dsr.jsonl", "\n".join(lines) + "\n")
    with blas_threads(args.blas_threads):
        dataset, records = run_experiment(args, emit, done)
    emit(json_line({"summary": summarise(records), "note": dataset["note"]}))
    plot_curves(records, out / "dsr_curves.png")
    table = format_table(records)
    write_text_atomic(out / "dsr_table.md", f"{dataset['note']}\n\n{table}\n")
    print(table)
    return 0


def run_seeds(args, out):
    """Seeds ``args.seed`` .. ``args.seed + args.seeds - 1`` in turn, then
    ``seeds.md`` and ``seeds.json``: each method's mean with its 95% t
    interval and the paired difference to dense (and, for ``--seed-study``,
    the verdict on the seed study's claim)."""
    import argparse
    paths = []
    for seed in range(args.seed, args.seed + args.seeds):
        one = argparse.Namespace(**{**vars(args), "seed": seed})
        run_and_write(one, out / f"seed{seed}")
        paths.append(out / f"seed{seed}" / "dsr.jsonl")
    rows = seed_statistics(paths)
    verdict = seed_study_verdict(rows) if args.seed_study else []
    # with the test set as validation data, val_accuracy[3] is the test accuracy after 4 epochs
    rows_4 = seed_statistics(paths, lambda r: r["val_accuracy"][3]) if args.validation == "test" and \
        args.epochs >= 4 else []
    note = json.loads((out / f"seed{args.seed}" / "dsr.jsonl").read_text().splitlines()[0])["note"]
    write_text_atomic(out / "seeds.json", json_line({"seeds": list(range(args.seed, args.seed + args.seeds)),
                                                     "note": note, "rows": rows, "rows_after_4_epochs": rows_4,
                                                     "verdict": verdict}) + "\n")
    table = format_seed_table(rows) + ("\n\nTest accuracy after 4 epochs:\n\n" + format_seed_table(rows_4)
                                       if rows_4 else "")
    text = "\n\n".join([note, table] + (["\n".join(f"- {v}" for v in verdict)] if verdict else []))
    write_text_atomic(out / "seeds.md", text + "\n")
    print(text)
    return 0
