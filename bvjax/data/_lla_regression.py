"""The test-time regression stream of the Local Linear Attention paper: values piecewise
linear in key space, with region boundaries that may rotate over time."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bvjax import _checks


def piecewise_linear_stream(key: jax.Array, maps: jax.Array, *, batch_size: int, seq_len: int,
                            noise_std: float = 0.05, drift: float = 0.0
                            ) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""Samples key/value streams whose value is a different linear map in each key-space region.

    Keys are uniform on the unit sphere in :math:`\mathbb R^D` (so the attention kernel
    :math:`e^{s\,q\cdot k}` is an RBF kernel of bandwidth :math:`1/\sqrt s`). Key space is
    cut into four regions by the signs of the first two coordinates after a rotation by
    :math:`\theta_t` in their plane; region :math:`r` has its own map :math:`A_r`:

    .. math::
        u_t = \cos\theta_t\,k_{t,1} + \sin\theta_t\,k_{t,2},\quad
        w_t = -\sin\theta_t\,k_{t,1} + \cos\theta_t\,k_{t,2},\quad
        r_t = 2\,[u_t \ge 0] + [w_t \ge 0],

        y_t = A_{r_t} k_t,\qquad v_t = y_t + \sigma\,\varepsilon_t,\qquad
        \theta_t = \text{drift}\cdot t / \max(N - 1, 1).

    With ``drift = 0`` the regions are fixed (a stationary, piecewise-linear regression
    problem); with ``drift > 0`` the boundaries rotate by ``drift`` radians over the
    stream, so old pairs near a boundary become stale. The prediction task is to
    estimate :math:`y_{t+1}` at :math:`k_{t+1}` from the pairs :math:`(k_j, v_j)_{j \le t}`.

    Args:
        key: a PRNG key.
        maps: [4, E, D] float, the linear map of each region (D >= 2).
        batch_size: static int B >= 1, independent streams (same maps).
        seq_len: static int N >= 1.
        noise_std: :math:`\sigma \ge 0`.
        drift: total rotation (radians) of the region boundaries over the stream.

    Returns:
        ``(keys, values, targets)``: [B, N, D] unit-norm keys, [B, N, E] noisy values
        :math:`v_t` and [B, N, E] noiseless targets :math:`y_t`, in ``maps``' dtype.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.data import piecewise_linear_stream
        >>> maps = jnp.stack([s * jnp.eye(3) for s in (1.0, 2.0, 3.0, 4.0)])
        >>> k, v, y = piecewise_linear_stream(jax.random.key(0), maps, batch_size=2, seq_len=5)
        >>> k.shape, v.shape
        ((2, 5, 3), (2, 5, 3))
        >>> bool(jnp.allclose(jnp.linalg.norm(k, axis=-1), 1.0, atol=1e-6))
        True

    References:
        Zuo et al, Local Linear Attention: An Optimal Interpolation of Linear and Softmax
        Attention For Test-Time Regression, 2025 (arXiv 2510.01450).

    Departure: the paper's exact task (dimensions, number of segments, drift schedule)
    was not available to us; this is our reconstruction of a
    non-stationary piecewise-linear regression stream with locality in key space.
    """
    sizes = _checks.dims(maps=(maps, "[4, E, D]", "float"))
    _checks.positive_int(batch_size=batch_size, seq_len=seq_len)
    _checks.in_range("noise_std", noise_std, low=0.0)
    d = sizes["D"]
    if d < 2:
        raise ValueError(f"maps: expected [4, E, D] float with D >= 2, got shape {tuple(maps.shape)}")
    dtype = maps.dtype
    key_key, noise_key = jax.random.split(key)
    keys = jax.random.normal(key_key, (batch_size, seq_len, d), dtype)
    keys = keys / jnp.linalg.norm(keys, axis=-1, keepdims=True)
    theta = jnp.asarray(drift, dtype) * jnp.arange(seq_len, dtype=dtype) / max(seq_len - 1, 1)
    c, s = jnp.cos(theta), jnp.sin(theta)
    u = c * keys[..., 0] + s * keys[..., 1]
    w = -s * keys[..., 0] + c * keys[..., 1]
    region = 2 * (u >= 0).astype(jnp.int32) + (w >= 0).astype(jnp.int32)
    targets = jnp.einsum("bned,bnd->bne", maps[region], keys)
    values = targets + noise_std * jax.random.normal(noise_key, targets.shape, dtype)
    return keys, values, targets
