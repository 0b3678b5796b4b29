"""``python -m decomposition <command>``: the package's one entry point (``decomposition.experiments.cli``)."""
import sys

from .experiments.cli import main

if __name__ == "__main__":
    sys.exit(main())
