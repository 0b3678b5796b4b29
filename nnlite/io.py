"""Save and load MLPs as ``.npz`` without pickle, bit-exact.

Layout (shared with the decomposition authors' converted models): arrays
``W1, b1, ..., WL, bL``; a CSR weight is stored as ``W{i}_data``,
``W{i}_indices``, ``W{i}_indptr``, ``W{i}_shape``; a mask as ``mask{i}``.
"""
import os
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from . import sparse
from .mlp import MLP


def model_arrays(model):
    """The dict of arrays ``save`` writes."""
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
    """Write ``model`` to ``path`` (.npz) atomically: a temp file, then a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **model_arrays(model))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file open()'s usual mode
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _weight(arrays, i):
    if f"W{i}" in arrays:
        return arrays[f"W{i}"]
    shape = tuple(int(s) for s in arrays[f"W{i}_shape"])
    return sp.csr_array((arrays[f"W{i}_data"], arrays[f"W{i}_indices"], arrays[f"W{i}_indptr"]), shape=shape)


def load(path):
    """Read an MLP written by ``save`` (or one of the authors' converted models)."""
    with np.load(path, allow_pickle=False) as f:
        arrays = dict(f)
    n_layers = sum(1 for k in arrays if k.startswith("b") and k[1:].isdigit())
    if n_layers == 0 or any(f"b{i}" not in arrays for i in range(1, n_layers + 1)):
        raise ValueError(f"path: expected arrays W1, b1, ..., WL, bL in {path}, found keys {sorted(arrays)}")
    layers = range(1, n_layers + 1)
    return MLP.from_weights([_weight(arrays, i) for i in layers], [arrays[f"b{i}"] for i in layers],
                            [arrays.get(f"mask{i}") for i in layers])
