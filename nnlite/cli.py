"""What the command lines share: option types, one-line errors, safe files.

- Option types for argparse ``type=`` (``positive_int``, ``non_negative_int``,
  ``positive_float``, ``fraction``, ...): a bad value is refused by argparse
  with the option's name.
- ``ArgumentParser``: a usage error is one line, ``prog: error: message``,
  exit status 2 (argparse's own prints the usage first).
- ``command(prog)``: a decorator for a command's ``main(argv)``. A
  ``ValueError``/``TypeError`` raised by the library from a bad option value
  becomes that one line with status 2 (``NNLITE_TRACEBACK=1`` shows the
  traceback instead); SIGTERM and Ctrl-C stop the command cleanly (temporary
  files removed) with one line saying how to resume.
- ``atomic_write``, ``temp_path``, ``remove_stale_temp_files``: re-exported
  from ``nnlite.experiment`` (temporary files ``.<name>.<pid>.nnlite-tmp``).
"""
import argparse
import contextlib
import functools
import math
import os
import signal
import sys
from pathlib import Path

# The one atomic write lives in the engine's experiment module; the commands use it from here too.
from .experiment import TEMP_SUFFIX, atomic_write, remove_stale_temp_files, temp_path, write_text_atomic  # noqa: F401

# -- option types ---------------------------------------------------------------


def _number(text, kind):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                         f"found {text!r}") from None


def positive_int(text):
    """An int >= 1."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {text!r}")
    return value


def non_negative_int(text):
    """An int >= 0."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, found {text!r}")
    return value


def positive_float(text):
    """A finite float > 0."""
    value = _number(text, float)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, found {text!r}")
    return value


def fraction(text):
    """A float strictly between 0 and 1."""
    value = _number(text, float)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), found {text!r}")
    return value


def probability(text):
    """A float in [0, 1]."""
    value = _number(text, float)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1], found {text!r}")
    return value


def sparsity(text):
    """A fraction of zero weights in [0, 1)."""
    value = _number(text, float)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a sparsity in [0, 1), found {text!r}")
    return value


def count_or_fraction(text):
    """A positive count (an int >= 1) or a fraction in (0, 1)."""
    value = _number(text, float)
    if not (math.isfinite(value) and value > 0 and (value < 1 or value == int(value))):
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1) or a whole count >= 1, found {text!r}")
    return value


def resolve_defaults(args, defaults, quick=None):
    """Fill the options left unset (None) from ``quick`` when ``args.quick``, else from ``defaults``.

    An option the user passed always wins over ``--quick``.
    """
    for name, value in defaults.items():
        if getattr(args, name, None) is None:
            setattr(args, name, quick[name] if (quick and getattr(args, "quick", False) and name in quick)
                    else value)
    return args


@contextlib.contextmanager
def option_names(names):
    """Inside it, a ValueError/TypeError whose message starts with a library argument in ``names``
    (e.g. ``"n_iterations: ..."``) is raised again starting with the option, ``"--iterations: ..."``."""
    try:
        yield
    except (ValueError, TypeError) as error:
        argument, sep, rest = str(error).partition(":")
        if sep and argument in names:
            raise type(error)(f"{names[argument]}{sep}{rest}") from error
        raise


# -- one-line errors --------------------------------------------------------------

class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error: ``prog: error: message (see prog --help)``, status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class Stopped(BaseException):
    """Raised in the main thread by SIGTERM, so ``finally`` blocks run and temporary files go."""


def _raise_stopped(signum, frame):
    raise Stopped(signal.Signals(signum).name)


def command(prog, stop_hint="run the same command again to resume"):
    """Decorate ``main(argv) -> int``: user errors become one line on stderr and exit status 2.

    SIGTERM (status 143) and Ctrl-C (130) print ``prog: stopped: ...; <stop_hint>``.
    Set ``NNLITE_TRACEBACK=1`` to see the traceback of an error instead.
    """
    def decorate(main):
        @functools.wraps(main)
        def wrapper(*args, **kwargs):
            previous = signal.signal(signal.SIGTERM, _raise_stopped)
            try:
                return main(*args, **kwargs)
            except (ValueError, TypeError, FileNotFoundError, NotADirectoryError, IsADirectoryError) as error:
                _fail(prog, _first_line(error), 2, error)
            except (ArithmeticError, OSError) as error:  # training diverged, a download failed: one line, status 1
                _fail(prog, _first_line(error), 1, error)
            except SystemExit as stop:
                if isinstance(stop.code, str):  # raise SystemExit("message"): a user error as well
                    _fail(prog, stop.code.splitlines()[0], 2)
                raise
            except (Stopped, KeyboardInterrupt) as stop:
                name = str(stop) or "interrupt"
                _fail(prog, f"stopped by {name}" + (f"; {stop_hint}" if stop_hint else ""),
                      143 if str(stop) else 130, kind="stopped")
            finally:
                signal.signal(signal.SIGTERM, previous)
        return wrapper
    return decorate


def _first_line(error):
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _fail(prog, message, status, error=None, kind="error"):
    if error is not None and os.environ.get("NNLITE_TRACEBACK"):  # debugging: the traceback instead
        raise error
    print(f"{prog}: {kind}: {message}", file=sys.stderr, flush=True)
    raise SystemExit(status)


# -- files that are never half-written ---------------------------------------------

def save_figure(fig, path, **savefig_kwargs):
    """``fig.savefig`` through ``atomic_write`` (the format from the file's extension)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    atomic_write(path, lambda f: fig.savefig(f, format=fmt, **savefig_kwargs))


# -- grid options (nnlite.experiment.run_grid) ----------------------------------------

def add_grid_arguments(parser, seeds=True, jobs=True):
    """``--backend``, ``--scheduler``, ``--jobs`` and ``--seeds N``: how a command's grid of tasks runs
    (``seeds=False``, ``jobs=False``: the command has its own option)."""
    from .experiment import BACKENDS
    parser.add_argument("--backend", choices=BACKENDS, default="sequential",
                        help="sequential (default), loky (local processes, one BLAS/numba thread each) or dask "
                             '(a Dask cluster; pip install -e ".[cluster]"); the records are the same bits')
    parser.add_argument("--scheduler", default=None,
                        help="--backend dask: the scheduler address (e.g. tcp://10.0.0.5:8786); "
                             "default a LocalCluster of --jobs workers on 127.0.0.1")
    if jobs:
        parser.add_argument("--jobs", type=positive_int, default=os.cpu_count() or 1,
                            help="loky workers, or LocalCluster workers (default: the CPU count)")
    if seeds:
        parser.add_argument("--seeds", type=positive_int, default=None, help="number of replicates (seeds)")


def grid_options(args):
    """The ``run_grid`` keywords of the grid options; ``--scheduler`` without ``--backend dask`` is refused."""
    if args.scheduler is not None and args.backend != "dask":
        raise ValueError(f"--scheduler: expected only with --backend dask, found --backend {args.backend}; "
                         "add --backend dask or drop --scheduler")
    return {"backend": args.backend, "scheduler": args.scheduler, "n_jobs": args.jobs}
