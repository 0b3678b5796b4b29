"""Sphinx extension for the book's algorithm pages: pseudocode on the left, the code on the right.

The directive ``{algorithm} KEY`` (MyST: a fenced block) renders one
algorithm of ``docs/pseudocode/`` (read by ``docs/pseudocode.py``) as two
panes:

- left, its numbered lines; each line lists the code lines that cite it
  (links into the right pane) and, where it has one, its note (a deviation, a
  fidelity option, or why no code implements it);
- right, every function (or, at module level, a few lines around the line)
  that cites the algorithm, syntax-highlighted, each citing line linking back
  to the pseudocode lines it names (lines of other algorithms link to their
  pages) and lines marked ``Deviation from paper`` flagged.

``algorithm_pages.js`` makes a click on a pseudocode line highlight its code
lines and scroll the right pane to the first; the links work without it.
Everything else on the page (title, citation, prose) is ordinary MyST that
``docs/build.py`` writes around the directive.
"""
import ast
import html
import re
import sys
from collections import defaultdict
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from pygments.lexers import PythonLexer
from pygments.token import STANDARD_TYPES

CONTEXT_LINES = 3   # lines shown around a citation outside any function


def load(root):
    """(algorithms by key, references by key) of the repository at ``root``, via docs/pseudocode.py."""
    sys.path.insert(0, str(Path(root) / "docs"))
    try:
        import pseudocode
    finally:
        sys.path.pop(0)
    algorithms = {a.key: a for a in pseudocode.load_algorithms(root)}
    references = defaultdict(list)
    for reference in pseudocode.find_references(root):
        references[reference.key].append(reference)
    return algorithms, references


def slug_of(algorithm):
    """The algorithm's page name (its transcription's file stem)."""
    return getattr(algorithm, "slug", "") or Path(getattr(algorithm, "path", "") or algorithm.key).stem


def highlighted_lines(text):
    """The Python source ``text`` as one HTML string per line (Pygments' short CSS classes)."""
    lines, current = [], []
    for token_type, value in PythonLexer(stripnl=False, ensurenl=False).get_tokens(text):
        while token_type not in STANDARD_TYPES:
            token_type = token_type.parent
        css = STANDARD_TYPES[token_type]
        for i, piece in enumerate(value.split("\n")):
            if i:
                lines.append("".join(current))
                current = []
            if piece:
                escaped = html.escape(piece)
                current.append(f'<span class="{css}">{escaped}</span>' if css else escaped)
    lines.append("".join(current))
    return lines


def shown_ranges(text, linenos):
    """Merged 1-based inclusive (first, last) ranges to show around ``linenos``.

    A line inside a function shows the innermost such function; a comment just
    above a function (a step's banner) shows itself and the function; any
    other line shows ``CONTEXT_LINES`` lines either side.
    """
    functions = [(node.decorator_list[0].lineno if node.decorator_list else node.lineno, node.end_lineno)
                 for node in ast.walk(ast.parse(text)) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    n_lines = len(text.splitlines())
    ranges = []
    for lineno in sorted(set(linenos)):
        around = [(a, b) for a, b in functions if a <= lineno <= b]
        below = [(lineno, b) for a, b in functions if 0 < a - lineno <= CONTEXT_LINES]
        if around:
            a, b = min(around, key=lambda r: r[1] - r[0])
        else:
            a, b = below[0] if below else (lineno - CONTEXT_LINES, lineno + CONTEXT_LINES)
        ranges.append((max(a, 1), min(b, n_lines)))
    merged = []
    for a, b in sorted(ranges):
        if merged and a <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def prose(text):
    """``text`` as HTML, its `backquoted` spans as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))


def code_id(file_index, lineno):
    return f"code-{file_index}-{lineno}"


def line_id(number):
    return f"line-{number}"


def pseudocode_pane(algorithm, cited_at):
    """The left pane: one <li> per line, with links to its code lines and its note."""
    items = []
    for line in algorithm.lines:
        targets = cited_at.get(line.number, [])
        state = "covered" if targets else ("explained" if line.note else "uncovered")
        links = ", ".join(f'<a href="#{code_id(i, n)}">{html.escape(path)}:{n}</a>' for i, path, n in targets)
        refs = f'<div class="refs">code: {links}</div>' if links else ""
        note = (f'<div class="note"><span class="note-label">Note:</span> {prose(line.note)}</div>'
                if line.note else "")
        ids = " ".join(code_id(i, n) for i, _, n in targets)
        items.append(f'<li id="{line_id(line.number)}" class="pl {state}" data-code="{ids}">'
                     f'<a class="num" href="#{code_id(*targets[0][::2]) if targets else line_id(line.number)}">'
                     f'{html.escape(line.number)}</a><span class="text">{prose(line.text)}</span>'
                     f'{refs}{note}</li>')
    return f'<div class="pane pseudo-pane"><ol class="pseudocode">{"".join(items)}</ol></div>'


def back_links(references, algorithm, slugs):
    """The links from one code line back to the pseudocode lines it cites (other algorithms' on their pages)."""
    out, seen = [], set()
    for reference in references:
        if (reference.key, reference.line) in seen:
            continue
        seen.add((reference.key, reference.line))
        page = "" if reference.key == algorithm.key else f"{slugs[reference.key]}.html"
        label = f"line {reference.line}" if not page else f"{reference.key} {reference.line}"
        out.append(f'<a class="back" href="{page}#{line_id(reference.line)}">{html.escape(label)}</a>')
    return "".join(out)


def code_pane(root, algorithm, files, all_references, slugs):
    """The right pane: the cited functions of each file, each citing line linking back."""
    blocks = []
    for index, path in enumerate(files):
        text = (Path(root) / path).read_text(encoding="utf-8")
        by_line = defaultdict(list)
        for reference in all_references:
            if reference.path == path:
                by_line[reference.lineno].append(reference)
        own = [r.lineno for r in all_references if r.path == path and r.key == algorithm.key]
        source, raw_lines = highlighted_lines(text), text.splitlines()
        rows = []
        for first, last in shown_ranges(text, own):
            if first > 1:
                rows.append('<span class="gap">\u22ee</span>')
            for lineno in range(first, last + 1):
                raw = raw_lines[lineno - 1]
                classes = ["cl"]
                if any(r.key == algorithm.key for r in by_line.get(lineno, [])):
                    classes.append("cites")
                if "deviation from paper" in raw.lower():
                    classes.append("deviation")
                rows.append(f'<span id="{code_id(index, lineno)}" class="{" ".join(classes)}">'
                            f'<span class="ln">{lineno}</span>{source[lineno - 1]}'
                            f'{back_links(by_line.get(lineno, []), algorithm, slugs)}</span>')
        blocks.append(f'<div class="codefile"><div class="filename">{html.escape(path)}</div>'
                      f'<pre class="highlight">{"".join(rows)}</pre></div>')
    return f'<div class="pane code-pane">{"".join(blocks)}</div>'


class AlgorithmDirective(Directive):
    """``{algorithm} KEY``: the two panes of the algorithm whose key is KEY."""
    required_arguments = 1
    final_argument_whitespace = True

    def run(self):
        env = self.state.document.settings.env
        algorithms, references = env.app.algorithm_pages
        key = " ".join(self.arguments)
        if key not in algorithms:
            raise self.error(f"algorithm: no transcription has key {key!r}; keys are {sorted(algorithms)}")
        root = env.config.algorithm_pages_root
        return [nodes.raw("", two_panes(root, algorithms, references, key), format="html")]


def two_panes(root, algorithms, references, key):
    """The HTML of algorithm ``key``'s two panes (``algorithms`` and ``references`` as :func:`load` gives)."""
    algorithm, own = algorithms[key], references.get(key, [])
    files = [f for f in algorithm.code_files if any(r.path == f for r in own)]
    files += sorted({r.path for r in own} - set(files))
    index = {path: i for i, path in enumerate(files)}
    all_refs = [r for refs in references.values() for r in refs if r.path in index]
    cited_at = defaultdict(list)
    for r in sorted(own, key=lambda r: (index[r.path], r.lineno)):
        if (index[r.path], r.path, r.lineno) not in cited_at[r.line]:
            cited_at[r.line].append((index[r.path], r.path, r.lineno))
    slugs = {k: slug_of(a) for k, a in algorithms.items()}
    body = pseudocode_pane(algorithm, cited_at) + code_pane(root, algorithm, files, all_refs, slugs)
    return f'<div class="twopane" data-algorithm="{html.escape(key)}">{body}</div>'


def read_sources(app):
    """Read the transcriptions and the references once per build."""
    app.algorithm_pages = load(app.config.algorithm_pages_root)


def always_outdated(app, env, added, changed, removed):
    """Every page using the directive is re-read on every build: any code file may have changed its citations."""
    return [docname for docname in env.found_docs - set(removed)
            if "{algorithm}" in Path(env.doc2path(docname)).read_text(encoding="utf-8", errors="replace")]


def setup(app):
    app.add_config_value("algorithm_pages_root", str(Path(__file__).resolve().parents[2]), "env")
    app.add_directive("algorithm", AlgorithmDirective)
    app.connect("builder-inited", read_sources)
    app.connect("env-get-outdated", always_outdated)
    app.add_css_file("algorithm_pages.css")
    app.add_js_file("algorithm_pages.js")
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
