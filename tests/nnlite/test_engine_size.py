"""The engine stays small enough to read in an hour (house style, principle 1; issue 10's targets).

Code lines are the non-blank lines that are neither comments nor docstrings, counted over
``nnlite/`` without the data package and the compiled kernels (``nnlite/_*_kernels.py``).
"""
import ast
import io
import tokenize
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "nnlite"
MAX_CODE_LINES = 900
MAX_FUNCTION_LINES = 40


def engine_files():
    return [p for p in sorted(ENGINE.rglob("*.py"))
            if not p.relative_to(ENGINE).parts[0].startswith("data") and not p.name.endswith("_kernels.py")]


def docstring_lines(tree):
    """Line numbers of every module, class and function docstring."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                lines.update(range(first.lineno, first.end_lineno + 1))
    return lines


def code_line_numbers(source):
    """Numbers of the non-blank lines that hold a token other than a comment, outside docstrings."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    with_code = {line for tok in tokens if tok.type not in skip
                 for line in range(tok.start[0], tok.end[0] + 1)}
    return with_code - docstring_lines(ast.parse(source))


def code_lines(source):
    return len(code_line_numbers(source))


def validation_line_numbers(source):
    """Lines of argument validation: ``check*``/``_check*`` functions, ``raise`` statements and the
    tests of the ``if`` statements that raise (house style, principle 9)."""
    lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name.lstrip("_").startswith("check"):
            lines.update(range(node.lineno, node.end_lineno + 1))
        elif isinstance(node, ast.Raise):
            lines.update(range(node.lineno, node.end_lineno + 1))
        elif isinstance(node, ast.If) and any(isinstance(statement, ast.Raise) for statement in node.body):
            lines.update(range(node.test.lineno, node.test.end_lineno + 1))
    return lines


HARNESS, IO = ("experiment.py", "cli.py"), ("io.py",)


def breakdown():
    """Code lines of the engine: the engine proper (and of it, argument validation), the experiment
    harness (``HARNESS``) and the model files (``IO``)."""
    counts = {"engine proper": 0, "of which validation": 0, "harness": 0, "io": 0}
    for path in engine_files():
        source = path.read_text()
        lines = code_line_numbers(source)
        part = "harness" if path.name in HARNESS else "io" if path.name in IO else "engine proper"
        counts[part] += len(lines)
        if part == "engine proper":
            counts["of which validation"] += len(lines & validation_line_numbers(source))
    return counts


def function_lines(node, docstrings):
    """Lines from ``def`` to the function's end, its docstring excluded (a NumPy-style docstring is no smell)."""
    return len(set(range(node.lineno, node.end_lineno + 1)) - docstrings)


def long_functions(path, limit=MAX_FUNCTION_LINES):
    tree = ast.parse(path.read_text())
    docstrings = docstring_lines(tree)
    return [f"{path.name}:{node.name} ({function_lines(node, docstrings)} lines)" for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and function_lines(node, docstrings) > limit]


def test_code_lines_counts_neither_blanks_nor_comments_nor_docstrings():
    source = '"""Module doc."""\n\n# a comment\ndef f(x):\n    """Doc\n    more."""\n    return (x +\n            1)  # tail\n'
    assert code_lines(source) == 3   # def, return, and the continuation line


@pytest.mark.xfail(strict=True, reason="issue 10's target, not met: about 1,800 code lines by this count "
                   "(the assertion gives the breakdown; main had 1,647 before the layers refactor, the issue's "
                   "'about 790' used another count); remove this mark when the engine is under 900")
def test_engine_has_at_most_900_code_lines():
    total = sum(code_lines(p.read_text()) for p in engine_files())
    assert total <= MAX_CODE_LINES, f"nnlite/ has {total} code lines, above {MAX_CODE_LINES}: {breakdown()}"


def test_the_breakdown_adds_up_to_the_count():
    counts = breakdown()
    assert counts["engine proper"] + counts["harness"] + counts["io"] == sum(
        code_lines(p.read_text()) for p in engine_files())
    assert 0 < counts["of which validation"] < counts["engine proper"]


def test_validation_lines_are_checks_raises_and_their_guards():
    source = ('def check_x(x):\n    return x\n\n\ndef f(x):\n    if x < 0:\n        raise ValueError(\n'
              '            "x")\n    return x\n')
    assert validation_line_numbers(source) == {1, 2, 6, 7, 8}


def test_function_lines_leave_out_the_docstring_only():
    node = ast.parse('def f(x):\n    """Doc\n    more."""\n\n    return x\n').body[0]
    assert function_lines(node, docstring_lines(node)) == 3


def test_no_engine_function_is_longer_than_40_lines():
    found = [f for p in engine_files() for f in long_functions(p)]
    assert not found, f"functions over {MAX_FUNCTION_LINES} lines: {found}"
