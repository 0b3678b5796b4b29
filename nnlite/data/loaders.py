"""Data sets: find, verify, download and decode the images nnlite trains on.

Where files live
----------------
Every file sits at ``<data_dir>/<dataset>/<file name>``, e.g.
``<data_dir>/mnist/t10k-labels-idx1-ubyte.gz``. This is the layout of the
project's shared data folder (``../shared/data``), so pointing ``data_dir`` or
``NNLITE_DATA`` at a copy of it works as is. :func:`resolve_data_dir` picks the
folder:

1. the ``data_dir`` argument, else
2. the environment variable ``NNLITE_DATA``, else
3. ``~/.cache/nnlite`` (``DEFAULT_DATA_DIR``).

Integrity
---------
``nnlite/manifest/datasets.tsv`` lists every known file: dataset, relative
path, sha256, size in bytes and the canonical public download URL (empty where
the file cannot be downloaded on its own). :func:`fetch` checks a file's sha256
against the manifest before a loader reads it, and downloads a missing file
when a URL is known. A download is written to a temporary file in the target
folder, checked, then renamed into place, so the final path never holds a
partial or unverified file. A download is capped at the manifest size, a
connection that drops early is reported as such, and a directory where a file
belongs is refused (never replaced by a download).

Loaders
-------
=====================  ============================  ==============================
loader                 X                             y (int64)
=====================  ============================  ==============================
load_mnist             uint8 (n, 28, 28)             0..9
load_fashion_mnist     uint8 (n, 28, 28)             0..9
load_kmnist            uint8 (n, 28, 28)             0..9
load_emnist_letters    uint8 (n, 28, 28), see doc    1..26 (A..Z), or 0..k-1 filtered
load_cifar10           uint8 (n, 32, 32, 3) RGB      0..9 (``CIFAR10_CLASSES``)
load_digits            uint8 (n, 8, 8), values 0..16 0..9
=====================  ============================  ==============================

Pixels stay raw; the preprocessing helpers (:func:`scale_255`,
:func:`scale_65025`, :func:`flatten`, :func:`one_hot`,
:func:`train_validation_split`) turn them into model inputs.
"""
import csv
import gzip
import hashlib
import http.client
import math
import os
import re
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zlib
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from nnlite._checks import check_labels, check_rng

from nnlite.experiment import DEFAULT_DATA_DIR, remove_stale_temp_files, temp_path  # ~/.cache/nnlite

#: Images in the official MNIST training split (fixed: every file is checked against its sha256), so that
#: a command can bound a subset size before loading anything.
MNIST_TRAIN_IMAGES = 60000
MANIFEST_PATH = Path(__file__).resolve().parents[1] / "manifest" / "datasets.tsv"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")

# IDX type byte -> element dtype (IDX stores multi-byte numbers big-endian).
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"
_CIFAR_RECORD_BYTES = 1 + 3 * 32 * 32   # label byte, then the R, G and B planes
_CIFAR_RECORDS_PER_BATCH = 10000
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SHA256_CACHE = {}   # (resolved path, size, mtime_ns) -> sha256 hex digest

# Why a file without a download URL cannot be fetched, and where to get it.
_WHERE_TO_GET = {
    "emnist": ("EMNIST files cannot be downloaded one by one: download the official archive "
               "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip (about 560 MB) and copy "
               "gzip/{name} out of it"),
    "cifar-10": ("{name} is not an official CIFAR-10 file but a prefix of the official binary batch "
                 "built for the project's shared data folder (see ../shared/data/README.md); use a "
                 "copy of that folder, or put the official data_batch_1..5.bin and test_batch.bin "
                 "(cifar-10-batches-bin/ in https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz) in the "
                 "cifar-10 folder"),
}


class SubsetWarning(UserWarning):
    """A loader returned a subset of the data set because the full files are absent."""


class ManifestEntry(NamedTuple):
    """One row of ``nnlite/manifest/datasets.tsv``."""
    dataset: str
    path: str
    sha256: str
    size: int
    url: str


# ----------------------------------------------------------------- locating

def resolve_data_dir(data_dir=None):
    """Return the data folder: ``data_dir``, else ``$NNLITE_DATA``, else ``~/.cache/nnlite``.

    Parameters
    ----------
    data_dir : str, os.PathLike or None
        Folder holding ``<dataset>/<file>``. ``~`` is expanded.

    Returns
    -------
    pathlib.Path
        The folder (it need not exist yet).
    """
    from nnlite.experiment import locate   # the one data-location lookup
    return locate("data", data_dir)


@lru_cache(maxsize=1)
def _manifest():
    """Map relative path -> ManifestEntry for every row of the manifest."""
    with open(MANIFEST_PATH, newline="", encoding="utf-8") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {r["path"]: ManifestEntry(r["dataset"], r["path"], r["sha256"], int(r["size"]), r["url"])
                for r in rows}


def _manifest_entry(relpath):
    if not isinstance(relpath, str):
        raise TypeError(f"relpath: expected a str like 'mnist/t10k-labels-idx1-ubyte.gz', "
                        f"found {type(relpath).__name__}")
    entry = _manifest().get(relpath)
    if entry is None:
        raise ValueError(f"relpath: expected a file listed in {MANIFEST_PATH} "
                         f"(e.g. 'mnist/t10k-labels-idx1-ubyte.gz'), found {relpath!r}; "
                         "fix the spelling or add a row for the file to the manifest")
    return entry


# ------------------------------------------------------------- verification

def _sha256_file(path, chunk_size=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256_cached(path):
    """sha256 of ``path``, hashed once per (path, size, mtime) in this process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA256_CACHE:
        _SHA256_CACHE[key] = _sha256_file(path)
    return _SHA256_CACHE[key]


def _verify(path, entry):
    found = _sha256_cached(path)
    if found != entry.sha256:
        raise ValueError(f"{path}: sha256 check failed for {entry.path}: expected {entry.sha256} "
                         f"({entry.size} bytes), found {found} ({path.stat().st_size} bytes); the file "
                         "is damaged or a different version; delete it and fetch it again")


# ----------------------------------------------------------------- fetching

def fetch(relpath, data_dir=None, *, download=True, progress=True, base_url=None):
    """Return the path of a verified data file, downloading it if it is missing.

    Parameters
    ----------
    relpath : str
        Path relative to the data folder, as listed in the manifest,
        e.g. ``"mnist/t10k-labels-idx1-ubyte.gz"``.
    data_dir : str, os.PathLike or None
        See :func:`resolve_data_dir`.
    download : bool
        Download a missing file when a URL is known.
    progress : bool
        Show a progress bar while downloading.
    base_url : str or None
        Download ``<base_url>/<file name>`` instead of the manifest URL. Else the
        environment variable ``NNLITE_DATA_URL_<DATASET>`` (dataset upper-cased,
        ``-`` as ``_``: ``NNLITE_DATA_URL_FASHION_MNIST``) is used if set.

    Returns
    -------
    pathlib.Path
        The file, whose sha256 matches the manifest.

    Raises
    ------
    FileNotFoundError
        The file is missing and cannot or may not be downloaded.
    ValueError
        The file's sha256 or size does not match the manifest, or a directory
        stands at the file's path.
    ConnectionError
        The download failed or the connection dropped.
    """
    entry = _manifest_entry(relpath)
    if base_url is not None and not isinstance(base_url, str):
        raise TypeError(f"base_url: expected None or a URL string such as 'https://example.org/mnist/', found "
                        f"{type(base_url).__name__}")
    path = resolve_data_dir(data_dir) / entry.path
    _refuse_directory(path, entry.path)
    if not path.is_file():
        url = _download_url(entry, base_url)
        if not (download and url):
            raise FileNotFoundError(_missing_file_message(entry, path, url))
        _download(url, path, entry, progress)
    _verify(path, entry)
    return path


def _url_env_var(dataset):
    return "NNLITE_DATA_URL_" + re.sub(r"[^0-9A-Z]", "_", dataset.upper())


def _download_url(entry, base_url):
    base_url = base_url or os.environ.get(_url_env_var(entry.dataset))
    if base_url:
        return base_url.rstrip("/") + "/" + Path(entry.path).name
    return entry.url


def _missing_file_message(entry, path, url):
    if url:
        why = f"download=False; pass download=True to fetch it from {url}"
    else:
        why = _WHERE_TO_GET.get(entry.dataset, "no download URL is known").format(name=Path(entry.path).name)
    return (f"{entry.path}: not found at {path} ({why}). Put the file there, or point data_dir= or the "
            f"NNLITE_DATA environment variable at a folder holding {entry.path} "
            "(e.g. a copy of ../shared/data)")


def _refuse_directory(path, name):
    if path.is_dir():
        raise ValueError(f"data_dir: expected the file {name} at {path}, found a directory there; remove or "
                         "rename that directory, or point data_dir= / NNLITE_DATA at another folder")


def download(url, path, sha256, size, *, name=None, progress=True):
    """Download ``url`` to ``path`` if its bytes have this sha256; never leave a partial file.

    The bytes go to a temporary file ``.<file name>.<pid>.nnlite-tmp`` beside
    ``path`` (``nnlite.experiment.temp_path``; the next download into that folder
    removes those of processes that are gone), are checked, then renamed into place. A download longer than
    ``size`` bytes is stopped; a connection that closes before the announced
    ``Content-Length`` is reported as a dropped connection.

    Parameters
    ----------
    url : str
    path : str or os.PathLike
        Where the verified file goes; its folder is created.
    sha256 : str
        Expected sha256 (hex) of the file.
    size : int
        Expected size in bytes; also the cap on what is read.
    name : str or None
        How messages and the progress bar call the file (default: ``path``'s name).
    progress : bool
        Show a progress bar.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ConnectionError
        The download failed or the connection dropped.
    ValueError
        ``path`` is a directory, the server sent more than ``size`` bytes, or
        the bytes fail the sha256 check.
    """
    _check_download_arguments(url, path, sha256, size)
    path = Path(path)
    name = name or path.name
    _refuse_directory(path, name)
    _download(url, path, ManifestEntry("", name, sha256, int(size), url), progress)
    return path


def _check_download_arguments(url, path, sha256, size):
    """Check ``download``'s arguments before any connection is made."""
    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https", "file"):
        raise ValueError(f"url: expected an http(s):// or file:// URL string, found {url!r}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or a path, found {type(path).__name__}")
    if not (isinstance(sha256, str) and re.fullmatch(r"[0-9a-fA-F]{64}", sha256)):
        raise ValueError(f"sha256: expected 64 hex digits (the file's SHA-256), found {sha256!r}")
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)) or size < 0:
        raise ValueError(f"size: expected the file's size as an int >= 0 (bytes), found {size!r}")


def _download(url, path, entry, progress):
    """Download ``url`` to ``path``: temporary file in the same folder, check sha256, rename."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(path.parent, recursive=False)   # a killed download's leftovers
        tmp_name = temp_path(path)
        fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except PermissionError as err:
        raise PermissionError(f"{entry.path}: cannot download into {path.parent} ({err.strerror}); "
                              "pass a writable data_dir= or set NNLITE_DATA") from err
    try:
        with os.fdopen(fd, "wb") as out:
            found, n_bytes = _stream(url, out, entry, progress)
        if found != entry.sha256:
            what = "is truncated or a different file" if n_bytes < entry.size else "is damaged or a different version"
            raise ValueError(f"{url}: download of {entry.path} failed the sha256 check: expected "
                             f"{entry.sha256} ({entry.size} bytes), found {found} ({n_bytes} bytes): the file "
                             f"served {what}; nothing was written to {path}; check the URL or the mirror")
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)   # never leave a partial or unverified file
        raise
    stat = path.stat()
    _SHA256_CACHE[(str(path.resolve()), stat.st_size, stat.st_mtime_ns)] = found


def _stream(url, out, entry, progress, chunk_size=1 << 16):
    """Copy ``url`` into the open file ``out``; return (sha256 hex digest, byte count)."""
    digest, n_bytes = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            _check_size(total, entry, url, "announces")
            with tqdm(total=total, unit="B", unit_scale=True, desc=entry.path, disable=not progress) as bar:
                # read at most one byte past the cap: enough to tell that the server sends too much
                for chunk in iter(lambda: response.read(min(chunk_size, entry.size + 1 - n_bytes)), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    n_bytes += len(chunk)
                    bar.update(len(chunk))
                    _check_size(n_bytes, entry, url, "sent")
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as err:
        override = f" (base_url= / {_url_env_var(entry.dataset)})" if entry.dataset else ""
        raise ConnectionError(f"{entry.path}: download from {url} failed ({err}); check the network "
                              f"and the URL{override}, or put the file in place by hand") from err
    if total is not None and n_bytes < total:
        # http.client returns b"" instead of raising when the server closes early
        raise ConnectionError(f"{entry.path}: the connection to {url} dropped after {n_bytes} of the "
                              f"{total} bytes announced; nothing was kept; try again")
    return digest.hexdigest(), n_bytes


def _check_size(n_bytes, entry, url, verb):
    """Refuse a download larger than the manifest size (the cap on what is read)."""
    if n_bytes is not None and n_bytes > entry.size:
        raise ValueError(f"{entry.path}: {url} {verb} more than the expected {entry.size} bytes "
                         f"({n_bytes}); stopped, nothing was kept; check the URL or the mirror")


# --------------------------------------------------------------- IDX format

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


# ------------------------------------------------------------------ loaders

def _check_split(split):
    if not isinstance(split, str) or split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', found {split!r}")
    return split


def _load_images_and_labels(images_relpath, labels_relpath, data_dir, fetch_kw):
    X = read_idx(fetch(images_relpath, data_dir, **fetch_kw))
    y = read_idx(fetch(labels_relpath, data_dir, **fetch_kw))
    if X.dtype != np.uint8 or X.ndim != 3 or y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"{images_relpath} + {labels_relpath}: expected uint8 images (n, rows, cols) "
                         f"and n labels, found images {X.dtype} {X.shape} and labels {y.shape}")
    return X, y.astype(np.int64)


def _load_mnist_layout(dataset, split, data_dir, fetch_kw):
    """MNIST, Fashion-MNIST and KMNIST share file names: train-* and t10k-*."""
    prefix = "train" if _check_split(split) == "train" else "t10k"
    return _load_images_and_labels(f"{dataset}/{prefix}-images-idx3-ubyte.gz",
                                   f"{dataset}/{prefix}-labels-idx1-ubyte.gz", data_dir, fetch_kw)


def load_mnist(split="train", data_dir=None, **fetch_kw):
    """Load MNIST (LeCun, Cortes, Burges): 60000 train / 10000 test handwritten digits.

    Parameters
    ----------
    split : {"train", "test"}
    data_dir : str, os.PathLike or None
        See :func:`resolve_data_dir`.
    **fetch_kw
        Passed to :func:`fetch` (``download``, ``progress``, ``base_url``).

    Returns
    -------
    X : ndarray of shape (n, 28, 28), uint8
        Raw pixels 0..255.
    y : ndarray of shape (n,), int64
        Digits 0..9.
    """
    return _load_mnist_layout("mnist", split, data_dir, fetch_kw)


def load_fashion_mnist(split="train", data_dir=None, **fetch_kw):
    """Load Fashion-MNIST (Xiao et al. 2017): 60000 / 10000 clothing images, 10 classes.

    Same parameters and returns as :func:`load_mnist`.
    """
    return _load_mnist_layout("fashion-mnist", split, data_dir, fetch_kw)


def load_kmnist(split="train", data_dir=None, **fetch_kw):
    """Load Kuzushiji-MNIST (Clanuwat et al. 2018): 60000 / 10000 cursive Japanese characters.

    Same parameters and returns as :func:`load_mnist`; class names are in
    ``kmnist/kmnist_classmap.csv``. The shared data copy has no training
    images (only test images and both label files); ``split="train"`` then
    needs a download (``download=True`` and a network connection).
    """
    if _check_split(split) == "train":
        _fetch_kmnist_train_images(data_dir, fetch_kw)
    return _load_mnist_layout("kmnist", split, data_dir, fetch_kw)


def _fetch_kmnist_train_images(data_dir, fetch_kw):
    relpath = "kmnist/train-images-idx3-ubyte.gz"
    try:
        fetch(relpath, data_dir, **fetch_kw)
    except (FileNotFoundError, ConnectionError, PermissionError) as err:
        raise FileNotFoundError(
            f"{relpath}: the KMNIST training images are missing and could not be downloaded. The "
            "shared data copy holds only the KMNIST test images, test labels and train labels. Fix: "
            f"while online, download {_manifest()[relpath].url} into "
            f"{resolve_data_dir(data_dir) / 'kmnist'} (or call with download=True and a writable "
            f"data_dir), or use split='test'. Cause: {err}") from err


def load_emnist_letters(split="train", data_dir=None, upright=False, classes=None, **fetch_kw):
    """Load EMNIST Letters (Cohen et al. 2017): 124800 / 20800 handwritten letters.

    Parameters
    ----------
    split : {"train", "test"}
    data_dir : str, os.PathLike or None
        See :func:`resolve_data_dir`.
    upright : bool
        False (default) keeps the official EMNIST orientation, which is the
        MNIST orientation transposed. True transposes each 28x28 image so the
        letters stand upright like MNIST digits.
    classes : str, iterable or None
        Keep only these letters, in this order: a range ``"A-J"``, letters
        ``"AEIOU"``, an iterable of letters ``["A", "E"]``, or of 0-based
        letter indices (``range(10)`` means A..J; 0 = A).
    **fetch_kw
        Passed to :func:`fetch`.

    Returns
    -------
    X : ndarray of shape (n, 28, 28), uint8
    y : ndarray of shape (n,), int64
        Without ``classes``: the official labels 1..26 (1 = A, no class 0).
        With ``classes``: remapped to 0..k-1 in the order given, so ``"A-J"``
        gives A -> 0 ... J -> 9 and ``"JA"`` gives J -> 0, A -> 1.
    """
    _check_split(split)
    if not isinstance(upright, (bool, np.bool_)):
        raise TypeError(f"upright: expected True or False, found {type(upright).__name__}")
    kept_labels = None if classes is None else _official_letter_labels(classes)
    X, y = _load_images_and_labels(f"emnist/emnist-letters-{split}-images-idx3-ubyte.gz",
                                   f"emnist/emnist-letters-{split}-labels-idx1-ubyte.gz",
                                   data_dir, fetch_kw)
    if upright:
        X = np.ascontiguousarray(X.transpose(0, 2, 1))
    if kept_labels is not None:
        X, y = _keep_and_remap(X, y, kept_labels)
    return X, y


def _official_letter_labels(classes):
    """Official EMNIST labels (1 = A ... 26 = Z) of ``classes``, in the given order."""
    if isinstance(classes, str):
        classes = _expand_letters(classes)
    try:
        labels = [_official_letter_label(c) for c in classes]
    except TypeError as err:
        raise TypeError(f"classes: expected a str like 'A-J' or an iterable of letters or indices, "
                        f"found {type(classes).__name__}") from err
    if not labels or len(set(labels)) != len(labels):
        raise ValueError(f"classes: expected at least one letter and no repeats, found {labels} "
                         "(official labels, 1 = A)")
    return np.array(labels)


def _expand_letters(text):
    """'A-J' -> 'ABCDEFGHIJ'; 'aeiou' -> 'AEIOU'."""
    text = text.upper()
    if re.fullmatch(r"[A-Z]-[A-Z]", text) and text[0] <= text[2]:
        return _LETTERS[_LETTERS.index(text[0]):_LETTERS.index(text[2]) + 1]
    if re.fullmatch(r"[A-Z]+", text):
        return text
    raise ValueError(f"classes: expected a letter range like 'A-J' or letters like 'AEIOU', found {text!r}")


def _official_letter_label(c):
    if isinstance(c, str) and len(c) == 1 and c.upper() in _LETTERS:
        return _LETTERS.index(c.upper()) + 1
    if isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= c < 26:
        return int(c) + 1
    raise ValueError(f"classes: expected letters 'A'..'Z' or 0-based letter indices 0..25 (0 = A), "
                     f"found {c!r}")


def _keep_and_remap(X, y, kept_labels):
    """Keep samples whose label is in ``kept_labels``; relabel them 0..k-1 in that order."""
    new_label = np.full(max(27, y.max(initial=0) + 1), -1)   # official label -> new label, -1 = drop
    new_label[kept_labels] = np.arange(len(kept_labels))
    y_new = new_label[y]
    keep = y_new >= 0
    return X[keep], y_new[keep]


def load_cifar10(split="train", data_dir=None, **fetch_kw):
    """Load CIFAR-10 (Krizhevsky 2009) from the official binary record format.

    Each record is 3073 bytes: a label byte 0..9, then 1024 red, 1024 green
    and 1024 blue bytes, each plane 32x32 row-major. The planes are stacked
    channel-last.

    The full official batches ``cifar-10/data_batch_1..5.bin`` (train) or
    ``cifar-10/test_batch.bin`` (test) are read if all are present; no
    official per-file checksum exists for them, so each is only checked to
    hold 10000 well-formed records. Otherwise the checksummed subset of the
    shared data folder is read, the first 4000 training or the first 1000
    test images in official order, and a :class:`SubsetWarning` says so.

    Parameters
    ----------
    split : {"train", "test"}
    data_dir : str, os.PathLike or None
        See :func:`resolve_data_dir`.
    **fetch_kw
        Passed to :func:`fetch` (subset files only).

    Returns
    -------
    X : ndarray of shape (n, 32, 32, 3), uint8
        Channel-last RGB pixels 0..255.
    y : ndarray of shape (n,), int64
        Classes 0..9, named in ``CIFAR10_CLASSES``.
    """
    _check_split(split)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
    full_paths = [resolve_data_dir(data_dir) / "cifar-10" / name for name in names]
    if all(p.is_file() for p in full_paths):
        parts = [_read_cifar10_records(p, n_expected=_CIFAR_RECORDS_PER_BATCH) for p in full_paths]
        return np.concatenate([X for X, _ in parts]), np.concatenate([y for _, y in parts])
    relpath = "cifar-10/data_batch_1.first4000.bin" if split == "train" else "cifar-10/test_batch.first1000.bin"
    path = fetch(relpath, data_dir, **fetch_kw)
    X, y = _read_cifar10_records(path)
    warnings.warn(f"CIFAR-10 {split}: the official batch files ({', '.join(names)}) are not all in "
                  f"{full_paths[0].parent}; loaded the {len(y)}-image subset {relpath} instead",
                  SubsetWarning, stacklevel=2)
    return X, y


def _read_cifar10_records(path, n_expected=None):
    data = path.read_bytes()
    n, remainder = divmod(len(data), _CIFAR_RECORD_BYTES)
    if remainder or n == 0 or n_expected not in (None, n):
        raise ValueError(f"{path}: expected {n_expected or 'a positive number of'} CIFAR-10 records of "
                         f"{_CIFAR_RECORD_BYTES} bytes, found {len(data)} bytes; the file is truncated "
                         "or not in the binary format")
    records = np.frombuffer(data, dtype=np.uint8).reshape(n, _CIFAR_RECORD_BYTES)
    y = records[:, 0].astype(np.int64)
    if y.max() > 9:
        raise ValueError(f"{path}: expected label bytes 0..9, found {y.max()}; not a CIFAR-10 file")
    # (n, channel, row, col) -> channel-last (n, row, col, channel)
    X = records[:, 1:].reshape(n, 3, 32, 32).transpose(0, 2, 3, 1).copy()
    return X, y


def load_digits():
    """Load scikit-learn's bundled 8x8 digits (UCI optdigits test set): 1797 images, offline.

    Returns
    -------
    X : ndarray of shape (1797, 8, 8), uint8
        Pixel counts 0..16 (each pixel counts set bits in a 4x4 block of a
        32x32 bitmap). The scaling convention is ``X / 16``, giving [0, 1] like
        :func:`scale_255` does for 0..255 images.
    y : ndarray of shape (1797,), int64
        Digits 0..9.
    """
    from sklearn.datasets import load_digits as sklearn_load_digits  # lazy: sklearn imports slowly
    bunch = sklearn_load_digits()
    return bunch.images.astype(np.uint8), bunch.target.astype(np.int64)


# ------------------------------------------------------------ preprocessing

def _check_raw_pixels(X, name="X", max_value=255):
    X = np.asarray(X)
    if X.dtype == bool or not (np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating)):
        raise TypeError(f"{name}: expected a numeric array of raw pixels (e.g. uint8), found dtype {X.dtype}")
    if X.size == 0:
        raise ValueError(f"{name}: expected at least one pixel, found an empty array of shape {X.shape}")
    if not (np.all(np.isfinite(X)) and X.min() >= 0 and X.max() <= max_value):
        raise ValueError(f"{name}: expected raw pixel values in [0, {max_value}], found range "
                         f"[{np.min(X)}, {np.max(X)}]; pass the images as loaded, before any scaling")
    if np.issubdtype(X.dtype, np.floating) and np.any(np.mod(X, 1)):
        raise ValueError(f"{name}: expected whole raw pixel values 0..{max_value}, found fractional values such as "
                         f"{X[np.mod(X, 1) != 0].flat[0]}; the images look scaled already, pass them as loaded")
    return X


def scale_255(X):
    """Scale raw pixels to [0, 1]: ``X / 255`` as float32.

    Parameters
    ----------
    X : ndarray of any shape, values in [0, 255]

    Returns
    -------
    ndarray of the same shape, float32, values in [0, 1]
    """
    X_scaled = _check_raw_pixels(X).astype(np.float32)
    X_scaled /= np.float32(255)
    return X_scaled


def scale_65025(X):
    """Scale raw pixels to [0, 1/255]: ``X / 65025 = X / 255 / 255`` as float32.

    The decomposition authors' code divides the images by 255 twice, so their
    models were trained on inputs in [0, 1/255]. Their trained weights give
    their reported accuracies only on inputs scaled the same way; use this
    (not :func:`scale_255`) to reproduce them.

    Parameters
    ----------
    X : ndarray of any shape, values in [0, 255]

    Returns
    -------
    ndarray of the same shape, float32, values in [0, 1/255]
    """
    X_scaled = _check_raw_pixels(X).astype(np.float32)
    X_scaled /= np.float32(255 * 255)
    return X_scaled


def flatten(X):
    """Flatten each sample row-major: ``(n, ...) -> (n, d)``.

    Parameters
    ----------
    X : ndarray of shape (n, ...), at least 2 dimensions

    Returns
    -------
    ndarray of shape (n, d), d = product of the other sizes
        A view of ``X`` when ``X`` is C-contiguous (as ``np.reshape``).
    """
    X = np.asarray(X)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise TypeError(f"X: expected a numeric array of samples, found dtype {X.dtype}")
    if X.ndim < 2:
        raise ValueError(f"X: expected samples of shape (n, ...) with at least 2 dimensions, found shape "
                         f"{X.shape}; for a single sample pass X[np.newaxis]")
    return X.reshape(X.shape[0], math.prod(X.shape[1:]))


def train_validation_split(X, y, validation_fraction=None, rng=None, *, n_validation=None):
    """Split samples at random into a training part and a validation part.

    Parameters
    ----------
    X : ndarray of shape (n, ...)
    y : ndarray of shape (n, ...)
    validation_fraction : float in (0, 1) or None
        Share of samples for validation (rounded to a count). Give this or
        ``n_validation``.
    rng : None, int or np.random.Generator
    n_validation : int or None
        Number of validation samples, 1..n-1.

    Returns
    -------
    X_train, X_val, y_train, y_val : ndarrays (new arrays, scikit-learn order)
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ValueError(f"X, y: expected the same number of samples along axis 0, found shapes "
                         f"{X.shape} and {y.shape}")
    n_validation = _n_validation(len(X), validation_fraction, n_validation)
    order = check_rng(rng).permutation(len(X))
    train, val = order[n_validation:], order[:n_validation]
    return X[train], X[val], y[train], y[val]


def _n_validation(n_samples, validation_fraction, n_validation):
    if (validation_fraction is None) == (n_validation is None):
        raise ValueError(f"validation_fraction, n_validation: expected exactly one of them, found "
                         f"{validation_fraction!r} and {n_validation!r}")
    if n_validation is None:
        if isinstance(validation_fraction, bool) or not isinstance(validation_fraction, (float, int, np.number)):
            raise TypeError(f"validation_fraction: expected a float in (0, 1), found "
                            f"{type(validation_fraction).__name__}")
        if not 0 < validation_fraction < 1:
            raise ValueError(f"validation_fraction: expected a float in (0, 1), found {validation_fraction}")
        n_validation = int(round(validation_fraction * n_samples))
    elif isinstance(n_validation, bool) or not isinstance(n_validation, (int, np.integer)):
        raise TypeError(f"n_validation: expected an int, found {type(n_validation).__name__}")
    if not 1 <= n_validation < n_samples:
        raise ValueError(f"n_validation: expected 1..{n_samples - 1} so both parts of {n_samples} samples "
                         f"are non-empty, found {n_validation}; change validation_fraction or n_validation")
    return int(n_validation)


def one_hot(y, n_classes):
    """One-hot encode integer labels.

    Parameters
    ----------
    y : ndarray of shape (n,), integers in [0, n_classes)
    n_classes : int

    Returns
    -------
    Y : ndarray of shape (n, n_classes), float32
        ``Y[i, y[i]] = 1``, all else 0.
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)):
        raise TypeError(f"n_classes: expected an int, found {type(n_classes).__name__}")
    if n_classes < 1:
        raise ValueError(f"n_classes: expected at least 1, found {n_classes}")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y: expected labels of shape (n,), found shape {y.shape}")
    y = check_labels(y, "y", len(y), n_classes)
    return np.eye(n_classes, dtype=np.float32)[y]
