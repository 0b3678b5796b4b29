"""Direct calls of small public helpers that other tests reach only indirectly."""
import hashlib

import numpy as np

from nnlite import MLP
from nnlite.data.fetching import sha256_cached
from nnlite.models import forward_layers, mlp_layers
from pruning.experiments.dsr import seed_rows


def test_forward_layers_of_mlp_layers_equals_the_mlp_forward():
    model = MLP([4, 5, 3], rng=0)
    X = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    layers = mlp_layers(model.weights, model.biases)
    np.testing.assert_array_equal(forward_layers(layers, X), model.forward(X))


def test_sha256_cached_is_the_file_sha256_and_follows_a_rewrite(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    assert sha256_cached(path) == hashlib.sha256(b"abc").hexdigest()
    path.write_bytes(b"abcd")
    assert sha256_cached(path) == hashlib.sha256(b"abcd").hexdigest()


def test_seed_rows_pair_each_method_with_dense_by_seed():
    rows = seed_rows({("dense", 0.0): {0: 0.90, 1: 0.92, 2: 0.91},
                      ("dsr", 0.9): {0: 0.89, 1: 0.91, 2: 0.90}})
    dsr = next(row for row in rows if row["method"] == "dsr")
    assert dsr["n"] == 3 and dsr["sparsity"] == 0.9
