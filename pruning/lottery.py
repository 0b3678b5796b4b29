"""The Lottery Ticket Hypothesis, line by line.

J. Frankle and M. Carbin, "The Lottery Ticket Hypothesis: Finding Sparse,
Trainable Neural Networks", ICLR 2019.

Identifying a winning ticket (paper, section 1), iterated for n rounds:

1. Randomly initialize a neural network f(x; theta_0).      ``randomly_initialize``
2. Train the network for j iterations, arriving at theta_j.  ``train_network``
3. Prune p% of the parameters in theta_j, creating a mask m. ``prune_parameters``
4. Reset the remaining parameters to their values in theta_0,
   creating the winning ticket f(x; m * theta_0).            ``reset_parameters``

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
re-initialisation control at every reported round. ``deviations_from_paper``
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

Resumable runs: after each completed round ``run_trial`` writes, in the
trial's folder, the mask for the next round (``masks_round_{r}.npz``) and the
records so far (``records.json``); theta_0 (and theta_k) are written once.
Every random draw of round r comes from a generator seeded by (seed, trial,
r), so a run interrupted after round r and started again continues from round
r + 1 and produces bit-identical results.
"""
import functools
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from nnlite.models import MLP
from nnlite._checks import check_float_array, check_labels, check_n_features, check_rng, check_subset_size
from nnlite.cli import (add_grid_arguments, atomic_write, grid_options, non_negative_int, option_names, positive_int,
                        remove_stale_temp_files, resolve_defaults, save_figure, write_text_atomic)
from nnlite.experiment import load_dataset, register_dataset, run_grid
from nnlite.init import INITIALISERS
from nnlite.optim import Adam
from nnlite.train import minibatches, train_step_inplace

from . import masks as M

LENET_300_100 = (784, 300, 100, 10)
# Rounds whose fraction remaining the paper reports: 100, 51.3, 21.1, 13.5, 7.0, 3.6, 1.9 %.
REPORTED_ROUNDS = (0, 3, 7, 9, 12, 15, 18)
N_VALIDATION = 5000                             # training images held out for early stopping (the paper)
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


# -- saving and resuming ------------------------------------------------------
def save_arrays(path, arrays):
    """Write a dict of arrays to ``path`` (.npz, no pickle), atomically (``nnlite.cli.atomic_write``)."""
    atomic_write(Path(path), lambda f: np.savez(f, **arrays))


def load_arrays(path):
    with np.load(path, allow_pickle=False) as f:
        return dict(f)


def save_json(path, obj):
    """Write ``obj`` as JSON to ``path``, atomically; NaN or inf is refused (not JSON)."""
    write_text_atomic(Path(path), json.dumps(obj, indent=1, allow_nan=False))


def _model_arrays(model):
    return {**{f"W{i}": W for i, W in enumerate(model.weights)}, **{f"b{i}": b for i, b in enumerate(model.biases)}}


def _model_from_arrays(arrays, n_layers):
    return MLP.from_weights([arrays[f"W{i}"] for i in range(n_layers)], [arrays[f"b{i}"] for i in range(n_layers)])


def _masks_arrays(masks):
    return {f"mask{i}": m for i, m in enumerate(masks)}


# -- IMP for one trial --------------------------------------------------------------
def run_trial(config, data, trial, out_dir, on_round_end=None, progress=False, data_settings=None):
    """Iterative magnitude pruning for one trial, resuming from ``out_dir/trial_{trial}`` if present.

    Parameters
    ----------
    config : LotteryConfig
    data : dict of arrays (see ``train_network``)
    trial : int
    out_dir : str or Path
    on_round_end : callable(trial, round_index) or None
        Called after a round's state is saved (e.g. to stop a time-boxed run).
    data_settings : dict or None
        How ``data`` was made (e.g. ``{"n_train": 10000}``), saved with the
        run: resuming with other data settings is refused like other settings.

    Returns
    -------
    records : list of dict, one per round 0..n_rounds.

    On disk, ``records.json`` is the commit point of a round: the files a
    round writes before it (theta_k, the next mask) are written again,
    identically, when the round is redone, so a kill at any instant resumes
    to the same bits.
    """
    folder = Path(out_dir) / f"trial_{trial}"
    folder.mkdir(parents=True, exist_ok=True)
    n_layers = len(config.layer_sizes) - 1
    state_path = folder / "records.json"
    records = _load_records(state_path, config, data_settings or {})
    # IMP step 1 (once per trial; theta_0 saved for every later reset)
    if (folder / "theta_0.npz").exists():
        theta_0 = _model_from_arrays(load_arrays(folder / "theta_0.npz"), n_layers)
    else:
        theta_0 = randomly_initialize(config.layer_sizes, config.init, _round_rng(config, trial, 0, _STREAM_INIT))
        save_arrays(folder / "theta_0.npz", _model_arrays(theta_0))
    start = len(records)
    masks = (M.current_masks(theta_0) if start == 0 else
             [load_arrays(folder / f"masks_round_{start}.npz")[f"mask{i}"] for i in range(n_layers)])
    rewind_path = folder / "theta_rewind.npz"
    # theta_k counts only once round 0 is recorded: a kill between writing it and records.json redoes round 0
    theta_rewind = (_model_from_arrays(load_arrays(rewind_path), n_layers)
                    if start > 0 and config.rewind_iteration else None)
    k = config.rewind_iteration
    for round_index in range(start, config.n_rounds + 1):   # IMP step 5: the rounds
        t0 = time.perf_counter()
        # IMP step 4, or IMP step 6 with rewinding to theta_k (round 0: the dense network is theta_0 itself)
        start_model = reset_parameters(masks, theta_0 if (k == 0 or round_index == 0) else theta_rewind)
        n_iterations = config.n_iterations if (k == 0 or round_index == 0) else config.n_iterations - k
        # IMP step 2
        trained, record = train_network(start_model, data, n_iterations, batch_size=config.batch_size, lr=config.lr,
                                         eval_every=config.eval_every,
                                         snapshot_iteration=k if (k and round_index == 0) else None,
                                         rng=_round_rng(config, trial, round_index, _STREAM_TICKET))
        snapshot = record.pop("snapshot")
        if snapshot is not None:                       # theta_k, kept for every later reset (IMP step 6)
            theta_rewind = snapshot
            save_arrays(rewind_path, _model_arrays(theta_rewind))
        record.update(round=round_index, fraction_remaining=M.fraction_remaining(masks),
                      layer_fraction_remaining=[M.fraction_remaining(masks, i) for i in range(n_layers)])
        if round_index in config.control_rounds:
            record["control"] = _control_record(config, data, trial, round_index, masks, n_iterations)
        record["seconds"] = time.perf_counter() - t0
        # IMP step 3: the mask of the next round, from the trained weights
        masks = prune_parameters(trained, config.rates)
        save_arrays(folder / f"masks_round_{round_index + 1}.npz", _masks_arrays(masks))
        records.append(record)
        save_json(state_path, {"config": _config_json(config), "data": data_settings or {}, "records": records})
        if progress:
            _print_round(trial, record)
        if on_round_end is not None:
            on_round_end(trial, round_index)
    return records


def _control_record(config, data, trial, round_index, masks, n_iterations):
    """The random re-initialisation control of one round: the same mask, a fresh theta."""
    control = random_reinitialization(masks, config.layer_sizes, config.init,
                                      _round_rng(config, trial, round_index, _STREAM_CONTROL))
    _, record = train_network(control, data, n_iterations, batch_size=config.batch_size, lr=config.lr,
                              eval_every=config.eval_every,
                              rng=_round_rng(config, trial, round_index, _STREAM_CONTROL_BATCHES))
    record.pop("snapshot")
    return record


def _print_round(trial, record):
    print(f"trial {trial} round {record['round']}: {100 * record['fraction_remaining']:.1f}% remaining, "
          f"test acc {record['test_accuracy_at_early_stop']:.4f} at iteration "
          f"{record['early_stop_iteration']} ({record['seconds']:.0f} s)", flush=True)


def _load_records(state_path, config, data_settings):
    """The records of the rounds already done (none for a new run); refuse a run made with other settings."""
    if not state_path.exists():
        return []
    state = json.loads(state_path.read_text())
    saved = {**_resumable_part(state["config"]), **state.get("data", data_settings)}
    wanted = {**_resumable_part(_config_json(config)), **data_settings}
    differ = sorted(k for k in saved.keys() | wanted.keys() if saved.get(k) != wanted.get(k))
    if differ:
        found = ", ".join(f"{k}={wanted.get(k)!r} (saved run: {saved.get(k)!r})" for k in differ)
        raise ValueError(f"out_dir: {state_path.parent} holds a run made with other settings: {found}; "
                         "use another --out folder or the saved settings (only the number of rounds may change)")
    return state["records"][:config.n_rounds + 1]


def _resumable_part(config_json):
    """The settings a resumed run must share with the saved one (all but n_rounds)."""
    return {k: v for k, v in config_json.items() if k != "n_rounds"}


def _config_json(config):
    return json.loads(json.dumps(asdict(config)))


# -- the experiment: python -m pruning lottery ---------------------------------
def load_data(n_validation=N_VALIDATION, n_train=None, data_dir=None, seed=0):
    """MNIST as float32 rows in [0, 1], with ``n_validation`` training images held out (a fixed split per seed).

    ``n_train`` keeps a random subset of the remaining training images (quick runs).
    """
    from nnlite import data as D
    X, y = D.load_mnist("train", data_dir)
    X_test, y_test = D.load_mnist("test", data_dir)
    rng = np.random.default_rng([seed, _STREAM_SPLIT])
    X_train, X_val, y_train, y_val = D.train_validation_split(X, y, rng=rng, n_validation=n_validation)
    check_subset_size(n_train, "n_train", len(X_train), f"the training set less {n_validation} validation images")
    if n_train is not None and n_train < len(X_train):
        keep = rng.choice(len(X_train), n_train, replace=False)
        X_train, y_train = X_train[keep], y_train[keep]
    flat = lambda images: D.flatten(D.scale_255(images))  # noqa: E731
    return {"X_train": flat(X_train), "y_train": y_train, "X_val": flat(X_val), "y_val": y_val,
            "X_test": flat(X_test), "y_test": y_test}


register_dataset("lottery-mnist", load_data)   # a grid task loads it by name: load_dataset("lottery-mnist", ...)


def lottery_trial(params, seed_sequence, out_dir, data_dir=None, progress=False):
    """One grid task: IMP for trial ``params["trial"]`` (``run_trial``), resumed from ``out_dir`` if begun.

    ``params`` holds ``config`` (``LotteryConfig`` as JSON), ``data`` (``{"n_train": ...}``) and
    ``trial``. The trial's random streams are already ``SeedSequence``s of (seed, trial, round,
    stream) (``_round_rng``), so ``seed_sequence`` is not drawn from. Returns the round records
    without their wall-clock ``seconds`` (the grid times the task).
    """
    config = LotteryConfig(**params["config"])
    data = load_dataset("lottery-mnist", n_train=params["data"]["n_train"], data_dir=data_dir, seed=config.seed)
    records = run_trial(config, data.as_dict(), params["trial"], out_dir, progress=progress,
                        data_settings=params["data"])
    return [{k: v for k, v in record.items() if k != "seconds"} for record in records]


def mean_ci95(values):
    """Mean, sample std and the half-width of the 95% t confidence interval of the mean (None for n < 2).

    Returns
    -------
    dict with mean, std (ddof=1; 0 for n = 1), ci95 (t_{0.975, n-1} * std / sqrt(n)) and n.
    """
    values = np.asarray(values, dtype=float)
    n = int(len(values))
    if n == 0:
        raise ValueError("values: expected at least one value to average, found none")
    std = float(values.std(ddof=1)) if n > 1 else 0.0
    half = float(stats.t.ppf(0.975, n - 1) * std / np.sqrt(n)) if n > 1 else None
    return {"mean": float(values.mean()), "std": std, "ci95": half, "n": n}


_MEASURES = ("test_accuracy_at_early_stop", "early_stop_iteration", "test_accuracy_final")


def summarize(trial_records, reported_rounds=REPORTED_ROUNDS):
    """Per round, mean ± 95% CI over trials of the ticket's and the control's measurements; paired comparisons.

    Parameters
    ----------
    trial_records : list (one per trial) of lists of round records (``run_trial``)
    reported_rounds : rounds flagged ``reported`` (the paper's 100 ... 1.9% rows)

    Returns
    -------
    dict with ``rounds`` (one entry per round every trial finished; each measure a
    ``mean_ci95`` dict; with a control also ``control_minus_ticket_points`` and
    ``control_over_ticket_early_stop``, paired per trial) and ``targets``.
    """
    if not isinstance(trial_records, (list, tuple)) or not all(
            isinstance(t, (list, tuple)) and all(isinstance(r, dict) for r in t) for t in trial_records):
        raise TypeError(f"trial_records: expected a list (one per trial) of lists of round records (dicts), "
                        f"found {type(trial_records).__name__}; pass what run_trial returns, one per trial")
    if not isinstance(reported_rounds, (list, tuple, range)) or not all(_is_int(r) and r >= 0
                                                                         for r in reported_rounds):
        raise ValueError(f"reported_rounds: expected a sequence of round numbers >= 0, found {reported_rounds!r}; "
                         f"e.g. {REPORTED_ROUNDS}")
    summary = {"rounds": []}
    n_done = min((len(r) for r in trial_records), default=0)
    for round_index in range(n_done):
        rows = [records[round_index] for records in trial_records]
        entry = {"round": round_index, "reported": round_index in reported_rounds,
                 "percent_remaining": 100 * rows[0]["fraction_remaining"]}
        for key in _MEASURES:
            entry[key] = mean_ci95([r[key] for r in rows])
        if all("control" in r for r in rows):
            entry.update(_control_comparison(rows))
        summary["rounds"].append(entry)
    summary["targets"] = _targets({e["round"]: e for e in summary["rounds"]})
    return summary


def _control_comparison(rows):
    """The control's measures and, paired per trial, its accuracy gap and early-stop ratio to the ticket."""
    entry = {f"control_{key}": mean_ci95([r["control"][key] for r in rows]) for key in _MEASURES}
    entry["ticket_minus_control_points"] = mean_ci95(
        [100 * (r["test_accuracy_at_early_stop"] - r["control"]["test_accuracy_at_early_stop"]) for r in rows])
    if all(r["early_stop_iteration"] > 0 for r in rows):   # a ticket stopping at iteration 0 has no ratio
        entry["control_over_ticket_early_stop"] = mean_ci95(
            [r["control"]["early_stop_iteration"] / r["early_stop_iteration"] for r in rows])
    return entry


def _targets(by_round):
    """The spec's checks on the means (ticket vs dense at 21.1/7.0%, control gap at 7.0%, early stop at 21.1%)."""
    targets = {}
    if 0 not in by_round:
        return targets
    dense = by_round[0]["test_accuracy_at_early_stop"]["mean"]
    for r, name in ((7, "21.1"), (12, "7.0")):
        if r in by_round:
            gap = 100 * (by_round[r]["test_accuracy_at_early_stop"]["mean"] - dense)
            targets[f"ticket_{name}_minus_dense_points"] = gap
            targets[f"ticket_{name}_within_0.2_of_dense_or_above"] = bool(gap >= -0.2)
    if 12 in by_round and "control_test_accuracy_at_early_stop" in by_round[12]:
        gap = by_round[12]["ticket_minus_control_points"]["mean"]
        targets["ticket_minus_control_7.0_points"] = gap
        targets["control_7.0_at_least_0.5_below_ticket"] = bool(gap >= 0.5)
    if 7 in by_round:
        it_dense = by_round[0]["early_stop_iteration"]["mean"]
        it_ticket = by_round[7]["early_stop_iteration"]["mean"]
        targets["early_stop_iteration_dense"] = it_dense
        targets["early_stop_iteration_21.1"] = it_ticket
        targets["early_stop_21.1_earlier_than_dense"] = bool(it_ticket < it_dense)
    return targets


def format_mean_ci(stat, scale=1.0, digits=2):
    """``mean ± ci95`` of a ``mean_ci95`` dict (``mean`` alone when n = 1)."""
    if stat is None:
        return "-"
    text = f"{scale * stat['mean']:.{digits}f}"
    return text + (f" ± {scale * stat['ci95']:.{digits}f}" if stat["ci95"] is not None else "")


def format_table(summary, reported_only=True):
    """The headline table (markdown): per reported round, ticket and control, mean ± 95% CI over n trials."""
    lines = ["| % weights remaining | n | ticket test acc. (%) | ticket early-stop it. | control test acc. (%) "
             "| control early-stop it. | ticket - control (points) | control / ticket early-stop it. |",
             "|---|---|---|---|---|---|---|---|"]
    for e in summary["rounds"]:
        if reported_only and not e["reported"]:
            continue
        cells = [f"{e['percent_remaining']:.1f}", str(e["test_accuracy_at_early_stop"]["n"]),
                 format_mean_ci(e["test_accuracy_at_early_stop"], 100),
                 format_mean_ci(e["early_stop_iteration"], 1, 0),
                 format_mean_ci(e.get("control_test_accuracy_at_early_stop"), 100),
                 format_mean_ci(e.get("control_early_stop_iteration"), 1, 0),
                 format_mean_ci(e.get("ticket_minus_control_points")),
                 format_mean_ci(e.get("control_over_ticket_early_stop"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: The paper's settings (Frankle & Carbin 2019, LeNet-300-100 on MNIST) that ``deviations_from_paper`` checks.
PAPER_SETTINGS = {"n_iterations": 50_000, "n_trials": 5, "n_train": None, "n_rounds": 18, "lr": 1.2e-3,
                  "batch_size": 60, "rates": (0.2, 0.2, 0.1), "layer_sizes": LENET_300_100, "init": "glorot_normal"}


def deviations_from_paper(config, n_trials, n_train=None):
    """``Deviation from paper: ...`` lines for every setting of a run that differs from the paper's.

    Parameters
    ----------
    config : LotteryConfig
    n_trials : int
    n_train : int or None (None: all 55,000 training images)

    Returns
    -------
    list of str (empty for ``--full``).
    """
    paper, lines = PAPER_SETTINGS, []
    ran = {**asdict(config), "n_trials": n_trials, "n_train": n_train}
    for key, value in paper.items():
        if (tuple(ran[key]) if isinstance(value, tuple) else ran[key]) != value:
            shown = "all 55000" if value is None else value
            lines.append(f"Deviation from paper: {key}={ran[key]!r} instead of {shown}")
    missing = [r for r in REPORTED_ROUNDS[1:] if r <= config.n_rounds and r not in config.control_rounds]
    if missing:
        lines.append(f"Deviation from paper: no random re-initialisation control at rounds {missing}")
    if config.rewind_iteration:
        lines.append(f"Deviation from paper: rewinding to theta_k, k={config.rewind_iteration} (later work), "
                     "instead of resetting to theta_0")
    return lines


def plot_summary(summary, path):
    """Test accuracy and early-stop iteration against percent of weights remaining: means with 95% CI bands."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, label in ((axes[0], "test_accuracy_at_early_stop", "test accuracy at early stop (%)"),
                           (axes[1], "early_stop_iteration", "early-stop iteration")):
        scale = 100 if "accuracy" in key else 1
        plot_band(ax, summary["rounds"], key, scale, "winning ticket (reset to theta_0)", "-o")
        plot_band(ax, summary["rounds"], f"control_{key}", scale, "random re-initialisation", "--s")
        ax.set(xscale="log", xlabel="percent of weights remaining", ylabel=label)
        ax.invert_xaxis()
        ax.set_xticks([100, 51.3, 21.1, 13.5, 7.0, 3.6, 1.9],
                      labels=["100", "51.3", "21.1", "13.5", "7.0", "3.6", "1.9"])
        ax.legend(fontsize=8)
    fig.suptitle("Iterative magnitude pruning: mean and 95% CI over trials")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def plot_band(ax, rounds, key, scale, label, fmt):
    """One curve of ``key`` against percent remaining, its 95% CI as a band; the legend gives n."""
    rows = [e for e in rounds if key in e]
    if not rows:
        return
    pct = np.array([e["percent_remaining"] for e in rows])
    mean = scale * np.array([e[key]["mean"] for e in rows])
    half = scale * np.array([e[key]["ci95"] or 0.0 for e in rows])
    ax.plot(pct, mean, fmt, ms=3, label=f"{label} (n={rows[0][key]['n']})")
    ax.fill_between(pct, mean - half, mean + half, alpha=0.25)


#: Options the command fills in when left unset: the defaults, with --quick (minutes, not hours), with --full (paper).
COMMAND_DEFAULTS = {"iterations": LotteryConfig.n_iterations, "rounds": LotteryConfig.n_rounds, "trials": 3,
                    "n_train": None, "eval_every": LotteryConfig.eval_every,
                    "control_rounds": list(LotteryConfig.control_rounds)}
QUICK = {"iterations": 300, "rounds": 7, "trials": 2, "n_train": 10000, "eval_every": 50, "control_rounds": [3, 7]}
FULL = {"iterations": 50_000, "rounds": 18, "trials": 5, "n_train": None, "eval_every": 100,
        "control_rounds": list(REPORTED_ROUNDS[1:])}


def add_arguments(parser):
    """Options of ``python -m pruning lottery``."""
    parser.add_argument("--iterations", type=positive_int, default=None,
                        help=f"training iterations per round (default {LotteryConfig.n_iterations}; paper: 50000)")
    parser.add_argument("--rounds", type=non_negative_int, default=None,
                        help=f"pruning rounds after the dense one (default {LotteryConfig.n_rounds})")
    parser.add_argument("--trials", type=positive_int, default=None,
                        help="number of trials (default 3; paper: 5); --seeds N says the same")
    parser.add_argument("--trial-ids", type=non_negative_int, nargs="+", default=None,
                        help="run only these trials (e.g. one per process); the summary uses the finished ones")
    parser.add_argument("--eval-every", type=positive_int, default=None,
                        help=f"iterations between validation losses (default {LotteryConfig.eval_every})")
    parser.add_argument("--rewind", type=non_negative_int, default=0,
                        help="rewind to theta_k after k iterations (0: theta_0)")
    parser.add_argument("--control-rounds", type=non_negative_int, nargs="*", default=None,
                        help=f"rounds also trained from a random re-initialisation "
                             f"(default {' '.join(map(str, LotteryConfig.control_rounds))})")
    parser.add_argument("--n-train", type=positive_int, default=None, help="training subset (default: all 55000)")
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument("--data-dir", default=None, help="data folder (default: $NNLITE_DATA)")
    parser.add_argument("--out", default="results/lottery",
                        help="run folder (resumed if it exists; other settings than the saved run's are refused)")
    parser.add_argument("--blas-threads", type=positive_int, default=1,
                        help="BLAS/numba threads per trial (1 is fastest for batch 60)")
    add_grid_arguments(parser)
    parser.add_argument("--summary-only", action="store_true", help="summarise the finished rounds, train nothing")
    parser.add_argument("--summarize", metavar="DIR", default=None,
                        help="print the headline table of DIR/results.jsonl (finished trials), train nothing")
    parser.add_argument("--quick", action="store_true",
                        help="minutes, not hours: 300 iterations, rounds 0-7, 2 trials, 10000 training images, "
                             "eval every 50, controls at rounds 3 and 7 (options given explicitly win)")
    parser.add_argument("--full", action="store_true",
                        help="the paper's settings: 50000 iterations, rounds 0-18, 5 trials, all 55000 training "
                             "images, eval every 100, controls at every reported round (options given explicitly win)")


def config_from_args(args):
    """The ``LotteryConfig`` of the command's options (unset ones from the defaults, ``--quick`` or ``--full``)."""
    if getattr(args, "full", False):
        if getattr(args, "quick", False):
            raise ValueError("--full: expected either --full (the paper's settings) or --quick, found both; "
                             "drop one")
        resolve_defaults(args, {**COMMAND_DEFAULTS, **FULL})
    else:
        resolve_defaults(args, COMMAND_DEFAULTS, QUICK)
    with option_names({"n_rounds": "--rounds", "n_iterations": "--iterations", "eval_every": "--eval-every",
                       "rewind_iteration": "--rewind", "control_rounds": "--control-rounds", "seed": "--seed"}):
        return LotteryConfig(n_rounds=args.rounds, n_iterations=args.iterations, eval_every=args.eval_every,
                             rewind_iteration=args.rewind, control_rounds=tuple(args.control_rounds),
                             seed=args.seed)


def main(args):
    """``python -m pruning lottery``: run (or resume) the trials as a grid, print the table and a JSON summary.

    Each trial is one task of ``nnlite.experiment.run_grid``; ``--out`` receives ``results.jsonl``
    (one record per trial, sorted by key) and ``timings.jsonl`` beside the trial folders.
    ``--summarize DIR`` only prints the table of ``DIR/results.jsonl``.
    """
    if args.summarize is not None:
        return summarize_results(args.summarize)
    config = config_from_args(_seeds_as_trials(args))
    grid = grid_options(args)
    out = Path(args.out)
    trial_ids = args.trial_ids if args.trial_ids is not None else list(range(args.trials))
    remove_stale_temp_files(out)
    t0 = time.perf_counter()
    data_settings = {"n_train": args.n_train}
    for trial in trial_ids:   # refuse other settings than a saved run's before loading any data
        _load_records(out / f"trial_{trial}" / "records.json", config, data_settings)
    if args.n_train is not None and not args.summary_only:   # bounded by the training set (MNIST: 55000)
        from nnlite import data as D
        check_subset_size(args.n_train, "--n-train", D.MNIST_TRAIN_IMAGES - N_VALIDATION,
                          f"the training set less {N_VALIDATION} validation images")
    if not args.summary_only:
        params = [{"config": _config_json(config), "data": data_settings, "trial": trial} for trial in trial_ids]
        task = functools.partial(lottery_trial, out_dir=str(out), data_dir=args.data_dir, progress=True)
        run_grid(task, params, out, seed=config.seed, n_threads=args.blas_threads, **grid)
    trial_records = [json.loads(p.read_text())["records"] for p in sorted(out.glob("trial_*/records.json"))]
    if args.summary_only and not trial_records:
        raise ValueError(f"--summary-only: {out} holds no finished round; run without --summary-only first")
    summary = summarize(trial_records, [r for r in REPORTED_ROUNDS if r <= config.n_rounds])
    summary.update(config=_config_json(config), n_trials=len(trial_records), seconds=time.perf_counter() - t0,
                   seconds_per_round=float(np.mean([r["seconds"] for t in trial_records for r in t]))
                   if trial_records else None,
                   deviations=deviations_from_paper(config, len(trial_records), args.n_train))
    save_json(out / "summary.json", summary)
    if summary["rounds"]:
        plot_summary(summary, out / "lottery.png")
        print(format_table(summary))
    print("\n".join(summary["deviations"]))
    print(json.dumps(summary))
    return 0


def summarize_results(folder):
    """``--summarize DIR``: the table, the deviations and the JSON summary of ``DIR/results.jsonl``."""
    path = Path(folder) / "results.jsonl"
    if not path.is_file():
        raise ValueError(f"--summarize: expected a run folder holding results.jsonl, found none in {folder}; "
                         "give the --out folder of a finished run")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        raise ValueError(f"--summarize: {path} holds no finished trial; run the experiment first")
    rows.sort(key=lambda row: row["params"]["trial"])
    config = LotteryConfig(**rows[0]["params"]["config"])
    summary = summarize([row["result"] for row in rows], [r for r in REPORTED_ROUNDS if r <= config.n_rounds])
    summary.update(config=_config_json(config), n_trials=len(rows),
                   deviations=deviations_from_paper(config, len(rows), rows[0]["params"]["data"]["n_train"]))
    print(format_table(summary))
    print("\n".join(summary["deviations"]))
    print(json.dumps(summary))
    return 0


def _seeds_as_trials(args):
    """``--seeds N`` is ``--trials N`` (trial t draws every stream from (seed, t)); both must agree."""
    if args.seeds is not None:
        if args.trials is not None and args.trials != args.seeds:
            raise ValueError(f"--seeds: expected the same number as --trials, found --seeds {args.seeds} and "
                             f"--trials {args.trials}; give one of them")
        args.trials = args.seeds
    return args
