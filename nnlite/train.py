"""Minibatch training with a validation split and early stopping."""
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from . import sparse
from ._checks import check_float_array, check_labels, check_rng
from .optim import Adam


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
    """Index arrays of a fresh random permutation, ``batch_size`` at a time."""
    order = rng.permutation(n_samples)
    return [order[s:s + batch_size] for s in range(0, n_samples, batch_size)]


def train_step_inplace(model, optimizer, X, y, return_correct=False):
    """One gradient step on (X, y); returns the minibatch loss (and, with
    ``return_correct``, how many of its samples the pre-step logits classified right)."""
    if not return_correct:
        loss, grads = model.loss_and_grads(X, y)
    elif hasattr(model, "loss_grads_and_logits"):
        loss, grads, Z = model.loss_grads_and_logits(X, y)
    else:
        Z, (loss, grads) = model._logits(X), model.loss_and_grads(X, y)
    optimizer.step_inplace(model.params(), grads, model.param_masks())
    return (loss, int(np.sum(Z.argmax(axis=1) == y))) if return_correct else loss


def split_validation(X, y, validation_split, rng):
    """Hold out a random ``validation_split`` fraction of (X, y)."""
    if not 0 <= validation_split < 1:
        raise ValueError(f"validation_split: expected a fraction in [0, 1), found {validation_split!r}")
    n_val = int(round(validation_split * len(X)))
    if validation_split and not 0 < n_val < len(X):
        raise ValueError(f"validation_split: {validation_split!r} of {len(X)} samples leaves {n_val} for validation "
                         f"and {len(X) - n_val} for training; both need at least one, pass more samples")
    order = rng.permutation(len(X))
    return X[order[n_val:]], y[order[n_val:]], X[order[:n_val]], y[order[:n_val]]


def fit(model, X, y, *, optimizer=None, epochs=10, batch_size=32, rng=None,
        validation_split=0.0, validation_data=None, patience=None, progress=True,
        on_step=None, on_epoch_end=None, rescore_train=False):
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
    if int(epochs) != epochs or epochs < 1 or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"epochs, batch_size: expected positive integers, found {epochs!r}, {batch_size!r}")
    optimizer = optimizer or Adam(1e-3)
    if validation_data is not None:
        X_val = check_float_array(validation_data[0], "validation_data[0]", ndim=getattr(model, "input_ndim", 2))
        y_val = check_labels(validation_data[1], "validation_data[1]", len(X_val), model.n_classes)
    elif validation_split:
        X, y, X_val, y_val = split_validation(X, y, validation_split, rng)
    else:
        X_val = y_val = None
    if patience is not None and X_val is None:
        raise ValueError("patience: early stopping needs validation_split > 0 or validation_data")
    history, best, waited = History(), None, 0
    bar = tqdm(range(epochs), desc="epochs", disable=not progress, leave=False)
    for epoch in bar:
        losses, sizes, n_correct = [], [], 0
        for idx in minibatches(len(X), batch_size, rng):
            loss, correct = train_step_inplace(model, optimizer, X[idx], y[idx], return_correct=True)
            losses.append(loss)
            sizes.append(len(idx))
            n_correct += correct
            if on_step is not None:
                on_step(model, optimizer)
        if on_epoch_end is not None:
            on_epoch_end(model, optimizer, epoch)
        history.loss.append(float(np.average(losses, weights=sizes)))
        history.accuracy.append(model.score(X, y) if rescore_train else n_correct / len(X))
        postfix = {"loss": history.loss[-1]}
        if X_val is not None:
            history.val_loss.append(model.loss(X_val, y_val))
            history.val_accuracy.append(model.score(X_val, y_val))
            postfix["val_loss"] = history.val_loss[-1]
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


def _snapshot(model):
    return [p.copy() for p in model.params()]


def _restore_inplace(model, snapshot):
    """Copy the snapshot's values back into the live parameters (any model with ``params()``)."""
    for p, saved in zip(model.params(), snapshot):
        if sparse.is_sparse(p):
            p.data[...] = saved.data
        else:
            p[...] = saved
