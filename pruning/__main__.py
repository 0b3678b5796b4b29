"""Experiment commands: ``python -m pruning <method> [options]``.

Each entry of ``SUBCOMMANDS`` names a module that exposes

- ``add_arguments(parser)``: add the method's options to an argparse parser;
- ``main(args)``: run the experiment, print a JSON result, return 0.

A module is imported only when its subcommand runs, so one method's
dependencies never slow down or break another's. To add a method, add a line
here (e.g. ``"wann": "pruning.experiments.wann"``) and give the module those two
functions. ``python -m pruning <method> --help`` lists its options.
"""
import importlib
import sys

from nnlite import cli

SUBCOMMANDS = {
    "obd": ("pruning.experiments.obd", "Optimal Brain Damage vs magnitude and random deletion on MNIST"),
    "lottery": ("pruning.experiments.lottery",
                "Lottery tickets: iterative magnitude pruning of LeNet-300-100 on MNIST"),
    "wann": ("pruning.experiments.wann", "Weight Agnostic Neural Networks: topology search with one shared weight"),
    "dsr": ("pruning.experiments.dsr", "Dynamic sparse training (DSR, SET, static, GMP) of a small CNN"),
}


def build_parser(argv):
    """The top-level parser; only the chosen subcommand's module is imported."""
    parser = cli.ArgumentParser(prog="python -m pruning", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(SUBCOMMANDS) + "}")
    chosen = next((a for a in argv if a in SUBCOMMANDS), None)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module_name).add_arguments(sub_parser)
    return parser


def main(argv=None):
    """Run one subcommand; a user error prints one line to stderr and exits with status 2."""
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = next((a for a in argv if a in SUBCOMMANDS), None)
    hint = "run the same command again to resume" + (" with --resume" if chosen == "wann" else "")
    return cli.command(f"python -m pruning {chosen}" if chosen else "python -m pruning", hint)(_run)(argv)


def _run(argv):
    args = build_parser(argv).parse_args(argv)
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    return module.main(args)


if __name__ == "__main__":
    sys.exit(main())
