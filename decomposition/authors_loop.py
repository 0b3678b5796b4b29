"""The authors' CI / TI loop one example at a time, for the folder behaviours that need it.

Pan & Rajan's published code (rangeetpan/decomposeDNNintoModules) keeps a
module as float arrays ``D, d`` and edits them example by example (its
``Slice`` class: ``modifyThroughInterSection`` is CI, Alg. 1;
``dynamicmodify`` is TI, Alg. 2). The vectorised path of this package
(``concern_identification``, ``tangling_identification``) reproduces that
loop bit for bit as long as the output layer is edited in whole columns and
the activity pass uses the original biases. Two per-folder behaviours of the
authors' code break those assumptions (``fidelity.FOLDER_OVERRIDES``):

- ``ci_zero_output_rows``: CI also zeroes the outgoing row ``D_L[j, :]`` of an
  inactive last-hidden node j (P&R Alg. 1, line 15 applied to the last hidden
  layer too; the variant ``sliceutil`` of the TI-I MNIST-3 and EMNIST-3 and
  the TI-HP FMNIST-2 and FMNIST-3 folders). The output layer then holds a
  2-D pattern, not a set of columns.
- ``bias_overwrite_feeds_forward``: where CI's output rule removes column j
  (softmax <= 0.0001) the code zeroes the *original* bias ``B_L[j]``, and the
  activity pass of every later example reads that zeroed bias (every TI-PN
  folder, and the four folders above).

This module runs the loop literally, vectorised over the nodes of a layer
(each node touches only its own column and its own outgoing row, so the
per-node order inside a layer does not matter), with:

1. **Activity pass** with the current biases (P&R Alg. 1, lines 4-9; P&R Alg. 2, lines 4-9).
2. **CI** on a positive (Alg. 1): inactive hidden node -> column, bias and
   outgoing row zeroed; active node -> copied (indicator set) or "keep the
   common edges" (min/max with the clamp); output columns below the CI
   threshold removed (bias overwritten), the others copied or kept.
3. **TI** on a negative (Alg. 2): active hidden nodes restored; output
   columns with softmax > the TI threshold restored.
4. **Indicator** (the authors' ``first``): set initially, cleared after a CI
   step, set again whenever ``count_nonzero(D_L) < 45`` after any step.
"""
import numpy as np

from nnlite import functional as F

from .fidelity import variant_of
from .modules import Module

#: the authors' reset: ``if np.count_nonzero(D_L) < 45: first = True``
RESET_BELOW = 45


class SliceState:
    """The module being built: ``D`` (list of (d_in, d_out)), ``d``, the mutable biases ``B`` and ``first``."""

    def __init__(self, weights, biases):
        self.W = weights
        self.original_biases = biases
        self.B = [b.copy() for b in biases]
        self.D = [np.zeros_like(W) for W in weights]
        self.d = [np.zeros_like(b) for b in biases]
        self.first = True

    def biases_for_pass(self, fidelity):
        """The biases the activity pass reads: the (possibly overwritten) current ones, or the originals."""
        return self.B if fidelity.bias_overwrite_feeds_forward else self.original_biases

    def check_reset(self):
        """Module.py after every example: re-copy on the next positive when D_L is nearly empty."""
        if np.count_nonzero(self.D[-1]) < RESET_BELOW:
            self.first = True


def layer_values(W, B, x, propagation):
    """P&R Alg. 1, lines 4-9 and P&R Alg. 2, lines 4-9 for one example: node values per layer and the softmax."""
    values, a = [], x
    for i, (Wi, bi) in enumerate(zip(W, B)):
        z = a @ Wi + bi
        values.append(z)
        # Deviation from paper: "relu" rectifies between layers (the authors' pass is "linear")
        a = np.maximum(z, 0) if propagation == "relu" and i < len(W) - 1 else z
    return values, F.softmax(values[-1][None, :])[0]


def keep_common_edges(D, W):
    """P&R Alg. 1, lines 22-28 on whole columns: max-then-clamp for negative weights, min for the others."""
    return np.where(W < 0, np.maximum(np.maximum(D, W), 0), np.minimum(D, W))


def concern_step(state, x, fidelity, variant, propagation):
    """P&R Alg. 1 (the authors' ``modifyThroughInterSection``) for one positive ``x`` of shape (d_in,).

    P&R Alg. 1, lines 1-3: the positive ``x``, the module ``state`` (D, d, indicator) and W, B come in;
    the module is edited in place (P&R Alg. 1, line 41 returns it).
    """
    W, D, d = state.W, state.D, state.d
    values, p = layer_values(W, state.biases_for_pass(fidelity), x, propagation)
    L = len(W)
    zero_rows = fidelity.zero_outgoing_rows[variant]
    for i in range(L - 1):   # P&R Alg. 1, lines 10-11: each hidden layer, all its nodes at once
        active = values[i] > 0   # P&R Alg. 1, line 12 (and line 17 for ~active)
        D[i][:, ~active] = 0   # P&R Alg. 1, line 13
        d[i][~active] = 0   # P&R Alg. 1, line 16
        if (zero_rows and i < L - 2) or (fidelity.ci_zero_output_rows and i == L - 2):
            # P&R Alg. 1, lines 14-15 (ci_zero_output_rows: also into the output layer)
            D[i + 1][~active, :] = 0
        if state.first:   # P&R Alg. 1, lines 18-19
            D[i][:, active] = W[i][:, active]
        else:   # P&R Alg. 1, line 21
            D[i][:, active] = keep_common_edges(D[i][:, active], W[i][:, active])
        d[i][active] = state.B[i][active]   # P&R Alg. 1, lines 20 and 29
    output_concern_step(state, p, fidelity.ci_output_threshold[variant], fidelity)
    state.first = False


def output_concern_step(state, p, threshold, fidelity):
    """P&R Alg. 1, lines 30-40 (and TI-PN's output rule) on the output layer."""
    W_L, D_L, d_L, B_L = state.W[-1], state.D[-1], state.d[-1], state.B[-1]
    low = p <= threshold if threshold is not None else np.zeros(p.shape, dtype=bool)
    D_L[:, low] = 0
    if fidelity.ci_output_overwrites_bias:
        # Deviation from paper: the code zeroes the original B_L[j], so later restores copy 0
        B_L[low] = 0
    else:
        d_L[low] = 0
    high = ~low
    # P&R Alg. 1, lines 31-32 and 34-39: copy the columns (indicator set) or keep the common edges
    D_L[:, high] = W_L[:, high] if state.first else keep_output_edges(D_L[:, high], W_L[:, high])
    d_L[high] = B_L[high]   # P&R Alg. 1, lines 33 and 40


def keep_output_edges(D, W):
    """P&R Alg. 1, lines 35-39: min/max without the clamp (leaves D as it is when D is 0 or W)."""
    return np.where(W < 0, np.maximum(D, W), np.minimum(D, W))


def tangling_step(state, x, fidelity, variant, propagation):
    """P&R Alg. 2 (the authors' ``dynamicmodify``) for one negative ``x``.

    P&R Alg. 2, lines 1-3: the negative ``x``, the module ``state`` and W, B come in; the module
    is edited in place (P&R Alg. 2, line 21 returns it).
    """
    W, D, d = state.W, state.D, state.d
    values, p = layer_values(W, state.biases_for_pass(fidelity), x, propagation)
    for i in range(len(W) - 1):
        active = values[i] > 0
        # P&R Alg. 2, lines 10-15: restore the active nodes (inactive ones keep theirs, lines 12-13)
        D[i][:, active] = W[i][:, active]
        d[i][active] = state.B[i][active]   # P&R Alg. 2, line 16
    threshold = fidelity.ti_output_threshold[variant]
    if threshold is not None:
        # P&R Alg. 2, lines 17-20: restore the output columns above the threshold
        high = p > threshold
        D[-1][:, high] = W[-1][:, high]
        d[-1][high] = state.B[-1][high]


def run_variant(weights, biases, positives, negatives, fidelity, variant, propagation="linear"):
    """P&R Alg. 3 for one class with the authors' loop: (D, d) after CI and TI in the variant's order.

    Parameters
    ----------
    weights, biases : lists of ndarray, W_i (d_in_i, d_out_i), B_i (d_out_i,)
    positives, negatives : ndarray of shape (n, d_in), in processing order
    fidelity : fidelity.Fidelity
    variant : {"TI-I", "TI-PN", "TI-HP", "TI-SNE"}

    Returns
    -------
    D, d : lists of new arrays, the module's weights and biases
    """
    # Deviation from paper (P&R Alg. 3, line 3): the authors start from D = 0 with their flag set
    state = SliceState(weights, biases)
    ci = [(concern_step, x) for x in positives]
    ti = [(tangling_step, x) for x in negatives]
    # TI-HP: negatives first, then positives (Sec. 4.2)
    for step, x in (ti + ci if variant == "TI-HP" else ci + ti):
        step(state, x, fidelity, variant, propagation)
        state.check_reset()   # Deviation from paper (P&R Alg. 3, lines 7-8): the authors' reset below 45
    return state.D, state.d


def apply_folder_behaviours(chosen, fidelity):
    """Per-folder example choices (``fidelity.FOLDER_OVERRIDES``) on {class: (positive rows, negative rows)}."""
    if fidelity.empty_positives:
        # the TI-HP MNIST-3 / EMNIST-3 folders empty the list of positives before CI runs
        chosen = {c: (positives[:0], negatives) for c, (positives, negatives) in chosen.items()}
    return chosen


def decompose_sequential(weights, biases, X, chosen, approach, propagation, fidelity, modularize):
    """Modules for the classes in ``chosen`` ({class: (positive rows, negative rows)}) with the authors' loop."""
    modules = []
    for c, (positives, negatives) in chosen.items():
        D, d = run_variant(weights, biases, X[positives], X[negatives], fidelity, variant_of(approach), propagation)
        D, d = modularize(D, d, c, approach, fidelity)
        modules.append(Module(D, d, c, approach))
    return modules
