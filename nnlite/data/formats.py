"""The binary formats of the data sets: IDX (the MNIST family) and CIFAR-10's binary records."""
import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

# IDX type byte -> element dtype (IDX stores multi-byte numbers big-endian).
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"
CIFAR_RECORD_BYTES = 1 + 3 * 32 * 32   # label byte, then the R, G and B planes


def read_idx(path):
    """Read an IDX file (the MNIST family's format), gzip-compressed or not.

    An IDX file is a 4-byte magic ``0x00 0x00 <type> <ndim>``, then ``ndim``
    big-endian uint32 sizes, then the data in row-major order. Images have magic
    2051 (uint8, 3 dims), labels 2049 (uint8, 1 dim). Compression is detected
    from the gzip magic bytes, not the file name.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    ndarray of shape given by the header, native byte order, writable
        ``(n, rows, cols)`` uint8 for images, ``(n,)`` uint8 for labels.

    Raises
    ------
    ValueError
        Damaged gzip stream, bad magic, or a data length that does not match
        the sizes in the header. The message names the file.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or a path, found {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"path: expected an IDX file, found the directory {path}; name a file inside it")
    if not path.is_file():
        raise FileNotFoundError(f"path: expected an IDX file at {path}, found nothing there; check the path "
                                "(data files come from nnlite.data.fetch)")
    data = _read_maybe_gzipped(path)
    dtype, shape = _parse_idx_header(data, path)
    header_bytes = 4 + 4 * len(shape)
    expected, found = math.prod(shape) * dtype.itemsize, len(data) - header_bytes
    if found != expected:
        raise ValueError(f"{path}: the IDX header declares {shape[0]} items of shape {shape[1:]} "
                         f"({expected} data bytes), found {found} data bytes; the file is truncated "
                         "or padded, fetch it again")
    array = np.frombuffer(data, dtype=dtype, offset=header_bytes).reshape(shape)
    return array.astype(dtype.newbyteorder("="))   # a writable, native-endian copy


def _read_maybe_gzipped(path):
    raw = path.read_bytes()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as err:   # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path}: expected a complete gzip stream, found a damaged or truncated one "
                         f"({err}); fetch the file again") from err


def _parse_idx_header(data, path):
    """Return (big-endian dtype, shape) from the IDX header at the start of ``data``."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES or data[3] == 0:
        raise ValueError(f"{path}: expected an IDX magic number (0x0000, a type byte in "
                         f"{[hex(t) for t in _IDX_DTYPES]}, a dimension count >= 1; 2051 for images, "
                         f"2049 for labels), found bytes 0x{data[:4].hex()} "
                         f"({int.from_bytes(data[:4], 'big')}); is this an IDX file?")
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise ValueError(f"{path}: expected a {4 + 4 * ndim}-byte IDX header for {ndim} dimensions, "
                         f"found only {len(data)} bytes; the file is truncated")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    return np.dtype(_IDX_DTYPES[data[2]]), shape


def read_cifar10_records(path, n_expected=None):
    """Read CIFAR-10 binary records: ``(X (n, 32, 32, 3) uint8 channel-last, y (n,) int64)``.

    Each record is 3073 bytes: a label byte 0..9, then 1024 red, 1024 green
    and 1024 blue bytes, each plane 32x32 row-major. ``n_expected`` (if given)
    is the record count the file must hold.
    """
    data = path.read_bytes()
    n, remainder = divmod(len(data), CIFAR_RECORD_BYTES)
    if remainder or n == 0 or n_expected not in (None, n):
        raise ValueError(f"{path}: expected {n_expected or 'a positive number of'} CIFAR-10 records of "
                         f"{CIFAR_RECORD_BYTES} bytes, found {len(data)} bytes; the file is truncated "
                         "or not in the binary format")
    records = np.frombuffer(data, dtype=np.uint8).reshape(n, CIFAR_RECORD_BYTES)
    y = records[:, 0].astype(np.int64)
    if y.max() > 9:
        raise ValueError(f"{path}: expected label bytes 0..9, found {y.max()}; not a CIFAR-10 file")
    # (n, channel, row, col) -> channel-last (n, row, col, channel)
    X = records[:, 1:].reshape(n, 3, 32, 32).transpose(0, 2, 3, 1).copy()
    return X, y
