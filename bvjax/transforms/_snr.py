"""OBLR-PO's step size from the gradient signal-to-noise ratio, as an optax transformation."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from bvjax import _checks

PyTree = Any


class SNRState(NamedTuple):
    """State of `scale_by_snr`.

    Attributes:
        count: [] int32, updates seen.
        signal: [] float, (EMA of) the unbiased estimate of :math:`\\|g\\|^2`, floored at 0.
        noise: [] float, (EMA of) the estimate of :math:`\\mathrm{tr}\\,\\mathrm{Var}(\\bar g)`.
        snr: [] float, ``signal / noise`` of the last update (``inf`` when noise is 0).
        scale: [] float, the factor applied to the last update.
    """

    count: jax.Array
    signal: jax.Array
    noise: jax.Array
    snr: jax.Array
    scale: jax.Array


def scale_by_snr(*, min_scale: float = 0.0, decay: float = 0.0) -> optax.GradientTransformationExtraArgs:
    r"""Scales the update by :math:`\mathrm{SNR}/(1+\mathrm{SNR})`, estimated from micro-batch gradients.

    Given :math:`M \ge 2` micro-batch gradients :math:`g_1..g_M` of one step (extra
    argument ``micro_grads``: the same pytree as ``updates`` with a leading axis M) and their
    mean :math:`\bar g`,

    .. math::
        \widehat{\mathrm{tr}\,\Sigma}_{\bar g} = \frac{\sum_m \|g_m - \bar g\|^2}{M(M-1)},\qquad
        \widehat{\|g\|^2} = \max\big(\|\bar g\|^2 - \widehat{\mathrm{tr}\,\Sigma}_{\bar g},\ 0\big),

    .. math::
        \mathrm{SNR} = \frac{\widehat{\|g\|^2}}{\widehat{\mathrm{tr}\,\Sigma}_{\bar g}},\qquad
        u = \mathrm{clip}\Big(\frac{\mathrm{SNR}}{1+\mathrm{SNR}},\ \text{min\_scale},\ 1\Big)\cdot
        \text{updates}.

    Both estimates are unbiased (:math:`\mathbb E\|\bar g\|^2 = \|g\|^2 + \mathrm{tr}\Sigma_{\bar g}`).
    For an :math:`L`-smooth objective the step :math:`\eta^* = \frac1L\frac{\mathrm{SNR}}{1+\mathrm{SNR}}`
    maximises the expected one-step improvement bound, so chain it with the maximal step
    :math:`\eta_{max} = 1/L`: ``optax.chain(scale_by_snr(), optax.sgd(eta_max))`` (or any
    optimiser; ``optax.chain`` forwards ``micro_grads``). ``updates`` is normally
    :math:`\bar g`. With ``decay > 0`` the signal and noise are exponential moving averages
    (bias-corrected) before the ratio is taken. The factor is computed as
    :math:`s/(s+v)`: zero noise gives 1 (SNR ``inf``), and identical-zero micro-gradients
    (:math:`s = v = 0`) give 1 on a zero update; never NaN.

    Args:
        min_scale: lower bound on the factor, :math:`\eta_{min}/\eta_{max} \in [0, 1]`.
        decay: EMA decay in [0, 1) for signal and noise (0: this step only).

    Returns:
        An ``optax.GradientTransformationExtraArgs``; its update takes the keyword
        ``micro_grads`` (required, leaves [M, ...] with M >= 2); state `SNRState`.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> from bvjax.transforms import scale_by_snr
        >>> opt = optax.chain(scale_by_snr(), optax.sgd(1.0))
        >>> params = {"w": jnp.zeros(2)}
        >>> micro = {"w": jnp.array([[3.0, 1.0], [1.0, 3.0]])}  # mean (2, 2)
        >>> g = {"w": micro["w"].mean(0)}
        >>> updates, state = opt.update(g, opt.init(params), params, micro_grads=micro)
        >>> state[0].snr  # (8 - 2) / 2: signal 8 - 2, noise 4 / (2 * 1)
        Array(3., dtype=float32)
        >>> updates["w"]  # -(3 / 4) * g
        Array([-1.5, -1.5], dtype=float32)

    References:
        Huang, Sheng and Zheng, OBLR-PO: A Theoretical Framework for Stable Reinforcement
        Learning, 2025 (arXiv 2511.23310).

    Departures: only the paper's abstract and the opening of its introduction could be read
    here (arXiv HTML v2: an adaptive step "governed by the SNR of gradients"); the form :math:`\eta^* = \eta_{max}\,\mathrm{SNR}/(1+\mathrm{SNR})`
    with SNR :math:`=\|g\|^2/\mathrm{tr}\Sigma_{\bar g}` is the standard L-smooth derivation
    (reconstructed), and the micro-batch estimators above are ours. The EMA option
    and ``min_scale`` are additions.
    """
    _checks.in_range("min_scale", min_scale, low=0.0, high=1.0)
    _checks.in_range("decay", decay, low=0.0, high=1.0, high_inclusive=False)

    def init_fn(params):
        del params
        z = jnp.zeros((), jnp.float32)
        return SNRState(jnp.zeros((), jnp.int32), z, z, z, jnp.ones((), jnp.float32))

    def update_fn(updates, state, params=None, *, micro_grads=None, **extra_args):
        del params, extra_args
        if micro_grads is None:
            raise ValueError("micro_grads: expected a pytree like updates with a leading axis M >= 2 "
                             "(the micro-batch gradients), got None")
        g_leaves, treedef = jax.tree_util.tree_flatten(updates)
        m_leaves = treedef.flatten_up_to(micro_grads)
        sizes = set()
        for g, m in zip(g_leaves, m_leaves):
            _checks.dims(micro_grads=(m, "[M, " + ", ".join(f"{d}" for d in g.shape) + "]"
                         if g.ndim else "[M]"))
            sizes.add(m.shape[0])
        if len(sizes) != 1 or min(sizes) < 2:
            raise ValueError(f"micro_grads: expected one leading axis M >= 2 on every leaf, got sizes "
                             f"{sorted(sizes)}")
        num = sizes.pop()
        # shifted by the first micro-batch: equal micro-gradients have spread exactly 0 (noise 0,
        # SNR inf), where a rounded mean left 0.1s with a spread of ~1e-16 and an SNR of ~1e15
        shifted = [m.astype(jnp.float32) - m[:1].astype(jnp.float32) for m in m_leaves]
        offset = [jnp.mean(d, axis=0) for d in shifted]
        mean = [m[0].astype(jnp.float32) + o for m, o in zip(m_leaves, offset)]
        spread = sum(jnp.sum(jnp.square(d - o)) for d, o in zip(shifted, offset))
        noise = spread / (num * (num - 1))
        signal = jnp.maximum(sum(jnp.sum(jnp.square(mu)) for mu in mean) - noise, 0.0)
        count = state.count + 1
        if decay > 0.0:
            signal_ema = decay * state.signal + (1.0 - decay) * signal
            noise_ema = decay * state.noise + (1.0 - decay) * noise
            debias = 1.0 - decay ** count.astype(jnp.float32)
            s, v = signal_ema / debias, noise_ema / debias
        else:
            signal_ema, noise_ema, s, v = signal, noise, signal, noise
        total = s + v
        ratio = jnp.where(total > 0, s / jnp.where(total > 0, total, 1.0), 1.0)
        scale = jnp.clip(ratio, min_scale, 1.0)
        snr = jnp.where(v > 0, s / jnp.where(v > 0, v, 1.0), jnp.inf)
        out = jax.tree_util.tree_map(lambda u: (scale * u).astype(u.dtype), updates)
        return out, SNRState(count, signal_ema, noise_ema, snr, scale)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
