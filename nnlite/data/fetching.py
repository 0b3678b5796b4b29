"""Verified data files: check a file's sha256 against the manifest, download it if missing.

pooch does the transfer (``pooch.HTTPDownloader``: requests, a tqdm progress
bar, HTTP errors) and the hashing (``pooch.file_hash``). Its ``Pooch.fetch``
is not used, because it falls short of four requirements this module keeps
(each is a test in tests/nnlite/test_download.py, test_data.py or test_fetch_models.py):

1. Nothing half-written, also after SIGKILL, and the next run cleans up:
   pooch streams to an anonymous ``tmpXXXXXXXX`` in the data folder, which a
   killed process leaves forever (nothing tells whose it is). Here the bytes go
   through ``nnlite.experiment.atomic_write`` (``.<name>.<pid>.nnlite-tmp``,
   removed by the next download into the folder once that process is gone).
2. A size cap: a server announcing or sending more than the manifest size
   is stopped (pooch reads whatever comes).
3. A damaged file already on disk is refused with a message, never silently
   replaced (pooch downloads it again, and fails on a read-only shared copy).
4. Each file version is hashed once per process (pooch hashes on every call).

A dropped connection is reported as dropped (not as a checksum mismatch), and
every error says how to fix it.
"""
import os
import re
import shutil
import urllib.parse
import urllib.request
from functools import partial
from pathlib import Path

import numpy as np
import pooch
import requests
import urllib3
from tqdm.auto import tqdm

from nnlite.experiment import atomic_write, remove_stale_temp_files

from .locate import (ManifestEntry, download_url, manifest_entry, missing_file_message, refuse_directory,
                     resolve_data_dir, url_env_var)

_SHA256_CACHE = {}   # (resolved path, size, mtime_ns) -> sha256 hex digest
_CHUNK_BYTES = 1 << 16


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
    entry = manifest_entry(relpath)
    if base_url is not None and not isinstance(base_url, str):
        raise TypeError(f"base_url: expected None or a URL string such as 'https://example.org/mnist/', found "
                        f"{type(base_url).__name__}")
    path = resolve_data_dir(data_dir) / entry.path
    refuse_directory(path, entry.path)
    if not path.is_file():
        url = download_url(entry, base_url)
        if not (download and url):
            raise FileNotFoundError(missing_file_message(entry, path, url))
        _download(url, path, entry, progress)
    _verify(path, entry)
    return path


def download(url, path, sha256, size, *, name=None, progress=True):
    """Download ``url`` to ``path`` if its bytes have this sha256; never leave a partial file.

    The bytes go to a temporary file ``.<file name>.<pid>.nnlite-tmp`` beside
    ``path`` (``nnlite.experiment.atomic_write``; the next download into that
    folder removes those of processes that are gone), are checked, then renamed
    into place. A download longer than ``size`` bytes is stopped; a connection
    that closes before the announced ``Content-Length`` is reported as a
    dropped connection.

    Parameters
    ----------
    url : str
        An ``http(s)://`` or ``file://`` URL.
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
    refuse_directory(path, name)
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


# ------------------------------------------------------------- verification

def _sha256_file(path):
    return pooch.file_hash(str(path), alg="sha256")


def sha256_cached(path):
    """sha256 of ``path``, hashed once per (path, size, mtime) in this process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA256_CACHE:
        _SHA256_CACHE[key] = _sha256_file(path)
    return _SHA256_CACHE[key]


def _verify(path, entry):
    found = sha256_cached(path)
    if found != entry.sha256:
        raise ValueError(f"{path}: sha256 check failed for {entry.path}: expected {entry.sha256} "
                         f"({entry.size} bytes), found {found} ({path.stat().st_size} bytes); the file "
                         "is damaged or a different version; delete it and fetch it again")


# ---------------------------------------------------------------- download

def _download(url, path, entry, progress):
    """Download ``url`` to ``path``: temporary file beside it, check sha256, rename (``atomic_write``)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(path.parent, recursive=False)   # a killed download's leftovers
        atomic_write(path, partial(_receive, url, entry=entry, progress=progress))
    except PermissionError as err:
        raise PermissionError(f"{entry.path}: cannot download into {path.parent} ({err.strerror}); "
                              "pass a writable data_dir= or set NNLITE_DATA") from err
    stat = path.stat()
    _SHA256_CACHE[(str(path.resolve()), stat.st_size, stat.st_mtime_ns)] = entry.sha256


def _receive(url, out, *, entry, progress):
    """Write the bytes of ``url`` into the open temporary file ``out`` and check their sha256."""
    capped = _CappedFile(out, entry, url)
    with tqdm(total=entry.size, unit="B", unit_scale=True, desc=entry.path, disable=not progress) as bar:
        _transfer(url, capped, bar)
    out.flush()
    found = _sha256_file(out.name)
    if found != entry.sha256:
        what = ("is truncated or a different file" if capped.n_bytes < entry.size
                else "is damaged or a different version")
        raise ValueError(f"{url}: download of {entry.path} failed the sha256 check: expected {entry.sha256} "
                         f"({entry.size} bytes), found {found} ({capped.n_bytes} bytes): the file served {what}; "
                         f"nothing was written to its place; check the URL or the mirror")


def _transfer(url, capped, bar):
    """pooch's HTTP downloader (or a copy for ``file://``) into ``capped``; network errors as ConnectionError."""
    entry = capped.entry
    try:
        if urllib.parse.urlsplit(url).scheme == "file":
            _copy_local_file(url, capped)
        else:
            pooch.HTTPDownloader(progressbar=bar if not bar.disable else False, chunk_size=_CHUNK_BYTES, timeout=60,
                                 hooks={"response": capped.check_announced_size})(url, capped, None)
    except (requests.RequestException, ConnectionError, TimeoutError, FileNotFoundError) as err:
        n_received = capped.n_bytes + _bytes_of_the_broken_read(err)
        if capped.announced is not None and n_received < capped.announced:
            raise ConnectionError(f"{entry.path}: the connection to {url} dropped after {n_received} of the "
                                  f"{capped.announced} bytes announced; nothing was kept; try again") from err
        override = f" (base_url= / {url_env_var(entry.dataset)})" if entry.dataset else ""
        raise ConnectionError(f"{entry.path}: download from {url} failed ({err}); check the network "
                              f"and the URL{override}, or put the file in place by hand") from err


def _bytes_of_the_broken_read(err):
    """Bytes of the read that broke: urllib3's ``IncompleteRead`` inside requests' error (else 0)."""
    while err is not None and not isinstance(err, urllib3.exceptions.IncompleteRead):
        err = next((arg for arg in err.args if isinstance(arg, BaseException)), None)
    return 0 if err is None else err.partial


def _copy_local_file(url, capped):
    """pooch has no downloader for ``file://`` URLs (a local mirror): copy the file."""
    with open(urllib.request.url2pathname(urllib.parse.urlsplit(url).path), "rb") as f:
        shutil.copyfileobj(f, capped, _CHUNK_BYTES)


class _CappedFile:
    """The file a download writes to: counts the bytes and stops at one byte past the manifest size."""

    def __init__(self, file, entry, url):
        self.file, self.entry, self.url = file, entry, url
        self.n_bytes, self.announced = 0, None

    def check_announced_size(self, response, *args, **kwargs):
        """requests' response hook: refuse a ``Content-Length`` above the cap before reading the body."""
        self.announced = None
        if response.is_redirect or not response.ok:
            return   # a redirect is followed; an HTTP error is raised by pooch's downloader
        self.announced = int(response.headers.get("Content-Length") or 0) or None
        if self.announced is not None and self.announced > self.entry.size:
            response.close()
            self._too_large("announces", self.announced)

    def write(self, chunk):
        room = self.entry.size + 1 - self.n_bytes   # keep one byte past the cap: enough to say "more"
        self.file.write(chunk[:room])
        self.n_bytes += min(len(chunk), room)
        if self.n_bytes > self.entry.size:
            self._too_large("sent", self.n_bytes)

    def flush(self):
        self.file.flush()

    def _too_large(self, verb, n_bytes):
        raise ValueError(f"{self.entry.path}: {self.url} {verb} more than the expected {self.entry.size} bytes "
                         f"({n_bytes}); stopped, nothing was kept; check the URL or the mirror")
