"""The engine's bad-input suite: every public entry point of ``nnlite`` refuses a
bad array or option with a ValueError or TypeError naming the argument; a
corrupt CSR weight never crashes the process; training stops on divergence;
and a CSR layer trains to the same bits on one or two threads."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from nnlite import MLP, SGD, Adam, DivergenceError, conv, init, sparse
from nnlite import _sparse_kernels as kernels
from nnlite import functional as F
from nnlite.layers import Conv2d, Dense, Flatten, MaxPool2d, ReLU
from nnlite.models import Sequential
from nnlite.train import fit
from strategies import (BAD_ARRAY_KINDS, assert_rejected, bad_arrays, corrupt_csr_weights, float_matrices)

REPO = Path(__file__).resolve().parents[2]
BACKENDS = ["numpy"] + (["numba"] if kernels.AVAILABLE else [])
#: For functions defined for any number of dimensions and widths (ReLU).
VALUE_KINDS = ("nan", "inf", "complex", "object", "string")
NOT_EMPTY = tuple(k for k in BAD_ARRAY_KINDS if k != "empty")  # the primitives accept an empty batch


def good(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape)


def good_csr(shape):
    W = good(shape) * (np.random.default_rng(1).random(shape) < 0.6)
    W[0, 0] = 1.0
    return sparse.to_csr(W)


# -- functional -------------------------------------------------------------------

@given(bad_arrays((4, 3), kinds=NOT_EMPTY), st.booleans())
def test_dense_forward_refuses_a_bad_X_naming_it(drawn, csr):
    W = good_csr((3, 2)) if csr else good((3, 2))
    assert_rejected(F.dense_forward, "X", drawn[1], W, np.zeros(2))


@given(bad_arrays((3, 2), kinds=NOT_EMPTY[:-1] + ("empty",)))
def test_dense_forward_refuses_a_bad_W_naming_it(drawn):
    # a W one column too wide is named through b's message ("... columns of W")
    assert_rejected(F.dense_forward, "W", good((4, 3)), drawn[1], np.zeros(2))


@given(bad_arrays((2,)))
def test_dense_forward_refuses_a_bad_b_naming_it(drawn):
    assert_rejected(F.dense_forward, "b", good((4, 3)), good((3, 2)), drawn[1])


@given(st.sampled_from(["dZ", "X"]), st.data(), st.booleans())
def test_dense_backward_refuses_bad_dZ_or_X_naming_it(argument, data, csr):
    arrays = {"dZ": good((4, 2)), "X": good((4, 3))}
    arrays[argument] = data.draw(bad_arrays(arrays[argument].shape, kinds=NOT_EMPTY))[1]
    W = good_csr((3, 2)) if csr else good((3, 2))
    assert_rejected(F.dense_backward, argument, arrays["dZ"], arrays["X"], W)


@given(bad_arrays((3, 3), kinds=VALUE_KINDS))
def test_relu_forward_and_backward_refuse_bad_values_naming_them(drawn):
    assert_rejected(F.relu_forward, "Z", drawn[1])
    assert_rejected(F.relu_backward, "dA", drawn[1], good((3, 3)))
    assert_rejected(F.relu_backward, "Z", good((3, 3)), drawn[1])


@given(bad_arrays((4, 3), kinds=NOT_EMPTY[:-1] + ("empty",)))  # any number of classes is fine
def test_softmax_cross_entropy_refuses_bad_logits_naming_them(drawn):
    y = np.array([0, 1, 2, 0])
    assert_rejected(F.softmax_cross_entropy_forward, "Z", drawn[1], y)
    assert_rejected(F.softmax_cross_entropy_backward, "Z", drawn[1], y)


@pytest.mark.parametrize("y", [np.array([0, 1, 3, 0]), np.array([0, 1, 2]), np.array([0.5, 1, 2, 0]),
                               np.array(["a", "b", "c", "d"])])
def test_softmax_cross_entropy_refuses_bad_labels_naming_them(y):
    assert_rejected(F.softmax_cross_entropy_forward, "y", good((4, 3)), y)


# -- sparse -----------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@given(drawn=corrupt_csr_weights((3, 4)))
def test_every_checked_product_refuses_a_corrupt_csr_weight(backend, drawn):
    kind, W = drawn
    with sparse.use_backend(backend):
        assert_rejected(sparse.matmul, "W", good((2, 3)), W)
        assert_rejected(sparse.backward_products, "W", good((2, 4)), good((2, 3)), W)
        assert_rejected(F.dense_forward, "W", good((2, 3)), W, np.zeros(4))
        assert_rejected(F.dense_backward, "W", good((2, 4)), good((2, 3)), W)
        if kind != "nan_data":  # pattern_matmul reads the pattern's structure only
            assert_rejected(sparse.pattern_matmul, "pattern", good((3, 2)), good((2, 4)), W)


@pytest.mark.parametrize("backend", BACKENDS)
@given(drawn=corrupt_csr_weights((3, 4), kinds=("index_too_large", "index_negative", "indptr_past_nnz",
                                                "indptr_decreasing", "indptr_too_short")))
def test_unchecked_products_still_refuse_a_corrupt_structure(backend, drawn):
    # check=False skips only the value checks: the kernels never index out of bounds
    with sparse.use_backend(backend):
        assert_rejected(sparse.matmul, "W", good((2, 3)), drawn[1], check=False)
        assert_rejected(sparse.backward_products, "W", good((2, 4)), good((2, 3)), drawn[1], check=False)
        assert_rejected(F.dense_forward, "W", good((2, 3)), drawn[1], np.zeros(4), check=False)


@pytest.mark.parametrize("backend", BACKENDS)
@given(drawn=bad_arrays((2, 3), kinds=NOT_EMPTY))
def test_sparse_products_refuse_a_bad_dense_operand_naming_it(backend, drawn):
    kind, bad = drawn
    W = good_csr((3, 4))
    with sparse.use_backend(backend):
        assert_rejected(sparse.matmul, "X", bad, W)
        assert_rejected(sparse.backward_products, "X", good((2, 4)), bad, W)
        if kind in VALUE_KINDS:  # A is (d_in, n): bad values, not a bad shape
            assert_rejected(sparse.pattern_matmul, "A", bad.T, good((2, 4)), W)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("check", [True, False])
def test_width_mismatches_raise_before_any_kernel_reads_past_X(backend, check):
    W = good_csr((3, 4))
    with sparse.use_backend(backend):
        assert_rejected(sparse.matmul, "X", good((2, 2)), W, check=check)
        assert_rejected(sparse.matmul, "X", good((2, 5)), W.T, check=check)
        assert_rejected(sparse.backward_products, "X", good((2, 4)), good((2, 2)), W, check=check)
        assert_rejected(sparse.backward_products, "dZ", good((2, 3)), good((2, 3)), W, check=check)
        assert_rejected(sparse.pattern_matmul, "A, B", good((3, 2)), good((3, 4)), W, check=check)
        assert_rejected(F.dense_forward, "X", good((2, 2)), W, np.zeros(4), check=check)


def test_csr_only_products_refuse_other_sparse_formats_naming_the_argument():
    W = good_csr((3, 4))
    assert_rejected(sparse.backward_products, "W", good((2, 4)), good((2, 3)), W.tocsc())
    assert_rejected(sparse.pattern_matmul, "pattern", good((3, 2)), good((2, 4)), W.tocoo())
    assert_rejected(sparse.matmul, "W", good((2, 3)), W.tocoo())


def test_primitives_still_accept_an_empty_batch():
    assert sparse.matmul(np.zeros((0, 3)), good_csr((3, 4))).shape == (0, 4)
    assert F.dense_forward(np.zeros((0, 3)), good((3, 4)), np.zeros(4)).shape == (0, 4)
    assert F.relu_forward(np.zeros((0, 3))).shape == (0, 3)


# -- MLP --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.int32, np.int64, bool, np.complex128, "not a dtype", np.float16])
def test_mlp_refuses_a_non_float_dtype(dtype):
    assert_rejected(MLP, "dtype", [3, 2], dtype=dtype)


@pytest.mark.parametrize("sizes", [[3], [3, 0], [3, 2.5], [3, -1], "32", None, 5, [3, True]])
def test_mlp_refuses_bad_layer_sizes(sizes):
    assert_rejected(MLP, "layer_sizes", sizes)


@pytest.mark.parametrize("rng", ["seed", -1, 1.5, True])
def test_mlp_refuses_a_bad_rng(rng):
    assert_rejected(MLP, "rng", [3, 2], rng=rng)


@pytest.mark.parametrize("init_name", ["xavier", None, 3])
def test_mlp_refuses_an_unknown_init(init_name):
    assert_rejected(MLP, "init", [3, 2], init=init_name)


@given(bad_arrays((3, 4), kinds=("nan", "inf", "complex", "object", "string", "empty", "wrong_ndim")))
def test_from_weights_refuses_a_bad_weight_naming_its_index(drawn):
    assert_rejected(MLP.from_weights, "weights[1]", [good((2, 3)), drawn[1]], [np.zeros(3), np.zeros(4)])


@given(drawn=corrupt_csr_weights((3, 4)))
def test_from_weights_refuses_a_corrupt_csr_weight_naming_its_index(drawn):
    assert_rejected(MLP.from_weights, "weights[1]", [good((2, 3)), drawn[1]], [np.zeros(3), np.zeros(4)])


@given(bad_arrays((4,)))
def test_from_weights_refuses_a_bad_bias_naming_its_index(drawn):
    assert_rejected(MLP.from_weights, "biases[1]", [good((2, 3)), good((3, 4))], [np.zeros(3), drawn[1]])


def test_from_weights_refuses_mismatched_counts_and_non_lists():
    assert_rejected(MLP.from_weights, "weights, biases", [good((2, 3))], [np.zeros(3), np.zeros(3)])
    assert_rejected(MLP.from_weights, "weights, biases", [], [])
    assert_rejected(MLP.from_weights, "weights", good((2, 3)), [np.zeros(3)])
    assert_rejected(MLP.from_weights, "masks", [good((2, 3))], [np.zeros(3)], [None, None])


def test_a_diverged_model_cannot_be_rebuilt():
    model = MLP([3, 4, 2], rng=0)
    model.weights[0][0, 0] = np.nan
    assert_rejected(model.copy, "weights[0]")


@given(bad_arrays((5, 3)))
def test_mlp_forward_predict_and_fit_refuse_a_bad_X(drawn):
    model, y = MLP([3, 4, 2], rng=0), np.array([0, 1, 0, 1, 0])
    for call in (model.forward, model.predict, model.predict_proba):
        assert_rejected(call, "X", drawn[1])
    assert_rejected(model.fit, "X", drawn[1], y, epochs=1, progress=False)


@pytest.mark.parametrize("options, argument", [({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch_size"),
                                               ({"validation_split": 1.0}, "validation_split"),
                                               ({"patience": 2}, "patience"), ({"rng": "x"}, "rng"),
                                               ({"divergence_factor": 0.5}, "divergence_factor"),
                                               ({"divergence_factor": np.inf}, "divergence_factor")])
def test_fit_refuses_bad_options_naming_them(options, argument):
    model = MLP([3, 2], rng=0)
    assert_rejected(fit, argument, model, good((6, 3)), np.array([0, 1] * 3), progress=False, **options)


@pytest.mark.parametrize("y", [np.array([0, 1, 2, 0, 1, 0]), np.zeros(5, int), np.full(6, 0.5), None])
def test_fit_refuses_bad_labels_naming_y(y):
    assert_rejected(fit, "y", MLP([3, 2], rng=0), good((6, 3)), y, progress=False)


# -- training stops on divergence ---------------------------------------------------

def _diverging_fit(**options):
    X = np.random.default_rng(0).standard_normal((64, 5)) * 100
    y = np.arange(64) % 3
    return fit(MLP([5, 16, 3], rng=0), X, y, optimizer=SGD(lr=10.0), epochs=20, batch_size=16,
               progress=False, **options)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflows being tested
def test_fit_stops_with_the_epoch_and_the_loss_when_the_loss_explodes():
    with pytest.raises(DivergenceError, match=r"in epoch \d+, minibatch \d+: minibatch loss .* exceeds") as info:
        _diverging_fit()
    assert isinstance(info.value, FloatingPointError)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflows being tested
def test_fit_stops_on_a_non_finite_loss_even_without_a_bound():
    with pytest.raises(DivergenceError, match=r"in epoch \d+, minibatch \d+: minibatch loss (nan|inf).* not finite"):
        _diverging_fit(divergence_factor=None)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflows being tested
def test_fit_stops_before_the_step_that_would_apply_a_nan_gradient():
    model = MLP([3, 2], rng=0)
    model.weights[0][0, 0] = np.inf  # set behind the constructor's back
    before = model.weights[0].copy()
    with pytest.raises(DivergenceError, match="epoch 0, minibatch 0"):
        fit(model, good((6, 3)), np.array([0, 1] * 3), progress=False)
    np.testing.assert_array_equal(model.weights[0], before)


# -- optimizers ---------------------------------------------------------------------

@pytest.mark.parametrize("optimizer", [SGD(0.1), SGD(0.1, momentum=0.9), Adam(1e-3)], ids=["sgd", "momentum", "adam"])
def test_step_inplace_refuses_inconsistent_lists_naming_them(optimizer):
    W, b = good((3, 2)), np.zeros(2)
    assert_rejected(optimizer.step_inplace, "grads", [W, b], [W])            # zip would truncate
    assert_rejected(optimizer.step_inplace, "grads[0]", [W, b], [good((1, 2)), b])  # would broadcast
    assert_rejected(optimizer.step_inplace, "params[0]", [W.tolist(), b], [W, b])  # a list is never updated
    assert_rejected(optimizer.step_inplace, "params[0]", [W.astype(int), b], [W, b])
    assert_rejected(optimizer.step_inplace, "grads[1]", [W, b], [W, b + 1j])
    assert_rejected(optimizer.step_inplace, "grads[0]", [W, b], [sparse.to_csr(W), b])
    assert_rejected(optimizer.step_inplace, "masks[0]", [W, b], [W, b], [np.ones((2, 3), bool), None])
    assert_rejected(optimizer.step_inplace, "masks", [W, b], [W, b], [None])
    assert_rejected(optimizer.step_inplace, "params", W, [W])
    csr = good_csr((3, 2))
    other = sparse.to_csr(np.eye(3, 2))
    assert_rejected(optimizer.step_inplace, "grads[0]", [csr], [other])  # another pattern
    assert optimizer.t == 0 and not optimizer.state  # nothing was updated


@pytest.mark.parametrize("make, argument", [(lambda: SGD(lr=-1), "lr"), (lambda: SGD(lr="a"), "lr"),
                                            (lambda: SGD(momentum=1.0), "momentum"),
                                            (lambda: SGD(momentum="a"), "momentum"),
                                            (lambda: Adam(beta1=np.nan), "beta1"), (lambda: Adam(eps=np.inf), "eps"),
                                            (lambda: Adam(eps="a"), "eps")])
def test_optimizers_refuse_bad_hyperparameters_naming_them(make, argument):
    assert_rejected(make, argument)


# -- init -------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(init.INITIALISERS))
def test_initialisers_take_an_int_rng_and_refuse_bad_fans(name):
    draw = init.INITIALISERS[name]
    np.testing.assert_array_equal(draw(3, 2, 7), draw(3, 2, np.random.default_rng(7)))
    assert_rejected(draw, "d_in", 0, 2, 0)
    assert_rejected(draw, "d_out", 3, -1, 0)
    assert_rejected(draw, "d_in", 2.5, 2, 0)
    assert_rejected(draw, "rng", 3, 2, "seed")
    assert_rejected(draw, "dtype", 3, 2, 0, np.int32)


# -- conv and CNN layers ------------------------------------------------------------

def small_net():
    return Sequential([Conv2d(2, 3, 3, padding=1, rng=0), MaxPool2d(2), ReLU(), Flatten(), Dense(3 * 2 * 2, 2, rng=0)],
               input_shape=(4, 4, 2))


@given(bad_arrays((2, 4, 4, 2)))
def test_cnn_layers_forward_refuse_a_bad_X(drawn):
    net = small_net()
    assert_rejected(net.layers[0].forward, "X", drawn[1])
    if drawn[0] != "wrong_width":  # pooling takes any number of channels
        assert_rejected(net.layers[1].forward, "X", drawn[1])
    assert_rejected(net.forward, "X", drawn[1])
    assert_rejected(net.predict, "X", drawn[1])
    if drawn[0] in VALUE_KINDS:  # conv2d_forward checks the values of im2col(X)
        assert_rejected(conv.conv2d_forward, "X", drawn[1], net.layers[0].W, net.layers[0].b, (3, 3), 1, 1)


@given(bad_arrays((2, 12)))
def test_dense_layer_forward_refuses_a_bad_X(drawn):
    assert_rejected(small_net().layers[-1].forward, "X", drawn[1])


@given(bad_arrays((2, 4, 4, 3), kinds=("nan", "inf", "complex", "object", "string", "wrong_width")))
def test_conv2d_backward_refuses_a_bad_dZ(drawn):
    layer = Conv2d(2, 3, 3, padding=1, rng=0)
    assert_rejected(conv.conv2d_backward, "dZ", drawn[1], good((2, 4, 4, 2)), layer.W, (3, 3), 1, 1)


@pytest.mark.parametrize("dtype", [np.int32, np.complex64])
def test_cnn_layers_refuse_a_non_float_dtype(dtype):
    assert_rejected(Dense, "dtype", 3, 2, dtype=dtype)
    assert_rejected(Conv2d, "dtype", 2, 3, 3, dtype=dtype)


# -- no crash: corrupt CSR weights in a separate process ------------------------------

CRASH_SCRIPT = """
import os, sys, tempfile
import numpy as np, scipy.sparse as sp
from nnlite import MLP, io, sparse
from nnlite import functional as F
from pruning.sparse_layers import DynamicLinear

def corrupt(index):
    W = sp.csr_array(np.ones((3, 4), np.float32))
    W.indices[0] = index
    return W

def refused(call):
    try:
        call()
    except (ValueError, TypeError) as error:
        return "W" in str(error) or "weights" in str(error)
    return False

X = np.ones((2, 3), np.float32)
for backend in sys.argv[1:]:
    sparse.set_backend(backend)
    for index in (4, 2**30, -1, -2**30):
        W = corrupt(index)
        assert refused(lambda: sparse.matmul(X, W)), "matmul"
        assert refused(lambda: sparse.matmul(X, W, check=False)), "matmul unchecked"
        assert refused(lambda: sparse.backward_products(np.ones((2, 4), np.float32), X, W)), "backward"
        assert refused(lambda: F.dense_forward(X, W, np.zeros(4), check=False)), "dense_forward"
        assert refused(lambda: MLP.from_weights([W], [np.zeros(4)])), "from_weights"
        model = MLP([3, 4], rng=0)
        model.weights[0] = W  # swapped in behind the constructor's back
        assert refused(lambda: model.predict(X)), "MLP.predict"
        layer = DynamicLinear(3, 4, sparsity=0.5, storage="csr", rng=0)
        layer.W = W
        assert refused(lambda: layer.forward(X)), "DynamicLinear.forward"
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "tampered.npz")
            np.savez(path, W1_data=W.data, W1_indices=W.indices, W1_indptr=W.indptr,
                     W1_shape=np.array(W.shape), b1=np.zeros(4, np.float32))
            assert refused(lambda: io.load(path)), "io.load"
    print("refused", backend)
"""


def run_python(script, *args, env=None):
    environment = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args], capture_output=True, text=True,
                          env=environment, cwd=REPO, timeout=600)


def test_corrupt_csr_indices_are_refused_and_never_crash_the_process():
    # In a subprocess: before the checks, these inputs ended in SIGSEGV, which
    # would kill pytest itself instead of failing this test.
    result = run_python(CRASH_SCRIPT, *BACKENDS)
    assert result.returncode == 0, f"exit status {result.returncode}\n{result.stderr[-3000:]}"
    assert result.stdout.split() == [word for b in BACKENDS for word in ("refused", b)]


# -- same seed, same bits on one or two threads --------------------------------------

TRAIN_SCRIPT = """
import hashlib
import numpy as np, numba
from nnlite import sparse
from nnlite.layers import Flatten, MaxPool2d, ReLU
from nnlite.models import Sequential
from nnlite.train import fit
from pruning.sparse_layers import DynamicConv2d, DynamicLinear

sparse.set_backend("numba")
rng = np.random.default_rng(0)
X = rng.standard_normal((600, 8, 8, 1)).astype(np.float32)
y = rng.integers(0, 10, 600)
model = Sequential([DynamicConv2d(1, 4, 3, padding=1, sparsity=0.5, activation=None, storage="csr", rng=1),
             MaxPool2d(2), ReLU(), Flatten(), DynamicLinear(64, 300, sparsity=0.8, storage="csr", rng=2),
             DynamicLinear(300, 10, sparsity=0.5, activation=None, storage="csr", rng=3)], input_shape=(8, 8, 1))
fit(model, X, y, epochs=2, batch_size=600, rng=4, progress=False)
digest = hashlib.sha256(b"".join(np.ascontiguousarray(p.data if sparse.is_sparse(p) else p).tobytes()
                                 for p in model.params()))
print(numba.get_num_threads(), digest.hexdigest())
"""


@pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")
def test_a_csr_model_trains_to_the_same_bits_on_one_and_two_threads():
    # every CSR product runs in parallel over its output rows (300 and 10 for
    # the dense layers, 4 channels and 38,400 im2col rows for the convolution),
    # so the two-thread run really splits the work; each output element is
    # still summed by one thread in a fixed order (an earlier kernel that split
    # a sum between threads changed the last bits)
    outputs = {}
    for threads in ("1", "2"):
        result = run_python(TRAIN_SCRIPT, env={"NUMBA_NUM_THREADS": threads, "OMP_NUM_THREADS": "1",
                                               "OPENBLAS_NUM_THREADS": "1"})
        assert result.returncode == 0, result.stderr[-3000:]
        outputs[threads] = result.stdout.split()
    assert outputs["1"][0] == "1" and outputs["2"][0] == "2"
    assert outputs["1"][1] == outputs["2"][1]


@given(drawn=corrupt_csr_weights((3, 4), kinds=("index_too_large", "index_negative", "indptr_past_nnz",
                                                "indptr_decreasing", "indptr_too_short")))
def test_the_csr_helpers_refuse_a_corrupt_structure(drawn):
    mask = np.ones((3, 4), bool)
    for call in (sparse.to_dense, sparse.pattern_mask, sparse.stored_positions, lambda W: sparse.mask_values(mask, W)):
        assert_rejected(call, "W", drawn[1])


@pytest.mark.parametrize("make, argument", [
    (lambda: Conv2d(0, 3, 3), "c_in"), (lambda: Conv2d(2, 0, 3), "c_out"),
    (lambda: Conv2d(2, 3, 3, stride=0), "stride"),
    (lambda: Conv2d(2, 3, 3, padding=-1), "padding"), (lambda: Conv2d(2, 3, 2.5), "kernel_size"),
    (lambda: Dense(2.5, 3), "d_in"), (lambda: Dense(3, 0), "d_out"), (lambda: MaxPool2d(2, stride=0), "stride"),
    (lambda: MaxPool2d(0), "pool_size"), (lambda: Sequential([Flatten(), Dense(4, 2)], (2, 2)), "input_shape"),
    (lambda: Sequential([Flatten(), Dense(4, 2)], (2, 2, 1), predict_batch=0), "predict_batch"),
    (lambda: Dense(3, 2, activation="tanh"), "activation")])
def test_cnn_layer_constructors_refuse_bad_options_naming_them(make, argument):
    assert_rejected(make, argument)


@pytest.mark.parametrize("options, argument", [({"optimizer": "adam"}, "optimizer"), ({"on_step": 5}, "on_step"),
                                               ({"on_epoch_end": "x"}, "on_epoch_end"),
                                               ({"validation_data": (np.zeros((2, 3)),)}, "validation_data"),
                                               ({"validation_data": (np.full((2, 3), np.nan), np.zeros(2, int))},
                                                "validation_data[0]"),
                                               ({"patience": 0, "validation_split": 0.5}, "patience"),
                                               ({"epochs": "3"}, "epochs")])
def test_fit_refuses_bad_objects_naming_them(options, argument):
    assert_rejected(fit, argument, MLP([3, 2], rng=0), good((6, 3)), np.array([0, 1] * 3), progress=False, **options)


def test_set_mask_inplace_refuses_a_bad_layer_index():
    assert_rejected(MLP([3, 2], rng=0).set_mask_inplace, "i", 5, np.ones((3, 2), bool))


@given(bad_arrays((3, 4), kinds=VALUE_KINDS))
def test_softmax_and_log_softmax_refuse_bad_values(drawn):
    assert_rejected(F.softmax, "Z", drawn[1])
    assert_rejected(F.log_softmax, "Z", drawn[1])


@pytest.mark.parametrize("mask", [np.ones((3, 2)), np.ones((2, 3), bool), "all"])
def test_from_weights_refuses_a_bad_mask_naming_its_index(mask):
    assert_rejected(MLP.from_weights, "masks[0]", [good((3, 2))], [np.zeros(2)], [mask])


def test_conv2d_forward_refuses_a_bad_X_or_W_naming_it():
    W, b = good((18, 3)), np.zeros(3)
    assert_rejected(conv.conv2d_forward, "X", good((4, 4, 2)), W, b, (3, 3), 1, 1)
    assert_rejected(conv.conv2d_forward, "W", good((1, 4, 4, 2)), good((17, 3)), b, (3, 3), 1, 1)


# -- probe findings of 2026-12-02 (engine sections), fixed as classes -------------------------------------
# One entry per class of defect; each names the argument as the user passed it.

BAD_COUNTS = [0, -1, 1.5, float("nan"), float("inf"), "3", None]


@pytest.mark.parametrize("value", BAD_COUNTS)
@pytest.mark.parametrize("argument", ["kernel_size", "stride", "padding"])
def test_every_conv_geometry_argument_is_checked_by_one_helper_naming_it(argument, value):
    if argument == "padding" and value == 0:
        value = -1  # padding 0 is valid
    options = {"kernel_size": (3, 3), "stride": 1, "padding": 0, argument: value}
    X, W, b = good((2, 5, 5, 2)), good((18, 4)), np.zeros(4)
    assert_rejected(conv.conv2d_forward, argument, X, W, b, **options)
    assert_rejected(conv.conv2d_backward, argument, np.ones((2, 3, 3, 4)), X, W, **options)
    assert_rejected(conv.im2col, argument, X, **options)
    assert_rejected(conv.check_geometry, argument, **options)


@pytest.mark.parametrize("kernel_size", [(3, 3, 3), (3,), "3", None, (0, 3), (3, 1.5)])
def test_a_kernel_size_not_a_pair_of_positive_ints_is_refused(kernel_size):
    assert_rejected(conv.conv2d_forward, "kernel_size", good((2, 5, 5, 2)), good((18, 4)), np.zeros(4), kernel_size)


@pytest.mark.parametrize("options, argument", [
    ({"size": 0}, "size"), ({"size": -1}, "size"), ({"k": 0}, "k"), ({"k": 9}, "k"), ({"stride": 0}, "stride"),
    ({"stride": -1}, "stride"), ({"padding": -1}, "padding"), ({"stride": 1.5}, "stride")])
def test_output_size_refuses_impossible_geometry_naming_it(options, argument):
    assert_rejected(conv.output_size, argument, **{"size": 5, "k": 3, "stride": 1, "padding": 0, **options})


@pytest.mark.parametrize("options, argument", [
    ({"pool_size": 0}, "pool_size"), ({"pool_size": 1.5}, "pool_size"), ({"pool_size": "2"}, "pool_size"),
    ({"pool_size": (9, 9)}, "pool_size"), ({"stride": 0}, "stride"), ({"stride": -1}, "stride"),
    ({"stride": float("nan")}, "stride"), ({"stride": "2"}, "stride")])
def test_maxpool_refuses_bad_geometry_naming_it(options, argument):
    assert_rejected(conv.maxpool2d_forward, argument, good((2, 5, 5, 2)), **options)


@pytest.mark.parametrize("X", [None, good((5, 5, 2)), good((2, 5, 5, 2)).astype(str)])
def test_conv_primitives_refuse_a_non_array_or_wrong_ndim_in_constant_time(X):
    assert_rejected(conv.maxpool2d_forward, "X", X)
    assert_rejected(conv.im2col, "X", X, (2, 2))


def test_conv_primitives_leave_values_unchecked_as_documented():
    # documented in nnlite.conv: NaN passes through the primitives (nnlite.layers check its input first)
    X = good((1, 4, 4, 1))
    X[0, 0, 0, 0] = np.nan
    assert np.isnan(conv.maxpool2d_forward(X)).any()


@pytest.mark.parametrize("options, argument", [
    ({"input_shape": (8, 8)}, "input_shape"), ({"input_shape": (0, 8, 1)}, "input_shape"),
    ({"input_shape": None}, "input_shape"), ({"input_shape": (2, 2, 1)}, "input_shape"),
    ({"n_classes": 1}, "n_classes"), ({"n_classes": 0}, "n_classes"), ({"n_classes": 1.5}, "n_classes"),
    ({"n_classes": float("nan")}, "n_classes"), ({"channels": ()}, "channels"), ({"channels": (0, 2)}, "channels"),
    ({"channels": (1.5, 2)}, "channels"), ({"hidden": 0}, "hidden"), ({"hidden": float("nan")}, "hidden")])
def test_small_cnn_names_each_bad_size(options, argument):
    from nnlite.models import small_cnn
    kwargs = {"input_shape": (8, 8, 1), "n_classes": 3, "channels": (2, 2), "hidden": 4, "rng": 0, **options}
    assert_rejected(small_cnn, argument, **kwargs)


@pytest.mark.parametrize("input_shape", [(9, 9, 1), None, "889"])
def test_cnn_names_an_input_shape_its_layers_do_not_fit(input_shape):
    assert_rejected(Sequential, "input_shape", [Flatten(), Dense(64, 3, rng=0)], input_shape)


@pytest.mark.parametrize("sizes", [[4, 5, 1], [4, 1]])
def test_mlp_refuses_a_single_output_class(sizes):
    assert_rejected(MLP, "layer_sizes", sizes)


@given(bad_arrays((4, 3), kinds=("nan", "inf", "complex", "object", "string", "wrong_ndim")))
def test_to_csr_checks_W_through_the_shared_weight_checker(drawn):
    assert_rejected(sparse.to_csr, "W", drawn[1])


@pytest.mark.parametrize("W", [None, 1.0, np.ones(3), (good((4, 3)) > 0)])
def test_to_csr_refuses_a_non_float_or_non_matrix_W(W):
    assert_rejected(sparse.to_csr, "W", W)


@pytest.mark.parametrize("mask", [np.full((4, 3), 0.5), np.full((4, 3), "a"), np.ones((3, 4), bool), None])
def test_mask_arguments_are_boolean_arrays_of_the_weight_shape(mask):
    if mask is not None:
        assert_rejected(sparse.to_csr, "mask", good((4, 3)), mask)
    assert_rejected(sparse.mask_values, "mask", mask, good_csr((4, 3)))


@pytest.mark.parametrize("W", ["W", None, good((4, 3)).astype(str), good((4, 3)) + 1j])
def test_to_dense_and_pattern_mask_refuse_what_is_not_a_weight(W):
    assert_rejected(sparse.to_dense, "W", W)
    assert_rejected(sparse.pattern_mask, "W", W)


def test_to_csr_accepts_an_empty_or_all_zero_W_as_documented():
    # documented in to_csr: a compact module's layer may keep no unit; a fully pruned layer stores nothing
    assert sparse.to_csr(np.zeros((0, 3))).shape == (0, 3)
    assert sparse.to_csr(np.zeros((4, 4))).nnz == 0


def test_to_dense_refuses_a_csr_weight_with_nan_values():
    W = good_csr((4, 3))
    W.data[0] = np.nan
    assert_rejected(sparse.to_dense, "W", W)


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_step_inplace_refuses_nan_gradients_when_checked_and_skips_the_pass_when_not(cls):
    params, grads = [np.ones(3)], [np.array([0.1, np.nan, 0.2])]
    assert_rejected(cls(0.1).step_inplace, "grads[0]", params, grads)
    assert np.all(params[0] == 1.0)  # refused before anything is updated
    cls(0.1).step_inplace(params, grads, check=False)  # documented: check=False trusts the values
    assert np.isnan(params[0][1])


@pytest.mark.parametrize("options, argument", [
    ({"epochs": float("nan")}, "epochs"), ({"epochs": float("inf")}, "epochs"), ({"epochs": True}, "epochs"),
    ({"batch_size": float("nan")}, "batch_size"), ({"batch_size": float("inf")}, "batch_size"),
    ({"validation_split": "0.2"}, "validation_split"), ({"optimizer": SGD}, "optimizer"),
    ({"validation_data": (np.zeros((2, 2)), np.zeros(2, int))}, "validation_data")])
def test_fit_names_non_finite_counts_and_other_bad_options(options, argument):
    assert_rejected(fit, argument, MLP([3, 2], rng=0), good((6, 3)), np.array([0, 1] * 3), progress=False, **options)


@pytest.mark.parametrize("n_samples", [0, -1, 1.5, float("nan"), "3", None])
def test_minibatches_refuses_a_bad_sample_count(n_samples):
    from nnlite.train import minibatches
    assert_rejected(minibatches, "n_samples", n_samples, 3, np.random.default_rng(0))


@pytest.mark.parametrize("model", ["model", None, 3])
def test_io_save_names_a_bad_model(model, tmp_path):
    from nnlite import io
    assert_rejected(io.save, "model", model, tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())


def test_io_save_refuses_a_diverged_model_before_writing(tmp_path):
    from nnlite import io
    model = MLP([3, 4, 2], rng=0)
    model.weights[1][0, 0] = np.inf
    assert_rejected(io.save, "model", model, tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("where", ["missing-dir", "dir", "int", "None"])
def test_io_save_and_load_name_a_bad_path(where, tmp_path):
    from nnlite import io
    path = {"missing-dir": tmp_path / "nope" / "m.npz", "dir": tmp_path, "int": 3, "None": None}[where]
    assert_rejected(io.save, "path", MLP([3, 2], rng=0), path)
    if where != "missing-dir":
        assert_rejected(io.load, "path", path)


@pytest.mark.parametrize("tamper", ["nan", "shape", "csr-indices", "csr-indptr-short", "csr-data-short"])
def test_io_load_names_the_path_for_a_file_holding_an_invalid_model(tamper, tmp_path):
    from nnlite import io
    model = MLP.from_weights([good_csr((4, 5)), good((5, 2))], [np.zeros(5), np.zeros(2)])
    arrays = io.model_arrays(model)
    if tamper == "nan":
        arrays["W2"] = np.full((5, 2), np.nan)
    elif tamper == "shape":
        arrays["W2"] = np.ones((2, 2))
    elif tamper == "csr-indices":
        arrays["W1_indices"] = np.full_like(arrays["W1_indices"], 1000)
    elif tamper == "csr-indptr-short":
        arrays["W1_indptr"] = arrays["W1_indptr"][:-1]
    else:
        arrays["W1_data"] = arrays["W1_data"][:-1]
    np.savez(tmp_path / "m.npz", **arrays)
    assert_rejected(io.load, "path", tmp_path / "m.npz")
