"""Sparse layers for dynamic sparse training: ``DynamicLinear`` and ``DynamicConv2d``.

The seed study (a CNN on CIFAR-10 trained with dynamically pruned layers,
see ``pruning.dsr``) builds layers whose weight has a sparsity chosen at
construction and changed during training, stored either dense (with a mask)
or in compressed sparse row form to cut memory. Here:

- ``DynamicLinear`` subclasses ``nnlite.layers.Dense`` and ``DynamicConv2d``
  subclasses ``nnlite.layers.Conv2d``; forward, backward and the gradient
  masking rule are theirs.
- A layer's *topology* is a boolean ``mask`` of W's 2-D shape (for a
  convolution W is ``(kh * kw * c_in, c_out)``, see ``nnlite.conv``); the
  active connections are the True entries, and every inactive weight is
  exactly 0. An active weight may be 0 too (a regrown connection starts at 0).
- Storage is fixed at construction: ``"dense"`` keeps an ndarray and the
  mask is enforced on gradients and updates; ``"csr"`` keeps a ``csr_array``
  that stores exactly the active positions (explicit zeros included), so the
  weight gradient is computed on that pattern only
  (``nnlite.sparse.pattern_matmul``) and the pattern is the mask. A layer
  never switches storage; ``storage_for(sparsity, kind)`` picks one before
  construction from the CSR/dense crossover measured on this machine
  (``density_crossover``).
- A topology change rebuilds the CSR structure once from COO
  (``nnlite.sparse.to_csr``); between changes the optimizer updates
  ``W.data`` in place. ``set_topology_inplace`` also carries the optimizer
  state over: kept connections keep theirs, new ones start at 0.
"""
import os
import time

import numpy as np

from nnlite import sparse
from nnlite._checks import check_int, check_real, check_rng, check_shape
from nnlite.layers import Conv2d, Dense

STORAGES = ("dense", "csr")
_crossover = {}


def measure_density_crossover(d_in=512, d_out=512, batch=128, densities=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5),
                              repeats=5, rng=0):
    """Largest density at which a CSR layer's forward + backward beats the dense one.

    Times ``X @ W``, ``dZ @ W.T`` and the weight gradient for a random
    (d_in, d_out) float32 weight at a batch of ``batch`` (best of ``repeats``)
    at increasing densities; returns the last density before the first at
    which CSR is not faster (0.0 if CSR never wins). Takes well under a second at the defaults.
    """
    from nnlite import functional as F
    rng = check_rng(rng)
    X = rng.standard_normal((batch, d_in)).astype(np.float32)
    dZ = rng.standard_normal((batch, d_out)).astype(np.float32)
    W = rng.standard_normal((d_in, d_out)).astype(np.float32)
    b = np.zeros(d_out, np.float32)

    def seconds(weight):
        start = time.perf_counter()
        F.dense_forward(X, weight, b)
        F.dense_backward(dZ, X, weight)
        return time.perf_counter() - start

    crossover = 0.0
    for density in sorted(densities):  # stop at the first loss: timings on a shared machine are noisy
        W_csr = sparse.to_csr(W, rng.random(W.shape) < density)
        times = np.array([(seconds(W), seconds(W_csr)) for _ in range(repeats)])  # interleaved
        if times[:, 1].min() >= times[:, 0].min():
            break
        crossover = density
    return crossover


# Where each kind of layer is timed: a dense layer at a small batch, and a
# convolution's im2col product (3x3x16 taps, 32 channels, 128 images of 14x14),
# which is tall and thin and where the dense product stays ahead to low densities.
CROSSOVER_GEOMETRY = {"linear": {"d_in": 512, "d_out": 512, "batch": 128},
                      "conv": {"d_in": 144, "d_out": 32, "batch": 128 * 14 * 14}}


def density_crossover(kind="linear"):
    """The CSR/dense crossover density of a ``kind`` ("linear" or "conv") layer:
    ``set_density_crossover``'s value, else env ``NNLITE_CSR_CROSSOVER``, else
    measured once per process and kind at ``CROSSOVER_GEOMETRY[kind]`` (cached)."""
    _check_kind(kind)
    if kind not in _crossover:
        env = os.environ.get("NNLITE_CSR_CROSSOVER")
        _crossover[kind] = float(env) if env else measure_density_crossover(**CROSSOVER_GEOMETRY[kind])
    return _crossover[kind]


def set_density_crossover(value, kind=None):
    """Override the crossover of ``kind`` (None: every kind), e.g. 0.0: ``storage_for``
    always picks dense; 1.0: always CSR."""
    if not check_real(value, "value", example=0.1) <= 1:
        raise ValueError(f"value: expected a density in [0, 1], found {value!r}")
    for k in CROSSOVER_GEOMETRY if kind is None else [_check_kind(kind)]:
        _crossover[k] = float(value)


def storage_for(sparsity, kind="linear"):
    """"csr" if a ``kind`` layer at ``sparsity`` is faster stored CSR on this machine, else "dense".

    The "auto" choice, made once before a layer is built (a layer never changes storage).
    """
    return "csr" if 1 - check_sparsity(sparsity) < density_crossover(kind) else "dense"


def _check_kind(kind):
    if kind not in CROSSOVER_GEOMETRY:
        raise ValueError(f"kind: expected one of {sorted(CROSSOVER_GEOMETRY)}, found {kind!r}")
    return kind


def check_sparsity(sparsity, name="sparsity"):
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a float in [0, 1), found {type(sparsity).__name__} {sparsity!r}")
    if not 0 <= sparsity < 1:
        raise ValueError(f"{name}: expected a fraction of zero weights in [0, 1), found {sparsity!r}; "
                         f"use 0.9 for 90% sparsity (1.0 would leave no connection)")
    return float(sparsity)


def n_active_for(sparsity, n_total):
    """Active connections for ``sparsity``: round((1 - sparsity) * n_total), at least 1."""
    sparsity, n_total = check_sparsity(sparsity), check_int(n_total, "n_total")
    return max(1, int(round((1 - sparsity) * n_total)))


def random_topology(shape, n_active, rng):
    """A boolean mask of ``shape`` with exactly ``n_active`` True entries, uniformly at random."""
    shape = check_shape(shape, "shape")
    if check_int(n_active, "n_active", minimum=0) > np.prod(shape):
        raise ValueError(f"n_active: expected at most {int(np.prod(shape))} (the size of shape {shape}), "
                         f"found {n_active}; pass a smaller count")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a np.random.Generator, found {type(rng).__name__} {rng!r}; "
                        f"pass np.random.default_rng(seed)")
    mask = np.zeros(int(np.prod(shape)), dtype=bool)
    mask[rng.choice(mask.size, size=n_active, replace=False)] = True
    return mask.reshape(shape)


def _state_to_full(values, W):
    """An optimizer state array aligned with W's storage, as a W-shaped array."""
    if not sparse.is_sparse(W):
        return values
    full = np.zeros(W.shape, dtype=values.dtype)
    full[sparse.stored_positions(W)] = values
    return full


def _full_to_state(full, W):
    return full[sparse.stored_positions(W)] if sparse.is_sparse(W) else full


def check_storage(storage):
    if storage not in STORAGES:
        fix = "; call storage_for(sparsity, kind) once before building the layer" if storage == "auto" else ""
        raise ValueError(f"storage: expected one of {STORAGES}, found {storage!r}{fix}")
    return storage


class SparseTopology:
    """Topology, storage and memory accounting of the sparse layers (mixed into Dense and Conv2d)."""

    def _init_topology(self, sparsity, storage, topology_rng):
        """The initial random topology at ``sparsity``, stored as ``storage`` for good."""
        self.storage, self.mask = check_storage(storage), np.ones(self.W.shape, dtype=bool)
        self.set_topology_inplace(random_topology(self.W.shape, n_active_for(sparsity, self.W.size), topology_rng))

    # -- topology ---------------------------------------------------------
    @property
    def n_active(self):
        """Active connections (True entries of the mask; a regrown one may still be 0)."""
        return int(self.mask.sum())

    @property
    def sparsity(self):
        return 1 - self.n_active / self.mask.size

    @property
    def is_csr(self):
        return sparse.is_sparse(self.W)

    def dense_weight(self):
        """A dense copy of W (kernel layout (d_in, d_out))."""
        return sparse.to_dense(self.W)

    @property
    def update_mask(self):
        """A CSR weight stores exactly its active positions: its pattern is its mask (nothing to enforce)."""
        return None if self.storage == "csr" else self.mask

    def set_topology_inplace(self, mask, state=None, grown_values=None):
        """Make ``mask`` the active connections and rebuild the storage once.

        Weights off the new mask become 0; newly active connections keep their
        current value, which is 0 (inactive weights are always 0), so regrown
        connections start at 0. ``state``: this weight's optimizer state dict
        (``optimizer.state[i]``), remapped in place: kept connections keep
        their moments, others get 0. ``grown_values`` (W-shaped, optional) is
        added at the newly active positions (e.g. a random regrowth init).
        """
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != self.W.shape:
            raise ValueError(f"mask: expected a boolean array of shape {self.W.shape}, found {mask.dtype} {mask.shape}")
        full_state = {k: _state_to_full(v, self.W) * mask for k, v in (state or {}).items()}
        W = self.dense_weight() * mask
        if grown_values is not None:
            W += grown_values * (mask & ~self.mask)
        self.mask = mask.copy()
        self.W = sparse.to_csr(W, mask) if self.storage == "csr" else W
        for k, v in full_state.items():
            state[k] = _full_to_state(v, self.W)

    def set_mask_inplace(self, mask):
        """Same as ``set_topology_inplace(mask)`` (the interface of nnlite layers)."""
        self.set_topology_inplace(mask)

    def set_sparsity_inplace(self, sparsity, rng=None, state=None):
        """Change the sparsity: prune the smallest-magnitude active weights, or
        regrow random inactive connections (at 0) when the sparsity decreases."""
        n_target, mask = n_active_for(check_sparsity(sparsity), self.mask.size), self.mask.copy()
        if n_target < self.n_active:
            magnitude = np.where(mask, np.abs(self.dense_weight()), np.inf).ravel()
            mask.ravel()[np.argsort(magnitude, kind="stable")[:self.n_active - n_target]] = False
        elif n_target > self.n_active:
            zeros = np.flatnonzero(~mask)
            mask.ravel()[check_rng(rng).choice(zeros, n_target - self.n_active, replace=False)] = True
        self.set_topology_inplace(mask, state)

    # -- memory -----------------------------------------------------------
    def memory(self):
        """Bytes of W as stored, as dense float and as CSR (plus the bias)."""
        return {"storage": "csr" if self.is_csr else "dense", "n_active": self.n_active, "n_weights": self.mask.size,
                "bytes_stored": sparse.nbytes(self.W) + self.b.nbytes,
                "bytes_dense": sparse.nbytes(self.W, "dense") + self.b.nbytes,
                "bytes_csr": sparse.nbytes(sparse.to_csr(self.dense_weight(), self.mask), "csr") + self.b.nbytes}


class DynamicLinear(SparseTopology, Dense):
    """DynamicLinear(d_in, d_out, sparsity=0.9, activation="relu", storage="dense", rng=None).

    A dense layer A = act(X @ W + b), W (d_in, d_out), with a fraction
    ``sparsity`` of its weights inactive (a uniformly random topology).
    ``rng`` draws the initial weights, ``topology_rng`` (default: ``rng``,
    after the weights) the topology: with a separate stream the weights equal
    those of a plain ``Dense`` built from the same ``rng``.
    """

    kind = "linear"  # its CSR/dense crossover (density_crossover)

    def __init__(self, d_in, d_out, sparsity=0.9, activation="relu", storage="dense", init="he_uniform",
                 rng=None, dtype=np.float32, topology_rng=None):
        rng, sparsity, storage = check_rng(rng), check_sparsity(sparsity), check_storage(storage)
        super().__init__(d_in, d_out, activation, init, rng, dtype)
        self._init_topology(sparsity, storage, rng if topology_rng is None else check_rng(topology_rng))


class DynamicConv2d(SparseTopology, Conv2d):
    """DynamicConv2d(c_in, c_out, kernel_size, stride=1, padding=0, sparsity=0.9, storage="dense", ...).

    A convolution whose kernel W (kh * kw * c_in, c_out) has a fraction
    ``sparsity`` of inactive taps (a uniformly random topology); ``rng`` and
    ``topology_rng`` as in ``DynamicLinear``.
    """

    kind = "conv"  # its CSR/dense crossover (density_crossover)

    def __init__(self, c_in, c_out, kernel_size, stride=1, padding=0, sparsity=0.9, activation="relu",
                 storage="dense", init="he_uniform", rng=None, dtype=np.float32, topology_rng=None):
        rng, sparsity, storage = check_rng(rng), check_sparsity(sparsity), check_storage(storage)
        super().__init__(c_in, c_out, kernel_size, stride, padding, activation, init, rng, dtype)
        self._init_topology(sparsity, storage, rng if topology_rng is None else check_rng(topology_rng))


def dynamic_layers(model):
    """The model's dynamic layers, in order."""
    return [layer for layer in model.layers if isinstance(layer, SparseTopology)]


def optimizer_state(model, optimizer, layer):
    """The optimizer's state dict for ``layer.W`` (None if there is none yet)."""
    if optimizer is None:
        return None
    index = next(i for i, p in enumerate(model.params()) if p is layer.W)
    return optimizer.state.get(index)


def memory_report(model):
    """Totals over all weight layers: active weights, bytes as stored, dense and CSR."""
    if not callable(getattr(model, "weight_layers", None)):
        raise TypeError(f"model: expected a network with weight_layers() (an nnlite.models.Sequential or MLP), "
                        f"found {type(model).__name__}; pass the model, not its name or path")
    rows = [layer.memory() if isinstance(layer, SparseTopology) else
            {"n_active": int(np.count_nonzero(layer.W)), "n_weights": layer.W.size,
             "bytes_stored": sparse.nbytes(layer.W) + layer.b.nbytes,
             "bytes_dense": sparse.nbytes(layer.W, "dense") + layer.b.nbytes,
             "bytes_csr": sparse.nbytes(layer.W, "csr") + layer.b.nbytes}
            for layer in model.weight_layers()]
    keys = ("n_active", "n_weights", "bytes_stored", "bytes_dense", "bytes_csr")
    total = {k: int(sum(r[k] for r in rows)) for k in keys}
    total["csr_over_dense"] = total["bytes_csr"] / total["bytes_dense"]
    return total
