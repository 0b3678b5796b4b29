"""Optimal Brain Damage, line by line.

Y. LeCun, J. S. Denker, S. A. Solla, "Optimal Brain Damage", NIPS 2 (1989).

Deleting parameter u_k of a network trained to a minimum changes the loss E,
to second order and keeping only the diagonal of the Hessian, by

    delta E ~= s_k = h_kk * u_k^2 / 2          (the saliency, paper Eq. 5)

(the weight is squared, not the Hessian). The diagonal h_kk comes from a
second backward pass that mirrors the first (paper Eqs. 7-9): for a
connection from unit j (output x_j) to unit i (pre-activation a_i),

    d2E/dw_ij^2 = d2E/da_i^2 * x_j^2                                   (Eq. 7)
    output:  d2E/da_i^2 = p_i (1 - p_i)       (softmax cross-entropy; the paper
                                               used squared error, Eq. 9)
    hidden:  d2E/da_i^2 = f'(a_i)^2 sum_l w_li^2 d2E/da_l^2
                          - f''(a_i) dE/dx_i                            (Eq. 8)

The Levenberg-Marquardt approximation drops the f'' term (zero for ReLU away
from the kink), and the sum over l keeps only the diagonal terms d2E/da_l^2
(the paper's diagonal approximation). In nnlite notation that second pass is
the first one run on squared quantities: with H_Z the (n, d_out) array of
per-sample d2E/dZ^2,

    H_W = (A_prev^2).T @ H_Z,   H_A_prev = H_Z @ (W^2).T,
    H_Z_prev = H_A_prev * relu'(Z_prev)^2,

which is exactly ``nnlite.functional.dense_backward(H_Z, A_prev**2, W**2)``.
h_kk is averaged over the training patterns (E is the mean loss).

The procedure (paper, section "Recipe")
---------------------------------------
1. Choose a reasonable network architecture.
2. Train the network until a reasonable solution is obtained.   ``train_network``
3. Compute the second derivatives h_kk for each parameter.       ``second_derivatives``
4. Compute the saliencies s_k = h_kk u_k^2 / 2.                   ``saliencies``
5. Sort the parameters by saliency and delete some low-saliency
   parameters (set to 0 and freeze).                              ``delete_lowest_saliency``
6. Iterate to step 2.                                              ``optimal_brain_damage``

Only weights are deleted (nnlite masks weights, not biases). Saliencies are
losses, comparable across layers, so deletion ranks all layers together
(``scope="global"``); ``scope="layer"`` is offered for comparison.

``approximation`` (a named option because it changes results):

- ``"lecun"`` (default): the paper's pass above, one extra backward pass.
- ``"gauss_newton"``: the exact diagonal of the Gauss-Newton matrix
  J^T (diag(p) - p p^T) J, from one backward pass per class (K passes). It
  keeps the off-diagonal output and hidden terms the paper drops. For a ReLU
  MLP the second derivative of every logit with respect to one weight is 0 (a
  weight enters each path linearly), so this is also the exact Hessian
  diagonal away from the ReLU kinks. With no hidden layer both options equal
  the exact Hessian diagonal.
"""
import json
import time
from pathlib import Path

import numpy as np

from nnlite import functional as F
from nnlite import sparse
from nnlite._checks import check_float_array, check_labels, check_n_features, check_rng
from nnlite.cli import (non_negative_int, positive_float, positive_int, probability, remove_stale_temp_files,
                        resolve_defaults, save_figure, write_text_atomic)
from nnlite.optim import Adam
from nnlite.train import fit

from . import masks as M

APPROXIMATIONS = ("lecun", "gauss_newton")


def _check_data(model, X, y):
    X = check_float_array(X, "X")
    check_n_features(X, "X", model.layer_sizes[0])
    return X.astype(model.dtype, copy=False), check_labels(y, "y", len(X), model.layer_sizes[-1])


# -- Recipe step 2 --------------------------------------------------------
def train_network(model, X, y, *, epochs=5, batch_size=64, lr=1e-3, rng=None, progress=False):
    """Recipe step 2: a trained copy of ``model`` (Adam; masked weights stay 0)."""
    trained = model.copy()
    fit(trained, X, y, optimizer=Adam(lr), epochs=epochs, batch_size=batch_size, rng=rng, progress=progress)
    return trained


# -- Recipe step 3 --------------------------------------------------------
def output_second_derivatives(Z):
    """d2E/dZ^2 per sample for softmax cross-entropy: p (1 - p), shape (n, K) (paper Eq. 9, adapted)."""
    P = F.softmax(Z)
    return P * (1.0 - P)


def second_derivatives_batch(model, X, y, approximation="lecun"):
    """Sum over the batch of d2E_n/dW^2 for every layer (E_n the loss of sample n).

    Parameters
    ----------
    model : nnlite.MLP
    X : ndarray of shape (n, d_in)
    y : ndarray of shape (n,)
        Unused by the approximations (they do not depend on the label) but
        checked, so that a wrong batch fails loudly.

    Returns
    -------
    list of ndarray, the i-th of shape model.weights[i].shape (dense), 0
    where the layer's mask is False.
    """
    X, y = _check_data(model, X, y)
    Zs, As = model.forward(X, return_all=True)
    if approximation not in APPROXIMATIONS:
        raise ValueError(f"approximation: expected one of {APPROXIMATIONS}, found {approximation!r}")
    H_Ws = _lecun_pass(model, Zs, As) if approximation == "lecun" else _gauss_newton_pass(model, Zs, As)
    # Deleted weights are frozen at 0: like their gradients (MLP.backward), their h is 0.
    return [H if m is None else H * m for H, m in zip(H_Ws, model.masks)]


def _lecun_pass(model, Zs, As):
    """The paper's second backward pass (Eqs. 7-8, Levenberg-Marquardt, diagonal terms only)."""
    H_Z = output_second_derivatives(Zs[-1])                         # Eq. 9 (softmax form)
    H_Ws = [None] * model.n_layers
    for i in reversed(range(model.n_layers)):
        W = model.weights[i]
        # Eq. 7 (H_W = (x^2).T @ H_Z) and the sum over l in Eq. 8 (H_A = H_Z @ (W^2).T)
        H_A, H_W, _ = F.dense_backward(H_Z, As[i] ** 2, W * W)
        H_Ws[i] = sparse.to_dense(H_W)
        if i:
            # Eq. 8 with f'' dropped: f'(a)^2 = 1[a > 0] for ReLU
            H_Z = F.relu_backward(H_A, Zs[i - 1])
    return H_Ws


def _gauss_newton_pass(model, Zs, As):
    """diag(J^T (diag(p) - p p^T) J) summed over samples, by one backward pass per class."""
    P = F.softmax(Zs[-1])
    n, K = P.shape
    # D[n, k, :] = dZ_k / dZ_layer for sample n (starts as the identity at the logits)
    D = np.broadcast_to(np.eye(K, dtype=P.dtype), (n, K, K))
    H_Ws = [None] * model.n_layers
    for i in reversed(range(model.n_layers)):
        # dz_k/dw_ji = x_j D[k, i], so sum_k p_k J_k^2 - (sum_k p_k J_k)^2 = x_j^2 (G1_i - G2_i^2)
        G1 = np.einsum("nk,nki->ni", P, D ** 2)
        G2 = np.einsum("nk,nki->ni", P, D)
        H_Ws[i] = (As[i] ** 2).T @ (G1 - G2 ** 2)
        if i:
            W = model.weights[i]
            D = sparse.matmul(D.reshape(n * K, -1), W.T).reshape(n, K, -1) * (Zs[i - 1] > 0)[:, None, :]
    return H_Ws


def second_derivatives(model, X, y, approximation="lecun", batch_size=1000):
    """Recipe step 3: h_kk = the mean over training patterns of d2E/dw^2, for every weight.

    Parameters
    ----------
    model : nnlite.MLP
    X : ndarray of shape (n, d_in)
    y : ndarray of shape (n,)
    approximation : "lecun" or "gauss_newton"
        See the module docstring.
    batch_size : int
        Samples per vectorised pass (memory only; the result does not depend on it
        beyond float rounding).

    Returns
    -------
    list of ndarray, the i-th of shape model.weights[i].shape, float64.
    """
    X, y = _check_data(model, X, y)
    if approximation not in APPROXIMATIONS:
        raise ValueError(f"approximation: expected one of {APPROXIMATIONS}, found {approximation!r}")
    totals = [np.zeros(W.shape) for W in model.weights]
    for start in range(0, len(X), batch_size):
        batch = slice(start, start + batch_size)
        for total, H in zip(totals, second_derivatives_batch(model, X[batch], y[batch], approximation)):
            total += H
    return [total / len(X) for total in totals]


# -- Recipe step 4 --------------------------------------------------------
def saliencies(model, h):
    """Recipe step 4: s_k = h_kk * u_k^2 / 2 (paper Eq. 5) for every weight; 0 where deleted."""
    if len(h) != model.n_layers or any(H.shape != W.shape for H, W in zip(h, model.weights)):
        raise ValueError(f"h: expected {model.n_layers} arrays of shapes {[W.shape for W in model.weights]}, "
                         f"found {[np.shape(H) for H in h]}; compute it with second_derivatives(model, ...)")
    return [H * sparse.to_dense(W).astype(np.float64) ** 2 / 2 for H, W in zip(h, model.weights)]


# -- Recipe step 5 --------------------------------------------------------
def delete_lowest_saliency(model, s, amount, scope="global"):
    """Recipe step 5: a new model with the ``amount`` lowest-saliency live weights set to 0 and frozen.

    ``amount`` is a fraction or count of the currently unpruned weights (as in
    ``pruning.masks``); ``scope`` is "global" (rank all layers together) or
    "layer" (the same amount in every layer).
    """
    old = M.current_masks(model)
    if scope == "global":
        new = M.global_lowest_score_masks(s, amount, old)
    elif scope == "layer":
        new = [M.lowest_score_mask(S, amount, m) for S, m in zip(s, old)]
    else:
        raise ValueError(f"scope: expected 'global' or 'layer', found {scope!r}")
    return M.apply_masks(model, new)


def predicted_loss_increase(s, old_masks, new_masks):
    """Sum of the saliencies of the weights deleted between ``old_masks`` and ``new_masks``."""
    return float(sum(S[o & ~n].sum() for S, o, n in zip(s, old_masks, new_masks)))


# -- Recipe step 6 ----------------------------------------------------------
def single_deletions(model, s, X, y, n_weights=40):
    """Predicted (s_k) against actual loss increase when deleting one live weight at a time.

    The weights are spread evenly over the sorted nonzero saliencies, so the
    check covers small and large saliencies. One weight at a time is the
    regime the second-order expansion is about: no off-diagonal terms enter.

    Returns
    -------
    list of dict with layer, row, col, predicted (s_k), first_order
    (-g_k u_k, zero at an exact minimum) and actual.
    """
    X, y = _check_data(model, X, y)
    base, grads = model.loss_and_grads(X, y)
    live = [(i, r, c) for i, S in enumerate(s) for r, c in zip(*np.nonzero(S > 0))]
    values = np.array([s[i][r, c] for i, r, c in live])
    picks = np.argsort(values, kind="stable")[np.linspace(0, len(live) - 1, min(n_weights, len(live))).astype(int)]
    out = []
    for k in picks:
        i, r, c = live[k]
        deleted = model.copy()
        deleted.weights[i][r, c] = 0
        # The paper assumes a minimum (zero gradient); off it the first-order term -g_k u_k adds to s_k.
        first_order = -float(sparse.to_dense(grads[2 * i])[r, c] * sparse.to_dense(model.weights[i])[r, c])
        out.append({"layer": int(i), "row": int(r), "col": int(c), "predicted": float(values[k]),
                    "first_order": first_order, "actual": deleted.loss(X, y) - base})
    return out


def optimal_brain_damage(model, X, y, *, amount=0.2, n_iterations=5, retrain_epochs=1, approximation="lecun",
                         scope="global", batch_size=64, lr=1e-3, hessian_samples=None, rng=None):
    """The whole recipe: compute saliencies, delete the lowest, retrain; ``n_iterations`` times.

    ``model`` is taken as trained (step 2 done). Returns the final model and
    a list of per-iteration records (fraction remaining, predicted and actual
    loss increase on the Hessian samples, training loss after retraining).
    """
    rng = check_rng(rng)
    X, y = _check_data(model, X, y)
    idx = np.arange(len(X)) if hessian_samples is None else rng.choice(len(X), hessian_samples, replace=False)
    records = []
    for _ in range(n_iterations):
        loss_before = model.loss(X[idx], y[idx])
        s = saliencies(model, second_derivatives(model, X[idx], y[idx], approximation))        # steps 3-4
        pruned = delete_lowest_saliency(model, s, amount, scope)                               # step 5
        record = {"fraction_remaining": M.fraction_remaining(M.current_masks(pruned)),
                  "predicted_increase": predicted_loss_increase(s, M.current_masks(model), M.current_masks(pruned)),
                  "actual_increase": pruned.loss(X[idx], y[idx]) - loss_before}
        if retrain_epochs:
            pruned = train_network(pruned, X, y, epochs=retrain_epochs, batch_size=batch_size, lr=lr, rng=rng)  # step 2
        record["loss_after_retraining"] = pruned.loss(X[idx], y[idx])
        records.append(record)
        model = pruned                                                                          # step 6
    return model, records


# -- the experiment: python -m pruning obd ----------------------------------
DELETION_SCORES = ("obd", "magnitude", "random")


def deletion_scores(model, h, method, rng):
    """Scores ranking weights for deletion: saliency (OBD), |w| or random."""
    if method == "obd":
        return saliencies(model, h)
    if method == "magnitude":
        return [M.magnitudes(W) for W in model.weights]
    return [rng.random(W.shape) for W in model.weights]


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


def run_experiment(args):
    """Deletion curves and predicted-vs-actual loss increase; returns a JSON-ready dict."""
    rng = np.random.default_rng(args.seed)
    X, y, X_test, y_test = load_mnist_arrays(args.data_dir, args.n_train, rng)
    from nnlite import MLP
    t0 = time.perf_counter()
    model = train_network(MLP([784, *args.hidden, 10], init="glorot_uniform", rng=rng), X, y,
                          epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, rng=rng)
    hess_idx = rng.choice(len(X), min(args.hessian_samples, len(X)), replace=False)
    X_h, y_h = X[hess_idx], y[hess_idx]
    h = second_derivatives(model, X_h, y_h, args.approximation)
    base_loss = model.loss(X_h, y_h)
    result = {"config": {k: v for k, v in vars(args).items() if k not in ("func", "command")},
              "dense_test_error": 1 - model.score(X_test, y_test), "n_weights": sum(W.size for W in model.weights),
              "curves": {}, "predicted_vs_actual": []}
    full = M.current_masks(model)
    model_f64 = model.copy()
    model_f64.weights = [W.astype(np.float64) for W in model.weights]
    model_f64.biases = [b.astype(np.float64) for b in model.biases]
    single = result["single_deletions"] = single_deletions(model_f64, saliencies(model, h), X_h, y_h, args.n_single)
    if len(single) > 2:
        pred, act = np.array([r["predicted"] for r in single]), np.array([r["actual"] for r in single])
        both = pred + np.array([r["first_order"] for r in single])
        result["single_deletions_summary"] = {
            "spearman_actual_vs_saliency": _spearman(pred, act),
            "spearman_actual_vs_saliency_plus_first_order": _spearman(both, act),
            "median_actual_over_saliency": float(np.median(act / pred)),
            "median_abs_error_saliency_plus_first_order_over_actual":
                float(np.median(np.abs(both - act) / np.maximum(np.abs(act), 1e-12)))}
    for method in DELETION_SCORES:
        scores = deletion_scores(model, h, method, rng)
        curve = {"fraction_removed": [], "test_error": [], "test_error_retrained": []}
        for fraction in args.fractions:
            pruned = M.apply_masks(model, M.global_lowest_score_masks(scores, float(fraction), full))
            curve["fraction_removed"].append(float(fraction))
            curve["test_error"].append(1 - pruned.score(X_test, y_test))
            if args.retrain_epochs:
                retrained = train_network(pruned, X, y, epochs=args.retrain_epochs, batch_size=args.batch_size,
                                          lr=args.lr, rng=rng)
                curve["test_error_retrained"].append(1 - retrained.score(X_test, y_test))
            if method == "obd":
                s = saliencies(model, h)
                result["predicted_vs_actual"].append({
                    "fraction_removed": float(fraction),
                    "predicted": predicted_loss_increase(s, full, M.current_masks(pruned)),
                    "actual": pruned.loss(X_h, y_h) - base_loss})
        result["curves"][method] = curve
    result["seconds"] = time.perf_counter() - t0
    return result


def _spearman(a, b):
    """Rank correlation of two 1-d arrays (ties ranked by position)."""
    rank = lambda v: np.argsort(np.argsort(v, kind="stable"), kind="stable")  # noqa: E731
    return float(np.corrcoef(rank(a), rank(b))[0, 1])


def plot_results(result, path):
    """Test error vs fraction removed (left) and predicted vs actual loss increase (right)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for method, color in zip(DELETION_SCORES, ("C0", "C1", "C2")):
        curve = result["curves"][method]
        ax1.plot(curve["fraction_removed"], 100 * np.array(curve["test_error"]), "-o", color=color, label=method)
        if curve["test_error_retrained"]:
            ax1.plot(curve["fraction_removed"], 100 * np.array(curve["test_error_retrained"]), "--s", color=color,
                     label=f"{method}, retrained")
    ax1.set(xlabel="fraction of weights removed", ylabel="test error (%)", yscale="log",
            title="deletion without (solid) and with (dashed) retraining")
    ax1.legend(fontsize=8)
    pva = [r for r in result["predicted_vs_actual"] if r["fraction_removed"] > 0]
    pred, act = np.array([r["predicted"] for r in pva]), np.array([r["actual"] for r in pva])
    ax2.plot(pred, act, "o", color="C0", label="deleting a fraction at once (annotated)")
    single = result.get("single_deletions", [])
    if single:
        ax2.plot([r["predicted"] for r in single], [r["actual"] for r in single], "x", color="C3",
                 label="one weight: saliency")
        ax2.plot([r["predicted"] + r["first_order"] for r in single], [r["actual"] for r in single], "+",
                 color="C2", label="one weight: saliency - g u")
        pred = np.concatenate([pred, [r["predicted"] for r in single]])
        act = np.concatenate([act, [r["actual"] for r in single]])
    for r in pva:
        ax2.annotate(f"{r['fraction_removed']:.2f}", (r["predicted"], r["actual"]), fontsize=7)
    lims = [min(pred.min(), act.min()), max(pred.max(), act.max())] if len(pred) else [1e-4, 1]
    ax2.plot(lims, lims, "k:", label="predicted = actual")
    ax2.set(xlabel="predicted loss increase (sum of saliencies)", ylabel="actual loss increase",
            xscale="symlog", yscale="symlog", title="OBD: predicted vs actual")
    ax2.set_xscale("symlog", linthresh=1e-7)
    ax2.set_yscale("symlog", linthresh=1e-7)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


#: Options the command fills in when left unset: the defaults, and with --quick (seconds).
COMMAND_DEFAULTS = {"n_train": None, "hidden": [300, 100], "epochs": 5, "hessian_samples": 10000,
                    "fractions": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98]}
QUICK = {"n_train": 5000, "hidden": [100], "epochs": 2, "hessian_samples": 2000,
         "fractions": [0.0, 0.2, 0.5, 0.8, 0.9, 0.95]}


def add_arguments(parser):
    """Options of ``python -m pruning obd``."""
    parser.add_argument("--hidden", type=positive_int, nargs="+", default=None,
                        help="hidden layer sizes (default: 300 100)")
    parser.add_argument("--epochs", type=positive_int, default=None, help="training epochs of the dense model (5)")
    parser.add_argument("--retrain-epochs", type=non_negative_int, default=1,
                        help="retraining epochs after deletion (0: none)")
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--lr", type=positive_float, default=1e-3)
    parser.add_argument("--n-train", type=positive_int, default=None, help="training subset size (default: all 60000)")
    parser.add_argument("--hessian-samples", type=positive_int, default=None,
                        help="patterns averaged for h_kk (default: 10000)")
    parser.add_argument("--approximation", choices=APPROXIMATIONS, default="lecun")
    parser.add_argument("--fractions", type=probability, nargs="+", default=None,
                        help="fractions of the weights removed (default: 0 0.1 ... 0.9 0.95 0.98)")
    parser.add_argument("--n-single", type=non_negative_int, default=40,
                        help="weights deleted one at a time to compare saliency with the actual loss increase")
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument("--data-dir", default=None, help="data folder (default: $NNLITE_DATA)")
    parser.add_argument("--out", default="results/obd", help="folder for obd.json and obd.png")
    parser.add_argument("--blas-threads", type=positive_int, default=1,
                        help="BLAS threads (1 is fastest for small batches)")
    parser.add_argument("--quick", action="store_true",
                        help="small run: 5000 training images, hidden 100, 2 epochs, 6 fractions "
                             "(options given explicitly win)")


def apply_quick(args):
    """Fill the options left unset from the defaults, or with ``--quick`` from a run of seconds."""
    return resolve_defaults(args, COMMAND_DEFAULTS, QUICK)


def main(args):
    """``python -m pruning obd``: print the JSON results, write obd.json and obd.png to ``--out``."""
    apply_quick(args)
    with blas_threads(args.blas_threads):
        result = run_experiment(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(out)
    write_text_atomic(out / "obd.json", json.dumps(result, indent=1))
    plot_results(result, out / "obd.png")
    print(json.dumps(result))
    return 0


def blas_threads(n):
    """Context limiting BLAS threads (threadpoolctl if installed, else a no-op)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(n)


if __name__ == "__main__":  # pragma: no cover
    import sys

    from pruning.__main__ import main as pruning_main
    sys.exit(pruning_main(["obd", *sys.argv[1:]]))
