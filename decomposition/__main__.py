"""Command line: ``python -m decomposition table1 ...`` (see ``decomposition.experiments``).

Example::

    python -m decomposition table1 --models official --propagation linear relu --format json

prints one JSON object per line, one per (model, approach, propagation,
fidelity); progress goes to stderr.
"""
import argparse
import json
import sys

from .approaches import APPROACHES
from .experiments import OFFICIAL_MODELS, plot_table1, table1_rows
from .fidelity import FIDELITY


def _models(names):
    if names == ["official"]:
        return OFFICIAL_MODELS
    unknown = [n for n in names if n not in OFFICIAL_MODELS]
    if unknown:
        raise SystemExit(f"--models: expected 'official' or names from {OFFICIAL_MODELS}, found {unknown}")
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m decomposition", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t1 = sub.add_parser("table1", help="recompute Table 1 (composed accuracy and JI per approach)")
    t1.add_argument("--models", nargs="+", default=["official"],
                    help="'official' (the authors' 16 models) or names like mnist-4")
    t1.add_argument("--propagation", nargs="+", default=["linear", "relu"], choices=["linear", "relu"])
    t1.add_argument("--fidelity", nargs="+", default=["official"], choices=sorted(FIDELITY))
    t1.add_argument("--approaches", nargs="+", default=list(APPROACHES), choices=APPROACHES)
    t1.add_argument("--format", default="json", choices=["json", "table"])
    t1.add_argument("--plot", default=None, help="write a matplotlib figure to this path")
    t1.add_argument("--data-dir", default=None, help="datasets folder (default: $NNLITE_DATA)")
    t1.add_argument("--models-dir", default=None,
                    help="the authors' models (default: $NNLITE_OFFICIAL_MODELS or ../shared/official-models)")
    t1.add_argument("--seed", type=int, default=0, help="seed of the negatives' order")
    args = parser.parse_args(argv)

    rows = []
    for row in table1_rows(_models(args.models), args.approaches, args.propagation, args.fidelity,
                           args.data_dir, args.models_dir, progress=True, rng=args.seed):
        rows.append(row)
        if args.format == "json":
            print(json.dumps(row), flush=True)
        else:
            print(f"{row['model']:9s} {row['approach']:7s} {row['propagation']:6s} {row['fidelity']:8s} "
                  f"model {row['model_accuracy']:6.2f} composed {row['composed_accuracy']:6.2f} "
                  f"(paper {row['paper_composed_accuracy']}) JI {row['ji_official']:.4f} "
                  f"(paper {row['paper_ji']}) mask JI {row['ji_mask']:.4f}", flush=True)
    if args.plot:
        plot_table1(rows, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
