"""Where the tests find the real data sets and the authors' models, and why they skip without them.

Two requirements, named like the pytest marker and the notebook declaration
(``# requires: shared_data official_models``):

- ``shared_data``: the real data sets (MNIST, Fashion-MNIST, KMNIST, EMNIST
  letters, CIFAR-10 subsets) in the layout of the project's shared data folder,
  found through ``NNLITE_DATA`` or at ``../shared/data`` beside the repository.
- ``official_models``: the decomposition authors' models converted to ``.npz``,
  found through ``NNLITE_OFFICIAL_MODELS`` or at ``../shared/official-models``.

A test never downloads them: :func:`locate` only looks, and :func:`missing`
returns the skip reason, naming what is missing and how to provide it.
"""
import os
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


class Requirement(NamedTuple):
    env: str        # environment variable naming the folder
    default: Path   # the folder beside the repository
    what: str       # what the folder holds, for the skip reason
    marker: str     # an entry the folder must hold (an empty or foreign folder does not count)


REQUIREMENTS = {
    "shared_data": Requirement("NNLITE_DATA", SHARED / "data", "the real datasets", "mnist"),
    "official_models": Requirement("NNLITE_OFFICIAL_MODELS", SHARED / "official-models",
                                   "the decomposition authors' converted models", "mnist-4.npz"),
}


def locate(name):
    """The folder for requirement ``name``: ``$<env>`` if set and non-empty, else the default."""
    requirement = REQUIREMENTS[name]
    return Path(os.environ.get(requirement.env) or requirement.default).expanduser()


def missing(name):
    """None if requirement ``name`` is met, else the skip reason (what is missing, how to provide it)."""
    requirement, path = REQUIREMENTS[name], locate(name)
    if (path / requirement.marker).exists():
        return None
    if os.environ.get(requirement.env):
        found = f"{requirement.env}={path} " + ("has no " + requirement.marker if path.is_dir() else "does not exist")
    else:
        found = f"{requirement.env} is unset and {path} does not exist"
    how = (f"set {requirement.env} to a copy of the project's shared/{requirement.default.name} folder, "
           f"or place that folder at {requirement.default}")
    if name == "official_models":
        how += ("; or run `python -m decomposition fetch-models` and set NNLITE_OFFICIAL_MODELS to the folder "
                "it prints")
    return f"needs {requirement.what} ({name}): {found}; {how}"
