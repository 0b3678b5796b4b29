"""The book (``python docs/build.py``) builds in quick mode, passes its check, and reads right in a browser.

The site is built once per module into pytest's temporary folder (chapters in
quick mode; each executed chapter is cached under pytest's base temporary
folder in ``executed-notebooks/``, where ``tests/test_notebooks.py`` finds it,
so a chapter runs once per test session). Then headless Chromium (Debian's
``chromium`` and ``chromium-driver``), driven by Selenium, loads it from an
HTTP server on 127.0.0.1 and checks that every page loads without a console
error, that every link inside the site resolves, that each algorithm page
shows its two panes side by side and that a click on a pseudocode line
highlights its code and scrolls it into view. Screenshots go to
``<build>/screenshots/``.

Without Chromium, its driver, Selenium, Debian's MathJax (the site's offline
copy) or the ``docs`` extra, the browser tests skip saying what to install;
``NNLITE_REQUIRE_BROWSER=1`` (set by ``.ci/run``) turns those skips into
failures, so CI cannot pass without running them.
"""
import importlib.util
import json
import os
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest

from tests import loopback

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--no-proxy-server", "--window-size=1500,1000"]
CHECK_KEYS = {"algorithms", "pseudocode_lines", "covered", "explained", "dangling_refs", "pages", "broken_links"}
REQUIRE_BROWSER = os.environ.get("NNLITE_REQUIRE_BROWSER") == "1"


def skip_or_fail(reason):
    """Skip with ``reason``, or fail when NNLITE_REQUIRE_BROWSER=1 says the browser tests must run."""
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (NNLITE_REQUIRE_BROWSER=1: the browser tests must run here)")
    pytest.skip(reason)


def load_build():
    """docs/build.py as a module."""
    spec = importlib.util.spec_from_file_location("nnlite_book_build", ROOT / "docs" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def missing_docs_tools():
    """Why the book cannot be built here (the docs extra is not installed), or None."""
    absent = [name for name in ("sphinx", "myst_nb", "jupytext", "nbclient")
              if importlib.util.find_spec(name) is None]
    return (f"the book needs the docs extra ({', '.join(absent)} not installed): pip install -e \".[docs]\""
            if absent else None)


def missing_browser():
    """Why the browser tests cannot run here, or None."""
    absent = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    if absent:
        return (f"needs headless Chromium ({' and '.join(absent)} not found): "
                "apt-get install chromium chromium-driver libjs-mathjax")
    if importlib.util.find_spec("selenium") is None:
        return "needs Selenium to drive Chromium: pip install -e \".[docs]\""
    if not (Path("/usr/share/javascript/mathjax") / "MathJax.js").is_file():
        return "needs Debian's MathJax for the site to render math offline: apt-get install libjs-mathjax"
    return None


@pytest.fixture(scope="module")
def build():
    reason = missing_docs_tools()
    if reason:
        skip_or_fail(reason)
    return load_build()


def test_build_refuses_reuse_without_check_and_a_missing_site_in_one_line(build, tmp_path, capsys):
    for argv, expected in ([["--reuse"], "--reuse: it only applies with --check"],
                           [["--check", "--reuse", "--out", str(tmp_path)], "found none; drop --reuse"]):
        with pytest.raises(SystemExit) as stop:
            build.main(argv)
        err = capsys.readouterr().err
        assert stop.value.code == 2 and err.count("\n") == 1 and expected in err, err


# ----------------------------------------------------------------------------- the two panes, on a toy

TOY_CODE = '''"""A toy module citing TOY, line 1 in its docstring."""
import numpy as np


# -- TOY, line 2 -------------------------------------------------------------
def grow(x):
    """Return ``x`` grown.

    Spans lines: TOY, line 3 is cited here too.
    """
    y = x + 1  # TOY, lines 2-3
    return y   # Deviation from paper: a toy one


def untouched(x):
    return x
'''


def toy_algorithm():
    from types import SimpleNamespace as S
    lines = [S(number="1", text="Start with `x`.", note=None), S(number="2", text="Grow it.", note=None),
             S(number="3", text="Check it.", note="a toy note naming `option=\"x\"`"),
             S(number="4", text="Stop.", note="never implemented: nothing to stop")]
    return S(key="TOY", title="Toy", citation="nobody", lines=lines, code_files=["pkg/toy.py"], slug="toy")


def toy_references():
    from types import SimpleNamespace as S
    cited = [("1", 1), ("2", 5), ("3", 9), ("2", 11), ("3", 11)]
    return [S(key="TOY", line=line, path="pkg/toy.py", lineno=n, source_line=TOY_CODE.splitlines()[n - 1])
            for line, n in cited]


def test_highlighted_lines_keep_every_source_line_and_nothing_else(build):
    import html
    import re
    from algorithm_pages import highlighted_lines
    for text in (TOY_CODE, (ROOT / "docs" / "ext" / "algorithm_pages.py").read_text(encoding="utf-8")):
        plain = [html.unescape(re.sub(r"<[^>]+>", "", line)) for line in highlighted_lines(text)]
        assert plain[:len(text.splitlines())] == text.splitlines()
        assert "".join(plain[len(text.splitlines()):]) == ""


def test_shown_ranges_are_the_cited_functions_whole_and_a_banner_with_its_function(build):
    from algorithm_pages import shown_ranges
    assert shown_ranges(TOY_CODE, [9, 11]) == [(6, 12)]            # inside grow: all of grow
    assert shown_ranges(TOY_CODE, [5]) == [(5, 12)]                # the banner above grow, then grow
    assert shown_ranges(TOY_CODE, [1]) == [(1, 4)]                 # module level: a few lines around
    assert shown_ranges(TOY_CODE, [1, 5]) == [(1, 12)]             # touching ranges merge


def test_two_panes_link_each_pseudocode_line_to_its_code_and_each_code_line_back(build, tmp_path):
    import re
    from algorithm_pages import two_panes
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "toy.py").write_text(TOY_CODE, encoding="utf-8")
    algorithm = toy_algorithm()
    page = two_panes(tmp_path, {"TOY": algorithm}, {"TOY": toy_references()}, "TOY")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "toy.html").write_text(f"<html><body>{page}</body></html>", encoding="utf-8")
    assert build.broken_links(tmp_path / "site") == []
    ids, links = build.parse_site(tmp_path / "site")["toy.html"]
    assert {f"line-{n}" for n in "1234"} <= ids
    assert {"#code-0-1", "#code-0-5", "#code-0-9", "#code-0-11"} <= set(links)        # pseudocode -> code
    back = set(re.findall(r'class="back" href="([^"]*)"', page))
    assert back == {"#line-1", "#line-2", "#line-3"}                                   # code -> pseudocode
    assert 'data-code="code-0-5 code-0-11"' in page                                     # line 2's code lines
    assert 'class="pl explained"' in page and "<code>option=&quot;x&quot;</code>" not in page
    assert "<code>option=\"x\"</code>" in page and "<code>x</code>" in page           # `code` in prose
    assert page.count('class="cl deviation"') == 1 and page.count('class="cl cites"') == 4
    assert "def untouched" not in page                                                  # uncited: not shown


@pytest.fixture(scope="module")
def book(build, tmp_path_factory):
    """The built site's html folder (quick mode), built once for this module."""
    out = tmp_path_factory.mktemp("book")
    start = time.perf_counter()
    html = build.build(out, quick=True, cache=tmp_path_factory.getbasetemp() / "executed-notebooks")
    print(f"book built in {time.perf_counter() - start:.1f} s")
    return html


def test_book_check_prints_the_counts_as_json_on_its_last_line(build, book, capsys):
    status = build.main(["--check", "--reuse", "--out", str(book.parent)])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result) == CHECK_KEYS
    assert result["pages"] == len(list(book.rglob("*.html"))) > 0
    assert result["algorithms"] > 0 and result["pseudocode_lines"] > 0
    failed = result["dangling_refs"] or result["broken_links"] or \
        result["covered"] + result["explained"] < result["pseudocode_lines"]
    assert status == (1 if failed else 0)


def test_book_has_no_broken_link_and_no_dangling_or_uncovered_pseudocode_line(build, book):
    result = build.check(book)
    assert result["lists"] == {"uncovered": [], "dangling": [], "broken": []}
    assert result["covered"] + result["explained"] == result["pseudocode_lines"]


def test_book_holds_every_chapter_executed_or_with_the_note_saying_why_not(build, book):
    import jupytext
    for source in sorted((ROOT / "notebooks").glob("*.py")):
        page = (book / "notebooks" / f"{source.stem}.html").read_text(encoding="utf-8")
        reasons = build.missing_requirements(build.requirements_of(jupytext.read(source)))
        assert ("shown <strong>unexecuted</strong>" in page) == bool(reasons), source.stem
        assert ('class="cell_output' in page) != bool(reasons), source.stem


def test_book_holds_readme_docs_api_and_one_page_per_algorithm(build, book):
    import pseudocode   # on sys.path through docs/build.py
    from algorithm_pages import slug_of
    expected = (["README.html", "index.html", "api/index.html", "api/generated/nnlite.html",
                 "api/generated/decomposition.html", "api/generated/pruning.html"]
                + [f"docs/{p.stem}.html" for p in (ROOT / "docs").glob("*.md")]
                + [f"algorithms/{slug_of(a)}.html" for a in pseudocode.load_algorithms(ROOT)])
    assert [name for name in expected if not (book / name).is_file()] == []


# ----------------------------------------------------------------------------- in the browser

@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    reason = missing_browser()
    if reason:
        skip_or_fail(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=shutil.which("chromedriver")))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def site(book, browser):
    """The base URL of the site served on 127.0.0.1."""
    with loopback.serve(book) as url:
        yield url


@pytest.fixture(scope="module")
def visited(book, browser, site):
    """{page: (severe console messages, ids, same-site links)} for every page, loaded in the browser."""
    out = {}
    for path in sorted(book.rglob("*.html")):
        page = path.relative_to(book).as_posix()
        browser.get(f"{site}/{page}")
        browser.execute_script("return document.readyState")
        time.sleep(0.05)   # let MathJax and the page's scripts report their errors
        errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        ids = set(browser.execute_script("return Array.from(document.querySelectorAll('[id]'), e => e.id)"))
        links = browser.execute_script(
            "return Array.from(document.querySelectorAll('a[href], link[href]'), e => e.href)"
            ".concat(Array.from(document.querySelectorAll('[src]'), e => e.src))")
        out[page] = (errors, ids, [link for link in links if link.startswith(site + "/")])
    return out


@pytest.mark.browser
def test_every_page_loads_in_the_browser_without_console_errors(visited):
    assert {page: errors for page, (errors, _, _) in visited.items() if errors} == {}


@pytest.mark.browser
def test_every_link_inside_the_site_resolves_in_the_browser(site, visited):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    status, broken = {}, []
    for page, (_, _, links) in visited.items():
        for link in links:
            url, fragment = urldefrag(link)
            if url not in status:
                try:
                    with opener.open(url, timeout=10) as response:
                        status[url] = response.status
                except urllib.error.HTTPError as error:
                    status[url] = error.code
            target = urlsplit(url).path.lstrip("/") or "index.html"
            if status[url] != 200:
                broken.append(f"{page} -> {link} (HTTP {status[url]})")
            elif fragment and target in visited and fragment not in visited[target][1]:
                broken.append(f"{page} -> {link} (no such anchor)")
    assert broken == []


def cited_algorithm_pages():
    """The page names of the algorithms the code cites at least once, sorted."""
    import pseudocode
    from algorithm_pages import slug_of
    cited = {reference.key for reference in pseudocode.find_references(ROOT)}
    return sorted(slug_of(a) for a in pseudocode.load_algorithms(ROOT) if a.key in cited)


@pytest.mark.browser
def test_math_is_typeset_offline_by_the_sites_own_mathjax(book, browser, site):
    pages = sorted(p.relative_to(book).as_posix() for p in book.rglob("*.html")
                   if 'class="math' in p.read_text(encoding="utf-8"))
    assert pages, "no page has math"
    for page in pages[:3]:
        browser.get(f"{site}/{page}")
        deadline = time.monotonic() + 30
        while not browser.execute_script("return document.querySelectorAll('.MathJax_CHTML').length"):
            assert time.monotonic() < deadline, f"{page}: MathJax typeset nothing in 30 s"
            time.sleep(0.2)


def algorithm_pages(book):
    return sorted(p.relative_to(book).as_posix() for p in (book / "algorithms").glob("*.html")
                  if p.stem.lower() != "readme")


@pytest.mark.browser
def test_each_algorithm_page_shows_pseudocode_and_code_side_by_side(book, browser, site):
    from selenium.webdriver.common.by import By
    pages = algorithm_pages(book)
    assert pages
    (book.parent / "screenshots").mkdir(exist_ok=True)
    for page in pages:
        browser.get(f"{site}/{page}")
        left = browser.find_element(By.CSS_SELECTOR, ".twopane .pseudo-pane")
        right = browser.find_element(By.CSS_SELECTOR, ".twopane .code-pane")
        assert left.is_displayed() and right.is_displayed(), page
        assert left.rect["width"] > 300 and right.rect["width"] > 300, page
        assert left.rect["x"] + left.rect["width"] <= right.rect["x"], page   # left pane, then right pane
        assert left.find_elements(By.CSS_SELECTOR, "li.pl"), page
        browser.save_screenshot(str(book.parent / "screenshots" / f"{Path(page).stem}.png"))


@pytest.mark.browser
def test_clicking_a_pseudocode_line_highlights_its_code_and_scrolls_it_into_view(book, browser, site):
    from selenium.webdriver.common.by import By
    clicked = []
    for page in algorithm_pages(book):
        browser.get(f"{site}/{page}")
        # The covered line whose first code line sits lowest in the code pane: it must scroll to be seen.
        item_id = browser.execute_script("""
            let best = null, lowest = -1;
            for (const li of document.querySelectorAll('.twopane li.pl.covered')) {
                const first = document.getElementById(li.dataset.code.split(' ')[0]);
                if (first && first.offsetTop > lowest) { lowest = first.offsetTop; best = li.id; }
            }
            return best;""")
        if item_id is None:
            continue
        item = browser.find_element(By.ID, item_id)
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", item)
        item.find_element(By.CSS_SELECTOR, ".text").click()
        code_ids = item.get_attribute("data-code").split()
        assert "active" in item.get_attribute("class").split(), (page, item_id)
        for code_id in code_ids:
            assert "active" in browser.find_element(By.ID, code_id).get_attribute("class").split(), (page, code_id)
        visible = browser.execute_script("""
            const pane = document.querySelector('.twopane .code-pane').getBoundingClientRect();
            const line = document.getElementById(arguments[0]).getBoundingClientRect();
            return line.top >= pane.top && line.bottom <= pane.bottom;""", code_ids[0])
        assert visible, (page, item_id, code_ids[0])
        browser.save_screenshot(str(book.parent / "screenshots" / f"{Path(page).stem}-clicked.png"))
        clicked.append(Path(page).stem)
    assert clicked == cited_algorithm_pages()   # every algorithm the code cites had a line clicked
