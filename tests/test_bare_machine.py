"""The test suite itself on a bare machine: no download, skip reasons that say what to do,
notebooks that declare what they need (tests/conftest.py, tests/realdata.py, tests/test_notebooks.py)."""
from pathlib import Path

import pytest

from nnlite import data
from tests import realdata

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_a_download_from_a_test_is_refused_at_once_and_leaves_nothing(tmp_path):
    with pytest.raises(ConnectionError, match="may not use the network"):
        data.fetch("mnist/t10k-labels-idx1-ubyte.gz", tmp_path, progress=False)   # the manifest's public URL
    assert [p.name for p in tmp_path.rglob("*")] == ["mnist"]   # the folder only, no partial file


@pytest.mark.parametrize("name, env", [("shared_data", "NNLITE_DATA"), ("official_models", "NNLITE_OFFICIAL_MODELS")])
def test_skip_reason_names_what_is_missing_and_how_to_provide_it(name, env, tmp_path, monkeypatch):
    monkeypatch.setenv(env, str(tmp_path / "absent"))
    reason = realdata.missing(name)
    assert reason.startswith(f"needs {realdata.REQUIREMENTS[name].what} ({name}): {env}={tmp_path / 'absent'} "
                             "does not exist; set " + env)
    assert f"../shared/{realdata.REQUIREMENTS[name].default.name}" not in reason   # an absolute path instead
    assert str(realdata.REQUIREMENTS[name].default) in reason
    monkeypatch.setenv(env, str(tmp_path))
    assert "has no " + realdata.REQUIREMENTS[name].marker in realdata.missing(name)
    (tmp_path / realdata.REQUIREMENTS[name].marker).mkdir()
    assert realdata.missing(name) is None and realdata.locate(name) == tmp_path
    monkeypatch.setenv(env, "")   # empty means unset, not the current folder
    assert realdata.locate(name) == realdata.REQUIREMENTS[name].default


def test_notebooks_declare_the_data_they_need():
    from tests.test_notebooks import declared_requirements
    pytest.importorskip("jupytext")
    assert declared_requirements(NOTEBOOKS / "01_decomposing_a_network.py") == ["shared_data", "official_models"]
    assert declared_requirements(NOTEBOOKS / "02_were_activations_applied.py") == ["shared_data", "official_models"]
    assert declared_requirements(NOTEBOOKS / "05_dynamic_sparse_training.py") == ["shared_data"]
    # quick mode on the 8x8 digits shipped with scikit-learn: they run on a bare machine
    assert declared_requirements(NOTEBOOKS / "06_weight_agnostic_networks.py") == []
    assert declared_requirements(NOTEBOOKS / "07_one_model_three_ways.py") == []


def test_an_unknown_notebook_requirement_is_refused(tmp_path):
    from tests.test_notebooks import declared_requirements
    pytest.importorskip("jupytext")
    source = tmp_path / "nb.py"
    source.write_text("# ---\n# jupyter:\n#   nnlite:\n#     requires:\n#     - shared-data\n# ---\n\n# %%\n1\n")
    with pytest.raises(ValueError, match="nnlite.requires: expected distinct names from .*found \\['shared-data'\\]"):
        declared_requirements(source)


def test_tests_taking_a_real_data_fixture_are_marked_shared_data(request, shared_data_dir):
    assert request.node.get_closest_marker("shared_data") is not None
