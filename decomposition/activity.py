"""The activity pass (P&R Alg. 1, lines 4-9; P&R Alg. 2, lines 4-9): which hidden nodes an example switches on.

For a batch ``X (n, d_in)`` and a network ``W_1, B_1, ..., W_L, B_L`` the
pass computes every layer's node values for all n examples at once (one
matrix product per layer) and flags a hidden node *active* when its value is
> 0. The last layer's values go through a softmax.

Two propagations (the activation question, see the spec):

- ``"linear"``: ``X_i = X_{i-1} W_i + B_i`` with **no ReLU between layers**,
  what the pseudocode (which writes ``X_i = X_i W_i``, a typo for
  ``X_{i-1} W_i``) and the authors' code compute.
- ``"relu"``: ``X_i = relu(X_{i-1}) W_i + B_i``, what the network computes;
  a node is active iff its pre-activation is > 0.

With one hidden layer both give identical flags and identical outputs.
"""
from dataclasses import dataclass

import numpy as np

from nnlite import functional as F
from nnlite import sparse
from nnlite._checks import check_n_features

from .validation import check_layers, check_real_array

PROPAGATIONS = ("linear", "relu")


@dataclass(frozen=True)
class Activity:
    """Result of :func:`activity_pass`.

    Attributes
    ----------
    values : list of ndarray, values[i] of shape (n, d_out_i)
        Node values of every layer (hidden layers: before rectification; the
        last layer: logits).
    active : list of ndarray of bool, active[i] of shape (n, h_i)
        ``values[i] > 0`` for the L-1 hidden layers.
    probabilities : ndarray of shape (n, n_classes)
        Softmax of the last layer's values.
    """

    values: list
    active: list
    probabilities: np.ndarray

    def subset(self, rows):
        """The activity of the examples ``rows`` (an index array), same layout."""
        return Activity([V[rows] for V in self.values], [A[rows] for A in self.active], self.probabilities[rows])


def check_propagation(propagation):
    if not isinstance(propagation, str) or propagation not in PROPAGATIONS:
        raise ValueError(f"propagation: expected one of {PROPAGATIONS}, found {propagation!r}")
    return propagation


def activity_pass(weights, biases, X, propagation="linear"):
    """Node values, active flags and output probabilities of all rows of ``X``.

    Parameters
    ----------
    weights : list of ndarray, W_i of shape (d_in_i, d_out_i)
    biases : list of ndarray, B_i of shape (d_out_i,)
    X : ndarray of shape (n, d_in_1)
        ``n`` may be 0 (an empty batch is accepted on purpose): the result is
        an empty Activity, and identifying concerns or tangling with it
        changes no mask (e.g. a class without negatives).
    propagation : {"linear", "relu"}

    Returns
    -------
    Activity
    """
    check_propagation(propagation)
    weights, biases = check_layers(weights, biases)
    X = check_real_array(X, "X", allow_empty=True)
    check_n_features(X, "X", weights[0].shape[0])
    # P&R Alg. 1, line 4 and P&R Alg. 2, line 4: X_0 = x
    values, layer_input = [], X
    for i, (W, b) in enumerate(zip(weights, biases)):
        # P&R Alg. 1, lines 5-8 and P&R Alg. 2, lines 5-8: X_i = X_{i-1} W_i + B_i for every layer, the
        # output layer included (the listing's X_i = X_i W_i in line 6 is a typo for X_{i-1} W_i)
        Z = sparse.matmul(layer_input, W) + b
        values.append(Z)
        # Deviation from paper: propagation="relu" rectifies the input of the
        # next layer (what the network computes); "linear" is the pseudocode's
        # (P&R Alg. 1, line 7 and P&R Alg. 2, line 7: no ReLU before the next layer).
        layer_input = F.relu_forward(Z) if propagation == "relu" else Z
    # P&R Alg. 1, line 12 and P&R Alg. 2, line 12: a hidden node is active when its value is > 0
    active = [Z > 0 for Z in values[:-1]]
    # P&R Alg. 1, line 9 and P&R Alg. 2, line 9: the softmax of the last layer
    return Activity(values, active, F.softmax(values[-1]))


def activity_disagreement(weights, biases, X):
    """Fraction of (example, node) activity flags that differ between the propagations, per hidden layer.

    Returns
    -------
    ndarray of shape (L-1,)
    """
    linear = activity_pass(weights, biases, X, "linear")
    relu = activity_pass(weights, biases, X, "relu")
    return np.array([np.mean(a != b) for a, b in zip(linear.active, relu.active)])
