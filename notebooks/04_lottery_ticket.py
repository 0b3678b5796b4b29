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
# # The lottery ticket
#
# A dense network trained to good accuracy can usually lose most of its
# weights afterwards with little harm. Can the *sparse* network be trained
# from the start instead? Usually not: a sparse architecture drawn at random
# trains worse than the dense one. This chapter follows
#
# > J. Frankle and M. Carbin, "The Lottery Ticket Hypothesis: Finding Sparse,
# > Trainable Neural Networks", ICLR 2019,
#
# which found that some sparse sub-networks *do* train well, on one
# condition: their surviving weights start from the values they had in the
# original initialisation. Such a sub-network is a *winning ticket*. It is
# found by iterative magnitude pruning (IMP), and it is tested against a
# control: the same sparse mask with a fresh random initialisation.
#
# Everything here is library code from `pruning.lottery`. The chapter runs
# on scikit-learn's 8x8 digits (1,797 images, bundled with scikit-learn, no
# download) with a small MLP, so it runs on any machine. Set
# `NNLITE_QUICK=1` for a run of about a minute; unset, it trains longer and
# prunes further. The paper's own experiment (LeNet-300-100 on MNIST) is
# `python -m pruning lottery --full`; see `docs/pruning.md` for its cost.

# %%
import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np

from pruning import lottery as LT
from pruning.experiments import lottery as LX
from pruning import masks as M
from pruning.wann_tasks import load_task

QUICK = os.environ.get("NNLITE_QUICK") == "1"

# %% [markdown]
# ## 1. The data and the network
#
# The digits are split once into 1,197 training, 300 validation and 300
# test images (`pruning.wann_tasks.load_task("digits8")`, a fixed split).
# The validation images play the role of the paper's 5,000 held-out MNIST
# images: they decide the *early-stopping iteration*, the iteration of
# minimum validation loss. The test images are only used to report the
# accuracy at that iteration.
#
# The network is a 64-100-50-10 ReLU MLP, a small cousin of the paper's
# LeNet-300-100 (784-300-100-10). Everything else is the paper's setting:
# Adam with learning rate 1.2e-3, minibatches of 60, Glorot-normal
# initialisation, and per-layer pruning rates of 20%, 20% and 10% (the
# output layer is pruned more slowly). Biases are never pruned.

# %%
task = load_task("digits8")
data = {"X_train": task.X_train, "y_train": task.y_train, "X_val": task.X_val, "y_val": task.y_val,
        "X_test": task.X_test, "y_test": task.y_test}
print({k: v.shape for k, v in data.items()})
assert (len(task.X_train), len(task.X_val), len(task.X_test)) == (1197, 300, 300)

N_TRIALS = 3 if QUICK else 5
config = LT.LotteryConfig(layer_sizes=(64, 100, 50, 10), rates=(0.2, 0.2, 0.1), n_rounds=15 if QUICK else 18,
                          n_iterations=600 if QUICK else 3000, batch_size=60, lr=1.2e-3, eval_every=25,
                          control_rounds=(7, 9, 12, 15) if QUICK else (3, 7, 9, 12, 15, 18), seed=0)
config

# %% [markdown]
# ## 2. The IMP loop
#
# One round of iterative magnitude pruning has four steps, each a function
# of `pruning.lottery`:
#
# 1. `randomly_initialize`: draw theta_0 (once, and keep a copy);
# 2. `train_network`: train the masked network for j iterations;
# 3. `prune_parameters`: in each layer, remove the p% of the *surviving*
#    weights with the smallest magnitude;
# 4. `reset_parameters`: put the survivors back to their theta_0 values.
#
# Step 3 prunes a fraction of what is left, so after r rounds a layer
# pruned at 20% keeps 0.8^r of its weights, and LeNet-300-100 as a whole
# keeps 51.3% after 3 rounds, 21.1% after 7 and 13.5% after 9 (the rows the
# paper reports). Let us do one round by hand.

# %%
theta_0 = LT.randomly_initialize(config.layer_sizes, config.init, rng=0)
trained, record = LT.train_network(theta_0, data, config.n_iterations, batch_size=config.batch_size, lr=config.lr,
                                   eval_every=config.eval_every, rng=0)
record.pop("snapshot")
masks = LT.prune_parameters(trained, config.rates)
ticket = LT.reset_parameters(masks, theta_0)
print(f"dense: test accuracy {record['test_accuracy_at_early_stop']:.3f} at early-stop iteration "
      f"{record['early_stop_iteration']}")
print("fraction of each layer kept:", [round(M.fraction_remaining(masks, i), 3) for i in range(3)])
for W, W0, m in zip(ticket.weights, theta_0.weights, masks):
    assert np.array_equal(W[m], W0[m]) and np.all(W[~m] == 0)   # the survivors start where they started
assert [round(M.fraction_remaining(masks, i), 2) for i in range(3)] == [0.8, 0.8, 0.9]
assert record["test_accuracy_at_early_stop"] > 0.9   # the dense MLP learns the digits

# %% [markdown]
# The ticket is theta_0 with a mask: every surviving weight holds exactly
# the value it was initialised with, and every pruned weight is zero and
# stays zero during training (the library masks the gradient).
#
# `run_trial` repeats the round `n_rounds` times and, at the rounds listed
# in `control_rounds`, also trains the *control*: the same mask on a fresh
# draw of the initialiser (`random_reinitialization`). Each round's record
# holds the early-stop iteration and the test accuracy there. A trial's
# state goes to disk after each round, so an interrupted run resumes where
# it stopped with bit-identical results.
#
# ## 3. Several trials
#
# One trial is one draw of theta_0 and of the minibatch order. Whether a
# ticket beats dense training or the control by a point could be luck, so
# we run several trials and report every mean with a 95% confidence
# interval (Student's t over the trials, `LX.mean_ci95`).

# %%
with tempfile.TemporaryDirectory() as folder:
    trials = [LX.run_trial(config, data, trial, folder) for trial in range(N_TRIALS)]
summary = LX.summarize(trials, reported_rounds=tuple(range(config.n_rounds + 1)))
by_round = {e["round"]: e for e in summary["rounds"]}
print(LX.format_table(summary))

# %% [markdown]
# The table has one row per round: the percent of weights remaining (a bit
# above 0.8^r here, because the output layer, a larger share of this small
# network than of LeNet-300-100, is pruned at 10%), the
# number of trials n, and for the ticket and the control the test accuracy
# and the early-stop iteration, mean ± 95% CI half-width. The last two
# columns compare ticket and control *within* each trial (same mask) before
# averaging: the accuracy gap in points and the ratio of early-stop
# iterations.
#
# ## 4. Accuracy and early stopping against weights remaining

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, key, scale, label in ((axes[0], "test_accuracy_at_early_stop", 100, "test accuracy at early stop (%)"),
                              (axes[1], "early_stop_iteration", 1, "early-stop iteration")):
    LX.plot_band(ax, summary["rounds"], key, scale, "winning ticket (reset to theta_0)", "-o")
    LX.plot_band(ax, summary["rounds"], f"control_{key}", scale, "random re-initialisation", "--s")
    ax.set(xscale="log", xlabel="percent of weights remaining", ylabel=label)
    ax.invert_xaxis()
    ax.legend(fontsize=8)
fig.suptitle(f"IMP on the 8x8 digits, mean and 95% CI over {N_TRIALS} trials")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 5. The ticket against its random re-initialisation
#
# This is the heart of the paper. Both networks have the same sparse
# architecture (the same mask); they differ only in where the surviving
# weights start. If sparsity alone explained the results, the control
# would do as well as the ticket.
#
# With three trials and a 300-image test set (one image is a third of a
# point), a single round's interval is wide. So we assert two things that
# hold robustly: the ticket is ahead *on average* at every control round,
# and its gap averaged over the control rounds of each trial (one number per
# trial, n = 3) has a 95% interval that excludes zero.

# %%
CHECK = (7, 9, 12, 15)   # about 22%, 14.5%, 7.8% and 4.2% of this network's weights remain
for r in CHECK:
    gap = by_round[r]["ticket_minus_control_points"]
    print(f"round {r} ({by_round[r]['percent_remaining']:.1f}% remaining): ticket - control = "
          f"{LX.format_mean_ci(gap)} points (n={gap['n']})")
    assert gap["mean"] > 0   # the ticket is ahead of its re-initialisation on average
per_trial = [np.mean([100 * (records[r]["test_accuracy_at_early_stop"]
                             - records[r]["control"]["test_accuracy_at_early_stop"]) for r in CHECK])
             for records in trials]
pooled = LX.mean_ci95(per_trial)
print(f"gap averaged over rounds {CHECK}: {LX.format_mean_ci(pooled)} points (n={pooled['n']} trials)")
assert pooled["mean"] - pooled["ci95"] > 0   # 95% CI of the per-trial gap excludes zero
dense = by_round[0]["test_accuracy_at_early_stop"]
ticket_21 = by_round[7]["test_accuracy_at_early_stop"]
print(f"dense {100 * dense['mean']:.2f}%, ticket at {by_round[7]['percent_remaining']:.1f}%: "
      f"{100 * ticket_21['mean']:.2f}%")
assert ticket_21["mean"] > dense["mean"] - 0.02   # a fifth of the weights, within 2 points of dense

# %% [markdown]
# ## 6. Do winning tickets learn faster?
#
# The paper's second claim is about speed: down to about 21% of the
# weights, a ticket reaches its minimum validation loss *earlier* than the
# dense network (38% earlier at 21%) and 2.51 times earlier than its random
# re-initialisation. The ratio column above (control / ticket early-stop
# iteration, paired per trial) measures the second comparison.

# %%
for r in CHECK:
    ratio = by_round[r].get("control_over_ticket_early_stop")
    if ratio is not None:
        print(f"round {r}: control / ticket early-stop iteration = {LX.format_mean_ci(ratio)} (n={ratio['n']})")
print("early-stop iteration, dense:", LX.format_mean_ci(by_round[0]["early_stop_iteration"], 1, 0),
      "ticket at round 7:", LX.format_mean_ci(by_round[7]["early_stop_iteration"], 1, 0))

# %% [markdown]
# On the digits the speed claim is *not* asserted. In quick mode many runs
# reach their minimum validation loss only near the end of training (the
# early-stop iteration is capped at `n_iterations`), so the ratio is close
# to 1. The full mode of this chapter (5 trials, 3,000 iterations, rounds
# 0-18; about ten minutes here, run by hand) printed a ratio of 1.18 ± 0.13
# at 22% (n = 5): the control does stop later, but far from the paper's
# 2.51x, and the ticket at 22% does not stop earlier than the dense network
# (2445 ± 349 against 2145 ± 805). Its gap to the control grows from
# 0.3 ± 1.0 points at 22% to 5.8 ± 2.0 at 4.2% and 23 ± 14 at 2.4%. What the paper reports on MNIST with
# 50,000 iterations per round, and what `python -m pruning lottery --full`
# measures, is the comparison to read; `docs/pruning.md` gives what this
# project measured so far and labels every setting that differs from the
# paper as a deviation.
#
# ## Summary
#
# - IMP finds a sparse sub-network by training, pruning the smallest
#   surviving weights of each layer, and resetting the survivors to theta_0;
#   repeated rounds nest the masks, so 0.8^r of a layer remains.
# - A winning ticket keeps its accuracy far into the pruning curve: here,
#   with about a fifth of the weights, it stays within two points of the
#   dense network.
# - The same mask with a fresh initialisation (the control) is worse on
#   average at every control round from about 22% down to 4% of the
#   weights, and the gap grows as the network gets sparser: the initial
#   values matter, not only the sparse architecture.
# - Every comparison is a mean over trials with a 95% confidence interval;
#   with three trials the intervals are wide, which is why the paper used
#   five.
#
# ## Exercises
#
# 1. Replace `reset_parameters(masks, theta_0)` by rewinding
#    (`LotteryConfig(rewind_iteration=k)`) for k = 25 and 100. Does the
#    ticket's accuracy at 7% change?
# 2. Prune globally instead of per layer: `pruning.masks.prune_masks(...,
#    scope="global")`. Which layer loses most weights, and does the ticket
#    still beat its control?
# 3. Set `eval_every=5` and `n_iterations` four times larger. Does the
#    early-stop ratio between control and ticket move away from 1?
# 4. Run `python -m pruning lottery --quick --trials 3` on MNIST and
#    `--summarize` its folder. Which rows carry a `Deviation from paper` note?
