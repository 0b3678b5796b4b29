"""Loaders: each data set's files, fetched and verified, decoded into raw arrays.

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

Pixels stay raw; :mod:`nnlite.data.preprocess` turns them into model inputs.
"""
import re
import warnings

import numpy as np

from .fetching import fetch
from .formats import read_cifar10_records, read_idx
from .locate import manifest, resolve_data_dir

#: Images in the official MNIST training split (fixed: every file is checked against its sha256), so that
#: a command can bound a subset size before loading anything.
MNIST_TRAIN_IMAGES = 60000
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
_CIFAR_RECORDS_PER_BATCH = 10000
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class SubsetWarning(UserWarning):
    """A loader returned a subset of the data set because the full files are absent."""


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
            f"while online, download {manifest()[relpath].url} into "
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
        parts = [read_cifar10_records(p, n_expected=_CIFAR_RECORDS_PER_BATCH) for p in full_paths]
        return np.concatenate([X for X, _ in parts]), np.concatenate([y for _, y in parts])
    relpath = "cifar-10/data_batch_1.first4000.bin" if split == "train" else "cifar-10/test_batch.first1000.bin"
    path = fetch(relpath, data_dir, **fetch_kw)
    X, y = read_cifar10_records(path)
    warnings.warn(f"CIFAR-10 {split}: the official batch files ({', '.join(names)}) are not all in "
                  f"{full_paths[0].parent}; loaded the {len(y)}-image subset {relpath} instead",
                  SubsetWarning, stacklevel=2)
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

