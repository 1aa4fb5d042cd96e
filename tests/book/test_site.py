"""Browser tests for the built book: build it once, serve it locally, open it in headless Chromium.

Run with ``pytest -m site``. Needs Debian's Chromium at /usr/bin/chromium (Playwright's own
browser download is not used); without it every test here fails with a clear message.
"""
from __future__ import annotations

import functools
import http.server
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

LANDING = "book/intro.html"
CHAPTER = "book/classics/transformer.html"
CLAIMS = "book/claims.html"
BIBLIOGRAPHY = "book/bibliography.html"
SEARCH = "search.html"
QA_BANK = "book/interview/qa-bank.html"
CHEAT_SHEET = "book/interview/cheatsheet.html"
GLOSSARY = "book/glossary.html"

MATHJAX_TIMEOUT_MS = 20_000


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def built_book() -> Path:
    """Build the whole book once (all pages, so every warning is reported) into _build/html."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(jupyter_book), "build", ".", "-W", "-n", "--keep-going", "--all"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"jupyter-book build failed (exit {result.returncode}):\n{log[-5000:]}"
    warnings = [line for line in log.splitlines() if "WARNING" in line]
    assert not warnings, "jupyter-book build printed warnings:\n" + "\n".join(warnings)
    assert (HTML / CHAPTER).is_file()
    return HTML


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


@pytest.fixture(scope="module")
def site(built_book) -> str:
    """Origin (``http://127.0.0.1:PORT``) of an HTTP server for _build/html on an ephemeral port."""
    handler = functools.partial(_QuietHandler, directory=str(built_book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: the site tests need Debian's Chromium. Install it with "
                    "`apt-get install -y chromium` (Playwright's browser download is not used).",
                    pytrace=False)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser, site):
    """A fresh page in its own context; ``page.goto`` paths are relative to the local site."""
    context = browser.new_context(base_url=site + "/")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


# --------------------------------------------------------------------------- helpers


def _is_favicon(url: str) -> bool:
    return url.split("?")[0].rstrip("/").endswith("favicon.ico")


def _load_and_collect_problems(page, path: str) -> list[str]:
    """Open ``path`` and return console errors, page errors and failed requests (favicon aside)."""
    problems: list[str] = []

    def on_console(msg):
        if msg.type == "error" and not _is_favicon(msg.location.get("url", "")):
            problems.append(f"console error: {msg.text} ({msg.location.get('url')})")

    def on_response(response):
        if response.status >= 400 and not _is_favicon(response.url):
            problems.append(f"HTTP {response.status}: {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: None if _is_favicon(request.url) else
            problems.append(f"request failed: {request.url} ({request.failure})"))
    page.on("response", on_response)
    page.goto(path, wait_until="load")
    page.wait_for_load_state("networkidle")
    return problems


def _wait_for_mathjax(page) -> None:
    page.wait_for_selector("mjx-container", state="attached", timeout=MATHJAX_TIMEOUT_MS)
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                           timeout=MATHJAX_TIMEOUT_MS)
    page.evaluate("() => MathJax.startup.promise")


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("path", [LANDING, CHAPTER, QA_BANK, CHEAT_SHEET, GLOSSARY, CLAIMS])
def test_page_loads_without_console_errors_or_failed_requests(page, path):
    problems = _load_and_collect_problems(page, path)
    if path == CHAPTER:
        _wait_for_mathjax(page)  # MathJax loads fonts and components lazily; include those
        page.wait_for_load_state("networkidle")
    assert problems == [], f"{path}:\n" + "\n".join(problems)


def test_chapter_makes_no_request_outside_the_local_server(page, site):
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))

    def outside() -> list[str]:
        return [url for url in urls if not (url.startswith(site + "/") or url.startswith("data:"))]

    page.goto(CHAPTER, wait_until="load")
    page.wait_for_load_state("networkidle")
    assert outside() == [], "requests leaving 127.0.0.1:\n" + "\n".join(outside())
    _wait_for_mathjax(page)  # then the fonts and components MathJax fetches while typesetting
    page.wait_for_load_state("networkidle")
    assert outside() == [], "requests leaving 127.0.0.1:\n" + "\n".join(outside())
    assert any(url.startswith(site + "/_static/mathjax/") for url in urls), \
        "MathJax was not loaded from the local server"


def test_chapter_equations_are_typeset_by_mathjax(page):
    page.goto(CHAPTER)
    _wait_for_mathjax(page)
    typeset = page.locator("mjx-container").count()
    assert typeset > 10, f"only {typeset} mjx-container elements on the chapter"
    # The math written in the chapter (span.math) is rendered, not left as TeX source.
    assert page.locator("span.math mjx-container").count() > 10
    assert page.locator("mjx-merror").count() == 0, "MathJax reported TeX errors"


def test_search_for_attention_finds_the_transformer_chapter(page):
    page.goto(f"{SEARCH}?q=attention")
    page.wait_for_function(
        "() => { const s = document.querySelector('#search-results p.search-summary');"
        " return s && s.textContent.trim().length > 0; }")
    summary = page.locator("#search-results p.search-summary").inner_text()
    hrefs = page.locator("#search-results ul.search li a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    assert any(href.split("#")[0] == CHAPTER for href in hrefs), \
        f"no result links to {CHAPTER}; summary: {summary!r}; links: {hrefs}"


def test_interview_answer_opens_when_its_question_is_clicked(page):
    page.goto(CHAPTER)
    cards = page.locator("details.sd-dropdown.llmnotes-qa")
    assert cards.count() >= 3, "the interview card has no sphinx-design dropdown questions"
    card = cards.filter(has=page.locator("summary", has_text="√d_k")).first
    answer = card.locator("p", has_text="variance").first
    assert answer.count() == 1, "the √d_k question has no answer mentioning the variance"
    assert card.evaluate("d => d.open") is False
    assert answer.is_hidden(), "the answer is visible before its question is clicked"

    card.locator("summary").click()

    assert card.evaluate("d => d.open") is True
    answer.wait_for(state="visible", timeout=5_000)
    assert "variance" in answer.inner_text()


def test_chapter_figures_are_numbered_and_referenced(page):
    page.goto(CHAPTER)
    numbers = [text.strip() for text in page.locator("figcaption span.caption-number").all_inner_texts()]
    assert len(numbers) >= 4, f"figure captions: {numbers}"
    chapter = re.fullmatch(r"Fig\. (\d+)\.1", numbers[0])
    assert chapter, f"the first figure of a chapter is Fig. <chapter>.1, got {numbers[0]!r}"
    title = page.locator("article h1").first.inner_text()
    assert title.startswith(f"{chapter[1]}. "), f"figures are numbered in chapter {chapter[1]}, the title is {title!r}"
    assert numbers == [f"Fig. {chapter[1]}.{i}" for i in range(1, len(numbers) + 1)], numbers
    references = [text.strip() for text in page.locator("article a.reference").all_inner_texts()
                  if text.strip().startswith("Fig.")]
    assert references, "no in-text link to a figure"
    assert set(references) <= set(numbers), f"references to missing figures: {references}"


def test_chapter_basic_info_shows_title_and_venue(page):
    page.goto(CHAPTER)
    info = page.locator(".llmnotes-paper-info.admonition")
    info.wait_for()
    title = info.locator("li", has_text="Title:").inner_text()
    venue = info.locator("li", has_text="Venue:").inner_text()
    assert "Attention Is All You Need" in title
    assert "NeurIPS" in venue and "2017" in venue, venue


def test_claims_ledger_lists_every_claim_with_a_status(page):
    page.goto(CLAIMS)
    tables = page.locator("table.llmnotes-ledger").all()
    assert tables, "the claims ledger has no table"
    rows = {}
    for table in tables:
        headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
        status_column = headers.index("Status")
        for row in table.locator("tbody tr").all():
            cells = [c.strip() for c in row.locator("td").all_inner_texts()]
            rows[cells[0]] = cells[status_column]
    assert rows.get("transformer/toy-translation") == "REPRODUCED", rows
    bad = {claim: status for claim, status in rows.items()
           if status not in {"REPRODUCED", "NOT REPRODUCED"}}
    assert not bad, f"claims without a valid status: {bad}"


def test_bibliography_lists_attention_is_all_you_need(page):
    page.goto(BIBLIOGRAPHY)
    entries = page.locator("div.citation").all_inner_texts()
    assert entries, "the bibliography lists no entries"
    matches = [e for e in entries if re.search(r"attention is all you need", e, re.IGNORECASE)]
    assert matches, "no entry for 'Attention Is All You Need'"
    assert "Vaswani" in matches[0]


def test_qa_bank_tag_filter_shows_only_questions_with_that_tag(page):
    page.goto(QA_BANK, wait_until="load")
    items = page.locator(".llmnotes-bank-item")
    total = items.count()
    assert total >= 5
    assert page.locator(".llmnotes-tag-count").inner_text() == f"{total} of {total} questions shown"
    tagged = page.locator(".llmnotes-bank-item.llmnotes-tag-attention").count()
    assert 0 < tagged < total, "the real book's cards carry different tags"
    # Take the tag off the first "attention" question, then filter by that tag: it must disappear too.
    page.evaluate("""document.querySelectorAll('.llmnotes-bank-item.llmnotes-tag-attention').forEach((item, i) => {
        if (i < 2) item.dataset.probe = String(i); })""")
    first, second = "[data-probe='0']", "[data-probe='1']"
    page.evaluate(f"document.querySelector(\"{first}\").classList.remove('llmnotes-tag-attention')")
    page.click('.llmnotes-tag-filter button[data-tag="attention"]')
    assert page.locator('.llmnotes-tag-filter button[data-tag="attention"]').get_attribute("aria-pressed") == "true"
    assert page.locator(".llmnotes-tag-count").inner_text() == f"{tagged - 1} of {total} questions shown"
    assert page.locator(first).is_hidden() and page.locator(second).is_visible()
    hidden = [i for i in range(total) if items.nth(i).is_hidden()]
    assert len(hidden) == total - tagged + 1
    page.click('.llmnotes-tag-filter button[data-tag="all"]')
    assert page.locator(first).is_visible()


def test_qa_bank_answers_link_to_their_chapter(page):
    page.goto(QA_BANK, wait_until="load")
    item = page.locator(".llmnotes-bank-item", has_text="√d_k").first
    item.locator("summary").click()
    link = item.locator("a.reference", has_text="Attention Is All You Need")
    assert link.is_visible()
    assert link.get_attribute("href").endswith("classics/transformer.html")


def test_cheat_sheet_shows_each_paper_summary_and_contributions(page):
    page.goto(CHEAT_SHEET, wait_until="load")
    text = page.locator("article").inner_text()
    assert "Attention Is All You Need" in text
    assert "5-minute summary" in text and "Three contributions" in text and "Deep detail" in text


def test_chapter_term_links_open_the_glossary_entry(page):
    page.goto(CHAPTER, wait_until="load")
    link = page.locator('a.reference[href*="glossary.html#term-"]', has_text="causal mask").first
    link.click()
    page.wait_for_url(re.compile(r".*/glossary\.html#term-Causal-mask$"))
    entry = page.locator("dt#term-Causal-mask + dd")
    assert "因果掩码" in entry.inner_text()
