"""The documentation site builds with warnings as errors (as `make docs` does), its API
reference documents every public name, and its pages cite only files the repository holds."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

from tests.test_public_api import PUBLIC

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_docs_build_and_list_every_public_name(tmp_path):
    out = tmp_path / "html"
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           str(ROOT / "docs"), str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    api = "".join(p.read_text() for p in (out / "api" / "generated").glob("*.html"))
    missing = [name for name in PUBLIC if f'id="{name}"' not in api]
    assert not missing, f"not in the API reference: {missing}"
    for page in ("getting_started", "papers", "results", "notes/lla", "notes/rl"):
        assert (out / f"{page}.html").exists(), page
    rendered = sorted(p.stem for p in (out / "colabs" / "generated").glob("*.html"))
    assert rendered == sorted(p.stem for p in (ROOT / "colabs").glob("*.ipynb"))


def test_docs_links_point_inside_the_repository():
    for page in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        if "generated" in page.parts:
            continue
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to missing {target}"


def _source_files():
    for folder in ("bvjax", "pallas_kernels", "launch", "tests", "colabs", "docs"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in (".py", ".md", ".ipynb") and "generated" not in path.parts and "_build" not in path.parts:
                yield path
    yield from (ROOT / name for name in ("README.md", "CONTRIBUTING.md", "CHANGELOG.md", "Makefile", "setup.cfg"))


def test_sources_cite_only_documents_the_repository_holds():
    notes = "STYLE" + ".md|DESIGN" + ".md|spec/(?:lla|rl|stats|losses)" + r"\.md"
    for path in _source_files():
        text = path.read_text()
        assert not re.search(notes, text), f"{path.relative_to(ROOT)} cites a document the repository lacks"
        # docs/source/... is another project's layout (TRL's documentation, cited by the preference tests).
        for cited in re.findall(r"\bdocs/(?!source/)[\w/]+\.md\b", text):
            assert (ROOT / cited).exists(), f"{path.relative_to(ROOT)} cites missing {cited}"
