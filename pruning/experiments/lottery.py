"""The lottery ticket experiment: ``python -m pruning lottery``.

IMP of LeNet-300-100 on MNIST (``pruning.lottery`` holds the algorithm),
trial by trial, one trial per task of ``nnlite.experiment.run_grid``; the
trials' records go to ``--out/results.jsonl``, the table to stdout, the
summary to ``--out/summary.json`` and the curves to ``--out/lottery.png``.

Resumable runs: after each completed round ``run_trial`` writes, in the
trial's folder, the mask for the next round (``masks_round_{r}.npz``) and the
records so far (``records.json``); theta_0 (and theta_k) are written once.
Every random draw of round r comes from a generator seeded by (seed, trial,
r) (``pruning.lottery``'s named streams), so a run interrupted after round r
and started again continues from round r + 1 and produces bit-identical
results.
"""
import functools
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from scipy import stats

from nnlite import MLP
from nnlite._checks import check_subset_size
from nnlite.cli import (add_grid_arguments, grid_options, non_negative_int, option_names, positive_int,
                        resolve_defaults, save_figure)
from nnlite.experiment import (atomic_write, load_dataset, register_dataset, remove_stale_temp_files, run_grid,
                               write_text_atomic)
from pruning import masks as M
from pruning.lottery import _STREAM_SPLIT, LENET_300_100, LotteryConfig, _is_int, imp_round, initial_parameters


#: Rounds whose fraction remaining the paper reports: 100, 51.3, 21.1, 13.5, 7.0, 3.6, 1.9 %.
REPORTED_ROUNDS = (0, 3, 7, 9, 12, 15, 18)
N_VALIDATION = 5000                             # training images held out for early stopping (the paper)


# -- saving and resuming ------------------------------------------------------
def save_arrays(path, arrays):
    """Write a dict of arrays to ``path`` (.npz, no pickle), atomically (``nnlite.experiment.atomic_write``)."""
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


# -- IMP for one trial, resumable ---------------------------------------------
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
    if (folder / "theta_0.npz").exists():
        theta_0 = _model_from_arrays(load_arrays(folder / "theta_0.npz"), n_layers)
    else:
        theta_0 = initial_parameters(config, trial)            # Alg. step 1, saved for every later reset
        save_arrays(folder / "theta_0.npz", _model_arrays(theta_0))
    start = len(records)
    masks = (M.current_masks(theta_0) if start == 0 else
             [load_arrays(folder / f"masks_round_{start}.npz")[f"mask{i}"] for i in range(n_layers)])
    rewind_path = folder / "theta_rewind.npz"
    # theta_k counts only once round 0 is recorded: a kill between writing it and records.json redoes round 0
    theta_rewind = (_model_from_arrays(load_arrays(rewind_path), n_layers)
                    if start > 0 and config.rewind_iteration else None)
    for round_index in range(start, config.n_rounds + 1):
        t0 = time.perf_counter()
        record, masks, snapshot = imp_round(config, data, trial, round_index, masks, theta_0, theta_rewind)
        if snapshot is not None:                       # theta_k, kept for every later reset
            theta_rewind = snapshot
            save_arrays(rewind_path, _model_arrays(theta_rewind))
        record["seconds"] = time.perf_counter() - t0
        save_arrays(folder / f"masks_round_{round_index + 1}.npz", _masks_arrays(masks))
        records.append(record)
        save_json(state_path, {"config": _config_json(config), "data": data_settings or {}, "records": records})
        if progress:
            _print_round(trial, record)
        if on_round_end is not None:
            on_round_end(trial, round_index)
    return records


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
    summary = summarize_records(path)
    print(format_table(summary))
    print("\n".join(summary["deviations"]))
    print(json.dumps(summary))
    return 0


def summarize_records(path):
    """``summarize`` of the trials of a ``results.jsonl`` file, with the run's config, n_trials and deviations."""
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    if not rows:
        raise ValueError(f"--summarize: {path} holds no finished trial; run the experiment first")
    rows.sort(key=lambda row: row["params"]["trial"])
    config = LotteryConfig(**rows[0]["params"]["config"])
    summary = summarize([row["result"] for row in rows], [r for r in REPORTED_ROUNDS if r <= config.n_rounds])
    summary.update(config=_config_json(config), n_trials=len(rows),
                   deviations=deviations_from_paper(config, len(rows), rows[0]["params"]["data"]["n_train"]))
    return summary


def _seeds_as_trials(args):
    """``--seeds N`` is ``--trials N`` (trial t draws every stream from (seed, t)); both must agree."""
    if args.seeds is not None:
        if args.trials is not None and args.trials != args.seeds:
            raise ValueError(f"--seeds: expected the same number as --trials, found --seeds {args.seeds} and "
                             f"--trials {args.trials}; give one of them")
        args.trials = args.seeds
    return args
