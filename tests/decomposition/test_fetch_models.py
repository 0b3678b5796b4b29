"""decomposition.fetch_models and ``python -m decomposition fetch-models`` against real servers on 127.0.0.1.

The server serves ../shared/official-models/h5 (37 of the authors' files at
their repository paths) plus a corrupted, a truncated and a dropped-connection
copy; ``NNLITE_OFFICIAL_MODELS_URL`` points the downloader at it. Tests that
need the shared folder skip, saying so, when it is absent.
"""
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from decomposition import official_models
from decomposition.experiments import official_model
from decomposition.official_models import load_official_modules
from loopback import DroppingHandler, StallingHandler, serve

REPO = Path(__file__).resolve().parents[2]
SHARED_MODELS = Path(os.environ.get("NNLITE_OFFICIAL_MODELS", REPO.parent / "shared" / "official-models"))
SHARED_H5 = SHARED_MODELS / "h5"
requires_shared_h5 = pytest.mark.skipif(
    not (SHARED_H5 / "MANIFEST.tsv").is_file(),
    reason=f"{SHARED_H5} not present: it holds 37 of the authors' .h5 files to serve on 127.0.0.1 (set "
           "NNLITE_OFFICIAL_MODELS to a copy of ../shared/official-models to run this test)")
#: A 1-hidden-layer base model, its repository path has spaces and parentheses.
SMALL = "mnist-1"


def read_tsv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def served_names():
    """NAMEs of the files that have a copy in ../shared/official-models/h5."""
    copies = {r["path_in_repo"] for r in read_tsv(SHARED_H5 / "MANIFEST.tsv") if r["copy_here"] == "yes"}
    return [m.name for m in official_models.manifest().values() if m.path in copies]


def files_in(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def assert_npz_bit_identical(path, expected_path):
    with np.load(path, allow_pickle=False) as f, np.load(expected_path, allow_pickle=False) as g:
        assert sorted(f.files) == sorted(g.files), path
        for key in g.files:
            assert (f[key].dtype, f[key].shape, f[key].tobytes()) == (g[key].dtype, g[key].shape, g[key].tobytes())


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A folder to serve: good/ (the shared .h5 files), corrupt/ and truncated/ (copies of SMALL's file)."""
    if not (SHARED_H5 / "MANIFEST.tsv").is_file():
        pytest.skip(f"{SHARED_H5} not present (set NNLITE_OFFICIAL_MODELS to a copy of ../shared/official-models)")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    root = tmp_path / "www"
    root.mkdir()
    (root / "good").symlink_to(SHARED_H5, target_is_directory=True)
    repo_path = official_models.manifest()[SMALL].path
    content = (SHARED_H5 / repo_path).read_bytes()
    corrupted = bytearray(content)
    corrupted[len(content) // 2] ^= 0xFF
    for folder, payload in (("corrupt", bytes(corrupted)), ("truncated", content[:len(content) // 3])):
        (root / folder / repo_path).parent.mkdir(parents=True)
        (root / folder / repo_path).write_bytes(payload)
    return root


@pytest.fixture
def cache_only(tmp_path, monkeypatch):
    """No override folder: the experiments read the download cache under NNLITE_DATA=tmp_path/data."""
    monkeypatch.delenv("NNLITE_OFFICIAL_MODELS", raising=False)
    monkeypatch.delenv(official_models.BASE_URL_ENV, raising=False)
    monkeypatch.setattr(official_models, "SHARED_MODELS", tmp_path / "no-shared-folder")
    monkeypatch.setenv("NNLITE_DATA", str(tmp_path / "data"))
    return tmp_path / "data" / "official-models"


# ------------------------------------------------------------ the manifest

def test_manifest_lists_297_files_named_in_the_shared_layout():
    rows = official_models.manifest()
    assert len(rows) == 297
    assert sum(name.count("/") == 0 for name in rows) == 17                       # 16 base models, faulty5-mnist
    assert sum(name.startswith("modules/CM-RIE/") for name in rows) == 160        # 16 models x 10 modules
    assert sum(name.startswith("modules/TI-SNE/") for name in rows) == 120        # MNIST/FMNIST/KMNIST only
    assert sum(m.size for m in rows.values()) == 161_281_332                     # quoted in README's Data section
    for m in rows.values():
        assert m.path.endswith(".h5") and m.size > 0 and len(m.sha256) == 64 and int(m.sha256, 16) >= 0


@requires_shared_h5
def test_manifest_agrees_with_the_shared_h5_manifest_and_sources():
    shared = {r["path_in_repo"]: r for r in read_tsv(SHARED_H5 / "MANIFEST.tsv")}
    sources = {r["npz_file"].removesuffix(".npz"): r["source_path_in_repo"]
               for r in read_tsv(SHARED_MODELS / "SOURCES.tsv")}
    rows = official_models.manifest()
    assert {name: m.path for name, m in rows.items()} == sources
    assert all((m.size, m.sha256) == (int(shared[m.path]["bytes"]), shared[m.path]["sha256"]) for m in rows.values())


def test_model_url_is_the_pinned_commit_with_the_path_url_quoted(monkeypatch):
    monkeypatch.delenv(official_models.BASE_URL_ENV, raising=False)
    url = official_models.model_url(official_models.manifest()[SMALL])
    assert url == ("https://raw.githubusercontent.com/rangeetpan/decomposeDNNintoModules/"
                   "ad80e98bbadd940e14e74f6df46b0cd7ee7ec4c8/Approach%206%20%28CM-RIE%29/MNIST/MNIST-1/mnist.h5")
    monkeypatch.setenv(official_models.BASE_URL_ENV, "http://127.0.0.1:1/mirror/")
    url = official_models.model_url(official_models.manifest()[SMALL])
    assert url.startswith("http://127.0.0.1:1/mirror/Approach%20")


def test_select_models_takes_names_and_folders_in_manifest_order():
    chosen = [m.name for m in official_models.select_models(["modules/CM-RIE/mnist-1", "mnist-4.npz", "mnist-4"])]
    assert chosen == ["mnist-4"] + [f"modules/CM-RIE/mnist-1/module{k}" for k in range(10)]


@pytest.mark.parametrize("names", ["mnist-5", ["mnist-4", "modules/CM-RIE/mnist"], "", "modules/TI-SNE/emnist-1"])
def test_unknown_name_is_refused_naming_the_argument(names, tmp_path):
    with pytest.raises(ValueError, match="names: expected a NAME"):
        official_models.fetch_models(names, tmp_path)
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("argument, kwargs", [("names", {"names": 4}), ("names", {"names": [None]}),
                                               ("data_dir", {"data_dir": 4}), ("base_url", {"base_url": b"http://x"})])
def test_bad_argument_types_are_refused_naming_the_argument(argument, kwargs, tmp_path, monkeypatch):
    from strategies import assert_rejected
    monkeypatch.chdir(tmp_path)
    assert_rejected(official_models.fetch_models, argument, **{"names": SMALL, **kwargs})
    assert files_in(tmp_path) == []


def test_cli_unknown_name_prints_one_line_and_exits_2():
    result = subprocess.run([sys.executable, "-m", "decomposition", "fetch-models", "mnist-9"], capture_output=True,
                            text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "names:" in result.stderr and "'mnist-9'" in result.stderr


def test_cli_list_prints_every_name_with_its_size_and_path_and_the_total():
    result = subprocess.run([sys.executable, "-m", "decomposition", "fetch-models", "--list"], capture_output=True,
                            text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and len(lines) == 297
    assert lines[0].split("\t") == ["emnist-1", "491592", "Approach 6 (CM-RIE)/EMNIST/EMNIST-1/emnist.h5"]
    assert result.stderr == "297 files, 161,281,332 bytes to download\n"


# ------------------------------------------------------ downloads, for real

@requires_shared_h5
def test_every_served_file_is_verified_converted_and_bit_identical(mirror, tmp_path, monkeypatch):
    names = served_names()
    assert len(names) == 37
    with serve(mirror) as url:
        paths = official_models.fetch_models(names, tmp_path / "data", base_url=f"{url}/good/", progress=False)
    cache = tmp_path / "data" / "official-models"
    assert paths == [cache / f"{name}.npz" for name in names]
    for name, path in zip(names, paths):
        assert_npz_bit_identical(path, SHARED_MODELS / f"{name}.npz")
    assert files_in(cache) == sorted(f"{name}.npz" for name in names)   # no .h5, no temporary file


@requires_shared_h5
def test_files_already_converted_are_not_downloaded_again(mirror, tmp_path, monkeypatch):
    with serve(mirror) as url:
        monkeypatch.setenv(official_models.BASE_URL_ENV, f"{url}/good")
        first = official_models.fetch_models([SMALL], tmp_path, progress=False)
    assert official_models.fetch_models([SMALL], tmp_path, progress=False) == first   # the server is gone


@requires_shared_h5
def test_keep_h5_keeps_the_verified_file_at_its_repository_path(mirror, tmp_path):
    with serve(mirror) as url:
        official_models.fetch_models([SMALL], tmp_path, base_url=f"{url}/good", progress=False, keep_h5=True)
    repo_path = official_models.manifest()[SMALL].path
    kept = tmp_path / "official-models" / "h5" / repo_path
    assert kept.read_bytes() == (SHARED_H5 / repo_path).read_bytes()


@requires_shared_h5
@pytest.mark.parametrize("copy, expected", [("corrupt", "damaged or a different version"), ("truncated", "truncated")])
def test_corrupted_or_truncated_file_is_refused_and_nothing_is_left(mirror, tmp_path, copy, expected):
    with serve(mirror) as url, pytest.raises(ValueError) as info:
        official_models.fetch_models([SMALL], tmp_path, base_url=f"{url}/{copy}", progress=False)
    message = str(info.value)
    assert "sha256 check" in message and official_models.manifest()[SMALL].sha256 in message and expected in message
    assert list((tmp_path / "official-models").rglob("*")) == []   # no file, no empty folder


@requires_shared_h5
def test_dropped_connection_is_reported_as_such_and_nothing_is_left(mirror, tmp_path):
    with serve(mirror, DroppingHandler) as url, pytest.raises(ConnectionError, match="dropped after"):
        official_models.fetch_models([SMALL], tmp_path, base_url=f"{url}/good", progress=False)
    assert files_in(tmp_path / "official-models") == []


@requires_shared_h5
def test_cli_fetches_over_loopback_into_the_data_dir(mirror, tmp_path):
    with serve(mirror) as url:
        env = {**os.environ, "PYTHONPATH": str(REPO), "NNLITE_DATA": str(tmp_path / "data"),
               official_models.BASE_URL_ENV: f"{url}/good/"}
        result = subprocess.run([sys.executable, "-m", "decomposition", "fetch-models", SMALL, "--quiet"],
                                capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert_npz_bit_identical(tmp_path / "data" / "official-models" / f"{SMALL}.npz", SHARED_MODELS / f"{SMALL}.npz")


@requires_shared_h5
def test_cli_dropped_connection_prints_one_line(mirror, tmp_path):
    with serve(mirror, DroppingHandler) as url:
        env = {**os.environ, "PYTHONPATH": str(REPO), official_models.BASE_URL_ENV: f"{url}/good"}
        result = subprocess.run([sys.executable, "-m", "decomposition", "fetch-models", SMALL, "--quiet",
                                 "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=120,
                                env=env, cwd=REPO)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "dropped after" in result.stderr


# ------------------------------------------- where the experiments look

@requires_shared_h5
def test_experiments_fetch_a_missing_model_and_modules_into_the_cache(mirror, cache_only, monkeypatch):
    with serve(mirror) as url:
        monkeypatch.setenv(official_models.BASE_URL_ENV, f"{url}/good")
        model = official_model(SMALL)
        modules = load_official_modules("CM-RIE", SMALL)
    assert official_models.resolve_models_dir() == cache_only
    assert_npz_bit_identical(cache_only / f"{SMALL}.npz", SHARED_MODELS / f"{SMALL}.npz")
    assert model.layer_sizes == [784, 49, 10] and len(modules) == 10
    for k in range(10):
        assert_npz_bit_identical(cache_only / f"modules/CM-RIE/{SMALL}/module{k}.npz",
                                 SHARED_MODELS / f"modules/CM-RIE/{SMALL}/module{k}.npz")


def test_an_override_folder_is_read_as_it_is_and_never_downloaded_into(cache_only, tmp_path, monkeypatch):
    ready = tmp_path / "ready"
    ready.mkdir()
    monkeypatch.setenv("NNLITE_OFFICIAL_MODELS", str(ready))
    monkeypatch.setenv(official_models.BASE_URL_ENV, "http://127.0.0.1:9/never-contacted")
    assert official_models.resolve_models_dir() == ready
    with pytest.raises(FileNotFoundError):
        official_model(SMALL)
    with pytest.raises(FileNotFoundError, match="models_dir"):
        load_official_modules("CM-RIE", SMALL)
    assert files_in(tmp_path) == []


@requires_shared_h5
def test_a_run_killed_mid_download_leaves_only_a_temporary_file_that_the_next_run_removes(mirror, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "decomposition", "fetch-models", SMALL, "--quiet", "--data-dir", str(tmp_path)]
    cache = tmp_path / "official-models"
    StallingHandler.release.clear()
    with serve(mirror, StallingHandler) as url:
        process = subprocess.Popen(command, env={**env, official_models.BASE_URL_ENV: f"{url}/good"},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not list(cache.rglob(".*.nnlite-tmp")) and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.05)
        finally:
            process.kill()   # SIGKILL: no handler runs, the temporary file stays
            process.wait(timeout=30)
            StallingHandler.release.set()
    left = files_in(cache)
    assert len(left) == 1 and left[0].endswith(".nnlite-tmp"), left
    with serve(mirror) as url:
        official_models.fetch_models([SMALL], tmp_path, base_url=f"{url}/good", progress=False)
    assert files_in(cache) == [f"{SMALL}.npz"]
    assert_npz_bit_identical(cache / f"{SMALL}.npz", SHARED_MODELS / f"{SMALL}.npz")


def test_stale_temporaries_of_a_killed_run_are_removed_on_the_next_run(tmp_path):
    folder = tmp_path / "official-models"
    (folder / "h5" / "x").mkdir(parents=True)
    stale = [folder / "h5" / "x" / ".mnist.h5.abc123.part", folder / "tmpk2j3.npz"]
    fresh = folder / "h5" / "x" / ".mnist.h5.def456.part"   # another run's download in progress
    for path in stale + [fresh]:
        path.write_bytes(b"half")
    old = time.time() - 2 * official_models.STALE_TEMPORARY_SECONDS
    for path in stale:
        os.utime(path, (old, old))
    assert sorted(official_models.remove_stale_temporaries(folder)) == sorted(stale)
    assert files_in(folder) == ["h5/x/.mnist.h5.def456.part"]


def test_a_directory_at_a_model_path_is_refused(tmp_path):
    (tmp_path / "official-models" / f"{SMALL}.npz").mkdir(parents=True)
    with pytest.raises(ValueError, match="data_dir: .*found a directory"):
        official_models.fetch_models([SMALL], tmp_path, base_url="http://127.0.0.1:9/never-contacted", progress=False)
