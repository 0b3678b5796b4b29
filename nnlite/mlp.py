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
from ._checks import check_float_array, check_labels, check_n_features, check_rng
from .classifier import Classifier
from .init import INITIALISERS


class MLP(Classifier):
    """MLP(layer_sizes, init="glorot_uniform", rng=None, dtype=np.float32).

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[d_in, h_1, ..., h_{L-1}, n_classes]``; L = len(layer_sizes) - 1 layers.
    init : str
        One of ``nnlite.init.INITIALISERS`` (glorot_uniform, glorot_normal,
        he_normal, he_uniform). Biases start at 0.
    rng : None, int or np.random.Generator
    """

    def __init__(self, layer_sizes, init="glorot_uniform", rng=None, dtype=np.float32):
        sizes = [int(s) for s in layer_sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"layer_sizes: expected at least two positive sizes, found {list(layer_sizes)}")
        if init not in INITIALISERS:
            raise ValueError(f"init: expected one of {sorted(INITIALISERS)}, found {init!r}")
        rng = check_rng(rng)
        self.weights = [INITIALISERS[init](a, b, rng, dtype) for a, b in zip(sizes[:-1], sizes[1:])]
        self.biases = [np.zeros(b, dtype=dtype) for b in sizes[1:]]
        self.masks = [None] * len(self.weights)

    @classmethod
    def from_weights(cls, weights, biases, masks=None):
        """Build an MLP around copies of the given arrays (Keras kernel layout)."""
        if len(weights) != len(biases) or not weights:
            raise ValueError(f"weights, biases: expected equal non-zero lengths, found {len(weights)} and {len(biases)}")
        if masks is not None and len(masks) != len(weights):
            raise ValueError(f"masks: expected {len(weights)} entries (one per weight, None for no mask), found {len(masks)}")
        model = cls.__new__(cls)
        model.weights = [sp.csr_array(W, copy=True) if sparse.is_sparse(W) else np.array(W) for W in weights]
        model.biases = [np.array(b) for b in biases]
        model.masks = [None if m is None else np.array(m, dtype=bool) for m in (masks or [None] * len(weights))]
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
            Z = F.dense_forward(As[-1], W, b)
            Zs.append(Z)
            As.append(F.relu_forward(Z) if i < self.n_layers - 1 else Z)
        return (Zs, As) if return_all else Zs[-1]

    def backward(self, Zs, As, dZ):
        """Gradients [dW_1, db_1, ..., dW_L, db_L] from the logits' gradient dZ."""
        grads = []
        for i in reversed(range(self.n_layers)):
            dA, dW, db = F.dense_backward(dZ, As[i], self.weights[i], need_dX=i > 0)
            if self.masks[i] is not None and sparse.is_sparse(dW):
                dW.data *= sparse.mask_values(self.masks[i], dW)
            elif self.masks[i] is not None:
                dW = dW * self.masks[i]
            grads[:0] = [dW, db]
            if i:
                dZ = F.relu_backward(dA, Zs[i - 1])
        return grads

    def loss_and_grads(self, X, y):
        """Mean softmax cross-entropy on (X, y) and its gradients."""
        return self.loss_grads_and_logits(X, y)[:2]

    def loss_grads_and_logits(self, X, y):
        """``loss_and_grads`` and the logits Z (n, n_classes) of the same forward pass."""
        Zs, As = self.forward(X, return_all=True)
        y = check_labels(y, "y", len(As[0]), self.layer_sizes[-1])
        loss = F.softmax_cross_entropy_forward(Zs[-1], y)
        return loss, self.backward(Zs, As, F.softmax_cross_entropy_backward(Zs[-1], y)), Zs[-1]

    def _logits(self, X):
        return self.forward(X)

    @property
    def n_classes(self):
        return self.weights[-1].shape[1]
