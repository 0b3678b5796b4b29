"""Modules and what users do with them: compose, reuse, replace, compare.

A :class:`Module` is what decomposition produces for one class: the whole
network with edited weights, in the authors' 10-output form (before CM all
output columns are live; after CM only the target and the negative column
are nonzero, the other logits are exactly 0 but still enter the softmax).
:meth:`Module.binary_view` gives the true 2-output (target, rest) network; it
does not make the same decisions (``compact_modules.compose_binary_views``).
``compact_modules.compact`` gives a physically smaller module that does.

Composition (paper Sec. 5.1.3; the authors' ``Reuse.py``, restated in
``../shared/official-models/README.md``): every module sees the input; module
k *votes* when its argmax is its own class. Exactly one vote: that module's
class. No vote: the module with the highest own-class probability, over all
modules. Two or more: the highest own-class probability among the voters,
resolved to the lowest index holding that value. Ties: lowest index.
"""
from dataclasses import dataclass

import numpy as np

from nnlite import functional as F
from nnlite import sparse
from nnlite._checks import check_labels, check_n_features
from nnlite.models import mlp_logits

from .concern_modularization import channel, negative_column
from .fidelity import FIDELITY
from .validation import check_index, check_layers, check_real_array


@dataclass(frozen=True, eq=False)
class Module:
    """One class's module: edited weights and biases in the Keras layout.

    Attributes
    ----------
    weights : tuple of ndarray, D_i of shape (d_in_i, d_out_i)
    biases : tuple of ndarray, d_i of shape (d_out_i,)
    target : int
        The class this module recognises (its index in the model's output).
    approach : str
        "TI-I", ..., "CM-RIE", or "stored" for modules loaded from disk.
    """

    weights: tuple
    biases: tuple
    target: int
    approach: str = ""

    def __post_init__(self):
        weights, biases = check_layers(self.weights, self.biases)
        object.__setattr__(self, "weights", tuple(weights))
        object.__setattr__(self, "biases", tuple(biases))
        object.__setattr__(self, "target", check_index(self.target, "target", self.n_classes))
        if not isinstance(self.approach, str):
            raise TypeError(f"approach: expected a str such as 'CM-RIE', found {type(self.approach).__name__}")

    @property
    def n_classes(self):
        return self.weights[-1].shape[1]

    @property
    def d_in(self):
        return self.weights[0].shape[0]

    # -- forward: the real network (ReLU between layers, softmax at the end)
    def forward(self, X):
        """Logits (n, n_classes) of ``X (n, d_in)``."""
        X = check_real_array(X, "X")
        check_n_features(X, "X", self.d_in)
        return self._logits(X)

    def _logits(self, X):
        """``forward`` without input checks (callers have checked X)."""
        return mlp_logits(X.astype(self.weights[0].dtype, copy=False), self.weights, self.biases)

    def predict_proba(self, X):
        """Softmax over all n_classes outputs, shape (n, n_classes) (the authors' form)."""
        return F.softmax(self.forward(X))

    def own_probability(self, X):
        """Probability the module gives its own class, shape (n,)."""
        return self.predict_proba(X)[:, self.target]

    def votes(self, X):
        """True where the module's argmax is its own class, shape (n,)."""
        return self.forward(X).argmax(axis=1) == self.target

    # -- the true two-output form
    @property
    def negative_column(self):
        return negative_column(self.target)

    def is_channeled(self):
        """True when only the target and negative output columns (and biases) are nonzero (after CM)."""
        others = np.ones(self.n_classes, dtype=bool)
        others[[self.target, self.negative_column]] = False
        return not (np.any(self.weights[-1][:, others]) or np.any(self.biases[-1][others]))

    def binary_view(self):
        """(weights, biases) of the 2-output network: output 0 = target, output 1 = rest.

        After CM this takes the target and negative columns. A TI module is
        first channeled with the paper's rule (Alg. 4: mean of the non-target
        weights and biases), so "rest" is their average.
        """
        weights, biases = list(self.weights), list(self.biases)
        if not self.is_channeled():
            weights, biases = channel(weights, biases, self.target, FIDELITY["paper"])
        columns = [self.target, self.negative_column]
        return weights[:-1] + [weights[-1][:, columns]], biases[:-1] + [biases[-1][columns]]

    def predict_binary(self, X):
        """True where the 2-output view says "target", shape (n,)."""
        weights, biases = self.binary_view()
        return Module(weights, biases, 0, self.approach).forward(X).argmax(axis=1) == 0

    # -- size
    def count_nonzero(self):
        """Number of nonzero weights (biases excluded)."""
        return sum(int(np.count_nonzero(W)) for W in self.weights)

    def nbytes(self, fmt="csr"):
        """Bytes of weights (stored as ``fmt``: "csr" or "dense") plus biases."""
        return sum(sparse.nbytes(W, fmt) for W in self.weights) + sum(b.nbytes for b in self.biases)

    def kernel_values(self):
        """All kernel entries concatenated, shape (n_weights,) (for the Jaccard indices)."""
        return np.concatenate([np.ravel(W) for W in self.weights])


# ---------------------------------------------------------------------------
# Composition, reuse, replacement
# ---------------------------------------------------------------------------

def check_module(module, name):
    if not isinstance(module, Module):
        raise TypeError(f"{name}: expected a decomposition.Module, found {type(module).__name__}")
    return module


def check_module_list(modules, name="modules", min_length=1):
    """A list or tuple of at least ``min_length`` Modules that take the same number of inputs."""
    if isinstance(modules, (str, bytes, np.ndarray)) or not isinstance(modules, (list, tuple)):
        raise TypeError(f"{name}: expected a list of decomposition.Module, found {type(modules).__name__}")
    if len(modules) < min_length:
        count = "one Module" if min_length == 1 else f"{min_length} Modules"
        raise ValueError(f"{name}: expected at least {count}, found {len(modules)}"
                         + (" (an empty list)" if not modules else ""))
    for j, m in enumerate(modules):
        check_module(m, f"{name}[{j}]")
        if m.d_in != modules[0].d_in:
            raise ValueError(f"{name}[{j}]: expected {modules[0].d_in} inputs like {name}[0], found {m.d_in}")
    return list(modules)


def vote(own_probabilities, votes):
    """The composition rule on precomputed module outputs.

    Parameters
    ----------
    own_probabilities : ndarray of shape (n, k)
        Module j's probability of its own class.
    votes : ndarray of bool, shape (n, k)
        Module j's argmax is its own class.

    Returns
    -------
    ndarray of int, shape (n,): the index j of the chosen module.
    """
    n_votes = votes.sum(axis=1)
    best_voter_value = np.where(votes, own_probabilities, -np.inf).max(axis=1)
    # two or more votes: the lowest index whose own-class probability equals the voters' best
    several = np.argmax(own_probabilities == best_voter_value[:, None], axis=1)
    return np.where(n_votes == 1, np.argmax(votes, axis=1),
                    np.where(n_votes == 0, np.argmax(own_probabilities, axis=1), several))


def compose_predict(modules, X):
    """Predictions of the composed classifier: index into ``modules``, shape (n,).

    For the N modules of one model (``modules[k].target == k``) this is the
    predicted class. Modules may come from different models or data sets
    (reuse); each votes for its own target.
    """
    modules = check_module_list(modules)
    X = check_real_array(X, "X")
    check_n_features(X, "X", modules[0].d_in)
    own, votes = [], []
    for m in modules:
        P = F.softmax(m._logits(X))
        own.append(P[:, m.target])
        votes.append(P.argmax(axis=1) == m.target)
    return vote(np.stack(own, axis=1), np.stack(votes, axis=1))


def composed_accuracy(modules, X, y):
    """Accuracy in [0, 1] of the composed classifier on labels ``y`` (indices into ``modules``)."""
    predictions = compose_predict(modules, X)
    y = check_labels(y, "y", len(predictions), len(modules))
    return float(np.mean(predictions == y))


def compose_binary(module_a, module_b, X):
    """Reuse: a binary classifier from two modules (possibly of different models).

    Returns
    -------
    ndarray of int, shape (n,): 0 for ``module_a``'s class, 1 for ``module_b``'s.
    """
    check_module(module_a, "module_a")
    check_module(module_b, "module_b")
    if module_b.d_in != module_a.d_in:
        raise ValueError(f"module_b: expected {module_a.d_in} inputs like module_a, found {module_b.d_in}")
    return compose_predict([module_a, module_b], X)


def replace_module(modules, k, module):
    """Replacement: a new list with ``modules[k]`` replaced by ``module`` (e.g. another model's module k)."""
    modules = check_module_list(modules)
    k = check_index(k, "k", len(modules))
    check_module(module, "module")
    if module.d_in != modules[k].d_in:
        raise ValueError(f"module: expected {modules[k].d_in} inputs like modules[{k}], found {module.d_in}")
    if module.target != modules[k].target:
        raise ValueError(f"module: expected a module for class {modules[k].target} to replace module {k}, "
                         f"found one for class {module.target}")
    return [module if j == k else m for j, m in enumerate(modules)]


# ---------------------------------------------------------------------------
# Jaccard indices
# ---------------------------------------------------------------------------

def jaccard_official(module_a, module_b):
    """The authors' Jaccard index over distinct kernel values.

    ``|U_a & U_b| / (n_a + n_b - |U_a & U_b|)`` where U are the sets of
    distinct kernel values (all zeros collapse to one value) and n the
    numbers of kernel entries. It mostly measures sparsity: identical modules
    score 1 only when all their kernel values are distinct.
    """
    a, b = check_module(module_a, "module_a").kernel_values(), check_module(module_b, "module_b").kernel_values()
    shared = len(np.intersect1d(np.unique(a), np.unique(b), assume_unique=True))
    return shared / (a.size + b.size - shared)


def jaccard_mask(module_a, module_b):
    """Positional Jaccard of the nonzero kernel entries, ``|nz_a & nz_b| / |nz_a | nz_b|`` (1 if both empty)."""
    shapes_a = [W.shape for W in check_module(module_a, "module_a").weights]
    shapes_b = [W.shape for W in check_module(module_b, "module_b").weights]
    if shapes_a != shapes_b:
        raise ValueError(f"module_b: expected the layer shapes of module_a {shapes_a} (a positional index "
                         f"compares entry by entry), found {shapes_b}")
    a, b = module_a.kernel_values() != 0, module_b.kernel_values() != 0
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def mean_pairwise_jaccard(modules, kind="official"):
    """Mean Jaccard index over all ordered pairs of distinct modules (90 for ten modules)."""
    index = {"official": jaccard_official, "mask": jaccard_mask}
    if not isinstance(kind, str) or kind not in index:
        raise ValueError(f"kind: expected 'official' or 'mask', found {kind!r}")
    modules = check_module_list(modules, min_length=2)
    values = [index[kind](a, b) for i, a in enumerate(modules) for j, b in enumerate(modules) if i != j]
    return float(np.mean(values))
