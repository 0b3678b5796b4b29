"""nnlite.io reading files it did not write: the authors' Keras .h5 files, and bad .npz files.

The 37 real Keras files in ../shared/official-models/h5 must load bit for bit
equal to the converted .npz files one folder up (skipped when absent). Bad
files are built here with h5py and NumPy.
"""
import csv
import json
import os
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given

from nnlite import io
from strategies import masked_mlps_with_batches

SHARED_MODELS = Path(os.environ.get("NNLITE_OFFICIAL_MODELS",
                                    Path(__file__).resolve().parents[3] / "shared" / "official-models"))
requires_shared_h5 = pytest.mark.skipif(
    not (SHARED_MODELS / "h5" / "MANIFEST.tsv").is_file(),
    reason=f"{SHARED_MODELS / 'h5'} not present: it holds 37 of the authors' .h5 files (set NNLITE_OFFICIAL_MODELS "
           "to a copy of ../shared/official-models to run this test)")


# ------------------------------------------------------------------ helpers

def keras_layer(kind, name, **config):
    return {"class_name": kind, "config": {"name": name, **config}}


def dense(name, units, activation):
    return keras_layer("Dense", name, units=units, activation=activation, use_bias=True)


def write_keras_h5(path, layers, arrays, class_name="Sequential"):
    """A file laid out as Keras 2.2.4 ``model.save`` writes it: ``arrays`` maps layer name -> (kernel, bias)."""
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps({"class_name": class_name,
                                              "config": {"name": "sequential_1", "layers": layers}})
        group = f.create_group("model_weights")
        for name, tensors in arrays.items():
            layer = group.create_group(name)
            names = [f"{name}/{kind}" for kind in ("kernel:0", "bias:0")][:len(tensors)]
            layer.attrs["weight_names"] = np.array([n.encode() for n in names])
            for weight_name, tensor in zip(names, tensors):
                layer.create_dataset(weight_name, data=tensor)
    return path


def keras_mlp_file(path, sizes=(6, 4, 3), hidden="relu", output="softmax", flatten=True):
    """A valid Keras MLP file (``flatten``: a Flatten layer first, as the authors' files have)."""
    rng = np.random.default_rng(0)
    names = [f"H{i}" for i in range(1, len(sizes) - 1)] + ["output"]
    layers = [keras_layer("Flatten", "Input", batch_input_shape=[None, sizes[0]])] if flatten else []
    layers += [dense(n, units, hidden if n != "output" else output) for n, units in zip(names, sizes[1:])]
    arrays = {n: (rng.standard_normal((a, b)).astype(np.float32), rng.standard_normal(b).astype(np.float32))
              for n, a, b in zip(names, sizes[:-1], sizes[1:])}
    return write_keras_h5(path, layers, arrays), layers, arrays


def assert_refused(path, *fragments):
    with pytest.raises(ValueError) as info:
        io.load_keras_h5(path)
    message = str(info.value)
    assert message.startswith("path:") and str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message


# ------------------------------------------------------- the authors' files

def shared_h5_pairs():
    """(.h5 path, .npz path) for every .h5 copy in ../shared/official-models/h5."""
    with open(SHARED_MODELS / "SOURCES.tsv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    pairs = [(SHARED_MODELS / "h5" / r["source_path_in_repo"], SHARED_MODELS / r["npz_file"]) for r in rows]
    return [(h5, npz) for h5, npz in pairs if h5.is_file()]


def assert_model_equals_npz_bit_for_bit(model, npz_path):
    with np.load(npz_path, allow_pickle=False) as f:
        stored = dict(f)
    found = {f"{kind}{i}": array for i, (W, b) in enumerate(zip(model.weights, model.biases), start=1)
             for kind, array in (("W", W), ("b", b))}
    assert sorted(found) == sorted(stored), npz_path
    for key, array in found.items():
        assert (array.dtype, array.shape) == (stored[key].dtype, stored[key].shape), (npz_path, key)
        assert array.tobytes() == stored[key].tobytes(), (npz_path, key)


@requires_shared_h5
def test_every_authors_h5_file_loads_bit_identical_to_its_npz():
    pairs = shared_h5_pairs()
    assert len(pairs) == 37   # the 16 base models, the faulty model, CM-RIE MNIST-1 and MNIST-4 modules
    for h5_path, npz_path in pairs:
        assert_model_equals_npz_bit_for_bit(io.load_keras_h5(h5_path), npz_path)


@requires_shared_h5
def test_authors_h5_paths_with_spaces_and_parentheses_load_from_str_and_path():
    h5_path = SHARED_MODELS / "h5" / "Replacement" / "Motivating Example" / "Faulty Model" / "mnist.h5"
    sizes = [784, 49, 49, 49, 49, 10]
    assert io.load_keras_h5(str(h5_path)).layer_sizes == io.load_keras_h5(h5_path).layer_sizes == sizes


# ------------------------------------------------------------ valid files

@given(masked_mlps_with_batches(dtype=np.float32, sparse_layers=False))
def test_keras_h5_written_from_an_mlp_loads_back_bit_identical(drawn):
    model, X, _ = drawn
    names = [f"H{i}" for i in range(1, model.n_layers)] + ["output"]
    layers = [dense(n, W.shape[1], "relu" if n != "output" else "softmax") for n, W in zip(names, model.weights)]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_keras_h5(Path(tmp) / "m.h5", layers, dict(zip(names, zip(model.weights, model.biases))))
        loaded = io.load_keras_h5(path)
    for a, b in zip(loaded.weights + loaded.biases, model.weights + model.biases):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert np.array_equal(loaded.forward(X), model.forward(X))


def test_keras_h5_without_flatten_layer_loads(tmp_path):
    path, _, arrays = keras_mlp_file(tmp_path / "m.h5", flatten=False)
    model = io.load_keras_h5(path)
    assert model.layer_sizes == [6, 4, 3] and np.array_equal(model.weights[1], arrays["output"][0])


# ------------------------------------------------------------- refusals

def test_keras_h5_refuses_a_file_that_is_not_hdf5(tmp_path):
    path = tmp_path / "model.h5"
    path.write_text("404: Not Found")
    assert_refused(path, "not HDF5")


def test_keras_h5_refuses_a_truncated_hdf5_file(tmp_path):
    path, _, _ = keras_mlp_file(tmp_path / "m.h5")
    path.write_bytes(path.read_bytes()[:1500])
    assert_refused(path)


def test_keras_h5_refuses_a_missing_file_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing at"):
        io.load_keras_h5(tmp_path / "absent.h5")


def test_keras_h5_refuses_a_weights_only_file_without_model_config(tmp_path):
    path = tmp_path / "weights.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("H1/kernel:0", data=np.zeros((2, 2), np.float32))
    assert_refused(path, "model_config")


@pytest.mark.parametrize("layer", [keras_layer("Conv2D", "conv", filters=4), keras_layer("Dropout", "drop", rate=0.5),
                                   keras_layer("BatchNormalization", "bn")])
def test_keras_h5_refuses_a_layer_other_than_dense(tmp_path, layer):
    path, layers, arrays = keras_mlp_file(tmp_path / "m.h5")
    write_keras_h5(path, layers[:2] + [layer] + layers[2:], arrays)
    assert_refused(path, layer["class_name"], layer["config"]["name"])


def test_keras_h5_refuses_flatten_between_dense_layers(tmp_path):
    path, layers, arrays = keras_mlp_file(tmp_path / "m.h5")
    write_keras_h5(path, layers[:2] + [keras_layer("Flatten", "late")] + layers[2:], arrays)
    assert_refused(path, "Flatten", "late")


def test_keras_h5_refuses_a_functional_model(tmp_path):
    path, layers, arrays = keras_mlp_file(tmp_path / "m.h5")
    write_keras_h5(path, layers, arrays, class_name="Model")
    assert_refused(path, "Sequential", "Model")


def test_keras_h5_refuses_a_dense_layer_without_bias(tmp_path):
    path, layers, arrays = keras_mlp_file(tmp_path / "m.h5")
    layers[1]["config"]["use_bias"] = False
    write_keras_h5(path, layers, arrays)
    assert_refused(path, "without a bias", "H1")


@pytest.mark.parametrize("hidden", ["tanh", "sigmoid", "linear", None])
def test_keras_h5_refuses_a_hidden_activation_other_than_relu(tmp_path, hidden):
    path, _, _ = keras_mlp_file(tmp_path / "m.h5", hidden=hidden)
    assert_refused(path, "relu", repr(hidden), "H1")


@pytest.mark.parametrize("output", ["sigmoid", "linear", "relu"])
def test_keras_h5_refuses_an_output_other_than_softmax(tmp_path, output):
    path, _, _ = keras_mlp_file(tmp_path / "m.h5", output=output)
    assert_refused(path, "softmax", repr(output), "output")


def test_keras_h5_refuses_a_missing_bias(tmp_path):
    path, layers, arrays = keras_mlp_file(tmp_path / "m.h5")
    write_keras_h5(path, layers, {**arrays, "output": arrays["output"][:1]})
    assert_refused(path, "bias:0", "'output'")


def test_keras_h5_refuses_a_missing_layer_group(tmp_path):
    path, layers, arrays = keras_mlp_file(tmp_path / "m.h5")
    write_keras_h5(path, layers, {"H1": arrays["H1"]})
    assert_refused(path, "'output'", "found none")


def test_keras_h5_refuses_a_kernel_whose_width_is_not_the_units(tmp_path):
    path, layers, arrays = keras_mlp_file(tmp_path / "m.h5")
    W, b = arrays["H1"]
    write_keras_h5(path, layers, {**arrays, "H1": (W[:, :-1], b)})
    assert_refused(path, "'H1'", str(W[:, :-1].shape))


def test_keras_h5_refuses_kernels_that_do_not_chain(tmp_path):
    path, layers, arrays = keras_mlp_file(tmp_path / "m.h5")
    W, b = arrays["output"]
    write_keras_h5(path, layers, {**arrays, "output": (np.vstack([W, W]), b)})
    assert_refused(path, "'output'", "rows")


def test_keras_h5_refuses_integer_kernels(tmp_path):
    path, layers, arrays = keras_mlp_file(tmp_path / "m.h5")
    W, b = arrays["H1"]
    write_keras_h5(path, layers, {**arrays, "H1": (W.astype(np.int32), b)})
    assert_refused(path, "int32")


def test_keras_h5_rejects_a_non_path_argument():
    with pytest.raises(TypeError, match="path"):
        io.load_keras_h5(3)


# ------------------------------------------------------ bad .npz for io.load

def test_load_names_path_and_the_missing_weight_array(tmp_path):
    path = tmp_path / "model.npz"
    np.savez(path, W1=np.zeros((3, 2), np.float32), b1=np.zeros(2, np.float32), b2=np.zeros(2, np.float32))
    with pytest.raises(ValueError) as info:
        io.load(path)
    message = str(info.value)
    assert message.startswith("path:") and str(path) in message and "W2" in message


def test_load_names_path_when_a_csr_array_is_missing(tmp_path):
    path = tmp_path / "model.npz"
    np.savez(path, W1_data=np.ones(1, np.float32), W1_indices=np.zeros(1, np.int32), W1_shape=np.array([1, 1]),
             b1=np.zeros(1, np.float32))
    with pytest.raises(ValueError, match="path:.*W1_indptr"):
        io.load(path)


@pytest.mark.parametrize("content", [b"W1,b1\n1.0,2.0\n", b"\x00garbage" * 10, b"PK\x03\x04broken zip", b""])
def test_load_refuses_text_or_garbage_without_numpys_pickle_message(tmp_path, content):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        io.load(path)
    message = str(info.value)
    assert message.startswith("path:") and str(path) in message and "pickle" not in message


def test_load_of_a_keras_file_points_to_load_keras_h5(tmp_path):
    path, _, _ = keras_mlp_file(tmp_path / "m.h5")
    with pytest.raises(ValueError, match="path:.*HDF5 file; read it with nnlite.io.load_keras_h5"):
        io.load(path)


def test_load_refuses_a_single_npy_array(tmp_path):
    path = tmp_path / "model.npy"
    np.save(path, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="path:.*single .npy array"):
        io.load(path)


def test_to_csr_refuses_float16_which_scipy_cannot_store_sparse():
    from nnlite import sparse
    with pytest.raises(TypeError, match="W:.*float16.*float32"):
        sparse.to_csr(np.eye(3, dtype=np.float16))
    assert sparse.to_csr(np.eye(3, dtype=np.float32)).dtype == np.float32
