"""LLA's shared algebra (`bvjax._lla_math`): the CG solver, the batched solve, the dual form,
and the structure around it (one home, no reach-ins, one LU call per program)."""

from __future__ import annotations

import ast
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax import _lla_math as lla
from bvjax import attention

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _spd_rows(seed, rows, d, spread):
    """``rows`` SPD systems ``A_r [d, d]`` with eigenvalues in [1, spread], and right-hand sides."""
    rng = np.random.default_rng(seed)
    mats = []
    for _ in range(rows):
        qmat, _ = np.linalg.qr(rng.standard_normal((d, d)))
        mats.append(qmat @ np.diag(np.geomspace(1.0, spread, d)) @ qmat.T)
    return np.stack(mats), rng.standard_normal((rows, d))


@pytest.mark.parametrize("precondition", [False, True])
def test_cg_early_exit_is_the_fixed_iteration_result_and_solves(precondition):
    a, b = _spd_rows(0, 6, 5, 50.0)
    b[2] = 0.0  # a zero right-hand side never starts: x = 0
    with jax.enable_x64(True):
        a_j, b_j = jnp.asarray(a), jnp.asarray(b)
        matvec = lambda p: jnp.einsum("rij,rj->ri", a_j, p)
        diag = jnp.asarray(np.diagonal(a, axis1=1, axis2=2)) if precondition else None
        kw = {"iters": 40, "tol": 1e-13}
        fixed = np.asarray(jax.jit(lambda b_: lla.cg(matvec, b_, diag, early_exit=False, **kw))(b_j))
        early = np.asarray(jax.jit(lambda b_: lla.cg(matvec, b_, diag, early_exit=True, **kw))(b_j))
    np.testing.assert_array_equal(early, fixed)  # frozen rows do not move: same numbers
    np.testing.assert_allclose(fixed, np.linalg.solve(a, b[..., None])[..., 0], rtol=0, atol=1e-10)
    assert np.all(fixed[2] == 0.0)


def test_cg_early_exit_stops_when_every_row_has_frozen():
    a, b = _spd_rows(1, 4, 3, 10.0)
    with jax.enable_x64(True):
        a_j = jnp.asarray(a)
        calls = []

        def matvec(p):
            jax.debug.callback(lambda: calls.append(1))
            return jnp.einsum("rij,rj->ri", a_j, p)

        jax.block_until_ready(lla.cg(matvec, jnp.asarray(b), iters=50, tol=1e-12, early_exit=True))
    # A 3 x 3 system converges in about 3 iterations (a few more in floating point), not 50.
    assert 3 <= len(calls) <= 8, len(calls)


def test_solve_together_matches_separate_solves():
    rng = np.random.default_rng(2)
    a1 = rng.standard_normal((2, 5, 4, 4)) + 4 * np.eye(4)
    b1 = rng.standard_normal((2, 5, 4))
    a2 = rng.standard_normal((2, 3, 2, 2)) + 3 * np.eye(2)
    b2 = rng.standard_normal((2, 3, 2))
    with jax.enable_x64(True):
        x1, x2 = lla.solve_together(*(jnp.asarray(x) for x in (a1, b1, a2, b2)))
    np.testing.assert_allclose(np.asarray(x1), np.linalg.solve(a1, b1[..., None])[..., 0], atol=1e-12)
    np.testing.assert_allclose(np.asarray(x2), np.linalg.solve(a2, b2[..., None])[..., 0], atol=1e-12)


def _lu_calls(fn, *args):
    return jax.jit(fn).lower(*args).compile().as_text().count("getrf")


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="counts jaxlib's CPU LAPACK calls")
def test_one_lu_call_per_program_on_the_exact_and_decode_paths():
    # Two LU calls that XLA runs concurrently can deadlock jaxlib's CPU thread pool; the
    # few-key dual systems are solved in the main call.
    x = jnp.ones((1, 16, 2, 4))
    assert _lu_calls(lambda q: attention.local_linear_attention(q, q, q, implementation="xla"), x) == 1
    assert _lu_calls(lambda q: attention.local_linear_attention_decode(q[:, 0], q, q), x) == 1
    grad = jax.grad(lambda q: jnp.sum(attention.local_linear_attention(q, q, q, implementation="xla")))
    assert _lu_calls(grad, x) == 1


def _private_kernel_uses(path: pathlib.Path) -> list[str]:
    """``from pallas_kernels... import _x`` or ``alias._x`` with ``alias`` a pallas_kernels module."""
    tree = ast.parse(path.read_text())
    aliases, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pallas_kernels"):
            for a in node.names:
                if a.name.startswith("_"):
                    found.append(f"{path.name}:{node.lineno}: import {a.name}")
                aliases.add(a.asname or a.name)
        if isinstance(node, ast.Import):
            aliases |= {a.asname or a.name for a in node.names if a.name.startswith("pallas_kernels")}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name) and node.value.id in aliases):
            found.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "bvjax" / "attention").glob("*.py"))
                         + [ROOT / "bvjax" / "_lla_math.py"], ids=lambda p: p.name)
def test_attention_uses_no_private_kernel_name(path):
    assert not _private_kernel_uses(path)


@pytest.mark.parametrize("path", sorted((ROOT / "bvjax" / "attention").glob("*.py"))
                         + [ROOT / "bvjax" / "_lla_math.py", ROOT / "pallas_kernels" / "flash_lla.py"],
                         ids=lambda p: p.name)
def test_no_unbounded_cache_over_jitted_builders(path):
    text = path.read_text()
    assert "functools.cache" not in text and "lru_cache(maxsize=None)" not in text
