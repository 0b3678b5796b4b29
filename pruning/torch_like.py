"""The interface of ``torch.nn.utils.prune`` on nnlite models (MLP and CNN).

Every function prunes one weight layer (or, ``global_unstructured``, several)
*in place* and returns the model, as torch's functions modify the module. The
pruning is a reversible reparametrisation, as in torch:

- ``weight_mask(model, layer)`` is the boolean mask (torch: ``weight_mask``);
- ``weight_orig(model, layer)`` the original weight (torch: ``weight_orig``):
  the trained values where the mask is True, and where it is False the value
  the weight had when that entry was pruned;
- the layer's weight is always ``weight_orig * weight_mask`` (torch: the
  forward pre-hook), so the forward pass, the optimizers and the masks of
  ``nnlite`` work unchanged and keep a pruned weight at exactly 0;
- ``remove(model, layer)`` makes the pruning permanent: the zeros stay, the
  mask and the original go (a later training step may move the zeros), and
  an unpruned layer is refused with a ValueError naming ``layer``.

A second pruning of a pruned layer acts on what the first left, like torch's
``PruningContainer``: an unstructured step removes ``amount`` of the
*unpruned entries*, a structured step ``amount`` of the channels that are not
entirely pruned. ``amount`` is validated as by torch's
``_validate_pruning_amount_init``: a ``numbers.Integral`` is a count, at most
the number of candidates, and any other real number a fraction in [0, 1]
(rounded half to even). A bool is an Integral, so ``True`` is the count 1
and ``False`` the count 0 in every function here. (In torch, ``False`` prunes
nothing and ``ln_structured`` prunes one channel for ``True``, but the
unstructured methods and ``random_structured`` hand the bool on to
``topk``/``kthvalue``, whose argument parser refuses a bool for an int: a
TypeError. Read from torch's source, not run here.) The scores are the
current (masked) weight, as in torch; ties are broken toward the lower index
(see ``pruning.masks``).

Layers and ``dim``
------------------
``weight_layers(model)`` lists ``(name, WeightSlot)`` for the weight layers
of an ``nnlite.MLP`` (names ``weights[i]``), any other
``nnlite.models.Sequential`` (``layers[j]``, its Conv2d and Dense layers,
sparse ones included) or a single weight layer (``layer``). ``layer`` in
every function is a position among the weight layers (negative counts from
the end) or such a name; it may be None for a single layer.
Structured pruning sees a layer's *kernel* in nnlite's layout:

=============  ==========================  ============================
layer          kernel axes (``dim``)       torch weight axes
=============  ==========================  ============================
Dense / MLP    (d_in, d_out): 0, 1         Linear (out, in): 0, 1
Conv2d         (kh, kw, c_in, c_out):      Conv2d (out, in, kh, kw):
               0, 1, 2, 3                  0, 1, 2, 3
=============  ==========================  ============================

so torch's ``dim=0`` (output units/channels) is our ``dim=-1`` and torch's
``dim=1`` (inputs) is our ``dim=0`` (Dense) or ``dim=2`` (Conv2d);
``dim_from_torch`` converts.
"""
import numbers

import numpy as np
import scipy.sparse as sp

from nnlite import sparse
from nnlite._checks import check_rng
from nnlite.layers import WeightLayer
from nnlite.models import MLP, Sequential
from pruning import masks as M

PRUNING_METHODS = ("l1", "random")


# -- the adapter: one view of a weight layer for every model -----------------------
class WeightSlot:
    """One weight layer as torch's functions see it: its ``name``, live ``W``, ``mask``, kernel shape
    and the original saved at its first pruning (on the layer, ``layer.weights_orig``)."""

    def __init__(self, name, layer):
        self.name, self.layer, self.dynamic = name, layer, hasattr(layer, "set_topology_inplace")
        self.kernel_shape = ((*layer.kernel_size, layer.c_in, layer.W.shape[1]) if hasattr(layer, "kernel_size")
                             else tuple(layer.W.shape))

    W = property(lambda self: self.layer.W, lambda self, W: setattr(self.layer, "W", W))
    mask = property(lambda self: self.layer.mask)

    def set_mask(self, mask):
        self.layer.set_mask_inplace(mask)

    def drop_mask(self):
        self.layer.mask = None

    @property
    def saved(self):
        """``(values, mask)``: the original weight (dense, W's shape) and the mask it was saved with, or None."""
        return getattr(self.layer, "weights_orig", None)

    @saved.setter
    def saved(self, values):
        if values is not None:
            self.layer.weights_orig = values
        elif hasattr(self.layer, "weights_orig"):
            del self.layer.weights_orig


def weight_layers(model):
    """``[(name, WeightSlot), ...]`` for a model's weight layers (an MLP's ``weights[i]``, a Sequential's
    ``layers[j]``) or for one Conv2d/Dense layer (``layer``)."""
    if isinstance(model, WeightLayer):
        return [("layer", WeightSlot("layer", model))]
    if isinstance(model, MLP):
        return [(f"weights[{i}]", WeightSlot(f"weights[{i}]", L)) for i, L in enumerate(model.weight_layers())]
    if isinstance(model, Sequential):
        return [(f"layers[{j}]", WeightSlot(f"layers[{j}]", L)) for j, L in enumerate(model.layers)
                if isinstance(L, WeightLayer)]
    raise TypeError(f"model: expected an nnlite MLP, a Sequential or a Conv2d/Dense layer, found {type(model).__name__}")


def _slot(model, layer, name="layer"):
    """The slot of ``model`` chosen by ``layer`` (index among weight layers, name, or None for one layer);
    an error names ``name``, the argument as the caller spelled it."""
    slots = weight_layers(model)
    names = [name for name, _ in slots]
    if layer is None and len(slots) == 1:
        return slots[0][1]
    if isinstance(layer, str) and layer in names:
        return slots[names.index(layer)][1]
    if isinstance(layer, numbers.Integral) and not isinstance(layer, (bool, np.bool_)) \
            and -len(slots) <= layer < len(slots):
        return slots[int(layer)][1]
    raise ValueError(f"{name}: expected a weight-layer index in [0, {len(slots)}) or one of {names}, "
                     f"found {layer!r}; list them with weight_layers(model)")


# -- amounts as torch reads them --------------------------------------------------
def torch_amount(amount, name="amount"):
    """``amount`` as torch's ``_validate_pruning_amount_init`` reads it.

    An ``numbers.Integral`` (bool included: True -> 1, False -> 0) is a count
    >= 0; any other ``numbers.Real`` a fraction in [0, 1]. NaN is refused
    (torch fails later, converting it to an int). Returns an int or a float.
    """
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"{name}: expected an int count or a float fraction in [0, 1] (torch's rule), "
                        f"found {type(amount).__name__} {amount!r}")
    if isinstance(amount, numbers.Integral):
        if amount < 0:
            raise ValueError(f"{name}: expected a non-negative int count, found {amount!r}")
        return int(amount)
    if not 0.0 <= float(amount) <= 1.0:
        raise ValueError(f"{name}: expected a fraction in [0, 1] (or an int count), found {amount!r}")
    return float(amount)


# -- the reparametrisation ---------------------------------------------------------
def _dense(W):
    return sparse.to_dense(W) if sparse.is_sparse(W) else np.asarray(W)


def _current_mask(slot):
    return np.ones(slot.W.shape, bool) if slot.mask is None else np.asarray(slot.mask, bool).copy()


def _original(slot):
    """weight_orig: the live weight, except where both the mask and the mask saved with
    the originals are False (pruned here, not since changed by other code): the saved values."""
    W = _dense(slot.W).copy()
    if slot.mask is not None and slot.saved is not None:
        values, saved_mask = slot.saved
        pruned_here = ~slot.mask & ~saved_mask
        W[pruned_here] = values[pruned_here]
    return W


def _reparametrise(slot, new_mask):
    """Save the original, then make ``new_mask`` (a subset of the current mask) the layer's mask."""
    slot.saved = (_original(slot), new_mask.copy())
    slot.set_mask(new_mask)


def weight_orig(model, layer=None):
    """The original weight of a layer (torch's ``weight_orig``), W's shape; a copy."""
    return _original(_slot(model, layer))


def weight_mask(model, layer=None):
    """The layer's mask (torch's ``weight_mask``): a copy, all True for an unpruned layer."""
    return _current_mask(_slot(model, layer))


def is_pruned(model):
    """True if any weight layer of ``model`` (or the layer itself) has a mask, like torch's ``is_pruned``.

    A mask set by ``pruning.masks`` counts too, and a dynamic sparse layer always has one (its topology).
    """
    return any(slot.mask is not None for _, slot in weight_layers(model))


def remove(model, layer=None):
    """Make a layer's pruning permanent (torch's ``prune.remove``); returns ``model``.

    The weight keeps its zeros (a CSR weight drops its masked stored entries);
    the mask and the saved original go. Raises ValueError naming ``layer`` if
    the layer is not pruned (so a second ``remove`` raises) or is a dynamic
    sparse layer (its mask is its topology).
    """
    slot = _slot(model, layer)
    if slot.mask is None:
        raise ValueError(f"layer: {slot.name} has to be pruned before its pruning can be removed (it has no "
                         "mask); prune it first or skip it")
    if slot.dynamic:
        raise ValueError(f"layer: {slot.name} is a dynamic sparse layer whose mask is its topology; "
                         "change it with set_topology_inplace instead")
    W, mask = slot.W, slot.mask
    if sparse.is_sparse(W):
        rows, cols = sparse.stored_positions(W)
        keep = mask[rows, cols]
        slot.W = sp.csr_array((W.data[keep], (rows[keep], cols[keep])), shape=W.shape)
    else:
        W *= mask
    slot.drop_mask()
    slot.saved = None
    return model


# -- unstructured pruning -----------------------------------------------------------
def _scores(slot, importance_scores):
    if importance_scores is None:
        return M.magnitudes(slot.W)
    scores = M._check_scores(importance_scores, "importance_scores")
    if scores.size != int(np.prod(slot.W.shape)) or scores.shape not in (tuple(slot.W.shape), slot.kernel_shape):
        raise ValueError(f"importance_scores: expected shape {tuple(slot.W.shape)} or {slot.kernel_shape} "
                         f"(the weight of {slot.name}), found {scores.shape}")
    return np.abs(scores.reshape(slot.W.shape))


def l1_unstructured(model, layer, amount, importance_scores=None):
    """Prune the ``amount`` unpruned entries of smallest |score| of one layer (in place).

    Parameters
    ----------
    model, layer : as in ``ln_structured``
    amount : int (bool included) or float in [0, 1]
        Count or fraction of the layer's unpruned entries.
    importance_scores : ndarray of W's or the kernel's shape, or None (|W|)

    Returns
    -------
    model, with the layer's mask a subset of the old one and its original kept.
    """
    slot = _slot(model, layer)
    amount = torch_amount(amount)
    new = M.lowest_score_mask(_scores(slot, importance_scores), amount, _current_mask(slot))
    _reparametrise(slot, new)
    return model


def random_unstructured(model, layer, amount, rng=None):
    """Prune ``amount`` unpruned entries of one layer chosen uniformly at random; returns ``model``."""
    slot = _slot(model, layer)
    amount = torch_amount(amount)
    _reparametrise(slot, M.random_mask(slot.W.shape, amount, _current_mask(slot), check_rng(rng)))
    return model


def global_unstructured(model, amount, layers=None, pruning_method="l1", rng=None):
    """Prune ``amount`` of the unpruned entries of the chosen layers ranked together; returns ``model``.

    ``layers``: None (all weight layers) or a list of indices/names;
    ``pruning_method``: "l1" (smallest |W|) or "random".
    """
    if not isinstance(pruning_method, str) or pruning_method not in PRUNING_METHODS:
        raise ValueError(f"pruning_method: expected one of {PRUNING_METHODS}, found {pruning_method!r}")
    rng = check_rng(rng)  # checked even when "l1" does not draw from it
    amount = torch_amount(amount)
    n_slots = len(weight_layers(model))
    chosen = list(range(n_slots)) if layers is None else M._check_list(layers, "layers", "layer indices or names")
    slots = [_slot(model, c, f"layers[{i}]") for i, c in enumerate(chosen)]
    if len({s.name for s in slots}) != len(slots):
        raise ValueError(f"layers: expected distinct layers, found {layers!r}")
    old = [_current_mask(s) for s in slots]
    new = (M.global_magnitude_masks([s.W for s in slots], amount, old) if pruning_method == "l1"
           else M.global_random_masks([s.W.shape for s in slots], amount, old, rng))
    for s, m in zip(slots, new):
        _reparametrise(s, m)
    return model


def custom_from_mask(model, layer, mask):
    """Prune one layer by a given boolean ``mask`` of W's shape (intersected with its mask); returns ``model``."""
    slot = _slot(model, layer)
    if mask is None:
        raise TypeError(f"mask: expected a boolean mask of shape {tuple(slot.W.shape)}, found None; "
                        f"build it with np.ones(W.shape, dtype=bool)")
    mask = M._full_mask(mask, slot.W.shape, "mask")
    _reparametrise(slot, mask & _current_mask(slot))
    return model


# -- structured pruning --------------------------------------------------------------
def _check_dim(dim, ndim, name="dim"):
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, numbers.Integral) or not -ndim <= dim < ndim:
        raise ValueError(f"{name}: expected a kernel axis in [{-ndim}, {ndim}) (see the table in "
                         f"pruning.torch_like), found {dim!r}")
    return int(dim) % ndim


def dim_from_torch(model, layer, torch_dim):
    """Our kernel ``dim`` for torch's ``dim`` on the same layer (Linear (out, in), Conv2d (out, in, kh, kw))."""
    slot = _slot(model, layer)
    ndim = len(slot.kernel_shape)
    torch_dim = _check_dim(torch_dim, ndim, "torch_dim")
    return {2: (1, 0), 4: (3, 2, 0, 1)}[ndim][torch_dim]


def _check_norm(n):
    if n == "fro":
        return 2.0
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Real) or not (n > 0 or n == -np.inf):
        raise ValueError(f"n: expected a positive number, inf, -inf or 'fro' (the order of the norm), found {n!r}")
    return float(n)


def channel_norms(kernel, n, dim):
    """L``n`` norm of each slice of ``kernel`` along ``dim`` (over all other axes), like torch's ``_compute_norm``."""
    flat = np.abs(np.moveaxis(kernel, dim, 0).reshape(kernel.shape[dim], -1)).astype(np.float64)
    if np.isinf(n):
        return flat.max(axis=1) if n > 0 else flat.min(axis=1)
    return (flat ** n).sum(axis=1) ** (1.0 / n)


def _structured_mask(slot, amount, dim, channel_scores):
    """The current mask minus the ``amount`` lowest-score channels along ``dim`` that are not yet all pruned."""
    mask = _current_mask(slot).reshape(slot.kernel_shape)
    alive = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != dim)))
    drop = alive[np.argsort(channel_scores(alive), kind="stable")[:M.n_to_prune(amount, len(alive))]]
    index = [slice(None)] * mask.ndim
    index[dim] = drop
    mask[tuple(index)] = False
    return mask.reshape(slot.W.shape)


def ln_structured(model, layer, amount, n, dim, importance_scores=None):
    """Prune the ``amount`` channels along kernel axis ``dim`` of smallest L``n`` norm (in place).

    Parameters
    ----------
    model : nnlite.MLP, nnlite.models.Sequential or one Conv2d/Dense layer
    layer : int, str or None
        Position among the weight layers, a name from ``weight_layers``, or
        None when ``model`` is one layer.
    amount : int (bool included) or float in [0, 1]
        Count or fraction of the channels not yet entirely pruned (torch's
        ``PruningContainer``).
    n : float > 0, inf, -inf or "fro"
        Order of the norm over all other kernel axes.
    dim : int
        Kernel axis of the channels: of (d_in, d_out) for a Dense layer, of
        (kh, kw, c_in, c_out) for a Conv2d (``dim_from_torch`` converts
        torch's).
    importance_scores : ndarray of W's or the kernel's shape, or None (|W|)

    Returns
    -------
    model, with the layer's mask (W's shape (d_in, d_out) or
    (kh * kw * c_in, c_out)) a subset of the old one and its original kept.
    """
    slot = _slot(model, layer)
    amount, n = torch_amount(amount), _check_norm(n)
    dim = _check_dim(dim, len(slot.kernel_shape))
    norms = channel_norms(_scores(slot, importance_scores).reshape(slot.kernel_shape), n, dim)
    _reparametrise(slot, _structured_mask(slot, amount, dim, lambda alive: norms[alive]))
    return model


def random_structured(model, layer, amount, dim, rng=None):
    """Prune ``amount`` channels along kernel axis ``dim`` chosen uniformly at random; returns ``model``."""
    slot = _slot(model, layer)
    amount, rng = torch_amount(amount), check_rng(rng)
    dim = _check_dim(dim, len(slot.kernel_shape))
    _reparametrise(slot, _structured_mask(slot, amount, dim, lambda alive: rng.random(len(alive))))
    return model


__all__ = ["WeightSlot", "weight_layers", "torch_amount", "weight_orig", "weight_mask", "is_pruned", "remove",
           "l1_unstructured", "random_unstructured", "global_unstructured", "custom_from_mask", "dim_from_torch",
           "channel_norms", "ln_structured", "random_structured"]
