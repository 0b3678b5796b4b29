# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
#   nnlite:
#     requires:
#     - shared_data
# ---

# %% [markdown]
# # Dynamic sparse training on a CNN
#
# Most pruning methods train a dense network first and cut it afterwards.
# *Dynamic sparse training* keeps the network sparse from the first step:
# only a fixed budget of weights exists at any time, but *which* weights
# exist changes during training. This chapter follows
#
# > H. Mostafa and X. Wang, "Parameter efficient training of deep
# > convolutional neural networks by dynamic sparse reparameterization"
# > (DSR), ICML 2019,
#
# on a small convolutional network for Fashion-MNIST, and compares it with a
# fixed random sparse network, with SET (Mocanu et al. 2018), with RigL
# (Evci et al. 2020) and with gradual magnitude pruning (Zhu & Gupta 2017).
# Everything is library code: `nnlite.conv` (convolution as a matrix
# product), `pruning.sparse_layers` (layers whose weight is stored dense or in CSR
# form), `pruning.dsr` (the algorithms), `pruning.rigl` and
# `pruning.experiments.dsr` (the experiment: data, and one run from a plain
# `RunConfig`). Set `NNLITE_QUICK=1` for a run of
# about a minute on a tiny subset; unset, the chapter trains on 15,000 images
# for 10 epochs.

# %%
import dataclasses
import os

import matplotlib.pyplot as plt
import numpy as np

from nnlite import conv, sparse
from nnlite.experiment import REPO
from nnlite.models import small_cnn
from pruning import dsr
from pruning.experiments import dsr as DX
from pruning.sparse_layers import DynamicLinear, dynamic_layers, memory_report

QUICK = os.environ.get("NNLITE_QUICK") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. A convolution is one matrix product
#
# Images are NHWC, `X (n, h, w, c_in)`. `im2col` copies every k x k patch
# into a row; the kernel is stored as a 2-D weight `W (k*k*c_in, c_out)`, so
# the convolution is `im2col(X) @ W + b`. This is the point of the layout:
# a convolution kernel is just another weight matrix, and a CSR kernel goes
# through exactly the same product as a dense one.

# %%
X = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
W = rng.standard_normal((3 * 3 * 3, 4)).astype(np.float32)
b = np.zeros(4, dtype=np.float32)
cols = conv.im2col(X, (3, 3), stride=1, padding=1)
Z = conv.conv2d_forward(X, W, b, (3, 3), stride=1, padding=1)
print("im2col:", cols.shape, "->  Z:", Z.shape)
assert cols.shape == (2 * 6 * 6, 27) and Z.shape == (2, 6, 6, 4)
assert np.allclose((cols @ W).reshape(Z.shape), Z)

W_sparse = W * (rng.random(W.shape) < 0.3)
assert np.allclose(conv.conv2d_forward(X, sparse.to_csr(W_sparse), b, (3, 3), 1, 1),
                   conv.conv2d_forward(X, W_sparse, b, (3, 3), 1, 1), atol=1e-5)

# %% [markdown]
# ## 2. Dense or CSR: what a sparse weight costs
#
# A `DynamicLinear` holds a weight with a fraction `sparsity` of inactive
# connections. Stored dense, it costs 4 bytes per entry whatever the
# sparsity. Stored in compressed sparse row form it costs, per active weight,
# a 4-byte value and a 4-byte column index, plus one 4-byte row pointer per
# row: `nnz * 8 + (rows + 1) * 4` bytes. CSR therefore wins below about 50%
# density, and at 90% sparsity it needs about a fifth of the dense bytes.

# %%
sparsities = [0.0, 0.3, 0.5, 0.7, 0.9, 0.95]
rows = []
for s in sparsities:
    m = DynamicLinear(1024, 1024, s, storage="csr", rng=0).memory()
    rows.append((s, m["n_active"], m["bytes_dense"] - 4096, m["bytes_csr"] - 4096))
print(f"{'sparsity':>8} {'active':>9} {'dense B':>10} {'CSR B':>10} {'CSR/dense':>9}")
for s, n, d, c in rows:
    print(f"{s:8.0%} {n:9,} {d:10,} {c:10,} {c / d:9.3f}")
ratio_90 = rows[4][3] / rows[4][2]
assert rows[2][3] > rows[2][2] * 0.99 and rows[3][3] < rows[3][2]  # crossover near 50% density
assert 0.2 < ratio_90 < 0.21

# %% [markdown]
# Memory is not speed. Which storage is faster depends on the machine: a
# layer's storage is fixed when it is built, and `storage_for(sparsity, kind)`
# (what `--storage auto` calls once per layer) picks CSR only below a density
# crossover that `pruning.sparse_layers.measure_density_crossover` times once per process
# (`benchmarks/cnn.py` reports the speed of a 95%-sparse 1024x1024 layer).
# Both storages compute the same numbers up to float rounding (a test checks
# it), but DSR's pruning decisions amplify rounding, so a run repeats bit for
# bit only with the same storage, backend and thread count; the runs below
# store W dense. The CSR products themselves have two
# backends, SciPy/NumPy and, when numba is installed, compiled loops; they
# agree to float32 rounding:

# %%
layer = DynamicLinear(256, 128, 0.9, storage="csr", rng=0)
X_batch = rng.standard_normal((32, 256)).astype(np.float32)
outputs = {}
for name in [b for b in sparse.BACKENDS if b == "numpy" or sparse.kernels.AVAILABLE]:
    with sparse.use_backend(name):
        A, cache = layer.forward(X_batch)
        dX, (dW, db) = layer.backward(np.ones_like(A), cache)
        outputs[name] = (A, dX, dW.toarray())
print("backends:", list(outputs), "| CSR backend in use:", sparse.backend())
for A, dX, dW in outputs.values():
    assert all(np.allclose(u, v, atol=1e-5) for u, v in zip((A, dX, dW), outputs["numpy"]))

# %% [markdown]
# ## 3. One DSR rewiring, step by step
#
# DSR keeps one global threshold `H` for all layers. Every `rewire_period`
# iterations it
#
# 1. prunes every active weight with `|w| < H` (K_i pruned, R_i surviving in
#    layer i),
# 2. gives the K freed parameters back in proportion to the survivors,
#    `G_i = round(K R_i / sum_j R_j)` (largest-remainder rounding, so that the
#    G_i add up to exactly K),
# 3. regrows G_i connections at random among each layer's zero positions,
#    never the ones it just pruned, starting at 0,
# 4. halves H if more than 1.1 N_p weights were pruned, doubles it if fewer
#    than 0.9 N_p.
#
# We build the chapter's network at 90% sparsity and rewire once with a
# deliberately large threshold.

# %%
model = dsr.build_model("dsr", (28, 28, 1), 10, 0.9, rng=0, storage="dense")
before = [layer.n_active for layer in dynamic_layers(model)]
method = dsr.DSR(H=0.02, n_prune_target=500, rng=0)
method.rewire_inplace(model)
step = method.history_[-1]
after = [layer.n_active for layer in dynamic_layers(model)]
print("active per layer before:", before)
print("pruned K =", step["K"], " regrown G_i =", step["G"])
print("active per layer after: ", after, "  H ->", method.H)
assert sum(step["G"]) == step["K"] and sum(after) == sum(before)
assert method.H == 0.01  # K was above 1.1 N_p, so H was halved
assert after[2] < before[2] and after[1] > before[1]  # dense layer 1 gives, conv layer 2 takes

# %% [markdown]
# The first dense layer (1568 x 128) has the smallest weights, so the global
# threshold hits it hardest, and the freed parameters flow to the second
# convolution, whose larger weights survive. The first convolution and the
# output layer start dense (see below), so they have no free position to
# regrow into: they can only lose. The total stays fixed while its
# distribution moves.
#
# ## 4. Training: dense, static, SET, DSR, RigL and GMP
#
# All sparse runs start from the same budget (90% of the weights inactive,
# spread over the layers by the Erdős–Rényi rule of SET, so the tiny first
# and last layers stay dense) and are evaluated on the Fashion-MNIST test
# set. They use the seed study's recipe (`--recipe seed-study`: Adam at a
# constant lr 1e-3, batch 128, a constant rewiring period); the paper's own
# recipe (`--recipe paper`: SGD with momentum and a decaying learning rate, a
# rewiring period that doubles and then stops, the first convolution and the
# output layer dense) is an option of the same command. All runs share one
# seed, so they start from the same initial weights (masked) and see the
# same minibatches: only the method differs.

# %%
# the seed study's recipe (Adam 1e-3, a constant rewiring period, every layer sparse): RunConfig's defaults
config = DX.RunConfig(rewire_period=25)
n_train = 15000
if QUICK:
    config = DX.RunConfig(channels=(4, 8), hidden=32, epochs=2, rewire_period=10, batch_size=64, lr=4e-3)
    n_train = 1500
data = DX.load_dataset("fashion-mnist", n_train=n_train, rng=0)
if QUICK:
    data = dataclasses.replace(data, X_test=data.X_test[:1000], y_test=data.y_test[:1000])
print(DX.dataset_note("fashion-mnist", n_train), "| train", len(data.X_train), "validation", len(data.X_val),
      "test", len(data.X_test))
records = [DX.run_one(m, 0.9, data, config, seed=0) for m in dsr.METHODS]

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for r in records:
    epochs = np.arange(1, len(r["loss"]) + 1)
    label = r["method"] if r["method"] == "dense" else f"{r['method']} 90%"
    axes[0].plot(epochs, r["val_accuracy"], marker="o", label=label)
    axes[1].plot(epochs, r["loss"], marker="o", label=label)
axes[0].set(title="validation accuracy", xlabel="epoch")
axes[1].set(title="training loss", xlabel="epoch")
axes[0].legend()
plt.show()

# %%
print(DX.format_table(records))
by_method = {r["method"]: r for r in records}
gap = 100 * (by_method["dsr"]["test_accuracy"] - by_method["dense"]["test_accuracy"])
print(f"DSR at 90% sparsity minus dense: {gap:+.2f} points of test accuracy")
sparse_runs = [r for r in records if r["method"] != "dense"]
assert len({r["n_active"] for r in sparse_runs if r["method"] != "gmp"}) == 1  # one budget for all
assert all(r["test_accuracy"] > (0.2 if QUICK else 0.8) for r in records)  # every run learned (chance: 0.1)
assert all(r["csr_over_dense"] < 0.25 for r in sparse_runs)

# %% [markdown]
# One seed is an illustration, not a comparison: the gaps between the sparse
# methods above are of the size of the spread between seeds. The comparison
# is in the committed records of `python -m pruning dsr --seeds N` on the
# full Fashion-MNIST training set with the paper's recipe (10 epochs; the
# commands are in `docs/pruning.md`): every method's mean test accuracy with
# its 95% t interval over n seeds, and its gap to dense paired by seed (same
# initial weights, same minibatches).

# %%
records_dir = REPO / "docs" / "records"
fmnist_paper = [records_dir / "dsr90_paper_fmnist.jsonl", records_dir / "dsr80_paper_fmnist.jsonl"]
print(DX.compare_seeds(fmnist_paper))
rows = DX.seed_statistics(fmnist_paper)
assert all(r["n"] >= 3 and r["ci95"] is not None for r in rows)   # every row has n >= 3 and an interval

# %% [markdown]
# The storage column is the point of the seed study: the 90%-sparse
# network needs about a fifth of the dense float32 bytes in CSR form. For
# the chapter's full-size network that ratio is computed here without
# training:

# %%
full = memory_report(dsr.build_model("dsr", (28, 28, 1), 10, 0.9, rng=0, storage="dense"))
print(f"full-size CNN at 90% sparsity: {full['bytes_csr']:,} CSR bytes vs {full['bytes_dense']:,} dense "
      f"= {full['csr_over_dense']:.4f}")
assert full["csr_over_dense"] <= 0.21

# %% [markdown]
# ## Summary
#
# - A convolution is `im2col(X) @ W`, so a convolution kernel is a weight
#   matrix like any other, and dense and CSR kernels share one code path.
# - CSR storage costs `nnz * 8 + (rows + 1) * 4` bytes: below 50% density it
#   beats dense storage, and a 90%-sparse network needs about 0.21 of the
#   dense bytes.
# - DSR moves a fixed budget of weights between layers with one global
#   adaptive threshold; the number of active weights never changes, only
#   where they are.
# - Static sparsity, SET, DSR, RigL and gradual magnitude pruning can be
#   compared on one footing because they all act on the same dynamic layers,
#   start from the same initial weights and see the same minibatches.
#
# ## Exercises
#
# 1. Run `python -m pruning dsr --epochs 10 --sparsity 0.8 0.9` and compare
#    the 80% and 90% tables. Which method loses least when the budget halves?
# 2. Set `distribution="uniform"` and watch DSR move weights back into the
#    first convolution (print `method.history_[-1]["n_active"]`).
# 3. In `pruning.dsr.reallocate` switch to `rounding="paper"`: how many
#    parameters does the network gain or lose over a run?
# 4. RigL (`pruning.rigl`) regrows where the dense gradient is largest. Print
#    `history_` of a `RigL` run: how many of the regrown connections were
#    inactive before, and how does that change as the update fraction decays?
# 5. Run the experiment with `--seeds 3` and read `seeds.md` (each method's
#    mean with its 95% interval and its paired gap to dense). Is the gap
#    between two sparse methods larger than the spread between seeds? Then
#    rerun one seed with `--storage csr`: what does a last-bit difference in
#    the products do to DSR, and to the static mask?
