"""Sphinx configuration of the book (``python docs/build.py`` builds it; see docs/README.md).

``docs/build.py`` stages the sources into ``<out>/src`` in the repository's
layout (README.md, docs/, notebooks/ as executed .ipynb, algorithms/, api/)
and runs Sphinx on them with this folder as the configuration folder.
"""
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "docs" / "ext")]

project = "nnlite"
author = "the nnlite authors"
extensions = [
    "myst_nb",                  # Markdown pages and notebooks (.ipynb staged from notebooks/*.py)
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",   # the API pages, one per module, generated from the docstrings
    "sphinx.ext.napoleon",      # NumPy-style docstrings
    "sphinx.ext.mathjax",
    "algorithm_pages",          # docs/ext/algorithm_pages.py: pseudocode beside code
]
templates_path = ["_templates"]
html_static_path = ["_static"]
exclude_patterns = ["**/.ipynb_checkpoints"]
html_theme = "alabaster"
html_title = "nnlite: the book"
html_favicon = "_static/favicon.svg"
html_theme_options = {"page_width": "1200px", "sidebar_width": "250px", "fixed_sidebar": False}
html_show_sourcelink = False
html_show_copyright = False
html_copy_source = False

# Notebooks arrive executed (docs/build.py runs them once, with their data, and caches them);
# the ones whose data are absent arrive unexecuted with a note. MyST-NB only renders.
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

autosummary_generate = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
napoleon_google_docstring = False

# MathJax from a local copy when docs/build.py found one (the site then works offline), else the CDN.
if os.environ.get("NNLITE_BOOK_MATHJAX"):
    mathjax_path = os.environ["NNLITE_BOOK_MATHJAX"]
    # MathJax 2 (Debian's): typeset only what Sphinx marks as math; MyST's MathJax 3 settings would
    # leave nothing to typeset.
    myst_update_mathjax = False
    mathjax2_config = {"tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                                   "processClass": "math", "ignoreClass": "document",
                                   "processRefs": False, "processEnvironments": False}}

# The docstrings are plain text first: |w| means an absolute value, not an RST substitution.
_ABSOLUTE = re.compile(r"\|([^|\s`][^|`]*?)\|")


def _escape_bars(line):
    """``line`` with each ``|x|`` outside inline literals escaped; a grid table's row is left alone."""
    if line.strip().startswith(("|", "+")) and line.strip().endswith(("|", "+")):
        return line
    parts = line.split("``")
    return "``".join(_ABSOLUTE.sub(r"\\|\1\\|", part) if i % 2 == 0 else part for i, part in enumerate(parts))


def escape_absolute_values(app, what, name, obj, options, lines):
    """Escape ``|x|`` in a docstring so docutils prints it instead of looking up a substitution."""
    lines[:] = [_escape_bars(line) if "|" in line else line for line in lines]


def drop_problematic(app, doctree, docname):
    """Show markup docutils could not parse as its text: no link to an error message the page omits."""
    from docutils import nodes
    for node in list(doctree.findall(nodes.problematic)):
        text = nodes.inline(node.astext(), node.astext())
        text["ids"] = node["ids"]
        node.replace_self(text)


def setup(app):
    app.connect("autodoc-process-docstring", escape_absolute_values)
    app.connect("doctree-resolved", drop_problematic)
