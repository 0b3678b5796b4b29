"""Layers: ``Dense``, ``Conv2d``, ``MaxPool2d``, ``ReLU``, ``Flatten``.

A layer holds its parameters and calls the forward/backward pairs of
``nnlite.functional`` and ``nnlite.conv``. ``forward(X)`` returns
``(A, cache)``, where ``cache`` is what ``backward(dA, cache)`` needs (the
caller keeps it; nothing is stored on the layer), and ``backward`` returns
``(dX, grads)`` with ``grads`` aligned with ``params()``.

A weight layer owns ``W (d_in, d_out)`` (dense or CSR; a convolution's
kernel as ``(kh * kw * c_in, c_out)``, see ``nnlite.conv``), ``b (d_out,)``
and ``mask`` (None or a boolean array of W's shape). The one masking rule:
where ``update_mask`` is False the weight gradient is 0 (``masked_gradient``,
dense and CSR alike), and the optimizer keeps the weight and its state at 0
there (``param_masks``).
"""
import numpy as np

from . import conv
from . import functional as F
from . import sparse
from ._checks import check_float_array, check_int, check_rng
from .init import INITIALISERS

ACTIVATIONS = (None, "relu")


def _pair(k, name):
    k = (k, k) if np.isscalar(k) else tuple(k)
    if len(k) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in k):
        raise ValueError(f"{name}: expected a positive int or a pair of them, found {k}")
    return int(k[0]), int(k[1])


class Layer:
    """A layer without parameters; ``output_shape`` raises ValueError on an input it cannot take."""

    def params(self):
        return []

    def param_masks(self):
        return []

    def _checked(self, X, ndim):
        """X as a finite float array this layer accepts (``output_shape``'s check, naming X)."""
        X = check_float_array(X, "X", ndim=ndim)
        try:
            self.output_shape(X.shape[1:])
        except ValueError as error:
            raise ValueError(f"X: {error}") from None
        return X


class WeightLayer(Layer):
    """W (d_in, d_out) dense or CSR, b (d_out,), mask and activation: what Dense and Conv2d share."""

    def __init__(self, d_in, d_out, activation, init, rng, dtype):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation: expected one of {ACTIVATIONS}, found {activation!r}")
        if init not in INITIALISERS:
            raise ValueError(f"init: expected one of {sorted(INITIALISERS)}, found {init!r}")
        self.activation = activation
        self.W = INITIALISERS[init](d_in, d_out, check_rng(rng), dtype)
        self.b = np.zeros(d_out, dtype=dtype)
        self.mask = None

    @property
    def update_mask(self):
        """The mask updates must respect: ``mask``, or None when W's storage enforces it (see pruning.sparse_layers)."""
        return self.mask

    def params(self):
        return [self.W, self.b]

    def param_masks(self):
        return [self.update_mask, None]

    def masked_gradient(self, dW):
        """dW with 0 where ``update_mask`` is False (a CSR dW on W's pattern: its ``.data``)."""
        mask = self.update_mask
        if mask is None:
            return dW
        if sparse.is_sparse(dW):
            dW.data *= sparse.mask_values(mask, dW)
            return dW
        return dW * mask

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

    def count_nonzero(self):
        """Nonzero weights (the bias excluded)."""
        return int(np.count_nonzero(self.W.data if sparse.is_sparse(self.W) else self.W))

    def nbytes(self, fmt=None):
        """Bytes of W as stored (None), as "dense" or as "csr", plus the bias."""
        return sparse.nbytes(self.W, fmt) + self.b.nbytes

    def _activate(self, Z):
        return F.relu_forward(Z, check=False) if self.activation == "relu" else Z

    def _deactivate(self, dA, Z):
        return F.relu_backward(dA, Z, check=False) if self.activation == "relu" else dA


class Dense(WeightLayer):
    """Dense(d_in, d_out, activation="relu"): A = act(X @ W + b), W (d_in, d_out)."""

    def __init__(self, d_in, d_out, activation="relu", init="he_uniform", rng=None, dtype=np.float32):
        super().__init__(check_int(d_in, "d_in"), check_int(d_out, "d_out"), activation, init, rng, dtype)

    @classmethod
    def from_arrays(cls, W, b, activation="relu", mask=None):
        """A Dense layer holding ``W``, ``b`` and ``mask`` themselves (no copy; the caller checks them)."""
        layer = cls.__new__(cls)
        layer.W, layer.b, layer.mask, layer.activation = W, b, mask, activation
        return layer

    def output_shape(self, input_shape):
        if tuple(input_shape) != (self.W.shape[0],):
            raise ValueError(f"Dense: expected {self.W.shape[0]} input features, found input shape "
                             f"{tuple(input_shape)}; add a Flatten layer or fix d_in")
        return (self.W.shape[1],)

    def forward(self, X, check=True):
        """(A, cache) for X (n, d_in); ``check=False`` skips validating X."""
        X = self._checked(X, ndim=2) if check else X
        if sparse.is_sparse(self.W):  # laid out once for the forward and backward CSR products
            X = sparse.batch_last(X)
        Z = F.dense_forward(X, self.W, self.b, check=False)
        return self._activate(Z), (X, Z)

    def backward(self, dA, cache, input_grad=True):
        X, Z = cache
        dX, dW, db = F.dense_backward(self._deactivate(dA, Z), X, self.W, need_dX=input_grad, check=False)
        return dX, [self.masked_gradient(dW), db]


class Conv2d(WeightLayer):
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
        super().__init__(kh * kw * self.c_in, check_int(c_out, "c_out"), activation, init, rng, dtype)

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
        """(A, cache) for images X (n, h, w, c_in); ``check=False`` skips validating X."""
        X = self._checked(X, ndim=4) if check else X
        Z, cols = conv._conv2d_forward(X, self.W, self.b, self.kernel_size, self.stride, self.padding)
        return self._activate(Z), (X, cols, Z)

    def backward(self, dA, cache, input_grad=True):
        X, cols, Z = cache   # cols: im2col(X), or None when the forward pass built it by blocks
        dX, dW, db = conv.conv2d_backward(self._deactivate(dA, Z), X, self.W, self.kernel_size,
                                          self.stride, self.padding, cols=cols, input_grad=input_grad,
                                          check=False)
        return dX, [self.masked_gradient(dW), db]


class MaxPool2d(Layer):
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
        X = self._checked(X, ndim=4) if check else X
        A = conv.maxpool2d_forward(X, self.pool_size, self.stride)
        return A, (X, A)

    def backward(self, dA, cache, input_grad=True):
        X, A = cache
        return conv.maxpool2d_backward(dA, X, self.pool_size, self.stride, A=A), []


class ReLU(Layer):
    """ReLU(): A = max(Z, 0) as a layer of its own (e.g. after a max pool)."""

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, Z, check=True):
        return F.relu_forward(Z, check=check), Z

    def backward(self, dA, Z, input_grad=True):
        return F.relu_backward(dA, Z, check=False), []


class Flatten(Layer):
    """Flatten(): (n, h, w, c) -> (n, h * w * c)."""

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, X, check=True):
        if check:
            X = check_float_array(X, "X", ndim=max(2, np.ndim(X)))
        return conv.flatten_forward(X), X.shape

    def backward(self, dA, input_shape, input_grad=True):
        return conv.flatten_backward(dA, input_shape), []
