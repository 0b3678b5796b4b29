"""The Optimal Brain Damage experiment: ``python -m pruning obd``.

One replicate per seed (``run_seed``): train a dense MLP on MNIST, then
delete weights with OBD's saliency, by magnitude and at random
(``pruning.obd.optimal_brain_damage``), to each fraction of ``--fractions``,
iteratively (the paper's recipe) or in one shot. Each seed is one task of
``nnlite.experiment.run_grid``: its records go to ``--out/results.jsonl``
(a killed run resumes after its finished seeds), and the command also
writes ``--out/obd_<mode>.jsonl`` (a settings line, then the lines of every
seed: what ``--summarize`` reads and ``docs/records`` holds) and the plot
``--out/obd_<mode>.png``. Tables give mean ± 95% t interval (n) over seeds.

Random streams of a seed (named, so that the methods differ only by their score):
``default_rng(seed)`` draws the training subset and trains the dense network
all methods start from; ``default_rng([seed, DATA_ORDER])``, a fresh copy for
each method, draws the Hessian samples and the retraining minibatches, so every
method retrains on the same minibatches; ``default_rng([seed, METHOD, k])``
draws method k's own numbers (the random scores).
"""
import functools
import json
from pathlib import Path

import numpy as np

from nnlite import data as data_module
from nnlite._checks import check_rng, check_subset_size
from nnlite.cli import (add_grid_arguments, grid_options, non_negative_int, positive_float, positive_int,
                        probability, resolve_defaults, save_figure)
from nnlite.experiment import Dataset, load_dataset, register_dataset, run_grid, write_text_atomic
from pruning import masks as M
from pruning.obd import (APPROXIMATIONS, DELETION_SCORES, OPTIMIZERS, deletion_scores, optimal_brain_damage,
                         predicted_loss_increase, saliencies, second_derivatives, single_deletions, train_network)


#: The keys of a seed's named streams: ``default_rng([seed, DATA_ORDER])`` (the Hessian samples and the
#: retraining minibatches, the same for every method) and ``default_rng([seed, METHOD, k])`` (method k's own).
DATA_ORDER, METHOD = 1, 2


def mnist_dataset(data_dir=None):
    """MNIST for ``load_dataset("obd-mnist", data_dir=...)``: OBD holds no validation split (empty X_val, y_val)."""
    X, y, X_test, y_test = load_mnist_arrays(data_dir)
    return Dataset(X, y, X[:0], y[:0], X_test, y_test)


def load_mnist_arrays(data_dir=None, n_train=None, rng=None):
    """MNIST as float32 rows in [0, 1]: (X_train, y_train, X_test, y_test), training subset of n_train."""
    from nnlite import data
    X, y = data.load_mnist("train", data_dir)
    X_test, y_test = data.load_mnist("test", data_dir)
    if n_train is not None and n_train < len(X):
        keep = check_rng(rng).choice(len(X), n_train, replace=False)
        X, y = X[keep], y[keep]
    flat = lambda images: data.flatten(data.scale_255(images))  # noqa: E731
    return flat(X), y, flat(X_test), y_test


MODES = ("iterative", "one-shot")


#: The settings a records file is made with (its first line); a resumed run must match them.
SETTINGS = ("mode", "n_train", "hidden", "epochs", "retrain_epochs", "batch_size", "lr", "optimizer",
            "hessian_samples", "approximation", "fractions", "n_single")


def deletion_schedule(fractions, n_weights):
    """Per-iteration counts that take the removed share of ``n_weights`` through ``fractions`` (increasing)."""
    targets = [int(round(f * n_weights)) for f in fractions]
    return [b - a for a, b in zip([0, *targets[:-1]], targets)]


def run_seed(data, seed, *, mode="iterative", hidden=(300, 100), epochs=5, retrain_epochs=1, batch_size=64,
             lr=1e-3, optimizer="adam", hessian_samples=None, approximation="lecun",
             fractions=(0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.98), n_single=40, n_train=None):
    """One replicate: train a dense MLP from ``seed``, then delete with OBD, magnitude and random scores.

    Parameters
    ----------
    data : (X, y, X_test, y_test), X of shape (n, d_in) in [0, 1], y of shape (n,)
    mode : "iterative" (the paper's recipe: delete to each fraction in turn,
        retraining ``retrain_epochs`` after each) or "one-shot" (Deviation from
        paper: delete each fraction at once from the dense net, then retrain).
    fractions : increasing fractions of the weights removed (0 excluded).
    n_train : int, optional
        A random training subset of this size (drawn from ``seed``).

    Returns
    -------
    list of dict, the records: one "dense" line, one "single_deletions"
    line, and one line per (method, fraction) with test_error (after
    deletion) and test_error_retrained.
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, found {mode!r}")
    X, y, X_test, y_test = data
    check_subset_size(n_train, "n_train", len(X))
    rng = np.random.default_rng(seed)
    if n_train is not None and n_train < len(X):
        keep = rng.choice(len(X), n_train, replace=False)
        X, y = X[keep], y[keep]
    from nnlite import MLP
    model = train_network(MLP([X.shape[1], *hidden, int(max(y.max(), y_test.max())) + 1], init="glorot_uniform",
                              rng=rng), X, y, epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, rng=rng)
    n_h = None if hessian_samples is None else min(hessian_samples, len(X))
    train = dict(retrain_epochs=retrain_epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                 approximation=approximation, hessian_samples=n_h)
    lines = [{"seed": seed, "method": "dense", "fraction_removed": 0.0, "test_error": 1 - model.score(X_test, y_test)},
             {"seed": seed, "single_deletions": single_deletion_summary(model, X, y, n_single, n_h, rng)}]
    run = _iterative_curve if mode == "iterative" else _one_shot_curve
    for k, method in enumerate(DELETION_SCORES):
        # Named streams: every method draws its Hessian samples and retraining minibatches from the same
        # data-order stream (a fresh copy per method), and its own numbers (random scores) from its own.
        data_rng, method_rng = np.random.default_rng([seed, DATA_ORDER]), np.random.default_rng([seed, METHOD, k])
        rows = run(model, (X, y, X_test, y_test), method, sorted(set(fractions) - {0.0}), train, method_rng,
                   data_rng)
        lines += [{"seed": seed, "method": method, **row} for row in rows]
    return lines


def _iterative_curve(model, data, method, fractions, train, rng, data_rng):
    """The paper's recipe through ``optimal_brain_damage``: delete up to each fraction in turn, retrain."""
    X, y, X_test, y_test = data
    amounts = deletion_schedule(fractions, sum(int(m.sum()) for m in M.current_masks(model)))
    _, records = optimal_brain_damage(model, X, y, amount=amounts, method=method, rng=rng, data_rng=data_rng,
                                      evaluate=lambda m: 1 - m.score(X_test, y_test), **train)
    return [{"fraction_removed": float(f), "test_error": r["pruned"], "test_error_retrained": r["retrained"],
             "actual_increase": r["actual_increase"], "predicted_increase": r.get("predicted_increase")}
            for f, r in zip(fractions, records)]


def _one_shot_curve(model, data, method, fractions, train, rng, data_rng):
    """Deviation from paper (``mode="one-shot"``): each fraction deleted at once from the dense net."""
    X, y, X_test, y_test = data
    idx = np.arange(len(X)) if train["hessian_samples"] is None else data_rng.choice(
        len(X), train["hessian_samples"], replace=False)
    h = second_derivatives(model, X[idx], y[idx], train["approximation"]) if method == "obd" else None
    scores, full = deletion_scores(model, h, method, rng), M.current_masks(model)
    rows = []
    for fraction in fractions:
        pruned = M.apply_masks(model, M.global_lowest_score_masks(scores, float(fraction), full))
        row = {"fraction_removed": float(fraction), "test_error": 1 - pruned.score(X_test, y_test),
               "actual_increase": pruned.loss(X[idx], y[idx]) - model.loss(X[idx], y[idx])}
        if h is not None:
            row["predicted_increase"] = predicted_loss_increase(scores, full, M.current_masks(pruned))
        if train["retrain_epochs"]:
            pruned = train_network(pruned, X, y, epochs=train["retrain_epochs"], batch_size=train["batch_size"],
                                   lr=train["lr"], optimizer=train["optimizer"], rng=data_rng)
        rows.append({**row, "test_error_retrained": 1 - pruned.score(X_test, y_test)})
    return rows


def single_deletion_summary(model, X, y, n_single, hessian_samples=None, rng=None):
    """Saliency against the actual loss change of deleting one weight at a time (float64 copy of ``model``).

    Returns a dict of rank correlations (scipy.stats.spearmanr) of the actual
    change with the saliency and with saliency + first-order term -g u, or
    None when ``n_single`` < 3.
    """
    if n_single < 3:
        return None
    from scipy import stats
    idx = np.arange(len(X)) if hessian_samples is None else check_rng(rng).choice(len(X), hessian_samples,
                                                                                    replace=False)
    model = model.copy()
    model.weights = [W.astype(np.float64) for W in model.weights]
    model.biases = [b.astype(np.float64) for b in model.biases]
    X_h, y_h = X[idx].astype(np.float64), y[idx]
    single = single_deletions(model, saliencies(model, second_derivatives(model, X_h, y_h)), X_h, y_h, n_single)
    pred, act = np.array([r["predicted"] for r in single]), np.array([r["actual"] for r in single])
    both = pred + np.array([r["first_order"] for r in single])
    return {"n_weights": len(single),
            "spearman_actual_vs_saliency": float(stats.spearmanr(pred, act).statistic),
            "spearman_actual_vs_saliency_plus_first_order": float(stats.spearmanr(both, act).statistic),
            "median_actual_over_saliency": float(np.median(act / pred))}


def read_records(path, settings=None):
    """The record lines of a records file (its first line holds the settings).

    With ``settings``, a file made with other settings is refused naming the
    first option that differs; a missing file gives [].
    """
    path = Path(path)
    if not path.exists():
        if settings is None:
            raise FileNotFoundError(f"--summarize: {path} not found; pass a records file written by "
                                    "python -m pruning obd (e.g. docs/records/obd_iterative.jsonl)")
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    saved = lines[0].get("settings") if lines else None
    if saved is None:
        raise ValueError(f"{path}: expected a first line with the settings, found {lines[:1]}; "
                         "not an obd records file")
    if settings is not None and saved != settings:
        name = next(k for k in settings if saved.get(k) != settings[k])
        raise ValueError(f"--{name.replace('_', '-')}: the run in {path} was made with {saved.get(name)!r}, "
                         f"found {settings[name]!r}; pass the same settings to resume, or choose another --out")
    return lines[1:]


def mean_ci(values):
    """(mean, half-width of the 95% t interval (nan for n < 2), n) of a list of numbers."""
    from scipy import stats
    values = np.asarray([v for v in values if v is not None], dtype=float)
    n = len(values)
    if n < 2:
        return (float(values.mean()) if n else float("nan")), float("nan"), n
    half = stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / np.sqrt(n)
    return float(values.mean()), float(half), n


def summarize(lines):
    """Mean, 95% CI and n over seeds of every (mode, method, fraction) cell and of the single-deletion stats.

    Returns
    -------
    dict: "curves"[method][key] for key in test_error, test_error_retrained:
    {"fraction_removed": [...], "mean": [...], "ci95": [...], "n": [...]};
    "dense": (mean, ci95, n) of the dense test error; "single_deletions":
    {statistic: (mean, ci95, n)}.
    """
    curves = {method: {key: _curve([r for r in lines if r.get("method") == method], key)
                       for key in ("test_error", "test_error_retrained")} for method in DELETION_SCORES}
    single = [r["single_deletions"] for r in lines if r.get("single_deletions")]
    return {"dense": mean_ci([r["test_error"] for r in lines if r.get("method") == "dense"]), "curves": curves,
            "single_deletions": {k: mean_ci([s[k] for s in single]) for k in (single[0] if single else {})}}


def _curve(rows, key):
    """{"fraction_removed", "mean", "ci95", "n"} of ``key`` over the rows of one method, by fraction."""
    fractions = sorted({r["fraction_removed"] for r in rows if r.get(key) is not None})
    cells = [mean_ci([r[key] for r in rows if r["fraction_removed"] == f and r.get(key) is not None])
             for f in fractions]
    return {"fraction_removed": fractions, **{k: [c[i] for c in cells] for i, k in enumerate(("mean", "ci95", "n"))}}


def table_cell(summary, method, key, fraction):
    """(mean, lower, upper) of one cell of ``summarize``'s output: the mean and its 95% interval."""
    curve = summary["curves"][method][key]
    i = curve["fraction_removed"].index(fraction)
    return curve["mean"][i], curve["mean"][i] - curve["ci95"][i], curve["mean"][i] + curve["ci95"][i]


def clearly_below(summary, a, b):
    """True when the 95% interval of cell ``a`` = (method, key, fraction) lies entirely below that of ``b``."""
    return table_cell(summary, *a)[2] < table_cell(summary, *b)[1]


def _cell(mean, half, n, scale=100.0):
    """'mean ± half (n=k)' in percent; a lone seed without interval."""
    if n == 0:
        return ""
    return f"{scale * mean:.2f}" + ("" if np.isnan(half) else f" ± {scale * half:.2f}") + f" (n={n})"


def format_table(summary):
    """The markdown table of test error (%) after deletion and after retraining, mean ± 95% CI (n)."""
    head = ["removed"] + [f"{m}" for m in DELETION_SCORES] + [f"{m} retrained" for m in DELETION_SCORES]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
           "| 0% (dense) | " + " | ".join([_cell(*summary["dense"])] * (len(head) - 1)) + " |"]
    fractions = sorted({f for c in summary["curves"].values() for k in c.values() for f in k["fraction_removed"]})
    for f in fractions:
        cells = [_curve_cell(summary["curves"][m].get(key), f) for key in ("test_error", "test_error_retrained")
                 for m in DELETION_SCORES]
        out.append(f"| {100 * f:g}% | " + " | ".join(cells) + " |")
    if summary["single_deletions"]:
        out.append("\nOne weight deleted at a time (per seed, then mean ± 95% CI over seeds):\n")
    for name, (mean, half, n) in summary["single_deletions"].items():
        out.append(f"- {name}: {mean:.3f}" + ("" if np.isnan(half) else f" ± {half:.3f}") + f" (n={n})")
    return "\n".join(out)


def _curve_cell(curve, fraction):
    if fraction not in curve["fraction_removed"]:
        return ""
    i = curve["fraction_removed"].index(fraction)
    return _cell(curve["mean"][i], curve["ci95"][i], curve["n"][i])


def draw_summary(ax, summary, title=""):
    """Test error against fraction removed on ``ax``: mean with 95% CI bands, before (dotted) and after retraining."""
    for method, color in zip(DELETION_SCORES, ("C0", "C1", "C2")):
        for key, style in (("test_error", ":"), ("test_error_retrained", "-")):
            curve = summary["curves"][method][key]
            if not curve["n"]:
                continue
            f, mean, half = (np.array(curve[k], dtype=float) for k in ("fraction_removed", "mean", "ci95"))
            ax.plot(f, 100 * mean, style, marker="o", ms=3, color=color,
                    label=f"{method}{', retrained' if key.endswith('retrained') else ''} (n={max(curve['n'])})")
            ax.fill_between(f, 100 * (mean - np.nan_to_num(half)), 100 * (mean + np.nan_to_num(half)), color=color,
                            alpha=0.15)
    ax.set(xlabel="fraction of weights removed", ylabel="test error (%)", yscale="log", title=title)
    ax.legend(fontsize=7)


def plot_summary(summary, path, title=""):
    """``draw_summary`` saved to ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    draw_summary(ax, summary, title)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


#: Options the command fills in when left unset: the defaults, and with --quick (seconds).
COMMAND_DEFAULTS = {"n_train": 60000, "hidden": [300, 100], "epochs": 5, "hessian_samples": "all",
                    "fractions": [0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.98]}


QUICK = {"n_train": 5000, "hidden": [100], "epochs": 2, "hessian_samples": 2000,
         "fractions": [0.5, 0.8, 0.9, 0.95]}


def hessian_samples_option(text):
    """``--hessian-samples``: a positive count or "all" (every training pattern, as the paper)."""
    return "all" if text == "all" else positive_int(text)


def add_arguments(parser):
    """Options of ``python -m pruning obd``."""
    parser.add_argument("--mode", choices=MODES, default="iterative",
                        help="iterative: the paper's recipe (delete to each fraction in turn, retraining after "
                             "each); one-shot: deviation from paper, each fraction deleted at once from the "
                             "dense net, then retrained")
    parser.add_argument("--hidden", type=positive_int, nargs="+", default=None,
                        help="hidden layer sizes (default: 300 100)")
    parser.add_argument("--epochs", type=positive_int, default=None, help="training epochs of the dense model (5)")
    parser.add_argument("--retrain-epochs", type=non_negative_int, default=1,
                        help="retraining epochs after each deletion (0: none); deviation from paper: a fixed "
                             "count, not 'until a reasonable solution'")
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--lr", type=positive_float, default=1e-3)
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                        help="adam (deviation from paper, the default) or sgd (the paper's gradient steps; "
                             "give it a larger --lr, e.g. 0.05)")
    parser.add_argument("--n-train", type=positive_int, default=None,
                        help="training subset size (default: all 60000)")
    parser.add_argument("--hessian-samples", type=hessian_samples_option, default=None,
                        help="patterns averaged for h_kk: 'all' (the paper, default) or a count "
                             "(deviation from paper: a random subset)")
    parser.add_argument("--approximation", choices=APPROXIMATIONS, default="lecun")
    parser.add_argument("--fractions", type=probability, nargs="+", default=None,
                        help="fractions of the weights removed (default: 0.2 0.4 0.6 0.8 0.9 0.95 0.98)")
    parser.add_argument("--n-single", type=non_negative_int, default=40,
                        help="weights deleted one at a time to compare saliency with the actual loss increase")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="the first seed (default: 0)")
    parser.add_argument("--seeds", type=positive_int, default=1,
                        help="number of seeds: --seed .. --seed + N - 1, one replicate (one grid task) each "
                             "(default: 1); finished seeds in --out are kept")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $NNLITE_DATA)")
    parser.add_argument("--out", default="results/obd", help="folder for obd_<mode>.jsonl and obd_<mode>.png")
    parser.add_argument("--summarize", nargs="+", default=None, metavar="RECORDS",
                        help="only print the table of these records files (e.g. docs/records/obd_iterative.jsonl)")
    parser.add_argument("--blas-threads", type=positive_int, default=1,
                        help="BLAS threads per task (1 is fastest for small batches)")
    add_grid_arguments(parser, seeds=False)
    parser.add_argument("--quick", action="store_true",
                        help="small run: 5000 training images, hidden 100, 2 epochs, 4 fractions "
                             "(options given explicitly win)")


def apply_quick(args):
    """Fill the options left unset from the defaults, or with ``--quick`` from a run of seconds."""
    return resolve_defaults(args, COMMAND_DEFAULTS, QUICK)


def command_settings(args):
    """The settings of a run, as stored in the first line of its records file."""
    return {k: getattr(args, k) for k in SETTINGS}


def main(args):
    """``python -m pruning obd``: run every seed not yet in ``--out`` as a grid, print the table and a JSON summary."""
    if args.summarize:
        return print_summary([line for path in args.summarize for line in read_records(path)])
    apply_quick(args)
    grid = grid_options(args)
    settings = command_settings(args)
    out = Path(args.out)
    path = out / f"obd_{args.mode}.jsonl"
    lines = read_records(path, settings)
    check_subset_size(args.n_train, "--n-train", data_module.MNIST_TRAIN_IMAGES)   # before loading anything
    load_dataset("obd-mnist", data_dir=args.data_dir)   # a missing data set is refused before any record
    run_settings = {**settings, "hessian_samples": None if args.hessian_samples == "all" else args.hessian_samples}
    seeds = range(args.seed, args.seed + args.seeds)
    params = [{"seed": seed, "settings": run_settings} for seed in seeds]
    task = functools.partial(obd_seed, data_dir=args.data_dir)
    records = run_grid(task, params, out, n_threads=args.blas_threads, **grid)
    by_seed = {record["params"]["seed"]: record["result"] for record in records}
    finished = {line.get("seed") for line in lines}               # kept as they are (e.g. from an earlier run)
    lines += [line for seed in seeds if seed not in finished for line in by_seed[seed]]
    write_text_atomic(path, "\n".join(json.dumps(x) for x in [{"settings": settings}, *lines]) + "\n")
    plot_summary(summarize(lines), out / f"obd_{args.mode}.png", f"OBD, {args.mode}")
    return print_summary(lines)


def obd_seed(params, seed_sequence, data_dir=None):
    """One grid task: ``run_seed`` for ``params["seed"]`` with ``params["settings"]`` on MNIST (loaded by name).

    The seed's streams are ``np.random.default_rng(seed)`` (subset, dense training), ``[seed, DATA_ORDER]``
    and ``[seed, METHOD, k]`` (``run_seed``), so
    ``seed_sequence`` is not drawn from; the records of a seed are the same whichever task runs it.
    """
    d = load_dataset("obd-mnist", data_dir=data_dir)
    return run_seed((d.X_train, d.y_train, d.X_test, d.y_test), params["seed"], **params["settings"])


def print_summary(lines):
    """Print the markdown table, then the summary as one JSON line."""
    summary = summarize(lines)
    print(format_table(summary))
    print(json.dumps(summary))
    return 0


register_dataset("obd-mnist", mnist_dataset)   # a grid task loads it by name
