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
CIFAR-10, 200 epochs). A run keeps its shape in proportion to its length:

- the paper's rewiring period doubles (100 -> 200 -> 400 -> 800 iterations)
  at 0, 12.5, 40 and 70% of training (epochs 0, 25, 80, 140 of 200) and
  rewiring stops at 95% (epoch 190) (``paper_period``,
  ``paper_stop_iteration``); the first convolution and the output layer stay
  dense (``layer_plan(dense_layers="ends")``); SGD with momentum 0.9,
  learning rate 0.1 x 0.2 at 30, 60 and 80% of training (epochs 60, 120,
  160; ``StepDecay``), weight decay 5e-4.
- # Deviation from paper: the seed CNN study's setting: Adam at a constant
  learning rate 1e-3, a constant rewiring period that never stops
  (``constant_period``), and every layer sparse, first and last included.

``pruning.experiments.dsr.RECIPES`` names the two settings ("paper",
"seed-study"), and each part is an option of its own, so that a run can
differ from the paper in one respect at a time. The experiment (data, runs
as a grid, tables, plots, ``python -m pruning dsr``) is
``pruning.experiments.dsr``; this module holds the methods only. Every seed
spawns independent streams (``seed_streams``) for the initial weights, the
data order, the initial sparse topologies and the regrowth: the methods
compared at one seed share the initial weights and the minibatch order, and
DSR's and SET's regrowth never draws from the data-order stream.

Choices the paper leaves open (each a named option):

- ``reallocate(rounding=)``: the pseudocode's per-layer ``round`` does not
  conserve K; the default uses largest remainders so that sum G_i = K.
- ``reallocate``: a layer cannot regrow more than its free positions; the
  excess goes to the other layers in proportion to their survivors.
- ``DSR(n_prune_target=)``: the paper gives N_p as a count per network; a
  float below 1 here is a fraction of the active weights (default 2%).
- ``layer_sparsities(distribution=)``: the initial split of the budget over
  layers, uniform or Erdős–Rényi (the experiment's default, from SET).
- ``paper_period(period, n_steps)``: ``period`` is the first period (the
  paper's 100 iterations): a short run therefore rewires far fewer times
  than the paper's 100,000-iteration WRN run; only the fractions are scaled.
"""
import numpy as np

from nnlite._checks import check_choice, check_float_array, check_int, check_positive_float, check_rng, check_shape
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
# The methods, their models and their random streams
# ---------------------------------------------------------------------------
#: The methods compared (``make_method``): dense, and the sparse ones above.
METHODS = ("dense", "static", "set", "dsr", "rigl", "gmp")
#: The layers kept dense: "none" (every layer sparse, the seed study) or "ends" (the first convolution and the
#: output layer, as in the paper).
DENSE_LAYERS = ("none", "ends")
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


