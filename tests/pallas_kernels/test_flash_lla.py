"""FlashLLA kernels in interpret mode against the exact reference (forward and gradients)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax import attention
from pallas_kernels import flash_lla as fl

SMALL = fl.BlockSizes(block_q=16, block_k=8, block_q_dkv=8, block_k_dkv=16)  # several tiles, unequal
# Per-dtype tolerances: float32 kernel vs float64 reference, bf16 vs float32.
TOL = {jnp.float32: {"rtol": 1e-5, "atol": 1e-5}, jnp.bfloat16: {"rtol": 2e-2, "atol": 2e-2}}
GRAD_TOL = {jnp.float32: {"rtol": 1e-4, "atol": 1e-4}, jnp.bfloat16: {"rtol": 1e-1, "atol": 1e-1}}


def _inputs(seed, bh, n, d, e, dtype):
    rng = np.random.default_rng(seed)
    q, k = (rng.normal(size=(bh, n, d)) for _ in range(2))
    v = rng.normal(size=(bh, n, e))
    ridge = rng.uniform(1.0, 10.0, size=(bh, n))
    return tuple(jnp.asarray(x, dtype) for x in (q, k, v)) + (jnp.asarray(ridge, jnp.float32),)


@functools.cache
def _kernel(causal=True, ridge_grad="full", precondition=False, block_sizes=SMALL):
    return jax.jit(functools.partial(fl.flash_lla, causal=causal, ridge_grad=ridge_grad, precondition=precondition,
                                     block_sizes=block_sizes, cg_iters=24, cg_tol=1e-7, interpret=True))


def _reference64(args, **kw):
    with jax.enable_x64(True):
        args64 = tuple(jnp.asarray(np.asarray(x, np.float64)) for x in args)
        return np.asarray(jax.jit(functools.partial(fl.flash_lla_reference, **kw))(*args64))


def _check_relative_close(got, want, rtol, atol):
    """|got - want| <= atol + rtol * max|want| (errors relative to the tensor's scale)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    scale = max(1.0, float(np.max(np.abs(want))))
    np.testing.assert_allclose(got, want, rtol=0, atol=atol + rtol * scale)


# (bh, n, d, e, causal, precondition): N=40 and N=13 are ragged (not multiples of 16 or 8).
SHAPES = [(2, 40, 8, 8, True, False), (1, 13, 4, 6, True, True), (1, 16, 8, 8, False, False)]


@pytest.mark.parametrize("bh,n,d,e,causal,precondition", SHAPES)
def test_forward_float32_matches_reference(bh, n, d, e, causal, precondition):
    args = _inputs(n, bh, n, d, e, jnp.float32)
    got = _kernel(causal=causal, precondition=precondition)(*args)
    assert got.shape == (bh, n, e) and got.dtype == jnp.float32
    _check_relative_close(got, _reference64(args, causal=causal), **TOL[jnp.float32])


def test_forward_bf16_matches_reference():
    args = _inputs(1, 1, 24, 8, 8, jnp.bfloat16)
    got = _kernel()(*args)
    assert got.dtype == jnp.bfloat16
    _check_relative_close(got, _reference64(args), **TOL[jnp.bfloat16])


@pytest.mark.parametrize("bh,n,d,e,causal,precondition,ridge_grad", [SHAPES[0] + ("full",), SHAPES[1] + ("stop",),
                                                                      SHAPES[2] + ("full",)])
def test_gradients_float32_match_reference(bh, n, d, e, causal, precondition, ridge_grad):
    args = _inputs(n + 1, bh, n, d, e, jnp.float32)
    cot = np.random.default_rng(0).normal(size=(bh, n, e))
    kern = _kernel(causal=causal, ridge_grad=ridge_grad, precondition=precondition)
    grads = jax.jit(lambda *a: jax.vjp(kern, *a)[1](jnp.asarray(cot, jnp.float32)))(*args)
    with jax.enable_x64(True):
        args64 = tuple(jnp.asarray(np.asarray(x, np.float64)) for x in args)
        ref = functools.partial(fl.flash_lla_reference, causal=causal, ridge_grad=ridge_grad)
        want = jax.jit(lambda *a: jax.vjp(ref, *a)[1](jnp.asarray(cot)))(*args64)
        want = [np.asarray(w) for w in want]
    for name, g, w in zip(("dq", "dk", "dv", "dridge"), grads, want):
        assert g.dtype == jnp.float32, name
        _check_relative_close(g, w, **GRAD_TOL[jnp.float32])


def test_gradients_bf16_match_reference():
    args = _inputs(2, 1, 16, 8, 8, jnp.bfloat16)
    cot = jnp.asarray(np.random.default_rng(1).normal(size=(1, 16, 8)), jnp.float32)
    grads = jax.jit(lambda *a: jax.vjp(_kernel(), *a)[1](cot.astype(jnp.bfloat16)))(*args)
    args32 = tuple(x.astype(jnp.float32) for x in args)
    want = jax.jit(lambda *a: jax.vjp(fl.flash_lla_reference, *a)[1](cot))(*args32)
    for g, w in zip(grads[:3], want[:3]):
        assert g.dtype == jnp.bfloat16
        _check_relative_close(g, w, **GRAD_TOL[jnp.bfloat16])


def test_no_nan_on_extreme_inputs():
    q, k, v, ridge = _inputs(5, 2, 40, 8, 8, jnp.float32)
    kern = _kernel()
    grad = jax.jit(jax.grad(lambda *a: jnp.sum(kern(*a)), argnums=(0, 1, 2, 3)))
    for name, args in {"huge logits": (1e3 * q, 1e3 * k, v, ridge), "zeros": (0 * q, 0 * k, v, ridge),
                       "tiny ridge": (q, k, v, 1e-6 * ridge)}.items():
        assert np.all(np.isfinite(np.asarray(kern(*args)))), name
        assert all(np.all(np.isfinite(np.asarray(g))) for g in grad(*args)), name
    # The first position returns v_0 exactly (a single key), whatever the ridge.
    np.testing.assert_allclose(np.asarray(kern(q, k, v, ridge))[:, 0], np.asarray(v)[:, 0], rtol=1e-5, atol=1e-6)


def test_public_dispatch_pallas_matches_xla():
    rng = np.random.default_rng(3)
    q, k, v = (jnp.asarray(rng.normal(size=(1, 12, 2, 8)), jnp.float32) for _ in range(3))
    kw = {"ridge": jnp.full((1, 12, 2), 3.0), "block_sizes": SMALL, "cg_iters": 24, "cg_tol": 1e-7}
    loss = lambda impl: lambda q_, r_: jnp.sum(jnp.sin(attention.local_linear_attention(
        q_, k, v, implementation=impl, **{**kw, "ridge": r_})))
    out_p = attention.local_linear_attention(q, k, v, implementation="pallas", **kw)
    out_x = attention.local_linear_attention(q, k, v, implementation="xla", **kw)
    _check_relative_close(out_p, out_x, rtol=1e-5, atol=1e-5)
    g_p = jax.jit(jax.grad(loss("pallas"), argnums=(0, 1)))(q, kw["ridge"])
    g_x = jax.jit(jax.grad(loss("xla"), argnums=(0, 1)))(q, kw["ridge"])
    for a, b in zip(g_p, g_x):
        _check_relative_close(a, b, rtol=1e-4, atol=1e-4)


def test_validation():
    z = jnp.zeros((1, 8, 4))
    with pytest.raises(ValueError, match="block_sizes.block_k"):
        fl.flash_lla(z, z, z, jnp.ones((1, 8)), block_sizes=fl.BlockSizes(block_k=24))
    with pytest.raises(ValueError, match="block_sizes.block_q"):
        fl.flash_lla(z, z, z, jnp.ones((1, 8)), block_sizes=fl.BlockSizes(block_q=4))
    with pytest.raises(ValueError, match="ridge"):
        fl.flash_lla(z, z, z, jnp.ones((1, 7)))
    with pytest.raises(ValueError, match="k"):
        fl.flash_lla(z, z[:, :4], z, jnp.ones((1, 8)))
    with pytest.raises(ValueError, match="ridge_grad"):
        fl.flash_lla(z, z, z, jnp.ones((1, 8)), ridge_grad="none")
    assert fl.BlockSizes.get_default() == fl.BlockSizes()


S = jax.ShapeDtypeStruct
SPECS = [S((2, 256, 64), jnp.float32)] * 3 + [S((2, 256), jnp.float32)]
LOWER_BLOCKS = fl.BlockSizes(128, 128, 128, 128)


@pytest.mark.parametrize("platform,custom_call", [("tpu", "tpu_custom_call"), ("cuda", "triton")])
@pytest.mark.parametrize("what", ["forward", "grad"])
def test_lowers_for_tpu_and_gpu(platform, custom_call, what):
    fn = functools.partial(fl.flash_lla, interpret=False, platform=platform, block_sizes=LOWER_BLOCKS)
    if what == "grad":
        fn = jax.grad(lambda *a, f=fn: jnp.sum(f(*a)), argnums=(0, 1, 2, 3))
    # The Triton custom call carries no cross-version compatibility guarantee; we only lower it here.
    disabled = [jax.export.DisabledSafetyCheck.custom_call("__gpu$xla.gpu.triton")]
    exported = jax.export.export(jax.jit(fn), platforms=[platform], disabled_checks=disabled)(*SPECS)
    # forward: one kernel; grad: forward, dQ and dK/dV kernels.
    assert exported.mlir_module().count(custom_call) >= (1 if what == "forward" else 3)


@pytest.mark.parametrize("platform,custom_call", [("tpu", "tpu_custom_call"), ("cuda", "triton")])
def test_lowers_default_blocks_bf16_ragged_variants(platform, custom_call):
    """Default blocks, bf16, N=200 (padded), E != D, Jacobi CG, bidirectional, stop-gradient."""
    fn = functools.partial(fl.flash_lla, interpret=False, platform=platform, precondition=True, causal=False,
                           ridge_grad="stop")
    grad = jax.grad(lambda *a: jnp.sum(fn(*a).astype(jnp.float32)), argnums=(0, 1, 2, 3))
    specs = [S((2, 200, 64), jnp.bfloat16)] * 2 + [S((2, 200, 32), jnp.bfloat16), S((2, 200), jnp.float32)]
    disabled = [jax.export.DisabledSafetyCheck.custom_call("__gpu$xla.gpu.triton")]
    exported = jax.export.export(jax.jit(grad), platforms=[platform], disabled_checks=disabled)(*specs)
    assert exported.mlir_module().count(custom_call) >= 3


def test_cost_estimate_matches_spec_example():
    # docs/notes/lla.md: n=4096, d=64, T=16 costs about 57 GFLOP per head forward, (10 + 6T) P d,
    # and 5 n d bytes of bf16 (2.6 MB) plus 12 n bytes of float32 statistics.
    cost = fl.flash_lla_cost(1, 4096, 64, 64, cg_iters=16, itemsize=2)["forward"]
    pairs = 4096 * 4097 // 2
    assert cost.flops == (10 + 6 * 16) * pairs * 64
    assert abs(cost.flops / 1e9 - 57) < 0.5
    assert cost.transcendentals == 18 * pairs
