"""Compiled loops for max pooling and the convolution's im2col and col2im (the optional ``numba`` backend).

NumPy runs max pooling as several passes over strided views of the input
(one per window offset, with boolean temporaries for the routing of the
backward pass), im2col as a padded copy of the input and a copy of a 6-d
strided view whose innermost run is one pixel's c values, and col2im as one
strided add per kernel offset. These loops make one pass each: a window's
maximum and its gradient's routing are found while the window is in cache,
and im2col writes each patch row from the input, the padding as zeros. They
are the textbook algorithms, compiled by numba when it is installed;
``nnlite.conv`` uses them when the compiled backend is on
(``nnlite.sparse.backend() == "numba"``, the one switch for every compiled
loop) and falls back to its NumPy code otherwise. The tests check that they
give the bits of the NumPy functions: pooling and im2col do no arithmetic,
and col2im adds the kernel offsets in the order of ``nnlite.conv.col2im``.

The loops are serial (same bits on any core count, trivially). Run in
parallel over the images, they made a two-thread CNN epoch twice as slow:
numba's OpenMP threads keep spinning after each call and took the second
core from the OpenBLAS threads of the next matrix product
(``benchmarks/README.md``).

Layout: NHWC, as in ``nnlite.conv``. The callers have checked shapes and
geometry (these loops index without bounds checks).
"""
import numpy as np

from ._sparse_kernels import AVAILABLE, _compile


def _maxpool_forward(X, ph, pw):
    """A (n, h // ph, w // pw, c): the max of each disjoint ph x pw window (a remainder
    row/column is dropped). NaN propagates, as with ``np.maximum``."""
    n, h, w, c = X.shape
    h_out, w_out = h // ph, w // pw
    A = np.empty((n, h_out, w_out, c), dtype=X.dtype)
    for s in range(n):
        for i in range(h_out):
            for j in range(w_out):
                for ch in range(c):
                    A[s, i, j, ch] = X[s, i * ph, j * pw, ch]
                for di in range(ph):
                    for dj in range(pw):
                        for ch in range(c):
                            x = X[s, i * ph + di, j * pw + dj, ch]
                            if x > A[s, i, j, ch] or x != x:
                                A[s, i, j, ch] = x
    return A


def _maxpool_backward(dA, X, A, ph, pw):
    """dX of ``_maxpool_forward``: each window's gradient goes to its first maximal element
    (row-major), every other element of a window gets 0. The remainder rows and
    columns outside the windows are left unwritten (the caller zeroes them)."""
    n, h_out, w_out, c = dA.shape
    dX = np.empty(X.shape, dtype=dA.dtype)
    for s in range(n):
        pending = np.empty(c, dtype=np.bool_)  # the window's gradient is not routed yet
        for i in range(h_out):
            for j in range(w_out):
                a, g = A[s, i, j], dA[s, i, j]
                pending[:] = True
                for di in range(ph):
                    for dj in range(pw):
                        x, dx = X[s, i * ph + di, j * pw + dj], dX[s, i * ph + di, j * pw + dj]
                        for ch in range(c):
                            hit = pending[ch] and x[ch] == a[ch]
                            dx[ch] = g[ch] if hit else 0
                            pending[ch] = pending[ch] and not hit
    return dX


def _im2col(X, kh, kw, stride, padding):
    """cols (n * h_out * w_out, kh * kw * c): ``nnlite.conv.im2col`` of X (n, h, w, c) written
    patch by patch, the zero padding included (no padded copy of X). Copies only: the same bits."""
    n, h, w, c = X.shape
    h_out, w_out = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    cols = np.empty((n, h_out, w_out, kh * kw * c), dtype=X.dtype)
    for s in range(n):
        for i in range(h_out):
            for j in range(w_out):
                row = cols[s, i, j]
                for di in range(kh):
                    y = i * stride + di - padding
                    for dj in range(kw):
                        x, first = j * stride + dj - padding, (di * kw + dj) * c
                        if 0 <= y < h and 0 <= x < w:
                            pixel = X[s, y, x]
                            for ch in range(c):   # scalar indexing: a slice per tap costs 2x here
                                row[first + ch] = pixel[ch]
                        else:
                            for ch in range(c):
                                row[first + ch] = 0
    return cols.reshape(n * h_out * w_out, kh * kw * c)


def _col2im(dcols, n, h, w, kh, kw, padding):
    """dX (n, h, w, c) of im2col at stride 1: each pixel sums its patch gradients
    ``dcols`` (n * h_out * w_out, kh * kw * c) over the kernel offsets (di, dj) in row-major
    order, the order of ``nnlite.conv.col2im``."""
    c = dcols.shape[1] // (kh * kw)
    h_out, w_out = h + 2 * padding - kh + 1, w + 2 * padding - kw + 1
    d = dcols.reshape(n, h_out, w_out, kh * kw * c)
    dX = np.zeros((n, h, w, c), dtype=dcols.dtype)
    for s in range(n):
        for y in range(h):
            for x in range(w):
                for di in range(kh):
                    i = y + padding - di
                    if 0 <= i < h_out:
                        for dj in range(kw):
                            j = x + padding - dj
                            if 0 <= j < w_out:
                                first = (di * kw + dj) * c
                                for ch in range(c):  # scalar indexing: a slice per tap costs 3x here
                                    dX[s, y, x, ch] += d[s, i, j, first + ch]
    return dX


if AVAILABLE:
    maxpool_forward = _compile(exact=True)(_maxpool_forward)
    maxpool_backward = _compile(exact=True)(_maxpool_backward)
    im2col = _compile(exact=True)(_im2col)
    col2im = _compile(exact=True)(_col2im)   # no reassociation: the offsets are added in col2im's order
