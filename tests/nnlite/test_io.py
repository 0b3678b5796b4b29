"""nnlite.io: bit-exact .npz round trips (dense, CSR, masks), no pickle, atomic writes."""
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnlite import MLP, io, sparse
from strategies import masked_mlps_with_batches
from test_functional import snapshot


def model_bits(model):
    """Everything that must survive a round trip: each weight's format and bytes, biases, masks."""
    bits = []
    for W, b, m in zip(model.weights, model.biases, model.masks):
        bits.append((type(W).__name__, snapshot(W), W.dtype, snapshot(b), b.dtype,
                     None if m is None else snapshot(m)))
        if sparse.is_sparse(W):
            bits.append((W.indices.dtype, W.indptr.dtype))
    return bits


def round_trip(model):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.npz"
        io.save(model, path)
        assert os.listdir(tmp) == ["model.npz"]  # no temporary file left behind
        return io.load(path)


@given(masked_mlps_with_batches(dtype=np.float32), st.booleans())
def test_save_load_is_bit_exact_for_dense_csr_and_masks(drawn, drop_masks):
    model, X, _ = drawn
    if drop_masks:
        model.masks = [None if i % 2 else m for i, m in enumerate(model.masks)]
    loaded = round_trip(model)
    assert model_bits(loaded) == model_bits(model)
    assert np.array_equal(loaded.forward(X), model.forward(X))


@given(masked_mlps_with_batches(dtype=np.float64))
def test_save_load_is_bit_exact_in_float64_including_signed_zeros(drawn):
    model, _, _ = drawn
    model.biases[0][:] = -0.0
    loaded = round_trip(model)
    assert model_bits(loaded) == model_bits(model)
    assert np.array_equal(np.signbit(loaded.biases[0]), np.signbit(model.biases[0]))


@given(masked_mlps_with_batches())
def test_save_does_not_mutate_the_model(drawn):
    model, _, _ = drawn
    before = model_bits(model)
    round_trip(model)
    assert model_bits(model) == before


def test_saved_file_holds_the_documented_arrays_and_no_pickle(tmp_path):
    model = MLP([3, 4, 2], rng=0)
    model.set_mask_inplace(1, np.eye(4, 2, dtype=bool))
    model.weights[0] = sparse.to_csr(model.weights[0])
    io.save(model, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        assert sorted(f) == ["W1_data", "W1_indices", "W1_indptr", "W1_shape", "W2", "b1", "b2", "mask2"]
        assert all(f[k].dtype != object for k in f)
        assert f["W1_shape"].tolist() == [3, 4] and f["mask2"].dtype == bool


def test_save_gives_the_file_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        io.save(MLP([2, 2], rng=0), tmp_path / "m.npz")
    finally:
        os.umask(umask)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o644


def test_save_replaces_an_existing_file_and_leaves_nothing_on_failure(tmp_path):
    path = tmp_path / "m.npz"
    io.save(MLP([2, 2], rng=0), path)
    io.save(MLP([2, 3, 2], rng=0), path)
    assert io.load(path).layer_sizes == [2, 3, 2]
    broken = MLP([2, 2], rng=0)
    broken.layers[0].W = None  # model_arrays fails halfway through the write
    with pytest.raises(TypeError):
        io.save(broken, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
    assert io.load(path).layer_sizes == [2, 3, 2]


def test_load_rejects_object_arrays(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, W1=np.zeros((2, 2)), b1=np.array([None, None], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        io.load(path)


def test_load_names_the_path_and_keys_when_layers_are_missing(tmp_path):
    path = tmp_path / "weird.npz"
    np.savez(path, kernel=np.zeros((2, 2)))
    pattern = r"path: expected arrays W1, b1, \.\.\., WL, bL in .*weird.npz, found keys \['kernel'\]"
    with pytest.raises(ValueError, match=pattern):
        io.load(path)
    np.savez(path, W1=np.zeros((2, 2)), b1=np.zeros(2), b3=np.zeros(2))
    with pytest.raises(ValueError, match="path: expected arrays W1, b1"):
        io.load(path)


def test_load_of_mismatched_shapes_names_the_layer(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, W1=np.zeros((2, 3)), b1=np.zeros(3), W2=np.zeros((4, 2)), b2=np.zeros(2))
    with pytest.raises(ValueError, match=r"weights\[1\]: expected 3 input rows, found shape \(4, 2\)"):
        io.load(path)
