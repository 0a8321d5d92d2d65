"""The course website (``book/build.py``): it builds from the stored outputs, offline, and shows
every chapter with its figures and maths, a sidebar in reading order and the README's table."""

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("book_build", ROOT / "book" / "build.py")
book = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(book)

MISSING_FILE = re.compile(r"not readable|not found|nonexisting|does not exist|No such file|"
                          r"isn't included|unknown document|missing", re.I)
# Anything a page would fetch by itself: scripts, stylesheets, fonts, images, frames, preloads.
FETCHED = re.compile(r"<(script|link|img|iframe|source|video|audio|embed)\b[^>]*?"
                     r"\b(src|href)\s*=\s*[\"']?\s*(https?:)?//", re.I)
CSS_REMOTE = re.compile(r"(url\(\s*[\"']?\s*(https?:)?//|@import\s+[\"']?(url\()?\s*[\"']?(https?:)?//)",
                        re.I)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the site once into a temporary folder; return (html dir, staged src dir, log)."""
    work = tmp_path_factory.mktemp("book")
    names = [p.name for p in book.chapter_files(ROOT / "chapters")]
    proc = subprocess.run([sys.executable, str(ROOT / "book" / "build.py"), "--out", str(work / "html")],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    log = (work / "warnings.log").read_text(encoding="utf-8") if (work / "warnings.log").exists() else ""
    assert proc.returncode == 0, f"book build failed:\n{proc.stdout}\n{proc.stderr}\n{log}"
    staged = book.chapter_files(work / "src")
    assert {p.name for p in staged} >= set(names), "a chapter was not staged"
    return work / "html", staged, log


def _article(html: str) -> str:
    m = re.search(r"<article\b.*?</article>", html, re.S)
    assert m, "page has no <article> (theme layout changed?)"
    return m.group(0)


def _expected_images(nb_path: Path) -> int:
    """Images the page must show: image outputs (as MyST-NB picks the mime type for HTML),
    <img> inside HTML outputs, and images in markdown cells."""
    from myst_nb.core.render import get_mime_priority

    priority = get_mime_priority("html", [])
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    n = 0
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            n += len(re.findall(r"!\[[^\]]*\]\(", src)) + len(re.findall(r"<img\b", src, re.I))
            continue
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            mime = next((m for m in priority if m in data), None)
            if mime is None:
                continue
            if mime.startswith("image/"):
                n += 1
            elif mime == "text/html":
                html = data[mime] if isinstance(data[mime], str) else "".join(data[mime])
                n += len(re.findall(r"<img\b", html, re.I))
    return n


def _text_outside_code_and_math(html: str) -> str:
    html = re.sub(r"<pre\b.*?</pre>", "", html, flags=re.S)
    html = re.sub(r"<code\b.*?</code>", "", html, flags=re.S)
    return re.sub(r"<(span|div) class=\"math[^\"]*\">.*?</\1>", "", html, flags=re.S)


# ------------------------------------------------------------------ fast: the source generators
def test_separate_display_math_splits_paragraphs_and_leaves_code_alone():
    src = "text\n$$\na\n+ b\n$$\nmore\n```\n$$\n```\ninline $$ x\n$$ y $$\nend"
    assert book.separate_display_math(src) == (
        "text\n\n$$\na\n+ b\n$$\n\nmore\n```\n$$\n```\ninline $$ x\n\n$$ y $$\n\nend")
    already = "a\n\n$$\nx\n$$\n\nb"
    assert book.separate_display_math(already) == already


def test_landing_page_links_readme_rows_and_adds_unlisted_chapters(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Course\n\nIntro with a [link](x.md).\n\n## Chapters\n\n"
                      "| # | notebook | what it teaches |\n|---|---|---|\n"
                      "| 00 | `00_a.ipynb` | alpha \\| beta |\n| 09 | `09_gone.ipynb` | gone |\n\n"
                      "## Other\n| not | a chapter |\n", encoding="utf-8")
    chapters = [tmp_path / "00_a.ipynb", tmp_path / "01_b.ipynb"]
    page = book.landing_page(readme, chapters)
    assert page.startswith("# Course\n\nIntro with a link.")
    assert "| 00 | {doc}`00_a` | alpha \\| beta |" in page
    assert "| 09 | `09_gone.ipynb` | gone |" in page  # listed in README, no notebook: no link
    assert "| 01 | {doc}`01_b` |" in page
    assert "a chapter" not in page
    toctree = page[page.index("```{toctree}"):]
    assert toctree.index("00_a") < toctree.index("01_b")


# ------------------------------------------------------------------ slow: the built site
@pytest.mark.slow
def test_build_log_has_no_warnings(site):
    _, _, log = site
    missing = [ln for ln in log.splitlines() if MISSING_FILE.search(ln)]
    assert not missing, "warnings about missing files:\n" + "\n".join(missing)
    assert "WARNING" not in log and "ERROR" not in log, log


@pytest.mark.slow
def test_every_chapter_page_has_its_figures_and_maths(site):
    html_dir, staged, _ = site
    for nb_path in staged:
        page = html_dir / f"{nb_path.stem}.html"
        assert page.is_file(), f"no page for {nb_path.name}"
        html = page.read_text(encoding="utf-8")
        article = _article(html)
        srcs = re.findall(r"<img\b[^>]*\bsrc=\"([^\"]+)\"", article)
        expected = _expected_images(nb_path)
        assert len(srcs) == expected, f"{page.name}: {len(srcs)} <img>, notebook has {expected} images"
        for src in srcs:
            f = (page.parent / src.split("#")[0].split("?")[0]).resolve()
            assert f.is_file() and f.stat().st_size > 0, f"{page.name}: image {src} missing"
        md = " ".join("".join(c["source"]) for c in json.loads(nb_path.read_text())["cells"]
                      if c["cell_type"] == "markdown")
        if "$" in md:
            assert 'class="math' in article, f"{page.name}: maths not parsed"
        text = _text_outside_code_and_math(article)
        stray = re.findall(r".{0,40}(?:\$\$|\$\\[A-Za-z]).{0,40}", text)
        assert not stray, f"{page.name}: TeX left as text: {stray[:3]}"


@pytest.mark.slow
def test_landing_page_and_sidebar_list_every_chapter_in_reading_order(site):
    html_dir, staged, _ = site
    order = [f"{p.stem}.html" for p in staged]
    landing = _article((html_dir / "index.html").read_text(encoding="utf-8"))
    table = re.search(r"<table\b.*?</table>", landing, re.S)
    assert table, "landing page has no chapter table"
    linked = re.findall(r"href=\"([0-9]{2}_[^\"#]+\.html)\"", table.group(0))
    assert linked == order, f"landing table links {linked}, chapters are {order}"
    for page in ["index.html", *order]:
        html = (html_dir / page).read_text(encoding="utf-8")
        nav = re.search(r"<nav class=\"[^\"]*bd-docs-nav.*?</nav>", html, re.S)
        assert nav, f"{page}: no navigation sidebar"
        entries = re.findall(r"<li class=\"toctree-l1[^\"]*\"><a\b[^>]*href=\"([^\"]*)\"", nav.group(0))
        entries = [e for e in entries if e != "index.html"]  # the home link
        entries = [page if e in ("#", "") else e for e in entries]
        assert entries == order, f"{page}: sidebar {entries}"


@pytest.mark.slow
def test_no_page_loads_anything_from_the_network(site):
    html_dir, _, _ = site
    pages = sorted(html_dir.glob("*.html"))
    assert pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        remote = [m.group(0) for m in FETCHED.finditer(html)]
        assert not remote, f"{page.name} fetches from the network: {remote[:3]}"
        assert re.search(r"<script[^>]*src=\"_static/mathjax/tex-chtml\.js(\?[^\"]*)?\"", html) or \
            'class="math' not in html, f"{page.name}: maths without the bundled MathJax"
    assert (html_dir / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert any((html_dir / "_static" / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))
    for css in html_dir.joinpath("_static").rglob("*.css"):
        found = CSS_REMOTE.search(css.read_text(encoding="utf-8", errors="replace"))
        assert not found, f"{css.name} loads {found.group(0)}"


# ------------------------------------------------------------------ a real browser, where present
@pytest.mark.slow
def test_pages_render_in_headless_chromium(site):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian package 'chromium'): browser check skipped")
    html_dir, staged, _ = site
    with_figures = [p for p in staged if _expected_images(p) > 0
                    and 'class="math' in (html_dir / f"{p.stem}.html").read_text(encoding="utf-8")]
    assert with_figures, "no chapter has a figure and maths to look at"
    chapter = with_figures[0]
    for page, needs_figure in [("index.html", False), (f"{chapter.stem}.html", True)]:
        dom = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--virtual-time-budget=15000", "--dump-dom", (html_dir / page).as_uri()],
            capture_output=True, text=True, timeout=180).stdout
        assert re.search(r"<title>[^<]*ppl-generative", dom), f"{page}: no title"
        assert "bd-sidenav" in dom and all(f"{p.stem}.html" in dom for p in staged), f"{page}: sidebar"
        if needs_figure:
            assert re.search(r"<img\b[^>]*src=\"_images/", dom), f"{page}: no figure"
            assert "<mjx-container" in dom, f"{page}: MathJax produced no output"
