"""lm_grpo: the addition task and its verifier against plain Python, and a short run through launch.main."""

import json
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from launch.configs import lm_grpo as lm_config
from launch.experiments import lm_grpo as experiment

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHARS = "0123456789+=$_"  # token ids 0..13: digits, plus, equals, end, padding


def _text(tokens) -> str:
    return "".join(CHARS[int(t)] for t in tokens)


def _fmix32(x: int) -> int:
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & 0xFFFFFFFF
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & 0xFFFFFFFF
    return x ^ (x >> 16)


def _held_out(a: int, b: int, every: int) -> bool:
    return _fmix32((_fmix32(a ^ 0x9E3779B9) + b) & 0xFFFFFFFF) % every == 0


def _reward(a: int, b: int, completion: str) -> float:
    """The verifier in plain Python: the text up to the first end token is the sum, and the end token is there."""
    if "$" not in completion:
        return 0.0
    return float(completion.split("$", 1)[0] == str(a + b))


def _problems(n, rng, count=64):
    hi = 10 ** n
    edge = [(0, 0), (hi - 1, hi - 1), (hi - 1, 1), (1, hi - 1), (hi // 2, hi // 2), (0, hi - 1), (7 % hi, 0)]
    a, b = rng.integers(0, hi, count), rng.integers(0, hi, count)
    return np.array([e[0] for e in edge] + list(a), np.int32), np.array([e[1] for e in edge] + list(b), np.int32)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_prompts_and_answers_spell_the_problem(n):
    a, b = _problems(n, np.random.default_rng(n))
    prompts = np.asarray(experiment.encode_prompts(a, b, n))
    answers, mask = (np.asarray(x) for x in experiment.encode_answers(a, b, n))
    assert prompts.shape == (len(a), experiment.prompt_len(n)) and answers.shape == (len(a), experiment.answer_len(n))
    for i in range(len(a)):
        assert _text(prompts[i]) == f"{a[i]:0{n}d}+{b[i]:0{n}d}="
        expected = str(int(a[i]) + int(b[i])) + "$"
        assert _text(answers[i]) == expected + "_" * (n + 2 - len(expected))
        assert mask[i].tolist() == [True] * len(expected) + [False] * (n + 2 - len(expected))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_verifier_matches_plain_python(n):
    rng = np.random.default_rng(10 + n)
    a, b = _problems(n, rng, count=200)
    answers, _ = experiment.encode_answers(a, b, n)
    answers = np.asarray(answers)
    completions = []
    for i in range(len(a)):
        kind = i % 5
        c = answers[i].copy()
        if kind == 1:    # junk after the end token does not matter
            end = int(np.argmax(c == experiment.EOS))
            c[end + 1:] = rng.integers(0, 14, len(c) - end - 1)
        elif kind == 2:  # one digit changed
            j = rng.integers(0, int(np.argmax(c == experiment.EOS)))
            c[j] = (c[j] + rng.integers(1, 10)) % 10
        elif kind == 3:  # the end token missing: digits run on
            c = np.where(c == experiment.EOS, rng.integers(0, 10), c)
            c = np.where(c == experiment.PAD, rng.integers(0, 10), c)
        elif kind == 4:  # anything at all
            c = rng.integers(0, 14, len(c))
        completions.append(c)
    completions = np.array(completions, np.int32)
    got = np.asarray(experiment.verify(a, b, completions, n))
    want = np.array([_reward(int(x), int(y), _text(c)) for x, y, c in zip(a, b, completions)])
    np.testing.assert_array_equal(got, want)
    assert want[::5].all() and want[1::5].all() and not want[2::5].any()
    # A leading zero or a missing digit is wrong.
    assert float(experiment.verify(np.int32(3), np.int32(4), np.array([[0, 7, 12] + [13] * (n - 1)]), n)[0]) == 0.0
    mask = np.asarray(experiment.response_mask(jnp.asarray(completions)))
    for c, m in zip(completions, mask):
        text = _text(c)
        upto = text.index("$") + 1 if "$" in text else len(text)
        assert m.tolist() == [True] * upto + [False] * (len(text) - upto)


def test_held_out_split_matches_plain_python_and_is_respected():
    every = 16
    a, b = np.divmod(np.arange(10_000), 100)
    flags = np.asarray(experiment.is_held_out(a, b, every))
    want = np.array([_held_out(int(x), int(y), every) for x, y in zip(a, b)])
    np.testing.assert_array_equal(flags, want)
    np.testing.assert_array_equal(np.asarray(experiment.is_held_out(jnp.asarray(a), jnp.asarray(b), every)), want)
    assert 0.04 < want.mean() < 0.085
    config = lm_config.get_config()
    x, y = experiment.sample_problems(jax.random.key(3), (4096,), config)
    x, y = np.asarray(x), np.asarray(y)
    assert not any(_held_out(int(u), int(v), every) for u, v in zip(x, y))
    assert x.min() >= 0 and x.max() < 100 and len(set(zip(x.tolist(), y.tolist()))) > 2000
    ex, ey = experiment.held_out_problems(config)
    pairs = list(zip(ex.tolist(), ey.tolist()))
    assert len(pairs) == min(config.eval_problems, int(want.sum())) == len(set(pairs))
    assert all(_held_out(u, v, every) for u, v in pairs)


def _tiny_overrides():
    return {"sft_steps": 2, "num_steps": 4, "num_layers": 1, "num_heads": 2, "head_dim": 8, "mlp_dim": 32,
            "group_size": 4, "batch_size": 4, "meter_draws": 4, "meter_prompts": 2, "meter_ref_prompts": 4,
            "meter_ref_group": 4, "meter_chunk": 2, "bootstrap_resamples": 50, "eval_problems": 32,
            "eval_samples": 2, "prior_prompts": 8, "ppo_epochs": 1, "eval_every": 2, "log_every": 2,
            "checkpoint_every": 2}


def test_short_run_through_launch_main_writes_the_report(tmp_path):
    workdir = tmp_path / "w"
    flags = [f"--config.{k}={v}" for k, v in _tiny_overrides().items()]
    result = subprocess.run([sys.executable, "-m", "launch.main", "--config=launch/configs/lm_grpo.py",
                             f"--workdir={workdir}", *flags], cwd=ROOT, env=dict(os.environ),
                            capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 2, 4]
    last = rows[-1]
    models = ["sft", *experiment.METHODS]
    for m in models:
        assert last[f"pass1_lo/{m}"] <= last[f"pass1/{m}"] <= last[f"pass1_hi/{m}"]
        assert 0.0 <= last[f"pass_t1/{m}"] <= 1.0
    for m in experiment.METHODS:
        assert np.isfinite(last[f"train_loss/{m}"]) and 0.0 <= last[f"train_reward/{m}"] <= 1.0
        assert last[f"meter_variance/{m}"] >= 0 and np.isfinite(last[f"meter_bias_squared/{m}"])
        assert last[f"meter_mse/{m}"] == pytest.approx(last[f"meter_bias_squared/{m}"] + last[f"meter_variance/{m}"],
                                                       rel=1e-4, abs=1e-9)
        # Before RL (step 2) every method is the SFT model: the same greedy outcomes.
        assert rows[1][f"mcnemar_b/sft/{m}"] == rows[1][f"mcnemar_c/sft/{m}"] == 0
    assert 0.0 <= last["prior"] <= 1.0 and last["meter_reference_sqnorm"] >= 0
    report = (workdir / "report.md").read_text()
    for m in models:
        assert f"| {m} |" in report
    summary = json.loads((workdir / "lm_grpo.json").read_text())
    assert set(summary["models"]) == set(models) and summary["eval_problems"] == 32
    assert (workdir / "lm_grpo.png").exists()


def test_pod_config_scales_without_code_change():
    small, pod = lm_config.get_config(), lm_config.get_config("pod")
    assert pod.param_shards > 1 and pod.num_devices == 0
    assert pod.batch_size > small.batch_size and pod.group_size > small.group_size
    assert pod.num_heads * pod.head_dim > small.num_heads * small.head_dim
    assert experiment.param_count(pod) > experiment.param_count(small)
    with pytest.raises(ValueError, match="variant"):
        lm_config.get_config("tpu")


def test_a_run_stopped_at_the_switch_resumes_to_the_same_state(tmp_path):
    from launch import train

    def config(steps):
        c = lm_config.get_config()
        c.update(_tiny_overrides())
        c.num_steps = steps
        return c

    straight = train.train_and_evaluate(config(4), tmp_path / "a")
    train.train_and_evaluate(config(2), tmp_path / "b")  # stops after SFT, before the meter and RL
    resumed = train.train_and_evaluate(config(4), tmp_path / "b")
    for x, y in zip(jax.tree.leaves(straight["state"]), jax.tree.leaves(resumed["state"])):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert straight["history"][-1] == resumed["history"][-1]
    assert [r["step"] for r in resumed["history"]] == [0, 2, 4]
