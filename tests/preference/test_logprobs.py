"""token_logps, sequence_logps and sft_loss against float64 NumPy loops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from bvjax.preference import sequence_logps, sft_loss, token_logps


def _np_token_logps(logits, labels, mask):
    logits = np.asarray(logits, np.float64)
    b, t, v = logits.shape
    out = np.zeros((b, t))
    for i in range(b):
        for j in range(t):
            y = int(labels[i, j])
            if mask[i, j] and 0 <= y < v:
                row = logits[i, j]
                m = row.max()
                out[i, j] = row[y] - (m + np.log(np.sum(np.exp(row - m))))
    return out


def _np_counted(labels, mask, v):
    return np.asarray(mask) & (np.asarray(labels) >= 0) & (np.asarray(labels) < v)


def _data(seed=0, b=3, t=6, v=7, scale=3.0):
    rng = np.random.default_rng(seed)
    logits = (scale * rng.standard_normal((b, t, v))).astype(np.float32)
    labels = rng.integers(0, v, (b, t)).astype(np.int32)
    mask = rng.random((b, t)) < 0.7
    mask[0] = False  # one sequence with an empty mask
    return logits, labels, mask


@pytest.mark.parametrize("jit", [False, True])
def test_token_and_sequence_logps_match_numpy(jit):
    logits, labels, mask = _data()
    tok = jax.jit(token_logps) if jit else token_logps
    seq = jax.jit(sequence_logps, static_argnames="normalize") if jit else sequence_logps
    expected = _np_token_logps(logits, labels, mask)
    np.testing.assert_allclose(tok(logits, labels, mask=mask), expected, rtol=1e-5, atol=1e-5)
    total = expected.sum(1)
    count = _np_counted(labels, mask, logits.shape[-1]).sum(1)
    np.testing.assert_allclose(seq(logits, labels, mask), total, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(seq(logits, labels, mask, normalize=True), total / np.maximum(count, 1),
                               rtol=1e-5, atol=1e-5)


def test_empty_mask_gives_zero_not_nan():
    logits, labels, _ = _data()
    mask = np.zeros(labels.shape, bool)
    for normalize in (False, True):
        out = sequence_logps(logits, labels, mask, normalize=normalize)
        np.testing.assert_array_equal(out, 0.0)
        grad = jax.grad(lambda z, n=normalize: sequence_logps(z, labels, mask, normalize=n).sum())(logits)
        assert np.all(np.isfinite(grad)) and np.all(grad == 0.0)


def test_padding_labels_are_ignored():
    logits, labels, mask = _data()
    padded = np.where(mask, labels, -100).astype(np.int32)
    full = np.ones_like(mask)
    np.testing.assert_allclose(sequence_logps(logits, padded, full, normalize=True),
                               sequence_logps(logits, labels, mask, normalize=True), rtol=1e-6)


def test_extreme_logits_are_finite_and_exact():
    logits = np.zeros((1, 3, 4), np.float32)
    logits[0, 0] = [1e4, -1e4, 0.0, 0.0]   # label 0 certain: log p = 0
    logits[0, 1] = [1e4, -1e4, 0.0, 0.0]   # label 1: log p = -2e4
    logits[0, 2] = [-1e4, -1e4, -1e4, -1e4]  # uniform: -log 4
    labels = np.array([[0, 1, 2]], np.int32)
    mask = np.ones((1, 3), bool)
    out = token_logps(logits, labels, mask=mask)
    np.testing.assert_allclose(out, _np_token_logps(logits, labels, mask), rtol=1e-6)
    grad = jax.grad(lambda z: sequence_logps(z, labels, mask).sum())(jnp.asarray(logits))
    assert np.all(np.isfinite(grad))


def test_vmap_and_gradients():
    logits, labels, mask = _data(b=2, t=2, v=3)
    mask[:] = True
    batched = jax.vmap(lambda z, y, m: sequence_logps(z[None], y[None], m[None])[0])(logits, labels, mask)
    np.testing.assert_allclose(batched, sequence_logps(logits, labels, mask), rtol=1e-6)
    check_grads(jax.jit(lambda z: sequence_logps(z, labels, mask, normalize=True)), (jnp.asarray(logits),),
                order=1, modes=["rev"], atol=1e-2, rtol=1e-2)


def test_wrong_shapes_name_the_argument():
    logits, labels, mask = _data()
    with pytest.raises(ValueError, match="labels"):
        token_logps(logits, labels[:, :-1])
    with pytest.raises(TypeError, match="labels"):
        token_logps(logits, labels.astype(np.float32))
    with pytest.raises(ValueError, match="mask"):
        sequence_logps(logits, labels, mask[:, :-1])


@settings(max_examples=30, deadline=None)
@given(st.floats(0.0, 1e4), st.integers(0, 2**16))
def test_hypothesis_finite_and_bounded(scale, seed):
    b, t, v = 2, 4, 5  # fixed shapes: no recompilation per example
    rng = np.random.default_rng(seed)
    logits = (scale * rng.standard_normal((b, t, v))).astype(np.float32)
    labels = rng.integers(0, v, (b, t)).astype(np.int32)
    mask = rng.random((b, t)) < 0.5
    tot = sequence_logps(logits, labels, mask)
    mean = sequence_logps(logits, labels, mask, normalize=True)
    assert np.all(np.isfinite(tot)) and np.all(tot <= 0.0)
    assert np.all(np.isfinite(mean)) and np.all(mean <= 0.0)
    np.testing.assert_allclose(sft_loss(logits, labels, mask), -mean, rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_sft_loss_excludes_prompt_tokens(jit):
    logits, labels, mask = _data(seed=3)
    prompt = np.zeros_like(mask)
    prompt[:, :2] = True
    fn = jax.jit(sft_loss, static_argnames="normalize") if jit else sft_loss
    counted = mask & ~prompt
    tok = _np_token_logps(logits, labels, counted)
    count = counted.sum(1)
    np.testing.assert_allclose(fn(logits, labels, mask, prompt_mask=prompt), -tok.sum(1) / np.maximum(count, 1),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fn(logits, labels, mask, prompt_mask=prompt, normalize="sum"), -tok.sum(1),
                               rtol=1e-5, atol=1e-6)
    all_prompt = fn(logits, labels, mask, prompt_mask=np.ones_like(mask))
    np.testing.assert_array_equal(all_prompt, 0.0)


def test_sft_bad_normalize():
    logits, labels, mask = _data()
    with pytest.raises(ValueError, match="normalize"):
        sft_loss(logits, labels, mask, normalize="token")
