"""Build the book: a static HTML site of the chapters, the algorithm pages, the docs and the API.

    python docs/build.py                 # full-mode chapters, into docs/_build/html
    python docs/build.py --quick         # quick-mode chapters (NNLITE_QUICK=1), as CI runs them
    python docs/build.py --check         # build, then print the check as one JSON line; status 1 if it fails
    python docs/build.py --check --reuse # check the site already in --out without building

The site (open ``docs/_build/html/index.html``) holds:

- the chapters: every ``notebooks/*.py`` (jupytext percent format), executed
  with their figures; a chapter whose declared data (``nnlite: requires:``,
  see ``tests/realdata.py``) are absent is shown unexecuted, with a note
  saying what is missing and how to provide it;
- one page per algorithm of ``docs/pseudocode/``: pseudocode beside the code
  that cites it (``docs/ext/algorithm_pages.py``);
- README.md (the findings), every ``docs/*.md``;
- the API, generated from the docstrings of ``nnlite``, ``decomposition`` and
  ``pruning`` (Sphinx autosummary).

How: the sources are staged into ``<out>/src`` in the repository's layout
(so relative links between README, docs and notebooks resolve), each chapter
is executed once through a Jupyter kernel (nbclient) and cached in
``<out>/executed`` under a key of the notebook, the library's code and the
mode, then Sphinx with MyST-NB renders ``<out>/src`` into ``<out>/html``
(configuration: ``docs/conf.py``). A second build with nothing changed
executes nothing and rebuilds only what changed. Sphinx's warnings go to
``<out>/sphinx-warnings.log``.

``--check`` builds first (cheap when nothing changed, see above) unless
``--reuse`` is given, then prints one JSON object on its last line:
``algorithms``, ``pseudocode_lines``, ``covered``, ``explained``,
``dangling_refs`` (from ``docs/pseudocode.py``), ``pages`` (HTML pages built)
and ``broken_links`` (links and ``src`` attributes inside the site whose file
or ``#anchor`` does not exist, found by parsing the built HTML). It exits with
status 1 when a reference dangles, a link is broken or a pseudocode line is
neither covered nor explained, after listing them; status 2 on a usage error.
"""
import hashlib
import json
import os
import posixpath
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DEFAULT_OUT = DOCS / "_build"
PACKAGES = ("nnlite", "decomposition", "pruning")
# MathJax 2 from Debian's libjs-mathjax: the parts the site uses are copied into it, so it renders offline.
MATHJAX = Path("/usr/share/javascript/mathjax")
MATHJAX_PARTS = ("MathJax.js", "config/TeX-AMS_CHTML.js", "extensions", "jax/input/TeX",
                 "jax/output/CommonHTML", "jax/element", "fonts/HTML-CSS/TeX/woff")
# A chapter runs offline, as in the tests: its HTTP(S) proxy is a closed port on the loopback interface,
# so a loader that would download fails at once (its data must be declared under nnlite: requires:).
KERNEL_OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
                  "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
                  "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
NOTEBOOK_TIMEOUT_SECONDS = {True: 600, False: None}   # per cell; quick mode: a guard against a hung kernel

sys.path[:0] = [str(ROOT), str(DOCS), str(DOCS / "ext")]


# ----------------------------------------------------------------------------- staging

def write_if_changed(path, text):
    """Write ``text`` to ``path`` unless it already holds it (Sphinx rebuilds what is newer)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def code_hash():
    """A digest of the library's Python files: an executed chapter is reused only while it is unchanged."""
    digest = hashlib.sha256()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def requirements_of(notebook):
    """The requirement names in the notebook's ``nnlite: requires:`` metadata."""
    return list(notebook.metadata.get("nnlite", {}).get("requires", []))


def missing_requirements(names):
    """The reasons (from tests/realdata.py) why the listed requirements are not met; [] when all are."""
    from tests.realdata import missing
    return [reason for reason in map(missing, names) if reason is not None]


def kernel_env(requires, quick):
    """The environment a chapter runs in: the requirement folders located, the mode, a headless backend."""
    from tests.realdata import REQUIREMENTS, locate
    env = {**os.environ, **KERNEL_OFFLINE, "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("NNLITE_QUICK", None)
    if quick:
        env["NNLITE_QUICK"] = "1"
    for name in requires:
        env[REQUIREMENTS[name].env] = str(locate(name))
    return env


def execute(source, notebook, requires, quick, cache, code_digest):
    """``notebook`` executed (cached in ``cache`` under a key of its source, the code and the mode)."""
    import nbclient
    import nbformat
    from nnlite.experiment import atomic_write
    env = kernel_env(requires, quick)
    key = hashlib.sha256("\0".join([source.read_text(encoding="utf-8"), code_digest, str(quick)] +
                                   [env[n] for n in sorted(env) if n.startswith("NNLITE_")]).encode())
    cached = cache / f"{source.stem}-{key.hexdigest()[:16]}.ipynb"
    if cached.exists():
        return nbformat.read(cached, as_version=4)
    print(f"executing {source.name} ({'quick' if quick else 'full'} mode)", flush=True)
    client = nbclient.NotebookClient(notebook, timeout=NOTEBOOK_TIMEOUT_SECONDS[quick], kernel_name="python3",
                                     resources={"metadata": {"path": str(source.parent)}})
    client.execute(env=env)
    cache.mkdir(parents=True, exist_ok=True)
    for stale in cache.glob(f"{source.stem}-*.ipynb"):
        stale.unlink()
    atomic_write(cached, lambda f: f.write(nbformat.writes(notebook).encode("utf-8")))
    return notebook


def unexecuted(notebook, reasons):
    """``notebook`` with a note, after its title cell, saying why it is shown without outputs."""
    import nbformat
    note = ("```{warning}\nThis chapter is shown **unexecuted**: the machine that built the book lacks "
            "the data it declares. " + "; ".join(reasons) + ". Build the book again with the data in "
            "place to see its outputs and figures.\n```")
    first = notebook.cells[0] if notebook.cells else None
    at = 1 if first is not None and first.cell_type == "markdown" and first.source.lstrip().startswith("# ") else 0
    notebook.cells.insert(at, nbformat.v4.new_markdown_cell(note))
    notebook.metadata.setdefault("mystnb", {})["execution_mode"] = "off"
    return notebook


def stage_notebooks(src, cache, quick):
    """Every notebooks/*.py as src/notebooks/<stem>.ipynb, executed or with the note; returns the stems."""
    import jupytext
    import nbformat
    stems, digest = [], code_hash()
    for source in sorted((ROOT / "notebooks").glob("*.py")):
        notebook = jupytext.read(source)
        requires = requirements_of(notebook)
        reasons = missing_requirements(requires)
        if reasons:
            print(f"not executing {source.name}: " + "; ".join(reasons), flush=True)
            notebook = unexecuted(notebook, reasons)
        else:
            notebook = execute(source, notebook, requires, quick, cache, digest)
        write_if_changed(src / "notebooks" / f"{source.stem}.ipynb", nbformat.writes(notebook))
        stems.append(source.stem)
    return stems


def algorithm_page(algorithm):
    """The MyST source of one algorithm page: title, citation, prose, legend, the two panes."""
    from algorithm_pages import slug_of
    numbering = getattr(algorithm, "numbering", "")
    facts = [f"**Paper:** {algorithm.citation}", f"**Cited in the code as** `{algorithm.key}, line N`",
             f"**Code:** {', '.join(f'`{path}`' for path in algorithm.code_files)}"]
    if numbering:
        facts.append(f"**Numbering:** {numbering}")
    if getattr(algorithm, "path", ""):
        facts.append(f"**Transcription:** `{algorithm.path}`")
    legend = ('<p class="algorithm-legend"><span class="covered">implemented</span>'
              '<span class="explained">not implemented, with a note</span>'
              '<span class="deviation">code marked <i>Deviation from paper</i></span> '
              'Click a pseudocode line to highlight its code; a code line links back to the lines it cites.</p>')
    return (f"# {algorithm.title}\n\n" + "\n".join(f"- {fact}" for fact in facts) + "\n\n"
            + getattr(algorithm, "intro", "") + f"\n\n{legend}\n\n```{{algorithm}} {algorithm.key}\n```\n"), \
        slug_of(algorithm)


def stage_algorithms(src):
    """One page per transcription in src/algorithms/, and their README as the section's first page."""
    import pseudocode
    slugs = []
    for algorithm in pseudocode.load_algorithms(ROOT):
        text, slug = algorithm_page(algorithm)
        write_if_changed(src / "algorithms" / f"{slug}.md", text)
        slugs.append(slug)
    readme = DOCS / "pseudocode" / "README.md"
    if readme.is_file():
        write_if_changed(src / "algorithms" / "README.md", readme.read_text(encoding="utf-8"))
        slugs.insert(0, "README")
    return slugs


API_INDEX = """API reference
=============

Generated from the docstrings of the three packages: the engine (``nnlite``),
the decomposition paper (``decomposition``) and the pruning methods
(``pruning``), one page per module.

.. autosummary::
   :toctree: generated
   :recursive:

{modules}
"""


def index_page(chapters, algorithms, docs):
    """The site's front page: one table of contents per part."""
    def toc(caption, entries):
        return "```{toctree}\n:maxdepth: 1\n:caption: " + caption + "\n\n" + "\n".join(entries) + "\n```\n"
    return ("# nnlite: the book\n\n"
            "A pure-NumPy reference implementation for taking trained neural networks apart, written to be "
            "read next to the papers: the chapters teach each method on small data and assert what they "
            "claim; the algorithm pages set every pseudocode line beside the code that implements it.\n\n"
            + toc("Chapters", [f"notebooks/{stem}" for stem in chapters])
            + toc("Algorithms: pseudocode beside code", [f"algorithms/{slug}" for slug in algorithms])
            + toc("Findings and notes", ["README"] + [f"docs/{stem}" for stem in docs])
            + toc("API", ["api/index"]))


def stage(src, cache, quick):
    """Write every page of the site into ``src``; remove staged pages whose source is gone."""
    chapters = stage_notebooks(src, cache, quick)
    algorithms = stage_algorithms(src)
    docs = []
    for path in sorted(DOCS.glob("*.md")):
        write_if_changed(src / "docs" / path.name, path.read_text(encoding="utf-8"))
        docs.append(path.stem)
    write_if_changed(src / "README.md", (ROOT / "README.md").read_text(encoding="utf-8"))
    write_if_changed(src / "api" / "index.rst", API_INDEX.format(modules="\n".join(f"   {p}" for p in PACKAGES)))
    write_if_changed(src / "index.md", index_page(chapters, algorithms, docs))
    wanted = ({src / "notebooks" / f"{s}.ipynb" for s in chapters} | {src / "algorithms" / f"{s}.md" for s in algorithms}
              | {src / "docs" / f"{s}.md" for s in docs})
    for folder, pattern in (("notebooks", "*.ipynb"), ("algorithms", "*.md"), ("docs", "*.md")):
        for path in (src / folder).glob(pattern):
            if path not in wanted:
                path.unlink()


def copy_mathjax(html):
    """Copy the parts of Debian's MathJax the site needs into it; the path Sphinx should load, or None."""
    if not (MATHJAX / "MathJax.js").is_file():
        return None
    target = html / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        source, dest = MATHJAX / part, target / part
        if dest.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copyfile)(source, dest)
    return "mathjax/MathJax.js?config=TeX-AMS_CHTML"


def build(out=DEFAULT_OUT, quick=False, cache=None):
    """Stage, execute and render the book into ``out/html``; returns that folder.

    Executed chapters are cached in ``cache`` (default ``out/executed``).
    """
    out = Path(out).resolve()
    src, html = out / "src", out / "html"
    stage(src, Path(cache) if cache is not None else out / "executed", quick)
    mathjax = copy_mathjax(html)
    if mathjax is None:
        print("MathJax: Debian's libjs-mathjax is not installed; the pages load it from its CDN", flush=True)
    env = {**os.environ, "NNLITE_BOOK_MATHJAX": mathjax or ""}
    warnings = out / "sphinx-warnings.log"
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(DOCS), "-d", str(out / "doctrees"),
               "-w", str(warnings), str(src), str(html)]
    subprocess.run(command, check=True, env=env, cwd=ROOT)
    n_warnings = sum(1 for line in warnings.read_text(encoding="utf-8").splitlines() if "WARNING" in line)
    print(f"built {html / 'index.html'} ({n_warnings} Sphinx warnings in {warnings})", flush=True)
    return html


# ----------------------------------------------------------------------------- checking

class _Links(HTMLParser):
    """The ids (and a-names) a page defines and the URLs it links to (href of a/link, src of any tag)."""

    def __init__(self):
        super().__init__()
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("id",) + (("name",) if tag == "a" else ()):
            if attrs.get(name):
                self.ids.add(attrs[name])
        if tag in ("a", "link", "area") and attrs.get("href") is not None:
            self.links.append(attrs["href"])
        if attrs.get("src"):
            self.links.append(attrs["src"])


def parse_site(html):
    """{page path relative to ``html`` (posix): (ids, links)} for every .html file of the site."""
    pages = {}
    for path in sorted(Path(html).rglob("*.html")):
        parser = _Links()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        pages[path.relative_to(html).as_posix()] = (parser.ids, parser.links)
    return pages


def broken_links(html):
    """Every internal link of the site that does not resolve, as 'page -> link'."""
    html = Path(html)
    pages, broken = parse_site(html), []
    for page, (_, links) in pages.items():
        for link in links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith("#") and not link[1:]:
                continue   # another site (http, mailto, data, javascript): not checked here
            path = unquote(parts.path)
            target = posixpath.normpath(posixpath.join(posixpath.dirname(page), path)) if path else page
            if path.endswith("/") or (html / target).is_dir():
                target = posixpath.join(target, "index.html")
            if target.startswith("..") or not (html / target).is_file():
                broken.append(f"{page} -> {link}")
            elif parts.fragment and target.endswith(".html") and unquote(parts.fragment) not in pages[target][0]:
                broken.append(f"{page} -> {link} (no such anchor)")
    return broken


def check(html):
    """The book's check: the pseudocode's counts and the site's pages and broken links, with the lists."""
    import pseudocode
    summary = pseudocode.check(ROOT)
    broken = broken_links(html)
    return {"algorithms": summary["algorithms"], "pseudocode_lines": summary["pseudocode_lines"],
            "covered": summary["covered"], "explained": summary["explained"],
            "dangling_refs": summary["dangling_refs"], "pages": len(parse_site(html)),
            "broken_links": len(broken),
            "lists": {"uncovered": summary["uncovered"], "dangling": summary["dangling"], "broken": broken}}


def main(argv=None):
    from nnlite.cli import ArgumentParser   # a usage error is one line on stderr, status 2
    parser = ArgumentParser(prog="python docs/build.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="run the chapters in quick mode (NNLITE_QUICK=1)")
    parser.add_argument("--check", action="store_true",
                        help="after building, check the site and print one JSON line; status 1 if it fails")
    parser.add_argument("--reuse", action="store_true", help="with --check: check the site in --out, do not build")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"build folder (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    if args.reuse and not args.check:
        parser.error("--reuse: it only applies with --check; add --check or drop --reuse")
    html = Path(args.out).resolve() / "html"
    if args.reuse and not (html / "index.html").is_file():
        parser.error(f"--reuse: expected a built site in {html}, found none; drop --reuse to build it")
    if not args.reuse:
        try:
            html = build(args.out, quick=args.quick)
        except subprocess.CalledProcessError as error:
            print(f"docs/build.py: Sphinx failed (status {error.returncode}); see the messages above",
                  file=sys.stderr)
            return 1
    if not args.check:
        return 0
    result = check(html)
    lists = result.pop("lists")
    for name, items in lists.items():
        for item in items:
            print(f"{name}: {item}")
    print(json.dumps(result))
    failed = result["dangling_refs"] or result["broken_links"] or lists["uncovered"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
