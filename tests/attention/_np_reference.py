"""Float64 NumPy references written straight from the objectives (tests only)."""

from __future__ import annotations

import numpy as np


def np_lla(q, k, v, ridge, *, scale=None, causal=True):
    """Per query: the literal weighted ridge regression with intercept, read at the query.

    q, k [B, N, H, D], v [B, N, H, E], ridge broadcastable to [B, N, H]. For query i the
    design row of key j is [1, (k_j - q_i)], the weights w_ij = exp(s q_i.k_j - max), the
    ridge lambda_i * omega_i on the slope block only; the output is the intercept.
    """
    q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
    b, n, h, d = q.shape
    lam = np.asarray(ridge, np.float64)
    lam = np.broadcast_to(lam[..., None] if lam.ndim == 2 else lam, (b, n, h))
    scale = d ** -0.5 if scale is None else scale
    out = np.zeros((b, n, h, v.shape[-1]))
    for bb in range(b):
        for hh in range(h):
            for i in range(n):
                js = np.arange(i + 1) if causal else np.arange(n)
                kj, vj, qi = k[bb, js, hh], v[bb, js, hh], q[bb, i, hh]
                s = scale * kj @ qi
                w = np.exp(s - s.max())
                x = np.concatenate([np.ones((len(js), 1)), kj - qi], axis=1)
                reg = np.diag(np.r_[0.0, np.full(d, lam[bb, i, hh] * w.sum())])
                coef = np.linalg.solve(x.T @ (w[:, None] * x) + reg, x.T @ (w[:, None] * vj))
                out[bb, i, hh] = coef[0]
    return out


def np_softmax(q, k, v, *, scale=None, causal=True):
    q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
    b, n, h, d = q.shape
    scale = d ** -0.5 if scale is None else scale
    out = np.zeros((b, n, h, v.shape[-1]))
    for bb in range(b):
        for hh in range(h):
            for i in range(n):
                js = np.arange(i + 1) if causal else np.arange(n)
                s = scale * k[bb, js, hh] @ q[bb, i, hh]
                w = np.exp(s - s.max())
                out[bb, i, hh] = w @ v[bb, js, hh] / w.sum()
    return out


def np_linear_regression(q, k, v, ridge, *, causal=True):
    """Per query: ridge regression without intercept on the pairs it sees."""
    q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
    b, n, h, d = q.shape
    lam = np.broadcast_to(np.asarray(ridge, np.float64), (b, n, h))
    out = np.zeros((b, n, h, v.shape[-1]))
    for bb in range(b):
        for hh in range(h):
            for i in range(n):
                js = np.arange(i + 1) if causal else np.arange(n)
                kj, vj = k[bb, js, hh], v[bb, js, hh]
                wmat = np.linalg.solve(kj.T @ kj + lam[bb, i, hh] * np.eye(d), kj.T @ vj)  # W^T
                out[bb, i, hh] = wmat.T @ q[bb, i, hh]
    return out
