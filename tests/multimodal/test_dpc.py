"""DPC's prompt mixing, hard-negative sampler and symmetric contrastive loss against NumPy references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from bvjax.multimodal import dual_prompt_contrastive_loss, hard_negative_classes, mix_prompts


def _sampler_np(img, txt, labels, prio, k, min_neg):
    """The sampler written as a plain loop (float64); `prio` is the random fill order."""
    img = img / np.linalg.norm(img, axis=1, keepdims=True)
    txt = txt / np.linalg.norm(txt, axis=1, keepdims=True)
    sims = 100 * img @ txt.T
    present = {int(y) for y in labels}
    out = []
    for i, y in enumerate(labels):
        top = np.argsort(-sims[i], kind="stable")[:k]
        chosen = [int(c) for c in top if c != y and c not in present][: k - 1]
        present.update(chosen)
        while len(chosen) < min_neg and len(present) < txt.shape[0]:
            free = [c for c in range(txt.shape[0]) if c not in present]
            c = max(free, key=lambda c: prio[i, c])
            chosen.append(c)
            present.add(c)
        out.append(chosen + [-1] * (k - 1 - len(chosen)))
    return np.array(out)


@pytest.mark.parametrize("jit", [False, True])
def test_hard_negatives_match_the_loop_and_never_repeat(jit):
    rng = np.random.default_rng(0)
    c, d, b, k = 30, 6, 5, 4
    txt = rng.normal(size=(c, d))
    labels = np.array([0, 3, 3, 7, 9])
    img = txt[labels] + 0.6 * rng.normal(size=(b, d))
    key = jax.random.key(1)
    prio = np.asarray(jax.random.uniform(key, (b, c)))
    fn = jax.jit(hard_negative_classes, static_argnames=("k", "min_negatives")) if jit else hard_negative_classes
    out = fn(jnp.asarray(img, jnp.float32), jnp.asarray(txt, jnp.float32), jnp.asarray(labels), key, k=k,
             min_negatives=2)
    ref = _sampler_np(img, txt, labels, prio, k, 2)
    np.testing.assert_array_equal(out.classes, ref)
    np.testing.assert_array_equal(out.mask, ref >= 0)
    chosen = np.asarray(out.classes)[np.asarray(out.mask)]
    assert len(set(chosen)) == len(chosen) and not set(chosen) & set(labels.tolist())
    assert np.all(np.asarray(out.mask).sum(1) >= 2)


def test_hard_negatives_fill_and_exhaustion():
    # 3 classes, batch holds two of them: only one free class exists for the fill.
    txt = jnp.eye(3)
    out = hard_negative_classes(jnp.eye(3)[:2], txt, jnp.array([0, 1]), jax.random.key(0), k=3, min_negatives=2)
    np.testing.assert_array_equal(out.classes, [[2, -1], [-1, -1]])


def test_mix_prompts():
    p, q = jnp.ones((4, 3)), jnp.full((4, 3), 3.0)
    np.testing.assert_allclose(mix_prompts(p, q, omega=0.0), p)
    np.testing.assert_allclose(mix_prompts(p, q, omega=1.0), q)
    np.testing.assert_allclose(jax.jit(mix_prompts)(p, q, omega=0.25), 1.5)
    with pytest.raises(ValueError, match="parallel"):
        mix_prompts(p, jnp.ones((4, 2)), omega=0.5)
    with pytest.raises(ValueError, match="omega"):
        mix_prompts(p, q, omega=1.5)


def _contrastive_np(img, txt, s, mask):
    img = img / np.linalg.norm(img, axis=1, keepdims=True)
    txt = txt / np.linalg.norm(txt, axis=1, keepdims=True)
    idx = np.nonzero(mask)[0]
    sims = s * img[idx] @ txt[idx].T
    out = np.zeros(len(mask))
    for r, i in enumerate(idx):
        row = np.log(np.exp(sims[r]).sum()) - sims[r, r]
        col = np.log(np.exp(sims[:, r]).sum()) - sims[r, r]
        out[i] = 0.5 * (row + col)
    return out


@pytest.mark.parametrize("jit", [False, True])
def test_contrastive_loss_matches_numpy_with_and_without_mask(jit):
    rng = np.random.default_rng(2)
    img, txt = rng.normal(size=(7, 5)), rng.normal(size=(7, 5))
    fn = jax.jit(dual_prompt_contrastive_loss) if jit else dual_prompt_contrastive_loss
    got = fn(jnp.asarray(img, jnp.float32), jnp.asarray(txt, jnp.float32), logit_scale=10.0)
    np.testing.assert_allclose(got, _contrastive_np(img, txt, 10.0, np.ones(7, bool)), rtol=1e-4, atol=1e-5)
    mask = np.array([1, 1, 0, 1, 0, 1, 1], bool)
    got = fn(jnp.asarray(img, jnp.float32), jnp.asarray(txt, jnp.float32), logit_scale=10.0, mask=jnp.asarray(mask))
    np.testing.assert_allclose(got, _contrastive_np(img, txt, 10.0, mask), rtol=1e-4, atol=1e-5)
    g = jax.grad(lambda t: jnp.sum(dual_prompt_contrastive_loss(jnp.asarray(img), t, mask=jnp.asarray(mask))))(
        jnp.asarray(txt, jnp.float32))
    assert bool(jnp.all(jnp.isfinite(g))) and np.allclose(np.asarray(g)[~mask], 0.0)
    with jax.enable_x64(True):
        check_grads(lambda a, b: jnp.sum(dual_prompt_contrastive_loss(a, b, logit_scale=5.0)),
                    (jnp.asarray(img[:3]), jnp.asarray(txt[:3])), order=1, modes=["rev"])


def test_contrastive_errors():
    with pytest.raises(ValueError, match="text_features"):
        dual_prompt_contrastive_loss(jnp.ones((3, 2)), jnp.ones((4, 2)))
    with pytest.raises(ValueError, match="k"):
        hard_negative_classes(jnp.ones((2, 2)), jnp.ones((3, 2)), jnp.array([0, 1]), jax.random.key(0), k=5)
