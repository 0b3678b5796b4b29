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
#     - official_models
# ---

# %% [markdown]
# # Decomposing a network into modules
#
# A trained classifier for ten digits is one monolithic network. Pan and
# Rajan ask whether it can be cut into ten *modules*, one per class, each a
# small network that says "this is my class" or "it is not", so that the
# modules can be recombined like software parts:
#
# > R. Pan and H. Rajan, "On Decomposing a Deep Neural Network into
# > Modules", ESEC/FSE 2020, doi:10.1145/3368089.3409668.
#
# A module is the original network with some edges removed (set to 0). Which
# edges stay is decided by running examples through the network and watching
# which hidden nodes switch on:
#
# 1. **Concern identification (CI, Alg. 1)**: for examples of the class
#    (*positives*), keep only the nodes and edges they use.
# 2. **Tangling identification (TI, Alg. 2)**: for examples of the other
#    classes (*negatives*), restore the nodes they use, so the module can
#    still tell its class apart from the rest.
# 3. **Concern modularization (CM, Alg. 4-5)**: turn the ten-way output layer
#    into two columns, "my class" and "the rest" (*channeling*), optionally
#    after removing irrelevant edges (CM-RIE).
#
# This chapter runs each step by hand on a network small enough to print,
# then decomposes one of the authors' own MNIST models, and ends with what
# modules are for: reuse and replacement. All algorithms live in the
# `decomposition` package; this notebook only calls them. Set
# `NNLITE_QUICK=1` for a run of about a minute.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import decomposition as dc
from decomposition.experiments import data as exp_data
from decomposition.experiments import replacement as exp_replacement
from decomposition.experiments import reuse as exp_reuse
from decomposition.activity import activity_pass
from decomposition.concern_identification import identify_concern
from decomposition.concern_modularization import channel, remove_irrelevant_edges
from decomposition.fidelity import FIDELITY
from decomposition.official_models import resolve_models_dir
from decomposition.tangling_identification import identify_tangling, start_module
from nnlite import io

QUICK = os.environ.get("NNLITE_QUICK") == "1"
PAPER = FIDELITY["paper"]

# %% [markdown]
# The second half needs the MNIST files and the authors' models. They are
# found through the environment variables `NNLITE_DATA` and
# `NNLITE_OFFICIAL_MODELS` (or `../shared/...` beside the repository); stop
# here with a clear message if they are missing.

# %%
data_dir = os.environ.get("NNLITE_DATA") or str(Path.cwd().resolve().parents[1] / "shared" / "data")
models_dir = resolve_models_dir()
for path, variable in [(Path(data_dir), "NNLITE_DATA"), (models_dir, "NNLITE_OFFICIAL_MODELS")]:
    if not path.is_dir():
        raise FileNotFoundError(f"{path} not found: set {variable} to the shared data / official-models folder")

# %% [markdown]
# ## 1. A network you can read
#
# Four inputs, two hidden layers of three ReLU units, three classes. Weights
# are in the Keras layout, `W_i` of shape `(d_in, d_out)`, so a layer
# computes `X_i = relu(X_{i-1} W_i + B_i)`.

# %%
W1 = np.array([[1, -1, 0], [1, 1, -1], [-1, 1, 1], [0, -1, 1]], dtype=float)
W2 = np.array([[1, 1, -1], [-1, 1, 1], [1, -1, 1]], dtype=float)
W3 = np.array([[2, -1, -1], [-1, 2, -1], [-1, -1, 2]], dtype=float)
weights = [W1, W2, W3]
biases = [np.zeros(3), np.array([0.0, -0.5, 0.0]), np.zeros(3)]
X = np.array([[1, 1, 0, 0], [1, 0.5, 0, 0], [1, 1, 0.2, 0],      # three examples of class 0
              [0, 0, 1, 1], [1, 0, 0, 0]], dtype=float)           # one of class 2, one of class 1
y = np.array([0, 0, 0, 2, 1])

# %% [markdown]
# ### The activity pass
#
# Alg. 1, lines 4-9, compute every layer's values and call a hidden node
# *active* when its value is > 0. The pseudocode (and the authors' code)
# feed the next layer the **unrectified** value, `X_i = X_{i-1} W_i + B_i`
# (`propagation="linear"`); the network itself rectifies
# (`propagation="relu"`). Whether that matters is the subject of the next
# chapter; here is a first example where it does.

# %%
linear = activity_pass(weights, biases, X, "linear")
relu = activity_pass(weights, biases, X, "relu")
for i in range(2):
    print(f"hidden layer {i + 1} active, linear:\n{linear.active[i].astype(int)}\n"
          f"                     relu:\n{relu.active[i].astype(int)}")
differing = int(sum(np.sum(a != b) for a, b in zip(linear.active, relu.active)))
assert np.array_equal(linear.active[0], relu.active[0])   # layer 1 sees the input either way
print("flags that differ:", differing)
assert differing == 1

# %% [markdown]
# Layer 1 always agrees. In layer 2 the example of class 1, x = (1, 0, 0, 0),
# differs: its layer-1 values are (1, -1, 0). The linear pass hands -1 on,
# and the second node of layer 2 gets 1 - 1 - 0.5 = -0.5 (inactive); the
# network hands on relu(-1) = 0 and the node gets 1 - 0.5 = 0.5 (active).
#
# ### Concern identification, one positive at a time
#
# Alg. 3, line 3 starts a module as the network itself (`D = W`) with the
# sparsity indicator off (the authors' code instead starts empty with the
# indicator set, so that its first positive copies the edges into its active
# nodes: `fidelity="official"`). Each positive keeps only the *common*
# edges: Alg. 1 lines 22-29 take `max(D, W)` and clamp negatives for a
# negative weight, `min(D, W)` for a positive one. Since `D` is always 0 or
# `W`, that is a mask intersection, and **every negative incoming weight of
# a kept node ends up 0**. The pictures show the kept edges (yellow) of each
# hidden layer after each positive.

# %%
positives = np.flatnonzero(y == 0)
activity = activity_pass(weights, biases, X[positives], "linear")
masks = start_module(weights, biases, PAPER)
history = []
for k in range(len(positives)):
    masks = identify_concern(masks, weights, activity.subset([k]), PAPER, "TI-I")
    history.append([m.copy() for m in masks.hidden_edges])

fig, axes = plt.subplots(2, len(history), figsize=(2.2 * len(history), 4))
for k, step in enumerate(history):
    for i, mask in enumerate(step):
        axes[i, k].imshow(mask, vmin=0, vmax=1)
        axes[i, k].set_title(f"after positive {k + 1}, W{i + 1}", fontsize=8)
        axes[i, k].set_xticks([]), axes[i, k].set_yticks([])
fig.tight_layout()

# %%
for before, after in zip(history, history[1:]):
    assert all(np.all(a <= b) for a, b in zip(after, before))       # CI never adds an edge
kept = history[-1]
assert all(np.all(W[m] > 0) for W, m in zip(weights, kept))          # only positive weights survive
print("kept hidden edges after each positive:", [int(sum(m.sum() for m in s)) for s in history])

# %% [markdown]
# ### Tangling identification: the negatives put edges back
#
# A module that only knows its own class would say "mine" to everything.
# TI (Alg. 2) runs the negatives and restores the full incoming column of
# every hidden node they activate, negative weights included. TI never
# removes an edge.

# %%
negatives = np.flatnonzero(y != 0)
after_ti = identify_tangling(masks, weights, activity_pass(weights, biases, X[negatives], "linear"), PAPER, "TI-I")
for i, (m_ci, m_ti) in enumerate(zip(masks.hidden_edges, after_ti.hidden_edges)):
    assert np.all(m_ci <= m_ti)
    print(f"W{i + 1}: {int(m_ci.sum())} edges after CI, {int(m_ti.sum())} after TI")

# %% [markdown]
# ### Concern modularization: two output columns
#
# The module still has three outputs. Channeling (Alg. 4) keeps the target
# column and folds the other classes into one *negative* column (column 1
# when the target is 0, else column 0): each node's weight to it is the mean
# of its weights to the non-target classes. CM-RIE first removes irrelevant
# edges (nodes with no edge to the target), merging them.

# %%
D, d = after_ti.weights_and_biases(weights, biases)
D_rie, d_rie, irrelevant = remove_irrelevant_edges(D, d, 0, PAPER)
D_cm, d_cm = channel(D_rie, d_rie, 0, PAPER)
print("output layer after TI:\n", D[-1], "\nafter CM-RIE:\n", D_cm[-1])
assert np.count_nonzero(np.any(D_cm[-1] != 0, axis=0)) <= 2

# %% [markdown]
# All of this is one call, `dc.decompose(model, X, y, approach)`, for every
# class at once (vectorised: one activity pass per layer for all examples).

# %% [markdown]
# ## 2. Decomposing one of the authors' MNIST models
#
# The authors trained networks of 1-4 hidden layers of 49 ReLU units. Their
# code divides the pixels by 255 twice, so their models expect inputs in
# [0, 1/255]. We load MNIST-4 and decompose it with CM-RIE as their code
# does (`fidelity="official"`: 1,000 positives the model classifies with
# p > 0.9 among the first 10,000 training images, 110 negatives per class).

# %%
X_train, y_train, X_test, y_test, _ = exp_data.dataset_arrays("mnist", data_dir)
if QUICK:
    X_test, y_test = X_test[:2000], y_test[:2000]
model = io.load(models_dir / "mnist-4.npz")
modules = dc.decompose(model, X_train, y_train, "CM-RIE", fidelity="official", rng=0)
model_accuracy = 100 * model.score(X_test, y_test)
composed = 100 * dc.composed_accuracy(modules, X_test, y_test)
print(f"model {model_accuracy:.2f}%, ten modules composed {composed:.2f}% on {len(y_test)} test images")
assert abs(composed - model_accuracy) < 0.3
if not QUICK:
    assert round(composed, 2) == 96.75        # Table 1, CM-RIE MNIST-4
    assert round(model_accuracy - composed, 2) == 0.04

# %% [markdown]
# Our modules are the authors' stored modules bit for bit:

# %%
stored = dc.load_official_modules("CM-RIE", "mnist-4", models_dir)
identical = sum(all(np.array_equal(a, b) for a, b in zip(m.weights + m.biases, s.weights + s.biases))
                for m, s in zip(modules, stored))
print(f"{identical}/10 modules identical to the stored ones")
assert identical == 10

# %% [markdown]
# What does a module keep? The masks of module 3's hidden layers (the first
# layer is 784 x 49; we show the sum over the 784 inputs as a 28 x 28 image
# of how many hidden units still see each pixel), and its output layer,
# where only the target column and the negative column are left.

# %%
m3 = modules[3]
fig, axes = plt.subplots(1, 5, figsize=(13, 2.8))
axes[0].imshow((m3.weights[0] != 0).sum(axis=1).reshape(28, 28))
axes[0].set_title("units seeing each pixel")
for i in (1, 2, 3):
    axes[i].imshow(m3.weights[i] != 0, vmin=0, vmax=1)
    axes[i].set_title(f"W{i + 1} mask")
axes[4].imshow(m3.weights[4] != 0, vmin=0, vmax=1, aspect="auto")
axes[4].set_title("W5 mask (49 x 10)")
fig.tight_layout()
assert m3.is_channeled() and np.flatnonzero(np.any(m3.weights[4] != 0, axis=0)).tolist() == [0, 3]

# %%
sizes = [m.count_nonzero() for m in modules]
print(f"nonzero weights per module: {min(sizes)}..{max(sizes)} of {model.count_nonzero()}; "
      f"module 3: {m3.nbytes('csr')} bytes as CSR, {m3.nbytes('dense')} dense")
ji, ji_mask = dc.mean_pairwise_jaccard(modules, "official"), dc.mean_pairwise_jaccard(modules, "mask")
print(f"Jaccard index: the authors' {ji:.2f} (Table 1: .53), positional mask {ji_mask:.2f}")
assert round(ji, 2) == 0.53 and ji_mask > 0.9

# %% [markdown]
# A module keeps about 70% of the weights, too many for sparse storage to
# pay: CSR needs an index per weight, so module 3 takes more bytes as CSR
# than as dense arrays.

# %%
assert m3.nbytes("csr") > m3.nbytes("dense") and 0.6 < m3.count_nonzero() / model.count_nonzero() < 0.8

# %% [markdown]
# The authors' Jaccard index compares the *sets of distinct weight values*;
# all zeros collapse into one value, so it mostly measures sparsity. The
# positional index says the modules share almost all their edges.
#
# ## 3. Reuse: two modules make a binary classifier
#
# Take the modules for 3 and 5, run both on an image and let them vote.
# The paper compares this composed pair (MA) with a network of the same
# shape trained on just those two classes for 10 epochs (TMA).

# %%
epochs = 1 if QUICK else 10
pair = exp_reuse.reuse_pair(modules[3], modules[5], exp_reuse.pair_data(X_train, y_train, 3, 5),
                            exp_reuse.pair_data(X_test, y_test, 3, 5), epochs=epochs, rng=0)
print(f"3 vs 5: modules composed {pair['ma']:.2f}%, 4x49 trained {epochs} epoch(s) {pair['tma']:.2f}%")
assert pair["ma"] > 97

# %% [markdown]
# `python -m decomposition reuse --dataset mnist` does this for all 45 pairs
# (results in `docs/decomposition.md`).
#
# ## 4. Replacement
#
# A module can also be swapped in: replace module k of the 1-hidden-layer
# model's composition by module k of the 4-hidden-layer model.

# %%
small = dc.load_official_modules("CM-RIE", "mnist-1", models_dir)
rows = list(exp_replacement.replacement_rows("mnist", small, stored, X_test, y_test))
fig, ax = plt.subplots(figsize=(6, 2.5))
ax.bar(range(10), [r["change"] for r in rows])
ax.set_xlabel("replaced module"), ax.set_ylabel("accuracy change (points)")
summary = exp_replacement.summarize_replacement(rows)
print(summary)
if not QUICK:
    assert summary == {"n_cases": 10, "n_rose": 2, "mean_drop": 0.78, "median_drop": 0.47}

# %% [markdown]
# ### Repairing a faulty model
#
# The paper's motivating example: a 4x49 MNIST model trained with only 500
# images of class 5. Decompose it, replace its module 5 by the sound
# MNIST-4 model's module 5, and compose.

# %%
faulty = io.load(models_dir / "faulty5-mnist.npz")
X_all_test, y_all_test = exp_data.dataset_arrays("mnist", data_dir)[2:4]
report = exp_replacement.faulty_model_report(faulty, stored[5], X_train, y_train, X_all_test, y_all_test)
print({k: v for k, v in report.items() if "paper" not in k})
assert (report["model_full_test"], report["model_faulty_subset"]) == (95.41, 96.82)
assert report["repaired_full_test"] == 96.47 and report["repaired_train"] == 98.6683

# %% [markdown]
# The faulty model scores 95.41% on the test set (the paper's 96.82% is on a
# subset: all non-5 images plus the first 50 fives). With module 5 replaced,
# the composition scores 96.47% on the test set; the paper's 98.66% is the
# same repaired composition on the 60,000 *training* images.
#
# ## Summary
#
# - A module is the network with edges removed: CI keeps what the positives
#   use (an intersection, so negative incoming weights vanish), TI restores
#   what the negatives use (a union), CM folds the output into two columns.
# - On the authors' MNIST-4 our CM-RIE modules are theirs bit for bit, and
#   composing them loses 0.04 points.
# - Modules can be recombined: a pair of modules is a binary classifier, and
#   swapping one module repairs a model trained with too few fives.
#
# ## Exercises
#
# 1. Run CI on the tiny network with `propagation="relu"`. Which masks change?
# 2. Decompose MNIST-4 with `approach="TI-HP"` and compose: why does doing TI
#    before CI destroy the modules?
# 3. Replace *two* modules of MNIST-1 by MNIST-4's. Is the change additive?
