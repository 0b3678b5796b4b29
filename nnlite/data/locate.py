"""Where data files live and what they must be: the data folder and the sha256 manifest.

Every file sits at ``<data_dir>/<dataset>/<file name>``, e.g.
``<data_dir>/mnist/t10k-labels-idx1-ubyte.gz``: the layout of the project's
shared data folder (``../shared/data``). ``nnlite/manifest/datasets.tsv`` lists
each known file: dataset, relative path, sha256, size in bytes and the
canonical public download URL (empty where the file cannot be downloaded on
its own). The manifest is the registry :mod:`nnlite.data.fetching` verifies
against.
"""
import csv
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

MANIFEST_PATH = Path(__file__).resolve().parents[1] / "manifest" / "datasets.tsv"

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


class ManifestEntry(NamedTuple):
    """One row of ``nnlite/manifest/datasets.tsv``."""
    dataset: str
    path: str
    sha256: str
    size: int
    url: str


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
def manifest():
    """Map relative path -> ManifestEntry for every row of the manifest."""
    with open(MANIFEST_PATH, newline="", encoding="utf-8") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {r["path"]: ManifestEntry(r["dataset"], r["path"], r["sha256"], int(r["size"]), r["url"])
                for r in rows}


def manifest_entry(relpath):
    """The manifest row of ``relpath``; an unknown path is refused naming the manifest."""
    if not isinstance(relpath, str):
        raise TypeError(f"relpath: expected a str like 'mnist/t10k-labels-idx1-ubyte.gz', "
                        f"found {type(relpath).__name__}")
    entry = manifest().get(relpath)
    if entry is None:
        raise ValueError(f"relpath: expected a file listed in {MANIFEST_PATH} "
                         f"(e.g. 'mnist/t10k-labels-idx1-ubyte.gz'), found {relpath!r}; "
                         "fix the spelling or add a row for the file to the manifest")
    return entry


def url_env_var(dataset):
    """``NNLITE_DATA_URL_<DATASET>``: upper case, ``-`` as ``_``."""
    return "NNLITE_DATA_URL_" + re.sub(r"[^0-9A-Z]", "_", dataset.upper())


def download_url(entry, base_url=None):
    """``<base_url>/<file name>`` if a base URL is given (argument, else environment), else the manifest URL."""
    base_url = base_url or os.environ.get(url_env_var(entry.dataset))
    if base_url:
        return base_url.rstrip("/") + "/" + Path(entry.path).name
    return entry.url


def missing_file_message(entry, path, url):
    """Why ``entry`` is not at ``path`` and how to put it there."""
    if url:
        why = f"download=False; pass download=True to fetch it from {url}"
    else:
        why = _WHERE_TO_GET.get(entry.dataset, "no download URL is known").format(name=Path(entry.path).name)
    return (f"{entry.path}: not found at {path} ({why}). Put the file there, or point data_dir= or the "
            f"NNLITE_DATA environment variable at a folder holding {entry.path} "
            "(e.g. a copy of ../shared/data)")


def refuse_directory(path, name):
    """A directory where a file belongs is refused, never replaced."""
    if path.is_dir():
        raise ValueError(f"data_dir: expected the file {name} at {path}, found a directory there; remove or "
                         "rename that directory, or point data_dir= / NNLITE_DATA at another folder")
