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
    (P&R Alg. 3, lines 7-8, with the typo ``indicator = False`` read as True).
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
    P&R Alg. 3, line 3: "original" starts every module as the network itself
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


def variant_of(approach):
    """The TI variant an approach starts from (CM-C and CM-RIE build on TI-SNE)."""
    return approach if approach in VARIANTS else "TI-SNE"


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
    # Per-folder behaviours of the authors' code (FOLDER_OVERRIDES); the defaults are the plain records.
    example_split: str = "train"
    ci_zero_output_rows: bool = False
    bias_overwrite_feeds_forward: bool = False
    empty_positives: bool = False
    behaviours: tuple = ()

    @property
    def authors_loop(self):
        """True when a behaviour needs the authors' example-by-example loop (``decomposition.authors_loop``)."""
        return self.ci_zero_output_rows or self.bias_overwrite_feeds_forward


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


#: Named per-folder behaviours of the authors' code: name -> (what the folder does, changes to the
#: official record). Found by reading each approach folder's Module.py and the Slice class it imports
#: (utils/sliceutil*.py); see docs/decomposition.md, "Table 1, cell by cell".
FOLDER_BEHAVIOURS = {
    "test-split": ("Module.py unpacks the test split (xt, yt) for its positives and negatives, so the modules "
                   "are built from the images they are scored on", {"example_split": "test"}),
    "emnist-scan-8000": ("positives are scanned over range(len(test labels)), the first 8,000 training rows for "
                         "EMNIST (10,000 elsewhere)", {"positive_scan_limit": 8000}),
    "ci-output-rule-zero-last-rows": ("the folder's sliceutil keeps the 0.0001 output-probability rule in CI "
                                      "(overwriting the original output bias, which later passes read) and "
                                      "zeroes the last hidden layer's outgoing rows into the output layer",
                                      {"ci_output_threshold": 0.0001, "ci_zero_output_rows": True,
                                       "bias_overwrite_feeds_forward": True}),
    "overwritten-bias-feeds-forward": ("the output bias that CI's 0.0001 rule zeroes is the one later forward "
                                       "passes read (self.b_L is both)", {"bias_overwrite_feeds_forward": True}),
    "stored-ci-output-rule-zero-last-rows": ("the folder's stored modules are reproduced bit for bit only with the "
                                             "ci-output-rule-zero-last-rows Slice, which the folder's readable "
                                             "sliceutil.py lacks (another version of the file produced them)",
                                             {"ci_output_threshold": 0.0001, "ci_zero_output_rows": True,
                                              "bias_overwrite_feeds_forward": True}),
    "stored-ti-output-rule-0.5": ("the folder's stored modules are reproduced bit for bit only with TI's 0.5 "
                                  "output rule, which the folder's readable TI-PN sliceutil.py lacks",
                                  {"ti_output_threshold": 0.5}),
    "empty-positives": ("Module.py resets the list of positives to [] before the CI loop, so the modules come "
                        "from the negatives alone", {"empty_positives": True}),
}


def _counts(n_pos, n_neg):
    return {"n_positives": n_pos, "n_negatives_per_class": n_neg}


_TI_PN = ("overwritten-bias-feeds-forward",)
_TI_PN_TEST = ("overwritten-bias-feeds-forward", "test-split")
_STORED_SLICE = ("stored-ci-output-rule-zero-last-rows", "stored-ti-output-rule-0.5")

#: Folders of the authors' code that differ from the official record: example counts read from each
#: Module.py (checked by reproducing stored modules bit for bit where they exist) and named behaviours.
FOLDER_OVERRIDES = {
    ("TI-SNE", "mnist-4"): _counts(200, 22),
    ("TI-SNE", "emnist-4"): _counts(200, 22),
    ("TI-SNE", "mnist-2"): _counts(100, 11),
    ("TI-SNE", "emnist-2"): _counts(100, 11),
    ("TI-I", "mnist-2"): {"behaviours": ("test-split",)},
    ("TI-I", "emnist-2"): {"behaviours": ("test-split",)},
    ("TI-I", "mnist-3"): {"behaviours": ("ci-output-rule-zero-last-rows",)},
    ("TI-I", "emnist-3"): {"behaviours": ("ci-output-rule-zero-last-rows",)},
    # TI-PN MNIST-2 and EMNIST-2 unpack `xt, yt` too, but their mnistutil's trainData returns the training split
    **{("TI-PN", m): {"behaviours": _TI_PN} for m in ("mnist-1", "emnist-1", "mnist-2", "emnist-2")},
    **{("TI-PN", m): {"behaviours": _TI_PN_TEST} for m in ("mnist-3", "mnist-4", "fmnist-2", "fmnist-3",
                                                            "emnist-3", "emnist-4")},
    ("TI-PN", "fmnist-1"): {**_counts(200, 20), "behaviours": _TI_PN_TEST + _STORED_SLICE},
    ("TI-PN", "fmnist-4"): {"behaviours": _TI_PN_TEST + _STORED_SLICE},
    **{("TI-PN", f"kmnist-{n}"): {**_counts(1000, 110), "behaviours": _TI_PN} for n in range(2, 5)},
    ("TI-PN", "kmnist-1"): {**_counts(1000, 110), "behaviours": _TI_PN + ("stored-ti-output-rule-0.5",)},
    ("TI-I", "kmnist-1"): {"behaviours": ("stored-ci-output-rule-zero-last-rows",)},
    ("TI-SNE", "kmnist-1"): {"behaviours": ("stored-ci-output-rule-zero-last-rows",)},
    ("TI-SNE", "kmnist-2"): {"behaviours": ("stored-ci-output-rule-zero-last-rows",)},
    **{("TI-HP", m): _counts(200, 22) for m in ("mnist-2", "mnist-4", "fmnist-4", "emnist-2", "emnist-4")},
    ("TI-HP", "mnist-3"): {**_counts(200, 22), "behaviours": ("empty-positives",)},
    ("TI-HP", "emnist-3"): {**_counts(200, 22), "behaviours": ("empty-positives",)},
    ("TI-HP", "fmnist-1"): _counts(200, 20),
    ("TI-HP", "fmnist-2"): {**_counts(200, 22), "behaviours": ("ci-output-rule-zero-last-rows",)},
    ("TI-HP", "fmnist-3"): {**_counts(200, 22), "behaviours": ("ci-output-rule-zero-last-rows",)},
}


def folder_behaviours(approach, model_name):
    """Names of the per-folder behaviours of ``approach``'s folder for ``model_name`` (e.g. "mnist-3")."""
    override = FOLDER_OVERRIDES.get((approach, model_name), {})
    names = list(override.get("behaviours", ()))
    if "n_positives" in override:
        names.insert(0, f"counts-{override['n_positives']}:{override['n_negatives_per_class']}")
    if model_name.startswith("emnist") and "test-split" not in names:
        names.append("emnist-scan-8000")
    return tuple(names)


def folder_fidelity(approach, model_name, without=()):
    """The official record adjusted to one folder of the authors' code (``FOLDER_OVERRIDES``).

    approach : one of Table 1's approaches; model_name : e.g. "mnist-3";
    without : names of behaviours to leave out (to show what each one changes).
    The returned record's ``behaviours`` names what was changed.
    """
    approaches = VARIANTS + ("CM-C", "CM-RIE")
    if approach not in approaches:
        raise ValueError(f"approach: expected one of {approaches}, found {approach!r}")
    unknown = [n for n in without if n not in FOLDER_BEHAVIOURS and not str(n).startswith("counts-")]
    if unknown:
        raise ValueError(f"without: expected names from fidelity.FOLDER_BEHAVIOURS or 'counts-P:N', found {unknown}")
    official = FIDELITY["official"]
    names = tuple(n for n in folder_behaviours(approach, model_name) if n not in without)
    if not names:
        return official
    variant = approach if approach in VARIANTS else "TI-SNE"
    override = FOLDER_OVERRIDES.get((approach, model_name), {})
    changes = {}
    if "n_positives" in override and any(n.startswith("counts-") for n in names):
        changes = {"n_positives": {**official.n_positives, variant: override["n_positives"]},
                   "n_negatives_per_class": {**official.n_negatives_per_class,
                                             variant: override["n_negatives_per_class"]}}
    for name in names:
        for key, value in FOLDER_BEHAVIOURS.get(name, ("", {}))[1].items():
            # a per-variant field (a dict in the record) changes for this folder's variant only
            per_variant = key in ("ci_output_threshold", "ti_output_threshold")
            changes[key] = {**getattr(official, key), variant: value} if per_variant else value
    return replace(official, name=f"official:{approach}/{model_name}", behaviours=names, **changes)


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
    return [(f, getattr(paper, f), getattr(official, f)) for f in paper.__dataclass_fields__
            if f not in ("name", "behaviours")]
