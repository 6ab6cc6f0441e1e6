"""bvjax's preference losses against TRL's published formulas, written here in float64 NumPy.

The formulas compared against (TRL documentation, `docs/source/dpo_trainer.md` and
`docs/source/orpo_trainer.md`, and `DPOTrainer.dpo_loss` / `ORPOTrainer.odds_ratio_loss`):

- DPO, ``loss_type="sigmoid"`` with ``label_smoothing`` ε (cDPO):
  ``-(1-ε)·logsigmoid(β·h) - ε·logsigmoid(-β·h)`` with
  ``h = (π_c - π_r) - (ref_c - ref_r)``;
- IPO, ``loss_type="ipo"``: ``(h - 1/(2β))²``, TRL's β playing IPO's τ (TRL first averages
  the log-probs over tokens; here the same numbers are passed to both sides, so the
  length convention does not enter);
- ORPO: ``log_odds = (c - r) - (log1p(-exp(c)) - log1p(-exp(r)))`` on mean per-token
  log-probs, loss ``nll - λ·logsigmoid(log_odds)``.

Where bvjax and TRL agree these must match to float tolerance; the one documented
departure (ORPO clamps a mean log-prob of exactly 0 to -1e-6) is kept out of range here.
"""

import jax.numpy as jnp
import numpy as np
import pytest

from bvjax.preference import dpo_loss, ipo_loss, orpo_loss


def logsigmoid(x):
    return -np.logaddexp(0.0, -x)


def draw(seed, n=64):
    rng = np.random.default_rng(seed)
    return tuple(rng.normal(-20.0, 5.0, n) for _ in range(4))


@pytest.mark.parametrize("beta, smoothing", [(0.1, 0.0), (0.5, 0.1), (2.0, 0.3)])
def test_dpo_matches_trl_sigmoid_loss(beta, smoothing):
    pc, pr, rc, rr = draw(0)
    h = (pc - pr) - (rc - rr)
    trl = -(1 - smoothing) * logsigmoid(beta * h) - smoothing * logsigmoid(-beta * h)
    ours = dpo_loss(*(jnp.asarray(x, jnp.float32) for x in (pc, pr, rc, rr)), beta=beta,
                    label_smoothing=smoothing)
    np.testing.assert_allclose(np.asarray(ours), trl, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("tau", [0.05, 0.1, 1.0])
def test_ipo_matches_trl_ipo_loss(tau):
    pc, pr, rc, rr = draw(1)
    h = (pc - pr) - (rc - rr)
    trl = (h - 1.0 / (2.0 * tau)) ** 2
    ours = ipo_loss(*(jnp.asarray(x, jnp.float32) for x in (pc, pr, rc, rr)), tau=tau)
    np.testing.assert_allclose(np.asarray(ours), trl, rtol=2e-5, atol=2e-4)


@pytest.mark.parametrize("lam", [0.1, 1.0])
def test_orpo_matches_trl_odds_ratio_loss(lam):
    rng = np.random.default_rng(2)
    c, r = -rng.uniform(0.01, 5.0, 64), -rng.uniform(0.01, 5.0, 64)  # mean per-token log-probs < 0
    nll = rng.uniform(0.5, 3.0, 64)
    log_odds = (c - r) - (np.log1p(-np.exp(c)) - np.log1p(-np.exp(r)))
    trl = nll - lam * logsigmoid(log_odds)
    ours = orpo_loss(jnp.asarray(c, jnp.float32), jnp.asarray(r, jnp.float32), jnp.asarray(nll, jnp.float32),
                     lam=lam)
    np.testing.assert_allclose(np.asarray(ours), trl, rtol=2e-5, atol=2e-5)
