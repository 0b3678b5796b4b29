"""No import cycles in nnlite/, decomposition/ and pruning/ (issue 11): every module imports, and the graph of
the imports written in them (at module level or inside functions) has no cycle."""
import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("nnlite", "decomposition", "pruning")


def module_names():
    """Dotted names of every ``.py`` file of the packages (``pkg/__init__.py`` is ``pkg``)."""
    names = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _path_of(name):
    base = REPO.joinpath(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def imported_names(name, known):
    """The project modules ``name`` imports anywhere in its source (``from . import x`` counts as ``pkg.x``)."""
    path = _path_of(name)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:            # "a.b.c" imported as a name of module "a.b"
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_cycles(graph):
    """The cycles of ``graph`` (dict module -> set of modules), each as a list starting at its least name."""
    cycles, state, stack = set(), {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):]
                first = cycle.index(min(cycle))
                cycles.add(tuple(cycle[first:] + cycle[:first]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return [list(c) for c in sorted(cycles)]


def test_the_cycle_finder_finds_a_two_module_cycle_and_nothing_in_a_chain():
    assert import_cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


@pytest.mark.parametrize("name", module_names())
def test_every_module_imports(name):
    importlib.import_module(name)          # the __main__ modules run their command only as a script


def test_no_import_cycle_in_nnlite_decomposition_and_pruning():
    known = set(module_names())
    graph = {name: imported_names(name, known) for name in known}
    assert import_cycles(graph) == [], "import cycles (module -> ... -> back); break each one"


#: The paper's algorithm modules (issue 11: the algorithm only; their experiments live in decomposition.experiments).
ALGORITHM_MODULES = ["decomposition.activity", "decomposition.approaches", "decomposition.authors_loop",
                     "decomposition.compact_modules", "decomposition.concern_identification",
                     "decomposition.concern_modularization", "decomposition.fidelity", "decomposition.modules",
                     "decomposition.reuse", "decomposition.tangling_identification", "decomposition.validation"]
HARNESS = ("argparse", "json", "os", "sys", "pathlib", "matplotlib", "nnlite.data", "nnlite.io", "nnlite.experiment",
           "decomposition.experiments", "decomposition.official_models")   # (nnlite.cli.option_names renames errors)


@pytest.mark.parametrize("name", ALGORITHM_MODULES)
def test_algorithm_modules_hold_no_data_loading_command_line_file_io_or_plotting(name):
    tree = ast.parse(_path_of(name).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(["decomposition"] + ([base] if base else []))
            imported |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    harness = sorted(i for i in imported if any(i == h or i.startswith(h + ".") for h in HARNESS))
    calls = sorted({node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name) and node.func.id in ("print", "open", "input")})
    assert harness == [] and calls == [], f"{name} imports {harness} and calls {calls}; move that to the experiments"
