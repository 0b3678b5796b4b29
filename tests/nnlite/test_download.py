"""nnlite.data downloads against real servers on 127.0.0.1: size cap, dropped connections, directories.

No file of ../shared is needed: each test serves bytes it made.
"""
import hashlib
import os

import pytest

from loopback import DroppingHandler, PaddingHandler, RedirectingHandler, serve
from nnlite import data

CONTENT = bytes(range(256)) * 400   # 102,400 bytes: several 64 KiB reads
SHA256 = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A folder holding ``file.bin`` (CONTENT) and a cache folder; returns (folder, cache)."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    folder = tmp_path / "www"
    folder.mkdir()
    (folder / "file.bin").write_bytes(CONTENT)
    return folder, tmp_path / "cache"


def files_in(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_download_writes_the_verified_file_and_nothing_else(served):
    folder, cache = served
    with serve(folder) as url:
        path = data.download(f"{url}/file.bin", cache / "sub" / "file.bin", SHA256, len(CONTENT), progress=False)
    assert path.read_bytes() == CONTENT and files_in(cache) == ["sub/file.bin"]


def test_download_dropped_connection_is_reported_as_dropped_not_as_a_checksum_mismatch(served):
    folder, cache = served
    with serve(folder, DroppingHandler) as url, pytest.raises(ConnectionError) as info:
        data.download(f"{url}/file.bin", cache / "file.bin", SHA256, len(CONTENT), progress=False)
    message = str(info.value)
    assert "dropped" in message and f"{len(CONTENT) // 2} of the {len(CONTENT)} bytes" in message
    assert "sha256" not in message and files_in(cache) == []


def test_download_announcing_more_than_the_expected_size_is_refused_before_reading(served):
    folder, cache = served
    with serve(folder) as url, pytest.raises(ValueError, match=f"announces more than the expected {len(CONTENT) - 1}"):
        data.download(f"{url}/file.bin", cache / "file.bin", SHA256, len(CONTENT) - 1, progress=False)
    assert files_in(cache) == []


def test_download_is_capped_at_the_expected_size_without_content_length(served):
    folder, cache = served
    with serve(folder, PaddingHandler) as url, pytest.raises(ValueError) as info:
        data.download(f"{url}/file.bin", cache / "file.bin", SHA256, len(CONTENT), progress=False)
    assert f"sent more than the expected {len(CONTENT)} bytes ({len(CONTENT) + 1})" in str(info.value)
    assert files_in(cache) == []


def test_download_of_a_truncated_file_says_truncated_and_leaves_nothing(served):
    folder, cache = served
    (folder / "short.bin").write_bytes(CONTENT[:1000])
    with serve(folder) as url, pytest.raises(ValueError, match="sha256 check.*1000 bytes.*truncated"):
        data.download(f"{url}/short.bin", cache / "file.bin", SHA256, len(CONTENT), progress=False)
    assert files_in(cache) == []


def test_download_refuses_a_directory_at_the_target_path(served):
    folder, cache = served
    (cache / "file.bin").mkdir(parents=True)
    with serve(folder) as url, pytest.raises(ValueError, match="data_dir: .*found a directory"):
        data.download(f"{url}/file.bin", cache / "file.bin", SHA256, len(CONTENT), progress=False)


def test_fetch_refuses_a_directory_at_a_data_path_instead_of_downloading(tmp_path, monkeypatch):
    relpath = "mnist/t10k-labels-idx1-ubyte.gz"
    (tmp_path / relpath).mkdir(parents=True)
    monkeypatch.setenv("NNLITE_DATA_URL_MNIST", "http://127.0.0.1:9/never-contacted")
    with pytest.raises(ValueError, match="data_dir: expected the file mnist/t10k-labels-idx1-ubyte.gz.*directory"):
        data.fetch(relpath, tmp_path, progress=False)
    assert os.listdir(tmp_path / relpath) == []


def test_download_from_a_file_url_copies_verified_bytes_and_refuses_a_short_file(served):
    """A local mirror (``file://``; pooch has no downloader for it) passes the same checks."""
    folder, cache = served
    path = data.download((folder / "file.bin").as_uri(), cache / "file.bin", SHA256, len(CONTENT), progress=False)
    assert path.read_bytes() == CONTENT and files_in(cache) == ["file.bin"]
    (folder / "short.bin").write_bytes(CONTENT[:1000])
    with pytest.raises(ValueError, match="sha256 check.*1000 bytes.*truncated"):
        data.download((folder / "short.bin").as_uri(), cache / "other.bin", SHA256, len(CONTENT), progress=False)
    with pytest.raises(ConnectionError, match="missing.bin"):
        data.download((folder / "missing.bin").as_uri(), cache / "other.bin", SHA256, len(CONTENT), progress=False)
    assert files_in(cache) == ["file.bin"]


def test_download_follows_a_redirect_and_checks_the_size_the_final_server_announces(served):
    folder, cache = served
    with serve(folder, RedirectingHandler) as url:
        path = data.download(f"{url}/moved/file.bin", cache / "file.bin", SHA256, len(CONTENT), progress=False)
        assert path.read_bytes() == CONTENT
        with pytest.raises(ValueError, match=f"announces more than the expected {len(CONTENT) - 1}"):
            data.download(f"{url}/moved/file.bin", cache / "other.bin", SHA256, len(CONTENT) - 1, progress=False)
    assert files_in(cache) == ["file.bin"]
