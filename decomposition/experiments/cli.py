"""Command line: ``python -m decomposition {demo,table1,summarize,reuse,replace,duodecimal,faulty} ...``.

Examples::

    python -m decomposition demo          # offline, < 30 s: a digits MLP decomposed every way
    python -m decomposition table1 --models official --propagation linear relu --format json
    python -m decomposition table1 --models nnlite-mnist-1 --epochs 5
    python -m decomposition reuse --dataset mnist --pairs all --epochs 10
    python -m decomposition reuse --inter mnist emnist --pairs 10
    python -m decomposition reuse --dataset mnist --seeds 5 --records docs/records/reuse_intra.jsonl
    python -m decomposition reuse --dataset mnist --seeds 5 --backend loky --jobs 2 --out results/reuse   # a grid
    python -m decomposition replace --dataset mnist fmnist
    python -m decomposition replace --inter mnist emnist --seeds 5 --records results/replace.jsonl
    python -m decomposition duodecimal --seeds 5
    python -m decomposition faulty
    python -m decomposition summarize table1.jsonl   # relu vs linear per approach
    python -m decomposition fetch-models mnist-4 modules/CM-RIE/mnist-4   # the authors' files (no NAME: all)
    python -m decomposition compact --score          # bytes per module, full and compact
    python -m decomposition summarize docs/records/reuse_intra.jsonl --format table

``table1``, ``reuse``, ``replace``, ``duodecimal`` and ``faulty`` print one
JSON object per line (``reuse``/``replace``/``duodecimal`` end with a
``"summary"`` line, and print a human summary on stderr); progress goes to
stderr. ``table1``, ``reuse``, ``replace`` and ``duodecimal`` run their
tasks through ``nnlite.experiment.run_grid`` (``decomposition.experiments.grid``):
``--backend {sequential,loky,dask}``, ``--scheduler ADDRESS``, ``--jobs N``,
``--out DIR`` (``DIR/results.jsonl``: records, results only;
``DIR/timings.jsonl``: seconds; a killed grid resumes from DIR). ``--seeds N``
runs seeds ``--seed`` .. ``--seed`` + N - 1 (the comparison networks' seeds;
Table 1: the negatives' order); ``--records FILE`` appends each new row to
FILE and skips rows already there (a rerun resumes).
"""
import functools
import json
import sys
from argparse import ArgumentTypeError
from pathlib import Path

from nnlite.cli import ArgumentParser, command, non_negative_int, positive_int

from ..approaches import APPROACHES
from ..fidelity import FIDELITY
from ..reuse import PAIR_RULES
from .data import KMNIST_PROTOCOLS, MODULE_SOURCES, NNLITE_MODELS, OFFICIAL_MODELS, PROTOCOLS
from .demo import MAX_HIDDEN_LAYERS
from .grid import add_grid_options, in_row_order, n_seeds, run_tasks


def _models(names):
    groups = {"official": OFFICIAL_MODELS, "nnlite": NNLITE_MODELS}
    names = [m for n in names for m in groups.get(n, [n])]
    unknown = [n for n in names if n not in OFFICIAL_MODELS + NNLITE_MODELS]
    if unknown:
        raise SystemExit(f"--models: expected 'official', 'nnlite' or names from {OFFICIAL_MODELS} (optionally "
                         f"prefixed 'nnlite-'), found {unknown}")
    if any(n in OFFICIAL_MODELS for n in names) and any(n in NNLITE_MODELS for n in names):
        raise SystemExit("--models: expected either the authors' models or nnlite-trained ones, found both; "
                         "run the command once for each")
    return names


def _data_arguments(parser):
    parser.add_argument("--data-dir", default=None, help="datasets folder (default: $NNLITE_DATA)")
    parser.add_argument("--models-dir", default=None,
                        help="the authors' models (default: $NNLITE_OFFICIAL_MODELS, else ../shared/official-models, "
                             "else downloaded on first use, see fetch-models)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the negatives' order and of training")


@command("python -m decomposition", stop_hint="")
def main(argv=None):
    parser = ArgumentParser(prog="python -m decomposition", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a small MLP on the offline 8x8 digits and decompose it every way")
    demo.add_argument("--epochs", type=positive_int, default=30)
    demo.add_argument("--hidden-layers", type=_hidden_layers, default=2,
                      help=f"hidden layers of 49 ReLU units, 1 to {MAX_HIDDEN_LAYERS}")
    demo.add_argument("--seed", type=non_negative_int, default=0)
    demo.add_argument("--format", default="table", choices=["json", "table"])
    t1 = sub.add_parser("table1", help="recompute Table 1 (composed accuracy and JI per approach)")
    t1.add_argument("--models", nargs="+", default=["official"],
                    help="'official' (the authors' 16 models), 'nnlite' (the same architectures trained with "
                         "nnlite) or names like mnist-4, nnlite-mnist-4")
    t1.add_argument("--epochs", type=positive_int, default=50, help="training epochs of nnlite-* models (authors: 50)")
    t1.add_argument("--cache-dir", default="results/nnlite-models", help="where nnlite-* models are cached")
    t1.add_argument("--propagation", nargs="+", default=["linear", "relu"], choices=["linear", "relu"])
    t1.add_argument("--fidelity", nargs="+", default=["official"], choices=sorted(FIDELITY))
    t1.add_argument("--approaches", nargs="+", default=list(APPROACHES), choices=APPROACHES)
    t1.add_argument("--format", default="json", choices=["json", "table", "markdown"],
                    help="json: one object per line; markdown: the JSON lines, then Table 1 cell by cell on stderr")
    t1.add_argument("--protocol", default=None, choices=PROTOCOLS,
                    help="KMNIST split: 'authors' (decompose on and score the whole test set, as the authors' code; "
                         "default for their models) or 'held-out' (first/last 5,000 test images; default for nnlite-*)")
    t1.add_argument("--plot", default=None, help="write a matplotlib figure to this path")
    _data_arguments(t1)
    add_grid_options(t1)
    summary = sub.add_parser("summarize", help="summaries of saved JSON lines: relu vs linear (table1 rows), "
                                               "MA vs TMA (reuse rows)")
    summary.add_argument("files", nargs="+", help="files of table1 or reuse JSON lines")
    summary.add_argument("--table1-markdown", action="store_true",
                         help="print Table 1 cell by cell (ours beside the paper's) from table1 JSON lines")
    summary.add_argument("--format", default="json", choices=["json", "table"],
                         help="json: one summary per line; table: Markdown tables of the replicated experiments")
    _reuse_arguments(sub)
    _fetch_models_arguments(sub)
    sub.add_parser("compact", add_help=False, help="bytes per module, full and compact, beside the model's "
                                                   "(decomposition.compact_modules; compact --help: its options)")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["compact"]:
        from .compact import main as compact_main
        return compact_main(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "table1":
        return _table1(args)
    return {"demo": _demo, "reuse": _reuse, "replace": _replace, "faulty": _faulty, "duodecimal": _duodecimal,
            "summarize": _summarize, "fetch-models": _fetch_models}[args.command](args)


def _summarize(args):
    from .replicates import format_tables, read_records, replicate_summaries
    from .table1 import propagation_effect, table1_markdown

    for path in args.files:
        if not Path(path).is_file():
            return _usage_error(f"files: expected files of JSON lines, found no file {path!r}")
    rows = [row for path in args.files for row in read_records(path)]
    if args.table1_markdown:
        print(table1_markdown(r for r in rows if "approach" in r), flush=True)
        return 0
    if args.format == "table":
        print(format_tables(replicate_summaries(rows)), flush=True)
        return 0
    for row in propagation_effect(r for r in rows if "approach" in r):
        print(json.dumps({"summary": "propagation", **row}), flush=True)
    for summary in replicate_summaries(rows):
        print(json.dumps(summary), flush=True)
    return 0


def _usage_error(message):
    """A command-line user error: ``command`` prints it as one line on stderr and exits with status 2."""
    raise ValueError(message)


def _reuse_arguments(sub):
    datasets = ["mnist", "fmnist", "kmnist", "emnist"]
    reuse = sub.add_parser("reuse", help="two modules composed into a binary classifier (MA) vs a trained one (TMA)")
    reuse.add_argument("--dataset", nargs="+", default=["mnist"], choices=datasets,
                       help="intra-dataset reuse of these data sets' 4-layer models")
    reuse.add_argument("--inter", nargs=2, default=None, metavar=("DATASET_A", "DATASET_B"), choices=datasets,
                       help="inter-dataset reuse instead: class a of DATASET_A with class b of DATASET_B")
    reuse.add_argument("--pairs", default="all", type=_case_selection("all"),
                       help="'all' (45 pairs; 100 with --inter) or the first N")
    reuse.add_argument("--epochs", type=positive_int, default=10, help="TMA training epochs (paper: 10)")
    reuse.add_argument("--rule", default="correct", choices=PAIR_RULES,
                       help="pair composition: 'correct' or the authors' Reuse.py ('official')")
    reuse.add_argument("--modules", default="stored", choices=MODULE_SOURCES,
                       help="the authors' stored CM-RIE modules or our decomposition of their model")
    _replicate_arguments(reuse, KMNIST_PROTOCOLS)
    replace = sub.add_parser("replace", help="each module of the 1-layer model replaced by the 4-layer one's; "
                                             "--inter: MNIST modules replaced by another data set's")
    replace.add_argument("--dataset", nargs="+", default=datasets, choices=datasets)
    replace.add_argument("--inter", nargs=2, default=None, metavar=("DATASET_A", "DATASET_B"), choices=datasets,
                         help="inter-dataset replacement instead: module k of DATASET_A's 4-layer model replaced "
                              "by module j of DATASET_B's, the 100 (k, j)")
    replace.add_argument("--cases", default="all", type=_case_selection("all", "latin"),
                         help="with --inter: 'all' (100), 'latin' (10 per seed: (k, (k + seed) %% 10)) or the first N")
    replace.add_argument("--epochs", type=positive_int, default=10,
                         help="with --inter: TMA training epochs (authors: 10)")
    replace.add_argument("--ma-only", action="store_true",
                         help="with --inter: the composed modules' accuracy (MA) alone, no network trained")
    replace.add_argument("--modules", default="stored", choices=MODULE_SOURCES)
    _replicate_arguments(replace, KMNIST_PROTOCOLS)
    duodecimal = sub.add_parser("duodecimal", help="ten MNIST modules plus EMNIST's A and B: a 12-class "
                                                   "classifier against a trained 4x49 network")
    duodecimal.add_argument("--epochs", type=positive_int, default=50, help="TMA training epochs (authors: 50)")
    duodecimal.add_argument("--modules", default="stored", choices=MODULE_SOURCES)
    _replicate_arguments(duodecimal, None)
    faulty = sub.add_parser("faulty", help="the faulty MNIST model repaired by replacing its module 5")
    faulty.add_argument("--modules", default="stored", choices=MODULE_SOURCES,
                        help="where the sound MNIST-4 CM-RIE module 5 comes from")
    _data_arguments(faulty)


def _fetch_models_arguments(sub):
    fetch = sub.add_parser("fetch-models", help="download the authors' Keras files from their repository, verify "
                                                "their sha256 and convert them to .npz")
    fetch.add_argument("names", nargs="*", metavar="NAME",
                       help="e.g. mnist-4, faulty5-mnist, modules/CM-RIE/mnist-1 (a folder), "
                            "modules/TI-SNE/fmnist-2/module0; none: all 297 files")
    fetch.add_argument("--data-dir", default=None,
                       help="files go to DATA_DIR/official-models (default: $NNLITE_DATA or ~/.cache/nnlite)")
    fetch.add_argument("--base-url", type=_base_url, default=None,
                       help="replaces the repository's raw-file URL at the pinned commit (default: "
                            "$NNLITE_OFFICIAL_MODELS_URL)")
    fetch.add_argument("--keep-h5", action="store_true", help="keep the verified .h5 files under official-models/h5")
    fetch.add_argument("--list", action="store_true",
                       help="print NAME, bytes and repository path of each file, download nothing")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")


def _fetch_models(args):
    from .. import official_models

    try:
        models = official_models.select_models(args.names or None)
    except (TypeError, ValueError) as err:
        print(f"python -m decomposition fetch-models: error: {err}", file=sys.stderr)
        return 2
    if args.list:
        for model in models:
            print(f"{model.name}\t{model.size}\t{model.path}", flush=True)
        print(f"{len(models)} files, {sum(m.size for m in models):,} bytes to download", file=sys.stderr)
        return 0
    try:
        paths = official_models.fetch_models([m.name for m in models], args.data_dir, base_url=args.base_url,
                                             progress=not args.quiet, keep_h5=args.keep_h5)
    except (ValueError, ConnectionError, OSError) as err:
        print(f"python -m decomposition fetch-models: error: {err}", file=sys.stderr)
        return 1
    print(f"{len(paths)} models ready in {official_models.cache_dir(args.data_dir)}", flush=True)
    return 0


def _hidden_layers(text):
    """--hidden-layers: an int in [1, MAX_HIDDEN_LAYERS] (more would only exhaust memory and time)."""
    value = positive_int(text)
    if value > MAX_HIDDEN_LAYERS:
        raise ArgumentTypeError(f"expected at most {MAX_HIDDEN_LAYERS} hidden layers, found {text!r}")
    return value


def _base_url(text):
    """--base-url: an http://, https:// or file:// URL (a user error is refused before any download)."""
    from ..official_models import _check_base_url

    try:
        return _check_base_url(text)
    except ValueError as err:
        raise ArgumentTypeError(str(err).removeprefix("base_url: ")) from None


def _case_selection(*words):
    """An argparse type: one of ``words`` or a positive number of cases."""
    def parse(text):
        if text in words or (text.isdigit() and int(text) > 0):
            return text
        raise ArgumentTypeError(f"expected {' or '.join(map(repr, words))} or a positive number, "
                                         f"found {text!r}")
    return parse


def _replicate_arguments(parser, protocols):
    _data_arguments(parser)
    add_grid_options(parser)
    parser.add_argument("--records", default=None,
                        help="append each row to this JSON-lines file and skip rows already in it (resume)")
    if protocols:
        parser.add_argument("--protocol", default="held-out", choices=protocols,
                            help="KMNIST (no training images here): 'held-out' trains on the first 5,000 test "
                                 "images and scores on the other 5,000; 'authors' uses all 10,000 for both")


def _demo(args):
    from .demo import demo_rows, format_demo_table

    rows = []
    for row in demo_rows(n_hidden_layers=args.hidden_layers, epochs=args.epochs, seed=args.seed):
        rows.append(row)
        if args.format == "json":
            print(json.dumps(row), flush=True)
    if args.format == "table":
        print(format_demo_table(rows), flush=True)
    return 0


def _context(args):
    """What every task of a command needs besides its parameters: where data and models are, the modules' rng."""
    return {"data_dir": args.data_dir, "models_dir": args.models_dir, "module_seed": args.seed or 0}


def _reuse(args):
    from .reuse import class_pairs, inter_pairs, reuse_task

    common = {"epochs": args.epochs, "rule": args.rule, "modules": args.modules}
    if args.inter:
        jobs = [(_group(args, "inter-reuse", "+".join(args.inter), args.inter, rule=args.rule), {"pairs": args.pairs},
                 lambda seed: inter_pairs(args.pairs),
                 {"experiment": "inter-reuse", "datasets": list(args.inter), **common,
                  **_protocol(args, args.inter)})]
    else:
        jobs = [(_group(args, "intra-reuse", ds, [ds], rule=args.rule), {"pairs": args.pairs},
                 lambda seed: class_pairs(args.pairs),
                 {"experiment": "intra-reuse", "datasets": [ds], **common, **_protocol(args, [ds])})
                for ds in args.dataset]
    _run_replicates(args, jobs, functools.partial(reuse_task, **_context(args)))
    return 0


def _protocol(args, datasets):
    """``{"protocol": ...}`` where KMNIST is involved (the other data sets have one split), else {}."""
    return {"protocol": args.protocol} if "kmnist" in datasets else {}


def _replace(args):
    from .replacement import PAPER_REPLACEMENT, replacement_task, summarize_replacement

    if args.inter:
        return _replace_inter(args)
    params = [{"experiment": "replacement", "dataset": ds, "modules": args.modules} for ds in args.dataset]
    rows = []
    for result, _ in run_tasks(functools.partial(replacement_task, **_context(args)), params, args):
        for row in map(in_row_order, result):
            print(json.dumps(row), flush=True)
            rows.append(row)
    print(json.dumps({"summary": "replacement", "datasets": args.dataset, "modules": args.modules,
                      **summarize_replacement(rows),
                      **{f"paper_{k}": v for k, v in PAPER_REPLACEMENT.items()}}), flush=True)
    return 0


def _replace_inter(args):
    from .replacement import replacement_cases, replacement_task

    context = _context(args)
    base = {"datasets": list(args.inter), "modules": args.modules, **_protocol(args, args.inter)}
    if args.ma_only:                          # no seed: MA does not depend on one
        group = _group(args, "inter-replacement-ma", "+".join(args.inter), args.inter, cases=args.cases)
        args.seed, args.seeds, group["epochs"] = None, 1, None
        jobs = [(group, None, lambda seed: replacement_cases(args.cases),
                 {"experiment": "inter-replacement-ma", **base})]
    else:
        group = _group(args, "inter-replacement", "+".join(args.inter), args.inter, cases=args.cases)
        jobs = [(group, None, lambda seed: replacement_cases(args.cases, seed),
                 {"experiment": "inter-replacement", "epochs": args.epochs, **base})]
    _run_replicates(args, jobs, functools.partial(replacement_task, **context))
    return 0


def _duodecimal(args):
    from .duodecimal import duodecimal_task

    jobs = [(_group(args, "duodecimal", "mnist+emnist", []), None, lambda seed: [(None, None)],
             {"experiment": "duodecimal", "epochs": args.epochs, "modules": args.modules})]
    _run_replicates(args, jobs, functools.partial(duodecimal_task, **_context(args)))
    return 0


def _group(args, experiment, dataset, datasets, **fields):
    """The fields that identify a run's rows in a records file (replicates.GROUP_FIELDS)."""
    group = {"experiment": experiment, "dataset": dataset, "epochs": args.epochs, **fields, "modules": args.modules}
    if "kmnist" in datasets:
        group["protocol"] = args.protocol
    return group


def _run_replicates(args, jobs, task):
    """Rows of seeds ``args.seed`` .. + ``args.seeds`` - 1 of each job, one grid for all; then each job's summary.

    ``jobs``: (group, extra, cases, base) per summary. ``cases(seed)`` lists the
    cases (class_a, class_b) of one seed ((None, None): one row per seed); a
    task's parameters are ``base`` with the case and the seed. Each row gets the
    ``group`` fields (which a resumed run matches in ``args.records``) and the
    ``extra`` ones (which it need not match, e.g. ``pairs``). Rows already in
    ``args.records`` are printed, not computed; new rows are printed and
    appended to ``args.records``; the summary follows as a JSON line, and in
    words on stderr.
    """
    from .replicates import append_record, describe_summary, read_records, replicate_summaries

    seeds = [None] if args.seed is None else range(args.seed, args.seed + n_seeds(args))
    recorded = read_records(args.records, repair=True) if args.records else []
    plans, params = [], []
    for group, extra, cases, base in jobs:
        old = [r for r in recorded if all(r.get(k) == v for k, v in group.items()) and r.get("seed") in seeds]
        done = {(r.get("seed"), r.get("class_a"), r.get("class_b")) for r in old}
        todo = [(seed, a, b) for seed in seeds for a, b in cases(seed) if (seed, a, b) not in done]
        plans.append((group, extra, old, len(todo)))
        for seed, a, b in todo:
            params.append({**base, **({} if a is None else {"class_a": a, "class_b": b}),
                           **({} if seed is None else {"seed": seed})})
    results = iter(run_tasks(task, params, args))
    for group, extra, old, n_new in plans:
        rows = list(old)
        for row in old:
            print(json.dumps(row), flush=True)
        for _ in range(n_new):
            row = in_row_order(next(results)[0])
            row.update(group, **(extra or {}))
            print(json.dumps(row), flush=True)
            if args.records:
                append_record(args.records, row)
            rows.append(row)
        (summary,) = replicate_summaries(rows)
        print(json.dumps(summary), flush=True)
        print(describe_summary(summary), file=sys.stderr, flush=True)


def _faulty(args):
    from .data import cm_rie_modules, dataset_arrays, official_model
    from .replacement import faulty_model_report

    arrays = dataset_arrays("mnist", args.data_dir)
    sound = cm_rie_modules("mnist-4", args.modules, arrays, args.models_dir, rng=args.seed)[5]
    faulty = official_model("faulty5-mnist", models_dir=args.models_dir)
    report = faulty_model_report(faulty, sound, *arrays[:4], rng=args.seed)
    print(json.dumps({**report, "sound_module": f"MNIST-4 CM-RIE module 5 ({args.modules})"}), flush=True)
    return 0


def _table1(args):
    from .table1 import check_table1_options, plot_table1, table1_markdown, table1_task, train_task, with_seconds

    models = _models(args.models)
    models, approaches, propagations, fidelities = check_table1_options(models, args.approaches, args.propagation,
                                                                        args.fidelity)
    nnlite = models[0] in NNLITE_MODELS
    protocol = args.protocol or ("held-out" if nnlite else "authors")
    seeds = range(args.seed, args.seed + n_seeds(args))
    extra = {"epochs": args.epochs} if nnlite else {}
    if nnlite:                                    # train (or find in --cache-dir) each model once, as tasks too
        run_tasks(functools.partial(train_task, data_dir=args.data_dir, cache_dir=args.cache_dir),
                  [{"model": m, "protocol": protocol, "seed": s, **extra} for s in seeds for m in models], args,
                  subfolder="models")
    params = [{"model": m, "approach": a, "propagation": p, "fidelity": f, "seed": s, "protocol": protocol, **extra}
              for s in seeds for m in models for a in approaches for p in propagations for f in fidelities]
    task = functools.partial(table1_task, data_dir=args.data_dir, models_dir=args.models_dir,
                             cache_dir=args.cache_dir if nnlite else None)
    rows = []
    for result, seconds in run_tasks(task, params, args):
        row = in_row_order(with_seconds(result, seconds))
        rows.append(row)
        if args.format in ("json", "markdown"):
            print(json.dumps(row), flush=True)
        elif args.format == "table":
            print(f"{row['model']:9s} {row['approach']:7s} {row['propagation']:6s} {row['fidelity']:8s} "
                  f"model {row['model_accuracy']:6.2f} composed {row['composed_accuracy']:6.2f} "
                  f"(paper {row['paper_composed_accuracy']}) JI {row['ji_official']:.4f} "
                  f"(paper {row['paper_ji']}) mask JI {row['ji_mask']:.4f}", flush=True)
    if args.format == "markdown":
        print(table1_markdown(rows), file=sys.stderr, flush=True)
    if args.plot:
        plot_table1(rows, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
