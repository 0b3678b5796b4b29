"""The Lottery Ticket Hypothesis, line by line.

J. Frankle and M. Carbin, "The Lottery Ticket Hypothesis: Finding Sparse,
Trainable Neural Networks", ICLR 2019.

Identifying a winning ticket (paper, section 1), iterated for n rounds:

1. Randomly initialize a neural network f(x; theta_0).      ``randomly_initialize``
2. Train the network for j iterations, arriving at theta_j.  ``train_network``
3. Prune p% of the parameters in theta_j, creating a mask m. ``prune_parameters``
4. Reset the remaining parameters to their values in theta_0,
   creating the winning ticket f(x; m * theta_0).            ``reset_parameters``

``imp_round`` is one round (steps 4, 2, 3) and ``iterative_magnitude_pruning``
the whole procedure for one trial.

Iterative magnitude pruning (IMP) repeats steps 2-4; in round r the mask
removes p% of the weights that survived round r - 1, layer by layer (for
LeNet-300-100: 20% in the two hidden layers, 10% in the output layer), so the
masks are nested and after r rounds about 0.8^r of the weights remain
(51.3% after 3 rounds, 21.1% after 7, 13.5% after 9, 7.0% after 12, 3.6% after
15, 1.9% after 18). Biases are never pruned; they are reset with the weights.

Measurements (paper, section 2): the *early-stopping iteration* is the
iteration of minimum validation loss, measured every ``eval_every``
iterations on a validation split held out of the training set (5,000 of
MNIST's 60,000); the test accuracy reported is the one at that iteration. The
*random re-initialisation control* (``random_reinitialization``) trains the
same mask from a fresh draw of the initialiser.

Later work (Frankle et al. 2020, "Linear mode connectivity and the lottery
ticket hypothesis") *rewinds* to theta_k, the weights after k training
iterations, instead of theta_0: ``rewind_iteration=k`` (0 = the paper).

Paper settings and deviations
-----------------------------
``python -m pruning lottery --full`` runs the paper's settings: Adam 1.2e-3,
batch 60, 50,000 iterations per round, rates 20/20/10% with biases kept, a
5,000-image validation split for early stopping, 5 trials, and the random
re-initialisation control at every reported round.
``pruning.experiments.lottery.deviations_from_paper``
lists, as ``Deviation from paper:`` lines, every setting of a run that differs
(the command prints them with its table and saves them in ``summary.json``):

- ``n_iterations`` (default 10,000, ``--quick`` 300, not 50,000) is scaled
  down to fit a CPU; the early-stop iteration is capped by it.
- The command's default is 3 trials (``--quick``: 2), not 5.
- ``--quick`` also trains on 10,000 of the 55,000 training images and stops
  after round 7 (21.1%).
- With rewinding, a round trains ``n_iterations - k`` iterations from theta_k
  (it continues from iteration k) with a fresh Adam state.
- Pruning in step 3 uses the weights at the end of training (theta_j with j =
  n_iterations), as the paper's algorithm states; the early-stopping
  iteration is only measured.

The experiment (MNIST, resumable trials as a grid, tables, plots, the command
line) is ``pruning.experiments.lottery``; this module is the algorithm only.
"""
from dataclasses import dataclass

import numpy as np

from nnlite._checks import check_float_array, check_labels, check_n_features, check_rng
from nnlite.models import MLP
from nnlite.init import INITIALISERS
from nnlite.optim import Adam
from nnlite.train import minibatches, train_step_inplace

from . import masks as M

LENET_300_100 = (784, 300, 100, 10)
# Streams of the per-(trial, round) generators: ticket batches, control init, theta_0, split, control batches.
_STREAM_TICKET, _STREAM_CONTROL, _STREAM_INIT, _STREAM_SPLIT, _STREAM_CONTROL_BATCHES = 0, 1, 2, 3, 11


@dataclass
class LotteryConfig:
    """Settings of an IMP experiment (defaults: LeNet-300-100 on MNIST, paper values except n_iterations)."""
    layer_sizes: tuple = LENET_300_100
    rates: tuple = (0.2, 0.2, 0.1)              # p per layer and round
    n_rounds: int = 18
    n_iterations: int = 10_000                  # paper: 50,000
    batch_size: int = 60
    lr: float = 1.2e-3
    init: str = "glorot_normal"
    eval_every: int = 100
    rewind_iteration: int = 0                   # 0: reset to theta_0 (the paper)
    control_rounds: tuple = (3, 7, 9, 12, 15, 18)  # rounds also trained from a random re-initialisation
    seed: int = 0

    def __post_init__(self):
        self.layer_sizes, self.rates = tuple(self.layer_sizes), tuple(self.rates)
        self.control_rounds = tuple(self.control_rounds)
        if len(self.layer_sizes) < 2 or not all(_is_int(n) and n >= 1 for n in self.layer_sizes):
            raise ValueError(f"layer_sizes: expected at least two positive ints (inputs, ..., classes), "
                             f"found {self.layer_sizes!r}")
        check_rates(self.rates, len(self.layer_sizes) - 1)
        if not isinstance(self.init, str) or self.init not in INITIALISERS:
            raise ValueError(f"init: expected one of {sorted(INITIALISERS)}, found {self.init!r}")
        for name in ("n_iterations", "batch_size", "eval_every"):
            if not (_is_int(getattr(self, name)) and getattr(self, name) >= 1):
                raise ValueError(f"{name}: expected a positive int, found {getattr(self, name)!r}")
        for name in ("n_rounds", "seed"):
            if not (_is_int(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name}: expected an int >= 0, found {getattr(self, name)!r}")
        if not (isinstance(self.lr, (int, float)) and np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr: expected a finite learning rate > 0, found {self.lr!r}")
        if not all(_is_int(r) and r >= 0 for r in self.control_rounds):
            raise ValueError(f"control_rounds: expected round numbers >= 0, found {self.control_rounds!r}")
        self.control_rounds = tuple(int(r) for r in self.control_rounds)
        if not (_is_int(self.rewind_iteration) and 0 <= self.rewind_iteration < self.n_iterations):
            raise ValueError(f"rewind_iteration: expected 0 <= k < n_iterations = {self.n_iterations}, "
                             f"found {self.rewind_iteration!r}")


def check_rates(rates, n_layers):
    """Raise unless ``rates`` is a sequence of ``n_layers`` fractions in [0, 1), one per layer."""
    if isinstance(rates, (str, bytes)) or not isinstance(rates, (list, tuple, np.ndarray)):
        raise TypeError(f"rates: expected a sequence of {n_layers} fractions in [0, 1) (one per layer), found "
                        f"{type(rates).__name__} {rates!r}; e.g. {(0.2,) * n_layers}")
    if len(rates) != n_layers:
        raise ValueError(f"rates: expected one pruning rate per layer ({n_layers}), found {len(rates)}: "
                         f"{tuple(rates)!r}; give one fraction per layer")
    if not all(isinstance(p, (int, float, np.integer, np.floating)) and not isinstance(p, bool) and 0 <= p < 1
               for p in rates):
        raise ValueError(f"rates: expected fractions in [0, 1) of each layer's surviving weights, "
                         f"found {tuple(rates)!r}; e.g. {(0.2,) * n_layers}")


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _round_rng(config, trial, round_index, stream):
    """The generator of one (trial, round, stream): the same bits whenever the round is run."""
    return np.random.default_rng([config.seed, trial, round_index, stream])


# -- IMP step 1 ---------------------------------------------------------
def randomly_initialize(layer_sizes, init="glorot_normal", rng=None):
    """IMP step 1: f(x; theta_0), a fresh MLP (biases 0)."""
    return MLP(layer_sizes, init=init, rng=rng)


# -- IMP step 2 ---------------------------------------------------------
def train_network(model, data, n_iterations, *, batch_size=60, lr=1.2e-3, eval_every=100,
                  snapshot_iteration=None, rng=None):
    """IMP step 2: train a copy of ``model`` for ``n_iterations`` Adam steps; masked weights stay 0.

    Parameters
    ----------
    model : nnlite.MLP or nnlite.Sequential (e.g. a CNN)
    data : dict with X_train (n, d) (or (n, h, w, c)), y_train (n,), X_val, y_val, X_test, y_test
    n_iterations : int
    eval_every : int
        Validation loss is measured after every ``eval_every`` iterations
        (and at iteration 0); the minimum gives the early-stopping iteration.
    snapshot_iteration : int or None
        Also return a copy of the weights after this many iterations
        (theta_k for rewinding, IMP step 6).

    Returns
    -------
    trained : the model's kind (the weights after n_iterations)
    record : dict with early_stop_iteration, val_loss_at_early_stop,
        test_accuracy_at_early_stop, test_accuracy_final, val_loss (the curve),
        and ``snapshot`` (a model or None; remove it before JSON).
    """
    rng = check_rng(rng)
    data = check_data(data, model.input_shape, model.n_classes)
    trained, optimizer = model.copy(), Adam(lr)
    X, y = data["X_train"], data["y_train"]
    val_iterations, val_losses = [0], [trained.loss(data["X_val"], data["y_val"])]
    best_loss, best_model = val_losses[0], trained.copy()
    snapshot = trained.copy() if snapshot_iteration == 0 else None
    iteration, batches = 0, []
    while iteration < n_iterations:
        if not batches:
            batches = minibatches(len(X), batch_size, rng)
            batches = [b for b in batches if len(b) == batch_size] or batches   # drop a ragged last batch
        idx = batches.pop(0)
        train_step_inplace(trained, optimizer, X[idx], y[idx])
        iteration += 1
        if iteration == snapshot_iteration:
            snapshot = trained.copy()
        if iteration % eval_every == 0 or iteration == n_iterations:
            val_iterations.append(iteration)
            val_losses.append(trained.loss(data["X_val"], data["y_val"]))
            if val_losses[-1] < best_loss:
                best_loss, best_model = val_losses[-1], trained.copy()
    record = {"early_stop_iteration": val_iterations[int(np.argmin(val_losses))],
              "val_loss_at_early_stop": float(best_loss),
              "test_accuracy_at_early_stop": best_model.score(data["X_test"], data["y_test"]),
              "test_accuracy_final": trained.score(data["X_test"], data["y_test"]),
              "val_iterations": val_iterations, "val_loss": [float(v) for v in val_losses],
              "snapshot": snapshot}
    return trained, record


def check_data(data, input_shape, n_classes):
    """``data`` with every array checked (finite float rows of ``input_shape``: an int d_in or a
    shape such as (h, w, c); labels in [0, n_classes))."""
    input_shape = (input_shape,) if isinstance(input_shape, (int, np.integer)) else tuple(input_shape)
    keys = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")
    if not isinstance(data, dict) or any(k not in data for k in keys):
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"data: expected a dict with keys {keys}, found {found}")
    checked = {}
    for split in ("train", "val", "test"):
        X = check_float_array(data[f"X_{split}"], f"data['X_{split}']", ndim=1 + len(input_shape))
        if len(input_shape) == 1:
            check_n_features(X, f"data['X_{split}']", input_shape[0])
        elif X.shape[1:] != input_shape:
            raise ValueError(f"data['X_{split}']: expected rows of shape {input_shape}, found {X.shape[1:]}")
        checked[f"X_{split}"] = X
        checked[f"y_{split}"] = check_labels(data[f"y_{split}"], f"data['y_{split}']", len(X), n_classes)
    return checked


# -- IMP step 3 ---------------------------------------------------------
def prune_parameters(trained, rates):
    """IMP step 3: masks removing ``rates[i]`` of the surviving weights of weight layer i by smallest |w|."""
    check_rates(rates, M._check_model(trained, "trained").n_layers)
    return M.prune_masks(trained, list(rates), method="magnitude", scope="layer")


# -- IMP step 4 ---------------------------------------------------------
def reset_parameters(masks, theta_0):
    """IMP step 4: the winning ticket f(x; m * theta_0): theta_0's weights and biases under ``masks``."""
    return M.set_masks(theta_0, masks)


def random_reinitialization(masks, layer_sizes, init="glorot_normal", rng=None):
    """The control: the same masks on a fresh random initialisation."""
    return M.set_masks(randomly_initialize(layer_sizes, init, rng), masks)


# -- IMP: step 1 once, then steps 4, 2, 3 round after round (step 5) ---------
def initial_parameters(config, trial):
    """Step 1 of one trial: theta_0, from the trial's own stream."""
    return randomly_initialize(config.layer_sizes, config.init, _round_rng(config, trial, 0, _STREAM_INIT))


def imp_round(config, data, trial, round_index, masks, theta_0, theta_rewind=None):
    """One round of iterative magnitude pruning: reset (IMP step 4), train (step 2), prune (step 3).

    Parameters
    ----------
    config : LotteryConfig
    data : dict of arrays (see ``train_network``)
    trial, round_index : int
        Name the round's random streams (``_round_rng``): a round redone
        gives the same bits.
    masks : list of bool ndarray, this round's masks (all True in round 0)
    theta_0 : nnlite.MLP, the initialisation of step 1
    theta_rewind : nnlite.MLP or None, theta_k once round 0 has made it (rewinding)

    Returns
    -------
    record : dict, ``train_network``'s measurements and the round's fraction
        remaining (with ``control``, the random re-initialisation, in
        ``config.control_rounds``)
    next_masks : list of bool ndarray, the masks of the next round
    snapshot : nnlite.MLP or None, theta_k when this round made it
    """
    k = config.rewind_iteration
    # IMP step 4, or IMP step 6 with rewinding to theta_k (round 0: the dense network is theta_0 itself)
    start_model = reset_parameters(masks, theta_0 if (k == 0 or round_index == 0) else theta_rewind)
    n_iterations = config.n_iterations if (k == 0 or round_index == 0) else config.n_iterations - k
    # IMP step 2
    trained, record = train_network(start_model, data, n_iterations, batch_size=config.batch_size, lr=config.lr,
                                     eval_every=config.eval_every,
                                     snapshot_iteration=k if (k and round_index == 0) else None,
                                     rng=_round_rng(config, trial, round_index, _STREAM_TICKET))
    snapshot = record.pop("snapshot")
    record.update(round=round_index, fraction_remaining=M.fraction_remaining(masks),
                  layer_fraction_remaining=[M.fraction_remaining(masks, i) for i in range(len(masks))])
    if round_index in config.control_rounds:
        record["control"] = control_record(config, data, trial, round_index, masks, n_iterations)
    # IMP step 3: the mask of the next round, from the trained weights
    return record, prune_parameters(trained, config.rates), snapshot


def control_record(config, data, trial, round_index, masks, n_iterations):
    """The random re-initialisation control of one round: the same mask, a fresh theta."""
    control = random_reinitialization(masks, config.layer_sizes, config.init,
                                      _round_rng(config, trial, round_index, _STREAM_CONTROL))
    _, record = train_network(control, data, n_iterations, batch_size=config.batch_size, lr=config.lr,
                              eval_every=config.eval_every,
                              rng=_round_rng(config, trial, round_index, _STREAM_CONTROL_BATCHES))
    record.pop("snapshot")
    return record


def iterative_magnitude_pruning(config, data, trial=0):
    """Identify a winning ticket: IMP step 1 once, then steps 4, 2, 3 for rounds 0..n_rounds (step 5).

    Returns one record per round (``imp_round``). The experiment
    (``pruning.experiments.lottery.run_trial``) runs the same rounds, saving
    each one so that an interrupted run resumes to the same bits.
    """
    theta_0 = initial_parameters(config, trial)                        # IMP step 1
    masks, theta_rewind, records = M.current_masks(theta_0), None, []
    for round_index in range(config.n_rounds + 1):                     # IMP step 5: the rounds
        record, masks, snapshot = imp_round(config, data, trial, round_index, masks, theta_0, theta_rewind)
        theta_rewind = snapshot if snapshot is not None else theta_rewind   # theta_k (IMP step 6)
        records.append(record)
    return records
