"""The tables of ``docs/pruning.md`` that are computed from ``docs/records/*.jsonl``, by name.

``docs/tables.py`` writes each one between ``<!-- table: NAME -->`` and
``<!-- end table -->`` (``--check``: fails when one differs). A builder takes
the records folder and returns the Markdown; each reuses its experiment's own
table function, so a table is what the experiment's ``--summarize`` (or
``--compare-seeds``) prints. Replicated cells print ``mean ± half-width``, the
95% Student t-interval over seeds or trials, with n.
"""
import json

from . import dsr as DX
from . import lottery as LX
from . import obd as OX


def read_lines(path):
    """The JSON objects of a JSON-lines file."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def obd_table(name):
    """The builder of ``python -m pruning obd --summarize <records>/<name>.jsonl``'s table (and its bullets)."""
    return lambda records: OX.format_table(OX.summarize(OX.read_records(records / f"{name}.jsonl")))


def lottery_table(name):
    """The builder of ``python -m pruning lottery --summarize``'s table of the run ``<records>/<name>.jsonl``."""
    return lambda records: LX.format_table(LX.summarize_records(records / f"{name}.jsonl"))


def dsr_seed_table(*outs, rows="rows"):
    """The builder of ``--compare-seeds`` over the seed-study summaries named ``outs`` (``dsr_seed_study.jsonl``).

    ``rows="rows_after_4_epochs"`` gives the same table after 4 of the 10 epochs.

    Each summary holds every row's accuracies by seed; the rows of several
    summaries are pooled by (method, sparsity) and seed, so a later summary's
    DSR rows are paired with an earlier one's dense row of the same seed.
    """
    def build(records):
        by_out = {s["out"]: s for s in read_lines(records / "dsr_seed_study.jsonl")}
        accuracy = {}
        for out in outs:
            summary = by_out[out]
            for row in summary[rows]:
                seeds = row.get("seeds", summary["seeds"])
                accuracy.setdefault((row["method"], row["sparsity"]), {}).update(zip(seeds, row["accuracies"]))
        return DX.format_seed_table(DX.seed_rows(accuracy))
    return build


def dsr_grid_table(*names):
    """``python -m pruning dsr --compare-seeds docs/records/<name>.jsonl ...``: the grid records of ``names``."""
    return lambda records: DX.compare_seeds([records / f"{name}.jsonl" for name in names])


def _pm(values, scale=100.0, digits=1):
    """'mean ± half-width (n=k)' of ``values`` (times ``scale``), the 95% t interval (``obd.mean_ci``)."""
    mean, half, n = OX.mean_ci(values)
    return f"{scale * mean:.{digits}f} ± {scale * half:.{digits}f} (n={n})"


WANN_PRESETS = ("paper", "released-code", "nnlite-v1")


def wann_defaults_table(records):
    """The presets compared on the 8x8 digits (``wann_defaults_digits8.jsonl``): accuracies in %, per-seed votes."""
    lines = read_lines(records / "wann_defaults_digits8.jsonl")
    out = ["| `--defaults` | ensemble vote (%) | random shared weight (%, mean of 100 draws) | tuned weights (%) "
           "| connections |", "|---|---|---|---|---|"]
    for preset in WANN_PRESETS:
        runs = sorted((r for r in lines if r["defaults"] == preset), key=lambda r: r["seed"])
        vote = [r["ensemble_vote_accuracy"] for r in runs]
        per_seed = ", ".join(f"{100 * v:.1f}" for v in vote)
        out.append(f"| `{preset}` | {_pm(vote)} ({per_seed}) "
                   f"| {_pm([r['random_shared_weight_mean'] for r in runs])} "
                   f"| {_pm([r['tuned_accuracy'] for r in runs])} "
                   f"| {_pm([r['n_connections'] for r in runs], 1.0, 0)} |")
    return "\n".join(out)


#: The 30-minute 16x16 MNIST searches of the WANN target table, one column each:
#: (record, population, --defaults, --batch-size, --seed, machine). Records made before the report held
#: ``batch_size`` are labelled from their commands in docs/pruning.md.
WANN_TARGET_RUNS = (("wann_target_mnist16", 64, "paper", 500, 0, "quiet machine"),
                    ("wann_target_mnist16_loaded", 64, "paper", 500, 0, "machine under load"),
                    ("wann_target_mnist16_pop256", 256, "paper", 500, 0, "quiet machine"),
                    ("wann_target_mnist16_nnlite_v1", 64, "nnlite-v1", 500, 0, "quiet machine"),
                    ("wann_target_mnist16_nnlite_v1_batch2000", 64, "nnlite-v1", 2000, 0, "quiet machine"),
                    ("wann_target_mnist16_nnlite_v1_batch5000", 64, "nnlite-v1", 5000, 0, "quiet machine"),
                    ("wann_target_mnist16_nnlite_v1_batch2000_seed1", 64, "nnlite-v1", 2000, 1, "quiet machine"),
                    ("wann_target_mnist16_nnlite_v1_batch2000_seed2", 64, "nnlite-v1", 2000, 2, "quiet machine"),
                    ("wann_target_mnist16_nnlite_v1_batch2000_seed3", 64, "nnlite-v1", 2000, 3, "quiet machine"),
                    ("wann_target_mnist16_nnlite_v1_batch2000_seed4", 64, "nnlite-v1", 2000, 4, "quiet machine"))


#: The same batch-2000 command after step 2 moved to two threads of the process (06eb5df, SciPy products)
#: and then to a compiled pass per layer (0ef65fb), one column per search.
WANN_TARGET_FASTER_RUNS = (
    ("wann_target_mnist16_threads_batch2000_seed0", 64, "nnlite-v1", 2000, 0, "2 threads, SciPy products"),
    *((f"wann_target_mnist16_compiled_batch2000_seed{seed}", 64, "nnlite-v1", 2000, seed, "2 threads, compiled")
      for seed in (0, 1, 2)))

#: The batch-2000 ``nnlite-v1`` command's seeds by how step 2 ran: (label, records).
WANN_TARGET_EVALUATORS = (
    ("2 loky processes, SciPy products (before 06eb5df)",
     ("wann_target_mnist16_nnlite_v1_batch2000",) + tuple(name for name, *_ in WANN_TARGET_RUNS[-4:])),
    ("2 threads, SciPy products (06eb5df)", (WANN_TARGET_FASTER_RUNS[0][0],)),
    ("2 threads, compiled (0ef65fb)", tuple(name for name, *_ in WANN_TARGET_FASTER_RUNS[1:])))


def wann_target_summary(records):
    """The batch-2000 ``nnlite-v1`` searches by evaluator: generations and vote, mean ± 95% t half-width (n)."""
    out = ["| step 2 ran on | seeds | generations in 30 minutes | ensemble vote (%) | seeds at >= 85% |",
           "|---|---|---|---|---|"]
    for label, names in WANN_TARGET_EVALUATORS:
        runs = [read_lines(records / f"{name}.jsonl")[-1] for name in names]
        votes = [r["ensemble_vote_accuracy"] for r in runs]
        generations = [r["generations"] for r in runs]
        cells = ([_pm(generations, 1.0, 0), _pm(votes, 100.0, 2)] if len(runs) > 1 else
                 [f"{generations[0]} (n=1, no interval)", f"{100 * votes[0]:.2f} (n=1, no interval)"])
        out.append(f"| {label} | {', '.join(str(r['seed']) for r in runs)} | {cells[0]} "
                   f"| {cells[1]}{'' if len(runs) < 2 else ' (' + ', '.join(f'{100 * v:.2f}' for v in votes) + ')'} "
                   f"| {sum(v >= 0.85 for v in votes)} of {len(votes)} |")
    return "\n".join(out)


def wann_target_table(records, spec=WANN_TARGET_RUNS):
    """The 30-minute 16x16 MNIST searches of ``spec``, one column each (n = 1 per column: no interval)."""
    runs = [read_lines(records / f"{name}.jsonl")[-1] for name, *_ in spec]
    pct = lambda v: f"{100 * v:.2f}%"  # noqa: E731
    quantities = [
        ("generations in 30 minutes", lambda r: f"{r['generations']:,}"),
        ("champion", lambda r: f"{r['n_connections']} connections, {r['n_hidden']} hidden nodes"),
        ("ensemble of the six fixed weights, vote (target 85%; paper 91.6%)",
         lambda r: f"**{pct(r['ensemble_vote_accuracy'])}**"),
        ("ensemble, mean of the softmaxes", lambda r: pct(r["ensemble_mean_softmax_accuracy"])),
        ("best single shared weight", lambda r: f"{pct(r['best_weight_accuracy'])} (w = {r['best_weight']:g})"),
        ("the six fixed weights, mean ± sd",
         lambda r: f"{100 * r['six_weights_mean']:.2f} ± {100 * r['six_weights_std']:.2f}%"),
        ("random shared weight in [-2, 2], 100 draws, mean ± sd",
         lambda r: f"{100 * r['random_shared_weight_mean']:.2f} ± {100 * r['random_shared_weight_std']:.2f}%"),
        ("individually tuned weights (10 epochs)", lambda r: pct(r["tuned_accuracy"]))]
    for r, (name, population, defaults, batch, seed, _) in zip(runs, spec):   # the labels must hold
        settings = (r["random_shared_weight_range"], r["random_shared_weight_n_draws"], r["tune_epochs"],
                    r["time_budget_minutes"], r["population"], r["defaults"], r.get("batch_size", batch), r["seed"])
        if settings != ([-2.0, 2.0], 100, 10, 30.0, population, defaults, batch, seed):
            raise ValueError(f"records: expected the labelled settings ([-2, 2], 100 draws, 10 epochs, 30 minutes, "
                             f"population {population}, {defaults}, batch {batch}, seed {seed}) in {name}.jsonl, "
                             f"found {settings}; update the labels")
    headings = [f"population {population}, batch {batch}, `{defaults}`, seed {seed}, {machine}"
                for _, population, defaults, batch, seed, machine in spec]
    return "\n".join(["| quantity (10,000 test images) | " + " | ".join(headings) + " |",
                       "|---" * (len(runs) + 1) + "|"]
                      + [f"| {k} | " + " | ".join(f(r) for r in runs) + " |" for k, f in quantities])


#: NAME -> builder(records folder) -> Markdown
TABLES = {
    "lottery_quick": lottery_table("lottery_quick"),
    "lottery_full": lottery_table("lottery_full"),
    "obd_iterative": obd_table("obd_iterative"),
    "obd_one_shot": obd_table("obd_one-shot"),
    "obd_iterative_sgd": obd_table("obd_iterative_sgd"),
    "wann_defaults": wann_defaults_table,
    "wann_target": wann_target_table,
    "wann_target_faster": lambda records: wann_target_table(records, WANN_TARGET_FASTER_RUNS),
    "wann_target_by_evaluator": wann_target_summary,
    "dsr_fmnist_paper": dsr_grid_table("dsr90_paper_fmnist", "dsr80_paper_fmnist"),
    "dsr_cifar_methods": dsr_grid_table("dsr_cifar_methods"),
    "dsr_seed_study": dsr_seed_table("seed_study"),
    "dsr_seed_study_4_epochs": dsr_seed_table("seed_study", rows="rows_after_4_epochs"),
    "dsr_seed_study_sparsities": dsr_seed_table("seed_study", "seed_study_s50"),
    "dsr_seed_study_paper": dsr_seed_table("seed_study_paper"),
    "dsr_seed_study_paper_4_epochs": dsr_seed_table("seed_study_paper", rows="rows_after_4_epochs"),
    "dsr_seed_study_rerun_4f73918": dsr_seed_table("seed_study_rerun_4f73918"),
    "dsr_seed_study_rerun_6f7db27": dsr_seed_table("seed_study_rerun_6f7db27"),
}
