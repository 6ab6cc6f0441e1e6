"""The contract every public bvjax name keeps.

For every name in every ``__all__`` under ``bvjax``:
- functions have a docstring with ``Args:``, ``Returns:``, ``Examples:`` (with a
  doctest line) and ``References:``; they jit (static arguments from tests/api_cases.py;
  for optax transform factories, the transform's init and update jit); and a
  wrong-shaped data argument raises ValueError naming it;
- classes (result NamedTuples) have a docstring;
- every public function appears in the paper-to-function table (docs/papers.md).
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import pkgutil

import jax
import optax
import pytest

import bvjax
from tests.api_cases import CASES

PAPERS = pathlib.Path(__file__).resolve().parents[1] / "docs" / "papers.md"


def _public_names():
    names = {}
    for info in pkgutil.walk_packages(bvjax.__path__, prefix="bvjax."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                continue
            names[f"{info.name}.{name}"] = obj
    return names


PUBLIC = _public_names()
FUNCTIONS = {n: o for n, o in PUBLIC.items() if inspect.isfunction(o)}
CLASSES = {n: o for n, o in PUBLIC.items() if inspect.isclass(o)}


def test_there_is_a_public_api():
    assert "bvjax.diagnostics.bias_variance" in FUNCTIONS
    assert set(PUBLIC) == set(FUNCTIONS) | set(CLASSES), "public names must be functions or classes"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_docstring_template(name):
    doc = inspect.getdoc(FUNCTIONS[name]) or ""
    for section in ("Args:", "Returns:", "Examples:", "References:"):
        assert section in doc, f"{name}: docstring lacks {section!r}"
    assert ">>> " in doc.split("Examples:")[1], f"{name}: Examples has no doctest line"


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_class_docstring(name):
    assert inspect.getdoc(CLASSES[name]), f"{name}: no docstring"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_in_papers_table(name):
    short = name.rsplit(".", 1)[1]
    assert f"`{short}`" in PAPERS.read_text(), f"{name} is missing from docs/papers.md's paper-to-function table"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_has_case(name):
    assert name in CASES, f"{name}: add a Case to tests/api_cases.py"


def _run_transform(tx, case, jit):
    """init then one update of an optax transform, optionally under jit."""
    params = {"w": jax.numpy.arange(1.0, 4.0)}
    grads = jax.tree.map(lambda p: 0.1 * p, params)
    extra = case.update_kwargs(params) if case.update_kwargs else {}
    init, update = (jax.jit(tx.init), jax.jit(tx.update)) if jit else (tx.init, tx.update)
    return update(grads, init(params), params, **extra)


@pytest.mark.parametrize("name", sorted(set(FUNCTIONS) & set(CASES)))
def test_jits_and_matches_eager(name):
    fn, case = FUNCTIONS[name], CASES[name]
    args, kwargs = case.good()
    eager = fn(*args, **kwargs)
    if isinstance(eager, optax.GradientTransformation):
        eager, jitted = _run_transform(eager, case, jit=False), _run_transform(eager, case, jit=True)
    else:
        jitted = jax.jit(fn, static_argnames=case.static)(*args, **kwargs)
    for a, b in zip(jax.tree_util.tree_leaves(eager), jax.tree_util.tree_leaves(jitted)):
        assert jax.numpy.allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("name", sorted(set(FUNCTIONS) & set(CASES)))
def test_wrong_shape_raises_value_error_naming_argument(name):
    fn, case = FUNCTIONS[name], CASES[name]
    args, kwargs = case.bad()
    with pytest.raises(ValueError, match=case.bad_arg):
        fn(*args, **kwargs)
    with pytest.raises(ValueError, match=case.bad_arg):
        jax.jit(fn, static_argnames=case.static)(*args, **kwargs)
