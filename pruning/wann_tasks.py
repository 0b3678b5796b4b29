"""Classification tasks for the WANN search (:mod:`pruning.wann`).

- ``"mnist16"``: MNIST downsampled to 16x16 as in Gaier & Ha (2019). The
  28x28 images are *area-averaged* to 16x16 (:func:`downsample_area`: every
  output pixel is the mean of the input area it covers, fractional pixels
  weighted by their overlap, like OpenCV's INTER_AREA). Pixels are scaled to
  [0, 1]. The last 5,000 training images are the validation split (used to
  pick the champion and its best shared weight), the official 10,000 test
  images the test split.
- ``"digits8"``: scikit-learn's offline 8x8 digits (1,797 images, pixels /16),
  the quick task: a fixed permutation (seed 0) gives 1,197 train, 300
  validation and 300 test images.

The search's reward is -cross-entropy on a random training batch
(:func:`pruning.wann.step_generation_inplace`).
"""
import dataclasses

import numpy as np

from nnlite import data
from nnlite.experiment import Dataset


@dataclasses.dataclass(frozen=True)
class Task(Dataset):
    """A classification task: the six arrays of ``nnlite.experiment.Dataset`` (flattened float32 images
    in [0, 1], int labels), its ``name``, the images' ``input_shape`` and ``n_classes``."""
    name: str = ""
    input_shape: tuple = ()
    n_classes: int = 0


def area_matrix(n_in, n_out, name="n_out"):
    """R (n_out, n_in): row i averages input pixels over [i, i+1) * n_in / n_out.

    ``name`` is the argument named in errors about ``n_out``.
    """
    if isinstance(n_in, (bool, np.bool_)) or not isinstance(n_in, (int, np.integer)) or n_in < 1:
        raise ValueError(f"n_in: expected a positive int (the input side in pixels), found {n_in!r}")
    if isinstance(n_out, (bool, np.bool_)) or not (isinstance(n_out, (int, np.integer)) and 1 <= n_out <= n_in):
        raise ValueError(f"{name}: expected an int in [1, {n_in}] (the input side: area averaging only shrinks), "
                         f"found {n_out!r}")
    edges = np.arange(n_out + 1) * (n_in / n_out)
    left, right = edges[:-1, None], edges[1:, None]
    pixel = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(right, pixel + 1) - np.maximum(left, pixel), 0, None)
    return overlap / (n_in / n_out)


def downsample_area(images, size=16):
    """Area-average square images (n, h, h) to (n, size, size), float32.

    Each output pixel = R @ image @ R.T with R = :func:`area_matrix`, i.e. the
    mean of the input pixels under it (weighted by fractional overlap).
    """
    images = _check_images(images)
    R = area_matrix(images.shape[1], size, name="size").astype(np.float32)
    return (R @ images.astype(np.float32)) @ R.T


def _check_images(images):
    """Finite real images of shape (n, h, h), n >= 1."""
    images = np.asarray(images)
    if images.dtype == bool or not np.issubdtype(images.dtype, np.number) or np.iscomplexobj(images):
        raise TypeError(f"images: expected real numeric pixels, found dtype {images.dtype}")
    if images.ndim != 3 or images.shape[1] != images.shape[2] or len(images) == 0:
        raise ValueError(f"images: expected a non-empty stack of square images (n, h, h), found shape {images.shape}")
    if not np.all(np.isfinite(images)):
        raise ValueError(f"images: expected finite pixels, found {int(np.size(images) - np.isfinite(images).sum())} "
                         "NaN/inf; clean the images first")
    return images


#: Training images of MNIST before the validation split.
MNIST_TRAIN_SIZE = 60000


def load_task(name, data_dir=None, *, n_validation=5000):
    """Load ``"mnist16"`` or ``"digits8"`` as a :class:`Task`.

    Parameters
    ----------
    name : {"mnist16", "digits8"}
    data_dir : str, os.PathLike or None
        See ``nnlite.data.resolve_data_dir`` (mnist16 only).
    n_validation : int in [1, 59999]
        Last training images kept for validation (mnist16; digits8 has a
        fixed 1,197 / 300 / 300 split).
    """
    if not isinstance(name, str) or name not in ("mnist16", "digits8"):
        raise ValueError(f"name: expected the task 'mnist16' or 'digits8', found {name!r}")
    data.resolve_data_dir(data_dir)  # type check even where unused
    if isinstance(n_validation, (bool, np.bool_)) or not isinstance(n_validation, (int, np.integer)):
        raise TypeError(f"n_validation: expected an int, found {n_validation!r}")
    if not 1 <= n_validation < MNIST_TRAIN_SIZE:
        raise ValueError(f"n_validation: expected an int in [1, {MNIST_TRAIN_SIZE - 1}] so that both parts of "
                         f"MNIST's training set are non-empty, found {n_validation}")
    if name == "digits8":
        X, y = data.load_digits()
        X = (X.astype(np.float32) / 16).reshape(len(X), -1)
        order = np.random.default_rng(0).permutation(len(X))
        tr, va, te = order[:1197], order[1197:1497], order[1497:]
        return Task(X[tr], y[tr], X[va], y[va], X[te], y[te], name=name, input_shape=(8, 8), n_classes=10)
    if name == "mnist16":
        X, y = data.load_mnist("train", data_dir=data_dir, download=False, progress=False)
        X_test, y_test = data.load_mnist("test", data_dir=data_dir, download=False, progress=False)
        # clip: float32 rounding can give 1.0000001 for an all-255 area
        X = np.clip(downsample_area(X) / 255, 0, 1).reshape(len(X), -1)
        X_test = np.clip(downsample_area(X_test) / 255, 0, 1).reshape(len(X_test), -1)
        n = len(X) - n_validation
        return Task(X[:n], y[:n], X[n:], y[n:], X_test, y_test, name=name, input_shape=(16, 16), n_classes=10)
