"""The docs' tables are what their committed records give (``python docs/tables.py --check``)."""
import importlib.util
import json
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


@pytest.mark.parametrize("page", ["decomposition.md", "pruning.md"])
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


def test_a_new_empty_marker_is_filled_without_touching_the_next_table(tables):
    text = "<!-- table: a -->\n<!-- end table -->\n\n<!-- table: b -->\n| old |\n<!-- end table -->\n"
    new, differing, unknown, unmarked = tables.rebuild(text, {"a": lambda r: "| a |", "b": lambda r: "| old |"})
    assert new == text.replace("<!-- table: a -->\n", "<!-- table: a -->\n| a |\n") and differing == ["a"]
    assert unknown == unmarked == []


def test_no_arguments_cover_both_pages(tables):
    assert sorted(tables.PAGES) == ["decomposition.md", "pruning.md"]


@pytest.mark.parametrize("name, cell, tampered", [
    ("obd_iterative", "| 98% | 28.30 ± 8.51 (n=5)", "| 98% | 29.00 ± 8.51 (n=5)"),
    ("lottery_quick", "| 21.1 | 3 | 94.70 ± 0.07", "| 21.1 | 3 | 95.70 ± 0.07"),
    ("lottery_full", "| 21.1 | 2 | 98.30 ± 0.76", "| 21.1 | 2 | 98.40 ± 0.76"),
    ("wann_defaults", "| `paper` | 55.4 ± 25.4 (n=3)", "| `paper` | 55.4% +- 25.4"),
    ("wann_target", "**79.52%**", "**78.52%**"),
    ("dsr_seed_study_paper", "0.4436 ± 0.0398 | +4.26 ± 6.03", "0.4436 ± 0.0398 | +4.26"),
])
def test_a_changed_pruning_cell_is_found_and_rebuilt(tables, name, cell, tampered):
    page = (REPO / "docs" / "pruning.md").read_text()
    assert page.count(cell) == 1
    rebuilt, differing, _, _ = tables.rebuild(page.replace(cell, tampered), tables.registry("pruning.md"))
    assert differing == [name] and rebuilt == page


def _write_lines(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_dsr_seed_table_pairs_a_later_summary_with_the_dense_runs_of_an_earlier_one(tmp_path):
    from pruning.experiments.docs_tables import dsr_seed_table
    dense = {"method": "dense", "sparsity": 0.0, "accuracies": [0.5, 0.6, 0.7]}
    _write_lines(tmp_path / "dsr_seed_study.jsonl", [
        {"out": "a", "seeds": [0, 1, 2], "rows": [dense]},
        {"out": "b", "seeds": [0, 1, 2], "rows": [{"method": "dsr", "sparsity": 0.5, "accuracies": [0.4, 0.5, 0.6]}]}])
    table = dsr_seed_table("a", "b")(tmp_path)
    assert "| dsr | 50% | 3 | 0.4000, 0.5000, 0.6000 | 0.5000 ± 0.2484 | -10.00 ± 0.00 |" in table
    assert "| dense | 0% | 3 |" in table and len(table.splitlines()) == 4


def test_wann_defaults_table_prints_mean_half_width_and_n_per_preset(tmp_path):
    from scipy import stats
    from pruning.experiments.docs_tables import WANN_PRESETS, wann_defaults_table
    rows = [{"defaults": d, "seed": s, "ensemble_vote_accuracy": 0.5 + 0.1 * s, "random_shared_weight_mean": 0.4,
             "tuned_accuracy": 0.6, "n_connections": 100 + 10 * s} for d in WANN_PRESETS for s in (2, 0, 1)]
    _write_lines(tmp_path / "wann_defaults_digits8.jsonl", rows)
    half = 100 * stats.t.ppf(0.975, 2) * 0.1 / 3 ** 0.5
    lines = wann_defaults_table(tmp_path).splitlines()
    assert len(lines) == 2 + len(WANN_PRESETS)
    assert lines[2].startswith(f"| `paper` | 60.0 ± {half:.1f} (n=3) (50.0, 60.0, 70.0) | 40.0 ± 0.0 (n=3) |")
    assert lines[2].endswith(f"| 110 ± {half:.0f} (n=3) |")
