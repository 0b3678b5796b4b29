"""Save and load MLPs (``nnlite.models.MLP``) as ``.npz`` without pickle, bit-exact; read Keras HDF5 models.

Layout (shared with the decomposition authors' converted models): arrays
``W1, b1, ..., WL, bL``; a CSR weight is stored as ``W{i}_data``,
``W{i}_indices``, ``W{i}_indptr``, ``W{i}_shape``; a mask as ``mask{i}``.

:func:`load_keras_h5` reads a Keras 2 ``.h5`` file (``model.save``) of Dense
layers with h5py, without Keras: the layer order, sizes and activations come
from the root attribute ``model_config`` (JSON), the arrays from
``model_weights/<layer>/<weight name>``.
"""
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from . import sparse
from .experiment import atomic_write
from ._checks import check_bias, check_weight
from .models import MLP


def _check_model(model):
    """Raise (naming ``model``) unless ``model`` is an MLP with float, finite weights and
    matching biases: what ``load`` would accept back. O(number of weights)."""
    if not isinstance(model, MLP):
        raise TypeError(f"model: expected an nnlite MLP (a Sequential of Dense layers), found "
                        f"{type(model).__name__}; build one with nnlite.MLP or nnlite.io.load")
    for i, (W, b) in enumerate(zip(model.weights, model.biases)):
        check_weight(W, f"model.weights[{i}]")
        check_bias(b, f"model.biases[{i}]", W.shape[1], weight_name=f"model.weights[{i}]")


def model_arrays(model):
    """The dict of arrays ``save`` writes (``model`` checked first: finite float weights, matching biases)."""
    _check_model(model)
    arrays = {}
    for i, (W, b, m) in enumerate(zip(model.weights, model.biases, model.masks), start=1):
        if sparse.is_sparse(W):
            arrays.update({f"W{i}_data": W.data, f"W{i}_indices": W.indices,
                           f"W{i}_indptr": W.indptr, f"W{i}_shape": np.array(W.shape)})
        else:
            arrays[f"W{i}"] = W
        arrays[f"b{i}"] = b
        if m is not None:
            arrays[f"mask{i}"] = m
    return arrays


def save(model, path):
    """Write ``model`` to ``path`` (.npz) atomically (``nnlite.experiment.atomic_write``).

    Raises TypeError/ValueError naming ``model`` (not an MLP, NaN/inf weights)
    or ``path`` (not a str or path, a directory, a missing folder) before
    anything is written.
    """
    arrays = model_arrays(model)
    path = _check_path(path)
    if path.is_dir():
        raise ValueError(f"path: expected a file name such as model.npz, found the directory {path}; "
                         f"pass a file inside it")
    if not path.parent.is_dir():
        raise ValueError(f"path: expected a file in an existing folder, found {path}, whose folder "
                         f"{path.parent} does not exist; create it first")
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _weight(arrays, i):
    if f"W{i}" in arrays:
        return arrays[f"W{i}"]
    shape = tuple(int(s) for s in arrays[f"W{i}_shape"])
    return sp.csr_array((arrays[f"W{i}_data"], arrays[f"W{i}_indices"], arrays[f"W{i}_indptr"]), shape=shape)


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _check_path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or a path, found {type(path).__name__}")
    return Path(path)


def _read_npz(path):
    """All arrays of the .npz file ``path``, refusing anything that is not one."""
    try:
        f = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, zipfile.BadZipFile) as err:   # numpy: "pickled data" for text or garbage
        with open(path, "rb") as f:
            is_hdf5 = f.read(8) == _HDF5_SIGNATURE
        fix = "read it with nnlite.io.load_keras_h5" if is_hdf5 else "save the model again or check the path"
        found = "an HDF5 file" if is_hdf5 else "not one (a text file, a damaged file or another format)"
        raise ValueError(f"path: expected an .npz file of arrays (as nnlite.io.save writes), found {path}, which "
                         f"is {found}; {fix}") from err
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise ValueError(f"path: expected an .npz file of arrays W1, b1, ..., found a single .npy array of "
                         f"shape {f.shape} in {path}; save the model with nnlite.io.save")
    try:
        with f:
            return dict(f)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"path: {path} is a damaged .npz file ({err}); save the model again") from err


def _check_weight_arrays(arrays, i, path):
    csr_keys = [f"W{i}_data", f"W{i}_indices", f"W{i}_indptr", f"W{i}_shape"]
    if f"W{i}" not in arrays and not all(k in arrays for k in csr_keys):
        raise ValueError(f"path: expected array W{i} (or the CSR arrays {', '.join(csr_keys)}) beside b{i} in "
                         f"{path}, found keys {sorted(arrays)}; the file is incomplete, save the model again")


def load(path):
    """Read an MLP written by ``save`` (or one of the authors' converted models).

    Parameters
    ----------
    path : str or os.PathLike
        An ``.npz`` file holding ``W1, b1, ..., WL, bL`` (see the module docstring).

    Returns
    -------
    MLP

    Raises
    ------
    ValueError
        The file is not an ``.npz`` file of arrays, an array is missing, or
        the arrays are no valid model (NaN/inf weights, mismatched shapes,
        corrupt CSR structure); the message names ``path`` and the array.
    """
    path = _check_path(path)
    if path.is_dir():
        raise ValueError(f"path: expected an .npz file, found the directory {path}; pass a file inside it")
    arrays = _read_npz(path)
    n_layers = sum(1 for k in arrays if k.startswith("b") and k[1:].isdigit())
    if n_layers == 0 or any(f"b{i}" not in arrays for i in range(1, n_layers + 1)):
        raise ValueError(f"path: expected arrays W1, b1, ..., WL, bL in {path}, found keys {sorted(arrays)}")
    layers = range(1, n_layers + 1)
    for i in layers:
        _check_weight_arrays(arrays, i, path)
    try:
        return MLP.from_weights([_weight(arrays, i) for i in layers], [arrays[f"b{i}"] for i in layers],
                                [arrays.get(f"mask{i}") for i in layers])
    except (ValueError, TypeError) as err:   # SciPy's CSR constructor or the model's checks
        raise type(err)(f"path: {path} holds no valid model: {err}; save the model again") from err


# ---------------------------------------------------------------------------
# Keras HDF5 (the decomposition authors' published models)
# ---------------------------------------------------------------------------

#: Layers that only reshape the input and hold no weights; allowed before the first Dense layer.
KERAS_INPUT_LAYERS = ("InputLayer", "Flatten")


def load_keras_h5(path):
    """Read a Keras 2 HDF5 model of Dense layers (ReLU hidden, softmax output) as an MLP.

    Only what the MLP computes is accepted: optional ``InputLayer``/``Flatten``
    first, then ``Dense`` layers with biases, ReLU in every hidden layer and
    softmax at the output. The arrays are copied bit for bit (float32 in the
    authors' files); the optimizer state is ignored.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by Keras ``model.save`` (HDF5).

    Returns an MLP: ``weights[i]`` (d_in, d_out) (Keras kernel layout), ``biases[i]`` (d_out,).
    Raises ValueError naming the file and what it found: not HDF5, no ``model_config``, an
    unsupported layer or activation, missing or misshapen weights.
    """
    import h5py   # here, not at the top: only this reader needs it, and it is slow to import

    path = _check_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: expected a Keras .h5 file, found nothing at {path}")
    if not h5py.is_hdf5(path):
        raise ValueError(f"path: expected a Keras HDF5 model file, found {path}, which is not HDF5 "
                         f"(first bytes {path.read_bytes()[:8]!r}); download it again or check the path")
    try:
        with h5py.File(path, "r") as f:
            dense_layers = _keras_dense_layers(f, path)
            arrays = [_keras_dense_weights(f, layer, path) for layer in dense_layers]
    except OSError as err:   # HDF5 signature present but the file is truncated or damaged
        raise ValueError(f"path: expected a readable HDF5 file, found a damaged or truncated one at {path} "
                         f"({err}); download it again") from err
    _check_keras_chain(arrays, dense_layers, path)
    return MLP.from_weights([W for W, _ in arrays], [b for _, b in arrays])


def _keras_model_config(f, path):
    """The ``model_config`` JSON of a Keras file as a dict."""
    if "model_config" not in f.attrs:
        raise ValueError(f"path: expected a root attribute 'model_config' (a Keras model.save file) in {path}, "
                         f"found attributes {sorted(f.attrs)}; a save_weights file has no architecture")
    config = f.attrs["model_config"]
    try:
        return json.loads(config.decode() if isinstance(config, bytes) else str(config))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"path: expected JSON in the 'model_config' attribute of {path}, found "
                         f"{str(config)[:80]!r} ({err})") from err


def _keras_dense_layers(f, path):
    """[(name, units, activation)] of the Dense layers, checked against what an MLP computes."""
    config = _keras_model_config(f, path)
    layers = config.get("config", {}) if isinstance(config, dict) else {}
    layers = layers.get("layers") if isinstance(layers, dict) else layers   # Keras >= 2.2.3 / older
    if config.get("class_name") != "Sequential" or not isinstance(layers, list):
        raise ValueError(f"path: expected a Keras Sequential model in {path}, found class "
                         f"{config.get('class_name')!r}; only Sequential stacks of Dense layers are supported")
    dense = []
    for layer in layers:
        kind, cfg = layer.get("class_name"), layer.get("config", {})
        if kind in KERAS_INPUT_LAYERS and not dense:
            continue
        if kind != "Dense" or not cfg.get("use_bias", True):
            raise ValueError(f"path: expected Dense layers with biases (after optional {KERAS_INPUT_LAYERS}) "
                             f"in {path}, found layer {cfg.get('name')!r} of class {kind!r}"
                             f"{'' if kind != 'Dense' else ' without a bias'}; the MLP cannot compute it")
        dense.append((cfg.get("name"), cfg.get("units"), cfg.get("activation")))
    if not dense:
        raise ValueError(f"path: expected at least one Dense layer in {path}, found layers "
                         f"{[layer.get('class_name') for layer in layers]}")
    _check_keras_activations(dense, path)
    return dense


def _check_keras_activations(dense, path):
    *hidden, (out_name, _, out_activation) = dense
    for name, _, activation in hidden:
        if activation != "relu":
            raise ValueError(f"path: expected activation 'relu' in every hidden layer of {path}, found "
                             f"{activation!r} in layer {name!r}; the MLP computes ReLU hidden layers only")
    if out_activation != "softmax":
        raise ValueError(f"path: expected activation 'softmax' in the output layer of {path}, found "
                         f"{out_activation!r} in layer {out_name!r}; the MLP computes a softmax output only")


def _keras_dense_weights(f, layer, path):
    """(kernel, bias) of one Dense layer, read through its ``weight_names`` attribute."""
    name, units, _ = layer
    weights = f.get("model_weights")
    group = None if weights is None else weights.get(name)
    names = [] if group is None else [n.decode() if isinstance(n, bytes) else str(n)
                                      for n in group.attrs.get("weight_names", [])]
    kinds = [n.rsplit("/", 1)[-1] for n in names]
    if kinds != ["kernel:0", "bias:0"] or not all(n in group for n in names):
        raise ValueError(f"path: expected weights model_weights/{name}/.../kernel:0 and bias:0 for Dense layer "
                         f"{name!r} in {path}, found {names or 'none'}; the file is incomplete")
    W, b = (np.array(group[n]) for n in names)
    if W.ndim != 2 or W.shape[1] != units or b.shape != (units,) or not np.issubdtype(W.dtype, np.floating):
        raise ValueError(f"path: expected a float kernel of shape (d_in, {units}) and a bias of shape ({units},) "
                         f"for Dense layer {name!r} in {path}, found {W.dtype} {W.shape} and {b.dtype} {b.shape}")
    return W, b


def _check_keras_chain(arrays, dense_layers, path):
    for (W_prev, _), (W, _), (name, _, _) in zip(arrays, arrays[1:], dense_layers[1:]):
        if W.shape[0] != W_prev.shape[1]:
            raise ValueError(f"path: expected the kernel of Dense layer {name!r} in {path} to have "
                             f"{W_prev.shape[1]} rows (the previous layer's units), found shape {W.shape}")
