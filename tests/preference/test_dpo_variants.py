"""hinge_dpo_loss, robust_dpo_loss and f_dpo_loss against float64 NumPy.

References written here: the definitions (hinge on the margin; robust DPO's debiased
combination of Chowdhury et al.; f-DPO's f'(u) written as functions of u), and a
transcription of TRL's ``DPOTrainer`` scores (``f_divergence_type``) and ``loss_type``
branches ``"sigmoid"``, ``"hinge"``, ``"robust"``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from bvjax.preference import dpo_loss, f_dpo_loss, hinge_dpo_loss, robust_dpo_loss


def logsig(x):
    return -np.logaddexp(0.0, -np.asarray(x, np.float64))


def draw(seed, n=32, scale=2.0):
    rng = np.random.default_rng(seed)
    return tuple(rng.normal(-10.0, scale, n) for _ in range(4))


def f32(*xs):
    return tuple(jnp.asarray(x, jnp.float32) for x in xs)


# ---- definitions, in terms of u = pi / pi_ref
def f_prime(u, divergence, alpha):
    if divergence == "reverse_kl":
        return np.log(u)
    if divergence == "forward_kl":
        return 1.0 - 1.0 / u
    if divergence == "js_divergence":
        return np.log(2.0 * u / (1.0 + u))
    return (u ** (alpha - 1.0) - 1.0) / (alpha - 1.0)


def np_f_dpo(pc, pr, rc, rr, beta, divergence, alpha):
    uw, ul = np.exp(pc - rc), np.exp(pr - rr)
    return -logsig(beta * (f_prime(uw, divergence, alpha) - f_prime(ul, divergence, alpha)))


# ---- TRL, transcribed
def trl_scores(lr, divergence, alpha):
    if divergence == "reverse_kl":
        return lr
    if divergence == "forward_kl":
        return -np.exp(-lr)
    if divergence == "js_divergence":
        return logsig(lr)
    if abs(alpha - 1.0) < 1e-6:
        return lr
    return np.exp(np.minimum((alpha - 1.0) * lr, 80.0)) / (alpha - 1.0)


def trl_loss(pc, pr, rc, rr, beta, loss_type, eps=0.0, divergence="reverse_kl", alpha=0.5):
    delta = trl_scores(pc - rc, divergence, alpha) - trl_scores(pr - rr, divergence, alpha)
    if loss_type == "sigmoid":
        return -logsig(beta * delta)
    if loss_type == "hinge":
        return np.maximum(0.0, 1.0 - beta * delta)
    clean = -(1 - eps) * logsig(beta * delta)
    flipped = -eps * logsig(-beta * delta)
    return (clean - flipped) / (1 - 2 * eps)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("beta", [0.1, 0.5, 2.0])
def test_hinge_matches_definition_and_trl(jit, beta):
    args = draw(0)
    h = (args[0] - args[2]) - (args[1] - args[3])
    fn = jax.jit(hinge_dpo_loss, static_argnames="beta") if jit else hinge_dpo_loss
    out = fn(*f32(*args), beta=beta)
    np.testing.assert_allclose(out, np.maximum(0.0, 1.0 - beta * h), rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(out, trl_loss(*args, beta, "hinge"), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("beta,eps", [(0.1, 0.0), (0.5, 0.1), (2.0, 0.3), (1.0, 0.49)])
def test_robust_matches_definition_and_trl(jit, beta, eps):
    args = draw(1)
    h = (args[0] - args[2]) - (args[1] - args[3])
    ref = ((1 - eps) * -logsig(beta * h) - eps * -logsig(-beta * h)) / (1 - 2 * eps)
    fn = jax.jit(robust_dpo_loss, static_argnames=("beta", "label_smoothing")) if jit else robust_dpo_loss
    out = fn(*f32(*args), beta=beta, label_smoothing=eps)
    np.testing.assert_allclose(out, ref, rtol=2e-5, atol=5e-5)
    np.testing.assert_allclose(out, trl_loss(*args, beta, "robust", eps=eps), rtol=2e-5, atol=5e-5)


def test_robust_is_unbiased_under_label_flips():
    # E over a flip with probability eps of the robust loss = the clean DPO loss.
    args = f32(*draw(2, n=8))
    eps = 0.2
    swapped = (args[1], args[0], args[3], args[2])
    expected = (1 - eps) * robust_dpo_loss(*args, label_smoothing=eps) + eps * robust_dpo_loss(*swapped,
                                                                                                label_smoothing=eps)
    np.testing.assert_allclose(expected, dpo_loss(*args), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(robust_dpo_loss(*args), dpo_loss(*args), rtol=1e-6)


DIVERGENCES = [("reverse_kl", 0.5), ("forward_kl", 0.5), ("js_divergence", 0.5), ("alpha_divergence", 0.5),
               ("alpha_divergence", 0.2), ("alpha_divergence", 1.7), ("alpha_divergence", 1.0)]


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("divergence,alpha", DIVERGENCES)
def test_f_dpo_matches_definition_and_trl(jit, divergence, alpha):
    rng = np.random.default_rng(3)
    pc, pr, rc, rr = (rng.normal(-10.0, 1.0, 32) for _ in range(4))
    fn = jax.jit(f_dpo_loss, static_argnames=("beta", "divergence", "alpha")) if jit else f_dpo_loss
    out = fn(*f32(pc, pr, rc, rr), beta=0.7, divergence=divergence, alpha=alpha)
    ref_alpha = 1.0 + 1e-9 if alpha == 1.0 else alpha  # the limit alpha -> 1 is the reverse KL
    ref = np_f_dpo(pc, pr, rc, rr, 0.7, divergence if alpha != 1.0 else "reverse_kl", ref_alpha)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)
    trl = trl_loss(pc, pr, rc, rr, 0.7, "sigmoid", divergence=divergence, alpha=alpha)
    np.testing.assert_allclose(out, trl, rtol=1e-4, atol=1e-5)


def test_f_dpo_special_cases_and_reverse_kl_is_dpo():
    args = f32(*draw(4))
    np.testing.assert_allclose(f_dpo_loss(*args, beta=0.3), dpo_loss(*args, beta=0.3), rtol=1e-6)
    # alpha = 0 in this parametrisation is the forward KL.
    np.testing.assert_allclose(f_dpo_loss(*args, divergence="alpha_divergence", alpha=0.0),
                               f_dpo_loss(*args, divergence="forward_kl"), rtol=1e-5)
    with pytest.raises(ValueError, match="divergence"):
        f_dpo_loss(*args, divergence="chi2")


def test_gradients():
    args = f32(*draw(5, n=3, scale=1.0))
    args = tuple(a + 9.5 for a in args)  # log-ratios near 0, where every score is smooth
    check_grads(lambda *a: hinge_dpo_loss(*a, beta=0.2), args, order=1, modes=["rev"], atol=1e-2, rtol=1e-2)
    check_grads(lambda *a: robust_dpo_loss(*a, beta=0.7, label_smoothing=0.2), args, order=2, modes=["rev"],
                atol=1e-2, rtol=1e-2)
    for divergence, alpha in DIVERGENCES[:5]:
        check_grads(lambda *a, d=divergence, al=alpha: f_dpo_loss(*a, beta=0.7, divergence=d, alpha=al), args,
                    order=2, modes=["rev"], atol=1e-2, rtol=1e-2)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4, width=32), min_size=4, max_size=4), st.floats(1e-3, 10.0),
       st.floats(0.0, 0.45), st.sampled_from(DIVERGENCES))
def test_hypothesis_extremes_finite(vals, beta, eps, div):
    args = tuple(np.array([v], np.float32) for v in vals)
    assert np.all(np.isfinite(hinge_dpo_loss(*args, beta=beta)))
    assert np.all(np.isfinite(robust_dpo_loss(*args, beta=beta, label_smoothing=eps)))
    out = f_dpo_loss(*args, beta=beta, divergence=div[0], alpha=div[1])
    assert np.all(np.isfinite(out)) and np.all(out >= 0)
    grads = jax.grad(lambda a: f_dpo_loss(a, *args[1:], beta=beta, divergence=div[0], alpha=div[1]).sum())(args[0])
    assert np.all(np.isfinite(grads))


def test_contract():
    args = f32(*draw(6, n=3))
    with pytest.raises(ValueError, match="label_smoothing"):
        robust_dpo_loss(*args, label_smoothing=0.5)
    with pytest.raises(ValueError, match="beta"):
        hinge_dpo_loss(*args, beta=0.0)
    with pytest.raises(ValueError, match="policy_rejected_logps"):
        f_dpo_loss(args[0], args[1][:2], args[2], args[3])
