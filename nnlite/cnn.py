"""A small sequential CNN: Conv2d, MaxPool2d, Flatten and Dense layers.

Images are NHWC and a kernel is a 2-D weight ``W (kh * kw * c_in, c_out)``
(see ``nnlite.conv``). The math is in ``nnlite.conv`` and
``nnlite.functional``; a layer holds its parameters and ``forward`` returns
``(A, cache)`` where ``cache`` is what its ``backward(dA, cache)`` needs (the
caller keeps it; nothing is stored on the layer). ``CNN`` loops over layers
and offers the interface of ``nnlite.train.fit`` and ``nnlite.optim``:
``loss_and_grads``, ``params``, ``param_masks``, ``score``, ``loss``.
"""
import numpy as np

from . import conv
from . import functional as F
from . import sparse
from ._checks import check_float_array, check_int, check_labels, check_rng
from .classifier import Classifier
from .init import INITIALISERS

ACTIVATIONS = (None, "relu")


def _pair(k, name):
    k = (k, k) if np.isscalar(k) else tuple(k)
    if len(k) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in k):
        raise ValueError(f"{name}: expected a positive int or a pair of them, found {k}")
    return int(k[0]), int(k[1])


def _check_layer_input(layer, X, ndim):
    """X as a finite float array that ``layer`` accepts (``layer.output_shape``'s check, naming X)."""
    X = check_float_array(X, "X", ndim=ndim)
    try:
        layer.output_shape(X.shape[1:])
    except ValueError as error:
        raise ValueError(f"X: {error}") from None
    return X


class _WeightLayer:
    """Shared parts of Conv2d and Dense: W (dense or CSR), b, mask, activation."""

    def _init_params(self, n_in, n_out, activation, init, rng, dtype):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation: expected one of {ACTIVATIONS}, found {activation!r}")
        if init not in INITIALISERS:
            raise ValueError(f"init: expected one of {sorted(INITIALISERS)}, found {init!r}")
        self.activation = activation
        self.W = INITIALISERS[init](n_in, n_out, check_rng(rng), dtype)
        self.b = np.zeros(n_out, dtype=dtype)
        self.mask = None

    def params(self):
        return [self.W, self.b]

    def param_masks(self):
        return [self.mask, None]

    def set_mask_inplace(self, mask):
        """Set the mask and zero the masked weights (a CSR weight keeps its pattern)."""
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != self.W.shape:
            raise ValueError(f"mask: expected a boolean array of shape {self.W.shape}, found {mask.dtype} {mask.shape}")
        self.mask = mask.copy()
        if sparse.is_sparse(self.W):
            self.W.data *= sparse.mask_values(mask, self.W)
        else:
            self.W *= mask

    def _activate(self, Z):
        return F.relu_forward(Z, check=False) if self.activation == "relu" else Z

    def _deactivate(self, dA, Z):
        return F.relu_backward(dA, Z, check=False) if self.activation == "relu" else dA

    def _masked(self, dW):
        return dW * self.mask if self.mask is not None and not sparse.is_sparse(dW) else dW


class Conv2d(_WeightLayer):
    """Conv2d(c_in, c_out, kernel_size, stride=1, padding=0, activation="relu").

    W (kh * kw * c_in, c_out) initialised with ``init`` on fan-in kh*kw*c_in
    and fan-out c_out; b (c_out,) zeros.
    """

    def __init__(self, c_in, c_out, kernel_size, stride=1, padding=0, activation="relu",
                 init="he_uniform", rng=None, dtype=np.float32):
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride, self.padding = check_int(stride, "stride"), check_int(padding, "padding", minimum=0)
        self.c_in = check_int(c_in, "c_in")
        kh, kw = self.kernel_size
        self._init_params(kh * kw * self.c_in, check_int(c_out, "c_out"), activation, init, rng, dtype)

    def output_shape(self, input_shape):
        """(h_out, w_out, c_out) for an (h, w, c_in) input; raises on a mismatch."""
        if len(input_shape) != 3 or input_shape[2] != self.c_in:
            raise ValueError(f"Conv2d: expected an input of shape (h, w, {self.c_in}) (channels last), "
                             f"found {tuple(input_shape)}; check c_in or the previous layer's c_out")
        conv.check_conv_geometry(input_shape, self.kernel_size, self.stride, self.padding, "Conv2d input")
        (h, w, _), (kh, kw) = input_shape, self.kernel_size
        return (conv.output_size(h, kh, self.stride, self.padding),
                conv.output_size(w, kw, self.stride, self.padding), self.W.shape[1])

    def forward(self, X, check=True):
        """(A, cache) for images X (n, h, w, c_in); ``check=False`` skips validating X
        (``CNN.forward`` validates once at its entry)."""
        if check:
            X = _check_layer_input(self, X, ndim=4)
        (_, h, w, _), (kh, kw) = X.shape, self.kernel_size
        cols = conv.im2col(X, self.kernel_size, self.stride, self.padding)
        Z = F.dense_forward(cols, self.W, self.b, check=False).reshape(
            len(X), conv.output_size(h, kh, self.stride, self.padding),
            conv.output_size(w, kw, self.stride, self.padding), -1)
        return self._activate(Z), (X, cols, Z)

    def backward(self, dA, cache, input_grad=True):
        X, cols, Z = cache
        dX, dW, db = conv.conv2d_backward(self._deactivate(dA, Z), X, self.W, self.kernel_size,
                                          self.stride, self.padding, cols=cols, input_grad=input_grad,
                                          check=False)
        return dX, [self._masked(dW), db]


class Dense(_WeightLayer):
    """Dense(n_in, n_out, activation="relu"): A = act(X @ W + b), W (n_in, n_out)."""

    def __init__(self, n_in, n_out, activation="relu", init="he_uniform", rng=None, dtype=np.float32):
        self._init_params(check_int(n_in, "n_in"), check_int(n_out, "n_out"), activation, init, rng, dtype)

    def output_shape(self, input_shape):
        if tuple(input_shape) != (self.W.shape[0],):
            raise ValueError(f"Dense: expected {self.W.shape[0]} input features, found input shape "
                             f"{tuple(input_shape)}; add a Flatten layer or fix n_in")
        return (self.W.shape[1],)

    def forward(self, X, check=True):
        """(A, cache) for X (n, n_in); ``check=False`` skips validating X."""
        if check:
            X = _check_layer_input(self, X, ndim=2)
        Z = F.dense_forward(X, self.W, self.b, check=False)
        return self._activate(Z), (X, Z)

    def backward(self, dA, cache, input_grad=True):
        X, Z = cache
        dX, dW, db = F.dense_backward(self._deactivate(dA, Z), X, self.W, need_dX=input_grad, check=False)
        return dX, [self._masked(dW), db]


class ParameterFree:
    """Base of the layers without parameters (pooling, ReLU, flatten)."""

    def params(self):
        return []

    def param_masks(self):
        return []


class MaxPool2d(ParameterFree):
    """MaxPool2d(pool_size=2, stride=None): max over windows, stride = pool by default."""

    def __init__(self, pool_size=2, stride=None):
        self.pool_size = _pair(pool_size, "pool_size")
        self.stride = self.pool_size[0] if stride is None else check_int(stride, "stride")

    def output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"MaxPool2d: expected an (h, w, c) input, found {tuple(input_shape)}")
        conv.check_conv_geometry(input_shape, self.pool_size, self.stride, 0, "MaxPool2d input")
        (h, w, c), (ph, pw) = input_shape, self.pool_size
        return conv.output_size(h, ph, self.stride, 0), conv.output_size(w, pw, self.stride, 0), c

    def forward(self, X, check=True):
        if check:
            X = _check_layer_input(self, X, ndim=4)
        A = conv.maxpool2d_forward(X, self.pool_size, self.stride)
        return A, (X, A)

    def backward(self, dA, cache, input_grad=True):
        X, A = cache
        return conv.maxpool2d_backward(dA, X, self.pool_size, self.stride, A=A), []


class ReLU(ParameterFree):
    """ReLU(): A = max(Z, 0) as a layer of its own (e.g. after a max pool)."""

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, Z, check=True):
        return F.relu_forward(Z, check=check), Z

    def backward(self, dA, Z, input_grad=True):
        return F.relu_backward(dA, Z, check=False), []


class Flatten(ParameterFree):
    """Flatten(): (n, h, w, c) -> (n, h * w * c)."""

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, X, check=True):
        if check:
            X = check_float_array(X, "X", ndim=max(2, np.ndim(X)))
        return conv.flatten_forward(X), X.shape

    def backward(self, dA, input_shape, input_grad=True):
        return conv.flatten_backward(dA, input_shape), []


def _check_input_shape(input_shape):
    if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__iter__"):
        raise TypeError(f"input_shape: expected (h, w, c) of one image, three positive ints, found "
                        f"{type(input_shape).__name__} {input_shape!r}")
    shape = tuple(input_shape)
    if len(shape) != 3 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in shape):
        raise ValueError(f"input_shape: expected (h, w, c) of one image, three positive ints, found {shape}")
    return tuple(int(s) for s in shape)


class CNN(Classifier):
    """CNN(layers, input_shape): a sequential network ending in logits.

    Parameters
    ----------
    layers : list of Conv2d, MaxPool2d, Flatten, Dense (or subclasses)
        The last layer's output is the logits (n, n_classes).
    input_shape : tuple (h, w, c)
        Shape of one image; the layers are checked against it at construction.
    predict_batch : int
        Rows per forward pass in ``predict``/``score``/``loss`` (bounds memory).
    """

    input_ndim = 4

    def __init__(self, layers, input_shape, predict_batch=1000):
        self.layers, self.input_shape = list(layers), _check_input_shape(input_shape)
        self.predict_batch = check_int(predict_batch, "predict_batch")
        shape = self.input_shape
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.output_shape(shape)
            except ValueError as error:
                raise ValueError(f"input_shape: {self.input_shape} does not fit layers[{i}] "
                                 f"({type(layer).__name__}): {error}") from None
        if len(shape) != 1:
            raise ValueError(f"layers: expected the last layer to output (n_classes,), found {shape}; end with Dense")
        self.n_classes = shape[0]

    def params(self):
        return [p for layer in self.layers for p in layer.params()]

    def param_masks(self):
        return [m for layer in self.layers for m in layer.param_masks()]

    def weight_layers(self):
        return [layer for layer in self.layers if isinstance(layer, _WeightLayer)]

    def count_nonzero(self):
        """Nonzero weights (biases excluded)."""
        return sum(int(np.count_nonzero(L.W.data if sparse.is_sparse(L.W) else L.W)) for L in self.weight_layers())

    def nbytes(self, fmt=None):
        """Bytes of all weights and biases, as stored (None), all "dense" or all "csr"."""
        return sum(sparse.nbytes(L.W, fmt) + L.b.nbytes for L in self.weight_layers())

    def _check_X(self, X):
        X = check_float_array(X, "X", ndim=4)
        if X.shape[1:] != self.input_shape:
            raise ValueError(f"X: expected images of shape (n, {', '.join(map(str, self.input_shape))}) "
                             f"(NHWC), found {X.shape}")
        return X.astype(self.weight_layers()[0].b.dtype, copy=False)

    def forward(self, X, return_caches=False):
        """Logits (n, n_classes) of X (n, h, w, c); with ``return_caches`` also the caches."""
        return self._forward(self._check_X(X), return_caches)

    def _forward(self, X, return_caches=False):
        A, caches = X, []
        for layer in self.layers:
            A, cache = layer.forward(A, check=False)  # X checked above, weights when built
            caches.append(cache)
        return (A, caches) if return_caches else A

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
        Z, caches = self.forward(X, return_caches=True)
        y = check_labels(y, "y", len(Z), self.n_classes)
        return (F.softmax_cross_entropy_forward(Z, y, check=False),
                self.backward(caches, F.softmax_cross_entropy_backward(Z, y, check=False)), Z)

    def _logits(self, X):
        X = self._check_X(X)
        return np.concatenate([self._forward(X[s:s + self.predict_batch])
                               for s in range(0, len(X), self.predict_batch)])


def _check_small_cnn_sizes(input_shape, n_classes, channels, hidden):
    """(h, w, c) of ``input_shape`` once ``small_cnn``'s size arguments are checked (naming each)."""
    h, w, c = _check_input_shape(input_shape)
    check_int(n_classes, "n_classes", minimum=2)   # a softmax classifier over one class learns nothing
    check_int(hidden, "hidden")
    if isinstance(channels, (str, bytes)) or not hasattr(channels, "__len__") or len(channels) == 0:
        raise ValueError(f"channels: expected a non-empty sequence of positive ints (one per conv block), "
                         f"found {channels!r}")
    for i, c_out in enumerate(channels):
        check_int(c_out, f"channels[{i}]")
    if min(h, w) >> len(channels) < 1:
        raise ValueError(f"input_shape: expected images of at least {2 ** len(channels)}x{2 ** len(channels)} "
                         f"pixels for {len(channels)} conv blocks (each halves the size), found {h}x{w}; "
                         f"pass fewer channels or larger images")
    return h, w, c


def small_cnn(input_shape, n_classes, channels=(16, 32), hidden=128, rng=None,
              conv_layer=Conv2d, dense_layer=Dense, **layer_kwargs):
    """Conv blocks [conv3x3 (same padding) + ReLU + maxpool 2] per ``channels``,
    then Flatten, Dense(hidden) + ReLU, Dense(n_classes).

    Each block is built as conv -> maxpool -> ReLU: max pooling commutes with
    the monotone ReLU, so this gives the same values and gradients as
    conv -> ReLU -> maxpool while rectifying a 4x smaller map (about 10%
    faster per training step; a test checks the equality).

    ``conv_layer``/``dense_layer`` build the weight layers (e.g. the dynamic
    sparse layers of ``pruning.dynamic``), with ``layer_kwargs`` passed on.
    """
    rng = check_rng(rng)
    h, w, c = _check_small_cnn_sizes(input_shape, n_classes, channels, hidden)
    layers = []
    for c_out in channels:
        layers += [conv_layer(c, c_out, 3, padding=1, activation=None, rng=rng, **layer_kwargs), MaxPool2d(2), ReLU()]
        c, h, w = c_out, h // 2, w // 2
    layers += [Flatten(), dense_layer(h * w * c, hidden, rng=rng, **layer_kwargs),
               dense_layer(hidden, n_classes, activation=None, rng=rng, **layer_kwargs)]
    return CNN(layers, input_shape)
