"""Convolution, max pooling and flattening as forward/backward function pairs.

Layout (declared once here, used by ``nnlite.layers`` and ``pruning.sparse_layers``)
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
(``check=False`` skips it in ``conv2d_backward``). The geometry arguments
(``kernel_size``/``pool_size``, ``stride``, ``padding``) are checked by one
helper, ``check_geometry`` (O(1)), in every function here that takes them,
including ``output_size``, ``im2col`` and ``maxpool2d_forward``.
``im2col``, ``maxpool2d_forward`` and ``flatten_forward`` check only, in O(1),
that X is a real numeric ndarray with the right number of dimensions; they
and ``col2im``, ``maxpool2d_backward``, ``flatten_backward`` are otherwise
unchecked primitives (NaN/inf values pass through, as a finite check would
cost a pass over every activation in the training loop): the layers of
``nnlite.layers`` validate their input before calling them.

Backward functions recompute what they need from their inputs; the callers
that already hold ``im2col(X)`` (or a pool's output ``A``) may pass it to skip
the work.

Speed. A convolution whose patches are longer than its output rows builds
im2col one block of images at a time (``BLOCK_BYTES``), in the forward and
again in the backward pass, instead of keeping a patch matrix several times
the size of its input. With the compiled backend (``nnlite.sparse.backend()``
is ``"numba"``), max pooling over disjoint windows, im2col of an input of
several channels and the stride-1 input gradient's col2im run as compiled
loops (``nnlite._conv_kernels``): pooling and im2col give the NumPy code's
bits, the input gradient agrees with it to rounding (one product dZ @ W.T in
place of per-offset products). Timings: ``benchmarks/cnn.py``.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import _conv_kernels as kernels
from . import functional as F
from . import sparse
from ._checks import check_float_array, check_int, check_weight


def output_size(size, k, stride, padding):
    """Number of kernel positions along an axis of length ``size`` (all ints;
    ``k`` must fit the padded axis)."""
    size, k = check_int(size, "size"), check_int(k, "k")
    stride, padding = check_int(stride, "stride"), check_int(padding, "padding", minimum=0)
    if k > size + 2 * padding:
        raise ValueError(f"k: expected a kernel no longer than the padded axis {size + 2 * padding} "
                         f"(size {size}, padding {padding}), found {k}; use a smaller kernel or more padding")
    return (size + 2 * padding - k) // stride + 1


def _as_pair(value, name):
    """(a, b) of positive ints from an int or a pair of ints, naming ``name``."""
    pair = (value, value) if isinstance(value, (int, np.integer)) or np.ndim(value) == 0 else value
    if isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__") or len(pair) != 2:
        raise TypeError(f"{name}: expected a positive int or a pair (h, w) of them, found {value!r}")
    return check_int(pair[0], name), check_int(pair[1], name)


def check_geometry(kernel_size, stride, padding=0, kernel_name="kernel_size"):
    """((kh, kw), stride, padding) as ints: a positive int or pair, stride >= 1, padding >= 0.

    The one check of the geometry arguments of this module (O(1)); the
    messages name ``kernel_name`` (``pool_size`` for pooling), ``stride`` and
    ``padding``."""
    return (_as_pair(kernel_size, kernel_name), check_int(stride, "stride"),
            check_int(padding, "padding", minimum=0))


def check_conv_geometry(input_shape, kernel_size, stride, padding, name="X"):
    """Raise ValueError unless a (kh, kw) kernel fits the padded (h, w, c) input."""
    (kh, kw), stride, padding = check_geometry(kernel_size, stride, padding)
    h, w = input_shape[:2]
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
    _check_primitive_input(X)
    (kh, kw), stride, padding = check_geometry(kernel_size, stride, padding)
    if X.shape[3] > 1 and X.dtype.char in "fd" and sparse.backend() == "numba":
        return kernels.im2col(X, kh, kw, stride, padding)   # one pass, no padded copy (1.4x, c = 16)
    Xp = _pad(X, padding)
    if X.shape[3] == 1:  # one channel: kh * kw whole-tap copies beat the windows' kw-long runs (4x)
        taps = _taps(Xp, (kh, kw), stride, ((Xp.shape[1] - kh) // stride + 1, (Xp.shape[2] - kw) // stride + 1))
        return np.concatenate(taps, axis=3).reshape(-1, kh * kw)
    return _windows(Xp, kh, kw, stride).reshape(-1, kh * kw * X.shape[3])


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


def _check_primitive_input(X, ndim=4):
    """O(1) guard of the unchecked primitives: X must be a real numeric ndarray with ``ndim``
    dimensions (4: NHWC; None: at least 2). Its values (NaN/inf) are not looked at."""
    if not isinstance(X, np.ndarray) or X.dtype.kind not in "fiub":
        raise TypeError(f"X: expected a real numeric ndarray, found {type(X).__name__} {getattr(X, 'dtype', '')}")
    if (X.ndim != ndim) if ndim else X.ndim < 2:
        raise ValueError(f"X: expected {'an (n, h, w, c) array (NHWC)' if ndim == 4 else 'an (n, ...) batch'}, "
                         f"found shape {X.shape}")


def conv2d_forward(X, W, b, kernel_size, stride=1, padding=0):
    """Z (n, h_out, w_out, c_out) = im2col(X) @ W + b, W (kh*kw*c_in, c_out) dense or CSR."""
    X = check_float_array(X, "X", ndim=4)
    kernel_size, stride, padding = check_geometry(kernel_size, stride, padding)
    check_conv_geometry(X.shape[1:], kernel_size, stride, padding)
    check_weight(W, "W")
    if np.shape(W)[:1] != (kernel_size[0] * kernel_size[1] * X.shape[3],):
        raise ValueError(f"W: expected {kernel_size[0] * kernel_size[1] * X.shape[3]} rows (kh * kw * c_in for "
                         f"X of shape {X.shape}), found shape {np.shape(W)}")
    return _conv2d_forward(X, W, b, kernel_size, stride, padding, check=True)[0]


#: Bytes of patches per block of images. When a patch (an im2col row, kh * kw * c_in values) is longer
#: than an output row (c_out values), the forward and backward passes build the patches one block of
#: images at a time and multiply them while they are in cache, and never keep them: for the DSR CNN's
#: second convolution they are a 14 MB array per minibatch that cost more to write and read than to
#: multiply. Shorter patches (the first convolution's 9) are built once and kept for the backward pass.
BLOCK_BYTES = 1 << 21


def _image_blocks(X, c_out, kernel_size, stride, padding):
    """Slices of X's images whose patches take about ``BLOCK_BYTES`` (at least one image each);
    one slice of every image when a patch is no longer than an output row."""
    (n, h, w, c), (kh, kw) = X.shape, kernel_size
    if kh * kw * c <= c_out:
        return [slice(0, n)]
    per_image = output_size(h, kh, stride, padding) * output_size(w, kw, stride, padding) * kh * kw * c * X.itemsize
    step = max(1, BLOCK_BYTES // max(1, per_image))
    return [slice(start, start + step) for start in range(0, n, step)]


def _conv2d_forward(X, W, b, kernel_size, stride, padding, check=False):
    """(Z, cols): ``conv2d_forward`` on checked X and geometry, with im2col(X) when it was built
    whole, else None (built one block of images at a time). ``check``: validate W and b, as
    ``nnlite.functional.dense_forward`` does."""
    (n, h, w, _), (kh, kw) = X.shape, kernel_size
    shape_out = (output_size(h, kh, stride, padding), output_size(w, kw, stride, padding), W.shape[1])
    blocks = _image_blocks(X, W.shape[1], kernel_size, stride, padding)
    if len(blocks) == 1:
        cols = im2col(X, kernel_size, stride, padding)
        return F.dense_forward(cols, W, b, check=check).reshape(n, *shape_out), cols
    Z = np.empty((n, *shape_out), dtype=np.result_type(X.dtype, W.dtype, b))
    for block in blocks:
        Z[block] = F.dense_forward(im2col(X[block], kernel_size, stride, padding), W, b, check=check).reshape(
            -1, *shape_out)
    return Z, None


def conv2d_backward(dZ, X, W, kernel_size, stride=1, padding=0, cols=None, input_grad=True, check=True):
    """Return (dX, dW, db) for ``conv2d_forward``; dX is None when not ``input_grad``.

    dW = im2col(X).T @ dZ (only on W's stored pattern if W is CSR), summed
    over blocks of images unless ``cols`` (all of im2col(X)) is passed; db =
    sum of dZ over samples and pixels; dX = col2im(dZ @ W.T). At stride 1
    with a dense W, dX is one product and the compiled col2im per block of
    images (compiled backend), else products accumulated on the padded
    input's flat grid (``_input_grad_on_flat_grid``); otherwise it is
    computed one kernel offset (di, dj) at a time: offset k owns rows
    k * c_in .. (k + 1) * c_in of W, and dZ @ W_k.T lands on the input pixels
    that offset touched.
    """
    if check:  # the layers pass check=False: Sequential.forward validated X, and dZ comes from the engine
        dZ, X = check_float_array(dZ, "dZ", ndim=4), check_float_array(X, "X", ndim=4)
        check_weight(W, "W")
        kernel_size, stride, padding = check_geometry(kernel_size, stride, padding)
        check_conv_geometry(X.shape[1:], kernel_size, stride, padding)
        expected = (len(X), output_size(X.shape[1], kernel_size[0], stride, padding),
                    output_size(X.shape[2], kernel_size[1], stride, padding), W.shape[1])
        if dZ.shape != expected or W.shape[0] != kernel_size[0] * kernel_size[1] * X.shape[3]:
            raise ValueError(f"dZ, W: expected shapes {expected} and ({kernel_size[0] * kernel_size[1] * X.shape[3]}, "
                             f"c_out) for X of shape {X.shape}, found {dZ.shape} and {W.shape}")
    (_, h, w, _), c_out = X.shape, dZ.shape[3]
    db = dZ.sum(axis=0).reshape(-1, c_out).sum(axis=0)  # over samples, then pixels: 10x faster than over all rows
    flat_grid = stride == 1 and not sparse.is_sparse(W) and W.dtype == dZ.dtype and dZ.dtype.char in "fd"
    if sparse.is_sparse(W):
        cols = im2col(X, kernel_size, stride, padding) if cols is None else cols
        dW, dX = sparse.backward_products(dZ.reshape(-1, c_out), cols, W, False, check=False)[1], None
    else:
        compiled_dX = input_grad and flat_grid and sparse.backend() == "numba"
        dW, dX = _dense_backward_by_blocks(dZ, X, W, cols, kernel_size, stride, padding, compiled_dX)
    if not input_grad or dX is not None:
        return dX, dW, db
    if flat_grid:
        dXp = _input_grad_on_flat_grid(dZ, W, kernel_size)
    else:
        dXp = _input_grad_per_offset(dZ, W, X.shape, kernel_size, stride, padding)
    return (dXp[:, padding:padding + h, padding:padding + w] if padding else dXp), dW, db


def _dense_backward_by_blocks(dZ, X, W, cols, kernel_size, stride, padding, compiled_dX):
    """(dW, dX) of a convolution with a dense W, one block of images at a time (``_image_blocks``;
    one block when ``cols``, all of im2col(X), is given): a block's patches are built, used for dW
    and dropped. dX only with ``compiled_dX`` (stride 1, compiled backend): per block one product
    dZ @ W.T and the compiled col2im, while the block's dZ is in cache (faster than the flat grid's
    small products: ``benchmarks/README.md``); else None."""
    blocks = [slice(0, len(X))] if cols is not None else _image_blocks(X, dZ.shape[3], kernel_size, stride, padding)
    dW = np.zeros(W.shape, dtype=np.result_type(X.dtype, dZ.dtype))
    dX = np.empty(X.shape, dtype=dZ.dtype) if compiled_dX else None
    for block in blocks:
        dZ_block = dZ[block].reshape(-1, dZ.shape[3])
        dW += (im2col(X[block], kernel_size, stride, padding) if cols is None else cols).T @ dZ_block
        if compiled_dX:
            dX[block] = kernels.col2im(dZ_block @ W.T, len(dX[block]), *X.shape[1:3], *kernel_size, padding)
    return dW, dX


def _input_grad_per_offset(dZ, W, input_shape, kernel_size, stride, padding):
    """dX of the padded input: dZ @ W_k.T added onto the pixels that offset k touched, for each k."""
    (n, h, w, c_in), (kh, kw), (_, h_out, w_out, c_out) = input_shape, kernel_size, dZ.shape
    dXp = np.zeros((n, h + 2 * padding, w + 2 * padding, c_in), dtype=np.result_type(dZ, W.dtype))
    for k in range(kh * kw):
        di, dj = divmod(k, kw)
        dX_k = sparse.matmul(dZ.reshape(-1, c_out), W[k * c_in:(k + 1) * c_in].T, check=False)
        dXp[:, di:di + stride * h_out:stride, dj:dj + stride * w_out:stride] += dX_k.reshape(n, h_out, w_out, c_in)
    return dXp


#: Rows of the flat grid per block in ``_input_grad_on_flat_grid`` (a 1024 x c_in product stays in cache).
GRID_BLOCK_ROWS = 1024


def _input_grad_on_flat_grid(dZ, W, kernel_size):
    """``_input_grad_per_offset`` for stride 1 and a dense W, on the padded input's flat grid.

    With dZ written on the padded input's grid (hp, wp) (zeros after each row
    and image), offset (di, dj) is a shift by di * wp + dj rows of the flat
    grid, so dXp[m + shift] += dZ[m] @ W_k.T adds onto a contiguous block: no
    strided add. Done one block of ``GRID_BLOCK_ROWS`` rows at a time, so each
    product is added while it is still in cache. The products are NumPy's
    GEMMs: SciPy's wheel brings its own OpenBLAS, and its thread pool beside
    NumPy's spun two threads per core against each other (a two-thread epoch
    took about twice the one-thread time).
    """
    (n, h_out, w_out, c_out), (kh, kw) = dZ.shape, kernel_size
    hp, wp, c_in = h_out + kh - 1, w_out + kw - 1, W.shape[0] // (kh * kw)
    dZ_grid = np.zeros((n * hp * wp, c_out), dtype=dZ.dtype)
    dZ_grid.reshape(n, hp, wp, c_out)[:, :h_out, :w_out] = dZ
    rows = len(dZ_grid)
    dXp = np.zeros((rows, c_in), dtype=dZ.dtype)
    buffer = np.empty((GRID_BLOCK_ROWS, c_in), dtype=dZ.dtype)
    offsets = [(W[k * c_in:(k + 1) * c_in].T, (k // kw) * wp + k % kw) for k in range(kh * kw)]
    for start in range(0, rows, GRID_BLOCK_ROWS):
        for W_k_T, shift in offsets:
            stop = min(start + GRID_BLOCK_ROWS, rows - shift)
            if stop > start:
                dXp[start + shift:stop + shift] += np.matmul(dZ_grid[start:stop], W_k_T, out=buffer[:stop - start])
    return dXp.reshape(n, hp, wp, c_in)


def _taps(X, window, stride, shape_out):
    """The strided views X[:, di::stride, dj::stride] of each window offset, row-major."""
    (ph, pw), (h_out, w_out) = window, shape_out
    return [X[:, di:di + stride * h_out:stride, dj:dj + stride * w_out:stride]
            for di in range(ph) for dj in range(pw)]


def _pool_output(X, pool_size, stride):
    return (output_size(X.shape[1], pool_size[0], stride, 0), output_size(X.shape[2], pool_size[1], stride, 0))


def maxpool2d_forward(X, pool_size=(2, 2), stride=None):
    """A (n, h_out, w_out, c): the max over each pool window (no padding; stride
    defaults to the pool size, a remainder row/column is dropped).

    Loops over the ph + pw offsets of the window's rows and columns (never over pixels).
    """
    _check_primitive_input(X)
    pool_size = _as_pair(pool_size, "pool_size")
    _, stride, _ = check_geometry(pool_size, pool_size[0] if stride is None else stride, 0, "pool_size")
    if pool_size[0] > X.shape[1] or pool_size[1] > X.shape[2]:
        raise ValueError(f"pool_size: expected a window no larger than the {X.shape[1]}x{X.shape[2]} input, "
                         f"found {pool_size}; use a smaller pool")
    (ph, pw), (h_out, w_out) = pool_size, _pool_output(X, pool_size, stride)
    if _compiled_pool(X, pool_size, stride):
        return kernels.maxpool_forward(X, ph, pw)
    rows = X[:, :stride * h_out:stride].copy()  # max over the window's rows first: whole image rows at a time
    for di in range(1, ph):
        np.maximum(rows, X[:, di:di + stride * h_out:stride], out=rows)
    A = rows[:, :, :stride * w_out:stride].copy()
    for dj in range(1, pw):
        np.maximum(A, rows[:, :, dj:dj + stride * w_out:stride], out=A)
    return A


def maxpool2d_backward(dA, X, pool_size=(2, 2), stride=None, A=None):
    """dX: each window's gradient goes to its first maximal element (row-major
    order; ties go to the first, as in PyTorch), so the gradient of A sums to
    the gradient of X. Pass the forward output ``A`` to skip recomputing it."""
    stride = stride or pool_size[0]
    (ph, pw), (n, h_out, w_out, c) = pool_size, dA.shape
    A = maxpool2d_forward(X, pool_size, stride) if A is None else A
    disjoint, cropped = stride == ph == pw, X.shape[1:3] != (h_out * ph, w_out * pw)
    if _compiled_pool(X, pool_size, stride) and dA.dtype == X.dtype:
        dX = kernels.maxpool_backward(dA, X, A, ph, pw)
        dX[:, h_out * ph:], dX[:, :, w_out * pw:] = 0, 0  # the remainder outside every window
        return dX
    dX = (np.empty_like if disjoint and not cropped else np.zeros_like)(X, dtype=dA.dtype)
    if disjoint:  # route once on (n, h_out, ph, w_out, pw, c) views, in booleans
        X6 = X[:, :h_out * ph, :w_out * pw].reshape(n, h_out, ph, w_out, pw, c)
        dX6 = dX[:, :h_out * ph, :w_out * pw].reshape(n, h_out, ph, w_out, pw, c)
        winners = X6 == A[:, :, None, :, None]
        _keep_first_winner_inplace([winners[:, :, di, :, dj] for di in range(ph) for dj in range(pw)])
        np.multiply(winners, dA[:, :, None, :, None], out=dX6)
        if not np.shares_memory(dX6, dX):  # the reshape had to copy: write back
            dX[:, :h_out * ph, :w_out * pw] = dX6.reshape(n, h_out * ph, w_out * pw, c)
        return dX
    winners = [tap == A for tap in _taps(X, pool_size, stride, (h_out, w_out))]
    _keep_first_winner_inplace(winners)
    for winner, dtap in zip(winners, _taps(dX, pool_size, stride, (h_out, w_out))):
        dtap += winner * dA
    return dX


def _compiled_pool(X, pool_size, stride):
    """Whether the compiled loops run this pool: disjoint windows of a float X, compiled backend on."""
    return (stride == pool_size[0] == pool_size[1] and X.dtype.char in "fd"
            and sparse.backend() == "numba")


def _keep_first_winner_inplace(winners):
    """Clear each window's winner flags after its first set one (``winners``: one boolean
    array per window offset, row-major)."""
    seen = winners[0]
    for k, winner in enumerate(winners[1:], 1):
        np.greater(winner, seen, out=winner)  # winner and not seen
        if k < len(winners) - 1:  # the last offset's flags are needed by no later one
            seen = seen | winner  # a new array: winners[0] keeps its flags


def flatten_forward(X):
    """A (n, h * w * c): each example's feature map as one row (C order)."""
    _check_primitive_input(X, ndim=None)
    return X.reshape(len(X), -1)


def flatten_backward(dA, input_shape):
    """dX of ``input_shape``: the inverse reshape."""
    return dA.reshape(input_shape)
