"""Masks and pruning primitives shared by every method in ``pruning``.

A mask is a boolean array of a weight's shape, True where the weight may be
nonzero (``nnlite`` notation). Pruning only ever turns True entries False:
a new mask is the old mask AND the survivors of this step, so pruning never
revives a weight. ``nnlite.optim`` keeps a masked weight and all its optimizer
state at exactly 0 during training.

The primitives
--------------
1. ``n_to_prune(amount, n_unpruned)``: how many weights a step removes.
   ``amount`` is a float fraction in [0, 1] or an int count, always of the
   *currently unpruned* weights (those whose mask entry is True).
2. ``lowest_score_mask`` / ``global_lowest_score_masks``: remove the
   ``amount`` unpruned entries with the lowest score, within one array or
   across a list of arrays (global unstructured pruning). Magnitude pruning
   uses the score |W|; Optimal Brain Damage uses its saliencies.
3. ``magnitude_mask``, ``global_magnitude_masks``, ``random_mask``,
   ``global_random_masks``: the usual instances of 2.
4. ``prune(model, amount, method, scope, layers, rng)``: a new model with
   pruned masks (per layer or global). A model is anything with weight
   layers (``model.weight_layers()``: an ``nnlite.MLP``, a CNN built with
   ``nnlite.models.Sequential``); ``layers`` index its weight layers.
5. ``apply_masks`` (intersect with the current masks, never revives),
   ``set_masks`` (replace them; for regrowth in dynamic sparse training) and
   ``remove_masks`` (bake the masks in: the zeros stay, the masks go, so later
   training may grow them back). Each returns a new model; the ``_inplace``
   variants mutate.

Differences from torch.nn.utils.prune
-------------------------------------
This module holds the destructive primitives for the weight layers of an
``nnlite.models.Sequential`` (MLP or CNN);
``pruning.torch_like`` gives torch's interface (``l1_unstructured``,
``random_unstructured``, ``ln_structured``, ``random_structured``,
``global_unstructured``, ``custom_from_mask``, ``remove``, ``is_pruned``)
on any model with weight layers (MLP, CNN, one Conv2d/Dense layer, the
dynamic sparse layers), as a reversible reparametrisation.

Same as torch: a float ``amount`` is a fraction of the currently unpruned
entries rounded with Python's ``round`` (half to even), an int is a count and
must not exceed the number of unpruned entries; a float outside [0, 1] or a
negative int is an error; a second pruning acts on what the first left
(unstructured: the unpruned entries; structured, in ``torch_like``: the
channels not yet entirely pruned); global unstructured pruning ranks all
unpruned entries of all chosen layers together, and an int ``amount`` counts
entries over all of them; applying a mask to a pruned weight keeps the
intersection; the scores are the current (masked) weight. In ``torch_like``:
the original weight is kept beside the mask (``weight_orig``,
``weight_mask``) and the weight is ``weight_orig * weight_mask`` until
``remove`` makes the pruning permanent, and ``remove`` on an unpruned layer
raises ValueError; an amount is validated as by torch's
``_validate_pruning_amount_init``, where a bool is an int: ``True`` is the
count 1 and ``False`` the count 0, and ``np.bool_`` (not a ``numbers.Real``)
is refused.

Different:

- A bool ``amount`` is refused (TypeError naming ``amount``) by this module's
  primitives, where torch's validation and ``torch_like`` read True as the
  count 1: here ``True`` is more likely a mistake for "everything" than a
  count. torch itself is not consistent past its validation: ``ln_structured``
  prunes one channel for ``True``, but the unstructured methods and
  ``random_structured`` pass the bool to ``topk``/``kthvalue``, which refuse
  it with a TypeError; ``torch_like`` reads True as 1 in every function.
- Ties are broken deterministically: among equal scores the entry (or
  channel) with the lower index is pruned first, and in global pruning the
  earlier layer first. torch uses ``topk``, whose order among ties is not
  specified.
- This module's pruning is destructive: the masked entries of the weight are
  set to 0 in the weight itself and only ``torch_like`` keeps the original
  values; a method that needs them (lottery tickets: theta_0) keeps its own
  copy. ``torch_like`` keeps them on the weight layers
  (``layer.weights_orig``), so ``MLP.copy`` and saving keep the pruned weight
  and the mask but forget the originals.
- Masks live on the weight layers (``layer.mask``, listed by ``model.masks``) and the
  optimizers respect them: a pruned weight, its gradient and its optimizer
  state stay exactly 0, and the pruned entries of ``weight_orig`` stay as they
  were when pruned. torch relies on the hook and on gradients through
  ``weight_orig * mask``: momentum or weight decay can still move the pruned
  entries of ``weight_orig``, only the product stays 0.
- ``remove_masks`` sets every ``layer.mask`` to None: the zeros are baked in and
  may be trained away afterwards, exactly as after ``torch...prune.remove``.
  It leaves an unmasked layer alone, where torch's ``remove`` (and
  ``torch_like.remove``) raises. ``torch_like.remove`` also refuses a dynamic
  sparse layer, whose mask is its topology.
- Functions here return new masks / new models and never mutate their
  arguments unless the name ends in ``_inplace``; ``torch_like``'s functions
  modify the model and return it, as torch's modify the module.
- Only weights are pruned, never biases. Structured pruning's ``dim`` indexes
  nnlite's kernel layout, Dense (d_in, d_out) and Conv2d (kh, kw, c_in, c_out),
  not torch's (out, in[, kh, kw]): torch's ``dim=0`` is our ``dim=-1``
  (``torch_like.dim_from_torch`` converts).
- Scores may be any finite array (``importance_scores`` in torch); NaN scores
  and a NaN ``amount`` are rejected (torch ranks NaN scores and fails on a NaN
  amount only when converting it). Bad arguments raise ValueError/TypeError
  naming the argument, where torch raises IndexError for a bad ``dim`` and
  AssertionError for mis-shaped scores. ``ln_structured`` takes ``n`` > 0,
  ``inf``, ``-inf`` or ``"fro"``; torch's ``0``, negative orders and ``"nuc"``
  are refused.
"""
import numbers

import numpy as np
import scipy.sparse as sp

from nnlite import sparse
from nnlite._checks import check_rng

METHODS = ("magnitude", "random")
SCOPES = ("layer", "global")


# -- 1. how many to prune -----------------------------------------------------
def n_to_prune(amount, n_unpruned, name="amount"):
    """Number of entries a pruning step removes out of ``n_unpruned``.

    Parameters
    ----------
    amount : float in [0, 1] or int >= 0
        A fraction of the currently unpruned entries (rounded half to even,
        like ``torch.nn.utils.prune``) or a count (at most ``n_unpruned``).
    n_unpruned : int
    """
    if isinstance(n_unpruned, (bool, np.bool_)) or not isinstance(n_unpruned, numbers.Integral) or n_unpruned < 0:
        raise TypeError(f"n_unpruned: expected a non-negative int (a count of entries), found {n_unpruned!r}")
    if isinstance(amount, (bool, np.bool_)) or not isinstance(amount, numbers.Real):
        raise TypeError(f"{name}: expected a float in [0, 1] or a non-negative int, found {amount!r}")
    if isinstance(amount, numbers.Integral):
        if amount < 0 or amount > n_unpruned:
            raise ValueError(f"{name}: expected an int count in [0, {n_unpruned}] (the number of unpruned "
                             f"entries), found {amount}; pass a smaller count or a fraction")
        return int(amount)
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"{name}: expected a fraction in [0, 1] of the unpruned entries, found {amount!r}; "
                         "an int is read as a count")
    return int(round(float(amount) * n_unpruned))


# -- helpers -------------------------------------------------------------------
def _full_mask(mask, shape, name):
    """``mask`` as a fresh boolean array of ``shape`` (all True for None)."""
    if mask is None:
        return np.ones(shape, dtype=bool)
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != tuple(shape):
        raise ValueError(f"{name}: expected a boolean mask of shape {tuple(shape)}, found {mask.dtype} "
                         f"{mask.shape}; build it with np.ones(W.shape, dtype=bool)")
    return mask.copy()


def _check_scores(scores, name):
    if sp.issparse(scores):
        raise TypeError(f"{name}: expected a dense ndarray of scores, found {type(scores).__name__}")
    scores = np.asarray(scores)
    if not np.issubdtype(scores.dtype, np.number) or np.iscomplexobj(scores):
        raise TypeError(f"{name}: expected real numeric scores, found dtype {scores.dtype}")
    if scores.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, found shape {scores.shape}")
    if not np.isfinite(scores).all():
        raise ValueError(f"{name}: expected finite values without NaN or inf, found "
                         f"{int((~np.isfinite(scores)).sum())} NaN/inf entries; clean the weights or scores first")
    return scores


def _check_bool_mask(mask, name):
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.size == 0:
        raise TypeError(f"{name}: expected a non-empty boolean mask, found {mask.dtype} of shape {mask.shape}; "
                        "build it with W != 0 or np.ones(W.shape, dtype=bool)")
    return mask


def _check_list(items, name, what):
    """``items`` as a non-empty list (a list or tuple of ``what``, not an array or a str)."""
    if isinstance(items, (str, bytes, np.ndarray)) or sp.issparse(items) or not hasattr(items, "__iter__"):
        raise TypeError(f"{name}: expected a list of {what} (one per layer), found {type(items).__name__}; "
                        f"wrap a single one in a list")
    items = list(items)
    if not items:
        raise ValueError(f"{name}: expected at least one of {what}, found an empty list")
    return items


def _check_model(model, name="model"):
    """``model`` must have weight layers (an nnlite.MLP or Sequential)."""
    if not callable(getattr(model, "weight_layers", None)) or not callable(getattr(model, "copy", None)):
        raise TypeError(f"{name}: expected an nnlite model with weight layers (nnlite.MLP, nnlite.Sequential), "
                        f"found {type(model).__name__}")
    return model


def _check_shape(shape, name):
    """A weight's shape: a tuple of positive ints (or an array, whose shape is taken)."""
    if hasattr(shape, "shape"):
        return tuple(shape.shape)
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise TypeError(f"{name}: expected a shape like (d_in, d_out) or a weight array, found {shape!r}")
    shape = tuple(shape)
    if not shape or not all(isinstance(d, numbers.Integral) and not isinstance(d, (bool, np.bool_)) and d > 0
                            for d in shape):
        raise ValueError(f"{name}: expected a shape of positive ints like (d_in, d_out), found {shape!r}")
    return tuple(int(d) for d in shape)


def _check_weight(W, name):
    """A weight (ndarray or CSR) of finite real numbers, or an error naming ``name``."""
    if W is None or isinstance(W, (str, bytes)):
        raise TypeError(f"{name}: expected a weight array, found {type(W).__name__}")
    values = W.data if sparse.is_sparse(W) else np.asarray(W)
    if values.size == 0 and not sparse.is_sparse(W):
        raise ValueError(f"{name}: expected a non-empty weight array, found shape {values.shape}")
    if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool) or np.iscomplexobj(values):
        raise TypeError(f"{name}: expected a real numeric weight array, found dtype {values.dtype}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name}: expected finite weights, found {int(np.size(values) - np.isfinite(values).sum())} "
                         "NaN/inf entries")
    return W


def magnitudes(W):
    """|W| as a dense array of W's shape (a CSR weight's unstored entries are 0).

    The dense result is as large as the mask it is compared with.
    """
    W = _check_weight(W, "W")
    if sparse.is_sparse(W):
        return sparse.to_dense(abs(W))
    return np.abs(np.asarray(W))


def _lowest(scores, n):
    """Flat indices of the ``n`` lowest ``scores``; ties go to the lower index."""
    return np.argsort(scores, kind="stable")[:n]


# -- 2. lowest-score pruning --------------------------------------------------
def lowest_score_mask(scores, amount, mask=None):
    """New mask removing the ``amount`` unpruned entries of lowest score.

    Parameters
    ----------
    scores : ndarray of shape (d_in, d_out)
        Importance of each entry (e.g. |W| or a saliency).
    amount : float in [0, 1] or int
        Fraction or count of the currently unpruned entries (``mask`` True).
    mask : bool ndarray of shape (d_in, d_out) or None
        The current mask (None: nothing pruned yet). Not modified.

    Returns
    -------
    new_mask : bool ndarray of shape (d_in, d_out), a subset of ``mask``.
    """
    return _lowest_score_masks([scores], amount, [mask], ["scores"], ["mask"])[0]


def global_lowest_score_masks(scores, amount, masks=None):
    """New masks removing the ``amount`` lowest-score unpruned entries over all arrays.

    Parameters
    ----------
    scores : list of ndarray, the i-th of shape (d_in_i, d_out_i)
    amount : float in [0, 1] or int
        Fraction or count of the unpruned entries of all arrays together.
    masks : list of (bool ndarray or None) or None

    Returns
    -------
    new_masks : list of bool ndarray, each a subset of the given mask.
    """
    scores = _check_list(scores, "scores", "score arrays")
    masks = [None] * len(scores) if masks is None else _check_list(masks, "masks", "masks")
    if len(masks) != len(scores):
        raise ValueError(f"masks: expected {len(scores)} masks (one per score array), found {len(masks)}")
    return _lowest_score_masks(scores, amount, masks, [f"scores[{i}]" for i in range(len(scores))],
                               [f"masks[{i}]" for i in range(len(scores))])


def _lowest_score_masks(scores, amount, masks, score_names, mask_names):
    """``global_lowest_score_masks`` with the names the caller's user knows the arrays by (for errors)."""
    scores = [_check_scores(s, name) for s, name in zip(scores, score_names)]
    new_masks = [_full_mask(m, s.shape, name) for s, m, name in zip(scores, masks, mask_names)]
    alive = np.concatenate([m.ravel() for m in new_masks]) if new_masks else np.zeros(0, bool)
    flat_scores = np.concatenate([s.ravel().astype(np.float64) for s in scores]) if scores else np.zeros(0)
    candidates = np.flatnonzero(alive)
    n = n_to_prune(amount, len(candidates))
    alive[candidates[_lowest(flat_scores[candidates], n)]] = False
    bounds = np.cumsum([0] + [m.size for m in new_masks])
    return [alive[a:b].reshape(m.shape) for a, b, m in zip(bounds[:-1], bounds[1:], new_masks)]


# -- 3. magnitude and random pruning ----------------------------------------
def magnitude_mask(W, amount, mask=None):
    """New mask removing the ``amount`` unpruned entries of smallest |W| (cf. ``prune.l1_unstructured``)."""
    return _lowest_score_masks([magnitudes(_check_weight(W, "W"))], amount, [mask], ["W"], ["mask"])[0]


def global_magnitude_masks(weights, amount, masks=None):
    """New masks removing the smallest |W| over all ``weights`` together (cf. ``prune.global_unstructured``)."""
    weights = [_check_weight(W, f"weights[{i}]") for i, W in enumerate(_check_list(weights, "weights", "weight arrays"))]
    return global_lowest_score_masks([magnitudes(W) for W in weights], amount, masks)


def random_mask(shape, amount, mask=None, rng=None):
    """New mask removing ``amount`` unpruned entries chosen uniformly at random (cf. ``prune.random_unstructured``).

    ``shape`` is a weight's shape (or the weight itself).
    """
    shape = _check_shape(shape, "shape")
    scores = check_rng(rng).random(int(np.prod(shape))).reshape(shape)
    return _lowest_score_masks([scores], amount, [mask], ["shape"], ["mask"])[0]


def global_random_masks(shapes, amount, masks=None, rng=None):
    """New masks removing ``amount`` unpruned entries uniformly at random over all arrays."""
    rng = check_rng(rng)
    shapes = [_check_shape(s, f"shapes[{i}]") for i, s in enumerate(_check_list(shapes, "shapes", "shapes"))]
    masks = [None] * len(shapes) if masks is None else _check_list(masks, "masks", "masks")
    if len(masks) != len(shapes):
        raise ValueError(f"masks: expected {len(shapes)} masks (one per shape), found {len(masks)}")
    # Random scores for the unpruned entries: a uniform random subset of them is lowest.
    sizes = [int(np.prod(s)) for s in shapes]
    flat = rng.random(sum(sizes))
    bounds = np.cumsum([0] + sizes)
    scores = [flat[a:b].reshape(s) for a, b, s in zip(bounds[:-1], bounds[1:], shapes)]
    return global_lowest_score_masks(scores, amount, masks)


# -- model-level helpers --------------------------------------------------------
def current_masks(model):
    """Fresh boolean masks of every weight layer of ``model`` (all True where it has none)."""
    return [_full_mask(L.mask, L.W.shape, f"model.masks[{i}]") for i, L in enumerate(_check_model(model).weight_layers())]


def check_layers(layers, n_layers):
    """Sorted unique layer indices (None: all layers); errors name the valid range."""
    if layers is None:
        return list(range(n_layers))
    if isinstance(layers, (str, bytes)) or not (isinstance(layers, numbers.Integral) or hasattr(layers, "__iter__")):
        raise TypeError(f"layers: expected None, a layer index or a list of them, found {layers!r}")
    layers = [layers] if isinstance(layers, numbers.Integral) else list(layers)
    if not layers or len(set(layers)) != len(layers):
        raise ValueError(f"layers: expected distinct layer indices in [0, {n_layers}) (None for all), found {layers!r}")
    for i in layers:
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, numbers.Integral) or not -n_layers <= i < n_layers:
            raise ValueError(f"layers: expected layer indices in [0, {n_layers}) for a model with {n_layers} "
                             f"layers, found {i!r}")
    return sorted({int(i) % n_layers for i in layers})


def fraction_remaining(masks, layers=None):
    """Fraction of entries that are still unpruned (True) over ``masks`` (or the chosen layers)."""
    masks = [_check_bool_mask(m, f"masks[{i}]") for i, m in enumerate(_check_list(masks, "masks", "boolean masks"))]
    chosen = [masks[i] for i in check_layers(layers, len(masks))]
    return float(sum(int(m.sum()) for m in chosen) / sum(m.size for m in chosen))


# -- 4. pruning a model -----------------------------------------------------
def prune_masks(model, amount, method="magnitude", scope="layer", layers=None, rng=None):
    """New masks for ``model`` after one pruning step (the model is not changed).

    Parameters
    ----------
    model : nnlite.MLP or nnlite.Sequential (its weight layers are pruned)
    amount : float or int, or (scope="layer") a sequence with one per chosen layer
        Fraction or count of the currently unpruned weights to remove: of each
        chosen layer (scope="layer") or of all chosen layers together
        (scope="global").
    method : "magnitude" or "random"
    scope : "layer" or "global"
    layers : int, sequence of int or None
        The layers to prune (None: all); biases are never pruned.
    rng : None, int or np.random.Generator
        Used by method="random".

    Returns
    -------
    masks : list of bool ndarray, one per layer (unchosen layers keep theirs).
    """
    weight_layers = _check_model(model).weight_layers()
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, found {method!r}")
    if not isinstance(scope, str) or scope not in SCOPES:
        raise ValueError(f"scope: expected one of {SCOPES}, found {scope!r}")
    rng = check_rng(rng)
    layers = check_layers(layers, len(weight_layers))
    masks = current_masks(model)
    weights = [weight_layers[i].W for i in layers]
    old = [masks[i] for i in layers]
    if scope == "global":
        new = (global_magnitude_masks(weights, amount, old) if method == "magnitude"
               else global_random_masks(weights, amount, old, rng))
    else:
        amounts = _per_layer(amount, len(layers))
        new = [magnitude_mask(W, a, m) if method == "magnitude" else random_mask(W.shape, a, m, rng)
               for W, a, m in zip(weights, amounts, old)]
    for i, m in zip(layers, new):
        masks[i] = m
    return masks


def _per_layer(amount, n_layers):
    if isinstance(amount, (numbers.Real, np.bool_)):
        return [amount] * n_layers
    if isinstance(amount, (str, bytes)) or not hasattr(amount, "__iter__"):
        raise TypeError(f"amount: expected a float in [0, 1], an int count, or one per chosen layer, found {amount!r}")
    amounts = list(amount)
    if len(amounts) != n_layers:
        raise ValueError(f"amount: expected one amount or {n_layers} (one per chosen layer), found {len(amounts)}")
    return amounts


def prune(model, amount, method="magnitude", scope="layer", layers=None, rng=None):
    """A new model pruned by one step of ``prune_masks`` (same arguments)."""
    return apply_masks(_check_model(model), prune_masks(model, amount, method, scope, layers, rng))


# -- 5. applying, replacing and removing masks ------------------------------
def _check_masks(model, masks):
    layers = _check_model(model).weight_layers()
    masks = _check_list(masks, "masks", "boolean masks (None to leave a layer alone)")
    if len(masks) != len(layers):
        raise ValueError(f"masks: expected {len(layers)} masks (one per layer, None to leave a layer alone), "
                         f"found {len(masks)}")
    return [None if m is None else _full_mask(m, L.W.shape, f"masks[{i}]") for i, (L, m) in enumerate(zip(layers, masks))]


def apply_masks_inplace(model, masks):
    """Intersect each layer's mask with ``masks[i]`` (None: leave it) and zero the pruned weights."""
    masks = _check_masks(model, masks)
    for layer, m, old in zip(model.weight_layers(), masks, current_masks(model)):
        if m is not None:
            layer.set_mask_inplace(m & old)
    return model


def apply_masks(model, masks):
    """A copy of ``model`` with ``apply_masks_inplace`` applied."""
    return apply_masks_inplace(_check_model(model).copy(), masks)


def set_masks_inplace(model, masks):
    """Replace each layer's mask by ``masks[i]`` (None: leave it).

    Entries that become True again keep their current value (0 if they had
    been pruned), so a regrown connection starts at 0.
    """
    masks = _check_masks(model, masks)
    for layer, m in zip(model.weight_layers(), masks):
        if m is not None:
            layer.set_mask_inplace(m)
    return model


def set_masks(model, masks):
    """A copy of ``model`` with ``set_masks_inplace`` applied."""
    return set_masks_inplace(_check_model(model).copy(), masks)


def remove_masks_inplace(model):
    """Bake the masks into the weights (like ``torch.nn.utils.prune.remove``) and drop them.

    Masked weights are 0 already; a CSR weight also drops its masked stored
    entries. Afterwards nothing holds the zeros: training can move them.
    """
    for layer in _check_model(model).weight_layers():
        W, m = layer.W, layer.mask
        if m is None:
            continue
        if sparse.is_sparse(W):
            rows, cols = sparse.stored_positions(W)
            keep = m[rows, cols]
            layer.W = sp.csr_array((W.data[keep], (rows[keep], cols[keep])), shape=W.shape)
        else:
            W *= m
        layer.mask = None
    return model


def remove_masks(model):
    """A copy of ``model`` with the masks baked in and removed."""
    return remove_masks_inplace(_check_model(model).copy())


__all__ = ["n_to_prune", "magnitudes", "lowest_score_mask", "global_lowest_score_masks", "magnitude_mask",
           "global_magnitude_masks", "random_mask", "global_random_masks", "current_masks", "check_layers",
           "fraction_remaining", "prune_masks", "prune", "apply_masks", "apply_masks_inplace", "set_masks",
           "set_masks_inplace", "remove_masks", "remove_masks_inplace"]
