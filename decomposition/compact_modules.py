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
from dataclasses import dataclass

import numpy as np

from nnlite import functional as F
from nnlite import sparse
from nnlite._checks import check_float_array, check_n_features
from nnlite.models import mlp_logits

from .modules import Module, check_module_list, compose_predict, vote

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
