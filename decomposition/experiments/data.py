"""The experiments' data and models: data sets as the authors' models read them, their models, our nnlite ones.

- ``load_dataset(dataset, data_dir, protocol)``: (X_decompose, y_decompose,
  X_score, y_score, note), inputs pixels / 65025 (spec and
  ``../shared/official-models/README.md``). EMNIST is the letters split,
  classes A-J, transposed upright (8,000 test images); positives and
  negatives come from the training set, except for KMNIST, whose training
  images are not available: ``PROTOCOLS`` "held-out" takes them from the first
  5,000 test images and scores on the other 5,000, "authors" uses all 10,000
  for both (as the authors' KMNIST data function did).
- ``dataset_arrays`` / ``experiment_arrays``: the same, kept in memory per
  process (reuse and replacement).
- ``official_model``, ``cm_rie_modules``: the authors' models and CM-RIE
  modules (stored, or our decomposition of their model).
- ``train_model``, ``cached_model``: networks of the authors' architecture
  trained with nnlite (TMA, the ``nnlite-*`` models).
"""
import os
from pathlib import Path

import numpy as np

from nnlite import data, io
from nnlite._checks import check_labels, check_rng
from nnlite.experiment import REPO
from nnlite.models import MLP
from nnlite.optim import Adam
from nnlite.train import fit

from ..approaches import decompose
from ..official_models import ensure_models, load_official_modules, resolve_models_dir
from ..validation import check_count, check_real_array

#: The project's shared data folder beside the repository (used when neither data_dir nor NNLITE_DATA is given).
SHARED_DATA = REPO.parent / "shared" / "data"
DATASETS = ("mnist", "fmnist", "kmnist", "emnist")
DISPLAY = {"mnist": "MNIST", "fmnist": "FMNIST", "kmnist": "KMNIST", "emnist": "EMNIST"}
OFFICIAL_MODELS = tuple(f"{ds}-{n}" for ds in DATASETS for n in range(1, 5))
#: Names of models trained with nnlite in the authors' architectures ("nnlite-mnist-1", ...).
NNLITE_PREFIX = "nnlite-"
NNLITE_MODELS = tuple(NNLITE_PREFIX + name for name in OFFICIAL_MODELS)
KMNIST_NOTE = ("KMNIST training images are not available: positives/negatives were taken from the first "
               "5,000 test images and accuracies are on the other 5,000")
KMNIST_AUTHORS_NOTE = ("KMNIST, protocol 'authors': like the authors' code (its KMNIST data function returns the "
                       "test images), positives/negatives come from the 10,000 test images, which are also scored")
#: KMNIST protocols: "held-out" (decompose on the first 5,000 test images, score the other 5,000) or
#: "authors" (decompose on and score the whole test set, as the authors' code did).
PROTOCOLS = ("held-out", "authors")
HIDDEN_UNITS = 49
MODULE_SOURCES = ("stored", "ours")
KMNIST_PROTOCOLS = ("held-out", "authors")
AUTHORS_KMNIST_NOTE = ("KMNIST training images are not available: authors' protocol, the 10,000 KMNIST test "
                       "images serve as training and test images (TMA is scored on images it was trained on)")


def split_model_name(model_name, name="model_name"):
    """"nnlite-mnist-4" -> ("nnlite-", "mnist", "4"); refuses anything but [nnlite-]<dataset>-<n>."""
    if isinstance(model_name, str):
        prefix = NNLITE_PREFIX if model_name.startswith(NNLITE_PREFIX) else ""
        ds, _, n = model_name[len(prefix):].partition("-")
        if ds in DATASETS and n.isdigit() and int(n) >= 1:
            return prefix, ds, n
    raise ValueError(f"{name}: expected a name '<dataset>-<n>' with a dataset from {DATASETS}, optionally "
                     f"prefixed {NNLITE_PREFIX!r} (e.g. 'mnist-4', 'nnlite-fmnist-1'), found {model_name!r}")


def display_name(model_name):
    """"mnist-4" -> "MNIST-4" ("nnlite-mnist-4" -> "nnlite-MNIST-4", a model trained with nnlite)."""
    prefix, ds, n = split_model_name(model_name)
    return f"{prefix}{DISPLAY[ds]}-{n}"


def dataset_of(model_name):
    """"mnist-4" or "nnlite-mnist-4" -> "mnist"."""
    return split_model_name(model_name)[1]


def official_model(model_name, dataset_arrays=None, models_dir=None):
    """The authors' model ``<models_dir>/<model_name>.npz`` (``dataset_arrays`` unused).

    Without ``models_dir``, ``NNLITE_OFFICIAL_MODELS`` or ``../shared/official-models``
    the model is downloaded into the cache on first use (``official_models.fetch_models``).
    """
    ensure_models([model_name], models_dir)
    return io.load(resolve_models_dir(models_dir) / f"{model_name}.npz")


def load_dataset(dataset, data_dir=None, protocol="held-out"):
    """(X_decompose, y_decompose, X_score, y_score, note) for a dataset, inputs pixels / 65025.

    X arrays have shape (n, 784), float32. ``protocol`` matters for KMNIST
    only (``PROTOCOLS``): "held-out" or "authors".
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol: expected one of {PROTOCOLS}, found {protocol!r}")
    if data_dir is None and "NNLITE_DATA" not in os.environ and SHARED_DATA.is_dir():
        data_dir = SHARED_DATA
    def prepared(X, y):
        return data.flatten(data.scale_65025(X)), np.asarray(y)

    if dataset == "kmnist":
        X, y = prepared(*data.load_kmnist("test", data_dir=data_dir))
        if protocol == "authors":
            return X, y, X, y, KMNIST_AUTHORS_NOTE
        return X[:5000], y[:5000], X[5000:], y[5000:], KMNIST_NOTE
    if dataset == "emnist":
        train = data.load_emnist_letters("train", data_dir=data_dir, upright=True, classes="A-J")
        test = data.load_emnist_letters("test", data_dir=data_dir, upright=True, classes="A-J")
        return (*prepared(*train), *prepared(*test), None)
    loader = {"mnist": data.load_mnist, "fmnist": data.load_fashion_mnist}.get(dataset)
    if loader is None:
        raise ValueError(f"dataset: expected one of {DATASETS}, found {dataset!r}")
    return (*prepared(*loader("train", data_dir=data_dir)), *prepared(*loader("test", data_dir=data_dir)), None)


def train_model(X, y, n_hidden_layers, n_classes=None, epochs=50, batch_size=32, lr=1e-3, rng=0,
                progress=False):
    """A network of ``n_hidden_layers`` x 49 ReLU units trained like the authors' (Adam 1e-3, batch 32).

    Parameters
    ----------
    X : ndarray of shape (n, d_in), scaled as the model should see it
        (the authors: pixels / 65025).
    y : ndarray of int, shape (n,)
    n_classes : int or None
        Outputs (default: ``y.max() + 1``).

    Returns
    -------
    nnlite.MLP
    """
    rng = check_rng(rng)
    check_count(n_hidden_layers, "n_hidden_layers", minimum=0)
    check_count(epochs, "epochs", minimum=1)
    n_rows = len(check_real_array(X, "X"))
    if n_classes is not None:
        check_count(n_classes, "n_classes", minimum=2)
    labels = check_labels(y, "y", n_rows, np.iinfo(np.int64).max if n_classes is None else n_classes)
    if n_classes is None:
        n_classes, present = int(labels.max()) + 1, np.unique(labels)
        if len(present) != n_classes:
            raise ValueError(f"y: expected every class 0..{n_classes - 1} to appear (n_classes is inferred as "
                             f"y.max() + 1), found only {present.tolist()[:10]}; pass n_classes explicitly")
    model = MLP([X.shape[1]] + [HIDDEN_UNITS] * n_hidden_layers + [n_classes], rng=rng)
    fit(model, X, y, optimizer=Adam(lr), epochs=epochs, batch_size=batch_size, rng=rng, progress=progress)
    return model


def cached_model(path, train):
    """Load ``path`` when it exists, else ``model = train()``, save it there and return it."""
    path = Path(path)
    if path.is_file():
        return io.load(path)
    model = train()
    path.parent.mkdir(parents=True, exist_ok=True)
    io.save(model, path)
    return model


_LAST_LOADED = {}


def dataset_arrays(dataset, data_dir=None):
    """``load_dataset(dataset, data_dir)``, keeping the last two data sets loaded in memory.

    The commands and notebooks score several experiments on the same data one
    after another; MNIST takes seconds to decompress.
    """
    key = (dataset, None if data_dir is None else str(data_dir))
    if key not in _LAST_LOADED:
        while len(_LAST_LOADED) >= 2:
            _LAST_LOADED.pop(next(iter(_LAST_LOADED)))
        _LAST_LOADED[key] = load_dataset(dataset, data_dir)
    return _LAST_LOADED[key]


def experiment_arrays(dataset, protocol="held-out", data_dir=None):
    """(X_train, y_train, X_test, y_test, note) for reuse and replacement.

    ``protocol`` matters for KMNIST only (module docstring): "held-out" is
    :func:`dataset_arrays`; "authors" gives all 10,000 test images as both
    the training and the test set, with ``AUTHORS_KMNIST_NOTE``.
    """
    if protocol not in KMNIST_PROTOCOLS:
        raise ValueError(f"protocol: expected one of {KMNIST_PROTOCOLS}, found {protocol!r}")
    arrays = dataset_arrays(dataset, data_dir)
    if dataset != "kmnist" or protocol == "held-out":
        return arrays
    X, y = np.concatenate([arrays[0], arrays[2]]), np.concatenate([arrays[1], arrays[3]])
    return X, y, X, y, AUTHORS_KMNIST_NOTE


def cm_rie_modules(model_name, source="stored", arrays=None, models_dir=None, propagation="linear", rng=0):
    """The ten CM-RIE modules of the authors' ``model_name`` (e.g. "mnist-4").

    source : "stored" (the authors' files) or "ours" (our decomposition of
    their model, official fidelity, from ``arrays[:2]`` of
    :func:`load_dataset`).
    """
    if source == "stored":
        return load_official_modules("CM-RIE", model_name, models_dir)
    if source != "ours":
        raise ValueError(f"source: expected one of {MODULE_SOURCES}, found {source!r}")
    ensure_models([model_name], models_dir)
    model = io.load(resolve_models_dir(models_dir) / f"{model_name}.npz")
    return decompose(model, arrays[0], arrays[1], "CM-RIE", propagation=propagation, fidelity="official", rng=rng)
