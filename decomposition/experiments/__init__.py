"""The paper's experiments, apart from its algorithms (``python -m decomposition <command>``).

The algorithm modules of ``decomposition`` hold no data loading, command
line, file I/O or plotting; everything that runs them on data lives here:

- ``data``: data sets as the authors' models read them (KMNIST protocols),
  the authors' models and stored modules, networks trained with nnlite.
- ``table1``: Table 1 recomputed (``table1``), cell by cell against the
  paper; ``compare_with_stored`` / ``compare_with_h5`` against the authors'
  modules; the activation question (``propagation_effect``).
- ``reuse``, ``replacement``, ``duodecimal``: Sec. 5.2-5.3 (MA against TMA),
  the faulty model.
- ``compact``: bytes per compact module, 2-output views (``compact``).
- ``demo``: the offline quick start (``demo``).
- ``replicates``: records with resume, t-intervals over seeds, the docs'
  tables; ``docs_tables``: those tables by name for ``docs/tables.py``.
- ``grid``: every command's tasks through ``nnlite.experiment.run_grid``.
- ``cli``: the command line.

Table 1's names are importable from here (``from decomposition.experiments
import table1_rows, compare_with_h5``).
"""
from .data import (DATASETS, NNLITE_MODELS, OFFICIAL_MODELS, PROTOCOLS, dataset_of, display_name, load_dataset,
                   official_model, split_model_name)
from .demo import MAX_HIDDEN_LAYERS, demo_rows, digits_split, format_demo_table
from .table1 import (ERRATA, PAPER_TABLE1, TOLERANCE, UNEXPLAINED, cell_verdict, compact_module_nbytes,
                     compare_with_h5, compare_with_stored, examples_for, load_keras_h5_module, model_nbytes,
                     nnlite_model_loader, paper_values, plot_table1, propagation_effect, row_fidelity, table1_markdown,
                     table1_row, table1_rows)

__all__ = ["DATASETS", "ERRATA", "MAX_HIDDEN_LAYERS", "NNLITE_MODELS", "OFFICIAL_MODELS", "PAPER_TABLE1", "PROTOCOLS",
           "TOLERANCE", "UNEXPLAINED", "cell_verdict", "compact_module_nbytes", "compare_with_h5",
           "compare_with_stored", "dataset_of", "demo_rows", "digits_split", "display_name", "examples_for",
           "format_demo_table", "load_dataset", "load_keras_h5_module", "model_nbytes", "nnlite_model_loader",
           "official_model", "paper_values", "plot_table1", "propagation_effect", "row_fidelity",
           "split_model_name", "table1_markdown", "table1_row", "table1_rows"]
