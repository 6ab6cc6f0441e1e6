"""safety_pairs against a NumPy re-derivation of every row from its prompt."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from bvjax.data import safety_pairs

T, D, S = 3, 4, 2
DIGIT0, TOPIC0 = 2 + 2 * S, 12 + 2 * S  # the token layout in the docstring


def _rows(data):
    return [np.asarray(x) for x in (data.prompts, data.compliance, data.compliance_mask, data.refusal,
                                    data.refusal_mask, data.harmful)]


@pytest.mark.parametrize("jit", [False, True])
def test_rows_follow_the_layout(jit):
    fn = lambda k: safety_pairs(k, num_examples=200, num_topics=T, num_digits=D, num_styles=S)
    data = (jax.jit(fn) if jit else fn)(jax.random.key(3))
    prompts, comply, comply_mask, refuse, refuse_mask, harmful = _rows(data)
    assert prompts.shape == (200, D + 1) and comply.shape == refuse.shape == (200, D + 2)
    vocab = 12 + 2 * S + 2 * T
    for name, x in (("prompts", prompts), ("compliance", comply), ("refusal", refuse)):
        assert x.dtype == np.int32 and x.min() >= 0 and x.max() < vocab, name
    np.testing.assert_array_equal(np.asarray(data.refusal_tokens), np.arange(2, 2 + S))
    np.testing.assert_array_equal(np.asarray(data.compliance_tokens), np.arange(2 + S, 2 + 2 * S))
    for i in range(200):
        topic = prompts[i, 0] - TOPIC0
        assert 0 <= topic < 2 * T and (topic >= T) == harmful[i]
        digits = prompts[i, 1:] - DIGIT0
        answer = [(int(d) + 1 + topic % T) % 10 for d in digits]
        assert 2 + S <= comply[i, 0] < 2 + 2 * S
        assert list(comply[i, 1:D + 1] - DIGIT0) == answer and comply[i, D + 1] == 1
        assert 2 <= refuse[i, 0] < 2 + S and refuse[i, 1] == 1 and not refuse[i, 2:].any()
        assert comply_mask[i].all() and list(refuse_mask[i]) == [True, True] + [False] * D


def test_harmful_fraction_and_styles_are_drawn():
    data = safety_pairs(jax.random.key(0), num_examples=2000, num_topics=T, harmful_fraction=0.25)
    harmful = np.asarray(data.harmful)
    assert abs(harmful.mean() - 0.25) < 0.03  # 3 sigma of a binomial(2000, 0.25) mean is 0.029
    first = np.asarray(data.compliance[:, 0])
    assert set(first.tolist()) == {4, 5}  # both compliance styles occur (S = 2 by default)
    assert not safety_pairs(jax.random.key(0), num_examples=50, harmful_fraction=0.0).harmful.any()
    assert safety_pairs(jax.random.key(0), num_examples=50, harmful_fraction=1.0).harmful.all()


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="harmful_fraction"):
        safety_pairs(jax.random.key(0), num_examples=4, harmful_fraction=1.5)
    with pytest.raises(ValueError, match="num_digits"):
        safety_pairs(jax.random.key(0), num_examples=4, num_digits=0)
    with pytest.raises(TypeError, match="num_examples"):
        safety_pairs(jax.random.key(0), num_examples=4.0)
