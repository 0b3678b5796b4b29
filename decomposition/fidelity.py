"""Where the paper's pseudocode and the authors' code differ: one table.

``FIDELITY["paper"]`` follows Pan & Rajan's pseudocode (Alg. 1-5, typos
resolved as ``../shared/specs/decomposition.md`` says); ``FIDELITY["official"]``
follows the authors' published code (rangeetpan/decomposeDNNintoModules,
the CM-RIE / TI-SNE folders that produced the stored modules). Every
algorithm in this package reads its choices from one of these two records,
so a reader can see every difference in one place. The same table is in
``docs/decomposition.md``.

Rows (field: paper / official)
------------------------------
indicator_rule
    "sticky_10_percent": once the nonzero edges of the last (output) layer
    fall to 10% of them, the sparsity indicator becomes True and stays True
    (Alg. 3 lines 7-8, with the typo ``indicator = False`` read as True).
    "reset_below_45": after each example, when ``count_nonzero(D_L) < 45``
    the next positive re-copies the original weights once (a reset).
n_positives, n_negatives_per_class
    Examples per variant: paper 1000:1 (TI-I), 100:11 (TI-PN),
    1000:111 (TI-HP), 1000:1 (TI-SNE); code 1000:1, 200:22, 1000:110, 1000:110.
positive_filter
    Paper: the first n_positives examples of the class. Code: only examples
    the model classifies as the class with probability > 0.9, among the first
    ``positive_scan_limit`` (10,000) examples.
ti_output_threshold
    TI restores output column j when softmax_j > threshold: paper 0.0001
    (Alg. 2), 0.5 for TI-SNE; code 0.5, and no output rule at all for TI-PN
    (commented out in that folder), written None.
ci_output_threshold
    TI-PN's extra CI rule (output columns with softmax <= 0.0001 removed):
    both; other variants None.
ci_output_overwrites_bias
    TI-PN: the code also zeroes the *original* output bias of such a column,
    so later restores copy 0.
zero_outgoing_rows
    CI zeroes an inactive hidden node's outgoing row (Alg. 1); the TI-PN
    folder of the code has that line commented out.
rie_irrelevant_rule
    "zero": edge to the target == 0 and some nonzero negative edge (Alg. 5);
    "abs_below_0.05": |edge to target| < 0.05 (code).
rie_merge_column
    When irrelevant nodes are merged, the first node's negative weight is
    the "mean" of a sum: paper sums the negative column and keeps the sum
    (a mean of a scalar); the code sums column 0 if the target is 0 else
    column 1 (the other one of {0, 1}) and divides by the count.
module_start
    Alg. 3, line 3: "original" starts every module as the network itself
    (``D = W``, ``b = B``) with the sparsity indicator off; "empty" (the
    authors' code) starts from ``D = 0`` with the flag set (``first =
    True``), so the first positive copies the columns of its active nodes.
indicator_after_negatives
    Whether the sparsity check also runs after each negative (the authors'
    code) or only in the loop over the positives (Alg. 3). Under the
    official record it never changes a module: before TI-HP's positives the
    "empty" start already holds the only flag the check can set, and in the
    other variants nothing follows TI (see ``tangling_identification``).
cm_bias_mean
    Negative bias in CM-C: paper the mean of the 9 non-target biases; code
    sum / 10 when the target is not 0 (a list of 10 with one unused 0), the
    true mean when it is 0.
"""
from dataclasses import dataclass, field, replace

VARIANTS = ("TI-I", "TI-PN", "TI-HP", "TI-SNE")


@dataclass(frozen=True)
class Fidelity:
    """One column of the paper-vs-code table (see the module docstring)."""

    name: str
    indicator_rule: str
    n_positives: dict = field(hash=False)
    n_negatives_per_class: dict = field(hash=False)
    positive_filter: bool
    positive_min_probability: float
    positive_scan_limit: object            # int or None
    ti_output_threshold: dict = field(hash=False)
    ci_output_threshold: dict = field(hash=False)
    ci_output_overwrites_bias: bool = False
    zero_outgoing_rows: dict = field(default=None, hash=False)
    rie_irrelevant_rule: str = "zero"
    rie_merge_column: str = "negative_sum"
    cm_bias_mean: str = "mean"
    module_start: str = "empty"
    indicator_after_negatives: bool = True


FIDELITY = {
    "paper": Fidelity(
        name="paper",
        indicator_rule="sticky_10_percent",
        n_positives={"TI-I": 1000, "TI-PN": 100, "TI-HP": 1000, "TI-SNE": 1000},
        n_negatives_per_class={"TI-I": 1, "TI-PN": 11, "TI-HP": 111, "TI-SNE": 1},
        positive_filter=False,
        positive_min_probability=0.0,
        positive_scan_limit=None,
        ti_output_threshold={"TI-I": 0.0001, "TI-PN": 0.0001, "TI-HP": 0.0001, "TI-SNE": 0.5},
        ci_output_threshold={"TI-I": None, "TI-PN": 0.0001, "TI-HP": None, "TI-SNE": None},
        ci_output_overwrites_bias=False,
        zero_outgoing_rows={"TI-I": True, "TI-PN": True, "TI-HP": True, "TI-SNE": True},
        rie_irrelevant_rule="zero",
        rie_merge_column="negative_sum",
        cm_bias_mean="mean",
        module_start="original",
        indicator_after_negatives=False,
    ),
    "official": Fidelity(
        name="official",
        indicator_rule="reset_below_45",
        n_positives={"TI-I": 1000, "TI-PN": 200, "TI-HP": 1000, "TI-SNE": 1000},
        n_negatives_per_class={"TI-I": 1, "TI-PN": 22, "TI-HP": 110, "TI-SNE": 110},
        positive_filter=True,
        positive_min_probability=0.9,
        positive_scan_limit=10_000,
        ti_output_threshold={"TI-I": 0.5, "TI-PN": None, "TI-HP": 0.5, "TI-SNE": 0.5},
        ci_output_threshold={"TI-I": None, "TI-PN": 0.0001, "TI-HP": None, "TI-SNE": None},
        ci_output_overwrites_bias=True,
        zero_outgoing_rows={"TI-I": True, "TI-PN": False, "TI-HP": True, "TI-SNE": True},
        rie_irrelevant_rule="abs_below_0.05",
        rie_merge_column="swapped_mean",
        cm_bias_mean="sum_over_10",
        module_start="empty",
        indicator_after_negatives=True,
    ),
}


#: Folders of the authors' code whose Module.py uses other example counts than
#: the spec's table (checked by reproducing their stored modules bit for bit).
FOLDER_OVERRIDES = {
    ("TI-SNE", "mnist-4"): {"n_positives": 200, "n_negatives_per_class": 22},
}


def folder_fidelity(approach, model_name):
    """The official record adjusted to one folder of the authors' code (see ``FOLDER_OVERRIDES``)."""
    official = FIDELITY["official"]
    override = FOLDER_OVERRIDES.get((approach, model_name))
    if override is None:
        return official
    variant = approach if approach in VARIANTS else "TI-SNE"
    return replace(official, name=f"official:{approach}/{model_name}",
                   n_positives={**official.n_positives, variant: override["n_positives"]},
                   n_negatives_per_class={**official.n_negatives_per_class,
                                          variant: override["n_negatives_per_class"]})


def check_fidelity(fidelity):
    """Return the ``Fidelity`` record for "paper", "official" or a ``Fidelity``."""
    if isinstance(fidelity, Fidelity):
        return fidelity
    if not isinstance(fidelity, str) or fidelity not in FIDELITY:
        raise ValueError(f"fidelity: expected one of {sorted(FIDELITY)} or a Fidelity record, found {fidelity!r}")
    return FIDELITY[fidelity]


def fidelity_table():
    """The table as rows ``(field, paper value, official value)`` (for docs and notebooks)."""
    paper, official = FIDELITY["paper"], FIDELITY["official"]
    return [(f, getattr(paper, f), getattr(official, f)) for f in paper.__dataclass_fields__ if f != "name"]
