r"""RL post-training of a small char-level LM on multi-digit addition: SFT, then six policy-gradient methods.

Task (generated in code, with a verifier). A problem is a pair of integers
:math:`0 \le a, b < 10^n` (``config.num_digits`` = n). The prompt is the operands
zero-padded to n digits, ``"07+45="`` (2n + 2 tokens); the answer is the sum in
decimal without leading zeros followed by an end token, ``"52<eos>"``. The model
generates n + 2 tokens; the verifier gives reward 1 exactly when the generated
tokens up to the first end token spell the sum and the end token is there, else 0
(what follows the end token is ignored). Token ids: digits 0-9, ``+`` 10, ``=`` 11,
end 12, padding 13 (padding only ever pads the SFT targets). Problems are split by
a hash of ``(a, b)``: one in ``held_out_every`` is held out; training draws skip
them (eight candidates per slot, the first that is not held out is kept, so a
held-out problem leaks into training with probability ``held_out_every**-8``).

Model: `bvjax.models.TransformerLM` (softmax attention, learned positions).

Phases, in one run (``config.num_steps = sft_steps + rl steps``):

1. SFT (steps 1 .. ``sft_steps``): teacher-forced cross-entropy on the answer tokens
   (end token included), AdamW. ``sft_steps`` is set so that the held-out pass rate
   ends near 0.2-0.5, leaving room for RL.
2. At the first RL step, from the SFT parameters (which then stay frozen as the KL
   reference): every method's policy starts there; V0.5's prior is the SFT model's
   own pass rate on ``prior_prompts`` training problems (one sample each at
   temperature 1); and the bias-variance meter (`bvjax.diagnostics.bias_variance`)
   measures each method's policy-gradient estimate against a large-sample gradient
   (below).
3. RL (the remaining steps): every method draws ``group_size`` completions per prompt
   with `bvjax.models.sample` (cached decoding, temperature 1) from its own current
   policy, on the same prompts, and takes ``ppo_epochs`` AdamW steps on the
   token-level PPO clipped surrogate (`bvjax.rl.ppo_clip_loss`, clip ``clip``, dual
   clip ``dual_clip``) plus ``kl_coef`` times the k3 estimate of
   :math:`\mathrm{KL}(\pi_\theta\|\pi_{SFT})` (`bvjax.rl.kl_penalty`), reduced by
   `bvjax.rl.aggregate_loss`. The methods differ in the advantage and the reduction:

   - ``grpo``: `group_advantages` (mean and std of the group), ``seq-mean-token-mean``
     (Shao et al 2024);
   - ``dr_grpo``: `group_advantages(normalize=False)`, ``seq-mean-token-sum-norm`` with
     the constant n + 2 (Liu et al 2025);
   - ``rloo``: `rloo_advantages`, ``token-mean`` (Ahmadian et al 2024);
   - ``v05``: `v05_advantages` with the SFT pass-rate prior, ``token-mean`` (Zhang et al
     2026; the shrinkage baseline is reconstructed from the abstract, see its docstring);
   - ``dcpo``: GRPO advantages reshaped by `dcpo_advantages` towards the temperature
     `dcpo_temperature` picks from the previous update's mean token entropy,
     ``token-mean`` (DCPO's official code);
   - ``ppo``: a learned critic (the SFT trunk plus a zero-initialised linear value
     head, its own AdamW), `gae_advantages` (``gamma``, ``gae_lambda``) on the
     terminal reward, whitened with `masked_whiten` as verl does, critic trained with
     `value_loss` (``value_clip``), ``token-mean``.

   All methods are one `jax.vmap` over stacked per-method state (policy, critic, their
   optimizer states, DCPO's entropy), so the step is one compiled program: each lane
   computes every method's advantages and keeps its own (they are cheap next to the
   forward passes), and only the PPO lane applies its critic update.

Evaluation: on a fixed held-out set of ``eval_problems`` problems, the greedy pass@1
(decoding at temperature ``greedy_temperature`` = argmax up to exact ties) of the SFT
model and of every method, with a percentile bootstrap CI over problems
(`bvjax.stats.bootstrap_indices`, `bootstrap_ci`), the pass rate at temperature 1
(``eval_samples`` samples per problem), and McNemar's test (`bvjax.stats.mcnemar_table`,
`mcnemar`, exact binomial) between every pair of models on the per-problem greedy
outcomes. Before RL starts every method is the SFT model.

The meter. At the SFT checkpoint each method's estimate is minus the gradient of its
surrogate at ratio 1 on a batch of ``meter_prompts`` x ``group_size`` fresh rollouts,
with one reduction for all, the sequence sum averaged over sequences, so that the
estimates differ only in their advantages and all target the same quantity,
:math:`\nabla J = \mathbb E_x \mathbb E_{y\sim\pi}[r(x, y)\,\nabla\log\pi(y|x)]` (the KL
term has zero gradient at the reference). The reference is that gradient estimated by
RLOO on ``meter_ref_prompts`` x ``meter_ref_group`` rollouts; its own noise adds about
its variance to every method's bias² (reported). ``meter_draws`` independent batches
per method, with the same keys for every method (common random numbers: at the SFT
checkpoint their rollouts are identical). PPO's critic is the untrained one it starts
RL with (value 0 everywhere).

References:
    Shao et al, DeepSeekMath, 2024 (arXiv 2402.03300); Liu et al, Understanding
    R1-Zero-Like Training: A Critical Perspective, 2025 (arXiv 2503.20783); Ahmadian et
    al, Back to Basics, 2024 (arXiv 2402.14740); Zhang et al, V0.5, 2026 (arXiv
    2603.10848); DCPO's official code (github.com/597358816/DCPO); Schulman et al, PPO,
    2017 (arXiv 1707.06347) and GAE, 2016 (arXiv 1506.02438).
"""

from __future__ import annotations

import functools
import itertools
import json
import pathlib
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from bvjax.diagnostics import bias_variance
from bvjax.models import TransformerConfig, TransformerLM, sample
from bvjax.rl import (
    aggregate_loss,
    dcpo_advantages,
    dcpo_temperature,
    gae_advantages,
    group_advantages,
    kl_penalty,
    masked_whiten,
    ppo_clip_loss,
    rloo_advantages,
    v05_advantages,
    value_loss,
)
from bvjax.stats import bootstrap_ci, bootstrap_indices, mcnemar, mcnemar_table
from launch.configs.common import Field
from launch.report import plt, series

PLUS, EQUALS, EOS, PAD = 10, 11, 12, 13
VOCAB_SIZE = 14
METHODS = ("grpo", "dr_grpo", "rloo", "v05", "dcpo", "ppo")
_MODES = {"grpo": "seq-mean-token-mean", "dr_grpo": "seq-mean-token-sum-norm", "rloo": "token-mean",
          "v05": "token-mean", "dcpo": "token-mean", "ppo": "token-mean"}

CONFIG_FIELDS = {
    "num_digits": Field(int, 1, 8, help="digits per operand n"),
    "held_out_every": Field(int, 2, help="one problem in this many (by hash) is held out"),
    "num_layers": Field(int, 1, help="transformer blocks"),
    "num_heads": Field(int, 1, help="attention heads"),
    "head_dim": Field(int, 1, help="size per head (width = num_heads * head_dim)"),
    "mlp_dim": Field(int, 1, help="MLP hidden width"),
    "sft_steps": Field(int, 1, help="SFT steps before RL (RL runs for num_steps - sft_steps)"),
    "sft_learning_rate": Field(float, 0, low_open=True, help="AdamW learning rate of SFT"),
    "rl_learning_rate": Field(float, 0, low_open=True, help="AdamW learning rate of every policy"),
    "critic_learning_rate": Field(float, 0, low_open=True, help="AdamW learning rate of PPO's critic"),
    "group_size": Field(int, 2, help="completions per prompt G (SFT uses batch_size * G problems a step)"),
    "ppo_epochs": Field(int, 1, help="optimizer steps per batch of rollouts"),
    "clip": Field(float, 0, low_open=True, help="PPO clip epsilon"),
    "dual_clip": Field(float, 1, low_open=True, help="dual-clip constant c for negative advantages"),
    "kl_coef": Field(float, 0, help="weight of the k3 KL to the SFT reference"),
    "gamma": Field(float, 0, 1, help="PPO's GAE discount"),
    "gae_lambda": Field(float, 0, 1, help="PPO's GAE lambda"),
    "value_clip": Field(float, 0, low_open=True, help="PPO's value-loss clip"),
    "entropy_base": Field(float, 0, help="DCPO's entropy target H_0"),
    "methods": Field((tuple, list), choices=METHODS, help="RL methods trained side by side"),
    "prior_prompts": Field(int, 1, help="training problems for V0.5's SFT pass-rate prior"),
    "eval_problems": Field(int, 1, help="held-out problems evaluated"),
    "eval_samples": Field(int, 1, help="temperature-1 samples per held-out problem"),
    "greedy_temperature": Field(float, 0, low_open=True, help="decoding temperature standing in for argmax"),
    "bootstrap_resamples": Field(int, 2, help="bootstrap resamples for the pass@1 CIs"),
    "meter_draws": Field(int, 2, help="independent gradient estimates per method"),
    "meter_prompts": Field(int, 1, help="prompts per metered gradient estimate"),
    "meter_ref_prompts": Field(int, 1, help="prompts of the large-sample reference gradient"),
    "meter_ref_group": Field(int, 2, help="completions per prompt of the reference gradient"),
    "meter_chunk": Field(int, 1, help="draws vmapped at once by the meter"),
    "param_shards": Field(int, 1, help="devices each parameter is split over"),
}


# --------------------------------------------------------------------------- the task

def prompt_len(num_digits: int) -> int:
    return 2 * num_digits + 2


def answer_len(num_digits: int) -> int:
    return num_digits + 2  # up to n + 1 digits, then the end token


def _fmix32(x):
    """murmur3's 32-bit finaliser on uint32 (NumPy or jnp arrays alike)."""
    xp = jnp if isinstance(x, jax.Array) else np
    x = x ^ (x >> 16)
    x = x * xp.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * xp.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


def is_held_out(a, b, held_out_every: int):
    """True for the problems held out of training: ``fmix(fmix(a ^ salt) + b) % every == 0``."""
    xp = jnp if isinstance(a, jax.Array) or isinstance(b, jax.Array) else np
    a, b = xp.asarray(a).astype(xp.uint32), xp.asarray(b).astype(xp.uint32)
    with np.errstate(over="ignore"):
        h = _fmix32(_fmix32(a ^ xp.uint32(0x9E3779B9)) + b)
    return h % xp.uint32(held_out_every) == 0


def _digits(x, width):
    """[..., width] decimal digits of x, most significant first (zero padded)."""
    powers = 10 ** jnp.arange(width - 1, -1, -1, dtype=jnp.int32)
    return (x[..., None] // powers) % 10


def encode_prompts(a, b, num_digits: int):
    """[..., 2n + 2] tokens ``a + b =`` with the operands zero-padded to n digits."""
    a, b = jnp.asarray(a, jnp.int32), jnp.asarray(b, jnp.int32)
    shape = a.shape
    return jnp.concatenate([_digits(a, num_digits), jnp.full(shape + (1,), PLUS, jnp.int32),
                            _digits(b, num_digits), jnp.full(shape + (1,), EQUALS, jnp.int32)], -1)


def encode_answers(a, b, num_digits: int):
    """``(tokens [..., n + 2], mask)``: the sum's digits, the end token, then padding (mask False)."""
    s = jnp.asarray(a, jnp.int32) + jnp.asarray(b, jnp.int32)
    width = num_digits + 1
    digits = _digits(s, width)
    count = jnp.maximum(width - jnp.argmax(digits > 0, -1), 1)
    count = jnp.where(s == 0, 1, count)  # the sum 0 is the one digit "0"
    j = jnp.arange(width + 1)
    src = jnp.clip(width - count[..., None] + j, 0, width - 1)
    tokens = jnp.where(j < count[..., None], jnp.take_along_axis(digits, src, -1),
                       jnp.where(j == count[..., None], EOS, PAD))
    return tokens.astype(jnp.int32), j <= count[..., None]


def response_mask(completions):
    """True up to and including the first end token (the tokens the policy is answerable for)."""
    eos = completions == EOS
    before = jnp.cumsum(eos, -1) - eos  # end tokens strictly before t
    return before == 0


def verify(a, b, completions, num_digits: int):
    """Reward 1.0 when ``completions`` [..., n + 2] spell ``a + b`` then the end token, else 0.0."""
    target, mask = encode_answers(a, b, num_digits)
    return jnp.all(jnp.where(mask, completions == target, True), -1).astype(jnp.float32)


def sample_problems(key, shape, config):
    """Training problems ``(a, b)`` of ``shape``, never (up to 8 tries) a held-out one."""
    hi = 10 ** config.num_digits
    ka, kb = jax.random.split(key)
    a = jax.random.randint(ka, shape + (8,), 0, hi, jnp.int32)
    b = jax.random.randint(kb, shape + (8,), 0, hi, jnp.int32)
    first = jnp.argmax(~is_held_out(a, b, config.held_out_every), -1)[..., None]
    return jnp.take_along_axis(a, first, -1)[..., 0], jnp.take_along_axis(b, first, -1)[..., 0]


def held_out_problems(config) -> tuple[np.ndarray, np.ndarray]:
    """The fixed evaluation set: ``eval_problems`` distinct held-out problems (fewer if fewer exist)."""
    hi = 10 ** config.num_digits
    rng = np.random.default_rng(config.seed + 7919)
    if hi * hi <= 10 ** 6:
        a, b = np.divmod(np.arange(hi * hi, dtype=np.int64), hi)
        keep = is_held_out(a, b, config.held_out_every)
        a, b = a[keep], b[keep]
        order = rng.permutation(len(a))[: config.eval_problems]
        return a[order].astype(np.int32), b[order].astype(np.int32)
    found: dict[tuple[int, int], None] = {}
    while len(found) < config.eval_problems:
        a = rng.integers(0, hi, 4 * config.eval_problems * config.held_out_every)
        b = rng.integers(0, hi, a.shape)
        for x, y in zip(a[is_held_out(a, b, config.held_out_every)], b[is_held_out(a, b, config.held_out_every)]):
            found.setdefault((int(x), int(y)))
    pairs = np.array(list(found)[: config.eval_problems], np.int32)
    return pairs[:, 0], pairs[:, 1]


# --------------------------------------------------------------------------- model and losses

def model_config(config) -> TransformerConfig:
    return TransformerConfig(vocab_size=VOCAB_SIZE, num_layers=config.num_layers, num_heads=config.num_heads,
                             head_dim=config.head_dim, mlp_dim=config.mlp_dim,
                             max_len=prompt_len(config.num_digits) + answer_len(config.num_digits))


class Critic(nn.Module):
    """PPO's critic: a `TransformerLM` trunk and a linear value head on its output (zero-initialised)."""

    config: TransformerConfig

    @nn.compact
    def __call__(self, tokens):
        features = TransformerLM(self.config, name="lm")(tokens)
        return nn.Dense(1, kernel_init=nn.initializers.zeros, name="head")(features)[..., 0]


def param_count(config) -> int:
    cfg = model_config(config)
    shapes = jax.eval_shape(TransformerLM(cfg).init, jax.random.key(0), jnp.zeros((1, cfg.max_len), jnp.int32))
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(shapes)))


def completion_logps(config, params, tokens, temperature=1.0):
    """``(log-probs [N, A] of the completion tokens, logits [N, A, V])`` of full sequences [N, P + A]."""
    p = prompt_len(config.num_digits)
    logits = TransformerLM(model_config(config)).apply(params, tokens)[:, p - 1:-1]
    logp = jax.nn.log_softmax(logits / temperature, -1)
    return jnp.take_along_axis(logp, tokens[:, p:, None], -1)[..., 0], logits


def _entropy(logits):
    logp = jax.nn.log_softmax(logits, -1)
    return -jnp.sum(jnp.exp(logp) * logp, -1)


def _optimizer(learning_rate):
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(learning_rate, weight_decay=0.0))


def init(config, key):
    """SFT params/optimizer; one lane per method (policy, critic, their optimizers, entropy); prior; meter."""
    cfg = model_config(config)
    dummy = jnp.zeros((1, cfg.max_len), jnp.int32)
    params = TransformerLM(cfg).init(key, dummy)
    critic = Critic(cfg).init(key, dummy)
    num = len(config.methods)
    lane = {"params": params, "opt_state": _optimizer(config.rl_learning_rate).init(params), "critic": critic,
            "critic_opt_state": _optimizer(config.critic_learning_rate).init(critic),
            "entropy": jnp.zeros((), jnp.float32)}
    return {
        "step": jnp.zeros((), jnp.int32),
        "sft": {"params": params, "opt_state": _optimizer(config.sft_learning_rate).init(params)},
        "lanes": jax.tree.map(lambda x: jnp.broadcast_to(x, (num,) + jnp.shape(x)), lane),
        "prior": jnp.zeros((), jnp.float32),
        "meter": {k: jnp.zeros((num,), jnp.float32) for k in METER_FIELDS}
        | {"reference_sqnorm": jnp.zeros((), jnp.float32), "reference_variance": jnp.zeros((), jnp.float32)},
    }


METER_FIELDS = ("bias_squared", "bias_squared_stderr", "variance", "variance_stderr", "mse", "mse_stderr", "cosine")


def make_batch(config, key):
    """``batch_size`` rows of ``group_size`` training problems (SFT uses all; RL the first of each row)."""
    a, b = sample_problems(jax.random.fold_in(key, 0), (config.batch_size, config.group_size), config)
    return {"a": a, "b": b, "key": jax.random.split(jax.random.fold_in(key, 1), config.batch_size)}


def sft_loss(config, params, a, b):
    n = config.num_digits
    answer, mask = encode_answers(a, b, n)
    tokens = jnp.concatenate([encode_prompts(a, b, n), answer], -1)
    logp, _ = completion_logps(config, params, tokens)
    return -jnp.sum(jnp.where(mask, logp, 0.0)) / jnp.maximum(jnp.sum(mask), 1)


def _sft_update(config, state, batch):
    opt = _optimizer(config.sft_learning_rate)
    loss, grads = jax.value_and_grad(functools.partial(sft_loss, config))(
        state["sft"]["params"], batch["a"].reshape(-1), batch["b"].reshape(-1))
    updates, opt_state = opt.update(grads, state["sft"]["opt_state"], state["sft"]["params"])
    new = dict(state, sft={"params": optax.apply_updates(state["sft"]["params"], updates), "opt_state": opt_state})
    return new, loss


def rollout(config, params, a, b, key, group_size, temperature=1.0):
    """G completions per prompt: ``(tokens [P*G, 2n+2 + n+2], rewards [P, G], mask [P*G, n+2])``."""
    n = config.num_digits
    a_rep, b_rep = jnp.repeat(a, group_size), jnp.repeat(b, group_size)
    tokens, _ = sample(params, model_config(config), encode_prompts(a_rep, b_rep, n), key=key,
                       max_new_tokens=answer_len(n), temperature=temperature)
    completions = tokens[:, prompt_len(n):]
    rewards = verify(a_rep, b_rep, completions, n).reshape(-1, group_size)
    return tokens, rewards, response_mask(completions)


def critic_values(config, critic, tokens):
    """The critic's value of each completion token's state (prompt and the tokens before it), [N, A]."""
    p = prompt_len(config.num_digits)
    return Critic(model_config(config)).apply(critic, tokens)[:, p - 1:-1]


def gae(config, values, rewards, mask):
    """``(whitened GAE advantages, returns)`` [N, A], the terminal reward on the last valid token."""
    last = jnp.sum(mask, -1) - 1
    token_rewards = jnp.where(jnp.arange(mask.shape[1])[None] == last[:, None], rewards.reshape(-1)[:, None], 0.0)
    adv, returns = gae_advantages(token_rewards, values, mask, gamma=config.gamma, lam=config.gae_lambda)
    return masked_whiten(adv, mask), returns


def method_advantages(config, method_id, rewards, tokens, mask, old_logits, values, prior, entropy):
    """Per-token advantages [P*G, A] of method ``METHODS[method_id]`` (a traced id), GAE returns, DCPO's T and α.

    Every method's advantages are computed and one is selected (they are cheap next to the
    forward passes), so that all methods run as one vmapped program.
    """
    p = prompt_len(config.num_digits)
    grpo = group_advantages(rewards).reshape(-1)
    temperature = dcpo_temperature(entropy, entropy_base=config.entropy_base)
    log_t = jax.nn.log_softmax(old_logits / temperature, -1)
    log_1 = jax.nn.log_softmax(old_logits, -1)
    tlr = jnp.take_along_axis(log_t - log_1, tokens[:, p:, None], -1)[..., 0]
    dcpo = dcpo_advantages(grpo, rewards.reshape(-1), tlr, mask, entropy, entropy_base=config.entropy_base)
    ppo, returns = gae(config, values, rewards, mask)
    per_sequence = jnp.stack([grpo, group_advantages(rewards, normalize=False).reshape(-1),
                              rloo_advantages(rewards).reshape(-1), v05_advantages(rewards, prior).reshape(-1)])
    token = jnp.concatenate([jnp.broadcast_to(per_sequence[:, :, None], (4,) + mask.shape),
                             dcpo.advantages[None], ppo[None]])
    return jnp.where(mask, token[method_id], 0.0), returns, temperature, dcpo.alpha


def _reduce(config, per_token, mask, mode):
    if mode == "seq-mean-token-sum-norm":
        return aggregate_loss(per_token, mask, mode=mode, norm_constant=float(answer_len(config.num_digits)))
    return aggregate_loss(per_token, mask, mode=mode)


def surrogate(config, params, tokens, mask, old_logps, ref_logps, advantages, method_id):
    """Token-level PPO clip + kl_coef * k3 KL to the reference, reduced the way ``METHODS[method_id]`` does."""
    logps, _ = completion_logps(config, params, tokens)
    per_token = ppo_clip_loss(logps, old_logps, advantages, clip_low=config.clip, dual_clip=config.dual_clip)
    per_token = per_token + config.kl_coef * kl_penalty(logps, ref_logps, estimator="k3")
    per_token = jnp.where(mask, per_token, 0.0)
    modes = sorted(set(_MODES.values()))
    index = jnp.array([modes.index(_MODES[m]) for m in METHODS])[method_id]
    return jnp.stack([_reduce(config, per_token, mask, m) for m in modes])[index]


def _lane_step(config, method_id, lane, a, b, key, ref_params, prior):
    """One RL step of one method: rollouts from its policy, then ``ppo_epochs`` AdamW steps."""
    opt, critic_opt = _optimizer(config.rl_learning_rate), _optimizer(config.critic_learning_rate)
    is_ppo = method_id == METHODS.index("ppo")
    tokens, rewards, mask = rollout(config, lane["params"], a, b, key, config.group_size)
    old_logps, old_logits = completion_logps(config, lane["params"], tokens)
    old_logps = jax.lax.stop_gradient(old_logps)
    ref_logps = jax.lax.stop_gradient(completion_logps(config, ref_params, tokens)[0])
    old_values = jax.lax.stop_gradient(critic_values(config, lane["critic"], tokens))
    adv, returns, temperature, alpha = method_advantages(config, method_id, rewards, tokens, mask, old_logits,
                                                         old_values, prior, lane["entropy"])
    count = jnp.maximum(jnp.sum(mask), 1)
    entropy = jnp.sum(jnp.where(mask, _entropy(old_logits), 0.0)) / count

    def critic_loss(critic):
        values = critic_values(config, critic, tokens)
        return aggregate_loss(value_loss(values, old_values, returns, clip=config.value_clip), mask)

    def epoch(carry, _):
        params, opt_state, critic, critic_state = carry
        loss, grads = jax.value_and_grad(surrogate, argnums=1)(config, params, tokens, mask, old_logps, ref_logps,
                                                               adv, method_id)
        updates, opt_state = opt.update(grads, opt_state, params)
        vloss, cgrads = jax.value_and_grad(critic_loss)(critic)
        cupdates, new_critic_state = critic_opt.update(cgrads, critic_state, critic)
        keep = lambda new, old: jnp.where(is_ppo, new, old)  # only PPO trains its critic
        critic = jax.tree.map(keep, optax.apply_updates(critic, cupdates), critic)
        critic_state = jax.tree.map(keep, new_critic_state, critic_state)
        return (optax.apply_updates(params, updates), opt_state, critic, critic_state), (loss, vloss)

    carry = (lane["params"], lane["opt_state"], lane["critic"], lane["critic_opt_state"])
    carry, (losses, vlosses) = jax.lax.scan(epoch, carry, None, length=config.ppo_epochs)
    new = dict(zip(("params", "opt_state", "critic", "critic_opt_state"), carry), entropy=entropy)
    metrics = {"reward": jnp.mean(rewards), "loss": losses[0], "entropy": entropy,
               "kl": jnp.sum(jnp.where(mask, kl_penalty(old_logps, ref_logps), 0.0)) / count,
               "dcpo_temperature": temperature, "dcpo_alpha": alpha, "value_loss": vlosses[0]}
    return new, metrics


# --------------------------------------------------------------------------- the switch: prior and meter

def sft_prior(config, params, key):
    """The SFT model's pass rate on ``prior_prompts`` training problems, one sample each at temperature 1."""
    a, b = sample_problems(jax.random.fold_in(key, 0), (config.prior_prompts,), config)
    _, rewards, _ = rollout(config, params, a, b, jax.random.fold_in(key, 1), 1)
    return jnp.mean(rewards)


def _score_gradient(config, params, tokens, mask, advantages):
    """Minus the gradient of the ratio-1 surrogate, sequence sum averaged over sequences, as one flat vector.

    (One leaf: the meter's per-leaf bookkeeping over the ~30 parameter arrays would
    multiply its compiled size.)
    """
    def loss(params):
        logps, _ = completion_logps(config, params, tokens)
        per_token = jnp.where(mask, -advantages * logps, 0.0)
        return aggregate_loss(per_token, mask, mode="seq-mean-token-sum")
    return -ravel_pytree(jax.grad(loss)(params))[0]


def reference_gradient(config, params, key):
    """RLOO on ``meter_ref_prompts`` x ``meter_ref_group`` rollouts (in chunks of ``meter_prompts`` prompts)."""
    chunks = max(config.meter_ref_prompts // config.meter_prompts, 2)

    def one(k):
        a, b = sample_problems(jax.random.fold_in(k, 0), (config.meter_prompts,), config)
        tokens, rewards, mask = rollout(config, params, a, b, jax.random.fold_in(k, 1), config.meter_ref_group)
        adv = rloo_advantages(rewards).reshape(-1, 1)
        return _score_gradient(config, params, tokens, mask, adv)

    grads = jax.lax.map(one, jax.random.split(key, chunks))
    # The variance of the mean (summed over elements): what its noise adds to every bias².
    return jnp.mean(grads, 0), jnp.sum(jnp.var(grads, 0, ddof=1)) / chunks


def meter(config, params, critic, prior, key):
    """`bias_variance` of each method's gradient estimate at ``params`` against `reference_gradient`."""
    reference, ref_var = reference_gradient(config, params, jax.random.fold_in(key, 0))
    ref_sq = jnp.sum(reference * reference)

    ids = jnp.array([METHODS.index(m) for m in config.methods], jnp.int32)

    def estimate(k):
        """Every method's estimate from the same rollouts (at the SFT checkpoint they would be equal anyway)."""
        a, b = sample_problems(jax.random.fold_in(k, 0), (config.meter_prompts,), config)
        tokens, rewards, mask = rollout(config, params, a, b, jax.random.fold_in(k, 1), config.group_size)
        _, logits = completion_logps(config, params, tokens)
        values = critic_values(config, critic, tokens)
        adv = jax.vmap(lambda i: method_advantages(config, i, rewards, tokens, mask, logits, values, prior,
                                                   jnp.zeros(()))[0])(ids)
        grads = jax.vmap(lambda x: _score_gradient(config, params, tokens, mask, x))(adv)
        return {m: grads[i] for i, m in enumerate(config.methods)}

    r = bias_variance(estimate, {m: reference for m in config.methods}, jax.random.fold_in(key, 1),
                      num_draws=config.meter_draws, chunk_size=min(config.meter_chunk, config.meter_draws))
    result = {k: [] for k in METER_FIELDS}
    for m in config.methods:
        stats, mean = r.per_leaf[m], r.mean[m]
        for k in METER_FIELDS[:-1]:
            result[k].append(getattr(stats, k))
        result["cosine"].append(jnp.sum(mean * reference) / jnp.maximum(jnp.sqrt(jnp.sum(mean * mean) * ref_sq),
                                                                         1e-30))
    result = {k: jnp.stack(v).astype(jnp.float32) for k, v in result.items()}
    return result | {"reference_sqnorm": ref_sq.astype(jnp.float32), "reference_variance": ref_var.astype(jnp.float32)}


def _start_rl(config, state, key):
    """At the first RL step: every policy (and critic trunk) from SFT, the V0.5 prior, the meter."""
    sft = state["sft"]["params"]
    lanes = state["lanes"]
    critic = jax.tree.map(lambda x: x[0], lanes["critic"])
    critic = {"params": dict(critic["params"], lm=sft["params"])}
    spread = lambda tree, like: jax.tree.map(lambda s, x: jnp.broadcast_to(x, s.shape), like, tree)
    lanes = dict(lanes, params=spread(sft, lanes["params"]), critic=spread(critic, lanes["critic"]))
    prior = sft_prior(config, sft, jax.random.fold_in(key, 0))
    return dict(state, lanes=lanes, prior=prior, meter=meter(config, sft, critic, prior, jax.random.fold_in(key, 1)))


# --------------------------------------------------------------------------- the loop's functions

def _rl_update(config, state, batch):
    state = jax.lax.cond(state["step"] == config.sft_steps,
                         lambda s: _start_rl(config, s, jax.random.key(config.seed + 104729)), lambda s: s, state)
    a, b = batch["a"][:, 0], batch["b"][:, 0]
    ids = jnp.array([METHODS.index(m) for m in config.methods], jnp.int32)
    lanes, lane_metrics = jax.vmap(functools.partial(_lane_step, config), in_axes=(0, 0, None, None, None, None, None))(
        ids, state["lanes"], a, b, batch["key"][0], state["sft"]["params"], state["prior"])
    metrics = {}
    for i, m in enumerate(config.methods):
        metrics.update({f"train_{k}/{m}": v[i] for k, v in lane_metrics.items()})
    return dict(state, lanes=lanes), metrics


def _metric_names(config):
    names = ["train_sft_loss"]
    for m in config.methods:
        names += [f"train_reward/{m}", f"train_loss/{m}", f"train_entropy/{m}", f"train_kl/{m}"]
        if m == "dcpo":
            names += ["train_dcpo_temperature/dcpo", "train_dcpo_alpha/dcpo"]
        if m == "ppo":
            names += ["train_value_loss/ppo"]
    return names


def train_step(config, state, batch):
    """SFT for ``sft_steps`` steps, then one RL step of every method (one compiled program, `lax.cond`)."""
    names = _metric_names(config)

    def sft(state):
        state, loss = _sft_update(config, state, batch)
        return state, {k: (loss if k == "train_sft_loss" else jnp.zeros((), jnp.float32)) for k in names}

    def rl(state):
        state, metrics = _rl_update(config, state, batch)
        return state, {k: jnp.asarray(metrics.get(k, 0.0), jnp.float32) for k in names}

    state, metrics = jax.lax.cond(state["step"] < config.sft_steps, sft, rl, state)
    return dict(state, step=state["step"] + 1), metrics


def policies(config, state):
    """Stacked params [1 + methods, ...]: SFT, then each method (a method is SFT until RL starts)."""
    sft = state["sft"]["params"]
    started = state["step"] > config.sft_steps
    own = jax.tree.map(lambda x, y: jnp.where(started, x, y[None]), state["lanes"]["params"], sft)
    return jax.tree.map(lambda s, o: jnp.concatenate([s[None], o]), sft, own)


def held_out_metrics(config, stacked_params, names):
    """Greedy pass@1 and T=1 pass rate with bootstrap CIs, and pairwise exact McNemar, of stacked models."""
    a_np, b_np = held_out_problems(config)
    a, b = jnp.asarray(a_np), jnp.asarray(b_np)
    fixed = jax.random.key(config.seed + 15485863)
    idx = bootstrap_indices(jax.random.fold_in(fixed, 0), num_items=a.shape[0],
                            num_resamples=config.bootstrap_resamples)

    def outcomes(params):
        _, greedy, _ = rollout(config, params, a, b, jax.random.fold_in(fixed, 1), 1, config.greedy_temperature)
        _, sampled, _ = rollout(config, params, a, b, jax.random.fold_in(fixed, 2), config.eval_samples)
        return greedy[:, 0], sampled.mean(-1)

    greedy, sampled = jax.vmap(outcomes)(stacked_params)
    metrics, hits = {}, {}
    for i, name in enumerate(names):
        hits[name] = greedy[i]
        for label, x in (("pass1", greedy[i]), ("pass_t1", sampled[i])):
            ci = bootstrap_ci(x, idx)
            metrics[f"{label}/{name}"] = ci.original
            metrics[f"{label}_lo/{name}"], metrics[f"{label}_hi/{name}"] = ci.ci
    truth = jnp.ones(a.shape, jnp.int32)
    for m1, m2 in itertools.combinations(names, 2):
        table = mcnemar_table(truth, hits[m1].astype(jnp.int32), hits[m2].astype(jnp.int32))
        metrics[f"mcnemar_b/{m1}/{m2}"], metrics[f"mcnemar_c/{m1}/{m2}"] = table[0, 1], table[1, 0]
        metrics[f"mcnemar_p/{m1}/{m2}"] = mcnemar(table, exact=True).pvalue
    return metrics


def evaluate(config, state, key):
    """Held-out greedy pass@1 (bootstrap CI), temperature-1 pass rate, pairwise McNemar; the meter's figures."""
    del key
    metrics = held_out_metrics(config, policies(config, state), ["sft", *config.methods])
    for i, m in enumerate(config.methods):
        for k in METER_FIELDS:
            metrics[f"meter_{k}/{m}"] = state["meter"][k][i]
    metrics["meter_reference_sqnorm"] = state["meter"]["reference_sqnorm"]
    metrics["meter_reference_variance"] = state["meter"]["reference_variance"]
    metrics["prior"] = state["prior"]
    return metrics


def progress(record: dict[str, Any]) -> str:
    return " ".join(f"{k.split('/')[1]}={v:.3f}" for k, v in record.items() if k.startswith("pass1/"))


# --------------------------------------------------------------------------- report

def summary(config, history) -> dict[str, Any]:
    last = history[-1]
    models = ["sft", *config.methods]
    out = {"param_count": param_count(config), "step": last["step"], "prior": last["prior"],
           "eval_problems": len(held_out_problems(config)[0]), "models": {}, "mcnemar": {},
           "meter": {"reference_sqnorm": last["meter_reference_sqnorm"],
                     "reference_variance": last["meter_reference_variance"]}}
    for name in models:
        out["models"][name] = {k: last[f"{k}/{name}"] for k in
                               ("pass1", "pass1_lo", "pass1_hi", "pass_t1", "pass_t1_lo", "pass_t1_hi")}
    for m1, m2 in itertools.combinations(models, 2):
        out["mcnemar"][f"{m1}/{m2}"] = {k: last[f"mcnemar_{k}/{m1}/{m2}"] for k in ("b", "c", "p")}
    for m in config.methods:
        out["meter"][m] = {k: last[f"meter_{k}/{m}"] for k in
                           ("bias_squared", "bias_squared_stderr", "variance", "variance_stderr", "mse",
                            "mse_stderr", "cosine")}
    return out


def pass_table(summ: dict[str, Any], models) -> list[str]:
    """Markdown rows: each model's held-out pass@1 and T = 1 pass rate with CIs, and McNemar vs SFT."""
    lines = ["| model | pass@1 (greedy) [95% CI] | pass rate T=1 [95% CI] | solved only by this / only by SFT, McNemar p |",
             "|---|---|---|---|"]
    for name in models:
        r = summ["models"][name]
        vs = "—"
        if name != "sft":
            t = summ["mcnemar"][f"sft/{name}"]
            vs = f"{int(t['c'])} / {int(t['b'])}, p = {t['p']:.3g}"
        lines.append(f"| {name} | {r['pass1']:.3f} [{r['pass1_lo']:.3f}, {r['pass1_hi']:.3f}] | "
                     f"{r['pass_t1']:.3f} [{r['pass_t1_lo']:.3f}, {r['pass_t1_hi']:.3f}] | {vs} |")
    return lines


def report(config, workdir: pathlib.Path, history: list[dict[str, Any]]) -> str:
    summ = summary(config, history)
    (workdir / "lm_grpo.json").write_text(json.dumps(summ, indent=1))
    models = ["sft", *config.methods]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name in models:
        steps, value = series(history, f"pass1/{name}")
        axes[0].plot(steps, value, marker=".", label=name)
        if name != "sft":
            steps, value = series(history, f"train_reward/{name}")
            keep = steps > config.sft_steps
            axes[1].plot(steps[keep], value[keep], label=name)
    axes[0].axvline(config.sft_steps, color="k", linestyle="--", linewidth=0.8)
    axes[0].set_xlabel("step (SFT, then RL)")
    axes[0].set_ylabel("held-out greedy pass@1")
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("training reward (mean over the batch's rollouts)")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(workdir / "lm_grpo.png", dpi=100)
    plt.close(fig)
    n = config.num_digits
    rl_steps = config.num_steps - config.sft_steps
    lines = [
        f"# RL post-training of a {summ['param_count']}-parameter LM on {n}-digit addition",
        "",
        (f"Model: {config.num_layers} layers, {config.num_heads} heads x {config.head_dim}, MLP {config.mlp_dim}. "
         f"SFT {config.sft_steps} steps of {config.batch_size * config.group_size} problems (lr "
         f"{config.sft_learning_rate}); then {rl_steps} RL steps of {config.batch_size} prompts x "
         f"{config.group_size} completions, {config.ppo_epochs} AdamW step(s) per batch (lr "
         f"{config.rl_learning_rate}), clip {config.clip}, dual clip {config.dual_clip}, k3 KL to SFT x "
         f"{config.kl_coef}. V0.5 prior (SFT pass rate at temperature 1): {summ['prior']:.3f}."),
        "",
        (f"Held-out set: {summ['eval_problems']} problems never trained on. pass@1: greedy decoding; "
         f"95% percentile bootstrap CI over problems ({config.bootstrap_resamples} resamples); pass rate "
         f"at T = 1 over {config.eval_samples} samples per problem. McNemar: exact binomial test on the "
         "per-problem greedy outcomes."),
        "",
    ]
    lines += pass_table(summ, models)
    lines += ["", "McNemar p-values between every pair of models (exact):", "",
              "| | " + " | ".join(models[1:]) + " |", "|---|" + "---|" * (len(models) - 1)]
    for i, m1 in enumerate(models[:-1]):
        cells = []
        for j, m2 in enumerate(models[1:], 1):
            cells.append(f"{summ['mcnemar'][f'{m1}/{m2}']['p']:.3g}" if j > i else "")
        lines.append(f"| {m1} | " + " | ".join(cells) + " |")
    ms = summ["meter"]
    lines += [
        "",
        (f"Meter at the SFT checkpoint: each method's policy-gradient estimate from {config.meter_prompts} prompts "
         f"x {config.group_size} rollouts (sequence-sum reduction for all), {config.meter_draws} draws on common "
         f"random numbers, against RLOO on {config.meter_ref_prompts} x {config.meter_ref_group} rollouts "
         f"(||∇J||² = {ms['reference_sqnorm']:.4g}). The reference's own variance, "
         f"{ms['reference_variance']:.3g}, is part of every bias² (its error is independent of the draws); "
         "subtracting it estimates the bias² against the exact gradient."),
        "",
        "| method | bias² ± SE | bias² − reference variance | variance ± SE | MSE ± SE | cos(mean, ∇J) |",
        "|---|---|---|---|---|---|",
    ]
    for m in config.methods:
        r = ms[m]
        lines.append(f"| {m} | {r['bias_squared']:.4g} ± {r['bias_squared_stderr']:.2g} | "
                     f"{r['bias_squared'] - ms['reference_variance']:.4g} | {r['variance']:.4g} ± "
                     f"{r['variance_stderr']:.2g} | {r['mse']:.4g} ± {r['mse_stderr']:.2g} | {r['cosine']:.3f} |")
    lines += ["", "![pass@1 and training reward](lm_grpo.png)", ""]
    return "\n".join(lines)
