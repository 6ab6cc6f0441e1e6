"""Sphinx configuration of the bvjax documentation site (`make docs`).

The API pages are written at build time from each subpackage's ``__all__`` (so a new public
name appears without editing the docs), and the notebooks in ``colabs/`` are rendered from
their saved outputs (myst-nb, never executed here).
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import pkgutil
import re
import shutil
import sys

DOCS = pathlib.Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import bvjax

project = "bvjax"
author = "the bvjax developers"
copyright = "the bvjax developers, Apache License 2.0"
release = version = bvjax.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "alabaster"
html_static_path: list[str] = []
html_theme_options = {"description": "The bias–variance trade-off, in JAX", "fixed_sidebar": True}

autodoc_typehints = "none"
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = [("Departures", "notes_style"), ("References", "notes_style")]

myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
nb_execution_mode = "off"          # notebooks show the outputs saved in colabs/
nb_merge_streams = True


def public_modules():
    """(subpackage name, [(public name, object)]) for every public bvjax subpackage."""
    out = []
    for info in pkgutil.walk_packages(bvjax.__path__, prefix="bvjax."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        names = [(n, getattr(module, n)) for n in getattr(module, "__all__", ())]
        names = [(n, o) for n, o in names if not inspect.ismodule(o)]
        if names:
            out.append((info.name, names))
    return out


def _write_api_pages():
    gen = DOCS / "api" / "generated"
    shutil.rmtree(gen, ignore_errors=True)
    gen.mkdir(parents=True)
    toc = []
    for module, names in public_modules():
        lines = [module, "=" * len(module), "", f".. automodule:: {module}", "   :no-members:", ""]
        lines += [".. list-table::", "   :header-rows: 0", ""]
        for name, _ in names:
            lines += [f"   * - :py:obj:`~{module}.{name}`"]
        lines.append("")
        for name, obj in names:
            directive = "autoclass" if inspect.isclass(obj) else "autofunction"
            lines += [f".. {directive}:: {module}.{name}", ""]
        (gen / f"{module}.rst").write_text("\n".join(lines))
        toc.append(f"generated/{module}")
    return toc


def _copy_notebooks():
    dest = DOCS / "colabs" / "generated"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for path in sorted((ROOT / "colabs").glob("*.ipynb")):
        shutil.copy(path, dest / path.name)


_ARXIV = re.compile(r"arXiv:? ?(\d{4}\.\d{4,5})")


def _link_arxiv(app, what, name, obj, options, lines):
    """Each docstring's arXiv ids become links to the paper (anonymous targets: no clashes)."""
    for i, line in enumerate(lines):
        lines[i] = _ARXIV.sub(lambda m: f"`arXiv {m.group(1)} <https://arxiv.org/abs/{m.group(1)}>`__", line)


def setup(app):
    app.connect("autodoc-process-docstring", _link_arxiv)


_write_api_pages()
_copy_notebooks()
