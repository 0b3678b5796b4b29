"""Tests for nnlite.data: IDX decoding, verified fetching and downloads, loaders, preprocessing.

Tests marked ``shared_data`` read the real files in ../shared/data (or
$NNLITE_DATA) and are skipped when that folder is absent. No test touches the
network beyond a local HTTP server on 127.0.0.1.
"""
import gzip
import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from loopback import serve
from nnlite import data
from nnlite.data import fetching, formats
from nnlite.data import locate as data_locate
from tests.realdata import locate, missing

SHARED_DATA = locate("shared_data")   # NNLITE_DATA, else ../shared/data (tests/realdata.py)
requires_shared_data = pytest.mark.skipif(missing("shared_data") is not None,
                                          reason=missing("shared_data") or "")
MNIST_TEST_LABELS = "mnist/t10k-labels-idx1-ubyte.gz"


@pytest.fixture(autouse=True)
def no_url_overrides_from_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("NNLITE_DATA_URL_"):
            monkeypatch.delenv(name)


# ------------------------------------------------------------------ helpers

def idx_bytes(array, type_code=0x08):
    """Encode ``array`` as an IDX file (big-endian header and data)."""
    dtype = np.dtype(formats._IDX_DTYPES[type_code])
    header = bytes([0, 0, type_code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(dtype).tobytes()


def sha256_hex(content):
    return hashlib.sha256(content).hexdigest()


@pytest.fixture
def toy_manifest(monkeypatch):
    """Replace the manifest with rows for in-test files; returns a function adding a row."""
    rows = {}
    monkeypatch.setattr(data_locate, "manifest", lambda: rows)

    def add(relpath, content, url=""):
        rows[relpath] = data.ManifestEntry(relpath.split("/")[0], relpath, sha256_hex(content),
                                           len(content), url)
    return add


@pytest.fixture
def http_server(tmp_path, monkeypatch):
    """Serve ``tmp_path / "www"`` on 127.0.0.1 (``loopback.serve``); yields (folder, base URL)."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    root = tmp_path / "www"
    root.mkdir()
    with serve(root) as url:
        yield root, url


@pytest.fixture
def served_mnist_labels(http_server):
    """The real MNIST test labels at <url>/good/ and a copy with one flipped byte at <url>/bad/."""
    root, url = http_server
    content = (SHARED_DATA / MNIST_TEST_LABELS).read_bytes()
    corrupted = bytearray(content)
    corrupted[len(content) // 2] ^= 0xFF
    for folder, payload in (("good", content), ("bad", bytes(corrupted))):
        (root / folder).mkdir()
        (root / folder / Path(MNIST_TEST_LABELS).name).write_bytes(payload)
    return content, url


# --------------------------------------------------------- resolve_data_dir

def test_resolve_data_dir_prefers_argument_then_env_then_default(monkeypatch, tmp_path):
    monkeypatch.setenv("NNLITE_DATA", str(tmp_path / "env"))
    assert data.resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert data.resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("NNLITE_DATA")
    assert data.resolve_data_dir() == Path.home() / ".cache" / "nnlite"


def test_resolve_data_dir_rejects_non_path():
    with pytest.raises(TypeError, match="data_dir"):
        data.resolve_data_dir(3)


# ------------------------------------------------------------------ read_idx

@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_reads_tiny_images_and_labels(tmp_path, compress):
    images = np.arange(3 * 2 * 4, dtype=np.uint8).reshape(3, 2, 4)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    suffix, encode = (".gz", gzip.compress) if compress else ("", bytes)
    (tmp_path / f"images{suffix}").write_bytes(encode(idx_bytes(images)))
    (tmp_path / f"labels{suffix}").write_bytes(encode(idx_bytes(labels)))

    X, y = data.read_idx(tmp_path / f"images{suffix}"), data.read_idx(str(tmp_path / f"labels{suffix}"))

    assert X.dtype == np.uint8 and X.shape == (3, 2, 4) and np.array_equal(X, images)
    assert y.dtype == np.uint8 and np.array_equal(y, labels)
    assert X.flags.writeable


def test_read_idx_decodes_big_endian_int32_to_native(tmp_path):
    values = np.array([[1, -2, 70000], [0, 5, -70000]], dtype=np.int32)
    (tmp_path / "ints.idx").write_bytes(idx_bytes(values, type_code=0x0C))
    read = data.read_idx(tmp_path / "ints.idx")
    assert read.dtype == np.int32 and read.dtype.isnative
    assert np.array_equal(read, values)


def test_read_idx_bad_magic_raises_value_error_naming_file(tmp_path):
    path = tmp_path / "not-idx.bin"
    path.write_bytes(b"\x12\x34\x08\x01" + bytes(12))
    with pytest.raises(ValueError, match="not-idx.bin.*expected an IDX magic number"):
        data.read_idx(path)


def test_read_idx_truncated_gzip_raises_value_error_naming_file(tmp_path):
    compressed = gzip.compress(idx_bytes(np.zeros((10, 28, 28), dtype=np.uint8)))
    path = tmp_path / "cut-images.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(ValueError, match="cut-images.gz.*gzip"):
        data.read_idx(path)


@pytest.mark.parametrize("n_declared", [2, 5])
def test_read_idx_count_mismatch_raises_value_error_naming_file(tmp_path, n_declared):
    content = bytearray(idx_bytes(np.zeros(3, dtype=np.uint8)))
    content[4:8] = n_declared.to_bytes(4, "big")
    path = tmp_path / "labels.idx"
    path.write_bytes(bytes(content))
    with pytest.raises(ValueError, match=f"labels.idx.*declares {n_declared} items.*found 3 data bytes"):
        data.read_idx(path)


# --------------------------------------------------------------------- fetch

def test_fetch_returns_path_of_verified_file(tmp_path, toy_manifest):
    content = idx_bytes(np.array([1, 2, 3], dtype=np.uint8))
    toy_manifest("toy/labels.idx", content)
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "labels.idx").write_bytes(content)
    assert data.fetch("toy/labels.idx", tmp_path, download=False) == tmp_path / "toy" / "labels.idx"


def test_fetch_wrong_checksum_names_file_expected_and_found_sha256(tmp_path, toy_manifest):
    toy_manifest("toy/labels.idx", b"the real content")
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "labels.idx").write_bytes(b"other content")
    with pytest.raises(ValueError) as info:
        data.fetch("toy/labels.idx", tmp_path, download=False)
    message = str(info.value)
    assert "labels.idx" in message
    assert sha256_hex(b"the real content") in message and sha256_hex(b"other content") in message


def test_fetch_hashes_each_file_version_once(tmp_path, toy_manifest, monkeypatch):
    content = b"some bytes"
    toy_manifest("toy/file.bin", content)
    path = tmp_path / "toy" / "file.bin"
    path.parent.mkdir()
    path.write_bytes(content)
    calls = []
    hash_file = fetching._sha256_file
    monkeypatch.setattr(fetching, "_sha256_file", lambda p: calls.append(p) or hash_file(p))

    for _ in range(3):
        data.fetch("toy/file.bin", tmp_path, download=False)
    assert len(calls) == 1
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))   # a new version: hash again
    data.fetch("toy/file.bin", tmp_path, download=False)
    assert len(calls) == 2


def test_fetch_missing_file_offline_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="t10k-labels.*download=False.*NNLITE_DATA"):
        data.fetch(MNIST_TEST_LABELS, tmp_path, download=False)


def test_fetch_missing_emnist_file_points_to_official_archive(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"biometrics\.nist\.gov/cs_links/EMNIST/gzip\.zip"):
        data.fetch("emnist/emnist-letters-test-labels-idx1-ubyte.gz", tmp_path)


def test_fetch_missing_cifar_subset_explains_it_is_not_official(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an official CIFAR-10 file"):
        data.fetch("cifar-10/test_batch.first1000.bin", tmp_path)


def test_fetch_unknown_relpath_raises_value_error(tmp_path):
    with pytest.raises(ValueError, match="relpath.*'mnist/nope.gz'"):
        data.fetch("mnist/nope.gz", tmp_path)


def test_manifest_rows_are_complete():
    entries = data.manifest().values()
    assert {e.dataset for e in entries} == {"mnist", "fashion-mnist", "kmnist", "emnist", "cifar-10"}
    for e in entries:
        assert len(e.sha256) == 64 and e.size > 0 and e.path.startswith(e.dataset + "/")
        assert (e.url == "") == (e.dataset in ("emnist", "cifar-10"))
    kmnist_train = data.manifest()["kmnist/train-images-idx3-ubyte.gz"]
    assert kmnist_train.size == 18165135 and kmnist_train.sha256.startswith("51467d22")


@pytest.mark.shared_data
@requires_shared_data
def test_manifest_matches_shared_sha256sums_and_sizes():
    manifest = data.manifest()
    for line in (SHARED_DATA / "SHA256SUMS").read_text().splitlines():
        sha256, relpath = line.split()
        assert manifest[relpath].sha256 == sha256
        assert manifest[relpath].size == (SHARED_DATA / relpath).stat().st_size


# ------------------------------------------------------------ HTTP downloads

def listing(folder):
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


@pytest.mark.shared_data
@requires_shared_data
def test_download_writes_verified_file_atomically(tmp_path, served_mnist_labels):
    content, url = served_mnist_labels
    cache = tmp_path / "cache"
    path = data.fetch(MNIST_TEST_LABELS, cache, base_url=f"{url}/good/", progress=False)
    assert path == cache / MNIST_TEST_LABELS and path.read_bytes() == content
    assert listing(cache) == ["mnist", "t10k-labels-idx1-ubyte.gz"]
    assert data.read_idx(path).shape == (10000,)


@pytest.mark.shared_data
@requires_shared_data
def test_download_url_override_from_environment_with_progress_bar(tmp_path, served_mnist_labels,
                                                                   monkeypatch, capsys):
    content, url = served_mnist_labels
    monkeypatch.setenv("NNLITE_DATA_URL_MNIST", f"{url}/good")
    path = data.fetch(MNIST_TEST_LABELS, tmp_path / "cache")
    assert path.read_bytes() == content
    assert "t10k-labels" in capsys.readouterr().err


@pytest.mark.shared_data
@requires_shared_data
def test_corrupted_download_raises_and_leaves_no_file(tmp_path, served_mnist_labels):
    content, url = served_mnist_labels
    cache = tmp_path / "cache"
    with pytest.raises(ValueError) as info:
        data.fetch(MNIST_TEST_LABELS, cache, base_url=f"{url}/bad", progress=False)
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte.gz" in message and data.manifest()[MNIST_TEST_LABELS].sha256 in message
    assert not (cache / MNIST_TEST_LABELS).exists()
    assert listing(cache) == ["mnist"]   # the folder only: no temporary litter


def test_http_error_raises_connection_error_and_leaves_no_file(tmp_path, http_server):
    _, url = http_server
    cache = tmp_path / "cache"
    with pytest.raises(ConnectionError, match="t10k-labels.*404"):
        data.fetch(MNIST_TEST_LABELS, cache, base_url=url, progress=False)
    assert listing(cache) == ["mnist"]


def test_kmnist_train_offline_explains_shared_copy_lacks_train_images(tmp_path, http_server):
    _, url = http_server
    with pytest.raises(FileNotFoundError, match="only the KMNIST test images"):
        data.load_kmnist("train", tmp_path, download=False)
    with pytest.raises(FileNotFoundError, match="only the KMNIST test images"):
        data.load_kmnist("train", tmp_path, base_url=url, progress=False)   # server answers 404


# ------------------------------------------------------- loaders, real data

@pytest.mark.shared_data
@requires_shared_data
@pytest.mark.parametrize("loader", [data.load_mnist, data.load_fashion_mnist, data.load_kmnist])
def test_mnist_family_test_split_has_10000_images_and_digit_labels(loader):
    X, y = loader("test", SHARED_DATA, download=False)
    assert X.shape == (10000, 28, 28) and X.dtype == np.uint8
    assert y.shape == (10000,) and y.dtype == np.int64
    assert np.array_equal(np.unique(y), np.arange(10))


@pytest.mark.shared_data
@requires_shared_data
def test_mnist_train_split_has_60000_images():
    X, y = data.load_mnist("train", SHARED_DATA, download=False)
    assert X.shape == (60000, 28, 28) and y.shape == (60000,)
    assert y[:5].tolist() == [5, 0, 4, 1, 9]


@pytest.mark.shared_data
@requires_shared_data
def test_emnist_letters_test_has_official_labels_1_to_26():
    X, y = data.load_emnist_letters("test", SHARED_DATA, download=False)
    assert X.shape == (20800, 28, 28) and X.dtype == np.uint8
    assert np.array_equal(np.bincount(y), [0] + [800] * 26)


@pytest.mark.shared_data
@requires_shared_data
def test_emnist_letters_class_filter_a_to_j_keeps_8000_remapped_to_0_9():
    X_all, y_all = data.load_emnist_letters("test", SHARED_DATA, download=False)
    X, y = data.load_emnist_letters("test", SHARED_DATA, classes="A-J", download=False)
    assert X.shape == (8000, 28, 28)
    assert np.array_equal(np.bincount(y), [800] * 10)
    assert np.array_equal(X, X_all[y_all <= 10]) and np.array_equal(y, y_all[y_all <= 10] - 1)
    X_range, y_range = data.load_emnist_letters("test", SHARED_DATA, classes=range(10), download=False)
    assert np.array_equal(X_range, X) and np.array_equal(y_range, y)


@pytest.mark.shared_data
@requires_shared_data
def test_emnist_letters_class_order_sets_new_labels():
    X, y = data.load_emnist_letters("test", SHARED_DATA, classes=["J", "a"], download=False)
    X_all, y_all = data.load_emnist_letters("test", SHARED_DATA, download=False)
    assert np.array_equal(X[y == 0], X_all[y_all == 10]) and np.array_equal(X[y == 1], X_all[y_all == 1])


@pytest.mark.shared_data
@requires_shared_data
def test_emnist_letters_upright_is_the_transpose_of_each_image():
    X, y = data.load_emnist_letters("test", SHARED_DATA, download=False)
    X_up, y_up = data.load_emnist_letters("test", SHARED_DATA, upright=True, download=False)
    assert np.array_equal(X_up, X.transpose(0, 2, 1)) and np.array_equal(y_up, y)
    assert X_up.flags.c_contiguous


@pytest.mark.parametrize("classes", ["J-A", "A-", "AA", [], ["AB"], [26], [True], 5])
def test_emnist_letters_rejects_bad_classes_before_loading(tmp_path, classes):
    with pytest.raises((ValueError, TypeError), match="classes"):
        data.load_emnist_letters("test", tmp_path, classes=classes, download=False)


@pytest.mark.shared_data
@requires_shared_data
def test_cifar10_test_subset_has_1000_channel_last_images_and_known_labels():
    with pytest.warns(data.SubsetWarning, match="1000-image subset"):
        X, y = data.load_cifar10("test", SHARED_DATA, download=False)
    assert X.shape == (1000, 32, 32, 3) and X.dtype == np.uint8
    assert y[:5].tolist() == [3, 8, 8, 0, 6]
    separate_labels = np.fromfile(SHARED_DATA / "cifar-10" / "test_labels.first1000.bin", dtype=np.uint8)
    assert np.array_equal(y, separate_labels)


@pytest.mark.shared_data
@requires_shared_data
def test_cifar10_train_subset_has_4000_images():
    with pytest.warns(data.SubsetWarning):
        X, y = data.load_cifar10("train", SHARED_DATA, download=False)
    assert X.shape == (4000, 32, 32, 3) and y[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]


# ---------------------------------------------------- loaders, made-up data

def test_cifar10_reads_full_official_batch_channel_last_without_warning(tmp_path):
    records = np.zeros((10000, 3073), dtype=np.uint8)
    red = np.arange(1024) % 251
    records[0, 0], records[0, 1:1025], records[0, 1025:2049], records[0, 2049:] = 7, red, 1, 2
    (tmp_path / "cifar-10").mkdir()
    records.tofile(tmp_path / "cifar-10" / "test_batch.bin")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        X, y = data.load_cifar10("test", tmp_path)
    assert X.shape == (10000, 32, 32, 3) and y[0] == 7
    assert np.array_equal(X[0, :, :, 0], red.reshape(32, 32))
    assert np.all(X[0, :, :, 1] == 1) and np.all(X[0, :, :, 2] == 2)


def test_cifar10_truncated_batch_raises_value_error_naming_file(tmp_path):
    (tmp_path / "cifar-10").mkdir()
    (tmp_path / "cifar-10" / "test_batch.bin").write_bytes(bytes(3073 * 3 + 5))
    with pytest.raises(ValueError, match="test_batch.bin.*expected 10000 CIFAR-10 records"):
        data.load_cifar10("test", tmp_path)


@pytest.mark.parametrize("loader", [data.load_mnist, data.load_fashion_mnist, data.load_kmnist,
                                    data.load_emnist_letters, data.load_cifar10])
def test_loaders_reject_unknown_split(loader, tmp_path):
    with pytest.raises(ValueError, match="split.*'train' or 'test'.*'valid'"):
        loader("valid", tmp_path, download=False)


def test_load_digits_works_offline_with_pixel_counts_0_to_16():
    X, y = data.load_digits()
    assert X.shape == (1797, 8, 8) and X.dtype == np.uint8 and X.max() == 16
    assert y.shape == (1797,) and np.array_equal(np.unique(y), np.arange(10))
    scaled = X / 16   # the documented scaling convention
    assert scaled.min() == 0 and scaled.max() == 1


# ------------------------------------------------------------ preprocessing

def test_scale_255_and_scale_65025_divide_without_mutating_input():
    X = np.array([[0, 51, 255]], dtype=np.uint8)
    before = X.copy()
    assert data.scale_255(X).dtype == np.float32
    np.testing.assert_array_equal(data.scale_255(X), np.array([[0, 0.2, 1]], dtype=np.float32))
    np.testing.assert_allclose(data.scale_65025(X), X / 255 / 255, rtol=1e-7)
    assert data.scale_65025(X).dtype == np.float32 and data.scale_65025(X).max() == np.float32(1 / 255)
    assert np.array_equal(X, before)


@pytest.mark.parametrize("scale", [data.scale_255, data.scale_65025])
def test_scaling_rejects_values_out_of_pixel_range_and_non_numbers(scale):
    with pytest.raises(ValueError, match=r"X: expected raw pixel values in \[0, 255\].*256"):
        scale(np.array([0, 256]))
    with pytest.raises(ValueError, match="X: expected raw pixel values"):
        scale(np.array([0.5, np.nan]))
    with pytest.raises(TypeError, match="X: expected a numeric array"):
        scale(np.array(["a"]))


def test_flatten_is_row_major_per_sample():
    X = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    flat = data.flatten(X)
    assert flat.shape == (2, 12) and np.array_equal(flat[1], X[1].ravel(order="C"))
    assert data.flatten(np.zeros((0, 28, 28))).shape == (0, 784)
    with pytest.raises(ValueError, match="X: expected .* at least 2 dimensions.*found shape \\(5,\\)"):
        data.flatten(np.zeros(5))


def test_train_validation_split_partitions_samples_reproducibly():
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    X_train, X_val, y_train, y_val = data.train_validation_split(X, y, 0.3, rng=0)
    assert X_train.shape == (7, 2) and X_val.shape == (3, 2)
    assert sorted(np.concatenate([y_train, y_val]).tolist()) == list(range(10))
    assert np.array_equal(X_train[:, 0] // 2, y_train) and np.array_equal(X_val[:, 0] // 2, y_val)
    again = data.train_validation_split(X, y, rng=np.random.default_rng(0), n_validation=3)
    assert all(np.array_equal(a, b) for a, b in zip(again, (X_train, X_val, y_train, y_val)))
    assert np.array_equal(X, np.arange(20).reshape(10, 2))


def test_train_validation_split_returns_scikit_learns_order():
    X, y = np.arange(30).reshape(10, 3), np.arange(10) * 10
    parts = data.train_validation_split(X, y, rng=0, n_validation=3)
    assert [p.shape for p in parts] == [(7, 3), (3, 3), (7,), (3,)]   # X_train, X_val, y_train, y_val
    X_train, X_val, y_train, y_val = parts
    assert np.array_equal(X_train[:, 0] * 10 // 3, y_train) and np.array_equal(X_val[:, 0] * 10 // 3, y_val)


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_train_validation_split_holds_out_the_first_rows_of_the_seeds_permutation(seed):
    """The bits the committed records depend on (lottery, DSR, the digits demo, fit's validation_split)."""
    X, y = np.arange(50, dtype=np.float32)[:, None], np.arange(50)
    X_train, X_val, y_train, y_val = data.train_validation_split(X, y, 0.2, rng=seed)
    order = np.random.default_rng(seed).permutation(50)
    assert np.array_equal(y_val, order[:10]) and np.array_equal(y_train, order[10:])
    rng = np.random.default_rng(seed)
    again = data.train_validation_split(X, y, rng=rng, n_validation=10)
    assert all(np.array_equal(a, b) for a, b in zip(again, (X_train, X_val, y_train, y_val)))
    assert not np.array_equal(data.train_validation_split(X, y, rng=rng, n_validation=10)[3], y_val)   # rng moved on


def test_train_validation_split_is_the_split_fit_holds_out():
    from nnlite import MLP, fit
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 4)).astype(np.float32), rng.integers(0, 3, 40)
    model = MLP([4, 3], rng=0)
    history = fit(model, X, y, epochs=1, batch_size=8, rng=7, validation_split=0.25, progress=False)
    _, X_val, _, y_val = data.train_validation_split(X, y, 0.25, rng=7)
    assert model.loss(X_val, y_val) == pytest.approx(history.val_loss[-1], rel=1e-6)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"validation_fraction": 1.5}, ValueError, "validation_fraction: expected a float in \\(0, 1\\)"),
    ({"validation_fraction": "0.2"}, TypeError, "validation_fraction"),
    ({}, ValueError, "exactly one"),
    ({"validation_fraction": 0.2, "n_validation": 2}, ValueError, "exactly one"),
    ({"n_validation": 10}, ValueError, "n_validation: expected 1..9"),
    ({"n_validation": 2.0}, TypeError, "n_validation: expected an int"),
])
def test_train_validation_split_rejects_bad_sizes(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.train_validation_split(np.zeros((10, 2)), np.zeros(10), **kwargs)


def test_train_validation_split_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="X, y: expected the same number of samples"):
        data.train_validation_split(np.zeros((10, 2)), np.zeros(9), 0.2)


def test_one_hot_sets_one_entry_per_row():
    Y = data.one_hot(np.array([2, 0, 1]), 3)
    assert Y.dtype == np.float32
    assert np.array_equal(Y, np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]], dtype=np.float32))


def test_one_hot_rejects_bad_labels_and_class_counts():
    with pytest.raises(ValueError, match=r"y: expected labels in \[0, 3\)"):
        data.one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="y: expected labels of shape \\(n,\\)"):
        data.one_hot(np.zeros((2, 2), dtype=int), 3)
    with pytest.raises(TypeError, match="n_classes: expected an int"):
        data.one_hot(np.array([0]), 3.0)
    with pytest.raises(ValueError, match="n_classes: expected at least 1"):
        data.one_hot(np.array([], dtype=int), 0)
