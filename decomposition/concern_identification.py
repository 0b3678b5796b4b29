"""Concern Identification, CI (Pan & Rajan, ESEC/FSE 2020, Sec. 4.1, Alg. 1).

A module for class c is a copy ``D, d`` of the network's weights ``W, B``
shaped by the positive examples of c, one at a time. It starts as the
network itself with the sparsity indicator off (P&R Alg. 3, line 3; fidelity
"paper", :meth:`ModuleMasks.original`) or, as in the authors' code, empty
with the indicator set (fidelity "official", :meth:`ModuleMasks.empty`).
Because every entry of ``D`` is either 0 or the original weight, a module is
a set of boolean masks (:class:`ModuleMasks`); values are copied from ``W``
only when the module is built.

Alg. 1 for one positive example, restated:

1. Compute the node values of every layer (``activity.activity_pass``;
   P&R Alg. 1, lines 4-9).
2. For each hidden layer i and node j (P&R Alg. 1, lines 10-11):
   a. inactive node (P&R Alg. 1, lines 12-16): **remove the inactive node**: zero its incoming column
      ``D_i[:, j]`` and bias ``d_i[j]``; unless i is the last hidden layer,
      also zero its outgoing row ``D_{i+1}[j, :]``;
   b. active node, sparsity indicator set (P&R Alg. 1, lines 17-20): **copy the active node**
      ``D_i[:, j] = W_i[:, j]``, ``d_i[j] = B_i[j]``;
   c. active node, indicator not set: **keep the common edges**: for a
      negative weight ``D = max(D, W)`` then clamp negatives to 0, for a
      positive weight ``D = min(D, W)`` (P&R Alg. 1, lines 21-29; the pseudocode writes
      ``W_i[j, k]`` and ``b_i[k]``, a typo for the incoming edge
      ``W_i[k, j]`` and ``b_i[j]``). As ``D`` is 0 or ``W``, this is the mask
      intersection ``keep &= (W > 0)``: every negative incoming weight of a
      kept node ends up 0. The bias is restored.
3. Output layer (P&R Alg. 1, lines 30-40): the same min/max rule without the clamp
   (which leaves ``D_L`` unchanged), or the columns are copied when the
   indicator is set. TI-PN adds: remove output columns whose softmax value
   is <= 0.0001.
4. Sparsity indicator (P&R Alg. 3, lines 7-8): see ``fidelity.indicator_rule``.

Vectorised bookkeeping: everything in step 2 is an AND of masks, so a run
of examples between two indicator "restores" reduces to ``all()`` over the
run's activity flags; only the output layer (10 columns), which decides
where the restores fall, is walked example by example.
"""
from dataclasses import dataclass

import numpy as np

# Indicator states: OFF (keep common edges), ONCE (copy on the next example:
# the initial state and the authors' reset), STICKY (the paper's "stop
# removing edges" once set).
OFF, ONCE, STICKY = 0, 1, 2


@dataclass
class ModuleMasks:
    """The state of one module during CI and TI.

    Attributes
    ----------
    hidden_edges : list of ndarray of bool, (d_in_i, h_i) for the L-1 hidden layers
    hidden_biases : list of ndarray of bool, (h_i,)
    output_columns : ndarray of bool, (n_classes,)
        Kept output columns (CI and TI keep or drop whole output columns).
    output_bias : ndarray of shape (n_classes,)
        Current output bias values ``d_L``.
    output_bias_source : ndarray of shape (n_classes,)
        The values restores copy from (the original ``B_L``; the authors'
        TI-PN code overwrites entries of it with 0).
    indicator : int
        OFF, ONCE or STICKY.
    """

    hidden_edges: list
    hidden_biases: list
    output_columns: np.ndarray
    output_bias: np.ndarray
    output_bias_source: np.ndarray
    indicator: int = ONCE

    @classmethod
    def empty(cls, weights, biases):
        """All edges removed (``D = 0``), indicator set so the first positive copies W (the authors' start)."""
        return cls([np.zeros(W.shape, dtype=bool) for W in weights[:-1]],
                   [np.zeros(b.shape, dtype=bool) for b in biases[:-1]],
                   np.zeros(biases[-1].shape, dtype=bool), np.zeros_like(biases[-1]), biases[-1].copy())

    @classmethod
    def original(cls, weights, biases):
        """The network itself (``D = W``, ``d = B``) with the indicator off (P&R Alg. 3, line 3)."""
        return cls([W != 0 for W in weights[:-1]], [np.ones(b.shape, dtype=bool) for b in biases[:-1]],
                   np.ones(biases[-1].shape, dtype=bool), biases[-1].copy(), biases[-1].copy(), OFF)

    def weights_and_biases(self, weights, biases):
        """The module's arrays ``D_i = W_i * mask_i``, ``d_i`` (new arrays, same dtypes)."""
        D = [np.where(m, W, 0).astype(W.dtype) for W, m in zip(weights[:-1], self.hidden_edges)]
        D.append(np.where(self.output_columns[None, :], weights[-1], 0).astype(weights[-1].dtype))
        d = [np.where(m, b, 0).astype(b.dtype) for b, m in zip(biases[:-1], self.hidden_biases)]
        d.append(self.output_bias.astype(biases[-1].dtype))
        return D, d


def output_nonzero_count(masks, output_counts):
    """``count_nonzero(D_L)`` of the current module (whole output columns are kept or dropped).

    output_counts : (n_classes,) int, the nonzero count of each column of W_L.
    """
    return int(output_counts[masks.output_columns].sum())


def update_indicator(masks, output_counts, output_size, fidelity):
    """P&R Alg. 3, lines 7-8: the sparsity indicator after one example.

    output_size is the number of output-layer edges (``W_L.size``).
    """
    # P&R Alg. 3, line 7: count_nonzero(D_L), compared with 10% of |D_L| below
    count = output_nonzero_count(masks, output_counts)
    if fidelity.indicator_rule == "sticky_10_percent":
        # P&R Alg. 3, line 8. Deviation from paper: the pseudocode sets ``indicator = False`` here,
        # contradicting Alg. 1's use of the flag; read as True (spec).
        return STICKY if masks.indicator == STICKY or count <= 0.1 * output_size else OFF
    # authors' code: ``if np.count_nonzero(D_L) < 45: first = True`` (one re-copy)
    return ONCE if count < 45 else OFF


def schedule_output_layer(masks, probabilities, W_L, fidelity, ci_output_threshold):
    """Walk the positives in order on the output layer only (P&R Alg. 1, lines 30-40; P&R Alg. 3, lines 5-8).

    Updates ``masks``' output columns, output bias and indicator in place
    (a private helper of :func:`identify_concern`, which works on a copy).

    Returns
    -------
    restore : ndarray of bool, shape (n,)
        True where the example was processed with the indicator set
        ("copy the active node" instead of "keep the common edges").
    """
    n = len(probabilities)
    output_counts = np.count_nonzero(W_L, axis=0)
    restore = np.zeros(n, dtype=bool)
    low = (probabilities <= ci_output_threshold) if ci_output_threshold is not None else None
    for e in range(n):   # P&R Alg. 3, line 5: the positives in order
        # P&R Alg. 1, lines 18 and 31: the indicator decides between copying and keeping common edges
        restore[e] = masks.indicator != OFF
        high = np.ones(masks.output_columns.shape, dtype=bool) if low is None else ~low[e]
        if low is not None:
            # TI-PN, CI output rule (Sec. 4.2, before P&R Alg. 1, line 31): remove columns whose softmax is <= 0.0001
            masks.output_columns &= high
            if fidelity.ci_output_overwrites_bias:
                # Deviation from paper: the authors' code zeroes the original
                # bias B_L[j] (so later restores copy 0), not d_L[j].
                masks.output_bias_source[~high] = 0
            else:
                masks.output_bias[~high] = 0
        if restore[e]:
            # P&R Alg. 1, lines 30-33, indicator set: copy the output columns
            masks.output_columns |= high
        # P&R Alg. 1, lines 34-39, indicator off: min/max without clamp leaves D_L as it is;
        # P&R Alg. 1, lines 33 and 40: the bias is restored either way
        masks.output_bias[high] = masks.output_bias_source[high]
        state_before = (masks.indicator, masks.output_columns.copy())
        if masks.indicator == ONCE:
            masks.indicator = OFF
        masks.indicator = update_indicator(masks, output_counts, W_L.size, fidelity)   # P&R Alg. 3, lines 7-8
        if low is None and e > 0 and state_before[0] == masks.indicator and np.array_equal(
                state_before[1], masks.output_columns):
            # a fixed point: without TI-PN's output rule every later example repeats this one
            restore[e + 1:] = masks.indicator != OFF
            break
    return restore


def copy_active_nodes(nonzero, active):
    """One example with the indicator set: ``D_i[:, j] = W_i[:, j]`` for active j, 0 for inactive j.

    P&R Alg. 1, lines 13 and 18-19: zero the column of an inactive j, copy that of an active j.

    nonzero : (d_in, h) bool (W_i != 0); active : (h,) bool. Returns the new mask.
    """
    return nonzero & active[None, :]


def keep_common_edges(mask, positive, all_active):
    """P&R Alg. 1, lines 12-13 and 21-28: remove inactive nodes, keep common edges (a run without the indicator).

    A column survives only if its node was active in every example of the run
    (remove_inactive_nodes), and then only its positive weights
    (the min/max rule with the clamp). positive : (d_in, h) bool (W_i > 0);
    all_active : (h,) bool.
    """
    return mask & positive & all_active[None, :]


def remove_inactive_nodes_outgoing(mask, all_active_below):
    """P&R Alg. 1, lines 14-15: zero the outgoing rows ``D_{i+1}[j, :]`` of nodes j inactive in some example."""
    return mask & all_active_below[:, None]


def identify_concern(masks, weights, activity, fidelity, variant):
    """P&R Alg. 1 over a sequence of positive examples, in their order (P&R Alg. 3, lines 5-6).

    P&R Alg. 1, lines 1-3: the positives come in as their ``activity`` (one pass for all), the
    weights as ``weights`` and the module so far as ``masks``; P&R Alg. 1, line 41: the new masks
    are returned.

    Parameters
    ----------
    masks : ModuleMasks
        The module so far (not modified).
    weights : list of ndarray, W_i of shape (d_in_i, d_out_i)
    activity : activity.Activity
        The positives' activity (n examples), in processing order.
    fidelity : fidelity.Fidelity
    variant : str
        "TI-I", "TI-PN", "TI-HP" or "TI-SNE" (selects TI-PN's output rule
        and whether outgoing rows are zeroed).

    Returns
    -------
    ModuleMasks
    """
    masks = _copy(masks)
    n = len(activity.probabilities)
    if n == 0:
        return masks
    restore = schedule_output_layer(masks, activity.probabilities, weights[-1],
                                    fidelity, fidelity.ci_output_threshold[variant])
    zero_rows = fidelity.zero_outgoing_rows[variant]
    nonzero = [W != 0 for W in weights[:-1]]
    positive = [W > 0 for W in weights[:-1]]
    starts = np.flatnonzero(restore)
    bounds = sorted(set([0, *starts.tolist(), n]))
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        rest = slice(lo + 1, hi) if restore[lo] else slice(lo, hi)
        all_active = [A[rest].all(axis=0) for A in activity.active]
        for i in range(len(masks.hidden_edges)):   # P&R Alg. 1, lines 10-11: every hidden layer, all nodes at once
            if restore[lo]:   # P&R Alg. 1, lines 17-19: an example processed with the indicator set
                masks.hidden_edges[i] = copy_active_nodes(nonzero[i], activity.active[i][lo])
            if rest.stop - rest.start > 0:   # P&R Alg. 1, lines 12-13 and 21-28 over the run
                masks.hidden_edges[i] = keep_common_edges(masks.hidden_edges[i], positive[i], all_active[i])
                if zero_rows and i > 0:   # P&R Alg. 1, lines 14-15
                    masks.hidden_edges[i] = remove_inactive_nodes_outgoing(masks.hidden_edges[i], all_active[i - 1])
    # P&R Alg. 1, lines 16, 20 and 29: the bias follows the latest example (0 if inactive, B if active)
    masks.hidden_biases = [A[-1].copy() for A in activity.active]
    return masks


def _copy(masks):
    return ModuleMasks([m.copy() for m in masks.hidden_edges], [m.copy() for m in masks.hidden_biases],
                       masks.output_columns.copy(), masks.output_bias.copy(), masks.output_bias_source.copy(),
                       masks.indicator)
