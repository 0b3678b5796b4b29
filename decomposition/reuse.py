"""Composing modules taken out of their model (Pan & Rajan 2020, Sec. 5.2-5.3): the rules that vote.

The paper's point is that a module is a software part: it can be taken out of
one model and put into another classifier. The experiments that do so (reuse,
replacement, the duodecimal classifier, the faulty model) live in
:mod:`decomposition.experiments`; this module holds the rules they compose with.

Two rules compose a pair of modules (:func:`compose_pair`):

- ``"correct"``: the composition rule of ``modules.compose_predict``
  (module k votes when its argmax is its own class; ties and no-votes go to
  the higher own-class probability).
- ``"official"``: the authors' ``Reuse/<DS>/Reuse.py``. When both or neither
  module votes, it compares ``[P_b(a), P_a(b)]``, i.e. each module's
  probability of the *other* module's class (``Mpred[0][class1]`` with
  ``Mmodule0`` the module of class2), and picks the larger one's position.

Replacing slot k of a composition by a module of another class or data set:
:func:`replaced_modules`. Two of the authors' evaluation scripts compose N
modules differently from the paper's rule, and are kept to explain their
numbers: :func:`compose_predict_reported` (the duodecimal classifier's
``Reuse.py``, which reports the letter modules' votes as digits) and
:func:`compose_predict_voter_position` (a tie-break bug of some ``Reuse.py``
files).
"""
import numpy as np

from nnlite import functional as F

from .modules import compose_binary, vote

PAIR_RULES = ("correct", "official")


def compose_pair(module_a, module_b, X, rule="correct"):
    """Binary predictions (0: ``module_a``'s class, 1: ``module_b``'s) of two composed modules, shape (n,)."""
    if rule == "correct":
        return compose_binary(module_a, module_b, X)
    if rule != "official":
        raise ValueError(f"rule: expected one of {PAIR_RULES}, found {rule!r}")
    P_a, P_b = module_a.predict_proba(X), module_b.predict_proba(X)
    votes = np.stack([P_a.argmax(axis=1) == module_a.target, P_b.argmax(axis=1) == module_b.target], axis=1)
    # Deviation from paper: the authors' Reuse.py compares each module's
    # probability of the *other* class when both or neither vote.
    swapped = np.stack([P_b[:, module_a.target], P_a[:, module_b.target]], axis=1)
    n_votes = votes.sum(axis=1)
    return np.where(n_votes == 1, np.argmax(votes, axis=1), np.argmax(swapped, axis=1))


def replaced_modules(modules, k, module):
    """``modules`` with slot k taken by ``module`` (of another class and data set); a new list."""
    if not 0 <= k < len(modules):
        raise ValueError(f"k: expected an index in [0, {len(modules)}), found {k}")
    return [module if j == k else m for j, m in enumerate(modules)]


def compose_predict_reported(modules, X, reported):
    """The authors' N-module composition when a module's vote *reports* ``reported[j]`` instead of j.

    Their ``Reuse/Motivating Example/Reuse.py`` records the vote of the EMNIST
    module of A as 0 and of B as 1 (each module's own class), not as 10 and 11:
    one vote then predicts digit 0 or 1; with several votes the voters are
    ranked by ``own[:, reported[j]]`` and the first slot holding the best
    value wins; with no vote, the slot with the highest own-class probability.
    With ``reported = range(N)`` this is :func:`modules.compose_predict`.

    Returns
    -------
    ndarray of int, shape (n,): the predicted slot (label).
    """
    reported = np.asarray(reported)
    own, votes = [], []
    for m in modules:
        P = m.predict_proba(X)
        own.append(P[:, m.target])
        votes.append(P.argmax(axis=1) == m.target)
    own, votes = np.stack(own, axis=1), np.stack(votes, axis=1)
    n_votes = votes.sum(axis=1)
    # Deviation from paper: the authors' code reads each voter's value at the slot its vote reports
    best = np.where(votes, own[:, reported], -np.inf).max(axis=1)
    several = np.argmax(own == best[:, None], axis=1)
    single = reported[np.argmax(votes, axis=1)]
    return np.where(n_votes == 1, single, np.where(n_votes == 0, np.argmax(own, axis=1), several))


def compose_predict_voter_position(modules, X):
    """The composition with the tie-break bug of some of the authors' ``Reuse.py`` files.

    With two or more votes they return ``valPred.index(max(valPred))``: the
    *position among the voters* of the best voter, not its class. Otherwise
    the rule of ``modules.compose_predict``. Returns shape (n,).
    """
    own, votes = [], []
    for m in modules:
        P = F.softmax(m.forward(X))
        own.append(P[:, m.target])
        votes.append(P.argmax(axis=1) == m.target)
    own, votes = np.stack(own, axis=1), np.stack(votes, axis=1)
    correct = vote(own, votes)
    best_voter = np.argmax(np.where(votes, own, -np.inf), axis=1)
    position = np.cumsum(votes, axis=1)[np.arange(len(X)), best_voter] - 1
    return np.where(votes.sum(axis=1) >= 2, position, correct)



__all__ = ["PAIR_RULES", "compose_pair", "compose_predict_reported", "compose_predict_voter_position",
           "replaced_modules"]
