"""Data sets: find, verify, download and decode the images nnlite trains on.

One module per concern:

- :mod:`~nnlite.data.locate`: where files live (``data_dir``, else
  ``$NNLITE_DATA``, else ``~/.cache/nnlite``; ``<data_dir>/<dataset>/<file>``)
  and the sha256 manifest ``nnlite/manifest/datasets.tsv``.
- :mod:`~nnlite.data.fetching`: :func:`fetch` checks a file's sha256 against
  the manifest before a loader reads it and downloads a missing file when a URL
  is known (pooch's downloader; a temporary file renamed once verified, capped
  at the manifest size; a dropped connection reported as such; a directory
  where a file belongs refused).
- :mod:`~nnlite.data.formats`: IDX and CIFAR-10 binary records.
- :mod:`~nnlite.data.loaders`: ``load_mnist``, ``load_fashion_mnist``,
  ``load_kmnist``, ``load_emnist_letters``, ``load_cifar10``, ``load_digits``
  (raw uint8 pixels, int64 labels).
- :mod:`~nnlite.data.preprocess`: ``scale_255``, ``scale_65025``, ``flatten``,
  ``one_hot`` and the one split, ``train_validation_split`` (returns
  ``X_train, X_val, y_train, y_val``, scikit-learn's order).
"""
from .fetching import download, fetch
from .formats import read_cifar10_records, read_idx
from .loaders import (CIFAR10_CLASSES, MNIST_TRAIN_IMAGES, SubsetWarning, load_cifar10, load_digits,
                      load_emnist_letters, load_fashion_mnist, load_kmnist, load_mnist)
from .locate import MANIFEST_PATH, ManifestEntry, manifest, resolve_data_dir
from .preprocess import flatten, one_hot, scale_255, scale_65025, train_validation_split

__all__ = ["CIFAR10_CLASSES", "MANIFEST_PATH", "MNIST_TRAIN_IMAGES", "ManifestEntry", "SubsetWarning", "download",
           "fetch", "flatten", "load_cifar10", "load_digits", "load_emnist_letters", "load_fashion_mnist",
           "load_kmnist", "load_mnist", "manifest", "one_hot", "read_cifar10_records", "read_idx",
           "resolve_data_dir", "scale_255", "scale_65025", "train_validation_split"]
