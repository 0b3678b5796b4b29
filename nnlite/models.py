"""Models: ``Sequential`` (a list of layers ending in logits), ``MLP`` and ``small_cnn``.

``Sequential`` loops over the layers of ``nnlite.layers`` and offers the
interface of ``nnlite.train.fit`` and ``nnlite.optim``: ``loss_and_grads``,
``params``, ``param_masks``, ``score``, ``loss``. Its weight layers are
``weight_layers()``; ``weights``, ``biases`` and ``masks`` list their ``W``,
``b`` and ``mask`` (assigning an item or the whole list writes to the layers).

``MLP(layer_sizes)`` is a Sequential of Dense layers (ReLU hidden, logits
out, softmax in the loss) in the Keras kernel layout of ``nnlite.io``.
"""
import copy

import numpy as np
import scipy.sparse as sp

from . import functional as F
from . import sparse
from ._checks import (check_bias, check_float_array, check_float_dtype, check_int, check_labels, check_n_features,
                      check_rng, check_weight)
from .classifier import Classifier
from .init import INITIALISERS
from .layers import Conv2d, Dense, Flatten, MaxPool2d, ReLU, WeightLayer


class _Column(list):
    """One attribute of every weight layer (e.g. their W) as a list; item assignment writes to the layer."""

    def __init__(self, layers, attribute):
        super().__init__(getattr(layer, attribute) for layer in layers)
        self._layers, self._attribute = layers, attribute

    def __setitem__(self, i, value):
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"index: expected an int layer position, found {type(i).__name__}")
        setattr(self._layers[i], self._attribute, value)
        super().__setitem__(i, value)


def _column(name, attribute, doc):
    def put(model, values):
        layers = model.weight_layers()
        values = _check_list(values, name)
        if len(values) != len(layers):
            raise ValueError(f"{name}: expected {len(layers)} entries (one per weight layer), found {len(values)}")
        for layer, value in zip(layers, values):
            setattr(layer, attribute, value)
    return property(lambda model: _Column(model.weight_layers(), attribute), put, doc=doc)


class Sequential(Classifier):
    """Sequential(layers, input_shape, predict_batch=1000): a network ending in logits.

    Parameters
    ----------
    layers : list of nnlite.layers layers (or subclasses)
        The last layer's output is the logits (n, n_classes).
    input_shape : tuple (d_in,) or (h, w, c)
        Shape of one input; the layers are checked against it at construction.
    predict_batch : int or None
        Rows per forward pass in ``predict``/``score``/``loss`` (bounds memory; None: all at once).
    """

    weights = _column("weights", "W", "The weight layers' W (dense or CSR), in order.")
    biases = _column("biases", "b", "The weight layers' b, in order.")
    masks = _column("masks", "mask", "The weight layers' masks (None: unmasked), in order.")

    def __init__(self, layers, input_shape, predict_batch=1000):
        self.layers, self.input_shape = _check_list(layers, "layers"), _check_input_shape(input_shape)
        self.predict_batch = None if predict_batch is None else check_int(predict_batch, "predict_batch")
        shape = self.input_shape
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.output_shape(shape)
            except ValueError as error:
                raise ValueError(f"input_shape: {self.input_shape} does not fit layers[{i}] "
                                 f"({type(layer).__name__}): {error}") from None
        if len(shape) != 1 or not self.weight_layers():
            raise ValueError(f"layers: expected the last layer to output (n_classes,), found {shape}; end with Dense")
        self.n_classes = shape[0]

    @property
    def input_ndim(self):
        return len(self.input_shape) + 1

    # -- parameters -------------------------------------------------------
    def weight_layers(self):
        return [layer for layer in self.layers if isinstance(layer, WeightLayer)]

    @property
    def n_layers(self):
        """Number of weight layers."""
        return len(self.weight_layers())

    @property
    def dtype(self):
        return self.weight_layers()[0].W.dtype

    def params(self):
        return [p for layer in self.layers for p in layer.params()]

    def param_masks(self):
        return [m for layer in self.layers for m in layer.param_masks()]

    def set_mask_inplace(self, i, mask):
        """Set weight layer i's mask and zero its masked weights (a CSR weight keeps its pattern)."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < self.n_layers:
            raise ValueError(f"i: expected a weight-layer index in [0, {self.n_layers}), found {i!r}")
        self.weight_layers()[i].set_mask_inplace(mask)

    def count_nonzero(self):
        """Nonzero weights (biases excluded)."""
        return sum(layer.count_nonzero() for layer in self.weight_layers())

    def nbytes(self, fmt=None):
        """Bytes of all weights and biases, as stored (None), all "dense" or all "csr"."""
        return sum(layer.nbytes(fmt) for layer in self.weight_layers())

    def copy(self):
        """An independent copy (arrays, masks and layer settings)."""
        return copy.deepcopy(self)

    # -- forward / backward ---------------------------------------------
    def _check_X(self, X):
        X = check_float_array(X, "X", ndim=self.input_ndim)
        if self.input_ndim == 2:
            check_n_features(X, "X", self.input_shape[0])
        elif X.shape[1:] != self.input_shape:
            raise ValueError(f"X: expected images of shape (n, {', '.join(map(str, self.input_shape))}) "
                             f"(NHWC), found {X.shape}")
        return X.astype(self.dtype, copy=False)

    def forward(self, X, return_caches=False):
        """Logits (n, n_classes) of X (n, *input_shape); with ``return_caches`` also the layers' caches."""
        return self._forward(self._check_X(X), return_caches)

    def _forward(self, X, return_caches=False):
        return forward_layers(self.layers, X, return_caches)

    def backward(self, caches, dZ):
        """Gradients aligned with ``params()`` from the logits' gradient dZ."""
        grads, dA = [], dZ
        for i in reversed(range(len(self.layers))):
            dA, layer_grads = self.layers[i].backward(dA, caches[i], input_grad=i > 0)
            grads[:0] = layer_grads
        return grads

    def loss_and_grads(self, X, y):
        """Mean softmax cross-entropy on (X, y) and its gradients."""
        return self.loss_grads_and_logits(X, y)[:2]

    def loss_grads_and_logits(self, X, y):
        """``loss_and_grads`` and the logits Z (n, n_classes) of the same forward pass."""
        Z, caches = self._forward(self._check_X(X), return_caches=True)
        y = check_labels(y, "y", len(Z), self.n_classes)
        return (F.softmax_cross_entropy_forward(Z, y, check=False),
                self.backward(caches, F.softmax_cross_entropy_backward(Z, y, check=False)), Z)

    def _logits(self, X):
        X, step = self._check_X(X), self.predict_batch or max(1, len(X))
        if len(X) <= step:
            return self._forward(X)
        return np.concatenate([self._forward(X[s:s + step]) for s in range(0, len(X), step)])


def forward_layers(layers, X, return_caches=False):
    """The one forward pass: each layer's ``forward`` in turn on a checked X; the logits (and the caches)."""
    A, caches = X, []
    for layer in layers:
        A, cache = layer.forward(A, check=False)  # X checked at the entry, weights when built
        if return_caches:
            caches.append(cache)
    return (A, caches) if return_caches else A


def mlp_layers(weights, biases, masks=None):
    """Dense layers around the given arrays (no copies, no checks): ReLU hidden, logits out."""
    masks = masks or [None] * len(weights)
    return [Dense.from_arrays(W, b, "relu" if i < len(weights) - 1 else None, m)
            for i, (W, b, m) in enumerate(zip(weights, biases, masks))]


def mlp_logits(X, weights, biases):
    """Logits of the ReLU network with these arrays on a checked X (``forward_layers`` of ``mlp_layers``)."""
    return forward_layers(mlp_layers(weights, biases), X)


class MLP(Sequential):
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
        dtype, rng = check_float_dtype(dtype, "dtype"), check_rng(rng)
        super().__init__([Dense(a, b, "relu" if i < len(sizes) - 2 else None, init, rng, dtype)
                          for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))], (sizes[0],), predict_batch=None)

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
        weights = [sp.csr_array(check_weight(W, f"weights[{i}]"), copy=True) if sparse.is_sparse(W)
                   else np.array(check_weight(W, f"weights[{i}]")) for i, W in enumerate(weights)]
        biases = [_copy_bias(b, i, W) for i, (b, W) in enumerate(zip(biases, weights))]
        _check_chain(weights, biases)
        model = cls.__new__(cls)
        Sequential.__init__(model, mlp_layers(weights, biases), (weights[0].shape[0],), predict_batch=None)
        for i, m in enumerate(masks or []):
            if m is not None:
                model.set_mask_inplace(i, _check_mask(m, f"masks[{i}]", weights[i].shape))
        return model

    def copy(self):
        """A checked copy (refuses a diverged model, naming ``weights[i]``); torch_like's originals are not copied."""
        return MLP.from_weights(self.weights, self.biases, self.masks)

    @property
    def layer_sizes(self):
        return [self.weights[0].shape[0]] + [W.shape[1] for W in self.weights]

    def forward(self, X, return_all=False, return_caches=False):
        """Logits of X (n, d_in); with ``return_all`` the lists (Zs, As), with ``return_caches``
        (logits, caches) as ``Sequential.forward``.

        Zs[i] is layer i's pre-activation, As[0] = X and As[i+1] its
        activation (ReLU for hidden layers, the logits for the last).
        """
        Z, caches = super().forward(X, return_caches=True)
        if return_all:
            return [Z_i for _, Z_i in caches], [A for A, _ in caches] + [Z]
        return (Z, caches) if return_caches else Z


def _check_chain(weights, biases):
    for i, (W, b) in enumerate(zip(weights, biases)):
        if W.ndim != 2 or not np.issubdtype(W.dtype, np.floating):
            raise ValueError(f"weights[{i}]: expected a 2-d float array (d_in, d_out), found {W.dtype} shape {W.shape}")
        if b.shape != (W.shape[1],):
            raise ValueError(f"biases[{i}]: expected shape ({W.shape[1]},) for weights[{i}] of shape {W.shape}, found {b.shape}")
        if i and W.shape[0] != weights[i - 1].shape[1]:
            raise ValueError(f"weights[{i}]: expected {weights[i - 1].shape[1]} input rows, found shape {W.shape}")


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
    return mask


def _copy_bias(b, i, W):
    """A checked copy of biases[i]; an integer bias takes its weight's dtype."""
    checked = check_bias(b, f"biases[{i}]", W.shape[1], weight_name=f"weights[{i}]")
    return checked.astype(np.asarray(b).dtype if np.issubdtype(np.asarray(b).dtype, np.floating) else W.dtype)


def _check_input_shape(input_shape):
    if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__iter__"):
        raise TypeError(f"input_shape: expected (h, w, c) of one image or (d_in,), positive ints, found "
                        f"{type(input_shape).__name__} {input_shape!r}")
    shape = tuple(input_shape)
    if len(shape) not in (1, 3) or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
                                       for s in shape):
        raise ValueError(f"input_shape: expected (h, w, c) of one image or (d_in,), positive ints, found {shape}")
    return tuple(int(s) for s in shape)


# -- the small CNN of the DSR experiment ---------------------------------------------
def _check_small_cnn_sizes(input_shape, n_classes, channels, hidden):
    """(h, w, c) of ``input_shape`` once ``small_cnn``'s size arguments are checked (naming each)."""
    shape = _check_input_shape(input_shape)
    if len(shape) != 3:
        raise ValueError(f"input_shape: expected (h, w, c) of one image, three positive ints, found {shape}")
    check_int(n_classes, "n_classes", minimum=2)   # a softmax classifier over one class learns nothing
    check_int(hidden, "hidden")
    if isinstance(channels, (str, bytes)) or not hasattr(channels, "__len__") or len(channels) == 0:
        raise ValueError(f"channels: expected a non-empty sequence of positive ints (one per conv block), "
                         f"found {channels!r}")
    for i, c_out in enumerate(channels):
        check_int(c_out, f"channels[{i}]")
    if min(shape[:2]) >> len(channels) < 1:
        raise ValueError(f"input_shape: expected images of at least {2 ** len(channels)}x{2 ** len(channels)} "
                         f"pixels for {len(channels)} conv blocks (each halves the size), found "
                         f"{shape[0]}x{shape[1]}; pass fewer channels or larger images")
    return shape


def small_cnn_weight_shapes(input_shape, n_classes, channels=(16, 32), hidden=128):
    """The W shapes of ``small_cnn``'s weight layers, in order: (9 * c_in, c_out) per conv, then the head's."""
    h, w, c = _check_small_cnn_sizes(input_shape, n_classes, channels, hidden)
    c_ins = [c, *channels[:-1]]
    d_flat = (h >> len(channels)) * (w >> len(channels)) * channels[-1]   # each block halves h and w
    return [(9 * c_in, c_out) for c_in, c_out in zip(c_ins, channels)] + [(d_flat, hidden), (hidden, n_classes)]


def small_cnn(input_shape, n_classes, channels=(16, 32), hidden=128, rng=None,
              conv_layer=Conv2d, dense_layer=Dense, **layer_kwargs):
    """[Conv 3x3 (same padding), MaxPool2d(2), ReLU] per ``channels``, Flatten, Dense(hidden) + ReLU, Dense(n_classes).

    Each block is conv -> maxpool -> ReLU: max pooling commutes with the
    monotone ReLU, so this gives the same values and gradients as
    conv -> ReLU -> maxpool while rectifying a 4x smaller map (about 10%
    faster per training step; a test checks the equality).

    ``conv_layer``/``dense_layer`` build the weight layers (e.g. the sparse
    layers of ``pruning.sparse_layers``), with ``layer_kwargs`` passed on;
    ``small_cnn_weight_shapes`` gives their W shapes without building them.
    """
    rng = check_rng(rng)
    *convs, (d_flat, _), _ = small_cnn_weight_shapes(input_shape, n_classes, channels, hidden)
    blocks = [[conv_layer(rows // 9, c_out, 3, padding=1, activation=None, rng=rng, **layer_kwargs),
               MaxPool2d(2), ReLU()] for rows, c_out in convs]
    head = [Flatten(), dense_layer(d_flat, hidden, rng=rng, **layer_kwargs),
            dense_layer(hidden, n_classes, activation=None, rng=rng, **layer_kwargs)]
    return Sequential([layer for block in blocks for layer in block] + head, input_shape)
