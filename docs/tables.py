"""Regenerate the docs' tables from the committed records: ``python docs/tables.py [--check]``.

A table computed from ``docs/records/*.jsonl`` sits in its page between
``<!-- table: NAME -->`` and ``<!-- end table -->``; the page's registry
(``PAGES``: page -> module whose ``TABLES`` maps NAME to a builder taking the
records folder) rebuilds it. Without options every such table is rewritten in
place (atomically); ``--check`` rewrites nothing and exits with status 1,
naming each table that differs from what its records give (the test
``tests/test_docs_tables.py`` runs it). A package adds its page's tables by
adding one entry to ``PAGES``.
"""
import argparse
import importlib
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

from nnlite.experiment import write_text_atomic  # noqa: E402

RECORDS = DOCS / "records"
#: page -> module holding ``TABLES`` (NAME -> builder(records folder) -> Markdown)
PAGES = {"decomposition.md": "decomposition.experiments.docs_tables",
         "pruning.md": "pruning.experiments.docs_tables"}
#: a marked table; its body may be empty (a new marker) and never runs into the next table's markers
MARKER = re.compile(r"(<!-- table: (?P<name>[\w-]+) -->\n)(?P<body>(?:(?!<!-- (?:end )?table).)*?)"
                    r"(\n?<!-- end table -->)", re.S)


def registry(page):
    """The ``TABLES`` of ``page`` (NAME -> builder)."""
    return importlib.import_module(PAGES[page]).TABLES


def rebuild(text, tables, records=RECORDS):
    """(``text`` with every marked table rebuilt, names that differed, names marked but unknown, names unmarked)."""
    differing, unknown, seen = [], [], set()

    def replace(match):
        name = match["name"]
        seen.add(name)
        if name not in tables:
            unknown.append(name)
            return match[0]
        body = tables[name](records).strip()
        if body != match["body"].strip():
            differing.append(name)
        return match[1] + body + "\n<!-- end table -->"
    new = MARKER.sub(replace, text)
    return new, differing, unknown, sorted(set(tables) - seen)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python docs/tables.py", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table differs")
    parser.add_argument("pages", nargs="*", default=sorted(PAGES), help=f"pages (default: {sorted(PAGES)})")
    args = parser.parse_args(argv)
    status = 0
    for page in args.pages:
        if page not in PAGES:
            parser.error(f"pages: expected names from {sorted(PAGES)}, found {page!r}")
        path = DOCS / page
        text = path.read_text()
        new, differing, unknown, unmarked = rebuild(text, registry(page))
        for name in unknown:
            print(f"{page}: table {name!r} has no builder in {PAGES[page]}.TABLES", file=sys.stderr)
        for name in unmarked:
            print(f"{page}: table {name!r} is built but not marked in the page", file=sys.stderr)
        if unknown or unmarked:
            status = 1
        if differing and args.check:
            print(f"{page}: tables {differing} differ from their records; run python docs/tables.py",
                  file=sys.stderr)
            status = 1
        elif differing:
            write_text_atomic(path, new)
            print(f"{page}: rewrote {differing}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
