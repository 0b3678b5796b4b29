"""Pseudocode transcriptions (``docs/pseudocode/*.md``) and the code lines that cite them.

Every algorithm the project implements has a transcription in
``docs/pseudocode/``: one Markdown file, one numbered line per step, in the
paper's own numbering where the paper numbers its lines. The code cites a
line with a *reference*: the algorithm's key, then ``line N`` (or ``lines
N-M``, ``step N``, ``lines N, M and K``), for example::

    # P&R Alg. 1, line 13: zero the incoming edges of an inactive node
    # DSR Alg. 1, lines 2-3
    # OBD step 4

The format of both is described in ``docs/pseudocode/README.md``. This
module reads them (standard library only, so ``docs/build.py`` and the tests
can import it with ``docs/`` on ``sys.path``) and checks them both ways:

- every reference names an algorithm and a line that exist (else it is
  *dangling*);
- every line is *covered* (cited by at least one code line) or *explained*
  (it carries a ``Note:`` saying why no code implements it).

``python docs/pseudocode.py [ROOT]`` prints the summary of :func:`check` as
JSON and exits with status 1 when something is uncovered or dangling.
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
import re
import sys

PSEUDOCODE_DIR = pathlib.Path("docs") / "pseudocode"
# Folders (relative to the repository root) whose Python files may cite pseudocode lines.
CODE_DIRS = ("decomposition", "pruning", "nnlite")

_FIELD = re.compile(r"^- (?P<name>key|citation|code|numbering):\s*(?P<value>.*\S)\s*$")
_TITLE = re.compile(r"^# (?P<title>.*\S)\s*$")
_LINE = re.compile(r"^(?P<number>\d+[a-z]?)\. (?P<text>.*\S)\s*$")
_CONTINUATION = re.compile(r"^ {3,}(?P<text>\S.*?)\s*$")
_NOTE = re.compile(r"^Note:\s*(?P<note>.*)$")
_NUMBER = r"\d+[a-z]?"
_RANGE = rf"{_NUMBER}(?:\s*[-\u2013]\s*{_NUMBER})?"
_SPEC = rf"{_RANGE}(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+){_RANGE})*"
# A citation of a paper's numbered algorithm without one of our keys ("Alg. 1, line 6"):
# the old, ambiguous form, reported as dangling so that one form remains.
_BARE = re.compile(rf"(?<![\w&.])(?:Alg\.|Algorithm)\s*\d+(?:\s*[-\u2013]\s*\d+)?,?\s+(?:lines?|steps?)\s+(?P<spec>{_SPEC})")


@dataclasses.dataclass
class PseudoLine:
    """One numbered line of a transcription; ``note`` says why no code implements it (or None)."""
    number: str
    text: str
    note: str | None = None


@dataclasses.dataclass
class Algorithm:
    """One transcription: ``key`` is the prefix code uses to cite it (e.g. ``"DSR Alg. 1"``)."""
    key: str
    title: str
    citation: str
    lines: list[PseudoLine]
    code_files: list[str]
    numbering: str = ""
    slug: str = ""      # the file's stem, usable in URLs and anchors
    path: str = ""      # repo-relative path of the transcription
    intro: str = ""     # the Markdown prose between the header fields and "## Lines"

    def line(self, number):
        """The line numbered ``number`` (a str), or None."""
        return next((line for line in self.lines if line.number == number), None)


@dataclasses.dataclass
class Reference:
    """A code line citing line ``line`` of algorithm ``key`` (one Reference per cited line)."""
    key: str
    line: str
    path: str
    lineno: int
    source_line: str


def parse_algorithm(text, path=""):
    """The :class:`Algorithm` in one transcription's Markdown ``text`` (``path`` is used in errors)."""
    fields, title, lines, in_lines, intro, seen_lines = {}, None, [], False, [], False
    for raw in text.splitlines():
        if title is None and _TITLE.match(raw):
            title = _TITLE.match(raw)["title"]
        elif not in_lines and not seen_lines and _FIELD.match(raw):
            match = _FIELD.match(raw)
            fields[match["name"]] = match["value"]
        elif raw.startswith("## "):
            in_lines = raw.strip().lower() == "## lines"
            seen_lines = seen_lines or in_lines
        elif title is not None and not seen_lines:
            intro.append(raw)
        elif in_lines and _LINE.match(raw):
            match = _LINE.match(raw)
            lines.append(PseudoLine(match["number"], match["text"]))
        elif in_lines and lines and _CONTINUATION.match(raw):
            _continue_line(lines[-1], _CONTINUATION.match(raw)["text"])
    missing = [name for name in ("key", "citation", "code") if name not in fields]
    if missing or title is None or not lines:
        raise ValueError(f"{path}: a transcription needs a '# title', '- key:', '- citation:' and '- code:' "
                         f"lines and a '## Lines' section of numbered lines; missing "
                         f"{missing + ([] if title else ['title']) + ([] if lines else ['lines'])}")
    numbers = [line.number for line in lines]
    duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicates:
        raise ValueError(f"{path}: line numbers must be unique; found {duplicates} more than once")
    code_files = [name.strip() for name in fields["code"].split(",") if name.strip()]
    return Algorithm(fields["key"], title, fields["citation"], lines, code_files,
                     numbering=fields.get("numbering", ""), slug=pathlib.Path(path).stem, path=str(path),
                     intro="\n".join(intro).strip())


def _continue_line(line, text):
    """Append an indented continuation to ``line``: to its note once a ``Note:`` has begun, else to its text."""
    note = _NOTE.match(text)
    if note:
        line.note = note["note"] if line.note is None else f"{line.note} {note['note']}"
    elif line.note is not None:
        line.note = f"{line.note} {text}"
    else:
        line.text = f"{line.text} {text}"


def load_algorithms(root):
    """Every transcription under ``root/docs/pseudocode`` (README.md excluded), sorted by file name."""
    folder = pathlib.Path(root) / PSEUDOCODE_DIR
    paths = sorted(p for p in folder.glob("*.md") if p.name.lower() != "readme.md")
    algorithms = [parse_algorithm(p.read_text(encoding="utf-8"), p.relative_to(root).as_posix()) for p in paths]
    keys = [a.key for a in algorithms]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"{folder}: algorithm keys must be unique; found {duplicates} more than once")
    return algorithms


def reference_pattern(keys):
    """The compiled regular expression of a reference to one of ``keys``."""
    alternatives = "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))
    return re.compile(rf"(?<![\w&])(?P<key>{alternatives}),?\s+(?:lines?|steps?)\s+(?P<spec>{_SPEC})")


def expand(spec, algorithm):
    """The line numbers a spec such as ``"4-9, 12 and 15"`` names, in order; None for a missing line."""
    numbers = [line.number for line in algorithm.lines] if algorithm is not None else []
    out = []
    for part in re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", spec.strip()):
        ends = [p.strip() for p in re.split(r"[-\u2013]", part)]
        if len(ends) == 1:
            out.append(ends[0] if ends[0] in numbers else None)
        elif ends[0] in numbers and ends[1] in numbers and numbers.index(ends[0]) <= numbers.index(ends[1]):
            out.extend(numbers[numbers.index(ends[0]):numbers.index(ends[1]) + 1])
        else:
            out.append(None)
    return out


def code_files(root):
    """Repo-relative paths of the Python files that may cite pseudocode, sorted."""
    root = pathlib.Path(root)
    return sorted(p.relative_to(root).as_posix() for d in CODE_DIRS for p in (root / d).rglob("*.py")
                  if "__pycache__" not in p.parts)


def _split_pattern(keys):
    """A key ending one line (a reference wrapped before its line number: not read, so reported)."""
    alternatives = "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))
    return re.compile(rf"(?<![\w&])(?P<key>{alternatives}),?\s*$")


_CONTINUED = re.compile(r"^[\s#\"']*(?:lines?|steps?)\s+\d")


def _scan(root, algorithms):
    """(references, dangling) over the code files: lists of Reference and of "path:lineno -> key line"."""
    by_key = {a.key: a for a in algorithms}
    pattern = reference_pattern(by_key) if by_key else None
    split = _split_pattern(by_key) if by_key else None
    references, dangling = [], []
    for path in code_files(root):
        text = (pathlib.Path(root) / path).read_text(encoding="utf-8")
        source_lines = text.splitlines()
        for lineno, source in enumerate(source_lines, start=1):
            wrapped = split.search(source) if split else None
            if wrapped and lineno < len(source_lines) and _CONTINUED.match(source_lines[lineno]):
                dangling.append(f"{path}:{lineno} -> {wrapped['key']} (split across two lines; keep the key and "
                                f"the line number on one line)")
            spans = []
            for match in pattern.finditer(source) if pattern else ():
                spans.append(match.span())
                spec = match["spec"].strip()
                for number in expand(spec, by_key[match["key"]]):
                    if number is None:
                        dangling.append(f"{path}:{lineno} -> {match['key']} {spec}")
                        break
                    references.append(Reference(match["key"], number, path, lineno, source))
            for match in _BARE.finditer(source):
                if not any(a <= match.start() < b for a, b in spans):
                    dangling.append(f"{path}:{lineno} -> {match.group(0).strip()} (no algorithm key)")
    return references, dangling


def find_references(root):
    """Every reference in the code (one :class:`Reference` per cited line, dangling ones left out)."""
    return _scan(root, load_algorithms(root))[0]


def references_by_line(root):
    """{(key, line number): [Reference, ...]}: the code lines citing each pseudocode line (for two-pane pages)."""
    index = {}
    for reference in find_references(root):
        index.setdefault((reference.key, reference.line), []).append(reference)
    return index


def check(root):
    """Counts and lists for both directions of the check (see the module docstring)."""
    algorithms = load_algorithms(root)
    references, dangling = _scan(root, algorithms)
    cited = {(r.key, r.line) for r in references}
    covered = explained = 0
    uncovered = []
    for algorithm in algorithms:
        for line in algorithm.lines:
            if (algorithm.key, line.number) in cited:
                covered += 1
            elif line.note:
                explained += 1
            else:
                uncovered.append(f"{algorithm.key}:{line.number}")
    return {"algorithms": len(algorithms), "pseudocode_lines": sum(len(a.lines) for a in algorithms),
            "covered": covered, "explained": explained, "dangling_refs": len(dangling),
            "uncovered": uncovered, "dangling": dangling}


def main(argv=None):
    """Print :func:`check` of the repository (default: this file's parent's parent) as JSON."""
    argv = sys.argv[1:] if argv is None else argv
    root = pathlib.Path(argv[0]) if argv else pathlib.Path(__file__).resolve().parent.parent
    summary = check(root)
    print(json.dumps(summary, indent=1))
    return 1 if summary["uncovered"] or summary["dangling"] else 0


if __name__ == "__main__":
    sys.exit(main())
