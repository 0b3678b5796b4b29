"""Every notebook source (jupytext percent format, notebooks/*.py) runs headless
through a Jupyter kernel in quick mode (NNLITE_QUICK=1); its cells assert the
claims its prose makes.

A notebook that needs data not shipped with the install declares it in its
jupytext header, under the notebook metadata key ``nnlite``::

    #   nnlite:
    #     requires:
    #     - shared_data
    #     - official_models

(requirement names as in ``tests/realdata.py``). It runs when every
requirement is found, on exactly those folders, and is skipped otherwise with
the reason naming what is missing and how to provide it. A notebook declaring
nothing must run on a bare clone (no ../shared, no data variables, no network).
"""
import os
from pathlib import Path

import pytest

from tests.realdata import REQUIREMENTS, locate, missing

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.py"))

# The kernel runs offline: its HTTP(S) proxy is a closed port on the loopback interface, so a
# loader that would download fails at once (the test then fails: a requirement is undeclared).
_OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
            "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def load_book_build():
    """docs/build.py as a module (its ``execute`` runs a notebook the way the book does)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("nnlite_book_build", REPO / "docs" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def declared_requirements(source):
    """The requirement names listed under ``nnlite: requires:`` in the notebook's jupytext header."""
    import jupytext
    requires = jupytext.read(source).metadata.get("nnlite", {}).get("requires", [])
    unknown = sorted(set(requires) - set(REQUIREMENTS))
    if unknown or len(set(requires)) != len(requires):
        raise ValueError(f"{source.name}: nnlite.requires: expected distinct names from {sorted(REQUIREMENTS)}, "
                         f"found {requires}")
    return requires


def _param(source):
    """The notebook as a test case, marked ``shared_data`` when it declares a requirement."""
    try:
        requires = declared_requirements(source)
    except ImportError:   # no jupytext: the test skips anyway
        requires = []
    return pytest.param(source, marks=[pytest.mark.notebook] + [pytest.mark.shared_data] * bool(requires),
                        id=source.stem)


@pytest.mark.parametrize("source", [_param(p) for p in NOTEBOOKS])
def test_notebook_runs_in_quick_mode(source, monkeypatch, tmp_path_factory):
    jupytext = pytest.importorskip("jupytext")
    pytest.importorskip("nbclient")
    requires = declared_requirements(source)
    reasons = [reason for reason in map(missing, requires) if reason is not None]
    if reasons:
        pytest.skip(f"notebook {source.stem} " + "; ".join(reasons))
    for name in requires:   # the notebook reads exactly the folders the check found
        monkeypatch.setenv(REQUIREMENTS[name].env, str(locate(name)))
    for variable, value in {**_OFFLINE, "NNLITE_QUICK": "1", "MPLBACKEND": "Agg"}.items():
        monkeypatch.setenv(variable, value)
    # The run is docs/build.py's, cached for the session under pytest's base temporary folder: the
    # book's build in tests/test_book.py shares it, so a notebook runs once per session.
    book = load_book_build()
    book.execute(source, jupytext.read(source), requires, quick=True,
                 cache=tmp_path_factory.getbasetemp() / "executed-notebooks", code_digest=book.code_hash())

