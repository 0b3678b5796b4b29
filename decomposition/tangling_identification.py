"""Tangling Identification, TI (Pan & Rajan 2020, Sec. 4.2, Alg. 2) and its four variants (Alg. 3).

CI keeps only what the positives of class c need, so a module would answer
"c" to everything. TI adds back what the *negative* examples (other classes)
use. Alg. 2 for one negative example:

1. Compute the node values (P&R Alg. 2, lines 4-9, ``activity.activity_pass``).
2. **Restore the active nodes** (P&R Alg. 2, lines 10-16): a hidden node active on the negative gets its
   full incoming column and bias back from ``W, B``, negative weights
   included.
3. **Restore the output columns** (P&R Alg. 2, lines 17-20) whose softmax value exceeds a threshold:
   0.0001 in Alg. 2, 0.5 for TI-SNE (see ``fidelity``).

TI only adds edges and every restore copies the original values, so TI
itself is a union: the vectorised form restores every node active on *any*
negative, whatever their order.

Alg. 3 runs one variant for one class: it starts the module (P&R Alg. 3, line 3,
:func:`start_module`), runs CI over the positives with the sparsity check
after each of them (P&R Alg. 3, lines 5-8) and TI over the negatives
(P&R Alg. 3, lines 9-12), in the variant's
order. The variants (Sec. 4.2) differ in that order and in the number of
examples (``fidelity.n_positives``, ``fidelity.n_negatives_per_class``):

=======  =========================  =======================================
variant  order                      extra rule
=======  =========================  =======================================
TI-I     positives then negatives   -
TI-PN    positives then negatives   CI removes output columns below 0.0001
TI-HP    negatives then positives   -
TI-SNE   positives then negatives   TI output threshold 0.5
=======  =========================  =======================================

Does a module depend on the order of the negatives (``decompose``'s
``rng``)? No, for every approach (TI-I, TI-PN, TI-HP, TI-SNE, CM-C, CM-RIE)
under both fidelities, and a Hypothesis property checks it
(``tests/decomposition/test_decomposition_properties.py``):

- TI is a union of restores (above), and the only order-dependent step,
  the sparsity check, decides how the *positives* that follow are treated.
- fidelity "paper" runs the check only in the loop over the positives
  (Alg. 3), so TI-HP's negatives cannot set it; its module starts as the
  network, so TI-HP's TI restores nothing and the module is CI's alone.
- fidelity "official" also runs the check after every negative (the
  authors' code), but there TI-HP's module starts empty with the flag set,
  and the check after a negative can only set the flag again; for the
  other variants nothing follows TI.

CM-C and CM-RIE are functions of the TI-SNE module. The positives' order
does matter (CI with the indicator is sequential); they are taken in the
order of ``X``, not from ``rng``. This holds for the two records of
``fidelity.FIDELITY``; a record that pairs the sticky rule with the empty
start and the check after the negatives (the first pass's paper record)
makes TI-HP depend on the negatives' order (a test shows one).
"""
import numpy as np

from .concern_identification import ONCE, STICKY, ModuleMasks, _copy, identify_concern


def start_module(weights, biases, fidelity):
    """P&R Alg. 3, lines 2-3: the module before any example (``fidelity.module_start``).

    "original": ``D = W``, ``d = B``, indicator off (the pseudocode).
    "empty": ``D = 0``, indicator set (the authors' ``first = True``).
    """
    if fidelity.module_start == "original":
        return ModuleMasks.original(weights, biases)
    if fidelity.module_start == "empty":
        # Deviation from paper (fidelity "official"): the authors' code starts from zeros.
        return ModuleMasks.empty(weights, biases)
    raise ValueError(f"fidelity.module_start: expected 'original' or 'empty', found {fidelity.module_start!r}")


def restore_active_nodes(mask, nonzero, any_active):
    """P&R Alg. 2, lines 14-15: ``D_i[:, j] = W_i[:, j]`` for every node j active on some negative."""
    return mask | (nonzero & any_active[None, :])


def restore_output_columns(masks, probabilities, threshold):
    """P&R Alg. 2, lines 17-20: restore column j and bias j when some negative's softmax_j > threshold (in place)."""
    if threshold is None:
        # Deviation from paper: the authors' TI-PN code has no TI output rule.
        return np.zeros(probabilities.shape[1], dtype=bool)
    restored = (probabilities > threshold).any(axis=0)
    masks.output_columns |= restored
    masks.output_bias[restored] = masks.output_bias_source[restored]
    return restored


def identify_tangling(masks, weights, activity, fidelity, variant):
    """P&R Alg. 2 over all negative examples (vectorised; the result does not depend on their order).

    P&R Alg. 2, lines 1-3: the negatives come in as their ``activity`` (one pass for all), the
    weights as ``weights``; P&R Alg. 2, line 21: the new masks are returned.

    Parameters
    ----------
    masks : concern_identification.ModuleMasks (not modified)
    weights : list of ndarray, W_i of shape (d_in_i, d_out_i)
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
    for i, A in enumerate(activity.active):   # P&R Alg. 2, lines 10-11: every hidden layer, all nodes at once
        # P&R Alg. 2, lines 12-14: a node active on any negative (an inactive one keeps its column)
        any_active = A.any(axis=0)
        masks.hidden_edges[i] = restore_active_nodes(masks.hidden_edges[i], weights[i] != 0, any_active)
        masks.hidden_biases[i] = masks.hidden_biases[i] | any_active   # P&R Alg. 2, line 16
    threshold = fidelity.ti_output_threshold[variant]   # P&R Alg. 2, line 18 (0.0001; TI-SNE 0.5)
    columns_before = masks.output_columns.copy()
    restore_output_columns(masks, activity.probabilities, threshold)
    if fidelity.indicator_after_negatives:
        # Deviation from paper (fidelity "official"): the authors' code runs the
        # sparsity check after every example, negatives included.
        _indicator_after_negatives(masks, columns_before, activity.probabilities, threshold, weights[-1], fidelity)
    return masks


def _indicator_after_negatives(masks, columns_before, probabilities, threshold, W_L, fidelity):
    """The sparsity check after each negative, in their order (``fidelity.indicator_after_negatives``).

    It matters only for TI-HP, whose CI comes next. Under the authors' rule
    ("reset_below_45") it can only set ONCE, which an empty start already
    holds, so it changes nothing. Combined with the sticky rule and an empty
    start (what the first pass of this project did for fidelity "paper") it
    turns ONCE into STICKY when the output count after *some prefix* of the
    negatives is low, so the module depended on their order.
    """
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
    """P&R Alg. 3 after line 3: CI on the positives and TI on the negatives, in the variant's order.

    masks : ModuleMasks, the start (:func:`start_module`; not modified)
    positives, negatives : activity.Activity (in processing order)
    """
    if variant == "TI-HP":
        # TI-HP (Sec. 4.2): negatives first, P&R Alg. 3, lines 9-12, then positives, P&R Alg. 3, lines 5-8
        masks = identify_tangling(masks, weights, negatives, fidelity, variant)
        return identify_concern(masks, weights, positives, fidelity, variant)
    # P&R Alg. 3, lines 5-6: CI on every positive, in order
    masks = identify_concern(masks, weights, positives, fidelity, variant)
    # P&R Alg. 3, lines 9-13: TI on every negative, and the module is returned
    return identify_tangling(masks, weights, negatives, fidelity, variant)
