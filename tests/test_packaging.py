"""A non-editable install (`pip install .`, a wheel) holds every package and data file of the project.

pyproject.toml once listed its packages by hand and left out ``nnlite.data`` and
``pruning.experiments``: the editable install of the README worked, a wheel did not
(``python -m decomposition demo`` failed with an ImportError).
"""
import fnmatch
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")   # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
ROOTS = ("nnlite", "decomposition", "pruning")


def setuptools_config():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def package_dirs():
    """Dotted names of every folder of the three packages that holds an ``__init__.py``."""
    return {".".join(init.parent.relative_to(ROOT).parts)
            for root in ROOTS for init in (ROOT / root).rglob("__init__.py")}


def test_every_package_of_the_project_is_found_for_the_wheel():
    packages = setuptools_config()["packages"]
    if isinstance(packages, list):   # listed by hand
        found = set(packages)
    else:   # found: setuptools' find keeps the folders with an __init__.py whose names match an include pattern
        found = {name for name in package_dirs() if any(fnmatch.fnmatchcase(name, pattern)
                                                         for pattern in packages["find"]["include"])}
    assert found == package_dirs(), (f"a wheel would leave out {sorted(package_dirs() - found)} "
                                     f"and hold {sorted(found - package_dirs())} besides")


def test_every_data_file_in_the_packages_is_package_data():
    patterns = setuptools_config()["package-data"]
    data_files = [path for root in ROOTS for path in (ROOT / root).rglob("*")
                  if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts]
    assert data_files, "expected the manifests under nnlite/manifest"
    missing = [str(path.relative_to(ROOT)) for path in data_files
               if not any(fnmatch.fnmatch(str(path.relative_to(ROOT / package.replace(".", "/"))), pattern)
                          for package, package_patterns in patterns.items()
                          if path.is_relative_to(ROOT / package.replace(".", "/"))
                          for pattern in package_patterns)]
    assert not missing, f"files a wheel would leave out: {missing}; add them to [tool.setuptools.package-data]"
