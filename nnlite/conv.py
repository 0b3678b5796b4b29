"""Convolution, max pooling and flattening as forward/backward function pairs.

Layout (declared once here, used by ``nnlite.cnn`` and ``pruning.dynamic``)
---------------------------------------------------------------------------
- Images are NHWC: ``X (n, h, w, c_in)`` (the Keras/TensorFlow default).
- A convolution kernel is stored as a 2-D weight ``W (kh * kw * c_in, c_out)``,
  the Keras kernel ``(kh, kw, c_in, c_out)`` reshaped in C order, so that a
  convolution is one matrix product ``Z = im2col(X) @ W + b`` through
  ``nnlite.functional.dense_forward``: a dense ndarray and a CSR weight share
  one path (``nnlite.sparse.matmul``), and a mask is a boolean array of W's
  2-D shape.
- ``im2col(X)`` has one row per output pixel, ordered (n, i, j), and one
  column per kernel tap, ordered (di, dj, c).
- Output size per spatial axis: ``(size + 2 * padding - k) // stride + 1``
  (zero padding, no dilation). Cross-correlation, as in every deep learning
  library (the kernel is not flipped).

Checks: ``conv2d_forward`` and ``conv2d_backward`` validate their arrays
(``check=False`` skips it in ``conv2d_backward``). ``im2col``, ``col2im``,
``maxpool2d_*`` and ``flatten_*`` are unchecked primitives: the layers of
``nnlite.cnn`` validate their input before calling them.

Backward functions recompute what they need from their inputs; the callers
that already hold ``im2col(X)`` (or a pool's output ``A``) may pass it to skip
the work.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import functional as F
from . import sparse
from ._checks import check_float_array, check_weight


def output_size(size, k, stride, padding):
    """Number of kernel positions along an axis of length ``size``."""
    return (size + 2 * padding - k) // stride + 1


def check_conv_geometry(input_shape, kernel_size, stride, padding, name="X"):
    """Raise ValueError unless a (kh, kw) kernel fits the padded (h, w, c) input."""
    (h, w), (kh, kw) = input_shape[:2], kernel_size
    if min(kh, kw, stride) < 1 or padding < 0:
        raise ValueError(f"kernel_size, stride, padding: expected positive kernel and stride and "
                         f"padding >= 0, found {kernel_size}, {stride}, {padding}")
    if kh > h + 2 * padding or kw > w + 2 * padding:
        raise ValueError(f"{name}: kernel {kh}x{kw} is larger than the padded input "
                         f"{h + 2 * padding}x{w + 2 * padding} (input {h}x{w}, padding {padding}); "
                         f"use a smaller kernel or more padding")


def _windows(Xp, kh, kw, stride):
    """Strided view (n, h_out, w_out, kh, kw, c) of the windows of padded Xp (no copy)."""
    n, h, w, c = Xp.shape
    h_out, w_out = (h - kh) // stride + 1, (w - kw) // stride + 1
    sn, sh, sw, sc = Xp.strides
    return as_strided(Xp, (n, h_out, w_out, kh, kw, c),
                      (sn, sh * stride, sw * stride, sh, sw, sc), writeable=False)


def _pad(X, padding):
    return np.pad(X, ((0, 0), (padding, padding), (padding, padding), (0, 0))) if padding else X


def im2col(X, kernel_size, stride=1, padding=0):
    """Patches of X (n, h, w, c) as rows: cols (n * h_out * w_out, kh * kw * c)."""
    kh, kw = kernel_size
    win = _windows(_pad(X, padding), kh, kw, stride)
    return win.reshape(-1, kh * kw * X.shape[3])


def col2im(dcols, input_shape, kernel_size, stride=1, padding=0):
    """Adjoint of im2col: sum each patch gradient back into dX (n, h, w, c).

    Loops over the kh * kw kernel offsets (never over pixels or examples).
    """
    n, h, w, c = input_shape
    kh, kw = kernel_size
    h_out, w_out = output_size(h, kh, stride, padding), output_size(w, kw, stride, padding)
    d6 = dcols.reshape(n, h_out, w_out, kh, kw, c)
    dXp = np.zeros((n, h + 2 * padding, w + 2 * padding, c), dtype=dcols.dtype)
    for di in range(kh):
        for dj in range(kw):
            dXp[:, di:di + stride * h_out:stride, dj:dj + stride * w_out:stride] += d6[:, :, :, di, dj]
    return dXp[:, padding:padding + h, padding:padding + w] if padding else dXp


def conv2d_forward(X, W, b, kernel_size, stride=1, padding=0):
    """Z (n, h_out, w_out, c_out) = im2col(X) @ W + b, W (kh*kw*c_in, c_out) dense or CSR."""
    X = check_float_array(X, "X", ndim=4)
    check_conv_geometry(X.shape[1:], kernel_size, stride, padding)
    if np.shape(W)[:1] != (kernel_size[0] * kernel_size[1] * X.shape[3],):
        raise ValueError(f"W: expected {kernel_size[0] * kernel_size[1] * X.shape[3]} rows (kh * kw * c_in for "
                         f"X of shape {X.shape}), found shape {np.shape(W)}")
    n, h, w, _ = X.shape
    kh, kw = kernel_size
    Z = F.dense_forward(im2col(X, kernel_size, stride, padding), W, b)
    return Z.reshape(n, output_size(h, kh, stride, padding), output_size(w, kw, stride, padding), -1)


def conv2d_backward(dZ, X, W, kernel_size, stride=1, padding=0, cols=None, input_grad=True, check=True):
    """Return (dX, dW, db) for ``conv2d_forward``; dX is None when not ``input_grad``.

    dW = im2col(X).T @ dZ (only on W's stored pattern if W is CSR),
    db = sum of dZ over samples and pixels, dX = col2im(dZ @ W.T), computed
    one kernel offset (di, dj) at a time: offset k owns rows
    k * c_in .. (k + 1) * c_in of W, and dZ @ W_k.T lands on the input pixels
    that offset touched (4x faster than forming dZ @ W.T and then col2im).
    """
    if check:  # the layers pass check=False: CNN.forward validated X, and dZ comes from the engine
        dZ, X = check_float_array(dZ, "dZ", ndim=4), check_float_array(X, "X", ndim=4)
        check_weight(W, "W")
        check_conv_geometry(X.shape[1:], kernel_size, stride, padding)
        expected = (len(X), output_size(X.shape[1], kernel_size[0], stride, padding),
                    output_size(X.shape[2], kernel_size[1], stride, padding), W.shape[1])
        if dZ.shape != expected or W.shape[0] != kernel_size[0] * kernel_size[1] * X.shape[3]:
            raise ValueError(f"dZ, W: expected shapes {expected} and ({kernel_size[0] * kernel_size[1] * X.shape[3]}, "
                             f"c_out) for X of shape {X.shape}, found {dZ.shape} and {W.shape}")
    if cols is None:
        cols = im2col(X, kernel_size, stride, padding)
    (n, h, w, c_in), (kh, kw), (_, h_out, w_out, c_out) = X.shape, kernel_size, dZ.shape
    dZ2 = dZ.reshape(-1, c_out)
    _, dW, db = F.dense_backward(dZ2, cols, W, need_dX=False, check=False)
    if not input_grad:
        return None, dW, db
    dXp = np.zeros((n, h + 2 * padding, w + 2 * padding, c_in), dtype=np.result_type(dZ, W.dtype))
    for k in range(kh * kw):
        di, dj = divmod(k, kw)
        dX_k = sparse.matmul(dZ2, W[k * c_in:(k + 1) * c_in].T, check=False)
        dXp[:, di:di + stride * h_out:stride, dj:dj + stride * w_out:stride] += dX_k.reshape(n, h_out, w_out, c_in)
    return (dXp[:, padding:padding + h, padding:padding + w] if padding else dXp), dW, db


def _pool_taps(X, pool_size, stride, shape_out):
    """The strided views X[:, di::stride, dj::stride] of each pool offset, row-major."""
    (ph, pw), (h_out, w_out) = pool_size, shape_out
    return [X[:, di:di + stride * h_out:stride, dj:dj + stride * w_out:stride]
            for di in range(ph) for dj in range(pw)]


def _pool_output(X, pool_size, stride):
    return (output_size(X.shape[1], pool_size[0], stride, 0), output_size(X.shape[2], pool_size[1], stride, 0))


def maxpool2d_forward(X, pool_size=(2, 2), stride=None):
    """A (n, h_out, w_out, c): the max over each pool window (no padding; stride
    defaults to the pool size, a remainder row/column is dropped).

    Loops over the ph * pw offsets of the window (never over pixels).
    """
    taps = _pool_taps(X, pool_size, stride or pool_size[0], _pool_output(X, pool_size, stride or pool_size[0]))
    A = taps[0].copy()
    for tap in taps[1:]:
        np.maximum(A, tap, out=A)
    return A


def maxpool2d_backward(dA, X, pool_size=(2, 2), stride=None, A=None):
    """dX: each window's gradient goes to its first maximal element (row-major
    order; ties go to the first, as in PyTorch), so the gradient of A sums to
    the gradient of X. Pass the forward output ``A`` to skip recomputing it."""
    stride = stride or pool_size[0]
    (ph, pw), (n, h_out, w_out, c) = pool_size, dA.shape
    A = maxpool2d_forward(X, pool_size, stride) if A is None else A
    dX = np.zeros_like(X, dtype=dA.dtype)
    if stride == ph == pw:  # disjoint windows: compare once on a (n, h_out, ph, w_out, pw, c) view
        X6 = X[:, :h_out * ph, :w_out * pw].reshape(n, h_out, ph, w_out, pw, c)
        dX6 = dX[:, :h_out * ph, :w_out * pw].reshape(n, h_out, ph, w_out, pw, c)
        winners = X6 == A[:, :, None, :, None]
        if np.count_nonzero(winners) == A.size:  # no ties: exactly one winner per window
            np.multiply(winners, dA[:, :, None, :, None], out=dX6)
        else:
            taps = [(winners[:, :, di, :, dj], dX6[:, :, di, :, dj]) for di in range(ph) for dj in range(pw)]
            _route_to_first_winner_inplace(taps, dA)
        if not np.shares_memory(dX6, dX):  # cropping a remainder made reshape copy: write back
            dX[:, :h_out * ph, :w_out * pw] = dX6.reshape(n, h_out * ph, w_out * pw, c)
        return dX
    taps = [(tap == A, dtap) for tap, dtap in zip(_pool_taps(X, pool_size, stride, (h_out, w_out)),
                                                   _pool_taps(dX, pool_size, stride, (h_out, w_out)))]
    _route_to_first_winner_inplace(taps, dA)
    return dX


def _route_to_first_winner_inplace(taps, dA):
    """Add dA to the first tap (row-major) whose ``winner`` flag is set, per window."""
    unrouted = dA.copy()
    for winner, dtap in taps:
        dtap += unrouted * winner
        unrouted *= ~winner


def flatten_forward(X):
    """A (n, h * w * c): each example's feature map as one row (C order)."""
    return X.reshape(len(X), -1)


def flatten_backward(dA, input_shape):
    """dX of ``input_shape``: the inverse reshape."""
    return dA.reshape(input_shape)
