"""Decomposing a trained DNN into modules (Pan & Rajan, ESEC/FSE 2020).

Rangeet Pan and Hridesh Rajan, "On Decomposing a Deep Neural Network into
Modules", ESEC/FSE 2020, pp. 889-900, doi:10.1145/3368089.3409668.

One file per section of the paper:

- ``activity``: the activity pass (P&R Alg. 1, lines 4-9; P&R Alg. 2, lines 4-9), linear or relu.
- ``concern_identification``: CI (Alg. 1) and the sparsity indicator (Alg. 3).
- ``tangling_identification``: TI (Alg. 2) and the variants' order (Alg. 3).
- ``concern_modularization``: channel (CM-C, Alg. 4), remove irrelevant
  edges (CM-RIE, Alg. 5).
- ``fidelity``: the one table of paper-vs-authors'-code differences.
- ``approaches``: ``decompose(model, X, y, approach=...)``.
- ``modules``: the Module type, composition, replacement, Jaccard.
- ``compact_modules``: modules stored at the size of what they compute
  (``compact``, ``compose_compact``, ``compact_nbytes``).
- ``reuse``: the rules that compose modules taken out of their model.
- ``official_models``: ``fetch_models`` downloads the authors' published
  models (``python -m decomposition fetch-models``); ``load_official_modules``.

The experiments that run these on data (Table 1, reuse, replacement, the
duodecimal classifier, the faulty model, compact-module sizes) and the
command line ``python -m decomposition`` live in ``decomposition.experiments``.

The pseudocode of Alg. 1-5, line by line in the paper's numbering, is in
``docs/pseudocode/pr-alg*.md``; the code cites its lines as ``P&R Alg. N, line M``.
"""
from .activity import PROPAGATIONS, activity_disagreement, activity_pass
from .approaches import APPROACHES, decompose
from .fidelity import FIDELITY, Fidelity, fidelity_table
from .modules import (Module, compose_binary, compose_predict, composed_accuracy, jaccard_mask, jaccard_official,
                      mean_pairwise_jaccard, replace_module)
from .official_models import fetch_models, load_official_modules

__all__ = ["APPROACHES", "FIDELITY", "PROPAGATIONS", "Fidelity", "Module", "activity_disagreement", "activity_pass",
           "compose_binary", "compose_predict", "composed_accuracy", "decompose", "fetch_models", "fidelity_table",
           "jaccard_mask", "jaccard_official", "load_official_modules", "mean_pairwise_jaccard", "replace_module"]

from .compact_modules import CompactModule, compact, compact_nbytes, compose_compact  # noqa: E402

__all__ += ["CompactModule", "compact", "compact_nbytes", "compose_compact"]
