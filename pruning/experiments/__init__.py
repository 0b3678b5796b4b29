"""The experiments of the pruning papers: data, runs, records, tables, plots and the command lines.

``pruning/<method>.py`` holds one paper's algorithm, readable beside the
paper; ``pruning/experiments/<method>.py`` holds what turns it into an
experiment: the data it is run on, the grid of runs (through
``nnlite.experiment.run_grid``, so the same command runs sequentially, on
local processes or on a Dask cluster), the records written to
``--out/results.jsonl``, the tables and plots made from them, and the
options of ``python -m pruning <method>`` (``add_arguments`` / ``main``).
"""
