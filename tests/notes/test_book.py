"""The book (``deepnotes.notes.book.build``): a static site of the shipped catalogue, checked by parsing every
page in Python (every internal link and fragment resolves, every formula is MathML, every entry has a page)
and by opening it in headless Chromium (no console errors, no network request, the filter narrows the list,
formulas are laid out as MathML, figures load, sampled links open).

One book of the whole catalogue is built with three quick experiments (one supported, two partly); the
other experiments are "not run".  The behaviours around the build (no-run, a failing experiment, replacing
an earlier book, a missing package) use a catalogue of three entries written here."""

import re
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from deepnotes.notes import book as book_mod
from deepnotes.notes import experiments as exps
from deepnotes.notes.book import BookDependencyError, build, render_markdown, split_math
from deepnotes.notes.catalogue import load_catalogue
from deepnotes.notes.result import CONTRADICTS, PARTLY

EXPERIMENTS = ["focal_loss_easy_negatives", "xavier_vs_he_variance", "sigmoid_vs_relu_gradients"]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# ----------------------------------------------------------------------------------------------------------
# helpers


class _Page(HTMLParser):
    """Links (tag, attribute, value), ids and the text of one HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links, self.ids, self.tags, self.text = [], set(), [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            if attrs.get(key) is not None:
                self.links.append((tag, key, attrs[key]))

    def handle_data(self, data):
        self.text.append(data)


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def _count_run_calls(monkeypatch):
    calls = []
    real = exps.run

    def counting(name, seed=0, quick=False):
        calls.append(name)
        return real(name, seed=seed, quick=quick)

    monkeypatch.setattr(exps, "run", counting)
    return calls


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The whole catalogue with three quick experiments; returns (folder, report, run calls)."""
    out = tmp_path_factory.mktemp("book") / "site"
    with pytest.MonkeyPatch.context() as mp:
        calls = _count_run_calls(mp)
        report = build(out, quick=True, experiments=EXPERIMENTS)
    return out, report, calls


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


TINY = {
    "losses.toml": """
        [[entry]]
        id = "S000-02"
        kind = "implement+claim"
        title = "说一下Focal loss"
        gloss = "What is focal loss?"
        answer = "Focal loss scales CE by $(1-p_t)^\\\\gamma$:\\n$$FL = -(1-p_t)^\\\\gamma \\\\log p_t$$"
        code = ["deepnotes.nn.functional.cross_entropy", "deepnotes.nn.no_such_thing"]
        experiment = "xavier_vs_he_variance"

        [[entry]]
        id = "S001-93"
        kind = "implement+claim"
        title = "Focal Loss 损失函数介绍"
        gloss = "Focal loss again"
        repeat_of = "S000-02"
    """,
    "practice.toml": """
        [[entry]]
        id = "S000-04"
        kind = "claim"
        title = "需要 ImageNet"
        gloss = "A claim that needs ImageNet"
        answer = "It depends."
        not_measurable = "needs ImageNet and GPUs"
    """,
}


@pytest.fixture
def tiny(tmp_path):
    folder = tmp_path / "catalogue"
    folder.mkdir()
    for name, text in TINY.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return load_catalogue(folder)


# ----------------------------------------------------------------------------------------------------------
# formulas and Markdown


def test_split_math_keeps_code_and_escaped_dollars():
    text = "cost $a_b$ and `x = $y$` plus ``a ` $ b`` and \\$5, then\n$$\\frac{1}{2}$$ end"
    body, formulas = split_math(text)
    assert formulas == [("a_b", False), ("\\frac{1}{2}", True)]
    assert "`x = $y$`" in body and "``a ` $ b``" in body and "&#36;5" in body
    assert "$" not in body.replace("`x = $y$`", "").replace("``a ` $ b``", "")


@pytest.mark.parametrize("text", ["a $b", "a $$b$ c", "empty $$ $$ here"])
def test_split_math_rejects_unclosed_or_empty_formulas(text):
    with pytest.raises(ValueError, match="unclosed|empty formula"):
        split_math(text)


def test_render_markdown_formulas_are_mathml_and_escaped():
    problems = []
    html = render_markdown("If $a<b$ and $x_1*y*z_2$, *emph*; `p$q`.\n\n$$\\sum_i w_i$$\n", problems, "t")
    assert problems == []
    maths = re.findall(r"<math [^>]*>.*?</math>", html, flags=re.S)
    assert len(maths) == 3
    assert 'display="block"' in maths[2] and 'display="inline"' in maths[0] and 'display="inline"' in maths[1]
    assert "&lt;" in maths[0] and "<em>" not in maths[1] and "<msub><mi>z</mi><mn>2</mn>" in maths[1]
    assert 'alttext="a&lt;b"' in maths[0]
    assert "<em>emph</em>" in html and "<code>p$q</code>" in html
    assert '<div class="display"><math' in html


def test_render_markdown_reports_a_formula_it_cannot_convert():
    problems = []
    html = render_markdown("see $\\arg x$", problems, "S9")
    assert len(problems) == 1 and problems[0].startswith("S9: formula") and "\\arg" in problems[0]
    assert '<code class="tex">\\arg x</code>' in html


# ----------------------------------------------------------------------------------------------------------
# the full book, parsed in Python


@pytest.mark.slow
@pytest.mark.xdist_group("book_site")  # one build of the site per worker
def test_every_entry_has_a_page_and_every_formula_converted(site, catalogue):
    out, report, _ = site
    assert report.formula_problems == []
    assert report.unresolved_code == []
    for e in catalogue:
        page = out / "entries" / f"{e.id}.html"
        html = page.read_text(encoding="utf-8")
        text = "".join(parse(page).text)
        assert e.title in text and e.gloss in text, e.id
        if e.is_repeat:
            first = catalogue.resolve(e.id)
            assert f'href="{first.id}.html"' in html, e.id
            assert "<math" not in html
        else:
            expected = len(split_math(e.answer)[1]) + len(split_math(e.notes_wrong or "")[1])
            assert html.count("<math ") == expected, e.id
            assert not re.search(r"(?<![\\`])\$[^$]*\$", re.sub(r"<code>.*?</code>", "", html, flags=re.S)), e.id
    assert len(list((out / "entries").glob("*.html"))) == len(catalogue)


@pytest.mark.slow
@pytest.mark.xdist_group("book_site")  # one build of the site per worker
def test_every_internal_link_and_fragment_resolves(site):
    out, report, _ = site
    pages = sorted(out.rglob("*.html"))
    assert len(pages) == report.pages
    parsed = {p.resolve(): parse(p) for p in pages}
    checked = 0
    for path, page in parsed.items():
        for tag, _attr, value in page.links:
            parts = urlsplit(value)
            if parts.scheme or parts.netloc:
                # only plain links may leave the site; styles, scripts and images are local files
                assert tag == "a" and parts.scheme in ("http", "https"), (path, value)
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            assert target.is_file(), f"{path.relative_to(out)}: {value} -> missing {target}"
            assert out.resolve() in target.parents, (path, value)
            if parts.fragment:
                assert parts.fragment in parsed[target].ids, f"{path.relative_to(out)}: {value}"
            checked += 1
    assert checked > 2000


@pytest.mark.slow
@pytest.mark.xdist_group("book_site")  # one build of the site per worker
def test_each_experiment_ran_once_and_every_entry_shows_its_result(site, catalogue):
    out, report, calls = site
    assert sorted(calls) == sorted(EXPERIMENTS)
    assert sorted(report.results) == sorted(EXPERIMENTS) and report.errors == {}
    used = {e.experiment for e in catalogue if e.experiment}
    assert sorted(report.not_run) == sorted(used - set(EXPERIMENTS))
    for e in catalogue:
        first = catalogue.resolve(e.id)
        if not first.experiment or e.is_repeat:
            continue
        html = (out / "entries" / f"{e.id}.html").read_text(encoding="utf-8")
        text = "".join(parse(out / "entries" / f"{e.id}.html").text)
        if first.experiment in report.results:
            result = report.results[first.experiment]
            assert 'class="verdict v-' in html and f">{result.verdict}</span>" in html, e.id
            for check in result.checks:
                assert check.name in text, e.id
            for fig in result.figures:
                assert (out / "figures" / f"{first.experiment}-{fig.name}.png").is_file()
                assert f"../figures/{first.experiment}-{fig.name}.png" in html
        else:
            assert "Not run: this book was built without running experiments" in html, e.id
    pngs = list((out / "figures").glob("*.png"))
    assert len(pngs) == report.figures == sum(len(r.figures) for r in report.results.values())
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


@pytest.mark.slow
@pytest.mark.xdist_group("book_site")  # one build of the site per worker
def test_claims_page_lists_exactly_the_contested_claims_with_their_failing_checks(site, catalogue):
    out, report, _ = site
    contested = {n: r for n, r in report.results.items() if r.verdict in (CONTRADICTS, PARTLY)}
    assert contested and len(contested) < len(report.results)  # the test needs both kinds
    page = parse(out / "claims.html")
    html = (out / "claims.html").read_text(encoding="utf-8")
    cards = {tag_attrs["id"] for tag, tag_attrs in page.tags if tag == "section" and "id" in tag_attrs}
    assert cards == set(contested)
    for name, result in contested.items():
        card = html[html.index(f'<section class="claim-card" id="{name}">') :]
        card = card[: card.index("</section>")]
        for check in result.checks:
            if not check.passed:
                assert f'<tr class="fails">\n  <td>{check.name}' in card.replace("&#39;", "'"), (name, check.name)
        for e in catalogue.for_experiment(name):
            assert f'href="entries/{e.id}.html"' in card
        for fig in result.figures:
            assert f"figures/{name}-{fig.name}.png" in card


@pytest.mark.slow
@pytest.mark.xdist_group("book_site")  # one build of the site per worker
def test_code_links_point_to_api_pages(site, catalogue):
    out, _, _ = site
    entry = catalogue.get("S000-02")
    html = (out / "entries" / "S000-02.html").read_text(encoding="utf-8")
    for name in entry.code:
        assert f'href="../api/{name}.html"' in html
        api = (out / "api" / f"{name}.html").read_text(encoding="utf-8")
        assert 'href="../entries/S000-02.html"' in api
    api = (out / "api" / "deepnotes.nn.functional.sigmoid_focal_loss.html").read_text(encoding="utf-8")
    assert "deepnotes/nn/functional" in api and "(inputs, targets, alpha=0.25" in api and "Cited by" in api


# ----------------------------------------------------------------------------------------------------------
# building: no-run, failures, the output folder, missing packages


def test_no_run_build_says_not_run(tmp_path, tiny, monkeypatch):
    calls = _count_run_calls(monkeypatch)
    report = build(tmp_path / "b", run_experiments=False, catalogue=tiny)
    assert calls == [] and report.results == {} and report.not_run == ["xavier_vs_he_variance"]
    out = tmp_path / "b"
    entry = (out / "entries" / "S000-02.html").read_text(encoding="utf-8")
    assert "Not run: this book was built without running experiments" in entry
    assert '<span class="verdict v-notrun">not run</span>' in entry
    assert entry.count("<math ") == 2
    assert 'href="../api/deepnotes.nn.functional.cross_entropy.html"' in entry
    assert '<code>deepnotes.nn.no_such_thing</code> <span class="meta">(does not import)</span>' in entry
    assert report.unresolved_code == ["deepnotes.nn.no_such_thing"]
    assert "needs ImageNet and GPUs" in (out / "entries" / "S000-04.html").read_text(encoding="utf-8")
    assert "experiments were not run for this build" in (out / "claims.html").read_text(encoding="utf-8")
    assert list((out / "figures").iterdir()) == []
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count('<li class="entry"') == 3 and "repeat of S000-02" in index


def test_a_failing_experiment_is_reported_and_the_others_still_build(tmp_path, tiny, monkeypatch):
    def broken(name, seed=0, quick=False):
        raise RuntimeError("boom")

    monkeypatch.setattr(exps, "run", broken)
    report = build(tmp_path / "b", catalogue=tiny)
    assert report.errors == {"xavier_vs_he_variance": "RuntimeError: boom"} and report.results == {}
    entry = (tmp_path / "b" / "entries" / "S000-02.html").read_text(encoding="utf-8")
    assert "The experiment failed: RuntimeError: boom" in entry
    assert "1 failed" in report.summary()


def test_build_replaces_an_earlier_book_but_not_other_folders(tmp_path, tiny):
    out = tmp_path / "b"
    build(out, run_experiments=False, catalogue=tiny)
    (out / "entries" / "S999-99.html").write_text("stale", encoding="utf-8")
    build(out, run_experiments=False, catalogue=tiny)
    assert not (out / "entries" / "S999-99.html").exists() and (out / "index.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "catalogue"]  # no temporary folder left

    other = tmp_path / "other"
    other.mkdir()
    (other / "thesis.tex").write_text("mine", encoding="utf-8")
    with pytest.raises(ValueError, match="not empty and is not a book"):
        build(other, run_experiments=False, catalogue=tiny)
    assert [p.name for p in other.iterdir()] == ["thesis.tex"]
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        build(tmp_path / "c", catalogue=tiny, experiments=["nope"])
    with pytest.raises(TypeError, match="list of names"):
        build(tmp_path / "c", catalogue=tiny, experiments="xavier_vs_he_variance")
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("module", ["jinja2", "markdown", "latex2mathml", "matplotlib"])
def test_a_missing_package_names_the_book_extra(tmp_path, tiny, monkeypatch, module):
    for name in list(sys.modules):
        if name == module or name.startswith(module + "."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(BookDependencyError, match=r"pip install 'deepnotes\[book\]'") as info:
        build(tmp_path / "b", catalogue=tiny)
    assert book_mod.REQUIRED[module] in str(info.value)
    assert isinstance(info.value, ImportError)
    assert not (tmp_path / "b").exists()


# ----------------------------------------------------------------------------------------------------------
# the book in a real browser


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: apt-get install chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh page that records console errors, script errors and any request that is not a local file."""
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    pg = context.new_page()
    pg.problems = []
    pg.on(
        "console",
        lambda m: pg.problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
    pg.on("requestfailed", lambda r: pg.problems.append(f"request failed: {r.url}"))
    pg.on("request", lambda r: None if r.url.startswith("file://") else pg.problems.append(f"network: {r.url}"))
    yield pg
    context.close()


def _visible_entries(pg):
    return pg.eval_on_selector_all(
        "li.entry", "els => els.filter(e => e.offsetParent !== null).map(e => e.getAttribute('data-text'))"
    )


@pytest.mark.slow
@pytest.mark.xdist_group("book_site")  # one build of the site per worker
def test_index_loads_cleanly_and_the_filter_narrows_the_list(site, catalogue, page):
    out, _, _ = site
    page.goto((out / "index.html").as_uri())
    assert len(_visible_entries(page)) == len(catalogue)
    page.fill("#filter", "focal")
    shown = _visible_entries(page)
    assert 0 < len(shown) < len(catalogue) and all("focal" in t for t in shown)
    assert sorted(shown) == sorted(
        t
        for t in page.eval_on_selector_all("li.entry", "els => els.map(e => e.getAttribute('data-text'))")
        if "focal" in t
    )
    assert page.text_content("#count") == f"{len(shown)} of {len(catalogue)} entries"
    page.fill("#filter", "  LOSS  S001-93 ")  # words in any order, any case
    assert len(_visible_entries(page)) == 1
    page.fill("#filter", "qqqzzz")
    assert _visible_entries(page) == [] and page.is_visible("#none")
    assert page.eval_on_selector_all("section.topic", "els => els.every(s => s.hidden)")
    page.fill("#filter", "")
    assert len(_visible_entries(page)) == len(catalogue) and not page.is_visible("#none")
    assert page.problems == []


@pytest.mark.slow
@pytest.mark.xdist_group("book_site")  # one build of the site per worker
def test_entry_page_shows_formulas_as_mathml_and_its_figure(site, page):
    out, report, _ = site
    page.goto((out / "entries" / "S000-02.html").as_uri())
    page.wait_for_load_state("load")
    boxes = page.eval_on_selector_all(
        "math",
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return [r.width, r.height, getComputedStyle(e).display]; })",
    )
    assert len(boxes) >= 5
    assert all(w > 0 and h > 0 for w, h, _ in boxes)
    assert all("math" in display for _, _, display in boxes)  # laid out by the MathML engine
    assert any(display.startswith("block") for _, _, display in boxes)
    widths = page.eval_on_selector_all("figure img", "els => els.map(e => [e.complete, e.naturalWidth])")
    assert len(widths) == len(report.results["focal_loss_easy_negatives"].figures) >= 1
    assert all(done and w > 0 for done, w in widths)
    assert page.is_visible(".verdict")
    assert page.problems == []


@pytest.mark.parametrize("start", ["entries/S000-02.html", "claims.html", "index.html"])
@pytest.mark.slow
@pytest.mark.xdist_group("book_site")  # one build of the site per worker
def test_sampled_links_open_in_the_browser(site, page, start):
    out, _, _ = site
    page.goto((out / start).as_uri())
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    targets = sorted({h for h in hrefs if h.startswith("file://")})
    if start == "index.html":
        targets = targets[:25]
    assert len(targets) >= 5
    for url in targets:
        page.goto(url)  # a missing file raises net::ERR_FILE_NOT_FOUND
        fragment = urlsplit(url).fragment
        assert page.title(), url
        if fragment:
            assert page.eval_on_selector_all(f"[id='{fragment}']", "els => els.length") == 1, url
    assert page.problems == []


# ----------------------------------------------------------------------------------------------------------
# the command line


def _notes_cli(argv):
    from deepnotes.cli import main

    return main(["notes"] + argv)


def test_cli_builds_the_book(tmp_path, tiny, capsys):
    code = _notes_cli(["--catalogue", str(tiny.directory), "build", str(tmp_path / "b"), "--quick"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "experiments: 1 run (1 supports), 0 failed, 0 not run" in out and "[1/1] xavier_vs_he_variance" in err
    assert f"open {(tmp_path / 'b' / 'index.html').as_uri()}" in out
    entry = (tmp_path / "b" / "entries" / "S000-02.html").read_text(encoding="utf-8")
    assert '<span class="verdict v-supports">supports</span>' in entry and "Quick run" in entry

    code = _notes_cli(["--catalogue", str(tiny.directory), "build", str(tmp_path / "b"), "--no-run"])
    assert code == 0 and "0 run (none run), 0 failed, 1 not run" in capsys.readouterr().out

    code = _notes_cli(["--catalogue", str(tiny.directory), "build", str(tiny.directory), "--no-run"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and "is not a book built by deepnotes" in err


def test_cli_names_the_missing_extra_in_one_line(tmp_path, tiny, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "markdown", None)
    code = _notes_cli(["--catalogue", str(tiny.directory), "build", str(tmp_path / "b"), "--no-run"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == (
        "deepnotes notes build: error: the book needs Markdown, which is not installed: pip install 'deepnotes[book]'\n"
    )
    assert not (tmp_path / "b").exists()
