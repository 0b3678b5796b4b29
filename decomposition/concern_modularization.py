"""Concern Modularization, CM (Pan & Rajan 2020, Sec. 4.3, Alg. 4 and 5).

After TI-SNE a module still has ten output columns. CM turns it into a
class-vs-rest module that keeps two meaningful output columns: the target
column c and one *negative* column (column 1 when c = 0, else column 0).

Alg. 4, **channel** (CM-C), for every last-hidden node k:

1. the negative column's weight becomes the mean of k's weights to all
   non-target classes;
2. every other non-target column is zeroed;
3. the negative bias becomes the mean of the non-target biases
   (P&R Alg. 4, line 17 writes ``mean(dL[1, :])``, a typo), and every other
   non-target bias is zeroed (P&R Alg. 4, line 21 writes ``dL[2, :] = 0``, a
   typo: see ``docs/pseudocode/pr-alg4-cmc.md``); the target column and bias
   are kept.
   The biases are updated once, not once per node as the listing places them.

A module already in that form (only the target and negative columns and
biases nonzero) is returned as it is, so channeling is idempotent (Alg. 4
applied a second time would divide the negative column by n_classes - 1
again).

Alg. 5, **remove irrelevant edges** (CM-RIE = RIE then channel):

1. a last-hidden node is *irrelevant* when its edge to the target is zero
   (``fidelity.rie_irrelevant_rule``) and it has nonzero negative edges;
2. its nonzero negative edges are **listed**, their mean goes to the
   negative column, then the listed edges are zeroed. The list can contain
   the negative column itself, so the node can end with no negative edge at
   all: both the pseudocode and the authors' code do this, and so do we;
3. two or more irrelevant nodes are **merged into the first**: its negative
   weight becomes the "mean" of a sum (``fidelity.rie_merge_column``), the
   others' negative weights are zeroed, and in the layer below the first
   node's incoming column becomes the mean of the merged nodes' columns while
   the others' columns are zeroed.

Arithmetic is float32 in the authors' order (``np.mean`` of the same
elements), so the official fidelity reproduces their stored modules.
"""
import numpy as np


def negative_column(target):
    """The column that carries the merged negative classes: 1 for target 0, else 0."""
    return 1 if target == 0 else 0


def mean_of_rows(A):
    """Row means of ``A (m, k)`` as m separate 1-D ``np.mean`` calls, shape (m,).

    The authors average one row at a time; a 1-D float32 mean sums in a
    different order than ``np.mean(A, axis=1)``, so this keeps their last bit.
    """
    return np.array([np.mean(row) for row in A], dtype=A.dtype).reshape(len(A))


def _non_target(n_classes, target):
    return np.array([c for c in range(n_classes) if c != target])


def is_channeled(D_L, d_L, target):
    """True when only the target and negative output columns and biases are nonzero (after Alg. 4).

    D_L : (h, n_classes), d_L : (n_classes,)
    """
    others = np.ones(D_L.shape[1], dtype=bool)
    others[[target, negative_column(target)]] = False
    return not (np.any(D_L[:, others]) or np.any(d_L[others]))


def channel(weights, biases, target, fidelity):
    """P&R Alg. 4 (CM-C): two output columns, target and negative. Returns new lists.

    P&R Alg. 4, line 1: the module D, d and its class come in; P&R Alg. 4, line 23: a new D, d goes out.

    Parameters
    ----------
    weights : list of ndarray, D_i of shape (d_in_i, d_out_i)
    biases : list of ndarray, d_i of shape (d_out_i,)
    target : int
    fidelity : fidelity.Fidelity

    Returns
    -------
    (weights, biases) : new lists; only the last layer differs.
    """
    # P&R Alg. 4, lines 2-3: every row D_L[i, :] (every last-hidden node) at once
    D_L, d_L = weights[-1].copy(), biases[-1].copy()
    if is_channeled(D_L, d_L, target):
        # Beyond the paper: a channeled module is left as it is (idempotence). A
        # module out of CI and TI has this form only when its non-target biases
        # are all exactly 0, which no trained model's are.
        return weights[:-1] + [D_L], biases[:-1] + [d_L]
    # P&R Alg. 4, lines 4, 9 and 10-15: the negative column, the non-target columns and biases
    others, neg = _non_target(D_L.shape[1], target), negative_column(target)
    # P&R Alg. 4, lines 5 and 16: negative weight = mean of the node's non-target weights
    negative_weights = mean_of_rows(D_L[:, others])
    negative_bias = merge_negative_biases(d_L[others], target, fidelity)
    D_L[:, others] = 0   # P&R Alg. 4, lines 6 and 18-20
    D_L[:, neg] = negative_weights   # P&R Alg. 4, line 22: the edited rows
    # P&R Alg. 4, lines 8 and 21: zero the non-target biases (line 21's d_L[2, :] is a typo for these)
    d_L[others] = 0
    d_L[neg] = negative_bias   # P&R Alg. 4, lines 7 and 17
    return weights[:-1] + [D_L], biases[:-1] + [d_L]


def merge_negative_biases(other_biases, target, fidelity):
    """P&R Alg. 4, lines 7 and 17: the negative bias, from the non-target biases (n_classes-1,)."""
    if fidelity.cm_bias_mean == "mean" or target == 0:
        # Deviation from paper: P&R Alg. 4, line 17 writes mean(dL[1, :]), a typo for the non-target biases.
        return np.mean(other_biases)
    # Deviation from paper (fidelity "official"): the authors fill a list of
    # n_classes entries with the n_classes-1 biases and a trailing 0 and take
    # its mean (sum / 10); for target 0 they take the true mean.
    return np.mean(np.append(other_biases.astype(np.float64), 0.0))


def is_irrelevant(edge_to_target, negative_edges, fidelity):
    """P&R Alg. 5, lines 5 and 8, the test: rows of the last hidden layer whose edge to the target is irrelevant.

    edge_to_target : (h,), negative_edges : (h, n_classes-1). Returns (h,) bool.
    """
    if fidelity.rie_irrelevant_rule == "zero":
        return (edge_to_target == 0) & (negative_edges != 0).any(axis=1)
    if fidelity.rie_irrelevant_rule == "abs_below_0.05":
        # Deviation from paper: the authors' code tests |w| < 0.05, not w == 0.
        return np.abs(edge_to_target) < 0.05
    if fidelity.rie_irrelevant_rule == "abs_below_0.05_nonzero":
        # the MNIST-4 folder of the authors' code also requires w != 0
        return (np.abs(edge_to_target) < 0.05) & (edge_to_target != 0)
    raise ValueError(f"fidelity.rie_irrelevant_rule: unknown rule {fidelity.rie_irrelevant_rule!r}")


def remove_irrelevant_edges(weights, biases, target, fidelity):
    """P&R Alg. 5, lines 1-37 (the RIE step of CM-RIE; line 38 is :func:`channel`). Returns new lists.

    Returns
    -------
    (weights, biases, irrelevant) : the edited lists and the irrelevant
    last-hidden nodes' indices (ndarray of int).
    """
    D_L, D_below = weights[-1].copy(), weights[-2].copy()
    # P&R Alg. 5, lines 6-7 and 18-21: the non-target columns and the negative column
    others, neg = _non_target(D_L.shape[1], target), negative_column(target)
    # P&R Alg. 5, lines 2-3, 5 and 17: the list of irrelevant nodes, all rows tested at once
    irrelevant = np.flatnonzero(is_irrelevant(D_L[:, target], D_L[:, others], fidelity))
    for k in irrelevant:   # a loop over the (few) irrelevant nodes, as in Alg. 5
        listed = others[D_L[k, others] != 0]   # P&R Alg. 5, lines 4 and 8-9: the listed negative edges
        # P&R Alg. 5, lines 11-14: mean of the listed negative edges -> negative column
        D_L[k, neg] = np.mean(D_L[k, listed]) if len(listed) else 0
        # P&R Alg. 5, lines 15-16: zero the listed edges (possibly the negative column itself)
        D_L[k, listed] = 0
    if len(irrelevant) > 1:   # P&R Alg. 5, line 22
        merge_irrelevant_nodes(D_L, D_below, irrelevant, target, fidelity)
    return weights[:-2] + [D_below, D_L], list(biases), irrelevant   # P&R Alg. 5, line 39 (after line 38)


def merge_irrelevant_nodes(D_L, D_below, irrelevant, target, fidelity):
    """P&R Alg. 5, lines 22-37, the merge: merge the irrelevant nodes into the first one (in place on the copies)."""
    first, rest, neg = irrelevant[0], irrelevant[1:], negative_column(target)
    if fidelity.rie_merge_column == "negative_sum":
        # P&R Alg. 5, lines 23-28: mean of the sum (a scalar), i.e. the sum
        merged = np.sum(D_L[irrelevant, neg])
    else:
        # Deviation from paper (P&R Alg. 5, lines 24-28): the authors' code adds up column 0 when the
        # target is 0 and column 1 otherwise (not the negative column),
        # starting from the Python int 0 (so in float64 under their NumPy 1.x),
        # and divides by the number of merged nodes.
        column = 0 if target == 0 else 1
        merged = np.sum(D_L[irrelevant, column].astype(np.float64)) / len(irrelevant)
    D_L[first, neg] = 0 if np.isnan(merged) else merged
    D_L[rest, neg] = 0   # P&R Alg. 5, lines 29-30
    # P&R Alg. 5, lines 31-35: the first node's incoming column = mean of the merged nodes' columns
    D_below[:, first] = mean_of_rows(D_below[:, irrelevant])
    D_below[:, rest] = 0   # P&R Alg. 5, lines 36-37
