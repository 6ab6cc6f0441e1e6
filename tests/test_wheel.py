"""The wheel as users get it.

Builds the wheel from a copy of this checkout (``pip wheel --no-deps --no-build-isolation``,
as ``make wheel`` does), creates a fresh virtual environment, installs the wheel there with
the notebooks' install cell (``colabs/install_cell.py`` with ``BVJAX_WHEEL`` pointing at
the wheel), and then, from a directory outside the checkout, imports every module of the
installed packages and runs the README's and the getting-started page's examples.

No network: the fresh environment sees the dependencies already installed here through a
directory of links to this environment's site-packages (bvjax's own entries left out), so
pip finds every requirement satisfied and installs the wheel alone.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
INSTALL_CELL = ROOT / "colabs" / "install_cell.py"
EXAMPLE_PAGES = (ROOT / "README.md", ROOT / "docs" / "getting_started.md")


def python_blocks(path):
    """The fenced ```python blocks of a markdown file, in order."""
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)


def _run(cmd, cwd, env, timeout=300):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    for package in ("bvjax", "pallas_kernels"):
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
          "--wheel-dir", str(out), str(src)], cwd=src, env=dict(os.environ))
    (path,) = out.glob("bvjax-*.whl")
    return path


def test_wheel_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {"bvjax", "pallas_kernels"} <= tops
    assert not tops & {"launch", "tests", "colabs", "docs"}, tops
    assert any(re.fullmatch(r"bvjax-[^/]+\.dist-info/licenses/LICENSE", n) for n in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    assert b"Requires-Dist: scikit-learn" in metadata


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh environment whose only route to the dependencies is a directory of links."""
    base = tmp_path_factory.mktemp("venv")
    env_dir = base / "env"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], cwd=base, env=dict(os.environ))
    deps = base / "deps"
    deps.mkdir()
    site = pathlib.Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        if entry.name.startswith(("bvjax", "__editable__", "pallas_kernels", "launch")) or entry.suffix == ".pth":
            continue
        (deps / entry.name).symlink_to(entry)
    python = env_dir / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                   cwd=base, env=dict(os.environ)).strip()
    pathlib.Path(purelib, "deps.pth").write_text(f"{deps}\n")
    return python


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", JAX_PLATFORMS="cpu", **extra)
    return env


def test_install_cell_then_examples_outside_checkout(wheel, venv, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    probe = [str(venv), "-c", "import importlib.util; print(importlib.util.find_spec('bvjax'))"]
    assert _run(probe, cwd=work, env=_clean_env()).strip() == "None"

    # The notebooks' install cell installs the wheel, then, with bvjax importable, does nothing
    # (a target that does not exist would fail if it ran pip again).
    _run([str(venv), str(INSTALL_CELL)], cwd=work, env=_clean_env(BVJAX_WHEEL=str(wheel)))
    _run([str(venv), str(INSTALL_CELL)], cwd=work, env=_clean_env(BVJAX_WHEEL=str(work / "absent.whl")))

    check = textwrap.dedent(f"""
        import importlib, importlib.util, pathlib, pkgutil, sys
        import bvjax, pallas_kernels
        for package in (bvjax, pallas_kernels):
            assert pathlib.Path(package.__file__).is_relative_to(sys.prefix), package.__file__
            for info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + "."):
                importlib.import_module(info.name)
        assert importlib.util.find_spec("launch") is None
        assert not pathlib.Path({str(ROOT)!r}).is_relative_to(pathlib.Path.cwd())
        print("modules ok")
        """)
    assert "modules ok" in _run([str(venv), "-c", check], cwd=work, env=_clean_env())
    for page in EXAMPLE_PAGES:
        for i, block in enumerate(python_blocks(page)):
            script = work / f"{page.stem}_{i}.py"
            script.write_text(block)
            _run([str(venv), str(script)], cwd=work, env=_clean_env())


def test_every_notebook_starts_with_the_install_cell():
    import nbformat

    cell = INSTALL_CELL.read_text().rstrip("\n")
    for path in sorted((ROOT / "colabs").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert code[0].source.rstrip("\n") == cell, f"{path.name}: first code cell is not colabs/install_cell.py"
