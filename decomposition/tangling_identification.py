"""Tangling Identification, TI (Pan & Rajan 2020, Sec. 4.2, Alg. 2) and its four variants (Alg. 3).

CI keeps only what the positives of class c need, so a module would answer
"c" to everything. TI adds back what the *negative* examples (other classes)
use. Alg. 2 for one negative example:

1. Compute the node values (lines 4-9, ``activity.activity_pass``).
2. **Restore the active nodes**: a hidden node active on the negative gets its
   full incoming column and bias back from ``W, B``, negative weights
   included (lines 10-15).
3. **Restore the output columns** whose softmax value exceeds a threshold
   (lines 16-20): 0.0001 in Alg. 2, 0.5 for TI-SNE (see ``fidelity``).

TI only adds edges and every restore copies the original values, so the
negatives' order does not change the result: the vectorised form restores
every node active on *any* negative.

The variants (Alg. 3 and Sec. 4.2) differ in the order of CI and TI and in
the number of examples (``fidelity.n_positives``,
``fidelity.n_negatives_per_class``):

=======  =========================  =======================================
variant  order                      extra rule
=======  =========================  =======================================
TI-I     positives then negatives   -
TI-PN    positives then negatives   CI removes output columns below 0.0001
TI-HP    negatives then positives   -
TI-SNE   positives then negatives   TI output threshold 0.5
=======  =========================  =======================================
"""
import numpy as np

from .concern_identification import ONCE, STICKY, _copy, identify_concern


def restore_active_nodes(mask, nonzero, any_active):
    """Alg. 2, lines 10-15: ``D_i[:, j] = W_i[:, j]`` for every node j active on some negative."""
    return mask | (nonzero & any_active[None, :])


def restore_output_columns(masks, probabilities, threshold):
    """Alg. 2, lines 16-20: restore column j and bias j when some negative's softmax_j > threshold (in place)."""
    if threshold is None:
        # Deviation from paper: the authors' TI-PN code has no TI output rule.
        return np.zeros(probabilities.shape[1], dtype=bool)
    restored = (probabilities > threshold).any(axis=0)
    masks.output_columns |= restored
    masks.output_bias[restored] = masks.output_bias_source[restored]
    return restored


def identify_tangling(masks, weights, activity, fidelity, variant):
    """Alg. 2 over all negative examples (order-independent, vectorised).

    Parameters
    ----------
    masks : concern_identification.ModuleMasks (not modified)
    weights : list of ndarray, W_i of shape (n_in_i, n_out_i)
    activity : activity.Activity of the negatives (n examples)
    fidelity : fidelity.Fidelity
    variant : {"TI-I", "TI-PN", "TI-HP", "TI-SNE"}

    Returns
    -------
    ModuleMasks
    """
    masks = _copy(masks)
    if len(activity.probabilities) == 0:
        return masks
    for i, A in enumerate(activity.active):
        any_active = A.any(axis=0)
        masks.hidden_edges[i] = restore_active_nodes(masks.hidden_edges[i], weights[i] != 0, any_active)
        masks.hidden_biases[i] = masks.hidden_biases[i] | any_active
    threshold = fidelity.ti_output_threshold[variant]
    columns_before = masks.output_columns.copy()
    restore_output_columns(masks, activity.probabilities, threshold)
    _indicator_after_negatives(masks, columns_before, activity.probabilities, threshold, weights[-1], fidelity)
    return masks


def _indicator_after_negatives(masks, columns_before, probabilities, threshold, W_L, fidelity):
    """The sparsity check runs after every negative too (it matters only for TI-HP, whose CI comes next)."""
    counts = np.count_nonzero(W_L, axis=0)
    if threshold is None:
        kept = np.repeat(columns_before[None, :], len(probabilities), axis=0)
    else:
        kept = columns_before[None, :] | np.logical_or.accumulate(probabilities > threshold, axis=0)
    nonzero_after_each = (kept * counts[None, :]).sum(axis=1)
    if fidelity.indicator_rule == "sticky_10_percent":
        if masks.indicator == STICKY or (nonzero_after_each <= 0.1 * W_L.size).any():
            masks.indicator = STICKY
    elif (nonzero_after_each < 45).any():
        masks.indicator = ONCE   # TI never clears the flag, so one low count sets it


def decompose_variant(masks, weights, positives, negatives, fidelity, variant):
    """Alg. 3: CI on the positives and TI on the negatives, in the variant's order.

    positives, negatives : activity.Activity (in processing order)
    """
    if variant == "TI-HP":
        # TI-HP: negatives first, then positives (Sec. 4.2)
        masks = identify_tangling(masks, weights, negatives, fidelity, variant)
        return identify_concern(masks, weights, positives, fidelity, variant)
    masks = identify_concern(masks, weights, positives, fidelity, variant)
    return identify_tangling(masks, weights, negatives, fidelity, variant)
