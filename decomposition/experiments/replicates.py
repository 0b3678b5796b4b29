"""Replicated experiments: result records on disk, and counts over seeds with a 95% t-interval.

Reuse and replacement compare composed modules (MA) with networks trained
from scratch (TMA). MA is fixed once the modules are; TMA moves with the
seed of the trained network, and so do counts such as "MA >= TMA in k of 45
pairs" (by up to 7 pairs between two seeds on MNIST). The commands therefore
train TMA with several seeds (``--seeds N``), write one JSON line per
(case, seed), and the docs report each count as the mean over seeds with a
95% Student t-interval and the number of seeds n.

Records (``--records FILE``): every finished row is appended to FILE as one
complete line (written, flushed and fsynced at once); a rerun skips the rows
already there, so a killed run resumes where it stopped and gives the same
bits (each row depends only on its case and seed). A partial last line left
by a kill is cut off on the next run. Rows hold results only; rows written
before the grids also carry their ``seconds``, which nothing reads.

Tables print each statistic as ``mean ± half-width (n=...)``: the mean over the
n complete seeds and the half-width of its 95% Student t-interval.
"""
import json
import os
from pathlib import Path

import numpy as np
from scipy import stats

from . import duodecimal, replacement, reuse

#: Fields that split rows into separately summarised groups (everything but the case and the seed).
GROUP_FIELDS = ("experiment", "dataset", "epochs", "rule", "cases", "modules", "protocol")


def read_records(path, repair=False):
    """The complete JSON rows of ``path`` (a missing file: none).

    A partial last line (a run killed mid-write, or one still writing) is
    ignored; with ``repair=True`` (the writer resuming) it is cut off the file.
    """
    path = Path(path)
    if not path.is_file():
        return []
    text = path.read_bytes()
    complete = text[:text.rfind(b"\n") + 1]
    if repair and len(complete) != len(text):
        with open(path, "r+b") as f:                      # a kill mid-line: drop the half-written row
            f.truncate(len(complete))
    return [json.loads(line) for line in complete.decode().splitlines() if line.startswith("{")]


def append_record(path, row):
    """Append ``row`` to ``path`` as one line, in one write, flushed to disk."""
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def t_interval(values, confidence=0.95):
    """Mean and Student t confidence interval of replicate values.

    Parameters
    ----------
    values : array_like of shape (n,)
        One value per replicate (seed).

    Returns
    -------
    dict with ``mean``, ``ci_low``, ``ci_high`` (None when n < 2) and ``n``.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"values: expected a non-empty 1-d sequence of replicate values, found shape {values.shape}")
    mean, n = float(np.mean(values)), len(values)
    if n < 2:
        return {"mean": round(mean, 2), "ci_low": None, "ci_high": None, "n": n}
    sem = stats.sem(values)
    low, high = (mean, mean) if sem == 0 else stats.t.interval(confidence, n - 1, loc=mean, scale=sem)
    return {"mean": round(mean, 2), "ci_low": round(float(low), 2), "ci_high": round(float(high), 2), "n": n}


def format_interval(interval, digits=2):
    """``"38.20 ± 1.90 (n=5)"``: mean ± half-width of the 95% interval (n); ``"38.00 (n=1)"`` for one replicate."""
    if interval["ci_low"] is None:
        return f"{interval['mean']:.{digits}f} (n={interval['n']})"
    half = (interval["ci_high"] - interval["ci_low"]) / 2
    return f"{interval['mean']:.{digits}f} ± {half:.{digits}f} (n={interval['n']})"


def planned_cases(row):
    """Cases per seed the run that wrote ``row`` planned, from its ``cases`` or ``pairs`` field (else None)."""
    if row.get("experiment") == "duodecimal":
        return 1
    chosen = row.get("cases", row.get("pairs"))
    if chosen == "latin":
        return 10
    if chosen == "all":
        return 45 if row.get("experiment") == "intra-reuse" else 100
    return int(chosen) if str(chosen).isdigit() else None


def per_seed(rows, statistics):
    """Group rows by seed and apply ``statistics(rows_of_one_seed) -> dict`` to each group.

    Seeds with fewer cases than planned (:func:`planned_cases`, else the
    largest number over seeds), i.e. a run stopped part way, are left out
    and counted in ``n_incomplete_seeds``.

    Returns
    -------
    (dict seed -> statistics, list of complete seeds, n_incomplete_seeds)
    """
    by_seed = {}
    for row in rows:
        by_seed.setdefault(row.get("seed"), []).append(row)
    n_cases = planned_cases(rows[0]) or max(len(group) for group in by_seed.values())
    complete = sorted((s for s, group in by_seed.items() if len(group) == n_cases), key=lambda s: (s is None, s))
    return {s: statistics(by_seed[s]) for s in complete}, complete, len(by_seed) - len(complete)


def replicate_summary(rows, statistics):
    """Each statistic as a t-interval over the complete seeds.

    Returns
    -------
    dict: the group fields of the rows, ``seeds``, ``n_seeds``,
    ``n_incomplete_seeds``, ``n_cases`` (per seed) and, for every key of
    ``statistics``, its mean over seeds and ``<key>_ci95`` ([low, high]).
    """
    rows = list(rows)
    values, seeds, n_incomplete = per_seed(rows, statistics)
    summary = {field: rows[0].get(field) for field in GROUP_FIELDS if rows[0].get(field) is not None}
    if not seeds:
        return {**summary, "seeds": [], "n_seeds": 0, "n_incomplete_seeds": n_incomplete, "n_cases": 0}
    summary.update({"seeds": seeds, "n_seeds": len(seeds), "n_incomplete_seeds": n_incomplete,
                    "n_cases": sum(1 for r in rows if r.get("seed") == seeds[0])})
    for key in values[seeds[0]]:
        if key in ("n_cases", "n_pairs"):                 # the same for every complete seed
            summary[key] = values[seeds[0]][key]
            continue
        interval = t_interval([values[s][key] for s in seeds])
        summary[key] = interval["mean"]
        summary[f"{key}_ci95"] = [interval["ci_low"], interval["ci_high"]]
    return summary


def group_rows(rows):
    """Rows split by ``GROUP_FIELDS``, in order of first appearance: dict tuple -> list."""
    groups = {}
    for row in rows:
        groups.setdefault(tuple(row.get(f) for f in GROUP_FIELDS), []).append(row)
    return groups


#: experiment -> the statistics of one seed's rows
SEED_STATISTICS = {"intra-reuse": reuse.summarize_reuse, "inter-reuse": reuse.summarize_reuse,
                   "inter-replacement": replacement.summarize_inter_replacement,
                   "duodecimal": duodecimal.summarize_duodecimal,
                   "inter-replacement-ma": replacement.summarize_inter_replacement_ma}


def replicate_summaries(rows):
    """One :func:`replicate_summary` per group of reuse/replacement/duodecimal rows, with the paper's figures."""
    groups = group_rows(r for r in rows if r.get("experiment") in SEED_STATISTICS)
    return [{"summary": group[0]["experiment"], **replicate_summary(group, SEED_STATISTICS[group[0]["experiment"]]),
             **paper_figures(group[0])} for group in groups.values()]


def paper_figures(row):
    """The paper's figures for a row's experiment and data set (keys ``paper_*``, ``authors_*``)."""
    pair = tuple(row["dataset"].split("+"))
    return {"intra-reuse": lambda: {"paper_n_ma_ge_tma": reuse.PAPER_REUSE_COUNTS.get(row["dataset"]),
                                    "paper_n_pairs": 45},
            "inter-reuse": lambda: {"paper_mean_ma_minus_tma": reuse.PAPER_INTER_REUSE_MEAN.get(pair)},
            "inter-replacement": lambda: {f"paper_{k}_ma_minus_tma": v
                                          for k, v in replacement.PAPER_INTER_REPLACEMENT.get(pair, {}).items()},
            "duodecimal": lambda: {f"paper_{k}": v for k, v in duodecimal.PAPER_DUODECIMAL.items()},
            "inter-replacement-ma": lambda: {"authors_mean_ma":
                                             replacement.AUTHORS_INTER_REPLACEMENT_MA.get(pair)},
            }[row["experiment"]]()


# ---------------------------------------------------------------------------
# Summaries in words and as Markdown tables (the docs' tables are this output)
# ---------------------------------------------------------------------------

NAMES = {"mnist": "MNIST", "fmnist": "FMNIST", "kmnist": "KMNIST", "emnist": "EMNIST"}


def _cell(summary, key, digits=2):
    """``mean ± half-width (n=...)`` of a summary's statistic over its n seeds (``mean (n=1)`` for one seed)."""
    low, high = summary[f"{key}_ci95"]
    return format_interval({"mean": summary[key], "ci_low": low, "ci_high": high, "n": summary["n_seeds"]}, digits)


def _count(summary, key):
    """``k ± half-width (n=...) of N`` for a count of the N cases of each seed."""
    return f"{_cell(summary, key, 1)} of {summary['n_cases']}"


def _data_name(summary):
    name = " + ".join(NAMES.get(d, d) for d in summary["dataset"].split("+"))
    return name + (f" ({summary['protocol']})" if summary.get("protocol") else "")


#: experiment -> (header, cells(summary)) of its Markdown table
TABLES = {
    "intra-reuse": (
        "| data set | rule | pairs with MA >= TMA | the same, authors' rule | paper | mean MA | mean TMA | "
        "mean MA - TMA |",
        lambda s: [_data_name(s), s["rule"], _count(s, "n_ma_ge_tma"),
                   _count(s, "n_ma_official_rule_ge_tma"), f"{s.get('paper_n_ma_ge_tma')} of 45", s["mean_ma"],
                   _cell(s, "mean_tma"), _cell(s, "mean_ma_minus_tma")]),
    "inter-reuse": (
        "| data sets | rule | pairs with MA >= TMA | mean MA | mean TMA | mean MA - TMA | "
        "mean MA - TMA, authors' rule | paper |",
        lambda s: [_data_name(s), s["rule"], _count(s, "n_ma_ge_tma"), s["mean_ma"],
                   _cell(s, "mean_tma"), _cell(s, "mean_ma_minus_tma"), _cell(s, "mean_ma_official_rule_minus_tma"),
                   s.get("paper_mean_ma_minus_tma")]),
    "inter-replacement": (
        "| data sets | cases with MA >= TMA | mean MA | mean TMA | mean MA - TMA | median MA - TMA | "
        "paper mean (median) |",
        lambda s: [_data_name(s), _count(s, "n_ma_ge_tma"), s["mean_ma"], _cell(s, "mean_tma"),
                   _cell(s, "mean_ma_minus_tma"), _cell(s, "median_ma_minus_tma"),
                   f"{s.get('paper_mean_ma_minus_tma')} ({s.get('paper_median_ma_minus_tma')})"]),
    "inter-replacement-ma": (
        "| data sets | cases | mean MA | median MA | authors' stored outputs, mean MA |",
        lambda s: [_data_name(s), s["n_cases"], s["mean_ma"], s["median_ma"], s.get("authors_mean_ma")]),
    "duodecimal": (
        "| TMA epochs | MA, composition rule | MA, authors' rule | TMA | MA - TMA | "
        "MA - TMA, authors' rule | paper MA / TMA / MA - TMA |",
        lambda s: [s["epochs"], s["ma"], s["ma_official_rule"], _cell(s, "tma"),
                   _cell(s, "ma_minus_tma"), _cell(s, "ma_official_rule_minus_tma"),
                   f"{s.get('paper_ma')} / {s.get('paper_tma')} / {s.get('paper_ma_minus_tma')}"]),
}


def format_tables(summaries):
    """Markdown tables, one per experiment, of :func:`replicate_summary` dicts (± is the 95% t half-width)."""
    blocks = []
    for experiment, (header, cells) in TABLES.items():
        chosen = [s for s in summaries if s.get("experiment") == experiment and s["n_seeds"] > 0]
        if not chosen:
            continue
        lines = [header, "|" + "---|" * header.count(" | ") + "---|"]
        lines += ["| " + " | ".join(str(c) for c in cells(s)) + " |" for s in chosen]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def describe_summary(summary):
    """One paragraph in words of a :func:`replicate_summary` dict (the commands print it on stderr)."""
    header, cells = TABLES[summary["experiment"]]
    names = [h.strip() for h in header.strip("|").split("|")]
    incomplete = summary["n_incomplete_seeds"]
    if summary["n_seeds"] == 0:
        return f"{summary['experiment']}: no seed has all its cases yet ({incomplete} incomplete)"
    parts = [f"{name}: {value}" for name, value in zip(names, cells(summary))]
    note = f"; {incomplete} incomplete seed(s) left out" if incomplete else ""
    return (f"{summary['experiment']}, {summary['n_cases']} case(s) per seed, seeds {summary['seeds']}{note} "
            f"(± = 95% t half-width over seeds): " + "; ".join(parts))


__all__ = ["GROUP_FIELDS", "SEED_STATISTICS", "TABLES", "append_record", "describe_summary", "format_interval",
           "format_tables", "group_rows", "paper_figures", "per_seed", "planned_cases", "read_records",
           "replicate_summaries",
           "replicate_summary", "t_interval"]
