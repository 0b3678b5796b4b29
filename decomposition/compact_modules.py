"""Compact modules: a module stored at the size of what it computes.

The authors' modules (and ours, :class:`decomposition.Module`) are the whole
10-output network with some weights set to 0. The CM-RIE modules of MNIST-4
leave 17 of the 49 first-layer units without a single incoming weight and 8
of the 10 output columns at 0, yet they store all of them: 185,260 bytes
dense, and 262,070 on average as CSR (most kernel entries are nonzero, and
CSR pays a 4-byte index for each). :func:`compact` drops what cannot
influence the live outputs and stores each layer dense or as CSR, whichever
is smaller (``python -m decomposition compact`` prints these figures).

What is removed (``L`` layers; layer 0 is the input):

1. *forward-dead* hidden units: no nonzero incoming weight from a unit that
   may be nonzero, and a bias <= 0. Their value is 0 for every input.
2. *dead outputs*: output columns with no such weight and a bias of 0. Their
   logit is exactly 0 for every input. The target column is always kept.
3. *backward-dead* units (and inputs): no nonzero outgoing weight to a kept
   unit of the next layer. Nothing they compute reaches a live output.

What is kept beside the arrays: which units of every layer were kept (one
bit per original unit), so that the dead logits (exactly 0) can be put back
at their positions. The *count* of zero logits is not enough: they enter the
softmax denominator, and their *positions* decide argmax ties (``np.argmax``
returns the first maximum, so a zero logit before the target beats a target
logit of 0).

Same decisions, and why. A kept unit's pre-activation is a sum of products
``a_k * W[k, j]``. For every removed k, the product is 0 in both forms (either
``W[k, j] = 0`` or ``a_k = 0``), so the two forms sum the same numbers, up to
the sign of zero terms, *if* they sum them in the same order. BLAS chooses its
order from the matrix shapes, so a product of reduced shape may round
differently. :func:`compose_compact` therefore offers two evaluations:

- ``exact=True`` (default): each layer is put back at the authors' shapes
  (zeros where units were removed) and run through the very code that composes
  the 10-output modules: the same shapes, the same products (``+-0`` where
  they differ) and the same order, hence the same logits (as numbers) and the
  same votes, own-class probabilities and ties, for finite activations.
- ``exact=False``: the reduced arrays are used as stored (no full-size
  arrays while computing; speed not measured); the live logits then agree
  with the 10-output form's to rounding, and the zero logits are put back
  before the softmax.

Also here, what the 2-output view (:meth:`Module.binary_view`) loses:
:func:`compose_binary_views` and :func:`binary_view_disagreement`.
"""
import argparse
from dataclasses import dataclass

import numpy as np

from nnlite import functional as F
from nnlite import sparse
from nnlite._checks import check_float_array, check_n_features
from nnlite.models import mlp_logits

from .modules import Module, compose_predict, vote
from .validation import check_module_list

FORMATS = ("smallest", "dense", "csr")


# ---------------------------------------------------------------------------
# Which units can influence a live output
# ---------------------------------------------------------------------------

def forward_live_units(weights, biases):
    """Per layer, the units whose value may be nonzero for some input (``weights``: dense ndarrays).

    Returns a list of L + 1 boolean arrays: the inputs (all True), the hidden
    layers (a nonzero weight from a live unit below, or a bias > 0: ReLU maps
    a constant <= 0 to 0) and the outputs (a nonzero weight from a live unit,
    or a nonzero bias: no ReLU there).
    """
    live = [np.ones(weights[0].shape[0], dtype=bool)]
    for i, (W, b) in enumerate(zip(weights, biases)):
        fed = np.any(W[live[-1]] != 0, axis=0)
        constant = (b > 0) if i < len(weights) - 1 else (b != 0)
        live.append(fed | constant)
    return live


def kept_units(weights, biases, target):
    """Per layer (inputs first), the units a compact module keeps: boolean arrays.

    A unit is kept when its value may be nonzero (``forward_live_units``) and
    it has a nonzero weight into a kept unit of the next layer. The outputs
    kept are the live ones plus ``target``.
    """
    forward = forward_live_units(weights, biases)
    kept = [None] * len(forward)
    kept[-1] = forward[-1].copy()
    kept[-1][target] = True
    for i in range(len(weights) - 1, -1, -1):
        feeds = np.any(weights[i][:, kept[i + 1]] != 0, axis=1)
        kept[i] = forward[i] & feeds
    return kept


def _stored(W, fmt):
    """``W`` dense, or as CSR, or whichever of the two takes fewer bytes (``fmt="smallest"``)."""
    if fmt == "smallest":
        fmt = "csr" if sparse.nbytes(W, "csr") < sparse.nbytes(W, "dense") else "dense"
    return sparse.to_csr(W) if fmt == "csr" else np.ascontiguousarray(W)


# ---------------------------------------------------------------------------
# The compact module
# ---------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class CompactModule:
    """A module reduced to the units that can reach its live outputs.

    Attributes
    ----------
    weights : tuple of (ndarray or scipy.sparse.csr_array), W_i of shape (len(units[i]), len(units[i + 1]))
    biases : tuple of ndarray, b_i of shape (len(units[i + 1]),)
    kept : tuple of ndarray of uint8
        ``kept[i]``: which units of layer i were kept, one bit per original
        unit (``np.packbits``; layer 0: the inputs read, layer L: the live
        outputs). ``units[i]`` gives their indices.
    layer_sizes : tuple of int
        The original widths ``(d_in, h_1, ..., n_classes)``.
    target : int
    approach : str
    """

    weights: tuple
    biases: tuple
    kept: tuple
    layer_sizes: tuple
    target: int
    approach: str = ""

    @property
    def d_in(self):
        return self.layer_sizes[0]

    @property
    def n_classes(self):
        return self.layer_sizes[-1]

    @property
    def units(self):
        """Original indices of the kept units, one int array per layer (inputs first)."""
        return tuple(np.flatnonzero(np.unpackbits(k, count=n)) for k, n in zip(self.kept, self.layer_sizes))

    @property
    def live_outputs(self):
        """Original indices of the live output logits, shape (n_live,)."""
        return self.units[-1]

    @property
    def n_zero_logits(self):
        """How many of the n_classes logits are exactly 0 for every input (they still enter the softmax)."""
        return self.n_classes - len(self.live_outputs)

    def live_logits(self, X):
        """Logits of the live outputs computed with the reduced arrays, shape (n, n_live)."""
        X = _checked_input(X, self.d_in)
        inputs = self.units[0]
        A = X if len(inputs) == self.d_in else X[:, inputs]
        # X checked above; layers may have 0 units
        return mlp_logits(A.astype(self.biases[0].dtype, copy=False), self.weights, self.biases)

    def forward(self, X):
        """All n_classes logits, shape (n, n_classes): the live ones computed, the others exactly 0."""
        return self._scatter_logits(self.live_logits(X))

    def predict_proba(self, X, exact=True):
        """Softmax over all n_classes logits (the authors' form), shape (n, n_classes).

        ``exact``: evaluate at the authors' shapes (see ``compose_compact``).
        """
        return F.softmax(self.expand().forward(X) if exact else self.forward(X))

    def own_probability(self, X, exact=True):
        """Probability the module gives its own class, shape (n,)."""
        return self.predict_proba(X, exact)[:, self.target]

    def votes(self, X, exact=True):
        """True where the module's most probable class is its own, shape (n,) (as composition reads it)."""
        return _own_probability_and_vote(self.predict_proba(X, exact), self.target)[1]

    def _scatter_logits(self, live):
        Z = np.zeros((len(live), self.n_classes), dtype=live.dtype)
        Z[:, self.live_outputs] = live
        return Z

    def expand(self):
        """The module at the authors' shapes (a :class:`Module`), zeros where units were removed."""
        weights, biases, units = [], [], self.units
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            rows, cols = units[i], units[i + 1]
            full = np.zeros((self.layer_sizes[i], self.layer_sizes[i + 1]), dtype=b.dtype)
            full[np.ix_(rows, cols)] = sparse.to_dense(W)
            weights.append(full)
            biases.append(np.zeros(self.layer_sizes[i + 1], dtype=b.dtype))
            biases[-1][cols] = b
        return Module(weights, biases, self.target, self.approach)

    def nbytes(self):
        """Bytes stored: weights as they are (dense or CSR), biases and the bits of ``kept``."""
        return (sum(sparse.nbytes(W) for W in self.weights) + sum(b.nbytes for b in self.biases)
                + sum(k.nbytes for k in self.kept))


def compact(module, fmt="smallest"):
    """The :class:`CompactModule` of ``module``: dead units and logits removed.

    Parameters
    ----------
    module : Module
    fmt : {"smallest", "dense", "csr"}
        How each reduced weight is stored; "smallest" picks, per layer, the
        format with fewer bytes (``nnlite.sparse.nbytes``).
    """
    if not isinstance(module, Module):
        raise TypeError(f"module: expected a decomposition.Module, found {type(module).__name__}")
    if fmt not in FORMATS:
        raise ValueError(f"fmt: expected one of {FORMATS}, found {fmt!r}")
    weights = [sparse.to_dense(W) for W in module.weights]
    kept = kept_units(weights, module.biases, module.target)
    reduced = [_stored(W[np.ix_(kept[i], kept[i + 1])], fmt) for i, W in enumerate(weights)]
    biases = [np.array(b[kept[i + 1]]) for i, b in enumerate(module.biases)]
    return CompactModule(tuple(reduced), tuple(biases), tuple(np.packbits(k) for k in kept),
                         tuple(len(k) for k in kept), module.target, module.approach)


def compact_nbytes(module):
    """Bytes of ``compact(module)`` (``module``: a Module or a CompactModule)."""
    return (module if isinstance(module, CompactModule) else compact(module)).nbytes()


def _count_nonzero(W):
    """Nonzero entries of a dense or CSR weight."""
    return int(np.count_nonzero(W.data if sparse.is_sparse(W) else W))


def _checked_input(X, d_in):
    X = check_float_array(X, "X")
    check_n_features(X, "X", d_in)
    return X


# ---------------------------------------------------------------------------
# Composition
# ---------------------------------------------------------------------------

def compose_compact(modules, X, exact=True):
    """Predictions of the composed classifier of compact modules, shape (n,).

    The composition rule of :func:`decomposition.modules.compose_predict`.
    ``exact=True`` evaluates every layer at the authors' shapes (see the module
    docstring), so the predictions are those of the 10-output modules;
    ``exact=False`` evaluates the reduced arrays (logits agree to rounding,
    so a near-tie may be resolved differently).
    """
    for j, m in enumerate(modules):
        if not isinstance(m, CompactModule):
            raise TypeError(f"modules[{j}]: expected a CompactModule (from compact(module)), "
                            f"found {type(m).__name__}")
    if len(modules) == 0:
        raise ValueError("modules: expected at least one CompactModule, found an empty list")
    if exact:
        return compose_predict([m.expand() for m in modules], X)
    own, votes = zip(*(_own_probability_and_vote(m.predict_proba(X, exact=False), m.target) for m in modules))
    return vote(np.stack(own, axis=1), np.stack(votes, axis=1))


def _own_probability_and_vote(P, target):
    """(probability of ``target``, argmax == target) of softmax outputs P (n, n_classes), as composition reads them."""
    return P[:, target], P.argmax(axis=1) == target


# ---------------------------------------------------------------------------
# The 2-output view is not the 10-output module
# ---------------------------------------------------------------------------

def compose_binary_views(modules, X):
    """Predictions when each module is replaced by its 2-output view (``Module.binary_view``), shape (n,).

    The view votes when its target logit beats its "rest" logit, and its
    own-class probability is a 2-way softmax. The 10-output form also compares
    the target logit with the 8 logits that are exactly 0: that is what the
    view drops.
    """
    check_module_list(modules)
    own, votes = [], []
    for m in modules:
        weights, biases = m.binary_view()
        P = F.softmax(Module(weights, biases, 0, m.approach).forward(X))
        own.append(P[:, 0])
        votes.append(P.argmax(axis=1) == 0)
    return vote(np.stack(own, axis=1), np.stack(votes, axis=1))


def binary_view_disagreement(module, X):
    """Fraction in [0, 1] of the rows of X on which the 2-output view and the module vote differently."""
    check_module_list([module], "module")
    return float(np.mean(module.predict_binary(X) != module.votes(X)))


# ---------------------------------------------------------------------------
# Bytes per module beside the model's bytes; what the 2-output views lose
# ---------------------------------------------------------------------------

def module_bytes_row(model_name, approach="CM-RIE", models_dir=None):
    """Mean bytes of one model's stored modules, full (dense, CSR) and compact, beside the model's dense bytes.

    Returns a dict with ``model_bytes``, ``module_dense_bytes``,
    ``module_csr_bytes``, ``compact_module_bytes`` (means over the modules)
    and ``compact_percent_of_model`` (the mean's share of the model's bytes),
    and per layer (inputs first) the mean number of kept units and the mean
    share of nonzero entries in the reduced weights.
    """
    from nnlite import io

    from .modules import load_official_modules, resolve_models_dir

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
    from scipy import stats

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
    from nnlite import data

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
    from .modules import load_official_modules, resolve_models_dir

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
    import json
    import sys

    from .experiments import OFFICIAL_MODELS
    from .modules import resolve_models_dir

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

