"""The dynamic sparse training experiment: ``python -m pruning dsr``.

One small CNN, dense vs static vs SET vs DSR vs RigL vs GMP at 80% and 90%
sparsity (``pruning.dsr`` holds the algorithms). Every (seed, method,
sparsity) run is one task of ``nnlite.experiment.run_grid``: its record
(curves, test accuracy, sizes; no timing) goes to ``--out/results.jsonl``,
so a killed experiment resumes after its finished runs, on any backend.
All methods at one ``--seed`` share the initial weights and the minibatch
order: each seed spawns independent streams (``pruning.dsr.seed_streams``)
for the initial weights, the data order, the initial sparse topologies and
the regrowth, and no method draws from another's stream.

The command also writes, per seed, ``dsr.jsonl`` (a header with the
settings, one line per run, the summary), ``dsr_curves.png`` and
``dsr_table.md``; with ``--seeds N`` (or ``--seed-study``) each seed has its
folder ``--out/seed<k>`` and ``seeds.md``/``seeds.json`` give each method's
mean with a 95% t interval and its paired difference to dense.
``--seed-study`` tests the seed CNN study's claim (a Keras CNN at 70.42% on
CIFAR-10 after 10 epochs, the dynamically pruned CNN at 77.01%) with its
design as closely as the data allows: only a 4,000-image training /
1,000-image test subset of CIFAR-10 exists here.

``run_one`` trains one model from a ``RunConfig`` (plain settings, never
parsed command-line arguments); ``RECIPES`` names the paper's training
schedule and the seed study's.
"""
import dataclasses
import functools
import json
from pathlib import Path

import numpy as np

from nnlite._checks import check_choice, check_int, check_rng, check_subset_size
from nnlite.cli import (add_grid_arguments, count_or_fraction, grid_options, non_negative_int, option_names,
                        positive_float, positive_int, resolve_defaults, save_figure)
from nnlite.cli import sparsity as sparsity_option
from nnlite.experiment import Dataset, load_dataset as load_registered, register_dataset, run_grid, write_text_atomic
from pruning.dsr import DENSE_LAYERS, DSR, METHODS, StepDecay, build_model, chain, make_method, seed_streams


CIFAR_NOTE = ("CIFAR-10: only a 4,000-image training / 1,000-image test subset of the official binary "
              "files exists in shared/data/cifar-10; these results are on that subset, not the full dataset")


#: The two named settings of the command (``--recipe``); see the module docstring.
RECIPES = {
    "paper": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "lr_schedule": "paper",
              "rewire_schedule": "paper", "dense_layers": "ends"},
    # Deviation from paper: Adam at a constant rate, a constant never-stopping period, every layer sparse.
    "seed-study": {"optimizer": "adam", "lr": 1e-3, "momentum": 0.0, "weight_decay": 0.0, "lr_schedule": "constant",
                   "rewire_schedule": "constant", "dense_layers": "none"},
}


def load_dataset(name, data_dir=None, n_train=None, n_validation=None, rng=None, validation="split"):
    """NHWC float32 images in [0, 1] and labels, split into train/validation/test.

    validation : {"split", "test"}
        "split": hold out ``n_validation`` (default 1/12) of the training
        images. "test": train on every training image and log the test set as
        the validation data (as a Keras script passing ``validation_data=
        (x_test, y_test)`` does; nothing is selected on it).

    Returns an ``nnlite.experiment.Dataset``; ``dataset_note`` says in words what it holds.
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
    return Dataset(X, y, X_val, y_val, images(X_test), y_test)


def dataset_note(name, n_train=None, validation="split"):
    """What the runs were trained and tested on, in words (the first line of their tables)."""
    note = CIFAR_NOTE if name == "cifar10" else f"{name}: full test set, " + (
        f"a random {n_train:,}-image training subset" if n_train is not None and n_train < 60000
        else "full training set")
    return note + ("; validation curves = the test set" if validation == "test" else "")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The settings of one training run (``run_one``); the defaults are the seed study's recipe.

    ``storage`` is "dense" or "csr", fixed for the whole run ("auto" is
    resolved once, before the model is built: ``resolve_storage``).
    """
    epochs: int = 10
    batch_size: int = 128
    channels: tuple = (16, 32)
    hidden: int = 128
    distribution: str = "erdos_renyi"
    storage: str = "dense"
    dense_layers: str = "none"
    rewire_period: int = 100
    n_prune_target: float = 0.02
    rewire_schedule: str = "constant"
    set_removal: str = "per_sign"
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    lr_schedule: str = "constant"
    rescore_train: bool = False

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        check_choice(self.storage, "storage", ("dense", "csr"))
        check_choice(self.optimizer, "optimizer", ("sgd", "adam"))
        check_optimizer_options(self.optimizer, self.momentum, self.weight_decay)
        for name in ("epochs", "batch_size", "hidden", "rewire_period"):
            check_int(getattr(self, name), name)

    @classmethod
    def from_recipe(cls, recipe="seed-study", **settings):
        """``RECIPES[recipe]``'s optimizer and schedules, then ``settings``."""
        check_choice(recipe, "recipe", tuple(RECIPES))
        return cls(**{**RECIPES[recipe], **settings})

    @classmethod
    def from_options(cls, options):
        """The config of the command's options (any object with an attribute per field)."""
        return cls(**{f.name: getattr(options, f.name) for f in dataclasses.fields(cls)})


def check_optimizer_options(optimizer, momentum, weight_decay):
    """Refuse a momentum or weight decay with ``optimizer="adam"`` (this Adam has neither)."""
    if optimizer == "adam" and (weight_decay or momentum):
        raise ValueError(f"--optimizer adam: takes no --momentum or --weight-decay, found {momentum} and "
                         f"{weight_decay}; set them to 0 or use --optimizer sgd")


def make_optimizer(config, n_steps):
    """(optimizer, its learning-rate hook or None) for ``config.optimizer``, ``lr``, ``momentum``,
    ``weight_decay`` and ``lr_schedule`` ("paper": ``StepDecay``; "constant": none)."""
    from nnlite.optim import SGD, Adam
    check_optimizer_options(config.optimizer, config.momentum, config.weight_decay)
    optimizer = Adam(config.lr) if config.optimizer == "adam" else SGD(config.lr, config.momentum, config.weight_decay)
    return optimizer, (StepDecay(config.lr, n_steps).on_step if config.lr_schedule == "paper" else None)


def resolve_storage(storage, method, sparsity):
    """"dense" or "csr" for one run: ``storage`` itself, or for "auto" CSR when both kinds of layer are
    faster stored CSR at the run's sparsity on this machine (``pruning.sparse_layers.storage_for``);
    decided once, by the command, before the model is built, and recorded in the run's parameters."""
    check_choice(storage, "storage", ("auto", "dense", "csr"))
    if storage != "auto":
        return storage
    if method in ("dense", "gmp"):                     # plain layers, or dynamic ones starting dense
        return "dense"
    from pruning.sparse_layers import storage_for
    return "csr" if storage_for(sparsity, "linear") == storage_for(sparsity, "conv") == "csr" else "dense"


def run_one(method, sparsity, dataset, config, seed):
    """Train one model from the streams of ``seed``; return a JSON-ready record (curves, test accuracy, sizes).

    Parameters
    ----------
    method : one of ``pruning.dsr.METHODS``
    sparsity : float in [0, 1)
    dataset : nnlite.experiment.Dataset of images, X_train of shape (n, h, w, c) (``load_dataset``)
    config : RunConfig
    seed : int >= 0; its streams (``seed_streams``) give the initial weights, the
        minibatch order, the initial topologies and the regrowth, so every
        method at one seed starts from the same weights and sees the same batches.
    """
    from nnlite.train import fit
    from pruning.sparse_layers import memory_report
    from pruning.rigl import RigL
    if not isinstance(config, RunConfig):
        raise TypeError(f"config: expected a RunConfig, found {type(config).__name__}; "
                        "pass RunConfig(...) or RunConfig.from_recipe(...)")
    streams = seed_streams(seed)
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset: expected an nnlite.experiment.Dataset, found {type(dataset).__name__}; "
                        "pass load_dataset(...) or Dataset(X_train, y_train, X_val, y_val, X_test, y_test)")
    X, y = dataset.X_train, dataset.y_train
    n_classes = int(max(y.max(), dataset.y_test.max())) + 1
    model = build_model(method, X.shape[1:], n_classes, sparsity, channels=config.channels, hidden=config.hidden,
                        distribution=config.distribution, storage=config.storage, dense_layers=config.dense_layers,
                        rng=streams["init"], topology_rng=streams["topology"])
    n_steps = config.epochs * -(-len(X) // config.batch_size)
    driver = make_method(method, sparsity, n_steps, streams["regrowth"], config.rewire_period,
                         config.n_prune_target, rewire_schedule=config.rewire_schedule,
                         set_removal=config.set_removal, data=(X, y), batch_size=config.batch_size)
    optimizer, lr_hook = make_optimizer(config, n_steps)
    history = fit(model, X, y, optimizer=optimizer, epochs=config.epochs, batch_size=config.batch_size,
                  rng=streams["data_order"], validation_data=(dataset.X_val, dataset.y_val), progress=False,
                  on_step=chain(getattr(driver, "on_step", None), lr_hook),
                  on_epoch_end=getattr(driver, "on_epoch_end", None), rescore_train=config.rescore_train)
    record = {"method": method, "sparsity": 0.0 if method == "dense" else sparsity, "seed": seed,
              "test_accuracy": model.score(dataset.X_test, dataset.y_test), **memory_report(model),
              **history.as_dict()}
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
    """The per-run records (one per method and sparsity) of a ``dsr.jsonl`` file, or of a grid's record file
    (``--out/results.jsonl``, as committed in ``docs/records``: each line's ``result``)."""
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
    records = [r["result"] if {"key", "params", "result"} <= r.keys() else r for r in records]
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
    return seed_rows(accuracy)


def seed_rows(accuracy):
    """``seed_statistics``'s rows from {(method, sparsity): {seed: accuracy}}."""
    dense = accuracy.get(("dense", 0.0), {})
    rows = []
    for (method, sparsity), by_file in accuracy.items():
        by_file = dict(sorted(by_file.items()))   # in seed order
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
    """``format_seed_table`` of the ``dsr.jsonl`` (or ``results.jsonl``) files of runs with different ``--seed``."""
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
                             "to float rounding, but DSR amplifies rounding; 'auto' chooses by a timing on this "
                             "machine, once per run before the model is built, and records its choice")
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
                        help="run seeds --seed .. --seed + N - 1 (one grid), each seed's files in --out/seed<k>, "
                             "and write "
                             "seeds.md/seeds.json: mean ± 95%% t interval and paired gap to dense (default: 1; "
                             "--seed-study: 5)")
    parser.add_argument("--seed-study", action="store_true",
                        help="test the seed CNN study's claim: CIFAR-10 subset (4,000/1,000), dense vs DSR, 10 "
                             "epochs, Adam, 5 seeds, paired difference with its 95%% CI (options given win)")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $NNLITE_DATA)")
    parser.add_argument("--out", default="results/dsr",
                        help="folder for dsr.jsonl, dsr_curves.png, dsr_table.md; an interrupted run there is "
                             "resumed (its finished runs kept), other settings than its are refused")
    parser.add_argument("--blas-threads", type=positive_int, default=1, help="BLAS/numba threads per run")
    add_grid_arguments(parser, seeds=False)
    parser.add_argument("--quick", action="store_true",
                        help="3,000 training images, 2 epochs, a narrower CNN (options given explicitly win)")
    parser.add_argument("--compare-seeds", nargs="+", metavar="JSONL", default=None,
                        help="train nothing: read the dsr.jsonl (or the grid's results.jsonl) of runs with "
                             "different --seed and print "
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
    """``python -m pruning dsr``: every (seed, method, sparsity) run as one task of a grid; then, per seed,
    ``dsr.jsonl``, curves and table, and with several seeds ``seeds.md``/``seeds.json``.

    The records of the runs go to ``--out/results.jsonl`` (``nnlite.experiment.run_grid``): the same
    command run again skips the finished runs. One seed (no ``--seeds``, no ``--seed-study``) writes its
    files in ``--out`` itself, several seeds in ``--out/seed<k>``.
    """
    with option_names({"path": "--compare-seeds", "n_train": "--n-train"}):
        if args.compare_seeds:
            print(compare_seeds(args.compare_seeds))
            return 0
        apply_presets(args)
        grid = grid_options(args)
        _check_channels(args.channels, IMAGE_SIZES[args.dataset])
        check_optimizer_options(args.optimizer, args.momentum, args.weight_decay)
        seeds = list(range(args.seed, args.seed + args.seeds))
        one_folder = args.seeds == 1 and not args.seed_study
        out = Path(args.out)
        folders = {seed: out if one_folder else out / f"seed{seed}" for seed in seeds}
        for seed in seeds:       # refuse other settings than a saved run's before any work
            finished_runs(folders[seed] / "dsr.jsonl", _for_seed(args, seed))
        headers = {seed: _header(args, seed) for seed in seeds}     # loads the data: a refusal writes nothing
        for seed in seeds:
            folders[seed].mkdir(parents=True, exist_ok=True)
            write_text_atomic(folders[seed] / "dsr.jsonl", json_line(headers[seed]) + "\n")
        params = [{"method": method, "sparsity": sparsity, "seed": seed, "data": _data_settings(args, seed),
                   "config": _config_json(args, method, sparsity)}
                  for seed in seeds for method, sparsity in planned_runs(args)]
        records = run_grid(functools.partial(dsr_run, data_dir=args.data_dir), params, out,
                           n_threads=args.blas_threads, **grid)
        by_run = {(r["params"]["seed"], r["params"]["method"], r["params"]["sparsity"]): r["result"] for r in records}
        for seed in seeds:
            runs = [by_run[(seed, method, sparsity)] for method, sparsity in planned_runs(args)]
            write_seed_files(folders[seed], headers[seed], runs)
        return 0 if one_folder else write_seed_summary(args, out, seeds, [folders[s] / "dsr.jsonl" for s in seeds])


def _for_seed(args, seed):
    return argparse_copy(args, seed=seed)


def _data_settings(args, seed):
    return {"dataset": args.dataset, "n_train": args.n_train, "seed": seed, "validation": args.validation}


def _config_json(args, method, sparsity):
    """The run's ``RunConfig`` as JSON, with "auto" storage resolved (once, here, before any model is built)."""
    config = RunConfig.from_options(argparse_copy(args, storage=resolve_storage(args.storage, method, sparsity)))
    return json.loads(json.dumps(dataclasses.asdict(config)))


def argparse_copy(args, **changes):
    import argparse
    return argparse.Namespace(**{**vars(args), **changes})


def _header(args, seed):
    """The first line of a seed's ``dsr.jsonl``: the data (loaded here, so a bad option fails before any
    file is written) and the settings a resumed run must match."""
    dataset = _load_for_grid(args.data_dir, **_data_settings(args, seed))
    return {"dataset": args.dataset, "note": dataset_note(args.dataset, args.n_train, args.validation),
            "n_train": len(dataset.X_train), "n_validation": len(dataset.X_val), "n_test": len(dataset.X_test),
            "epochs": args.epochs, "batch_size": args.batch_size,
            "settings": {k: getattr(_for_seed(args, seed), k) for k in SETTINGS}}


def _load_for_grid(data_dir, dataset, n_train, seed, validation):
    """The images of one seed's runs, through ``nnlite.experiment.load_dataset`` (cached per process)."""
    return load_registered("dsr-images", dataset=dataset, data_dir=data_dir, n_train=n_train, seed=seed,
                           validation=validation)


register_dataset("dsr-images", lambda dataset, data_dir, n_train, seed, validation: load_dataset(
    dataset, data_dir, n_train, rng=seed, validation=validation))


def dsr_run(params, seed_sequence, data_dir=None):
    """One grid task: ``run_one`` of ``params`` (method, sparsity, seed, data settings, config).

    The run's streams are ``seed_streams(params["seed"])``, shared by every method at that seed, so
    ``seed_sequence`` is not drawn from. A diverged run raises ``FloatingPointError`` (nothing recorded).
    """
    dataset = _load_for_grid(data_dir, **params["data"])
    config = RunConfig(**params["config"])
    record = run_one(params["method"], params["sparsity"], dataset, config, params["seed"])
    json_line(record)
    return record


def write_seed_files(folder, header, runs):
    """``dsr.jsonl`` (header, runs, summary), ``dsr_curves.png`` and ``dsr_table.md`` of one seed; prints them."""
    lines = [json_line(header), *map(json_line, runs), json_line({"summary": summarise(runs), "note": header["note"]})]
    print("\n".join(lines[1:]), flush=True)
    write_text_atomic(folder / "dsr.jsonl", "\n".join(lines) + "\n")
    plot_curves(runs, folder / "dsr_curves.png")
    table = format_table(runs)
    write_text_atomic(folder / "dsr_table.md", f"{header['note']}\n\n{table}\n")
    print(table)


def write_seed_summary(args, out, seeds, paths):
    """``seeds.md`` and ``seeds.json``: each method's mean with its 95% t interval and the paired difference to
    dense (and, for ``--seed-study``, the verdict on the seed study's claim)."""
    rows = seed_statistics(paths)
    verdict = seed_study_verdict(rows) if args.seed_study else []
    # with the test set as validation data, val_accuracy[3] is the test accuracy after 4 epochs
    rows_4 = seed_statistics(paths, lambda r: r["val_accuracy"][3]) if args.validation == "test" and \
        args.epochs >= 4 else []
    note = json.loads(paths[0].read_text().splitlines()[0])["note"]
    write_text_atomic(out / "seeds.json", json_line({"seeds": seeds, "note": note, "rows": rows,
                                                     "rows_after_4_epochs": rows_4, "verdict": verdict}) + "\n")
    table = format_seed_table(rows) + ("\n\nTest accuracy after 4 epochs:\n\n" + format_seed_table(rows_4)
                                       if rows_4 else "")
    text = "\n\n".join([note, table] + (["\n".join(f"- {v}" for v in verdict)] if verdict else []))
    write_text_atomic(out / "seeds.md", text + "\n")
    print(text)
    return 0
