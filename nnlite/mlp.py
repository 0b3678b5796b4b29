"""A sequential multi-layer perceptron: ReLU hidden layers, softmax output.

Parameters live in lists ``weights`` (W_i of shape (n_in, n_out), dense or
CSR), ``biases`` (b_i of shape (n_out,)) and ``masks`` (a boolean array of
W_i's shape, or None). The math is in ``nnlite.functional``; this class only
loops over layers.
"""
import numpy as np
import scipy.sparse as sp

from . import functional as F
from . import sparse
from ._checks import (check_bias, check_float_array, check_float_dtype, check_labels, check_n_features, check_rng,
                      check_weight)
from .classifier import Classifier
from .init import INITIALISERS


class MLP(Classifier):
    """MLP(layer_sizes, init="glorot_uniform", rng=None, dtype=np.float32).

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[d_in, h_1, ..., h_{L-1}, n_classes]``; L = len(layer_sizes) - 1 layers;
        positive ints, n_classes >= 2 (a softmax over one class learns nothing).
    init : str
        One of ``nnlite.init.INITIALISERS`` (glorot_uniform, glorot_normal,
        he_normal, he_uniform). Biases start at 0.
    rng : None, int or np.random.Generator
    dtype : np.float32 or np.float64
    """

    def __init__(self, layer_sizes, init="glorot_uniform", rng=None, dtype=np.float32):
        sizes = _check_layer_sizes(layer_sizes)
        if not isinstance(init, str) or init not in INITIALISERS:
            raise ValueError(f"init: expected one of {sorted(INITIALISERS)}, found {init!r}")
        dtype = check_float_dtype(dtype, "dtype")
        rng = check_rng(rng)
        self.weights = [INITIALISERS[init](a, b, rng, dtype) for a, b in zip(sizes[:-1], sizes[1:])]
        self.biases = [np.zeros(b, dtype=dtype) for b in sizes[1:]]
        self.masks = [None] * len(self.weights)

    @classmethod
    def from_weights(cls, weights, biases, masks=None):
        """Build an MLP around copies of the given arrays (Keras kernel layout).

        Refuses (ValueError/TypeError naming ``weights[i]``, ``biases[i]`` or
        ``masks``) unequal counts, non-float or non-finite weights (e.g. a
        diverged model), corrupt CSR structure and mismatched shapes.
        """
        weights, biases = _check_list(weights, "weights"), _check_list(biases, "biases")
        if len(weights) != len(biases) or not weights:
            raise ValueError(f"weights, biases: expected equal non-zero lengths, found {len(weights)} and {len(biases)}")
        if masks is not None and len(_check_list(masks, "masks")) != len(weights):
            raise ValueError(f"masks: expected {len(weights)} entries (one per weight, None for no mask), found {len(masks)}")
        model = cls.__new__(cls)
        model.weights = [sp.csr_array(check_weight(W, f"weights[{i}]"), copy=True) if sparse.is_sparse(W)
                         else np.array(check_weight(W, f"weights[{i}]")) for i, W in enumerate(weights)]
        model.biases = [_copy_bias(b, i, W) for i, (b, W) in enumerate(zip(biases, model.weights))]
        model.masks = [None if m is None else _check_mask(m, f"masks[{i}]", W.shape)
                       for i, (m, W) in enumerate(zip(masks or [None] * len(weights), model.weights))]
        model._check_shapes()
        for i, m in enumerate(model.masks):
            if m is not None:
                model.set_mask_inplace(i, m)
        return model

    def _check_shapes(self):
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            if W.ndim != 2 or not np.issubdtype(W.dtype, np.floating):
                raise ValueError(f"weights[{i}]: expected a 2-d float array (n_in, n_out), found {W.dtype} shape {W.shape}")
            if b.shape != (W.shape[1],):
                raise ValueError(f"biases[{i}]: expected shape ({W.shape[1]},) for weights[{i}] of shape {W.shape}, found {b.shape}")
            if i and W.shape[0] != self.weights[i - 1].shape[1]:
                raise ValueError(f"weights[{i}]: expected {self.weights[i - 1].shape[1]} input rows, found shape {W.shape}")

    # -- structure -------------------------------------------------------
    @property
    def layer_sizes(self):
        return [self.weights[0].shape[0]] + [W.shape[1] for W in self.weights]

    @property
    def n_layers(self):
        return len(self.weights)

    @property
    def dtype(self):
        return self.weights[0].dtype

    def copy(self):
        return MLP.from_weights(self.weights, self.biases, self.masks)

    def params(self):
        """[W_1, b_1, ..., W_L, b_L] (the live arrays, for optimizers)."""
        return [p for Wb in zip(self.weights, self.biases) for p in Wb]

    def param_masks(self):
        """Masks aligned with ``params()``: a weight's mask, None for biases."""
        return [m for mask in self.masks for m in (mask, None)]

    def set_mask_inplace(self, i, mask):
        """Set layer i's mask and zero the masked weights (a CSR weight keeps its pattern)."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < self.n_layers:
            raise ValueError(f"i: expected a layer index in [0, {self.n_layers}), found {i!r}")
        W = self.weights[i]
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != W.shape:
            raise ValueError(f"mask: expected a boolean array of shape {W.shape}, found {mask.dtype} {mask.shape}")
        self.masks[i] = mask.copy()
        if sparse.is_sparse(W):
            W.data *= sparse.mask_values(mask, W)
        else:
            W *= mask

    def nbytes(self, fmt=None):
        """Bytes of all weights and biases, as stored (None), all "dense" or all "csr"."""
        return sum(sparse.nbytes(W, fmt) for W in self.weights) + sum(b.nbytes for b in self.biases)

    def count_nonzero(self):
        """Number of nonzero weights (biases excluded)."""
        return sum(int(np.count_nonzero(W.data if sparse.is_sparse(W) else W)) for W in self.weights)

    # -- forward / backward ---------------------------------------------
    def _check_X(self, X):
        X = check_float_array(X, "X")
        check_n_features(X, "X", self.layer_sizes[0])
        return X.astype(self.dtype, copy=False)

    def forward(self, X, return_all=False):
        """Logits of X (n, d_in); with ``return_all`` the lists (Zs, As).

        Zs[i] is layer i's pre-activation, As[0] = X and As[i+1] its
        activation (ReLU for hidden layers, the logits for the last).
        """
        X = self._check_X(X)
        Zs, As = [], [X]
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            Z = F.dense_forward(As[-1], W, b, check=False)  # X checked above, weights at construction
            Zs.append(Z)
            As.append(F.relu_forward(Z, check=False) if i < self.n_layers - 1 else Z)
        return (Zs, As) if return_all else Zs[-1]

    def backward(self, Zs, As, dZ):
        """Gradients [dW_1, db_1, ..., dW_L, db_L] from the logits' gradient dZ."""
        grads = []
        for i in reversed(range(self.n_layers)):
            dA, dW, db = F.dense_backward(dZ, As[i], self.weights[i], need_dX=i > 0, check=False)
            if self.masks[i] is not None and sparse.is_sparse(dW):
                dW.data *= sparse.mask_values(self.masks[i], dW)
            elif self.masks[i] is not None:
                dW = dW * self.masks[i]
            grads[:0] = [dW, db]
            if i:
                dZ = F.relu_backward(dA, Zs[i - 1], check=False)
        return grads

    def loss_and_grads(self, X, y):
        """Mean softmax cross-entropy on (X, y) and its gradients."""
        return self.loss_grads_and_logits(X, y)[:2]

    def loss_grads_and_logits(self, X, y):
        """``loss_and_grads`` and the logits Z (n, n_classes) of the same forward pass."""
        Zs, As = self.forward(X, return_all=True)
        y = check_labels(y, "y", len(As[0]), self.layer_sizes[-1])
        loss = F.softmax_cross_entropy_forward(Zs[-1], y, check=False)
        return loss, self.backward(Zs, As, F.softmax_cross_entropy_backward(Zs[-1], y, check=False)), Zs[-1]

    def _logits(self, X):
        return self.forward(X)

    @property
    def n_classes(self):
        return self.weights[-1].shape[1]


def _check_layer_sizes(layer_sizes):
    sizes = _check_list(layer_sizes, "layer_sizes")
    if len(sizes) < 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
        raise ValueError(f"layer_sizes: expected at least two positive sizes, found {sizes}; "
                         f"pass integers [d_in, h_1, ..., n_classes]")
    if sizes[-1] < 2:  # a softmax over one class is constant: nothing to learn, every prediction 0
        raise ValueError(f"layer_sizes: expected at least 2 outputs (n_classes) in the last entry, found "
                         f"{sizes}; a classifier needs two classes or more")
    return [int(s) for s in sizes]


def _check_list(values, name):
    if isinstance(values, (str, bytes, np.ndarray)) or sparse.is_sparse(values) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name}: expected a list (one entry per layer), found {type(values).__name__}")
    return list(values)


def _check_mask(mask, name, shape):
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != shape:
        raise ValueError(f"{name}: expected None or a boolean array of shape {shape}, found {mask.dtype} {mask.shape}")
    return mask.copy()


def _copy_bias(b, i, W):
    """A checked copy of biases[i]; an integer bias takes its weight's dtype."""
    checked = check_bias(b, f"biases[{i}]", W.shape[1], weight_name=f"weights[{i}]")
    return checked.astype(np.asarray(b).dtype if np.issubdtype(np.asarray(b).dtype, np.floating) else W.dtype)
