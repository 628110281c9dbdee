"""The API reference (pdoc over the docstrings) builds offline, without warnings, with a page per package,
and the notes book built beside it links its code pages into it."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import deepnotes

pytest.importorskip("pdoc")

_ROOT = Path(deepnotes.__file__).resolve().parent
# every package of the library (a folder with an __init__.py, however deep) and the core modules
PACKAGES = ["deepnotes", "deepnotes.tensor", "deepnotes.io", "deepnotes.amp"] + sorted(
    "deepnotes." + ".".join(init.parent.relative_to(_ROOT).parts) for init in _ROOT.rglob("*/__init__.py")
)


def build_api_docs(out):
    """The README's build command, run on the source tree under test; returns the captured output."""
    src = str(Path(deepnotes.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    proc = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-m", "pdoc", "-o", str(out), "deepnotes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return proc


# both tests read one build; under xdist they run in the same worker (--dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("api_docs")]


@pytest.fixture(scope="module")
def api_site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "api"
    proc = build_api_docs(out)
    yield out, proc
    shutil.rmtree(out.parent, ignore_errors=True)


def test_api_reference_builds_offline_without_warnings(api_site):
    out, proc = api_site
    assert proc.returncode == 0, proc.stderr[-4000:]
    # pdoc reports unresolvable references, bad docstrings and failed imports as warnings
    assert "warn" not in proc.stderr.lower(), proc.stderr[-4000:]
    for name in PACKAGES:
        page = out / (name.replace(".", "/") + ".html")
        assert page.is_file(), f"no API page for {name}"
    html = (out / "deepnotes/detection.html").read_text(encoding="utf-8")
    # a documented public function is there with its docstring
    assert 'id="soft_nms"' in html
    assert deepnotes.detection.soft_nms.__doc__.split("\n")[0].strip()[:40] in html
    # offline: nothing is fetched from another host (links to other sites are plain anchors)
    for page in [out / "index.html", out / "deepnotes/nn.html", out / "deepnotes/detection.html"]:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', text), page


def test_book_code_pages_link_into_the_api_reference(api_site, tmp_path, capsys):
    pytest.importorskip("jinja2")
    from deepnotes.cli import main

    site, proc = api_site
    assert proc.returncode == 0, proc.stderr[-4000:]
    book = site.parent / "book"  # built beside the reference, as the README says
    assert main(["notes", "build", str(book), "--no-run", "--api-docs", str(site)]) == 0
    summary = capsys.readouterr().out
    linked = int(re.search(r"(\d+) code page\(s\) link into the API reference", summary).group(1))
    pages = sorted((book / "api").glob("*.html"))
    assert linked >= len(pages) // 2, (linked, len(pages))  # most cited names are public and documented
    found = 0
    for page in pages:
        for href in re.findall(r'API reference: <a href="([^"]+)"', page.read_text(encoding="utf-8")):
            found += 1
            path, _, anchor = href.partition("#")
            target = (page.parent / path).resolve()
            assert target.is_file() and target.is_relative_to(site), (page.name, href)
            if anchor:
                assert f'id="{anchor}"' in target.read_text(encoding="utf-8"), (page.name, href)
    assert found == linked
    nms = (book / "api" / "deepnotes.detection.nms.nms.html").read_text(encoding="utf-8")
    assert (
        'href="../../api/deepnotes/detection/nms.html#nms"' in nms
        or 'href="../../api/deepnotes/detection.html#nms"' in nms
    )
    # a folder that is not a pdoc site is refused with a one-line error
    assert main(["notes", "build", str(tmp_path / "b"), "--no-run", "--api-docs", str(tmp_path)]) == 2
    assert "api_docs must be a folder written by 'python -m pdoc" in capsys.readouterr().err
