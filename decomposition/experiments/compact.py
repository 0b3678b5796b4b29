"""Compact modules measured (``python -m decomposition compact``): bytes per module, 2-output views, agreement.

For each model and approach with stored modules: the bytes of a module,
full (dense, CSR) and compact (``decomposition.compact_modules``), beside the
model's; with ``--score``, on the data set's test images, what composing the
2-output views loses against the 10-output modules, and whether composing
the compact modules gives the 10-output modules' predictions (exact and fast
evaluation). The docs' "Bytes per module" table is built from these rows
(``docs/records/compact_modules.jsonl``, :func:`bytes_markdown`).
"""
import argparse
import json
import sys

import numpy as np
from scipy import stats

from nnlite import data, io
from nnlite import functional as F

from ..compact_modules import _count_nonzero, binary_view_disagreement, compact, compose_binary_views, compose_compact
from ..modules import compose_predict, vote
from ..official_models import load_official_modules, resolve_models_dir
from .data import OFFICIAL_MODELS, display_name

def module_bytes_row(model_name, approach="CM-RIE", models_dir=None):
    """Mean bytes of one model's stored modules, full (dense, CSR) and compact, beside the model's dense bytes.

    Returns a dict with ``model_bytes``, ``module_dense_bytes``,
    ``module_csr_bytes``, ``compact_module_bytes`` (means over the modules)
    and ``compact_percent_of_model`` (the mean's share of the model's bytes),
    and per layer (inputs first) the mean number of kept units and the mean
    share of nonzero entries in the reduced weights.
    """
    model = io.load(resolve_models_dir(models_dir) / f"{model_name}.npz")
    modules = load_official_modules(approach, model_name, models_dir)
    compacted = [compact(m) for m in modules]
    compact_bytes = [c.nbytes() for c in compacted]
    model_bytes = model.nbytes("dense")
    kept = np.mean([[len(u) for u in c.units] for c in compacted], axis=0)
    density = np.mean([[_count_nonzero(W) / max(1, np.prod(W.shape)) for W in c.weights] for c in compacted],
                      axis=0)
    return {"model": model_name, "approach": approach, "n_modules": len(modules), "model_bytes": model_bytes,
            "module_dense_bytes": float(np.mean([m.nbytes("dense") for m in modules])),
            "module_csr_bytes": float(np.mean([m.nbytes("csr") for m in modules])),
            "compact_module_bytes": float(np.mean(compact_bytes)),
            "compact_module_bytes_min": int(min(compact_bytes)), "compact_module_bytes_max": int(max(compact_bytes)),
            "compact_percent_of_model": round(100 * float(np.mean(compact_bytes)) / model_bytes, 2),
            "layer_sizes": list(compacted[0].layer_sizes), "compact_kept_units": [round(float(k), 1) for k in kept],
            "compact_nonzero_share": [round(float(d), 3) for d in density]}


def binary_view_row(modules, X, y):
    """How the 2-output views differ from the modules (``modules``: one model's, ``modules[k].target == k``).

    Returns accuracies in % of the composed modules and of the composed
    2-output views, their difference with a 95% confidence interval (paired
    Wald interval over the n test images: only images where exactly one of
    the two is right count), and the per-module share (%) of images on which a
    view votes differently from its module (min, mean, max over the modules).
    """
    y = np.asarray(y)
    right, right_views = compose_predict(modules, X) == y, compose_binary_views(modules, X) == y
    loss, half_width = _paired_difference(right, right_views)
    disagreement = [100 * binary_view_disagreement(m, X) for m in modules]
    return {"accuracy": round(100 * float(np.mean(right)), 2),
            "accuracy_binary_views": round(100 * float(np.mean(right_views)), 2), "n_test": len(y),
            "loss": round(loss, 2), "loss_ci95": [round(loss - half_width, 2), round(loss + half_width, 2)],
            "disagreement_min": round(min(disagreement), 1),
            "disagreement_mean": round(float(np.mean(disagreement)), 1),
            "disagreement_max": round(max(disagreement), 1)}


def _paired_difference(right_a, right_b):
    """(accuracy a - accuracy b, half width of its 95% interval), in points, from paired per-image outcomes."""
    n = len(right_a)
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    se = np.sqrt(max(only_a + only_b - (only_a - only_b) ** 2 / n, 0.0)) / n
    return 100 * (only_a - only_b) / n, 100 * 1.959964 * float(se)


def _mean_ci95(values):
    """(mean, low, high): the mean of ``values`` with a t interval, reading them as a sample."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def format_bytes_table(rows):
    """A text table of ``module_bytes_row`` rows, with the mean share of the model per approach."""
    lines = [f"{'model':9s} {'approach':8s} {'model B':>8s} {'dense B':>9s} {'CSR B':>9s} {'compact B':>10s} "
             f"{'compact %':>9s}"]
    for r in rows:
        lines.append(f"{r['model']:9s} {r['approach']:8s} {r['model_bytes']:8d} {r['module_dense_bytes']:9.0f} "
                     f"{r['module_csr_bytes']:9.0f} {r['compact_module_bytes']:10.0f} "
                     f"{r['compact_percent_of_model']:9.2f}")
    for approach in dict.fromkeys(r["approach"] for r in rows):
        shares = [r["compact_percent_of_model"] for r in rows if r["approach"] == approach]
        mean, low, high = _mean_ci95(shares)
        lines.append(f"{approach}: compact modules are on average {mean:.2f}% of the model's bytes over "
                     f"n = {len(shares)} models (as a sample of models, 95% CI {low:.2f}-{high:.2f}; range "
                     f"{min(shares):.2f}-{max(shares):.2f}%; {sum(s <= 70 for s in shares)} models at most 70%)")
    return "\n".join(lines)


def format_binary_view_table(rows):
    """A text table of the scores in ``compact_rows(..., score=True)`` rows."""
    lines = [f"{'model':9s} {'approach':8s} {'n':>6s} {'modules %':>9s} {'views %':>8s} {'loss (95% CI)':>20s} "
             f"{'view != module % (min-max)':>27s} {'compact == full (exact, fast)':>29s}"]
    for r in rows:
        ci = f"{r['loss']:.2f} ({r['loss_ci95'][0]:.2f}, {r['loss_ci95'][1]:.2f})"
        lines.append(f"{r['model']:9s} {r['approach']:8s} {r['n_test']:6d} {r['accuracy']:9.2f} "
                     f"{r['accuracy_binary_views']:8.2f} {ci:>20s} "
                     f"{r['disagreement_min']:>18.1f} - {r['disagreement_max']:<6.1f} "
                     f"{str(r['compact_predictions_identical']):>16s}, "
                     f"{str(r['compact_fast_predictions_identical']):5s} (fast logits differ: "
                     f"{100 * r['fast_logits_share_differing']:.1f}%, up to {r['fast_logits_max_abs_difference']:.1e}; "
                     f"n_zero softmax differs: {100 * r['zero_count_softmax_share_differing']:.1f}%, "
                     f"same predictions: {r['zero_count_softmax_predictions_identical']})")
    return "\n".join(lines)


def official_test_set(dataset, data_dir=None):
    """(X, y) of a data set's test images as the authors' models read them (pixels / 65025; EMNIST A-J, upright).

    KMNIST: all 10,000 test images (the README's composed accuracies).
    """
    if dataset == "emnist":
        X, y = data.load_emnist_letters("test", data_dir=data_dir, upright=True, classes="A-J")
    else:
        loaders = {"mnist": data.load_mnist, "fmnist": data.load_fashion_mnist, "kmnist": data.load_kmnist}
        if dataset not in loaders:
            raise ValueError(f"dataset: expected one of {sorted(loaders) + ['emnist']}, found {dataset!r}")
        X, y = loaders[dataset]("test", data_dir=data_dir)
    return data.flatten(data.scale_65025(X)), np.asarray(y)


def compact_agreement_row(modules, X):
    """How composing ``compact(m)`` of ``modules`` compares with composing ``modules`` on X.

    Returns ``compact_predictions_identical`` (``exact=True``),
    ``compact_fast_predictions_identical`` (``exact=False``, the reduced
    arrays), the share of live logits whose bits differ between the two
    evaluations and their largest difference, and the share of own-class
    probabilities whose bits differ when the softmax is taken over the live
    logits plus ``n_zero_logits * exp(0 - max)`` instead of over all logits
    (``_own_probability_from_zero_count``; why ``forward`` puts the zeros back).
    """
    compacted = [compact(m) for m in modules]
    full = compose_predict(modules, X)
    differing, largest, own, own_closed_form, votes = 0, 0.0, [], [], []
    for c, m in zip(compacted, modules):
        Z = m.forward(X)
        difference = c.live_logits(X) - Z[:, c.live_outputs]
        differing += int(np.count_nonzero(difference))
        largest = max(largest, float(np.max(np.abs(difference))))
        own.append(F.softmax(Z)[:, c.target])
        votes.append(F.softmax(Z).argmax(axis=1) == c.target)
        own_closed_form.append(_own_probability_from_zero_count(c, Z[:, c.live_outputs]))
    own, own_closed_form, votes = np.stack(own, 1), np.stack(own_closed_form, 1), np.stack(votes, 1)
    n_live = len(X) * sum(len(c.live_outputs) for c in compacted)
    return {"compact_predictions_identical": bool(np.all(compose_compact(compacted, X) == full)),
            "compact_fast_predictions_identical": bool(np.all(compose_compact(compacted, X, exact=False) == full)),
            "fast_logits_share_differing": round(differing / n_live, 4), "fast_logits_max_abs_difference": largest,
            "zero_count_softmax_share_differing": round(float(np.mean(own_closed_form != own)), 4),
            "zero_count_softmax_predictions_identical": bool(np.all(vote(own_closed_form, votes) == full))}


def _own_probability_from_zero_count(module, live):
    """Own-class probability from the live logits (n, n_live) and the count of zero logits, in closed form."""
    live = np.ascontiguousarray(live)  # NumPy sums rows of C- and F-ordered arrays in different orders
    top = np.maximum(live.max(axis=1), 0 if module.n_zero_logits else -np.inf)[:, None]
    shifted = np.exp(live - top)
    denominator = shifted.sum(axis=1) + module.n_zero_logits * np.exp(-top[:, 0])
    return shifted[:, np.flatnonzero(module.live_outputs == module.target)[0]] / denominator


def compact_rows(models, approaches=("CM-RIE", "TI-SNE"), score=False, data_dir=None, models_dir=None):
    """One ``module_bytes_row`` per (model, approach) with stored modules; with ``score`` also
    ``binary_view_row`` and ``compact_agreement_row`` on the data set's test images."""
    loaded = {}
    for approach in approaches:
        for name in models:
            if not (resolve_models_dir(models_dir) / "modules" / approach / name).is_dir():
                continue
            row = module_bytes_row(name, approach, models_dir)
            if score:
                dataset = name.split("-")[0]
                if dataset not in loaded:
                    loaded[dataset] = official_test_set(dataset, data_dir)
                X, y = loaded[dataset]
                modules = load_official_modules(approach, name, models_dir)
                row.update(binary_view_row(modules, X, y))
                row.update(compact_agreement_row(modules, X))
            yield row


class _OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr, status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message}\n")


def main(argv=None):
    """``python -m decomposition compact``: bytes per module, full and compact, beside the model's."""
    parser = _OneLineErrorParser(prog="python -m decomposition compact", description=main.__doc__)
    parser.add_argument("--models", nargs="+", default=OFFICIAL_MODELS, choices=OFFICIAL_MODELS)
    parser.add_argument("--approaches", nargs="+", default=["CM-RIE", "TI-SNE"], choices=["CM-RIE", "TI-SNE"])
    parser.add_argument("--score", action="store_true",
                        help="also score on the test sets: the 2-output views, and the compact modules' composition "
                             "(exact and fast) against the 10-output modules'")
    parser.add_argument("--format", default="table", choices=["json", "table"])
    parser.add_argument("--data-dir", default=None, help="datasets folder (default: $NNLITE_DATA)")
    parser.add_argument("--models-dir", default=None, help="the authors' models (default: $NNLITE_OFFICIAL_MODELS)")
    args = parser.parse_args(argv)
    try:
        rows = []
        for row in compact_rows(args.models, args.approaches, args.score, args.data_dir, args.models_dir):
            rows.append(row)
            if args.format == "json":
                print(json.dumps(row), flush=True)
        if not rows:
            raise FileNotFoundError(f"--models-dir: expected modules/<approach>/<model>/module<k>.npz under "
                                    f"{resolve_models_dir(args.models_dir)}, found none for {args.approaches} "
                                    f"and {args.models}; pass --models-dir or set NNLITE_OFFICIAL_MODELS")
    except (FileNotFoundError, ValueError) as error:
        print(f"python -m decomposition compact: {error}", file=sys.stderr)
        return 2
    out = sys.stderr if args.format == "json" else sys.stdout
    print(format_bytes_table(rows), file=out, flush=True)
    if args.score:
        print(format_binary_view_table(rows), file=out, flush=True)
    return 0


def bytes_markdown(rows, approach="CM-RIE"):
    """The docs' "Bytes per module beside the model's" table of ``approach``'s rows (scored ``compact_rows``)."""
    lines = ["| model | model bytes | module, dense | module, CSR | compact | compact, % of model | "
             "modules -> 2-output views | 2-output loss (95% CI) |", "|---|---|---|---|---|---|---|---|"]
    for r in (r for r in rows if r["approach"] == approach):
        lines.append(f"| {display_name(r['model'])} | {r['model_bytes']:,} | {round(r['module_dense_bytes']):,} | "
                     f"{round(r['module_csr_bytes']):,} | {round(r['compact_module_bytes']):,} | "
                     f"{r['compact_percent_of_model']:.2f} | {r['accuracy']:.2f} -> {r['accuracy_binary_views']:.2f} | "
                     f"{r['loss']:.2f} ({r['loss_ci95'][0]:.2f}, {r['loss_ci95'][1]:.2f}) |")
    return "\n".join(lines)
