"""The project's layering: the library reads no environment, and the bottom layer
(`bvjax._numerics`, `bvjax._dispatch`) is importable on its own by the kernels."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LIBRARY = sorted((ROOT / "bvjax").rglob("*.py")) + sorted((ROOT / "pallas_kernels").rglob("*.py"))


def _environment_reads(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv", "unsetenv")
                and isinstance(node.value, ast.Name) and node.value.id == "os"):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: os.{node.attr}")
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            names = {a.name for a in node.names} & {"environ", "getenv"}
            found += [f"{path.relative_to(ROOT)}:{node.lineno}: from os import {n}" for n in names]
    return found


def test_library_reads_no_environment():
    found = [line for path in LIBRARY for line in _environment_reads(path)]
    assert not found, "library code reads the process environment:\n" + "\n".join(found)


@pytest.mark.parametrize("module", ["pallas_kernels.flash_lla", "pallas_kernels.grouped_advantage",
                                    "bvjax._numerics", "bvjax._dispatch", "bvjax"])
def test_each_module_imports_first_in_a_fresh_interpreter(module):
    # The kernels import the library's bottom layer and the library dispatches to the kernels:
    # whichever a user imports first, both must load.
    code = f"import {module}; import bvjax.attention, bvjax.rl, pallas_kernels.flash_lla, pallas_kernels.grouped_advantage"
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True,
                         timeout=120,
                         env={"JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]


def _private_kernel_uses(path: pathlib.Path) -> list[str]:
    """Uses of a private (``_name``) attribute of a pallas_kernels module, other than ``_common``'s
    (the kernels' own helper module, which the library does not import either)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    aliases, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pallas_kernels"):
            if any(part.startswith("_") for part in node.module.split(".")):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: from {node.module} import ...")
            for a in node.names:
                if a.name.startswith("_"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: from {node.module} import {a.name}")
                elif node.module == "pallas_kernels":
                    aliases.add(a.asname or a.name)
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("pallas_kernels"):
                    if any(part.startswith("_") for part in a.name.split(".")):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno}: import {a.name}")
                    aliases.add(a.asname or a.name.split(".")[0])
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name) and node.value.id in aliases):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_library_uses_no_private_kernel_name():
    found = [line for path in sorted((ROOT / "bvjax").rglob("*.py")) for line in _private_kernel_uses(path)]
    assert not found, "bvjax reaches into private names of pallas_kernels:\n" + "\n".join(found)
