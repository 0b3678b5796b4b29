"""The tables of ``docs/decomposition.md`` that are computed from ``docs/records/*.jsonl``, by name.

``docs/tables.py`` writes each one between ``<!-- table: NAME -->`` and
``<!-- end table -->`` (``--check``: fails when one differs). A builder
takes the records folder and returns the Markdown table; the tables of
replicated experiments print ``mean ± half-width (n=...)``, the 95% Student
t-interval over seeds (``replicates.format_tables``).
"""
from .compact import bytes_markdown
from .replicates import format_tables, read_records, replicate_summaries
from .table1 import table1_markdown


def replicates_table(name):
    """The builder of the Markdown tables of ``<records>/<name>.jsonl`` (``summarize FILE --format table``)."""
    return lambda records: format_tables(replicate_summaries(read_records(records / f"{name}.jsonl")))


#: NAME -> builder(records folder) -> Markdown
TABLES = {
    "table1_cells": lambda records: table1_markdown(read_records(records / "table1_official_linear.jsonl")),
    "reuse_intra": replicates_table("reuse_intra"),
    "reuse_inter": replicates_table("reuse_inter"),
    "replace_inter": replicates_table("replace_inter"),
    "duodecimal": replicates_table("duodecimal"),
    "compact_bytes": lambda records: bytes_markdown(read_records(records / "compact_modules.jsonl")),
}
