"""Minibatch training with a validation split and early stopping.

Divergence is never silent: a minibatch loss that is not finite, or that
exceeds ``divergence_factor`` times its scale at the start of training, stops
``fit`` with a ``DivergenceError`` (a ``FloatingPointError``) naming the epoch,
the minibatch and the loss, before the optimizer applies that step.
"""
import math
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from . import sparse
from ._checks import check_float_array, check_int, check_labels, check_rng
from .optim import Adam, Optimizer


@dataclass
class History:
    """Per-epoch ``loss``/``accuracy`` (training: running minibatch means unless
    ``fit(rescore_train=True)``) and ``val_loss``/``val_accuracy``."""
    loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    best_epoch: int | None = None

    def as_dict(self):
        return {k: getattr(self, k) for k in ("loss", "accuracy", "val_loss", "val_accuracy", "best_epoch")}


def minibatches(n_samples, batch_size, rng):
    """Index arrays of a fresh random permutation, ``batch_size`` at a time.

    n_samples, batch_size : int >= 1 (ValueError/TypeError naming them otherwise)
    """
    n_samples, batch_size = check_int(n_samples, "n_samples"), check_int(batch_size, "batch_size")
    order = rng.permutation(n_samples)
    return [order[s:s + batch_size] for s in range(0, n_samples, batch_size)]


class DivergenceError(FloatingPointError):
    """Training diverged: a loss is not finite, or far above its starting scale (see ``fit``)."""


def train_step_inplace(model, optimizer, X, y, max_loss=math.inf, where="", return_correct=False):
    """One gradient step on (X, y); returns the minibatch loss (and, with
    ``return_correct``, how many of its samples the pre-step logits classified right).

    Raises ``DivergenceError`` (and leaves the model as it was) when the loss
    is not finite or exceeds ``max_loss``; ``where`` (e.g. " in epoch 3")
    completes the message.
    """
    if not return_correct:
        loss, grads = model.loss_and_grads(X, y)
    elif hasattr(model, "loss_grads_and_logits"):
        loss, grads, Z = model.loss_grads_and_logits(X, y)
    else:
        Z, (loss, grads) = model._logits(X), model.loss_and_grads(X, y)
    if not (math.isfinite(loss) and loss <= max_loss):
        raise DivergenceError(f"training diverged{where}: minibatch loss {loss!r} "
                              f"{'is not finite' if not math.isfinite(loss) else f'exceeds {max_loss:.3g}'}; "
                              f"lower the learning rate or check the inputs' scale")
    if isinstance(optimizer, Optimizer):
        # check=False: a NaN gradient comes with a non-finite loss, refused above (no extra pass over the gradients)
        optimizer.step_inplace(model.params(), grads, model.param_masks(), check=False)
    else:  # a duck-typed optimizer: its own step_inplace(params, grads, masks)
        optimizer.step_inplace(model.params(), grads, model.param_masks())
    return (loss, int(np.sum(Z.argmax(axis=1) == y))) if return_correct else loss


def _loss_limit(model, first_loss, divergence_factor):
    """``divergence_factor`` x max(first minibatch loss, log(n_classes)) (the loss of uniform guessing)."""
    if divergence_factor is None:
        return math.inf
    return divergence_factor * max(first_loss, math.log(max(2, model.n_classes)))


def _check_counts(epochs, batch_size):
    """(epochs, batch_size) as ints if both are positive integers (integral floats such as 10.0 pass)."""
    return tuple(_check_count(value, name) for name, value in (("epochs", epochs), ("batch_size", batch_size)))


def _check_count(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a positive integer, found {type(value).__name__} {value!r}")
    if not math.isfinite(value) or int(value) != value or value < 1:
        raise ValueError(f"{name}: expected a positive integer such as 10, found {value!r}")
    return int(value)


def _validation_set(model, X, y, validation_split, validation_data, rng):
    """(X_train, X_val, y_train, y_val): ``validation_data`` checked, else a split of (X, y), else no validation."""
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError(f"validation_data: expected a pair (X_val, y_val), found {type(validation_data).__name__}")
        X_val = check_float_array(validation_data[0], "validation_data[0]", ndim=getattr(model, "input_ndim", 2))
        if X_val.shape[1:] != X.shape[1:]:
            raise ValueError(f"validation_data[0]: expected rows of shape {X.shape[1:]} like X, found "
                             f"{X_val.shape[1:]}; pass validation inputs with X's features")
        return X, X_val, y, check_labels(validation_data[1], "validation_data[1]", len(X_val), model.n_classes)
    if validation_split:
        from .data import train_validation_split   # the one split (lazy: nnlite.data imports pooch)
        return train_validation_split(X, y, _check_validation_split(validation_split, len(X)), rng)
    return X, None, y, None


def _check_options(optimizer, patience, on_step, on_epoch_end, divergence_factor):
    if isinstance(optimizer, type):
        raise TypeError(f"optimizer: expected an optimizer instance such as {optimizer.__name__}(1e-3), found the "
                        f"class {optimizer.__name__} itself; call it with a learning rate")
    if not callable(getattr(optimizer, "step_inplace", None)):
        raise TypeError(f"optimizer: expected an nnlite.optim optimizer such as Adam(1e-3), found "
                        f"{type(optimizer).__name__}")
    if patience is not None:
        check_int(patience, "patience")
    for name, hook in (("on_step", on_step), ("on_epoch_end", on_epoch_end)):
        if hook is not None and not callable(hook):
            raise TypeError(f"{name}: expected None or a function, found {type(hook).__name__}")
    _check_divergence_factor(divergence_factor)


def _check_divergence_factor(divergence_factor):
    if divergence_factor is not None and (isinstance(divergence_factor, bool) or not isinstance(
            divergence_factor, (int, float, np.integer, np.floating)) or not 1 < divergence_factor < math.inf):
        raise ValueError(f"divergence_factor: expected None or a finite number > 1 such as 1e6, "
                         f"found {divergence_factor!r}")


def _check_validation_split(validation_split, n_samples):
    """``fit``'s ``validation_split``: a fraction in [0, 1) leaving both parts non-empty."""
    if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float, np.integer, np.floating)):
        raise TypeError(f"validation_split: expected a fraction in [0, 1) such as 0.1, found "
                        f"{type(validation_split).__name__} {validation_split!r}")
    if not 0 <= validation_split < 1:
        raise ValueError(f"validation_split: expected a fraction in [0, 1), found {validation_split!r}")
    n_val = int(round(validation_split * n_samples))
    if validation_split and not 0 < n_val < n_samples:
        raise ValueError(f"validation_split: {validation_split!r} of {n_samples} samples leaves {n_val} for validation "
                         f"and {n_samples - n_val} for training; both need at least one, pass more samples")
    return validation_split


def fit(model, X, y, *, optimizer=None, epochs=10, batch_size=32, rng=None,
        validation_split=0.0, validation_data=None, patience=None, progress=True,
        on_step=None, on_epoch_end=None, divergence_factor=1e6, rescore_train=False):
    """Train ``model`` in place and return its ``History``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, d_in)
    y : ndarray of shape (n_samples,), integer labels
    optimizer : nnlite.optim.Optimizer, default Adam(lr=1e-3)
    validation_split : float
        Fraction of (X, y) held out at random (ignored when ``validation_data``
        is given).
    patience : int or None
        Early stopping: stop after ``patience`` epochs without a lower
        validation loss and restore the weights of the best epoch.
    rng : None, int or np.random.Generator
        Drives the validation split and the minibatch order.
    on_step, on_epoch_end : callable or None
        Hooks ``on_step(model, optimizer)`` after every optimizer step and
        ``on_epoch_end(model, optimizer, epoch)`` after every epoch's
        training pass (e.g. the rewiring of dynamic sparse training).
    divergence_factor : float > 1 or None
        Raise ``DivergenceError`` naming the epoch and the loss when a
        minibatch loss is not finite (always) or exceeds ``divergence_factor``
        x max(first minibatch loss, log(n_classes)) (None: only non-finite
        losses). At the default 1e6 a 10-class model stops above a loss of
        about 2.3e6: far beyond any loss a converging run visits, well below
        the 1e10-1e17 of a diverged one. A non-finite validation loss raises too.
    rescore_train : bool
        False (default): ``loss``/``accuracy`` are the running means over the
        epoch's minibatches, each scored before its step (as Keras logs
        them). True: ``accuracy`` is the whole training set rescored after
        the epoch (for a CNN about 1.5x the epoch's time).
    X may have more dimensions (``model.input_ndim``, e.g. 4 for NHWC images).
    """
    rng = check_rng(rng)
    X = check_float_array(X, "X", ndim=getattr(model, "input_ndim", 2))
    y = check_labels(y, "y", len(X), model.n_classes)
    epochs, batch_size = _check_counts(epochs, batch_size)
    optimizer = Adam(1e-3) if optimizer is None else optimizer
    _check_options(optimizer, patience, on_step, on_epoch_end, divergence_factor)
    X, X_val, y, y_val = _validation_set(model, X, y, validation_split, validation_data, rng)
    if patience is not None and X_val is None:
        raise ValueError("patience: early stopping needs validation_split > 0 or validation_data")
    history, best, waited, limit = History(), None, 0, [math.inf]
    bar = tqdm(range(epochs), desc="epochs", disable=not progress, leave=False)
    for epoch in bar:
        loss, n_correct = _train_epoch(model, optimizer, X, y, batch_size, rng, epoch, limit, divergence_factor,
                                       on_step)
        if on_epoch_end is not None:
            on_epoch_end(model, optimizer, epoch)
        history.loss.append(loss)
        history.accuracy.append(model.score(X, y) if rescore_train else n_correct / len(X))
        postfix = {"loss": history.loss[-1]}
        if X_val is not None:
            postfix["val_loss"] = _validate(model, X_val, y_val, history, epoch)
            if best is None or history.val_loss[-1] < best[0]:
                snapshot = _snapshot(model) if patience is not None else None  # only early stopping restores
                best, waited, history.best_epoch = (history.val_loss[-1], snapshot), 0, epoch
            else:
                waited += 1
        bar.set_postfix(postfix)
        if patience is not None and waited and waited >= patience:
            break
    if patience is not None and best is not None:
        _restore_inplace(model, best[1])
    return history


def _train_epoch(model, optimizer, X, y, batch_size, rng, epoch, limit, divergence_factor, on_step):
    """One pass over (X, y) in random minibatches: (mean loss, correct pre-step predictions).

    ``limit`` holds the divergence limit, set from the first minibatch of epoch 0."""
    losses, sizes, n_correct = [], [], 0
    for step, idx in enumerate(minibatches(len(X), batch_size, rng)):
        loss, correct = train_step_inplace(model, optimizer, X[idx], y[idx], limit[0],
                                           f" in epoch {epoch}, minibatch {step}", return_correct=True)
        losses.append(loss)
        if epoch == step == 0:
            limit[0] = _loss_limit(model, losses[0], divergence_factor)
        sizes.append(len(idx))
        n_correct += correct
        if on_step is not None:
            on_step(model, optimizer)
    return float(np.average(losses, weights=sizes)), n_correct


def _validate(model, X_val, y_val, history, epoch):
    """Append the validation loss and accuracy to ``history``; a non-finite loss raises DivergenceError."""
    history.val_loss.append(model.loss(X_val, y_val))
    if not math.isfinite(history.val_loss[-1]):
        raise DivergenceError(f"training diverged in epoch {epoch}: validation loss {history.val_loss[-1]!r} "
                              f"is not finite; lower the learning rate or check the inputs' scale")
    history.val_accuracy.append(model.score(X_val, y_val))
    return history.val_loss[-1]


def _snapshot(model):
    return [p.copy() for p in model.params()]


def _restore_inplace(model, snapshot):
    """Copy the snapshot's values back into the live parameters (any model with ``params()``)."""
    for p, saved in zip(model.params(), snapshot):
        if sparse.is_sparse(p):
            p.data[...] = saved.data
        else:
            p[...] = saved
