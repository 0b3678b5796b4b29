"""Rigging the Lottery (RigL): sparse training that regrows where the gradient is largest.

U. Evci, T. Gale, J. Menick, P. S. Castro and E. Elsen, "Rigging the lottery:
making all tickets winners", ICML 2020.

Like DSR and SET (``pruning.dsr``) the network is sparse from the first step
and every layer keeps its number of active weights; its topology moves every
ΔT iterations until T_end:

    Alg. 1 (RigL), at iteration t with t mod ΔT = 0 and t < T_end,
    in every sparse layer l:
    1. update fraction f(t) = alpha / 2 * (1 + cos(pi t / T_end))  (Eq. 1)
    2. drop the k = floor(f(t) * N_l) active weights of smallest |w|
    3. grow the k positions outside the surviving topology with the largest
       dense gradient |dL/dW|
    4. the new connections start at 0 (their optimizer state too)

Step 3 needs dL/dW at every position, active or not, but only at update
steps: ``dense_weight_gradients`` runs one forward/backward pass through a
shallow copy of the model whose dynamic layers hold a dense copy of W and no
mask. The model's own W (dense with a mask, or CSR holding only the active
positions) is never touched, and between updates a CSR layer keeps computing
dW on its stored pattern only.

Choices, each a named option or noted:

- ``RigL(data=, batch_size=)``: # Deviation from paper: RigL takes the
  gradient of the update step's own minibatch (and skips that step's weight
  update). The callback here runs after ``nnlite.train.fit``'s step and draws
  a fresh minibatch of ``batch_size`` from ``data`` with its own ``rng`` (the
  regrowth stream), so training's data order is untouched. The gradient comes
  from the same distribution, not from the same batch.
- A position dropped in step 2 may be regrown in step 3 (as in the authors'
  code); such a weight keeps its value and optimizer state (their default,
  ``reinit_when_same=False``). Only positions inactive before the update
  start at 0. Ties (equal |w| or |grad|) go to the earlier position.
"""
import copy

import numpy as np

from nnlite._checks import check_float_array, check_int, check_mask, check_real, check_rng
from pruning.sparse_layers import dynamic_layers, optimizer_state


# -- RigL step 1 (Eq. 1) ----------------------------------------------------------
def update_fraction(t, alpha, end_iteration):
    """f(t) = alpha / 2 * (1 + cos(pi t / T_end)); 0 from T_end on."""
    t, end_iteration = check_real(t, "t", example=100), check_int(end_iteration, "end_iteration")
    if not check_real(alpha, "alpha", example=0.3) <= 1:
        raise ValueError(f"alpha: expected an update fraction in [0, 1] such as 0.3, found {alpha!r}")
    if t >= end_iteration:
        return 0.0
    return alpha / 2 * (1 + np.cos(np.pi * t / end_iteration))


def _check_same_shape(mask, mask_name, array, array_name):
    if np.shape(mask) != array.shape:
        raise ValueError(f"{mask_name}: expected the shape of {array_name}, {array.shape}, found {np.shape(mask)}; "
                         f"{mask_name} and {array_name} must describe the same layer")
    return check_mask(mask, mask_name, array.shape)


def _check_k(k, n_available, what):
    if check_int(k, "k", minimum=0) > n_available:
        raise ValueError(f"k: expected at most {n_available} (the {what}), found {k}; pass a smaller k")


# -- RigL step 2 ----------------------------------------------------------------
def drop_smallest(W, active, k):
    """The mask ``active`` without its ``k`` active weights of smallest |w|.

    W : ndarray (d_in, d_out), dense values; active : bool ndarray, same shape.
    """
    W = check_float_array(W, "W", ndim=np.ndim(W))
    active = _check_same_shape(active, "active", W, "W")
    _check_k(k, int(np.count_nonzero(active)), "active weights")
    magnitude = np.where(active, np.abs(W), np.inf).ravel()
    kept = active.copy()
    kept.ravel()[np.argsort(magnitude, kind="stable")[:k]] = False
    return kept


# -- RigL step 3 ----------------------------------------------------------------
def grow_largest_gradient(kept, grad, k):
    """The mask ``kept`` plus the ``k`` positions outside it of largest |grad|.

    grad : ndarray (d_in, d_out), the dense gradient dL/dW.
    """
    grad = check_float_array(grad, "grad", ndim=np.ndim(grad))
    kept = _check_same_shape(kept, "kept", grad, "grad")
    _check_k(k, int(kept.size - np.count_nonzero(kept)), "positions outside kept")
    score = np.where(kept, -np.inf, np.abs(grad)).ravel()
    grown = kept.copy()
    grown.ravel()[np.argsort(-score, kind="stable")[:k]] = True
    return grown


def dense_weight_gradients(model, X, y):
    """dL/dW at every position of each dynamic layer's W, on the batch (X, y) (RigL step 3's gradient).

    Returns a list of dense ndarrays (the shapes of the layers' W), in the
    order of ``dynamic_layers(model)``. The model is not modified.
    """
    twins, proxy = {}, copy.copy(model)
    for layer in dynamic_layers(model):
        twin = twins[id(layer)] = copy.copy(layer)
        twin.W, twin.mask = layer.dense_weight(), None
    proxy.layers = [twins.get(id(layer), layer) for layer in model.layers]
    _, grads = proxy.loss_and_grads(X, y)
    position = {id(p): i for i, p in enumerate(proxy.params())}
    return [np.asarray(grads[position[id(twins[id(layer)].W)]]) for layer in dynamic_layers(model)]


class RigL:
    """RigL(n_steps, data, batch_size=128, alpha=0.3, update_period=100, end_fraction=0.75, rng=None).

    Parameters
    ----------
    n_steps : int, the training run's iterations (T_end = end_fraction * n_steps)
    data : (X, y), the training set the gradient batches are drawn from
    batch_size : int, rows of each gradient batch
    alpha : float in (0, 1), the initial update fraction (paper: 0.3)
    update_period : int, ΔT in iterations (paper: 100)
    end_fraction : float in (0, 1], when updates stop (paper: 0.75)
    rng : None, int or np.random.Generator (the gradient batches)

    Attributes
    ----------
    history_ : list of dict, one per update: iteration, fraction, n_dropped
        (per layer), n_new (per layer: grown positions inactive before).
    """

    def __init__(self, n_steps, data, batch_size=128, alpha=0.3, update_period=100, end_fraction=0.75, rng=None):
        for name, value in (("n_steps", n_steps), ("batch_size", batch_size), ("update_period", update_period)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name}: expected an int >= 1, found {value!r}")
        for name, value, high in (("alpha", alpha, 1.0), ("end_fraction", end_fraction, 1.0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= high:
                raise ValueError(f"{name}: expected a fraction in (0, {high:g}], found {value!r}")
        if not (isinstance(data, (tuple, list)) and len(data) == 2 and len(data[0]) == len(data[1]) > 0):
            raise ValueError("data: expected the training set as a pair (X, y) of equal, nonzero length, "
                             f"found {type(data).__name__}")
        self.X, self.y = check_float_array(data[0], "data[0]", ndim=np.ndim(data[0])), np.asarray(data[1])
        self.batch_size, self.alpha, self.update_period = int(batch_size), float(alpha), int(update_period)
        self.end_iteration = max(1, int(end_fraction * n_steps))
        self.rng, self.iteration, self.history_ = check_rng(rng), 0, []

    def on_step(self, model, optimizer):
        self.iteration += 1
        # RigL step 5: every ΔT iterations while t < T_end
        if self.iteration % self.update_period == 0 and self.iteration < self.end_iteration:
            self.update_inplace(model, optimizer)

    def gradient_batch(self):
        """A random minibatch (X, y) of the training set, from this method's own rng."""
        idx = np.sort(self.rng.choice(len(self.X), min(self.batch_size, len(self.X)), replace=False))
        return self.X[idx], self.y[idx]

    def update_inplace(self, model, optimizer=None):
        """RigL steps 1-4 once over the model's dynamic layers (topologies and optimizer state)."""
        fraction = update_fraction(self.iteration, self.alpha, self.end_iteration)
        grads = dense_weight_gradients(model, *self.gradient_batch())
        dropped, new = [], []
        for layer, grad in zip(dynamic_layers(model), grads):
            active = layer.mask
            k = int(fraction * layer.n_active)  # RigL step 2: floor(f(t) N_l)
            kept = drop_smallest(layer.dense_weight(), active, k)
            grown = grow_largest_gradient(kept, grad, k)  # RigL step 3
            # RigL step 4: positions inactive before start at 0 (set_topology_inplace)
            layer.set_topology_inplace(grown, optimizer_state(model, optimizer, layer))
            dropped.append(k)
            new.append(int((grown & ~active).sum()))
        self.history_.append({"iteration": self.iteration, "fraction": fraction, "n_dropped": dropped,
                              "n_new": new})
