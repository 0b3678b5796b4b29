"""The decomposition authors' models, fetched from their public repository and kept as ``.npz``.

Pan & Rajan publish their trained Keras models and modules in
https://github.com/rangeetpan/decomposeDNNintoModules (MIT licence).
:func:`fetch_models` downloads the 297 files this project uses, at commit
``COMMIT``, from ``DEFAULT_BASE_URL + <URL-quoted path in the repository>``
(``NNLITE_OFFICIAL_MODELS_URL`` replaces the base), and for each file:

1. checks its size and sha256 against ``nnlite/manifest/official_models.tsv``
   (``nnlite.data.download``, pooch's downloader: a temporary file beside the
   target, renamed only once verified);
2. reads it with ``nnlite.io.load_keras_h5`` (h5py, no Keras), which checks
   the layers, activations and weight shapes;
3. writes the arrays ``W1, b1, ..., WL, bL`` to
   ``<data dir>/official-models/<NAME>.npz`` (``nnlite.io.save``, atomic).

NAMEs follow the layout of ``../shared/official-models``: ``mnist-4``
(``<ds>-<n hidden layers>``), ``faulty5-mnist``,
``modules/CM-RIE/mnist-1/module3``, ``modules/TI-SNE/fmnist-2/module0``. A
folder name such as ``modules/CM-RIE/mnist-1`` selects the files under it.
The data dir is ``NNLITE_DATA``, else ``~/.cache/nnlite``
(``nnlite.data.resolve_data_dir``).

Where the experiments look: ``modules.resolve_models_dir`` takes
``models_dir``, else ``NNLITE_OFFICIAL_MODELS`` (a ready folder, never
written), else ``../shared/official-models`` beside the repository, else this
cache, which :func:`ensure_models` fills on first use.
"""
import contextlib
import csv
import os
import time
import urllib.parse
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from nnlite import data, io
from nnlite.experiment import remove_stale_temp_files

from .modules import Module
from .validation import check_choice

COMMIT = "ad80e98bbadd940e14e74f6df46b0cd7ee7ec4c8"
REPOSITORY = "rangeetpan/decomposeDNNintoModules"
DEFAULT_BASE_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/"
BASE_URL_ENV = "NNLITE_OFFICIAL_MODELS_URL"
MANIFEST_PATH = data.MANIFEST_PATH.parent / "official_models.tsv"
CACHE_FOLDER = "official-models"
#: The project's shared copy beside the repository (read when present).
SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "official-models"
#: A temporary file older than this is left over from a killed run and is removed.
STALE_TEMPORARY_SECONDS = 15 * 60


class OfficialModel(NamedTuple):
    """One row of ``nnlite/manifest/official_models.tsv``."""
    name: str     # e.g. "modules/CM-RIE/mnist-1/module3" (the .npz path without suffix)
    path: str     # path in the authors' repository, e.g. "Approach 6 (CM-RIE)/MNIST/MNIST-1/module3.h5"
    size: int     # bytes
    sha256: str


@lru_cache(maxsize=1)
def manifest():
    """Map NAME -> OfficialModel for every row of the manifest, in manifest order."""
    with open(MANIFEST_PATH, newline="", encoding="utf-8") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {r["name"]: OfficialModel(r["name"], r["path"], int(r["size"]), r["sha256"]) for r in rows}


def select_models(names=None):
    """The manifest rows named by ``names`` (None: all), in manifest order, without repeats.

    A name is a NAME of the manifest (``"mnist-4"``) or a folder of NAMEs
    (``"modules/CM-RIE/mnist-1"``, ``"modules"``); a trailing ``.npz`` or ``/``
    is ignored.
    """
    rows = manifest()
    if names is None:
        return list(rows.values())
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, (list, tuple)):
        raise TypeError(f"names: expected None, a NAME or a list of NAMEs such as ['mnist-4'], found "
                        f"{type(names).__name__}")
    chosen = set()
    for name in names:
        chosen |= _names_matching(name, rows)
    return [row for key, row in rows.items() if key in chosen]


def _names_matching(name, rows):
    if not isinstance(name, str):
        raise TypeError(f"names: expected NAME strings such as 'mnist-4', found {type(name).__name__}")
    key = name.strip().removesuffix(".npz").strip("/")
    matches = {k for k in rows if k == key or k.startswith(key + "/")} if key else set()
    if not matches:
        raise ValueError(f"names: expected a NAME from {MANIFEST_PATH.name} such as 'mnist-4', 'faulty5-mnist', "
                         f"'modules/CM-RIE/mnist-1' (a folder) or 'modules/TI-SNE/fmnist-2/module0', found "
                         f"{name!r}; run 'python -m decomposition fetch-models --list' to see them all")
    return matches


def cache_dir(data_dir=None):
    """``<data dir>/official-models``: where :func:`fetch_models` writes (see ``nnlite.data.resolve_data_dir``)."""
    return data.resolve_data_dir(data_dir) / CACHE_FOLDER


def model_url(model, base_url=None):
    """The raw-file URL of one manifest row: base URL + the URL-quoted repository path."""
    _check_model(model)
    base = _check_base_url(base_url) or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    return base.rstrip("/") + "/" + urllib.parse.quote(model.path)


def _check_base_url(base_url):
    if base_url is not None and not isinstance(base_url, str):
        raise TypeError(f"base_url: expected None or a URL string, found {type(base_url).__name__}")
    if base_url is not None and urllib.parse.urlsplit(base_url).scheme not in ("http", "https", "file"):
        raise ValueError(f"base_url: expected an http://, https:// or file:// URL, found {base_url!r}; "
                         "add the scheme, e.g. 'http://127.0.0.1:8000/'")
    return base_url


def _check_model(model):
    if not isinstance(model, OfficialModel):
        raise TypeError(f"model: expected an OfficialModel row (from select_models or manifest), found "
                        f"{type(model).__name__}; pass select_models(NAME)[0]")
    return model


def _check_flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, found {value!r}")
    return bool(value)


def _check_folder(folder, name="folder"):
    """``folder`` as a Path; a file standing there is refused."""
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a str or a path, found {type(folder).__name__}")
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{name}: expected a folder, found the file {folder}; pass its parent folder or another path")
    return folder


def fetch_models(names=None, data_dir=None, *, base_url=None, progress=True, keep_h5=False):
    """Download, verify and convert the authors' models; return the paths of their ``.npz`` files.

    Files already converted are not downloaded again.

    Parameters
    ----------
    names : str, list of str or None
        NAMEs or folders of NAMEs (see :func:`select_models`); None means all 297.
    data_dir : str, os.PathLike or None
        The files go to ``<data_dir>/official-models`` (default ``$NNLITE_DATA``
        or ``~/.cache/nnlite``).
    base_url : str or None
        Replaces ``DEFAULT_BASE_URL`` (default ``$NNLITE_OFFICIAL_MODELS_URL``).
    progress : bool
        Show a progress bar over the files.
    keep_h5 : bool
        Keep each verified ``.h5`` under ``official-models/h5/<repository path>``.

    Returns
    -------
    list of pathlib.Path
        One ``.npz`` per selected file, in manifest order.

    Raises
    ------
    ValueError
        An unknown NAME; a download that fails its sha256 or size check; a file
        ``load_keras_h5`` refuses.
    ConnectionError
        A download failed or the connection dropped.
    """
    models = select_models(names)
    _check_base_url(base_url)
    _check_flag(progress, "progress")
    _check_flag(keep_h5, "keep_h5")
    folder = cache_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with _exclusive(folder) as locked:
        # holding the lock, every temporary file is a killed run's; without locks, only old ones are
        remove_stale_temporaries(folder, max_age=0 if locked else STALE_TEMPORARY_SECONDS)
        bar = tqdm(models, desc="official models", unit="file", disable=not progress)
        return [fetch_model(model, folder, base_url, keep_h5) for model in bar]


@contextlib.contextmanager
def _exclusive(folder):
    """Hold an exclusive lock on ``folder`` (POSIX ``flock``); yields False where locks are not available."""
    try:
        import fcntl
    except ImportError:   # Windows
        yield False
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)   # another fetch into the same folder finishes first
        yield True
    finally:
        os.close(fd)   # releases the lock


def fetch_model(model, folder, base_url=None, keep_h5=False):
    """One manifest row: ``<folder>/<NAME>.npz``, downloaded and converted unless present."""
    _check_model(model)
    folder = _check_folder(folder)
    _check_base_url(base_url)
    npz = folder / f"{model.name}.npz"
    if npz.is_dir():
        raise ValueError(f"data_dir: expected the file {model.name}.npz at {npz}, found a directory there; "
                         "remove or rename it")
    if npz.is_file():
        return npz
    h5 = folder / "h5" / model.path
    if h5.is_file() and data.fetching.sha256_cached(h5) != model.sha256:
        h5.unlink()   # left by an older run and no longer the published file: fetch it again
    if not h5.is_file():
        try:
            data.download(model_url(model, base_url), h5, model.sha256, model.size, name=model.path, progress=False)
        except ConnectionError as err:
            _remove_empty_folders(h5.parent, stop=folder)
            raise ConnectionError(f"{err}; a mirror of the repository can be given with base_url= or "
                                  f"{BASE_URL_ENV}") from err
        except BaseException:
            _remove_empty_folders(h5.parent, stop=folder)
            raise
    npz.parent.mkdir(parents=True, exist_ok=True)
    io.save(io.load_keras_h5(h5), npz)
    if not keep_h5:
        _remove_file_and_empty_folders(h5, stop=folder)
    return npz


def _remove_file_and_empty_folders(path, stop):
    path.unlink()
    _remove_empty_folders(path.parent, stop)


def _remove_empty_folders(folder, stop):
    """Remove ``folder`` and its parents up to (not including) ``stop`` while they are empty."""
    for parent in [folder, *folder.parents]:
        if parent == stop or not parent.is_dir() or any(parent.iterdir()):
            break
        parent.rmdir()


def remove_stale_temporaries(folder, max_age=STALE_TEMPORARY_SECONDS):
    """Delete temporary files a killed run left in ``folder`` (``nnlite.experiment.temp_path`` names, and the
    ``.part`` / ``tmp*.npz`` names of older versions).

    Only files untouched for ``max_age`` seconds go, so that without a lock a
    run in progress in another process keeps its own.
    """
    folder = _check_folder(folder)
    if isinstance(max_age, (bool, np.bool_)) or not isinstance(max_age, (int, float, np.number)) or not (
            np.isfinite(max_age) and max_age >= 0):
        raise ValueError(f"max_age: expected a finite number of seconds >= 0, found {max_age!r}")
    if not folder.is_dir():
        return []
    now, removed = time.time(), []
    remove_stale_temp_files(folder)   # ``.<name>.<pid>.nnlite-tmp`` of processes that are gone
    for path in [*folder.rglob(".*.part"), *folder.rglob("tmp*.npz")]:   # names used before nnlite.experiment
        if path.is_file() and now - path.stat().st_mtime > max_age:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def resolve_models_dir(models_dir=None):
    """Where the experiments read the authors' ``.npz`` files.

    ``models_dir``, else ``$NNLITE_OFFICIAL_MODELS``, else
    ``../shared/official-models`` beside the repository if it exists, else the
    download cache :func:`cache_dir` (filled by :func:`ensure_models`).
    """
    from nnlite.experiment import locate   # the one data-location lookup
    return locate("official_models", models_dir, shared=SHARED_MODELS)


def ensure_models(names, models_dir=None):
    """Fetch the NAMEs missing from the download cache, if ``models_dir`` resolves to it.

    A folder given by ``models_dir``, ``NNLITE_OFFICIAL_MODELS`` or
    ``../shared/official-models`` is read as it is and never written. Names
    that the manifest does not list are left to the caller's own error.
    """
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"names: expected a NAME or a list of NAMEs such as ['mnist-4'], found {names!r}")
    folder = resolve_models_dir(models_dir)
    if Path(folder).resolve() != cache_dir().resolve():
        return
    known = [name for name in names if any(k == name or k.startswith(name + "/") for k in manifest())]
    missing = [m for m in select_models(known) if not (folder / f"{m.name}.npz").is_file()] if known else []
    if missing:
        fetch_models([m.name for m in missing])


# ---------------------------------------------------------------------------
# The authors' stored modules
# ---------------------------------------------------------------------------

def official_module_folders():
    """{approach: (model names)} of the authors' stored modules, read from the sha256 manifest."""
    folders = {}
    for name in manifest():
        parts = name.split("/")
        if len(parts) == 4 and parts[0] == "modules":
            folders.setdefault(parts[1], {})[parts[2]] = None
    return {approach: tuple(models) for approach, models in folders.items()}


def check_official_folder(approach, model_name):
    """``approach`` and ``model_name`` of a folder of the authors' stored modules (names listed when unknown)."""
    folders = official_module_folders()
    check_choice(approach, "approach", tuple(folders))
    check_choice(model_name, "model_name", folders[approach])
    return approach, model_name


def load_official_modules(approach, model_name, models_dir=None):
    """The authors' stored modules ``modules/<approach>/<model_name>/module<k>.npz`` as Modules.

    approach : "CM-RIE" or "TI-SNE"; model_name : e.g. "mnist-1".
    """
    approach, model_name = check_official_folder(approach, model_name)
    ensure_models([f"modules/{approach}/{model_name}"], models_dir)
    folder = resolve_models_dir(models_dir) / "modules" / approach / model_name
    paths = sorted(folder.glob("module*.npz"), key=lambda p: int(p.stem[len("module"):]))
    if not paths:
        raise FileNotFoundError(f"models_dir: expected module<k>.npz files in {folder}, found none; "
                                "pass models_dir or set NNLITE_OFFICIAL_MODELS")
    modules = []
    for k, path in enumerate(paths):
        with np.load(path, allow_pickle=False) as f:
            n_layers = sum(1 for key in f.files if key.startswith("b"))
            weights = [f[f"W{i}"] for i in range(1, n_layers + 1)]
            biases = [f[f"b{i}"] for i in range(1, n_layers + 1)]
        modules.append(Module(weights, biases, k, approach))
    return modules
