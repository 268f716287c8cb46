"""The course book (scripts/book.py) in headless Chromium, served over local HTTP with no network behind it.

The book is built once per module from the stored outputs (book/outputs). Every page opens without a console error or
a failed request (an asset fetched from the web would fail here); each lesson page shows every plot and table of its
stored run, each plot loaded; every link inside the book leads to a page and anchor that exist; the search page finds
a lesson by a word in it; a Chinese heading is drawn with real glyphs. Screenshots go to artifacts/browser/.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import re
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

import jupyterlab_driver as jd

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import book  # noqa: E402

pytestmark = pytest.mark.browser

# The order in which MyST-NB picks one representation of an output for an HTML page (its default for `html`).
MIME_ORDER = ["application/vnd.jupyter.widget-view+json", "application/javascript", "text/html", "image/svg+xml",
              "image/png", "image/jpeg", "text/markdown", "text/latex", "text/plain"]
MARKDOWN_TABLE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*\|", re.MULTILINE)


def _missing(what: str) -> None:
    if os.environ.get("BROWSER_TEST_REQUIRED") == "1":
        pytest.fail(f"BROWSER_TEST_REQUIRED=1 but {what}", pytrace=False)
    pytest.skip(what)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The book built from the stored outputs, served on 127.0.0.1; yields (folder, base URL)."""
    for module in ("sphinx", "myst_nb", "sphinx_book_theme"):
        if importlib.util.find_spec(module) is None:
            _missing(f'{module} is not installed: pip install -e ".[book]"')
    try:
        html = book.build(tmp_path_factory.mktemp("book") / "html")
    except book.BookError as error:
        pytest.fail(f"the book does not build: {error}", pytrace=False)
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield html, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def book_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    context.set_default_timeout(30_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(f"console: {message.text}"))
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    page.on("response", lambda response: response.status >= 400 and problems.append(
        f"HTTP {response.status}: {response.url}"))
    page.problems = problems
    try:
        yield page
    finally:
        context.close()


def pages(html: Path) -> list[str]:
    """Every page of the book, relative to its root."""
    names = ["index.html", "README.html", "docs/teaching.html"]
    names += [f"lessons/{path.stem}.html" for path in book.lessons()]
    names += [f"exercises/{path.stem}.html" for path in sorted((REPO / "exercises").glob("*.ipynb"))]
    return names


def expected_outputs(lesson: Path) -> tuple[int, int]:
    """The plots and tables a lesson's page should show: its stored outputs, as MyST-NB renders them."""
    info = book.stored()
    nb = book.merged(lesson, book.OUTPUTS, info)
    images = tables = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            shown = next((mime for mime in MIME_ORDER if mime in data), None)
            if shown in ("image/png", "image/jpeg", "image/svg+xml"):
                images += 1
            elif shown == "text/html":
                tables += data[shown].count("<table")
            elif shown == "text/markdown":
                tables += len(MARKDOWN_TABLE.findall(data[shown]))
    return images, tables


def test_every_page_opens_offline_with_its_plots_and_tables(site, book_page):
    html, base = site
    info = book.stored()
    for name in pages(html):
        assert (html / name).exists(), f"the book has no page {name}"
        book_page.goto(base + name, wait_until="networkidle")
        assert book_page.title(), f"{name} has no title"
        if name.startswith("lessons/"):
            images, tables = expected_outputs(REPO / name.replace(".html", ".ipynb"))
            shown = book_page.locator("div.cell_output img")
            assert shown.count() == images, f"{name}: {shown.count()} plots on the page, {images} in the stored run"
            drawn = book_page.evaluate("[...document.querySelectorAll('div.cell_output img')]"
                                       ".filter(img => img.complete && img.naturalWidth > 0).length")
            assert drawn == images, f"{name}: only {drawn} of {images} plots loaded"
            on_page = book_page.locator("div.cell_output table").count()
            assert on_page == tables, f"{name}: {on_page} tables on the page, {tables} in the stored run"
            assert book_page.get_by_text("one scripted run of every lesson").count() == 1, f"{name}: no run note"
        footer = book_page.locator(".extra_footer").inner_text()
        assert info["profile"] in footer and info["machine"] in footer and f"torch {info['versions']['torch']}" in footer, \
            f"{name}: the footer does not say how the outputs were made: {footer}"
        assert not book_page.problems, f"{name}: {book_page.problems[:3]}"
    jd.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name in ("lessons/03_fine_tuning.html", "lessons/08_efficient.html"):
        book_page.goto(base + name, wait_until="networkidle")
        book_page.locator("div.cell_output img").first.scroll_into_view_if_needed()
        book_page.screenshot(path=str(jd.ARTIFACTS / f"book-{Path(name).stem}.png"))


def test_links_inside_the_book_resolve(site):
    html, base = site
    checked = 0
    for name in pages(html):
        text = (html / name).read_text(encoding="utf-8")
        for href in re.findall(r'<a [^>]*href="([^"]+)"', text):
            if re.match(r"[a-z]+:", href):
                continue
            target = urlparse(urljoin(base + name, href))
            path = html / unquote(target.path).lstrip("/")
            if path.is_dir():
                path = path / "index.html"
            assert path.exists(), f"{name} links to {href}, which is not in the book"
            if target.fragment and path.suffix == ".html":
                ids = set(re.findall(r'id="([^"]+)"', path.read_text(encoding="utf-8")))
                assert unquote(target.fragment) in ids, f"{name} links to {href}: no such anchor"
            checked += 1
    assert checked > 200, f"only {checked} internal links found: the navigation is missing"


@pytest.mark.parametrize("word, lesson", [("perplexity", "07_generative"), ("LoRA", "08_efficient"),
                                          ("quantization", "05_deployment")])
def test_search_finds_a_lesson_by_a_word_in_it(site, book_page, word, lesson):
    html, base = site
    source = (REPO / "lessons" / f"{lesson}.ipynb").read_text(encoding="utf-8")
    assert word.lower() in source.lower(), f"the word {word!r} is not in lesson {lesson}"
    book_page.goto(f"{base}search.html?q={word}", wait_until="networkidle")
    results = book_page.locator("#search-results ul.search li a")
    results.first.wait_for()
    found = [results.nth(i).get_attribute("href") for i in range(results.count())]
    assert any(f"lessons/{lesson}.html" in href for href in found), f"searching {word!r} found {found}"
    assert not book_page.problems, book_page.problems[:3]


def test_chinese_headings_are_drawn_with_glyphs(site, book_page):
    """A heading in Chinese is drawn with a CJK font, not as boxes (needs e.g. fonts-noto-cjk; .ci/run installs it)."""
    html, base = site
    book_page.goto(base + "lessons/03_fine_tuning.html", wait_until="networkidle")
    heading = book_page.locator("article h1").first
    assert "微调" in heading.inner_text()
    drawn, font = jd.glyphs_drawn(book_page, "article h1", "微调")
    assert drawn, f"微 and 调 are drawn as the same box in {font}: no CJK font (apt-get install fonts-noto-cjk)"
    jd.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    heading.screenshot(path=str(jd.ARTIFACTS / "book-chinese-heading.png"))
