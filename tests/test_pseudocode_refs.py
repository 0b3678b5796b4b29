"""Pseudocode beside code: docs/pseudocode/*.md and the code's references to their lines, both ways.

- every reference in the code (``P&R Alg. 1, line 13``, ``DSR step 2``, ...) names an
  algorithm and a line that exist;
- every pseudocode line is cited by some code line or carries a ``Note:`` saying why not.
"""
import importlib.util
import pathlib
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _load_checker():
    spec = importlib.util.spec_from_file_location("pseudocode", ROOT / "docs" / "pseudocode.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("pseudocode", module)   # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


pseudocode = _load_checker()


@pytest.fixture(scope="module")
def summary():
    return pseudocode.check(ROOT)


def test_every_reference_names_an_existing_line(summary):
    assert summary["dangling"] == [], "references to a missing algorithm or line (use '<key>, line N', "\
        "see docs/pseudocode/README.md):\n" + "\n".join(summary["dangling"])
    assert summary["dangling_refs"] == 0


def test_every_line_is_covered_or_explained(summary):
    assert summary["uncovered"] == [], "pseudocode lines no code cites and no Note: explains:\n" + \
        "\n".join(summary["uncovered"])


def test_counts_add_up(summary):
    assert summary["algorithms"] >= 12
    assert summary["covered"] + summary["explained"] + len(summary["uncovered"]) == summary["pseudocode_lines"]


def test_every_algorithm_names_code_files_that_exist():
    for algorithm in pseudocode.load_algorithms(ROOT):
        assert algorithm.code_files, algorithm.key
        for name in algorithm.code_files:
            assert (ROOT / name).is_file(), f"{algorithm.path}: code file {name} does not exist"


def test_the_readme_lists_every_transcription():
    readme = (ROOT / "docs" / "pseudocode" / "README.md").read_text()
    for algorithm in pseudocode.load_algorithms(ROOT):
        assert f"`{algorithm.key}`" in readme and f"({algorithm.slug}.md)" in readme, algorithm.key


def test_each_algorithm_is_cited_from_one_of_its_code_files():
    references = pseudocode.find_references(ROOT)
    for algorithm in pseudocode.load_algorithms(ROOT):
        paths = {r.path for r in references if r.key == algorithm.key}
        assert paths & set(algorithm.code_files), f"{algorithm.key}: cited only from {sorted(paths)}"


def test_pan_rajan_line_counts_match_the_paper():
    """The paper's listings have 41, 21, 13, 23 and 39 lines; the transcriptions keep every number."""
    by_key = {a.key: a for a in pseudocode.load_algorithms(ROOT)}
    for n, n_lines in zip(range(1, 6), (41, 21, 13, 23, 39)):
        numbers = [line.number for line in by_key[f"P&R Alg. {n}"].lines]
        assert numbers == [str(i) for i in range(1, n_lines + 1)]


# -- the checker itself, on a small repository in tmp_path ----------------------------------------

ALGORITHM = """\
    # A toy algorithm

    - key: TOY Alg. 1
    - citation: A. Author, "Toy", 2020, Algorithm 1
    - code: pkg/toy.py
    - numbering: the paper's

    Prose; a numbered list here is not parsed:

    1. not a line

    ## Lines

    1. First step
       continues here.
    2. Second step.
       Note: the paper's typo; nothing to implement.
    3. Third step.
    4. Fourth step.
    """


def _repo(tmp_path, code):
    (tmp_path / "docs" / "pseudocode").mkdir(parents=True)
    (tmp_path / "docs" / "pseudocode" / "toy.md").write_text(textwrap.dedent(ALGORITHM))
    (tmp_path / "docs" / "pseudocode" / "README.md").write_text("# not an algorithm\n")
    (tmp_path / "decomposition").mkdir()
    (tmp_path / "decomposition" / "toy.py").write_text(textwrap.dedent(code))
    return tmp_path


def test_parse_reads_header_lines_continuations_and_notes(tmp_path):
    [algorithm] = pseudocode.load_algorithms(_repo(tmp_path, ""))
    assert (algorithm.key, algorithm.title, algorithm.code_files) == ("TOY Alg. 1", "A toy algorithm", ["pkg/toy.py"])
    assert algorithm.citation.startswith("A. Author") and algorithm.slug == "toy"
    assert [line.number for line in algorithm.lines] == ["1", "2", "3", "4"]
    assert algorithm.lines[0] == pseudocode.PseudoLine("1", "First step continues here.", None)
    assert algorithm.lines[1].note == "the paper's typo; nothing to implement."
    assert algorithm.intro == "Prose; a numbered list here is not parsed:\n\n1. not a line"


def test_check_counts_covered_explained_uncovered_and_dangling(tmp_path):
    root = _repo(tmp_path, """\
        x = 1   # TOY Alg. 1, line 1
        '''TOY Alg. 1 lines 3-4 in a docstring, TOY Alg. 1, line 9 missing'''
        y = 2   # Alg. 1, line 1 has no key; neither has OTHER Alg. 2, line 1; Alg. 3 without a line is prose
        """)
    summary = pseudocode.check(root)
    assert summary == {"algorithms": 1, "pseudocode_lines": 4, "covered": 3, "explained": 1, "dangling_refs": 3,
                       "uncovered": [], "dangling": ["decomposition/toy.py:2 -> TOY Alg. 1 9",
                                                     "decomposition/toy.py:3 -> Alg. 1, line 1 (no algorithm key)",
                                                     "decomposition/toy.py:3 -> Alg. 2, line 1 (no algorithm key)"]}
    references = pseudocode.find_references(root)
    assert [(r.key, r.line, r.path, r.lineno) for r in references] == [
        ("TOY Alg. 1", "1", "decomposition/toy.py", 1), ("TOY Alg. 1", "3", "decomposition/toy.py", 2),
        ("TOY Alg. 1", "4", "decomposition/toy.py", 2)]
    assert references[0].source_line == "x = 1   # TOY Alg. 1, line 1"
    index = pseudocode.references_by_line(root)
    assert sorted(index) == [("TOY Alg. 1", "1"), ("TOY Alg. 1", "3"), ("TOY Alg. 1", "4")]
    assert [r.lineno for r in index[("TOY Alg. 1", "4")]] == [2]


def test_a_reference_split_across_two_lines_is_dangling(tmp_path):
    summary = pseudocode.check(_repo(tmp_path, "# as the listing says (TOY Alg. 1,\n# line 3) and TOY Alg. 1, line 1\n"))
    assert summary["dangling"] == ["decomposition/toy.py:1 -> TOY Alg. 1 (split across two lines; keep the key and "
                                   "the line number on one line)"]


def test_an_uncited_line_without_a_note_is_uncovered(tmp_path):
    summary = pseudocode.check(_repo(tmp_path, "# TOY Alg. 1, lines 1 and 3\n"))
    assert summary["uncovered"] == ["TOY Alg. 1:4"] and summary["covered"] == 2 and summary["explained"] == 1


@pytest.mark.parametrize("spec, expected", [
    ("1", ["1"]), ("1-3", ["1", "2", "3"]), ("1, 3 and 4", ["1", "3", "4"]), ("1, and 4", ["1", "4"]),
    ("3-1", [None]), ("5", [None]), ("2-7", [None])])
def test_expand_reads_single_lines_ranges_and_lists(tmp_path, spec, expected):
    [algorithm] = pseudocode.load_algorithms(_repo(tmp_path, ""))
    assert pseudocode.expand(spec, algorithm) == expected


def test_a_transcription_without_lines_or_with_duplicate_numbers_is_refused(tmp_path):
    with pytest.raises(ValueError, match="Lines"):
        pseudocode.parse_algorithm("# T\n\n- key: K\n- citation: C\n- code: a.py\n", "t.md")
    with pytest.raises(ValueError, match=r"\['1'\]"):
        pseudocode.parse_algorithm("# T\n\n- key: K\n- citation: C\n- code: a.py\n\n## Lines\n\n1. a\n1. b\n", "t.md")
