#!/usr/bin/env python
"""An outside-style probe: bad or edge inputs fed to the public API and the command lines.

Usage::

    python tests/probe_bad_inputs.py [--only PATTERN] [--no-cli] [--no-api] [--list] [--json-out PATH]

Every case feeds ONE bad value to a public function, class or command line
whose other arguments are good, and classifies what happens:

- ``crash``: the process died from a signal (SIGSEGV, SIGABRT, ...);
- ``hang``: an API call did not return within ``API_TIMEOUT`` seconds;
- ``silent``: the call returned normally (a command line exited 0, or was
  still running after ``CLI_TIMEOUT`` seconds, i.e. it accepted the bad value
  and started work);
- ``unclear``: an exception other than ValueError/TypeError (some cases also
  accept FileNotFoundError for a missing path), or a message that does not
  name the argument; for a command line: an exit status other than 2, a
  traceback, a stderr of more than one line, or no mention of the option;
- ``clear``: everything else.

API cases run in one worker subprocess per batch: the worker announces each
case before calling it, so when it dies from a signal or hangs, the driver
records that case and restarts a worker after it. Each family of cases also
runs one good call (a "control"); a failed control means the probe itself is
wrong about the API, and is listed separately (not counted as an input).

The last line printed is JSON:
``{"inputs": .., "clear": .., "unclear": .., "silent": .., "crash": .., "hang": .., "documented": ..}``;
"documented" counts the unclear or silent cases that the library documents as
intended (see ``DOCUMENTED``: empty batches, the unchecked conv primitives).
Run it against another checkout with ``PYTHONPATH=/path/to/checkout``.
"""
import argparse
import json
import math
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

API_TIMEOUT = 30.0
CLI_TIMEOUT = 20.0
NAN, INF = float("nan"), float("inf")
HERE = os.path.dirname(os.path.abspath(__file__))


class Case:
    """One input: ``thunk()`` is called (API) or ``argv`` is run (CLI)."""

    def __init__(self, name, arg, thunk=None, argv=None, accept=(ValueError, TypeError), control=False,
                 setup=None):
        self.name, self.arg, self.thunk, self.argv = name, arg, thunk, argv
        self.accept, self.control, self.setup = accept, control, setup
        self.also = None  # another string that names the argument (a path: the path itself)


# ---------------------------------------------------------------------------
# Bad values
# ---------------------------------------------------------------------------

def bad_float_arrays(shape, extra=True):
    """(label, array) pairs meant to replace a finite float array of ``shape``."""
    good = np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape)
    nan, inf = good.copy(), good.copy()
    nan.flat[0], inf.flat[-1] = np.nan, np.inf
    out = [("nan", nan), ("inf", inf), ("complex", good + 1j), ("object", good.astype(object)),
           ("str", good.astype(str)), ("empty", np.zeros((0,) + tuple(shape[1:]))), ("ndim+1", good[..., None]),
           ("width+1", np.zeros(tuple(shape[:-1]) + (shape[-1] + 1,))), ("None", None)]
    if len(shape) > 1:
        out.append(("ndim-1", good[0]))
    if extra:
        out.append(("scalar", 1.0))
    return out


def bad_ints(allow=()):
    """Bad values for a count that must be a positive int; ``allow`` removes labels that are valid."""
    values = [("0", 0), ("-1", -1), ("1.5", 1.5), ("nan", NAN), ("inf", INF), ("str", "3"), ("None", None)]
    return [(k, v) for k, v in values if k not in allow]


def bad_fractions(allow=()):
    values = [("-0.1", -0.1), ("1.5", 1.5), ("nan", NAN), ("inf", INF), ("str", "0.5"), ("None", None)]
    return [(k, v) for k, v in values if k not in allow]


def bad_positive_floats(allow=()):
    values = [("0", 0.0), ("-1", -1.0), ("nan", NAN), ("inf", INF), ("str", "0.1"), ("None", None)]
    return [(k, v) for k, v in values if k not in allow]


def bad_choices():
    return [("unknown", "bogus"), ("None", None), ("int", 3)]


def bad_rngs():
    return [("str", "seed"), ("float", 1.5), ("negative", -1)]


def bad_labels(n, k=3):
    return [("float-1.5", np.full(n, 1.5)), ("negative", np.full(n, -1)), ("too-big", np.full(n, k)),
            ("short", np.zeros(n - 1, dtype=int)), ("2-d", np.zeros((n, 1), dtype=int)), ("str", np.array(["a"] * n)),
            ("None", None), ("nan", np.full(n, np.nan))]


def csr_parts(shape=(4, 3)):
    """Valid (data, indices, indptr) of a 4x3 CSR matrix with 5 stored entries."""
    return (np.array([1.0, -2.0, 0.5, 3.0, 1.5]), np.array([0, 2, 1, 0, 2], dtype=np.int32),
            np.array([0, 2, 3, 4, 5], dtype=np.int32))


def bad_csrs(shape=(4, 3)):
    """(label, csr_array) with a corrupted structure, built without SciPy's checks."""
    import scipy.sparse as sp
    out = []
    mods = {"col-out-of-range": lambda d, i, p: (d, np.where(i == 2, 1000, i).astype(np.int32), p),
            "col-negative": lambda d, i, p: (d, np.where(i == 2, -1, i).astype(np.int32), p),
            "indptr-non-monotone": lambda d, i, p: (d, i, np.array([0, 3, 2, 4, 5], dtype=np.int32)),
            "indptr-past-end": lambda d, i, p: (d, i, np.array([0, 2, 3, 4, 500], dtype=np.int32)),
            "indptr-short": lambda d, i, p: (d, i, p[:-1]),
            "data-short": lambda d, i, p: (d[:-1], i, p),
            "nan-data": lambda d, i, p: (np.where(d == 3.0, np.nan, d), i, p)}
    for label, mod in mods.items():
        d, i, p = mod(*csr_parts(shape))
        W = sp.csr_array(shape)
        W.data, W.indices, W.indptr = d, i, p  # bypass SciPy's constructor checks, as a tampered file would
        out.append((label, W))
    return out


def good_csr():
    import scipy.sparse as sp
    return sp.csr_array(csr_parts(), shape=(4, 3))


# ---------------------------------------------------------------------------
# Case builders
# ---------------------------------------------------------------------------

def vary(prefix, call, good, bad, control=True):
    """Cases ``call(**{**good, arg: value})`` for each ``arg: [(label, value), ...]`` in ``bad``."""
    cases = []
    if control:
        cases.append(Case(f"{prefix} [control]", "", lambda: call(**good), control=True))
    for arg, values in bad.items():
        for label, value in values:
            kwargs = {**good, arg: value}
            case = Case(f"{prefix} {arg}={label}", arg, lambda kw=kwargs: call(**kw))
            if isinstance(value, str) and os.sep in value:
                case.also = value
            cases.append(case)
    return cases


def tiny_xy(n=12, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), np.arange(n) % k


def tiny_mlp(sizes=(4, 5, 3), seed=0):
    from nnlite import MLP
    return MLP(list(sizes), rng=seed, dtype=np.float64)


def sparse_cases():
    from nnlite import sparse
    X = np.linspace(-1, 1, 8).reshape(2, 4)
    W = np.linspace(-1, 1, 12).reshape(4, 3)
    cases = vary("sparse.to_csr", lambda W, mask: sparse.to_csr(W, mask), {"W": W, "mask": None},
                 {"W": bad_float_arrays((4, 3)) + [("float16", W.astype(np.float16)), ("bool", W > 0)],
                  "mask": [("wrong-shape", np.ones((3, 4), bool)), ("float", np.full((4, 3), 0.5)),
                           ("str", np.full((4, 3), "a"))]})
    cases += vary("sparse.matmul dense-W", sparse.matmul, {"X": X, "W": W}, {"X": bad_float_arrays((2, 4))},
                  control=True)
    cases += vary("sparse.matmul csr-W", lambda X, W: sparse.matmul(X, good_csr() if W is None else W),
                  {"X": X, "W": None}, {"X": bad_float_arrays((2, 4))[:-1] + [("width-1", X[:, :3]),
                                                                             ("width+5", np.ones((2, 9)))]})
    cases += vary("sparse.matmul", sparse.matmul, {"X": X, "W": good_csr()},
                  {"W": bad_csrs() + [("str", "W"), ("3-d", np.ones((4, 3, 1)))]}, control=False)
    cases += vary("sparse.to_dense", sparse.to_dense, {"W": good_csr()},
                  {"W": bad_csrs() + [("str", "W"), ("None", None)]})
    cases += vary("sparse.pattern_mask", sparse.pattern_mask, {"W": good_csr()}, {"W": bad_csrs()[:4] + [("str", "W")]})
    cases += vary("sparse.stored_positions", sparse.stored_positions, {"W": good_csr()},
                  {"W": bad_csrs()[:4] + [("str", "W")]})
    A, B = np.ones((4, 2)), np.ones((2, 3))
    cases += vary("sparse.pattern_matmul", lambda A, B, pattern: sparse.pattern_matmul(A, B, pattern),
                  {"A": A, "B": B, "pattern": good_csr()},
                  {"A": [("width+1", np.ones((4, 3))), ("rows-1", np.ones((3, 2))), ("nan", np.full((4, 2), np.nan)),
                         ("str", np.full((4, 2), "a")), ("None", None)],
                   "B": [("rows+1", np.ones((3, 3))), ("cols+1", np.ones((2, 4))), ("complex", B + 1j)],
                   "pattern": bad_csrs()[:5] + [("dense", np.ones((4, 3))), ("None", None)]})
    dZ = np.ones((2, 3))
    cases += vary("sparse.backward_products", lambda dZ, X, W: sparse.backward_products(dZ, X, W),
                  {"dZ": dZ, "X": X, "W": good_csr()},
                  {"dZ": [("width+1", np.ones((2, 4))), ("rows+1", np.ones((3, 3))), ("nan", np.full((2, 3), np.nan)),
                          ("str", np.full((2, 3), "a")), ("None", None)],
                   "X": [("width-1", X[:, :3]), ("width+3", np.ones((2, 7))), ("rows+1", np.ones((3, 4))),
                         ("complex", X + 1j), ("None", None)],
                   "W": bad_csrs()[:5] + [("str", "W")]})
    cases += vary("sparse.mask_values", lambda mask, W: sparse.mask_values(mask, W),
                  {"mask": np.ones((4, 3), bool), "W": good_csr()},
                  {"mask": [("wrong-shape", np.ones((3, 4), bool)), ("float", np.full((4, 3), 0.5)), ("None", None)],
                   "W": [("str", "W"), ("wrong-shape", np.ones((3, 4)))] + bad_csrs()[:2]})
    cases += vary("sparse.nbytes", lambda W, fmt: sparse.nbytes(W, fmt), {"W": W, "fmt": None},
                  {"fmt": [("unknown", "bogus"), ("int", 3)], "W": [("str", "W"), ("None", None)]})
    cases += vary("sparse.set_backend", lambda name: sparse.use_backend(name).__enter__(), {"name": sparse.backend()},
                  {"name": bad_choices()[::2]})  # None is valid: back to the default
    for backend in sparse.BACKENDS:  # the corrupted CSR structures again, on each CSR backend by name
        def on(call, backend=backend):
            def run(**kw):
                with sparse.use_backend(backend):
                    return call(**kw)
            return run
        cases += vary(f"sparse.matmul[{backend}]", on(lambda X, W: sparse.matmul(X, W)), {"X": X, "W": good_csr()},
                      {"W": bad_csrs()[:5], "X": [("width-1", X[:, :3]), ("width+5", np.ones((2, 9)))]})
        cases += vary(f"sparse.backward_products[{backend}]", on(lambda dZ, X, W: sparse.backward_products(dZ, X, W)),
                      {"dZ": np.ones((2, 3)), "X": X, "W": good_csr()},
                      {"W": bad_csrs()[:5], "X": [("width-1", X[:, :3]), ("width+5", np.ones((2, 9)))]})
    return cases


def functional_cases():
    from nnlite import functional as F
    X, W, b = np.ones((2, 4)), np.ones((4, 3)), np.zeros(3)
    cases = vary("functional.dense_forward", F.dense_forward, {"X": X, "W": W, "b": b},
                 {"X": bad_float_arrays((2, 4)), "W": bad_float_arrays((4, 3))[:9], "b": bad_float_arrays((3,))[:9]})
    cases += vary("functional.dense_forward csr-W", lambda X: F.dense_forward(X, good_csr(), b), {"X": X},
                  {"X": [("width-1", X[:, :3]), ("width+5", np.ones((2, 9))), ("nan", np.full((2, 4), np.nan))]},
                  control=False)
    cases += vary("functional.dense_backward", lambda dZ, X, W: F.dense_backward(dZ, X, W),
                  {"dZ": np.ones((2, 3)), "X": X, "W": W},
                  {"dZ": [("width+1", np.ones((2, 4))), ("rows+1", np.ones((3, 3))), ("nan", np.full((2, 3), np.nan))],
                   "X": [("width+1", np.ones((2, 5))), ("rows+1", np.ones((3, 4))), ("str", X.astype(str))],
                   "W": [("csr-width-mismatch", good_csr()[:3])] if False else [("rows+1", np.ones((5, 3)))]})
    cases += vary("functional.dense_backward csr-W", lambda X: F.dense_backward(np.ones((2, 3)), X, good_csr()),
                  {"X": X}, {"X": [("width-1", X[:, :3]), ("width+5", np.ones((2, 9)))]}, control=False)
    Z = np.linspace(-1, 1, 6).reshape(2, 3)
    for fname in ("relu_forward", "softmax", "log_softmax"):
        cases += vary(f"functional.{fname}", getattr(F, fname), {"Z": Z}, {"Z": bad_float_arrays((2, 3))[:6] + [("None", None)]})
    cases += vary("functional.relu_backward", F.relu_backward, {"dA": Z, "Z": Z},
                  {"dA": [("shape", np.ones((3, 3))), ("nan", np.full((2, 3), np.nan))], "Z": [("shape", np.ones((2, 4)))]})
    y = np.array([0, 2])
    for fname in ("softmax_cross_entropy_forward", "softmax_cross_entropy_backward"):
        cases += vary(f"functional.{fname}", getattr(F, fname), {"Z": Z, "y": y},
                      {"Z": [("nan", np.full((2, 3), np.nan)), ("1-d", Z[0]), ("str", Z.astype(str))],
                       "y": bad_labels(2)})
    return cases


def conv_cases():
    from nnlite import conv
    X = np.linspace(-1, 1, 2 * 5 * 5 * 2).reshape(2, 5, 5, 2)
    W, b = np.ones((3 * 3 * 2, 4)), np.zeros(4)
    good = {"X": X, "W": W, "b": b, "kernel_size": (3, 3), "stride": 1, "padding": 0}
    cases = vary("conv.conv2d_forward", conv.conv2d_forward, good,
                 {"X": bad_float_arrays((2, 5, 5, 2))[:5] + [("3-d", X[0]), ("channels+1", np.ones((2, 5, 5, 3))),
                                                              ("too-small", np.ones((2, 2, 2, 2))), ("None", None)],
                  "W": [("rows+1", np.ones((19, 4))), ("nan", np.full((18, 4), np.nan)), ("1-d", np.ones(18))],
                  "b": [("len+1", np.zeros(5)), ("nan", np.full(4, np.nan))],
                  "kernel_size": [("0", 0), ("-1", -1), ("1.5", 1.5), ("str", "3"), ("triple", (3, 3, 3)), ("None", None)],
                  "stride": bad_ints(), "padding": bad_ints(allow=("0",))})
    cases += vary("conv.maxpool2d_forward", conv.maxpool2d_forward, {"X": X, "pool_size": (2, 2), "stride": None},
                  {"X": bad_float_arrays((2, 5, 5, 2))[:5] + [("3-d", X[0]), ("None", None)],
                   "pool_size": [("0", 0), ("-1", -1), ("1.5", 1.5), ("too-big", (9, 9)), ("str", "2")],
                   "stride": bad_ints(allow=("None",))})
    cases += vary("conv.im2col", conv.im2col, {"X": X, "kernel_size": (3, 3), "stride": 1, "padding": 0},
                  {"X": [("3-d", X[0]), ("nan", np.full(X.shape, np.nan))], "kernel_size": [("0", 0), ("-2", -2)],
                   "stride": [("0", 0), ("-1", -1)], "padding": [("-1", -1), ("1.5", 1.5)]})
    cases += vary("conv.flatten_forward", conv.flatten_forward, {"X": X},
                  {"X": [("1-d", np.ones(3)), ("None", None), ("str", X.astype(str))]})
    cases += vary("conv.output_size", conv.output_size, {"size": 5, "k": 3, "stride": 1, "padding": 0},
                  {"size": [("0", 0), ("-1", -1)], "k": [("0", 0), ("too-big", 9)], "stride": [("0", 0), ("-1", -1)],
                   "padding": [("-1", -1)]})
    dZ = np.ones((2, 3, 3, 4))
    cases += vary("conv.conv2d_backward", lambda dZ, X: conv.conv2d_backward(dZ, X, W, (3, 3)), {"dZ": dZ, "X": X},
                  {"dZ": [("shape", np.ones((2, 4, 4, 4))), ("nan", np.full(dZ.shape, np.nan))],
                   "X": [("channels+1", np.ones((2, 5, 5, 3)))]})
    return cases


def init_cases():
    from nnlite import init
    cases = []
    for name in ("glorot_uniform", "he_normal"):
        f = getattr(init, name)
        cases += vary(f"init.{name}", f, {"d_in": 4, "d_out": 3, "rng": np.random.default_rng(0)},
                      {"d_in": bad_ints(), "d_out": bad_ints()[:3],
                       "rng": [("str", "seed"), ("float", 1.5)],  # None, an int or a Generator are valid
                       "dtype": [("int32", np.int32), ("str", "bogus"), ("complex", np.complex128)]})
    return cases


def mlp_cases():
    from nnlite import MLP
    cases = vary("MLP", MLP, {"layer_sizes": [4, 5, 3], "rng": 0},
                 {"layer_sizes": [("empty", []), ("one", [4]), ("zero", [4, 0, 3]), ("negative", [4, -1, 3]),
                                  ("float", [4, 1.5, 3]), ("str", "abc"), ("None", None), ("nan", [4, NAN, 3]),
                                  ("inf", [4, INF, 3]), ("one-class", [4, 5, 1])],
                  "init": bad_choices(), "rng": bad_rngs(),
                  "dtype": [("int32", np.int32), ("complex", np.complex128), ("object", object), ("str", "bogus"),
                            ("bool", bool)]})
    W0, W1 = np.ones((4, 5)), np.ones((5, 3))
    b0, b1 = np.zeros(5), np.zeros(3)
    good = {"weights": [W0, W1], "biases": [b0, b1], "masks": None}
    cases += vary("MLP.from_weights", MLP.from_weights, good,
                  {"weights": [("nan", [np.full((4, 5), np.nan), W1]), ("inf", [W0, np.full((5, 3), np.inf)]),
                               ("count", [W0]), ("chain", [W0, np.ones((4, 3))]), ("int", [W0.astype(int), W1]),
                               ("complex", [W0 + 1j, W1]), ("object", [W0.astype(object), W1]),
                               ("str", [W0.astype(str), W1]), ("1-d", [np.ones(4), W1]), ("None", None),
                               ("empty", []), ("not-list", W0)] +
                              [(f"csr-{k}", [W0, np.ones((5, 4))[:, :3] * 0 + 1] if False else [np.ones((4, 4)), v])
                               for k, v in bad_csrs()],
                   "biases": [("nan", [np.full(5, np.nan), b1]), ("count", [b0]), ("shape", [b0, np.zeros(4)]),
                              ("2-d", [b0[None], b1]), ("None", None)],
                   "masks": [("count", [None]), ("shape", [np.ones((5, 4), bool), None]),
                             ("float", [np.full((4, 5), 0.5), None])]})
    X, y = tiny_xy()
    cases += vary("MLP.forward", lambda X: tiny_mlp().forward(X), {"X": X}, {"X": bad_float_arrays((12, 4))})
    cases += vary("MLP.predict", lambda X: tiny_mlp().predict(X), {"X": X}, {"X": bad_float_arrays((12, 4))[:9]})
    cases += vary("MLP.loss_and_grads", lambda X, y: tiny_mlp().loss_and_grads(X, y), {"X": X, "y": y},
                  {"X": bad_float_arrays((12, 4))[:9], "y": bad_labels(12)})
    cases += vary("MLP.score", lambda X, y: tiny_mlp().score(X, y), {"X": X, "y": y}, {"y": bad_labels(12)})
    cases += vary("MLP.set_mask_inplace", lambda i, mask: tiny_mlp().set_mask_inplace(i, mask),
                  {"i": 0, "mask": np.ones((4, 5), bool)},
                  {"i": [("too-big", 5), ("float", 1.5), ("str", "0")],
                   "mask": [("shape", np.ones((5, 4), bool)), ("float", np.full((4, 5), 0.5)), ("None", None),
                            ("str", np.full((4, 5), "a"))]})
    return cases


def cnn_cases():
    from nnlite import layers, models
    cases = vary("layers.Conv2d", layers.Conv2d, {"c_in": 1, "c_out": 2, "kernel_size": 3, "rng": 0},
                 {"c_in": bad_ints()[:5], "c_out": bad_ints()[:3], "kernel_size": bad_ints()[:3],
                  "stride": bad_ints()[:3], "padding": [("-1", -1), ("1.5", 1.5)], "activation": bad_choices()[:1],
                  "init": bad_choices()[:1], "dtype": [("int32", np.int32)]})
    cases += vary("layers.Dense", layers.Dense, {"d_in": 4, "d_out": 3, "rng": 0},
                  {"d_in": bad_ints()[:5], "d_out": bad_ints()[:3], "activation": bad_choices()[:1],
                   "init": bad_choices()[:1], "rng": bad_rngs()[:1]})
    cases += vary("layers.MaxPool2d", layers.MaxPool2d, {"pool_size": 2}, {"pool_size": bad_ints()[:4], "stride": bad_ints()[:3]})
    cases += vary("models.small_cnn", models.small_cnn, {"input_shape": (8, 8, 1), "n_classes": 3, "channels": (2, 2),
                                                   "hidden": 4, "rng": 0},
                  {"input_shape": [("2-d", (8, 8)), ("zero", (0, 8, 1)), ("negative", (8, -8, 1)), ("too-small", (2, 2, 1)),
                                   ("None", None)],
                   "n_classes": bad_ints()[:4] + [("one", 1)], "channels": [("zero", (0, 2)), ("negative", (-1, 2)),
                                                                           ("empty", ()), ("float", (1.5, 2))],
                   "hidden": bad_ints()[:4]})
    X = np.ones((2, 8, 8, 1))
    cases += vary("models.Sequential.forward", lambda X: models.small_cnn((8, 8, 1), 3, channels=(2, 2), hidden=4, rng=0).forward(X),
                  {"X": X}, {"X": bad_float_arrays((2, 8, 8, 1))[:7] + [("flat", np.ones((2, 64))), ("shape", np.ones((2, 9, 9, 1)))]})
    cases += vary("models.Sequential", lambda predict_batch, input_shape: models.Sequential(
                      [layers.Flatten(), layers.Dense(64, 3, rng=0)], input_shape, predict_batch),
                  {"predict_batch": 1000, "input_shape": (8, 8, 1)},
                  {"predict_batch": bad_ints()[:4], "input_shape": [("mismatch", (9, 9, 1)), ("None", None)]})
    return cases


def optim_cases():
    from nnlite import SGD, Adam
    cases = vary("optim.SGD", SGD, {"lr": 0.1, "momentum": 0.0},
                 {"lr": bad_positive_floats(), "momentum": bad_fractions(allow=()) + [("1", 1.0)]})
    cases += vary("optim.Adam", Adam, {"lr": 0.1},
                  {"lr": bad_positive_floats(), "beta1": bad_fractions()[:4], "beta2": bad_fractions()[:4],
                   "eps": bad_positive_floats()[:5]})
    p, g = [np.ones(3), np.ones((2, 2))], [np.ones(3), np.ones((2, 2))]
    for label, cls in (("SGD", SGD), ("Adam", Adam)):
        cases += vary(f"optim.{label}.step_inplace", lambda params, grads, masks, cls=cls: cls(0.1).step_inplace(params, grads, masks),
                      {"params": [q.copy() for q in p], "grads": g, "masks": None},
                      {"grads": [("count-1", g[:1]), ("shape", [np.ones(4), np.ones((2, 2))]),
                                 ("broadcast", [np.ones(1), np.ones((2, 2))]), ("nan", [np.full(3, np.nan), g[1]]),
                                 ("None", None), ("str", [np.full(3, "a"), g[1]])],
                       "params": [("count+1", p + [np.ones(2)]), ("list-param", [[1.0, 2.0, 3.0], np.ones((2, 2))]),
                                  ("int-param", [np.ones(3, dtype=int), np.ones((2, 2))])],
                       "masks": [("count-1", [None]), ("shape", [np.ones(4, bool), None]), ("float", [np.full(3, 0.5), None])]})
    return cases


def train_cases():
    from nnlite import SGD, train
    X, y = tiny_xy()
    good = {"X": X, "y": y, "epochs": 1, "batch_size": 4, "progress": False, "rng": 0}
    fit = lambda **kw: train.fit(tiny_mlp(), **kw)  # noqa: E731
    cases = vary("train.fit", fit, good,
                 {"X": bad_float_arrays((12, 4)), "y": bad_labels(12), "epochs": bad_ints(),
                  "batch_size": bad_ints() + [("bool", True)], "validation_split": [("-0.1", -0.1), ("1.0", 1.0),
                                                                                     ("1.5", 1.5), ("nan", NAN), ("str", "0.2")],
                  "validation_data": [("1-tuple", (X,)), ("bad-X", (X[:, :3], y)), ("bad-y", (X, y[:5])), ("str", "val")],
                  "patience": [("0", 0), ("-1", -1), ("1.5", 1.5), ("str", "3")],
                  "optimizer": [("str", "sgd"), ("class", SGD)], "rng": bad_rngs(),
                  "on_step": [("not-callable", 3)]})
    big = np.full((12, 4), 1e3)
    # divergence is not a bad argument: any exception qualifies if it names the epoch (issue 9, item 3)
    cases.append(Case("train.fit divergence (lr=1e6)", "epoch",
                      lambda: train.fit(tiny_mlp(), big, y, optimizer=SGD(1e6), epochs=3, batch_size=4, progress=False,
                                        rng=0), accept=(Exception,)))
    cases.append(Case("train.fit divergence (NaN weights)", "epoch",
                      lambda: train.fit(_nan_model(), X, y, epochs=1, batch_size=4, progress=False, rng=0),
                      accept=(Exception,)))
    cases += vary("train.minibatches", lambda n_samples, batch_size: list(train.minibatches(n_samples, batch_size, np.random.default_rng(0))),
                  {"n_samples": 10, "batch_size": 3}, {"n_samples": bad_ints()[:4], "batch_size": bad_ints()[:4]})
    cases += vary("train.train_step_inplace", lambda X, y: train.train_step_inplace(tiny_mlp(), SGD(0.1), X, y),
                  {"X": X, "y": y}, {"X": bad_float_arrays((12, 4))[:9], "y": bad_labels(12)[:6]})
    return cases


def _nan_model():
    model = tiny_mlp()
    model.weights[0][0, 0] = np.nan
    return model


def io_cases(tmp):
    from nnlite import io
    model = tiny_mlp()
    good_path = os.path.join(tmp, "good.npz")

    def save_then(path, arrays=None, text=None):
        def thunk():
            if text is not None:
                with open(path, "w") as f:
                    f.write(text)
            elif arrays is not None:
                np.savez(path, **arrays)
            return io.load(path)
        return thunk

    cases = [Case("io.save [control]", "", lambda: io.save(model, good_path), control=True)]
    cases += vary("io.save", lambda model, path: io.save(model, path), {"model": model, "path": os.path.join(tmp, "s.npz")},
                  {"model": [("str", "model"), ("None", None), ("nan-model", _nan_model())],
                   "path": [("missing-dir", os.path.join(tmp, "nope", "m.npz")), ("dir", tmp), ("int", 3), ("None", None)]},
                  control=False)
    cases.append(Case("io.load path=missing", "path", lambda: io.load(os.path.join(tmp, "missing.npz")),
                      accept=(ValueError, TypeError, FileNotFoundError)))
    cases.append(Case("io.load path=dir", "path", lambda: io.load(tmp)))
    cases.append(Case("io.load path=int", "path", lambda: io.load(3)))
    cases.append(Case("io.load path=text", "path", save_then(os.path.join(tmp, "text.npz"), text="hello\n")))
    arrays = io.model_arrays(model)
    for key in list(arrays)[:2]:
        rest = {k: v for k, v in arrays.items() if k != key}
        cases.append(Case(f"io.load path=missing-array-{key}", "path", save_then(os.path.join(tmp, f"miss_{key}.npz"), rest)))
    wkey = next(k for k in arrays if "W" in k or "weight" in k)
    nan_arrays = {**arrays, wkey: np.full_like(arrays[wkey], np.nan)}
    cases.append(Case("io.load path=nan-weights", "path", save_then(os.path.join(tmp, "nanw.npz"), nan_arrays)))
    shape_arrays = {**arrays, wkey: np.ones((2, 2))}
    cases.append(Case("io.load path=wrong-shape-weight", "path", save_then(os.path.join(tmp, "shape.npz"), shape_arrays)))
    for label, W in bad_csrs((4, 5)):
        cases.append(Case(f"io.load path=tampered-csr-{label}", "path", _tampered_csr_thunk(tmp, label)))
    for bad in ("missing", "text"):
        path = os.path.join(tmp, f"{bad}.h5")
        cases.append(Case(f"io.load_keras_h5 path={bad}", "path",
                          (lambda p=path, b=bad: (open(p, "w").write("x") if b == "text" else None, io.load_keras_h5(p))),
                          accept=(ValueError, TypeError, FileNotFoundError)))
    cases.append(Case("io.model_arrays model=str", "model", lambda: io.model_arrays("model")))
    return cases


def _tampered_csr_thunk(tmp, label):
    def thunk():
        from nnlite import io, sparse
        model = tiny_mlp()
        model.weights[0] = sparse.to_csr(model.weights[0])
        path = os.path.join(tmp, f"csr_{label}.npz")
        io.save(model, path)
        with np.load(path) as f:
            arrays = dict(f)
        keys = [k for k in arrays if "indices" in k]
        ptrs = [k for k in arrays if "indptr" in k]
        data = [k for k in arrays if k.endswith("data")]
        if not keys:
            raise RuntimeError(f"probe: no CSR arrays in {sorted(arrays)}")
        if label == "col-out-of-range":
            arrays[keys[0]] = arrays[keys[0]].copy(); arrays[keys[0]][-1] = 1000
        elif label == "col-negative":
            arrays[keys[0]] = arrays[keys[0]].copy(); arrays[keys[0]][-1] = -1
        elif label == "indptr-non-monotone":
            p = arrays[ptrs[0]].copy(); p[1], p[2] = p[2], p[1] - 1; arrays[ptrs[0]] = p
        elif label == "indptr-past-end":
            p = arrays[ptrs[0]].copy(); p[-1] += 500; arrays[ptrs[0]] = p
        elif label == "indptr-short":
            arrays[ptrs[0]] = arrays[ptrs[0]][:-1]
        elif label == "data-short":
            arrays[data[0]] = arrays[data[0]][:-1]
        elif label == "nan-data":
            d = arrays[data[0]].copy(); d[0] = np.nan; arrays[data[0]] = d
        np.savez(path, **arrays)
        loaded = io.load(path)
        return loaded.forward(np.ones((3, 4)))
    return thunk


def data_cases(tmp):
    from nnlite import data
    img = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    cases = []
    for fname, top in (("scale_255", 255), ("scale_65025", 65025)):
        f = getattr(data, fname)
        cases += vary(f"data.{fname}", f, {"X": img},
                      {"X": [("negative", np.array([[-1, 2]])), ("too-big", np.array([[top + 1, 0]])),
                             ("nan", np.array([[np.nan, 1.0]])), ("complex", img + 1j), ("object", img.astype(object)),
                             ("str", img.astype(str)), ("None", None), ("empty", np.zeros((0, 3), np.uint8)),
                             ("fractional", np.array([[0.5, 1.0]])), ("bool", img > 3)]})
    cases += vary("data.flatten", data.flatten, {"X": img},
                  {"X": [("1-d", np.arange(3)), ("0-d", np.float64(1.0)), ("None", None), ("str", img.astype(str)),
                         ("object", img.astype(object))]})
    X, y = tiny_xy()
    cases += vary("data.train_validation_split", lambda **kw: data.train_validation_split(**kw),
                  {"X": X, "y": y, "validation_fraction": 0.25, "rng": 0},
                  {"X": [("rows-1", X[:-1]), ("None", None), ("scalar", 1.0), ("str", "X")],
                   "y": [("rows-1", y[:-1]), ("None", None), ("2-d", y[:, None][:, [0, 0]][:6])],
                   "validation_fraction": bad_fractions() + [("0", 0.0), ("1", 1.0), ("int-1", 1)],
                   "rng": bad_rngs()})
    cases += vary("data.train_validation_split n_validation",
                  lambda n_validation: data.train_validation_split(X, y, n_validation=n_validation, rng=0),
                  {"n_validation": 3}, {"n_validation": bad_ints(allow=("None",)) + [("all", 12), ("bool", True)]})
    cases += vary("data.one_hot", data.one_hot, {"y": np.array([0, 2, 1]), "n_classes": 3},
                  {"y": [("float-1.5", np.array([0, 1.5])), ("negative", np.array([0, -1])), ("too-big", np.array([0, 3])),
                         ("2-d", np.zeros((2, 2), int)), ("str", np.array(["a"])), ("None", None), ("nan", np.array([np.nan])),
                         ("complex", np.array([1 + 1j])), ("object", np.array([0, 1], dtype=object))],
                   "n_classes": bad_ints() + [("bool", True)]})
    empty = os.path.join(tmp, "empty_data")
    os.makedirs(empty, exist_ok=True)
    afile = os.path.join(tmp, "afile.txt")
    open(afile, "w").write("x")
    for fname in ("load_mnist", "load_cifar10", "load_emnist_letters"):
        f = getattr(data, fname)
        cases += vary(f"data.{fname}", lambda f=f, **kw: f(**kw), {"split": "test", "download": False, "progress": False},
                      {"split": [("unknown", "val"), ("None", None), ("int", 3)],
                       "data_dir": [("int", 3), ("empty-dir", empty), ("a-file", afile)]}, control=False)
        cases[-2].accept = cases[-1].accept = (ValueError, TypeError, FileNotFoundError)
        cases += vary(f"data.{fname} kwargs", lambda f=f, **kw: f("test", **kw), {}, {"bogus_kw": [("1", 1)]}, control=False)
    cases += vary("data.load_emnist_letters opts", lambda **kw: data.load_emnist_letters("test", download=False, **kw), {},
                  {"upright": [("str", "yes"), ("int", 2)],
                   "classes": [("empty", ""), ("unknown", "A-9"), ("int-26", [26]), ("repeat", "AA"), ("float", [1.5]),
                               ("None-list", [None])]}, control=False)
    cases += vary("data.resolve_data_dir", data.resolve_data_dir, {"data_dir": tmp},
                  {"data_dir": [("int", 3), ("list", [tmp])]})
    cases += vary("data.fetch", lambda **kw: data.fetch(**kw),
                  {"relpath": "mnist/t10k-labels-idx1-ubyte.gz", "download": False, "progress": False},
                  {"relpath": [("unknown", "mnist/bogus.gz"), ("int", 3), ("None", None), ("dotdot", "../etc/passwd")],
                   "data_dir": [("int", 3), ("dir-at-path", _dir_at_path(tmp))], "base_url": [("int", 3)]},
                  control=False)  # the good call needs the real data
    cases[-1].accept = cases[-2].accept = (ValueError, TypeError, FileNotFoundError)
    target = os.path.join(tmp, "dl.bin")
    cases += vary("data.download", lambda **kw: data.download(**kw),
                  {"url": "http://127.0.0.1:9/x", "path": target, "sha256": "0" * 64, "size": 10, "progress": False},
                  {"url": [("int", 3), ("ftp", "ftp://x/y"), ("None", None)], "path": [("int", 3), ("dir", tmp)],
                   "sha256": [("short", "abc"), ("int", 3)], "size": [("-1", -1), ("nan", NAN), ("str", "10")]},
                  control=False)
    cases += vary("data.read_idx", data.read_idx, {"path": os.path.join(tmp, "x.idx")},
                  {"path": [("int", 3), ("dir", tmp), ("text", afile)]}, control=False)
    cases.append(Case("data.read_idx path=missing", "path", lambda: data.read_idx(os.path.join(tmp, "missing.idx")),
                      accept=(ValueError, TypeError, FileNotFoundError)))
    return cases


def _dir_at_path(tmp):
    root = os.path.join(tmp, "dir_at_path")
    os.makedirs(os.path.join(root, "mnist", "t10k-labels-idx1-ubyte.gz"), exist_ok=True)
    return root


def decomposition_cases(tmp):
    import decomposition as D
    from decomposition import activity, modules, official_models, reuse, experiments
    from decomposition.experiments import data as exp_data
    from decomposition.experiments import reuse as exp_reuse
    X, y = tiny_xy(n=30)
    model = tiny_mlp()
    good = {"model": model, "X": X, "y": y, "approach": "TI-I", "fidelity": "paper", "rng": 0}
    cases = vary("decomposition.decompose", lambda **kw: D.decompose(**kw), good,
                 {"model": [("str", "model"), ("None", None), ("nan-model", _nan_model())],
                  "X": bad_float_arrays((30, 4)), "y": bad_labels(30) + [("missing-class", np.zeros(30, int))],
                  "approach": bad_choices(), "propagation": bad_choices(), "fidelity": bad_choices(),
                  "rng": bad_rngs(), "classes": [("float", [1.5]), ("too-big", [10]), ("negative", [-1]), ("str", "a"),
                                                 ("empty", []), ("nan", [NAN]), ("dup", [1, 1])]})
    W, b = list(model.weights), list(model.biases)
    cases += vary("decomposition.activity_pass", activity.activity_pass,
                  {"weights": W, "biases": b, "X": X, "propagation": "linear"},
                  {"weights": [("count", W[:1]), ("nan", [np.full((4, 5), np.nan), W[1]]), ("chain", [W[0], np.ones((4, 3))]),
                               ("None", None)],
                   "biases": [("count", b[:1]), ("shape", [np.zeros(4), b[1]])],
                   "X": bad_float_arrays((30, 4))[:9], "propagation": bad_choices()})
    mods = D.decompose(model, X, y, approach="TI-I", fidelity="paper", rng=0)
    m0 = mods[0]
    cases += vary("decomposition.Module", modules.Module, {"weights": m0.weights, "biases": m0.biases, "target": 0},
                  {"weights": [("nan", (np.full((4, 5), np.nan), m0.weights[1])), ("count", m0.weights[:1]),
                               ("chain", (m0.weights[0], np.ones((4, 3)))), ("str", "W")],
                   "biases": [("count", m0.biases[:1]), ("nan", (np.full(5, np.nan), m0.biases[1]))],
                   "target": [("-1", -1), ("too-big", 99), ("float", 1.5), ("str", "0"), ("None", None)]})
    cases += vary("decomposition.Module.forward", lambda X: m0.forward(X), {"X": X}, {"X": bad_float_arrays((30, 4))[:9]})
    cases += vary("decomposition.compose_predict", D.compose_predict, {"modules": mods, "X": X},
                  {"modules": [("empty", []), ("str", "m"), ("None", None), ("mixed", [mods[0], "x"])],
                   "X": bad_float_arrays((30, 4))[:9]})
    cases += vary("decomposition.composed_accuracy", D.composed_accuracy, {"modules": mods, "X": X, "y": y},
                  {"y": bad_labels(30), "X": [("width+1", np.ones((30, 5))), ("nan", np.full((30, 4), np.nan))],
                   "modules": [("empty", [])]})
    cases += vary("decomposition.compose_binary", D.compose_binary, {"module_a": mods[0], "module_b": mods[1], "X": X},
                  {"module_a": [("str", "m"), ("None", None)], "module_b": [("same", mods[0])] if False else [("str", "m")],
                   "X": bad_float_arrays((30, 4))[:6]})
    cases += vary("decomposition.replace_module", D.replace_module, {"modules": mods, "k": 1, "module": mods[1]},
                  {"k": [("-1", -1), ("too-big", 99), ("float", 1.5), ("str", "1")], "module": [("str", "m"), ("None", None)],
                   "modules": [("empty", []), ("str", "m")]})
    for fname in ("jaccard_mask", "jaccard_official"):
        cases += vary(f"decomposition.{fname}", getattr(D, fname), {"module_a": mods[0], "module_b": mods[1]},
                      {"module_b": [("str", "m"), ("None", None)]})
    cases += vary("decomposition.mean_pairwise_jaccard", D.mean_pairwise_jaccard, {"modules": mods, "kind": "official"},
                  {"kind": bad_choices(), "modules": [("empty", []), ("one", mods[:1]), ("str", "m")]})
    cases += vary("decomposition.load_official_modules", D.load_official_modules,
                  {"approach": "CM-RIE", "model_name": "mnist-1", "models_dir": os.path.join(tmp, "nomodels")},
                  {"approach": bad_choices(), "model_name": bad_choices(), "models_dir": [("int", 3)]}, control=False)
    cases += vary("decomposition.fetch_models", lambda **kw: D.fetch_models(**kw),
                  {"names": ["mnist-1"], "data_dir": os.path.join(tmp, "fm"), "base_url": "http://127.0.0.1:9/", "progress": False},
                  {"names": [("unknown", ["bogus"]), ("int", 3), ("int-list", [3]), ("empty-str", [""])],
                   "data_dir": [("int", 3)], "base_url": [("int", 3), ("no-scheme", "127.0.0.1/x")],
                   "keep_h5": [("str", "yes")]}, control=False)
    cases += vary("official_models.select_models", official_models.select_models, {"names": ["mnist-1"]},
                  {"names": [("unknown", ["bogus"]), ("int", 3), ("int-list", [3]), ("dotdot", ["../x"])]})
    some = official_models.select_models(["mnist-1"])[0]
    cases += vary("official_models.model_url", official_models.model_url, {"model": some, "base_url": None},
                  {"model": [("str", "mnist-1"), ("None", None)], "base_url": [("int", 3), ("no-scheme", "x/y")]})
    cases += vary("official_models.cache_dir", official_models.cache_dir, {"data_dir": tmp},
                  {"data_dir": [("int", 3), ("list", [tmp])]})
    cases += vary("official_models.fetch_model", official_models.fetch_model,
                  {"model": some, "folder": os.path.join(tmp, "fm2"), "base_url": "http://127.0.0.1:9/"},
                  {"model": [("str", "mnist-1"), ("None", None)], "folder": [("int", 3), ("a-file", __file__)]}, control=False)
    cases += vary("official_models.remove_stale_temporaries", official_models.remove_stale_temporaries,
                  {"folder": tmp, "max_age": 900},
                  {"folder": [("int", 3), ("a-file", __file__)],
                   "max_age": [("-1", -1), ("nan", NAN), ("str", "900"), ("None", None)]})
    cases += vary("official_models.resolve_models_dir", official_models.resolve_models_dir, {"models_dir": tmp},
                  {"models_dir": [("int", 3), ("a-file", __file__)]})
    cases += vary("official_models.ensure_models", official_models.ensure_models,
                  {"names": ["mnist-1"], "models_dir": os.environ.get("NNLITE_OFFICIAL_MODELS", tmp)},
                  {"names": [("int", 3), ("int-list", [3]), ("None", None)], "models_dir": [("int", 3)]})
    cases += vary("reuse.class_pairs", exp_reuse.class_pairs, {"pairs": "all", "n_classes": 10},
                  {"pairs": [("unknown", "bogus"), ("0", 0), ("-1", -1), ("float", 1.5), ("too-many", 1000)],
                   "n_classes": bad_ints()[:3] + [("one", 1)]})
    cases += vary("reuse.compose_pair", reuse.compose_pair, {"module_a": mods[0], "module_b": mods[1], "X": X},
                  {"rule": bad_choices(), "X": bad_float_arrays((30, 4))[:5]})
    cases += vary("reuse.train_model", exp_data.train_model, {"X": X, "y": y, "n_hidden_layers": 1, "epochs": 1},
                  {"X": bad_float_arrays((30, 4))[:6], "y": bad_labels(30)[:4], "n_hidden_layers": bad_ints(allow=("0",))[:4],
                   "epochs": bad_ints()[:4], "batch_size": bad_ints()[:3], "lr": bad_positive_floats()[:4]})
    cases += vary("reuse.dataset_arrays", exp_data.dataset_arrays, {"dataset": "mnist"},
                  {"dataset": bad_choices(), "data_dir": [("int", 3)]}, control=False)
    cases += vary("experiments.demo_rows", lambda **kw: list(experiments.demo_rows(**kw)),
                  {"approaches": ("TI-I",), "propagations": ("linear",), "epochs": 1, "fidelity": "paper"},
                  {"approaches": [("unknown", ("bogus",)), ("str", "TI-I"), ("empty", ())],
                   "propagations": [("unknown", ("bogus",)), ("empty", ())], "n_hidden_layers": bad_ints(allow=("0",))[:4],
                   "epochs": bad_ints()[:4], "fidelity": bad_choices()[:1], "seed": bad_rngs()[:2]})
    cases += vary("experiments.digits_split", experiments.digits_split, {"rng": 0, "test_fraction": 0.3},
                  {"test_fraction": bad_fractions() + [("0", 0.0), ("1", 1.0)], "rng": bad_rngs()})
    cases += vary("experiments.table1_rows", lambda **kw: list(experiments.table1_rows(**kw)),
                  {"models": ("mnist-1",), "approaches": ("TI-I",), "propagations": ("linear",), "progress": False},
                  {"models": [("unknown", ("bogus",)), ("str", "mnist-1")], "approaches": [("unknown", ("bogus",))],
                   "propagations": [("unknown", ("bogus",))], "fidelities": [("unknown", ("bogus",))]}, control=False)
    for fname in ("dataset_of", "display_name"):
        cases += vary(f"experiments.{fname}", getattr(experiments, fname), {"model_name": "mnist-1"},
                      {"model_name": [("unknown", "bogus"), ("None", None), ("int", 3)]})
    cases += vary("experiments.paper_values", experiments.paper_values, {"model_name": "mnist-1", "approach": "TI-I"},
                  {"model_name": bad_choices()[:1], "approach": bad_choices()[:1]})
    return cases


def masks_cases():
    from pruning import masks as M
    W = np.linspace(-1, 1, 12).reshape(4, 3)
    cases = vary("masks.n_to_prune", M.n_to_prune, {"amount": 0.5, "n_unpruned": 10},
                 {"amount": [("-0.1", -0.1), ("1.5", 1.5), ("nan", NAN), ("inf", INF), ("str", "0.5"), ("None", None),
                             ("bool", True), ("too-many", 11), ("-1", -1)],
                  "n_unpruned": [("-1", -1), ("float", 1.5), ("str", "10"), ("None", None)]})
    cases += vary("masks.magnitudes", M.magnitudes, {"W": W}, {"W": bad_float_arrays((4, 3))[:6] + [("None", None)]})
    cases += vary("masks.lowest_score_mask", M.lowest_score_mask, {"scores": W, "amount": 0.5, "mask": None},
                  {"scores": bad_float_arrays((4, 3))[:6], "amount": bad_fractions() + [("too-many", 13)],
                   "mask": [("shape", np.ones((3, 4), bool)), ("float", np.full((4, 3), 0.5)), ("str", "m")]})
    cases += vary("masks.global_lowest_score_masks", M.global_lowest_score_masks, {"scores": [W, W], "amount": 0.5},
                  {"scores": [("empty", []), ("nan", [W, np.full((4, 3), np.nan)]), ("str", "s"), ("array", W)],
                   "amount": bad_fractions()[:4],
                   "masks": [("count", [None]), ("shape", [np.ones((3, 4), bool), None])]})
    cases += vary("masks.magnitude_mask", M.magnitude_mask, {"W": W, "amount": 0.5},
                  {"W": bad_float_arrays((4, 3))[:6], "amount": bad_fractions()[:4]})
    cases += vary("masks.global_magnitude_masks", M.global_magnitude_masks, {"weights": [W, W], "amount": 0.5},
                  {"weights": [("empty", []), ("nan", [W, np.full((4, 3), np.nan)]), ("str", "w")],
                   "amount": bad_fractions()[:4]})
    cases += vary("masks.random_mask", M.random_mask, {"shape": (4, 3), "amount": 0.5, "rng": 0},
                  {"shape": [("negative", (-1, 3)), ("float", (1.5, 3)), ("str", "4x3"), ("None", None)],
                   "amount": bad_fractions()[:4], "rng": bad_rngs(),
                   "mask": [("shape", np.ones((3, 4), bool))]})
    cases += vary("masks.global_random_masks", M.global_random_masks, {"shapes": [(4, 3)], "amount": 0.5, "rng": 0},
                  {"shapes": [("empty", []), ("negative", [(-1, 3)]), ("str", "s")], "amount": bad_fractions()[:4],
                   "rng": bad_rngs()[:2]})
    cases += vary("masks.check_layers", M.check_layers, {"layers": [0], "n_layers": 2},
                  {"layers": [("too-big", [5]), ("negative", [-3]), ("float", [1.5]), ("str", "0"), ("dup", [0, 0]),
                              ("empty", [])]})
    cases += vary("masks.fraction_remaining", M.fraction_remaining, {"masks": [np.ones((4, 3), bool)]},
                  {"masks": [("empty", []), ("float", [np.full((4, 3), 0.5)]), ("str", "m"), ("None-list", [None])],
                   "layers": [("too-big", [5]), ("str", "0")]})
    cases += vary("masks.prune_masks", lambda **kw: M.prune_masks(tiny_mlp(), **kw), {"amount": 0.5, "rng": 0},
                  {"amount": bad_fractions() + [("too-many", 10 ** 6), ("bool", True)], "method": bad_choices(),
                   "scope": bad_choices(), "layers": [("too-big", [5]), ("float", [1.5]), ("str", "0")], "rng": bad_rngs()})
    cases += vary("masks.prune", lambda model, amount: M.prune(model, amount), {"model": tiny_mlp(), "amount": 0.5},
                  {"model": [("str", "model"), ("None", None)], "amount": bad_fractions()[:3]})
    good_masks = [np.ones((4, 5), bool), np.ones((5, 3), bool)]
    for fname in ("apply_masks", "set_masks", "apply_masks_inplace", "set_masks_inplace"):
        cases += vary(f"masks.{fname}", lambda masks, model=None, f=getattr(M, fname): f(tiny_mlp() if model is None else model, masks),
                      {"masks": good_masks},
                      {"masks": [("count", good_masks[:1]), ("shape", [np.ones((5, 4), bool), good_masks[1]]),
                                 ("float", [np.full((4, 5), 0.5), good_masks[1]]), ("str", "m"), ("None", None),
                                 ("int", [np.ones((4, 5), int), good_masks[1]])],
                       "model": [("str", "model")]})
    for fname in ("remove_masks", "remove_masks_inplace", "current_masks"):
        cases += vary(f"masks.{fname}", getattr(M, fname), {"model": tiny_mlp()}, {"model": [("str", "model"), ("None", None)]})
    return cases


def schedules_cases():
    from pruning import schedules as S
    cases = vary("schedules.PolynomialDecay", S.PolynomialDecay,
                 {"initial_sparsity": 0.0, "final_sparsity": 0.8, "begin_step": 0, "end_step": 100},
                 {"initial_sparsity": bad_fractions(), "final_sparsity": bad_fractions() + [("1", 1.0)],
                  "begin_step": [("-1", -1), ("1.5", 1.5), ("str", "0"), ("None", None)],
                  "end_step": [("equal", 0), ("-1", -1), ("1.5", 1.5), ("inf", INF)],
                  "power": bad_positive_floats()[:5], "frequency": bad_ints()[:6]})
    pd = S.PolynomialDecay(0.0, 0.8, 0, 100)
    for meth in ("target_sparsity", "should_prune", "last_pruning_step", "sparsity_in_force", "__call__"):
        cases += vary(f"schedules.PolynomialDecay.{meth}", lambda step, m=meth: getattr(pd, m)(step), {"step": 10},
                      {"step": [("-1", -1), ("nan", NAN), ("str", "10"), ("None", None), ("1.5", 1.5), ("inf", INF)]})
    cases += vary("schedules.cubic_sparsity", S.cubic_sparsity, {"t": 5, "s_i": 0.0, "s_f": 0.8, "t0": 0, "n": 10, "dt": 1},
                  {"t": [("nan", NAN), ("str", "5"), ("None", None)], "s_i": bad_fractions()[:4], "s_f": bad_fractions()[:4],
                   "t0": [("-1", -1), ("nan", NAN), ("str", "0")], "n": bad_ints()[:5], "dt": bad_ints()[:5]})
    cases += vary("schedules.n_to_prune_now", S.n_to_prune_now, {"sparsity": 0.5, "n_total": 10, "n_unpruned": 10},
                  {"sparsity": bad_fractions(),
                   "n_total": [("-1", -1), ("1.5", 1.5), ("str", "10"), ("None", None)],
                   "n_unpruned": [("-1", -1), ("too-many", 11), ("1.5", 1.5), ("str", "10")]})
    return cases


def wann_tasks_cases(tmp):
    from pruning import wann_tasks as T
    cases = vary("wann_tasks.area_matrix", T.area_matrix, {"n_in": 8, "n_out": 4},
                 {"n_in": bad_ints()[:6], "n_out": bad_ints()[:6] + [("too-big", 9)]})
    imgs = np.ones((2, 8, 8))
    cases += vary("wann_tasks.downsample_area", T.downsample_area, {"images": imgs, "size": 4},
                  {"images": [("nan", np.full((2, 8, 8), np.nan)), ("complex", imgs + 1j), ("str", imgs.astype(str)),
                              ("object", imgs.astype(object)), ("not-square", np.ones((2, 8, 6))), ("2-d", imgs[0]),
                              ("None", None), ("empty", np.zeros((0, 8, 8)))],
                   "size": bad_ints()[:6] + [("too-big", 9)]})
    cases += vary("wann_tasks.load_task", T.load_task, {"name": "digits8"},
                  {"name": bad_choices(), "data_dir": [("int", 3)], "n_validation": bad_ints(allow=("0",))[:5]})
    cases += vary("wann_tasks.load_task mnist16", lambda **kw: T.load_task("mnist16", **kw), {},
                  {"n_validation": [("-1", -1), ("1.5", 1.5), ("str", "5"), ("too-big", 10 ** 6), ("None", None)],
                   "data_dir": [("int", 3), ("empty-dir", os.path.join(tmp, "empty_data"))]}, control=False)
    cases[-1].accept = (ValueError, TypeError, FileNotFoundError)
    return cases


def obd_cases():
    from pruning import obd
    X, y = tiny_xy()
    good = {"model": tiny_mlp(), "X": X, "y": y, "amount": 0.2, "n_iterations": 1, "retrain_epochs": 0, "rng": 0}
    cases = vary("obd.optimal_brain_damage", lambda **kw: obd.optimal_brain_damage(**{**kw, "model": kw["model"].copy() if hasattr(kw["model"], "copy") else kw["model"]}),
                 good,
                 {"model": [("str", "model")], "X": bad_float_arrays((12, 4))[:9], "y": bad_labels(12)[:6],
                  "amount": bad_fractions(), "n_iterations": bad_ints(), "retrain_epochs": bad_ints(allow=("0",))[:5],
                  "approximation": bad_choices(), "scope": bad_choices(), "batch_size": bad_ints()[:5],
                  "lr": bad_positive_floats()[:5], "hessian_samples": bad_ints(allow=("None",))[:5], "rng": bad_rngs()})
    cases += vary("obd.second_derivatives", lambda **kw: obd.second_derivatives(tiny_mlp(), **kw), {"X": X, "y": y},
                  {"X": bad_float_arrays((12, 4))[:6], "y": bad_labels(12)[:4], "approximation": bad_choices(),
                   "batch_size": bad_ints()[:5]})
    cases += vary("obd.deletion_scores", lambda method: obd.deletion_scores(tiny_mlp(), [np.ones((4, 5)), np.ones((5, 3))], method, 0),
                  {"method": "magnitude"}, {"method": bad_choices()}, control=False)
    from nnlite.experiment import pin_threads
    cases += vary("experiments.pin_threads", lambda n_threads: pin_threads(n_threads).__enter__(), {"n_threads": 1},
                  {"n_threads": bad_ints()[:5]})
    return cases


def lottery_cases():
    from pruning import lottery as L
    from pruning.experiments import lottery as LX
    cases = vary("lottery.LotteryConfig", L.LotteryConfig, {},
                 {"rates": [("1.5", (1.5, 0.2, 0.1)), ("-0.1", (-0.1, 0.2, 0.1)), ("count", (0.2,)), ("nan", (NAN, 0.2, 0.1))],
                  "n_rounds": bad_ints(allow=("0",))[:4], "n_iterations": bad_ints()[:4], "batch_size": bad_ints()[:4],
                  "lr": bad_positive_floats()[:4], "init": bad_choices()[:1], "eval_every": bad_ints()[:3],
                  "rewind_iteration": [("-1", -1), ("1.5", 1.5), ("too-big", 10 ** 6)],
                  "layer_sizes": [("one", (784,)), ("zero", (784, 0, 10))], "control_rounds": [("negative", (-1,))]})
    trained = [np.linspace(-1, 1, 20).reshape(4, 5), np.linspace(-1, 1, 15).reshape(5, 3)]
    masks = [np.ones((4, 5), bool), np.ones((5, 3), bool)]
    cases += vary("lottery.prune_parameters", lambda trained, rates: L.prune_parameters(_model_from(trained, masks), rates),
                  {"trained": trained, "rates": (0.2, 0.1)},
                  {"rates": [("1.5", (1.5, 0.1)), ("-0.1", (-0.1, 0.1)), ("count", (0.2,)), ("nan", (NAN, 0.1)), ("str", "0.2")]})
    cases += vary("lottery.randomly_initialize", L.randomly_initialize, {"layer_sizes": (4, 5, 3), "rng": 0},
                  {"layer_sizes": [("one", (4,)), ("zero", (4, 0, 3)), ("float", (4, 1.5, 3))], "init": bad_choices()[:1],
                   "rng": bad_rngs()})
    cases += vary("lottery.random_reinitialization", L.random_reinitialization, {"masks": masks, "layer_sizes": (4, 5, 3), "rng": 0},
                  {"masks": [("count", masks[:1]), ("shape", [np.ones((5, 4), bool), masks[1]])], "init": bad_choices()[:1]})
    cases += vary("lottery.summarize", LX.summarize, {"trial_records": []},
                  {"trial_records": [("str", "x"), ("None", None)], "reported_rounds": [("negative", (-1,))]}, control=False)
    return cases


def _model_from(trained, masks):
    from nnlite import MLP
    model = MLP.from_weights(trained, [np.zeros(W.shape[1]) for W in trained])
    return model


def wann_cases(tmp):
    from pruning import wann as Wn
    from pruning.experiments import wann as WX
    cases = vary("wann.initial_genome", Wn.initial_genome, {"n_inputs": 3, "n_outputs": 2, "rng": 0},
                 {"n_inputs": bad_ints()[:6], "n_outputs": bad_ints()[:4], "rng": bad_rngs(),
                  "p_enable": bad_fractions()[:5], "output_activation": bad_choices()})
    g = Wn.initial_genome(3, 2, 0, p_enable=1.0)
    cases += vary("wann.Genome", Wn.Genome, {"n_inputs": g.n_inputs, "n_outputs": g.n_outputs, "activations": g.activations,
                                             "src": g.src, "dst": g.dst, "enabled": g.enabled},
                  {"src": [("out-of-range", np.full_like(g.src, 99)), ("negative", np.full_like(g.src, -1)),
                           ("count", g.src[:-1])],
                   "dst": [("to-input", np.zeros_like(g.dst)), ("out-of-range", np.full_like(g.dst, 99))],
                   "activations": [("unknown", np.full_like(g.activations, 99)), ("count", g.activations[:1])],
                   "n_inputs": [("0", 0), ("-1", -1)], "enabled": [("count", g.enabled[:1])]})
    cases += vary("wann.mutate", Wn.mutate, {"genome": g, "rng": 0},
                  {"genome": [("str", "g"), ("None", None)], "rng": bad_rngs(),
                   "mutation_probabilities": [("negative", (-1, 1, 1, 1)), ("zero", (0, 0, 0, 0)), ("count", (1, 1)),
                                              ("nan", (NAN, 1, 1, 1))]})
    X = np.ones((5, 3))
    cases += vary("wann.evaluate_genome", Wn.evaluate_genome, {"genome": g, "X": X},
                  {"X": bad_float_arrays((5, 3))[:9], "weights": [("empty", ()), ("nan", (NAN,)), ("str", "w")],
                   "genome": [("str", "g")]})
    cases += vary("wann.activation_id", Wn.activation_id, {"name": "relu"}, {"name": bad_choices()})
    cases += vary("wann.activation_forward", Wn.activation_forward, {"Z": X, "k": 1}, {"k": [("99", 99), ("-1", -1), ("str", "relu")]})
    cases += vary("wann.SearchConfig", Wn.SearchConfig, {},
                  {"population_size": bad_ints()[:4], "n_generations": [("-1", -1), ("1.5", 1.5)], "batch_size": bad_ints()[:3],
                   "p_enable": bad_fractions()[:3], "elite_fraction": bad_fractions()[:3], "cull_fraction": bad_fractions()[:3],
                   "tournament_size": bad_ints()[:3], "mutation_probabilities": [("negative", (-1, 1, 1, 1)), ("count", (1,))],
                   "output_activation": bad_choices()[:1], "shared_weights": [("empty", ()), ("nan", (NAN,))],
                   "p_connection_objective": bad_fractions()[:3]})
    cases += vary("wann.start_search", Wn.start_search, {"n_inputs": 3, "n_outputs": 2, "rng": 0},
                  {"n_inputs": bad_ints()[:3], "config": [("str", "c"), ("dict", {"population_size": 4})], "rng": bad_rngs()[:1]})
    cases += vary("wann.ensemble_predict", Wn.ensemble_predict, {"outputs": np.ones((6, 5, 2)), "method": "vote"},
                  {"method": bad_choices(), "outputs": [("2-d", np.ones((5, 2))), ("nan", np.full((6, 5, 2), np.nan))]})
    y = np.arange(5) % 2
    cases += vary("wann.train_individual_weights", Wn.train_individual_weights, {"genome": g, "X": X, "y": y, "epochs": 1},
                  {"X": bad_float_arrays((5, 3))[:6], "y": bad_labels(5, 2)[:5], "epochs": bad_ints(allow=("0",))[:4],
                   "batch_size": bad_ints()[:4], "lr": bad_positive_floats()[:4], "init_weight": [("nan", NAN), ("inf", INF)]})
    gpath = os.path.join(tmp, "genome.npz")
    cases += vary("wann.save_genome", WX.save_genome, {"genome": g, "path": gpath},
                  {"genome": [("str", "g")], "path": [("missing-dir", os.path.join(tmp, "nope", "g.npz")), ("int", 3)]})
    for label, arrays in (("src-out-of-range", {"src": np.full_like(g.src, 99)}), ("act-unknown", {"activations": np.full_like(g.activations, 99)}),
                          ("missing-key", None)):
        cases.append(Case(f"wann.load_genome path={label}", "path", _bad_genome_file(tmp, g, label, arrays)))
    cases.append(Case("wann.load_genome path=missing", "path", lambda: WX.load_genome(os.path.join(tmp, "nope.npz")),
                      accept=(ValueError, TypeError, FileNotFoundError)))
    cases.append(Case("wann.load_genome path=text", "path", lambda: (open(os.path.join(tmp, "g.txt"), "w").write("x"),
                                                                      WX.load_genome(os.path.join(tmp, "g.txt")))))
    cases.append(Case("wann.load_state path=missing", "path", lambda: WX.load_state(os.path.join(tmp, "nope.npz")),
                      accept=(ValueError, TypeError, FileNotFoundError)))
    cases.append(Case("wann.load_state path=text", "path", lambda: (open(os.path.join(tmp, "s.txt"), "w").write("x"),
                                                                     WX.load_state(os.path.join(tmp, "s.txt")))))
    cases.append(Case("wann.load_state path=names-code", "path", _state_naming_code(tmp)))
    return cases


def _bad_genome_file(tmp, g, label, arrays):
    def thunk():
        from pruning.experiments import wann as WX
        path = os.path.join(tmp, f"genome_{label}.npz")
        WX.save_genome(g, path)
        with np.load(path, allow_pickle=False) as f:
            content = dict(f)
        if arrays is None:
            content.pop(sorted(content)[0])
        else:
            for k, v in arrays.items():
                if k not in content:
                    raise RuntimeError(f"probe: no {k} in {sorted(content)}")
                content[k] = v
        np.savez(path, **content)
        return WX.load_genome(path)
    return thunk


def _state_naming_code(tmp):
    def thunk():
        from pruning import wann as Wn
        from pruning.experiments import wann as WX
        state = Wn.start_search(3, 2, Wn.SearchConfig(population_size=4), rng=0)
        path = os.path.join(tmp, "state.npz")
        WX.save_state(state, path)
        with np.load(path, allow_pickle=False) as f:
            content = dict(f)
        changed = False
        for k, v in content.items():  # the generator's name, as an array or inside a JSON string
            if v.dtype.kind in "US" and v.size == 1 and "PCG64" in str(v):
                text = str(v)
                # another numpy.random name: a file must not choose what gets called; refuse it
                content[k] = np.array(text.replace('"PCG64"', '"MT19937"') if text.lstrip().startswith("{")
                                      else "MT19937")
                changed = True
        if not changed and "meta" in content:  # a file without a name: add one, as an older or tampered file has
            meta = json.loads(str(content["meta"]))
            rng_key = next((k for k in meta if "rng" in k), None)
            if isinstance(meta.get(rng_key), dict):
                meta[rng_key]["bit_generator"] = "MT19937"
                content["meta"] = np.array(json.dumps(meta))
                changed = True
        if not changed:
            raise RuntimeError(f"probe: no generator name in the state file keys {sorted(content)}")
        np.savez(path, **content)
        return WX.load_state(path)
    return thunk


def dsr_cases(tmp):
    from pruning import dsr
    from pruning.experiments import dsr as DX
    cases = vary("dsr.DSR", dsr.DSR, {"rng": 0},
                 {"H": bad_positive_floats()[:5], "n_prune_target": bad_fractions()[:5], "rewire_period": bad_ints()[:6],
                  "rounding": bad_choices()[:2], "rng": bad_rngs()})
    cases += vary("dsr.GMP", dsr.GMP, {"final_sparsity": 0.8, "n_steps": 100},
                  {"final_sparsity": bad_fractions()[:5] + [("1", 1.0)], "n_steps": bad_ints()[:5],
                   "begin_step": [("-1", -1), ("1.5", 1.5), ("too-big", 1000)], "end_fraction": bad_fractions()[:4],
                   "frequency": bad_ints()[:5]})
    cases += vary("dsr.SET", dsr.SET, {"rng": 0}, {"zeta": bad_fractions()[:5], "regrow_init": bad_choices()[:2], "rng": bad_rngs()[:1]})
    cases += vary("dsr.layer_sparsities", dsr.layer_sparsities, {"shapes": [(4, 3), (3, 2)], "sparsity": 0.5},
                  {"shapes": [("empty", []), ("negative", [(-4, 3)]), ("str", "s")], "sparsity": bad_fractions()[:5] + [("1", 1.0)],
                   "distribution": bad_choices()})
    good = {"method": "dsr", "input_shape": (8, 8, 1), "n_classes": 3, "sparsity": 0.5, "channels": (2, 2), "hidden": 4, "rng": 0}
    cases += vary("dsr.build_model", lambda **kw: dsr.build_model(**kw), good,
                  {"method": bad_choices(), "input_shape": [("2-d", (8, 8)), ("zero", (0, 8, 1))], "n_classes": bad_ints()[:3],
                   "sparsity": bad_fractions()[:5], "channels": [("zero", (0, 2)), ("negative", (-1, 2)), ("empty", ())],
                   "hidden": bad_ints()[:4], "distribution": bad_choices()[:1], "storage": bad_choices()[:1]})
    cases += vary("dsr.make_method", dsr.make_method, {"method": "dsr", "sparsity": 0.5, "n_steps": 100, "rng": 0},
                  {"method": bad_choices(), "sparsity": bad_fractions()[:3], "n_steps": bad_ints()[:4],
                   "rewire_period": bad_ints()[:4], "n_prune_target": bad_fractions()[:3]})
    cases += vary("dsr.reallocate", dsr.reallocate, {"K": 10, "R": np.array([5.0, 5.0]), "capacity": np.array([20, 20])},
                  {"K": [("-1", -1), ("1.5", 1.5), ("too-many", 100)], "R": [("nan", np.array([NAN, 1.0])), ("negative", np.array([-1.0, 1.0]))],
                   "capacity": [("count", np.array([20])), ("negative", np.array([-1, 20]))], "rounding": bad_choices()[:1]})
    cases += vary("dsr.adapt_threshold", dsr.adapt_threshold, {"H": 0.001, "K": 10, "n_prune_target": 10},
                  {"H": [("nan", NAN), ("inf", INF), ("-1", -1.0)], "K": [("-1", -1), ("nan", NAN)]})
    cases += vary("dsr.constant_period", lambda period: dsr.constant_period(period)(0), {"period": 10}, {"period": bad_ints()[:5]})
    cases += vary("dsr.doubling_period", lambda period, every: dsr.doubling_period(period, every)(0), {"period": 10, "every": 5},
                  {"period": bad_ints()[:4], "every": bad_ints()[:4]})
    cases += vary("dsr.load_dataset", DX.load_dataset, {"name": "fashion-mnist"},
                  {"name": bad_choices(), "n_train": bad_ints(allow=("None",))[:4], "n_validation": [("-1", -1), ("1.5", 1.5)],
                   "data_dir": [("int", 3)]}, control=False)
    cases += vary("dsr.read_runs", DX.read_runs, {"path": os.path.join(tmp, "nope.jsonl")},
                  {"path": [("int", 3), ("dir", tmp), ("text", _text_file(tmp))]}, control=False)
    cases.append(Case("dsr.read_runs path=missing", "path", lambda: DX.read_runs(os.path.join(tmp, "nope.jsonl")),
                      accept=(ValueError, TypeError, FileNotFoundError)))
    return cases


def rigl_cases():
    from pruning import rigl
    X, y = tiny_xy()
    cases = vary("rigl.RigL", rigl.RigL, {"n_steps": 100, "data": (X, y), "rng": 0},
                 {"n_steps": bad_ints()[:6], "data": [("None", None), ("short-y", (X, y[:-1])), ("empty", (X[:0], y[:0])),
                                                      ("nan", (np.full_like(X, np.nan), y)), ("str", "data")],
                  "batch_size": bad_ints()[:5], "alpha": bad_fractions()[:5] + [("0", 0.0)],
                  "update_period": bad_ints()[:5], "end_fraction": bad_fractions()[:5], "rng": bad_rngs()})
    cases += vary("rigl.update_fraction", rigl.update_fraction, {"t": 10, "alpha": 0.3, "end_iteration": 100},
                  {"t": [("-1", -1), ("nan", NAN), ("str", "10")], "alpha": bad_fractions()[:5],
                   "end_iteration": bad_ints()[:6]})
    W, active = np.linspace(-1, 1, 12).reshape(4, 3), np.ones((4, 3), bool)
    cases += vary("rigl.drop_smallest", rigl.drop_smallest, {"W": W, "active": active, "k": 2},
                  {"W": bad_float_arrays((4, 3))[:5] + [("width+1", np.zeros((4, 4)))],
                   "active": [("float", np.full((4, 3), 0.5)), ("shape", np.ones((3, 4), bool)), ("None", None)],
                   "k": [("-1", -1), ("1.5", 1.5), ("too-many", 13), ("str", "2")]})
    cases += vary("rigl.grow_largest_gradient", rigl.grow_largest_gradient,
                  {"kept": ~np.eye(4, 3, dtype=bool), "grad": W, "k": 2},
                  {"grad": bad_float_arrays((4, 3))[:5] + [("width+1", np.zeros((4, 4)))],
                   "kept": [("float", np.full((4, 3), 0.5)), ("shape", np.ones((3, 4), bool))],
                   "k": [("-1", -1), ("1.5", 1.5), ("too-many", 13), ("str", "2")]})
    return cases


_FRESH = object()  # torch_like cases: build a fresh model (the functions prune in place)


def torch_like_cases():
    from pruning import torch_like as T
    model = lambda: tiny_mlp()  # noqa: E731  a fresh model per case: the functions prune in place
    cases = vary("torch_like.torch_amount", T.torch_amount, {"amount": 0.5},
                 {"amount": [("-1", -1), ("1.5", 1.5), ("nan", NAN), ("inf", INF), ("str", "0.5"), ("None", None)]})
    for name, call, good in (
            ("l1_unstructured", T.l1_unstructured, {"layer": 0, "amount": 0.5}),
            ("random_unstructured", T.random_unstructured, {"layer": 0, "amount": 0.5, "rng": 0}),
            ("ln_structured", T.ln_structured, {"layer": 0, "amount": 0.5, "n": 2, "dim": 1}),
            ("random_structured", T.random_structured, {"layer": 0, "amount": 0.5, "dim": 1, "rng": 0})):
        bad = {"layer": [("too-big", 5), ("unknown", "bogus"), ("float", 0.5), ("None", None)],
               "amount": [("-1", -1), ("1.5", 1.5), ("nan", NAN), ("str", "0.5"), ("too-many", 10 ** 6)],
               "model": [("str", "m"), ("None", None)]}
        if "dim" in good:
            bad["dim"] = [("too-big", 2), ("-3", -3), ("float", 1.0), ("str", "1")]
        if "n" in good:
            bad["n"] = [("0", 0), ("-1", -1), ("nan", NAN), ("str", "2")]
        if "rng" in good:
            bad["rng"] = bad_rngs()
        cases += vary(f"torch_like.{name}", lambda model=_FRESH, call=call, **kw: call(tiny_mlp() if model is _FRESH
                                                                                     else model, **kw), good, bad)
    cases += vary("torch_like.l1_unstructured importance_scores",
                  lambda importance_scores: T.l1_unstructured(model(), 0, 0.5, importance_scores=importance_scores),
                  {"importance_scores": np.ones((4, 5))}, {"importance_scores": bad_float_arrays((4, 5))[:6]})
    cases += vary("torch_like.global_unstructured", lambda **kw: T.global_unstructured(model(), **kw),
                  {"amount": 0.5}, {"amount": [("-1", -1), ("1.5", 1.5), ("nan", NAN), ("too-many", 10 ** 6)],
                                    "layers": [("too-big", [5]), ("repeated", [0, 0]), ("str", "0"), ("empty", [])],
                                    "pruning_method": bad_choices(), "rng": bad_rngs()})
    cases += vary("torch_like.custom_from_mask", lambda **kw: T.custom_from_mask(model(), **kw),
                  {"layer": 0, "mask": np.ones((4, 5), bool)},
                  {"mask": [("float", np.full((4, 5), 0.5)), ("shape", np.ones((5, 4), bool)), ("None", None)]})
    cases += vary("torch_like.remove", lambda **kw: T.remove(model(), **kw), {"layer": 0}, {"layer": [("unpruned", 0), ("too-big", 5)]},
                  control=False)
    cases += vary("torch_like.weight_orig", lambda **kw: T.weight_orig(model(), **kw), {"layer": 0},
                  {"layer": [("too-big", 5), ("unknown", "bogus"), ("None", None)]})
    cases += vary("torch_like.dim_from_torch", lambda **kw: T.dim_from_torch(model(), **kw), {"layer": 0, "torch_dim": 0},
                  {"torch_dim": [("too-big", 2), ("float", 0.5), ("str", "0")]})
    return cases


def _text_file(tmp):
    path = os.path.join(tmp, "notjson.jsonl")
    with open(path, "w") as f:
        f.write("hello\n{not json\n")
    return path


def dynamic_cases():
    from pruning import sparse_layers as Dy
    cases = vary("sparse_layers.DynamicLinear", Dy.DynamicLinear, {"d_in": 4, "d_out": 3, "sparsity": 0.5, "rng": 0},
                 {"d_in": bad_ints()[:5], "d_out": bad_ints()[:3], "sparsity": bad_fractions()[:5] + [("1", 1.0)],
                  "activation": bad_choices()[:1], "storage": bad_choices()[:2], "init": bad_choices()[:1],
                  "rng": bad_rngs()[:1], "dtype": [("int32", np.int32)]})
    cases += vary("sparse_layers.DynamicConv2d", Dy.DynamicConv2d, {"c_in": 1, "c_out": 2, "kernel_size": 3, "sparsity": 0.5, "rng": 0},
                  {"c_in": bad_ints()[:3], "kernel_size": bad_ints()[:3], "stride": bad_ints()[:2], "padding": [("-1", -1)],
                   "sparsity": bad_fractions()[:4], "storage": bad_choices()[:1]})
    X = np.ones((2, 4))
    cases += vary("sparse_layers.DynamicLinear.forward csr",
                  lambda X: Dy.DynamicLinear(4, 3, sparsity=0.5, storage="csr", rng=0, dtype=np.float64).forward(X),
                  {"X": X}, {"X": [("width-1", X[:, :3]), ("width+5", np.ones((2, 9))), ("nan", np.full((2, 4), np.nan)),
                                   ("str", X.astype(str)), ("1-d", np.ones(4))]})
    cases += vary("sparse_layers.DynamicLinear.set_sparsity_inplace",
                  lambda sparsity: Dy.DynamicLinear(4, 3, sparsity=0.5, rng=0).set_sparsity_inplace(sparsity, rng=0),
                  {"sparsity": 0.25}, {"sparsity": bad_fractions()[:5] + [("1", 1.0)]})
    cases += vary("sparse_layers.DynamicLinear.set_topology_inplace",
                  lambda mask: Dy.DynamicLinear(4, 3, sparsity=0.5, rng=0).set_topology_inplace(mask),
                  {"mask": np.ones((4, 3), bool)},
                  {"mask": [("shape", np.ones((3, 4), bool)), ("float", np.full((4, 3), 0.5)), ("None", None)]})
    cases += vary("sparse_layers.check_sparsity", Dy.check_sparsity, {"sparsity": 0.5}, {"sparsity": bad_fractions() + [("1", 1.0)]})
    cases += vary("sparse_layers.n_active_for", Dy.n_active_for, {"sparsity": 0.5, "n_total": 10},
                  {"sparsity": bad_fractions()[:4], "n_total": [("-1", -1), ("1.5", 1.5), ("str", "10")]})
    cases += vary("sparse_layers.random_topology", Dy.random_topology, {"shape": (4, 3), "n_active": 5, "rng": np.random.default_rng(0)},
                  {"shape": [("negative", (-4, 3)), ("str", "s")], "n_active": [("-1", -1), ("too-many", 13), ("1.5", 1.5)],
                   "rng": [("str", "seed")]})
    cases += vary("sparse_layers.set_density_crossover", lambda value, kind=None: Dy.set_density_crossover(value, kind),
                  {"value": 0.1},
                  {"value": [("-1", -1.0), ("nan", NAN), ("str", "0.1"), ("1.5", 1.5)], "kind": bad_choices()[::2]})
    cases += vary("sparse_layers.density_crossover", Dy.density_crossover, {"kind": "linear"}, {"kind": bad_choices()})
    from nnlite import models
    cases += vary("sparse_layers.memory_report", Dy.memory_report, {"model": models.small_cnn((8, 8, 1), 3, channels=(2, 2), hidden=4, rng=0)}, {"model": [("str", "m"), ("None", None)]})
    return cases


# ---------------------------------------------------------------------------
# Command lines
# ---------------------------------------------------------------------------

def cli_cases(tmp):
    """(name, option, argv) for ``python -m decomposition|pruning``; every argv has exactly one bad value."""
    out = []

    def add(module, sub, base, opt, values, names=None):
        for v in values:
            argv = [module, sub, *base]
            if v is not None:
                argv += [opt, *([v] if isinstance(v, str) else v)]
            out.append(Case(f"cli {module} {sub} {opt}={' '.join(v) if isinstance(v, list) else v}", opt, argv=argv))

    ints = ["0", "-1", "1.5", "abc", "nan"]
    out_dir = lambda name: ["--out", os.path.join(tmp, "cli-" + name)]  # noqa: E731
    # decomposition
    add("decomposition", "demo", [], "--epochs", ["0", "-1", "1.5", "abc"])
    add("decomposition", "demo", ["--epochs", "1"], "--hidden-layers", ["-1", "abc", "1.5", "1000000000"])
    add("decomposition", "demo", ["--epochs", "1"], "--seed", ["-1", "abc"])
    add("decomposition", "demo", ["--epochs", "1"], "--format", ["bogus"])
    add("decomposition", "table1", ["--propagation", "linear", "--approaches", "TI-I"], "--models", ["bogus", "nnlite-bogus"])
    add("decomposition", "table1", ["--models", "nnlite-mnist-1"], "--epochs", ["0", "-1", "abc"])
    add("decomposition", "table1", ["--models", "mnist-1"], "--approaches", ["bogus"])
    add("decomposition", "table1", ["--models", "mnist-1"], "--models-dir", [os.path.join(tmp, "missing-models")])
    add("decomposition", "table1", ["--models", "mnist-1"], "--seed", ["-1"])
    add("decomposition", "summarize", [], "files", [[os.path.join(tmp, "missing.jsonl")], [_text_file(tmp)], [tmp]])
    add("decomposition", "reuse", [], "--pairs", ["0", "-1", "bogus", "1.5"])
    add("decomposition", "reuse", ["--pairs", "1"], "--epochs", ["0", "-1", "abc"])
    add("decomposition", "reuse", ["--pairs", "1"], "--dataset", ["bogus"])
    add("decomposition", "reuse", ["--pairs", "1"], "--inter", [["mnist", "bogus"]])
    add("decomposition", "reuse", ["--pairs", "1"], "--models-dir", [os.path.join(tmp, "missing-models")])
    add("decomposition", "replace", [], "--dataset", ["bogus"])
    add("decomposition", "replace", ["--dataset", "mnist"], "--models-dir", [os.path.join(tmp, "missing-models")])
    add("decomposition", "table1", ["--models", "mnist-1"], "--data-dir", [__file__])  # a file, not a folder
    add("pruning", "lottery", lot_base_for_data(tmp), "--data-dir", [__file__])
    add("decomposition", "faulty", [], "--models-dir", [os.path.join(tmp, "missing-models")])
    add("decomposition", "fetch-models", [], "NAME", [["bogus"], ["../etc"]])
    add("decomposition", "fetch-models", ["mnist-1"], "--base-url", ["127.0.0.1/x", "ftp://127.0.0.1/"])
    # pruning obd
    obd_base = ["--n-train", "200", "--epochs", "1", "--retrain-epochs", "0", "--hessian-samples", "50", "--n-single", "2",
                "--fractions", "0.1"]
    for opt, vals in (("--epochs", ints), ("--retrain-epochs", ["-1", "abc"]), ("--batch-size", ["0", "-1"]),
                      ("--lr", ["0", "-1", "nan", "inf"]), ("--n-train", ["0", "-1", "100000000"]),
                      ("--hessian-samples", ["0", "-1"]), ("--fractions", ["1.5", "-0.1", "nan"]), ("--n-single", ["-1"]),
                      ("--hidden", ["0", "-1"]), ("--blas-threads", ["0", "-1"]), ("--approximation", ["bogus"])):
        base = [a for i, a in enumerate(obd_base) if opt not in (obd_base[i - 1] if i else "", a)]
        add("pruning", "obd", base + out_dir("obd"), opt, vals)
    # lottery
    lot_base = ["--iterations", "20", "--rounds", "1", "--trials", "1", "--eval-every", "10", "--n-train", "300"]
    for opt, vals in (("--iterations", ["0", "-1", "abc"]), ("--rounds", ["-1", "abc"]), ("--trials", ["0", "-1"]),
                      ("--trial-ids", ["-1", "abc"]), ("--eval-every", ["0", "-1"]), ("--rewind", ["-1", "1000000"]),
                      ("--n-train", ["0", "-1", "100000000"]), ("--blas-threads", ["0"]), ("--control-rounds", ["-1"])):
        base = [a for i, a in enumerate(lot_base) if opt not in (lot_base[i - 1] if i else "", a)]
        add("pruning", "lottery", base + out_dir("lottery" + opt), opt, vals)
    # wann
    wann_base = ["--population", "4", "--generations", "1", "--tune-epochs", "0"]
    for opt, vals in (("--population", ["0", "-1", "abc"]), ("--generations", ["-1", "abc"]), ("--batch-size", ["0", "-1"]),
                      ("--tournament-size", ["0", "-1"]), ("--p-enable", ["-0.1", "1.5", "nan"]),
                      ("--tune-epochs", ["-1"]), ("--n-jobs", ["0", "-2"]), ("--time-budget-minutes", ["0", "-1", "nan"]),
                      ("--task", ["bogus"])):
        base = [a for i, a in enumerate(wann_base) if opt not in (wann_base[i - 1] if i else "", a)]
        add("pruning", "wann", base + out_dir("wann" + opt), opt, vals)
    reused = os.path.join(tmp, "cli-wann-reused")
    add("pruning", "wann", wann_base, "--out", [reused])
    out[-1].setup = ("reuse-out", reused)
    # dsr
    dsr_base = ["--epochs", "1", "--n-train", "200", "--methods", "static", "--sparsity", "0.5", "--channels", "2", "2",
                "--hidden", "4"]
    for opt, vals in (("--epochs", ["0", "-1", "abc"]), ("--batch-size", ["0", "-1"]), ("--channels", ["0", "-1"]),
                      ("--hidden", ["0", "-1"]), ("--sparsity", ["1.5", "-0.1", "1", "nan"]), ("--lr", ["0", "-1", "nan"]),
                      ("--rewire-period", ["0", "-1"]), ("--n-prune-target", ["-0.1", "1.5"]), ("--n-train", ["0", "-1"]),
                      ("--blas-threads", ["0"]), ("--methods", ["bogus"]), ("--compare-seeds", [os.path.join(tmp, "nope.jsonl")])):
        base = []
        skip = False
        for a in dsr_base:  # drop the option under test (and its values) from the base
            if a.startswith("--"):
                skip = a == opt
            if not skip:
                base.append(a)
        add("pruning", "dsr", base + out_dir("dsr" + opt), opt, vals)
    add("pruning", "bogus", [], "bogus", [None])
    return out


def lot_base_for_data(tmp):
    return ["--iterations", "20", "--rounds", "1", "--trials", "1", "--out", os.path.join(tmp, "cli-lottery-data")]


def run_cli_case(case, env, tmp):
    if case.setup and case.setup[0] == "reuse-out":
        os.makedirs(case.setup[1], exist_ok=True)
        for name in ("checkpoint.npz", "champion.npz", "search.json"):
            with open(os.path.join(case.setup[1], name), "w") as f:
                f.write("previous run\n")
    argv = [sys.executable, "-m", *case.argv]
    start = time.time()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=CLI_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return "silent", f"still running after {CLI_TIMEOUT:.0f} s (the bad value was accepted and work started)"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    if proc.returncode < 0:
        return "crash", f"signal {-proc.returncode}: {last[:200]}"
    if proc.returncode == 0:
        return "silent", f"exit 0 after {time.time() - start:.0f} s"
    problems = []
    if proc.returncode != 2:
        problems.append(f"exit {proc.returncode}")
    if any(ln.startswith("Traceback") for ln in lines):
        problems.append("traceback")
    if len(lines) != 1:
        problems.append(f"{len(lines)} stderr lines")
    opt = case.arg.lstrip("-")
    paths = [a for a in case.argv if os.sep in a]  # a path the user typed names its option too
    if case.arg not in err and opt not in err and not (paths and paths[-1] in err):
        problems.append(f"does not name {case.arg}")
    if problems:
        return "unclear", f"{', '.join(problems)}: {last[:240]}"
    return "clear", last[:240]


# ---------------------------------------------------------------------------
# Worker and driver
# ---------------------------------------------------------------------------

FAMILIES = [("sparse", lambda tmp: sparse_cases()), ("functional", lambda tmp: functional_cases()),
            ("conv", lambda tmp: conv_cases()), ("init", lambda tmp: init_cases()), ("mlp", lambda tmp: mlp_cases()),
            ("layers", lambda tmp: cnn_cases()), ("optim", lambda tmp: optim_cases()), ("train", lambda tmp: train_cases()),
            ("io", io_cases), ("data", data_cases), ("decomposition", decomposition_cases),
            ("masks", lambda tmp: masks_cases()), ("schedules", lambda tmp: schedules_cases()),
            ("wann_tasks", wann_tasks_cases), ("obd", lambda tmp: obd_cases()), ("lottery", lambda tmp: lottery_cases()),
            ("wann", wann_cases), ("dsr", dsr_cases), ("sparse_layers", lambda tmp: dynamic_cases()),
            ("rigl", lambda tmp: rigl_cases()), ("torch_like", lambda tmp: torch_like_cases())]


def api_cases(tmp, only=None, family=None):
    cases = []
    for name, build in FAMILIES:
        if family is not None and name != family:
            continue
        try:
            built = build(tmp)
        except Exception as err:  # the probe is wrong about this family: report it, keep going
            built = [Case(f"{name} [builder failed]", "", (lambda e=err: (_ for _ in ()).throw(e)), control=True)]
        cases += built
    for c in cases:  # a file argument is also named by the file's path (all probe files live under tmp)
        if c.arg in ("path", "folder", "models_dir", "data_dir") and c.also is None:
            c.also = tmp
    if only:
        cases = [c for c in cases if re.search(only, c.name)]
    return cases


def names_argument(message, arg):
    """True if ``message`` names ``arg`` as a word (``weights`` matches ``weights[0]``)."""
    if not arg:
        return True
    return re.search(r"(?<![A-Za-z0-9_])" + re.escape(arg) + r"(?![A-Za-z0-9_])", message) is not None


def classify(case, thunk):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            thunk()
    except BaseException as err:  # noqa: BLE001 - every exception is an outcome to classify
        if isinstance(err, KeyboardInterrupt):
            raise
        text = f"{type(err).__name__}: {str(err).splitlines()[0][:300] if str(err) else ''}"
        if case.control:
            return "control-failed", text
        if not isinstance(err, case.accept):
            return "unclear", text
        if not names_argument(str(err), case.arg) and not (case.also and case.also in str(err)):
            return "unclear", f"does not name {case.arg!r}: {text}"
        return "clear", text
    return ("control-ok", "") if case.control else ("silent", "returned normally")


def worker(start, stop, only, family, tmp):
    cases = api_cases(tmp, only, family)
    print(f"N {len(cases)}", flush=True)
    for i in range(start, min(len(cases), stop if stop is not None else len(cases))):
        print("S " + json.dumps([i, cases[i].name, cases[i].arg, cases[i].control]), flush=True)
        outcome, detail = classify(cases[i], cases[i].thunk)
        print("R " + json.dumps([i, outcome, detail]), flush=True)
    print("DONE", flush=True)


def _reader(stream, q):
    for line in stream:
        q.put(line)
    q.put(None)


def run_worker(family, only, tmp, env, start, stop=None):
    """Run cases [start, stop) of ``family`` in one worker until it finishes, crashes or hangs.

    Returns (results, next_start or None when finished, crashed_case_index or None).
    """
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--family", family, "--start", str(start),
           "--tmp", tmp]
    if stop is not None:
        cmd += ["--stop", str(stop)]
    if only:
        cmd += ["--only", only]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
                            start_new_session=True)
    q = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, q), daemon=True).start()
    results, current, done = [], None, False
    while True:
        try:
            line = q.get(timeout=API_TIMEOUT if current else 300.0)
        except queue.Empty:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            if current is None:
                results.append((f"{family} [worker silent for 300 s]", "", True, "control-failed", ""))
                return results, None, None
            results.append((current[1], current[2], current[3], "hang", f"no return within {API_TIMEOUT:.0f} s"))
            return results, current[0] + 1, None
        if line is None:
            proc.wait()
            if done:
                return results, None, None
            if current is None:
                results.append((f"{family} [worker exited {proc.returncode} outside a case]", "", True, "control-failed", ""))
                return results, None, None
            sig = -proc.returncode if proc.returncode < 0 else None
            detail = (f"killed by signal {sig} ({signal.Signals(sig).name})" if sig
                      else f"process exited with status {proc.returncode}")
            results.append((current[1], current[2], current[3], "crash", detail))
            return results, current[0] + 1, current[0]
        if line.startswith("S "):
            current = json.loads(line[2:])
        elif line.startswith("R "):
            _, outcome, detail = json.loads(line[2:])
            results.append((current[1], current[2], current[3], outcome, detail))
            current = None
        elif line.startswith("DONE"):
            done = True


def run_family(family, only, tmp, env):
    """All cases of ``family``; a crash is re-run alone to tell its own crash from earlier memory corruption."""
    results, start = [], 0
    while start is not None:
        first = start
        chunk, start, crashed = run_worker(family, only, tmp, env, start)
        if crashed is not None and crashed > first:
            solo, _, _ = run_worker(family, only, tmp, env, crashed, crashed + 1)
            if solo and solo[-1][3] != "crash":
                name = chunk[-1][0]
                chunk[-1] = solo[-1]
                chunk.append((f"{family} [delayed crash at '{name}': memory corrupted by one of its cases "
                              f"#{first}..#{crashed - 1}]", "", False, "crash", "crashes only after earlier cases ran "
                              "in the same process"))
        results += chunk
    return results


def run_api(only, tmp, env, jobs=2):
    with ThreadPoolExecutor(jobs) as pool:
        chunks = list(pool.map(lambda f: run_family(f, only, tmp, env), [name for name, _ in FAMILIES]))
    return [r for chunk in chunks for r in chunk], None


def run_clis(only, tmp, env, jobs=2):
    cases = cli_cases(tmp)
    if only:
        cases = [c for c in cases if re.search(only, c.name)]
    with ThreadPoolExecutor(jobs) as pool:
        outcomes = list(pool.map(lambda c: run_cli_case(c, env, tmp), cases))
    return [(c.name, c.arg, False, o, d) for c, (o, d) in zip(cases, outcomes)]


#: Non-clear outcomes the library documents as intended (the issue allows unchecked primitives whose
#: model-level callers check first): (case-name pattern, where it is documented).
DOCUMENTED = [
    (r"^(functional|sparse)\.[\w\[\]]+( [\w-]+)? (X|Z|A|B|dZ)=empty$",
     "nnlite.functional / nnlite.sparse docstrings: an empty batch (0 rows) is accepted"),
    (r"^decomposition\.activity_pass X=empty$",
     "decomposition.activity_pass docstring: an empty batch (0 rows) gives an empty Activity"),
    (r"^conv\.(im2col|col2im|maxpool2d_\w+|flatten_\w+) ",
     "nnlite.conv docstring: im2col, col2im, maxpool2d_*, flatten_* are unchecked primitives (nnlite.layers check)"),
    (r"^sparse\.to_csr W=(width\+1|empty)$",
     "nnlite.sparse.to_csr docstring: any shape is accepted, an empty one too, and an all-zero W gives an empty CSR"),
    (r"^dsr\.reallocate K=too-many$",
     "pruning.dsr.reallocate docstring: K may exceed sum(capacity); sum(G) = min(K, sum(capacity)), DSR relies on it"),
]


def documented(name):
    """The documentation that makes this case's non-clear outcome intended, or None."""
    return next((why for pattern, why in DOCUMENTED if re.search(pattern, name)), None)


def summarize(results):
    counted = [r for r in results if not r[2]]
    counts = {k: sum(r[3] == k for r in counted) for k in ("clear", "unclear", "silent", "crash", "hang")}
    n_documented = sum(r[3] in ("unclear", "silent") and documented(r[0]) is not None for r in counted)
    return {"inputs": len(counted), **counts, "documented": n_documented}


def remove_stale_probe_folders(max_age=3600):
    """Remove the scratch folders of probe runs that were killed (untouched for ``max_age`` seconds)."""
    root = tempfile.gettempdir()
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if name.startswith("nnlite-probe-") and os.path.isdir(path) and time.time() - os.path.getmtime(path) > max_age:
            shutil.rmtree(path, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="regular expression on case names")
    parser.add_argument("--no-cli", action="store_true")
    parser.add_argument("--no-api", action="store_true")
    parser.add_argument("--list", action="store_true", help="list the API and CLI case names, run nothing")
    parser.add_argument("--json-out", default=None, help="also write every result as JSON lines here")
    parser.add_argument("--findings", default=None, help="also write the non-clear cases grouped by module here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--stop", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--family", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tmp", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.start, args.stop, args.only, args.family, args.tmp)
    remove_stale_probe_folders()
    tmp = tempfile.mkdtemp(prefix="nnlite-probe-")
    try:
        if args.list:
            names = [c.name for c in api_cases(tmp, args.only)] + [c.name for c in cli_cases(tmp)
                                                                   if not args.only or re.search(args.only, c.name)]
            print("\n".join(names))
            return 0
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
               "PYTHONWARNINGS": "ignore", "NNLITE_OFFICIAL_MODELS_URL": "http://127.0.0.1:9/"}
        for dataset in ("MNIST", "FASHION_MNIST", "KMNIST", "EMNIST", "CIFAR10", "CIFAR_10"):  # no download may wait
            env["NNLITE_DATA_URL_" + dataset] = "http://127.0.0.1:9/"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), HERE) if p)
        t0 = time.time()
        results, problem = ([], None) if args.no_api else run_api(args.only, tmp, env)
        if not args.no_cli:
            results += run_clis(args.only, tmp, env)
        report(results, problem, time.time() - t0, args.json_out)
        if args.findings:
            code = os.pathsep.join(p for p in env["PYTHONPATH"].split(os.pathsep) if p != HERE)
            write_findings(results, args.findings, f"# probe_bad_inputs.py on {code} at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
                           + json.dumps(summarize(results)))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


#: Where each group of cases lives (to route findings): group prefix -> package area.
AREAS = {"sparse": "nnlite.sparse", "functional": "nnlite.functional", "conv": "nnlite.conv", "init": "nnlite.init",
         "MLP": "nnlite.models", "layers": "nnlite.layers", "models": "nnlite.models", "optim": "nnlite.optim", "train": "nnlite.train", "io": "nnlite.io",
         "data": "nnlite.data", "decomposition": "decomposition", "official_models": "decomposition.official_models",
         "reuse": "decomposition.reuse", "experiments": "decomposition.experiments", "masks": "pruning.masks",
         "schedules": "pruning.schedules", "wann_tasks": "pruning.wann_tasks", "obd": "pruning.obd",
         "lottery": "pruning.lottery", "wann": "pruning.wann", "dsr": "pruning.dsr", "sparse_layers": "pruning.sparse_layers"}


def group_of(name):
    """``python -m decomposition demo`` for a CLI case, else the module area of the case's first word."""
    if name.startswith("cli "):
        return "python -m " + " ".join(name.split()[1:3])
    head = name.split()[0].split("[")[0]
    return AREAS.get(head.split(".")[0], head)


def write_findings(results, path, header):
    """Every non-clear case grouped by module or command line, for routing."""
    groups = {}
    for r in results:
        if not r[2] and r[3] in ("crash", "hang", "silent", "unclear"):
            groups.setdefault(group_of(r[0]), []).append(r)
    with open(path, "w") as f:
        f.write(header + "\n")
        for group, rows in groups.items():
            counts = ", ".join(f"{k} {sum(r[3] == k for r in rows)}" for k in ("crash", "hang", "silent", "unclear")
                               if any(r[3] == k for r in rows))
            f.write(f"\n## {group} ({counts})\n")
            for r in sorted(rows, key=lambda r: ("crash", "hang", "silent", "unclear").index(r[3])):
                why = documented(r[0]) if r[3] in ("silent", "unclear") else None
                f.write(f"  [{r[3]}{' (documented)' if why else ''}] {r[0]}  ->  {r[4]}\n")


def report(results, problem, seconds, json_out):
    controls = [r for r in results if r[2]]
    bad_controls = [r for r in controls if r[3] != "control-ok"]
    print(f"probe: {len(results) - len(controls)} inputs, {len(controls)} controls ({len(bad_controls)} failed) "
          f"in {seconds:.0f} s")
    if problem:
        print(f"probe: WORKER PROBLEM: {problem}")
    for r in bad_controls:
        print(f"  CONTROL FAILED (probe is wrong about the API)  {r[0]}: {r[4]}")
    for kind in ("crash", "hang", "silent", "unclear"):
        rows = [r for r in results if not r[2] and r[3] == kind]
        print(f"== {kind}: {len(rows)}")
        for r in rows:
            print(f"  [{kind}] {r[0]}  ->  {r[4]}")
    if json_out:
        with open(json_out, "w") as f:
            for r in results:
                f.write(json.dumps({"name": r[0], "arg": r[1], "control": r[2], "outcome": r[3], "detail": r[4]}) + "\n")
    summary = summarize(results)
    if summary["inputs"]:
        print(f"clear fraction: {summary['clear'] / summary['inputs']:.3f}; counting the {summary['documented']} "
              f"documented exceptions as clear: {(summary['clear'] + summary['documented']) / summary['inputs']:.3f}")
    print(json.dumps(summary))


if __name__ == "__main__":
    sys.exit(main())
