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
# ---

# %% [markdown]
# # One model, three ways to make it sparse
#
# Two research communities remove weights from trained networks and rarely
# read each other.
#
# - **Software engineering** decomposes a network into *modules*, one per
#   class, so that a module can be reused or replaced like a software part
#   (Pan & Rajan, ESEC/FSE 2020; chapters 01 and 02). A module keeps the
#   edges that the examples of its class, and enough examples of the other
#   classes, actually use.
# - **Pruning** removes weights to make a network smaller or to find a
#   sparse network that trains as well as the dense one: the lottery ticket
#   (Frankle & Carbin, ICLR 2019; chapter 04) removes the smallest trained
#   weights and rewinds the rest to their initial values; dynamic sparse
#   reparameterisation (DSR, Mostafa & Wang, ICML 2019; chapter 05) never
#   trains a dense network at all, and moves a fixed budget of weights
#   during training.
#
# We know of no study that puts both views on one model. This chapter does:
# one network, one initialisation `theta_0`, three sparse networks at the
# *same density per layer*, and three questions: what does each keep, where
# do the kept weights overlap, and what does each cost?
#
# Set `NNLITE_QUICK=1` for the quick mode: an MLP 64-100-50-10 on
# scikit-learn's 8x8 digits (shipped with the install), five seeds, well under
# a minute. Unset, the chapter trains LeNet-300-100 on MNIST (the files are
# found through `NNLITE_DATA` or `../shared/data`), five seeds, which takes
# tens of minutes.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

import decomposition as dc
from nnlite import data as D
from nnlite.models import Sequential
from nnlite.optim import Adam
from nnlite.train import fit
from pruning import dsr, lottery
from pruning.masks import jaccard_by_chance, mask_jaccard
from pruning.sparse_layers import DynamicLinear, dynamic_layers

QUICK = os.environ.get("NNLITE_QUICK") == "1"
N_SEEDS = 5
if QUICK:
    images, labels = D.load_digits()
    X_all = D.flatten(images.astype(np.float32) / 16)
    X_rest, X_test, y_rest, y_test = D.train_validation_split(X_all, labels, rng=0, n_validation=300)
    sizes, n_iterations = (64, 100, 50, 10), 2000
else:
    data_dir = os.environ.get("NNLITE_DATA")
    (X_rest, y_rest), (X_test, y_test) = (D.load_mnist(split, data_dir) for split in ("train", "test"))
    X_rest, X_test = D.flatten(D.scale_255(X_rest)), D.flatten(D.scale_255(X_test))
    sizes, n_iterations = lottery.LENET_300_100, 2500
X_train, X_val, y_train, y_val = D.train_validation_split(X_rest, y_rest, rng=1, n_validation=300 if QUICK else 5000)
split = {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val, "X_test": X_test, "y_test": y_test}
print(f"MLP {sizes}: train {len(y_train)}, validation {len(y_val)}, test {len(y_test)}; "
      f"{n_iterations} Adam iterations of batch 60 per training")

# %% [markdown]
# ## 1. One network, three sparse versions
#
# For each seed:
#
# 1. **The dense network.** Draw `theta_0` (Glorot normal) and train it with
#    Adam (lr 1.2e-3, batch 60: the lottery-ticket recipe,
#    `lottery.train_network`).
# 2. **The modules.** Decompose the trained network with CM-RIE, as the
#    authors' code does (`fidelity="official"`): ten modules, each a copy of
#    the network with edges removed and a two-column output. Their mean
#    density per layer sets the budget for the other two.
# 3. **The lottery ticket.** Iterative magnitude pruning, 3 rounds, each
#    pruning layer `i` at the rate `p_i = 1 - d_i^(1/3)`, so that after 3
#    rounds layer `i` keeps the modules' density `d_i`; after each round the
#    survivors go back to `theta_0` and train again.
# 4. **The DSR network.** The same `theta_0`, masked at random to the same
#    per-layer densities, trained for the same iterations with the same
#    optimizer while DSR rewires it every 100 iterations.
#
# DSR is defined for convolutional networks; on an MLP we run its Alg. 1
# unchanged on `DynamicLinear` layers (`pruning.sparse_layers`). What differs from the paper: an MLP,
# not a WRN-28-2; Adam at a constant rate (the ticket's recipe, so that both
# sparse networks train alike) instead of SGD with momentum and a step
# schedule; a constant rewiring period that never stops; the initial
# per-layer densities are the modules' (not uniform); every layer sparse.
#
# The DSR layers draw their weights from the same generator as the MLP, so
# they start from exactly `theta_0`, masked: the cell below checks it.

# %%
runs = []
for seed in range(N_SEEDS):
    run = {"seed": seed}
    # 1. the dense network
    theta_0 = lottery.randomly_initialize(sizes, rng=seed)
    start = time.process_time()
    dense, record = lottery.train_network(theta_0, split, n_iterations, rng=seed)
    run["dense"] = {"seconds": time.process_time() - start, "accuracy": record["test_accuracy_final"],
                    "masks": [np.ones(W.shape, bool) for W in dense.weights], "model": dense}
    # 2. the modules (CM-RIE)
    start = time.process_time()
    modules = dc.decompose(dense, X_train, y_train, "CM-RIE", fidelity="official", rng=seed)
    run["modules"] = {"seconds": time.process_time() - start,
                      "accuracy": dc.composed_accuracy(modules, X_test, y_test),
                      "masks": [[W != 0 for W in m.weights] for m in modules], "list": modules}
    density = np.mean([[mask.mean() for mask in masks] for masks in run["modules"]["masks"]], axis=0)
    run["density"] = density
    # 3. the lottery ticket: 3 rounds of IMP to the modules' densities
    rates = tuple(float(1 - d ** (1 / 3)) for d in density)
    start, model = time.process_time(), dense
    for _ in range(3):
        masks = lottery.prune_parameters(model, rates)
        model, ticket_record = lottery.train_network(lottery.reset_parameters(masks, theta_0), split, n_iterations,
                                                     rng=seed)
    run["ticket"] = {"seconds": time.process_time() - start, "accuracy": ticket_record["test_accuracy_final"],
                     "masks": masks, "model": model}
    # 4. DSR from theta_0 at the same per-layer densities
    weights_rng, topology_rng = np.random.default_rng(seed), np.random.default_rng([seed, 1])
    layers = [DynamicLinear(d_in, d_out, sparsity=1 - d, activation="relu" if i < len(density) - 1 else None,
                            init="glorot_normal", storage="dense", rng=weights_rng, topology_rng=topology_rng)
              for i, (d_in, d_out, d) in enumerate(zip(sizes[:-1], sizes[1:], density))]
    assert all(np.array_equal(layer.W, W_0 * layer.mask) for layer, W_0 in zip(layers, theta_0.weights))
    network, rewiring = Sequential(layers, (sizes[0],)), dsr.DSR(rewire_period=100, rng=seed)
    start = time.process_time()
    fit(network, X_train, y_train, optimizer=Adam(1.2e-3), batch_size=60,
        epochs=-(-n_iterations * 60 // len(y_train)), rng=seed, on_step=rewiring.on_step, progress=False)
    run["dsr"] = {"seconds": time.process_time() - start,
                  "accuracy": network.score(X_test, y_test),
                  "masks": [layer.mask.copy() for layer in dynamic_layers(network)], "model": network,
                  "rewirings": len(rewiring.history_)}
    runs.append(run)
    print(f"seed {seed}: density per layer {np.round(density, 3)}; test accuracy dense "
          f"{run['dense']['accuracy']:.4f}, modules {run['modules']['accuracy']:.4f}, ticket "
          f"{run['ticket']['accuracy']:.4f}, DSR {run['dsr']['accuracy']:.4f} ({run['dsr']['rewirings']} rewirings)")

# %% [markdown]
# ## 2. What each keeps
#
# The budget is the same by construction: the ticket has the modules'
# density in every layer, and DSR starts with the same density in every
# layer. DSR then moves weights between layers, so its per-layer densities
# drift, and it keeps its total only while the layers have room to regrow:
# a rewiring regrows a freed weight only at a position that is neither
# active nor just pruned, and a layer kept above half its weights frees
# more than it can take back. `dsr.reallocate` gives the excess to the
# other layers and drops what no layer can take (its documented
# behaviour), so a near-dense DSR network may end a little below its
# budget (within 1% here).

# %%
n_weights = np.array([W.size for W in runs[0]["dense"]["model"].weights])
dsr_kept = []
for run in runs:
    ticket_density = np.array([m.mean() for m in run["ticket"]["masks"]])
    budget = sum(max(1, round(d * n)) for d, n in zip(run["density"], n_weights))
    dsr_kept.append(sum(int(m.sum()) for m in run["dsr"]["masks"]) / budget)
    assert np.allclose(ticket_density, run["density"], atol=0.01)
print("DSR's active weights at the end, as a fraction of the budget, per seed:", np.round(dsr_kept, 4))
assert all(0.99 < k < 1.001 for k in dsr_kept)  # full run: 0.995-1.0
r0 = runs[0]
print("seed 0, kept fraction per layer:")
for name in ("ticket", "dsr"):
    print(f"  {name:8s}", np.round([m.mean() for m in r0[name]["masks"]], 3))
print("  modules ", np.round(r0["density"], 3), "(mean over the ten)")

# %% [markdown]
# The output layer of a module keeps two columns, its class and "the rest"
# (channeling, Alg. 4), so it keeps about 2 of 10 columns; this sets the
# other two networks' output budget too. In the hidden layers the modules
# keep most edges. Which ones do they drop? Those into hidden units that no
# chosen example switches on: a unit that CI removes and TI does not
# restore loses its whole incoming column. The first hidden layer shows it
# best (its inputs are the pixels, which are never negative):

# %%
W1_masks = [masks[0] for masks in r0["modules"]["masks"]]
dropped_in_dead_columns = np.mean([(~m & ~m.any(axis=0)).sum() / max((~m).sum(), 1) for m in W1_masks])
module_pairs = [(a, b) for i, a in enumerate(W1_masks) for b in W1_masks[i + 1:]]
module_overlap = np.mean([mask_jaccard(a, b) for a, b in module_pairs])
print(f"first layer: {100 * dropped_in_dead_columns:.1f}% of the edges a module drops belong to units it drops "
      f"entirely; the ten modules' first layers overlap with Jaccard {module_overlap:.3f}")
assert module_overlap > 0.95 and dropped_in_dead_columns > 0.9

fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
for ax, (name, mask) in zip(axes, [("module 0", r0["modules"]["masks"][0][1]), ("ticket", r0["ticket"]["masks"][1]),
                                   ("DSR", r0["dsr"]["masks"][1])]):
    ax.imshow(mask.T, aspect="auto", interpolation="nearest", vmin=0, vmax=1)
    ax.set(title=f"{name}: W2 kept ({100 * mask.mean():.0f}%)", xlabel="from hidden unit of layer 1",
           ylabel="to unit of layer 2")
fig.tight_layout()

# %% [markdown]
# In the first layer nearly everything a module drops is the incoming
# column of a unit it drops entirely, and all ten modules drop the same
# units: the hidden units that none of the chosen examples switches on.
# The module's mask is organised by *units*: whole rows and columns stay or
# go, because CI and TI decide per node whether an example uses it. The
# ticket's and DSR's masks are organised by *weights*: a weight stays if it
# is large (the ticket) or if it grew large after DSR put it there.
#
# ## 3. Where the kept weights overlap
#
# For each layer, the Jaccard index of two networks' masks, against the
# index two independent random masks of the same densities would have. For
# the modules we average over the ten modules. Bars: the mean over the
# seeds with its 95% t interval (n = the number of seeds); ticks: chance
# (`pruning.masks.mask_jaccard` and `jaccard_by_chance`: for densities `p`
# and `q`, two independent random masks overlap `p q / (p + q - p q)`).

# %%
pairs = [("modules", "ticket"), ("modules", "dsr"), ("ticket", "dsr")]
overlap = np.zeros((len(pairs), N_SEEDS, len(sizes) - 1))
chance = np.zeros_like(overlap)
for p, (a, b) in enumerate(pairs):
    for s, run in enumerate(runs):
        for layer in range(len(sizes) - 1):
            masks_a, masks_b = ([run[n]["masks"]] if n != "modules" else run[n]["masks"] for n in (a, b))
            couples = [(ma[layer], mb[layer]) for ma in masks_a for mb in masks_b]  # modules: each of the ten
            overlap[p, s, layer] = np.mean([mask_jaccard(x, y) for x, y in couples])
            chance[p, s, layer] = np.mean([jaccard_by_chance(x, y) for x, y in couples])
half = stats.t.ppf(0.975, N_SEEDS - 1) * stats.sem(overlap, axis=1)
excess = overlap - chance
excess_half = stats.t.ppf(0.975, N_SEEDS - 1) * stats.sem(excess, axis=1)

fig, ax = plt.subplots(figsize=(9, 3.5))
width = 0.25
for p, (a, b) in enumerate(pairs):
    x = np.arange(len(sizes) - 1) + (p - 1) * width
    ax.bar(x, overlap[p].mean(0), width, yerr=half[p], capsize=3, label=f"{a} / {b}")
    ax.scatter(x, chance[p].mean(0), marker="_", s=300, color="k", zorder=3)
ax.set_xticks(np.arange(len(sizes) - 1), [f"W{i + 1} ({a}x{b})" for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))])
ax.set(ylabel="Jaccard index of the kept weights",
       title=f"overlap per layer, mean and 95% CI over n = {N_SEEDS} seeds (black ticks: chance)")
ax.legend(fontsize=8)
fig.tight_layout()
for p, (a, b) in enumerate(pairs):
    cells = ", ".join(f"W{i + 1} {e:+.3f} ± {h:.3f}"
                      for i, (e, h) in enumerate(zip(excess[p].mean(0), excess_half[p])))
    print(f"{a:7s} / {b:6s} Jaccard minus chance: {cells}")
assert np.all(np.abs(excess[0].mean(0)) < 0.03)  # modules / ticket: at chance in every layer
assert np.all(excess.mean(1) < 0.05)              # no pair far above chance

# %% [markdown]
# The module and the ticket overlap **no more than chance** in every layer:
# at the same budget, the software-engineering view (keep what the
# examples activate) and the pruning view (keep what is large) pick
# unrelated weights. The pairs with DSR, the only network that never saw
# the trained dense weights, may sit a little above chance in some layers
# (the printed intervals say by how much, layer by layer), but nowhere do
# two methods agree by more than 0.05 beyond what their densities force.
#
# ## 4. What each costs
#
# The costs are of different kinds. The modules need a trained network but
# no training of their own: one activity pass per layer over the chosen
# examples. The ticket needs the dense training and then one training per
# round. DSR needs one training, and never a dense network. Times are CPU
# seconds of this process; accuracies are on the test set (the modules:
# the ten modules composed, chapter 01).

# %%
names = ["dense", "modules", "ticket", "dsr"]
accuracy = np.array([[run[n]["accuracy"] for n in names] for run in runs])
seconds = np.array([[run[n]["seconds"] for n in names] for run in runs])
seconds[:, 1:3] += seconds[:, :1]  # the modules and the ticket need the dense training first
acc_mean, acc_half = 100 * accuracy.mean(0), 100 * stats.t.ppf(0.975, N_SEEDS - 1) * stats.sem(accuracy, axis=0)
sec_mean, sec_half = seconds.mean(0), stats.t.ppf(0.975, N_SEEDS - 1) * stats.sem(seconds, axis=0)
for k, n in enumerate(names):
    print(f"{n:8s} test accuracy {acc_mean[k]:6.2f} ± {acc_half[k]:.2f} %   "
          f"CPU {sec_mean[k]:6.1f} ± {sec_half[k]:.1f} s   (n = {N_SEEDS})")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
axes[0].bar(names, acc_mean, yerr=acc_half, capsize=4, color=["0.6", "C0", "C1", "C2"])
axes[0].set_ylim(acc_mean.min() - 4 * acc_half.max() - 1, 100)
axes[0].set(ylabel="test accuracy (%)", title=f"mean and 95% CI, n = {N_SEEDS} seeds")
axes[1].bar(names, sec_mean, yerr=sec_half, capsize=4, color=["0.6", "C0", "C1", "C2"])
axes[1].set(ylabel="CPU seconds (dense training included)", title=f"cost, n = {N_SEEDS} seeds")
fig.tight_layout()

gaps = 100 * (accuracy[:, 1:] - accuracy[:, :1])
gap_half = stats.t.ppf(0.975, N_SEEDS - 1) * stats.sem(gaps, axis=0)
for k, n in enumerate(names[1:]):
    print(f"{n:8s} minus dense: {gaps[:, k].mean():+.2f} ± {gap_half[k]:.2f} points (paired, n = {N_SEEDS})")
assert np.all(np.abs(gaps.mean(0)) < 3)                       # all three within 3 points of the dense network
assert np.all(seconds[:, 1] - seconds[:, 0] < seconds[:, 0])  # decomposing costs less than training
# the ticket trains 1 + 3 times: about 4x the dense CPU time, asserted on the means with a margin
# (per seed, CPU seconds of sub-second runs are too noisy: a CI run on a busy machine saw one below 3x)
assert seconds[:, 2].mean() > 2 * seconds[:, 0].mean()

# %% [markdown]
# At the modules' density all three stay within a few points of the dense
# network (the intervals above). The difference is in what they cost and
# what they are for: the modules cost almost nothing once the network is
# trained; the ticket costs four trainings; DSR costs one training and no
# dense network at all.
#
# ## 5. Two views, side by side
#
# | | modules (CM-RIE) | lottery ticket (IMP) | DSR |
# |---|---|---|---|
# | question | which part of the network serves class k? | which sparse network trains as well as the dense one? | can a fixed budget of weights train well without a dense phase? |
# | unit kept | hidden units (a unit keeps all or none of its incoming edges), per class | single weights, per network | single weights, per network |
# | decided by | activity on chosen examples (Alg. 1-3) | magnitude after training | magnitude during training, random regrowth |
# | needs | the trained network and examples | the dense training, then one training per round | one training |
# | result | ten binary classifiers, composed by vote | one network, weights rewound to `theta_0` and retrained | one network |
# | density | a consequence of the examples (here most hidden edges stay) | a choice (any) | a choice (any) |
#
# The software-engineering view treats the network as a program to be cut
# along its concerns; the weights it keeps are whatever the concern uses,
# and the density is an outcome. The pruning view treats the network as an
# over-parameterised function; the density is the goal, and any weights
# that keep the function do. On one model, at one density, the two views
# choose different weights, at chance overlap, and both keep the accuracy:
# there is a great deal of freedom in *which* weights a network needs.
#
# ## Summary
#
# - One `theta_0`, one training recipe and one budget per layer make the
#   three methods comparable on one model; the DSR layers start from the
#   MLP's own initial weights.
# - The CM-RIE modules keep most hidden edges, organised by unit, and a
#   two-column output layer; the ten modules share nearly the same first
#   layer.
# - At the same per-layer density the modules and the lottery ticket
#   overlap no more than two random masks would.
# - All three stay within 3 points of the dense network's accuracy; the
#   modules cost no training, the ticket four trainings, DSR one.
#
# ## Exercises
#
# 1. Decompose with `fidelity="paper"` (1 negative per class for TI-SNE).
#    How much sparser are the modules, and does the overlap with the ticket
#    move away from chance?
# 2. Prune the ticket with the paper's rates (20/20/10% per round) for more
#    rounds, down to 10% of the weights, and decompose the *ticket* with
#    CM-RIE. What do its modules keep?
# 3. Compare the ticket's mask with the mask of the 20% largest weights of
#    the trained dense network (`pruning.masks.magnitude_mask`). How much of
#    the ticket is decided in the first round?
# 4. Replace DSR by `dsr.SET(0.3)` as `on_epoch_end`. Does the overlap with
#    the ticket change?
