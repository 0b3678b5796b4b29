"""The docs' tables are what their committed records give (``python docs/tables.py --check``)."""
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tables():
    spec = importlib.util.spec_from_file_location("docs_tables_command", REPO / "docs" / "tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_docs_table_is_what_its_records_give(tables, capsys):
    status = tables.main(["--check"])
    assert status == 0, capsys.readouterr().err


@pytest.mark.parametrize("page", ["decomposition.md"])
def test_every_registered_table_is_marked_once_in_its_page(tables, page):
    text = (REPO / "docs" / page).read_text()
    marked = [m["name"] for m in tables.MARKER.finditer(text)]
    assert sorted(marked) == sorted(tables.registry(page)) and len(set(marked)) == len(marked)


def test_a_changed_cell_is_found_and_rebuilt(tables):
    page = (REPO / "docs" / "decomposition.md").read_text()
    registry = tables.registry("decomposition.md")
    _, differing, unknown, unmarked = tables.rebuild(page, registry)
    assert differing == unknown == unmarked == []
    tampered = page.replace("| MNIST | correct | 40.6 ± 2.4 (n=5) of 45", "| MNIST | correct | 38 of 45", 1)
    assert tampered != page
    rebuilt, differing, _, _ = tables.rebuild(tampered, registry)
    assert differing == ["reuse_intra"] and rebuilt == page


def test_an_unknown_marked_table_is_reported(tables):
    text = "<!-- table: no_such_table -->\n| a |\n<!-- end table -->\n"
    assert tables.rebuild(text, {})[2] == ["no_such_table"]
