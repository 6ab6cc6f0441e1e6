"""TransformerLM and cached sampling: causality, cache = full forward, padding, training, lowering, sharding."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from bvjax.models import TransformerConfig, TransformerLM, sample

KINDS = ("softmax", "lla", "linear_regression")


@functools.cache
def _setup(attention, positions="learned", implementation=None):
    cfg = TransformerConfig(vocab_size=13, num_layers=2, num_heads=2, head_dim=4, mlp_dim=16, max_len=16,
                            attention=attention, positions=positions, ridge=1.0, implementation=implementation)
    model = TransformerLM(cfg)
    params = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 4), jnp.int32))
    return cfg, model, params, jax.jit(model.apply)


def _logps_from_full_forward(apply, params, tokens, mask, num_new, temperature):
    """log softmax(logits / tau) of each generated token, from one forward pass over everything."""
    logits = np.asarray(apply(params, tokens, mask), np.float64) / temperature
    logp = logits - np.log(np.sum(np.exp(logits - logits.max(-1, keepdims=True)), -1, keepdims=True)) \
        - logits.max(-1, keepdims=True)
    p = tokens.shape[1] - num_new
    toks = np.asarray(tokens)
    return np.stack([logp[b, p - 1 + np.arange(num_new), toks[b, p:]] for b in range(toks.shape[0])])


@pytest.mark.parametrize("attention", KINDS)
def test_causal_changing_later_tokens_leaves_earlier_logits(attention):
    _, _, params, apply = _setup(attention, "rotary")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 13, size=(2, 9))
    for t in (1, 4, 8):
        y = x.copy()
        y[:, t:] = rng.integers(0, 13, size=(2, 9 - t))
        a, b = apply(params, jnp.asarray(x)), apply(params, jnp.asarray(y))
        np.testing.assert_array_equal(np.asarray(a[:, :t]), np.asarray(b[:, :t]))
        assert not np.allclose(a[:, t:], b[:, t:])


@pytest.mark.parametrize("attention", KINDS)
def test_cached_sampling_logps_equal_full_forward(attention):
    cfg, _, params, apply = _setup(attention)
    prompts = jnp.array([[0, 0, 0, 3, 4], [1, 2, 3, 4, 5], [9, 7, 0, 0, 11]])
    pmask = jnp.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 0, 0, 1]], bool)  # left padding and a hole
    num_new, tau = 9, 0.7
    fn = jax.jit(functools.partial(sample, config=cfg, max_new_tokens=num_new))
    tokens, logps = fn(params, prompts=prompts, key=jax.random.key(3), temperature=tau, prompt_mask=pmask)
    assert tokens.shape == (3, 5 + num_new) and logps.shape == (3, num_new)
    np.testing.assert_array_equal(np.asarray(tokens[:, :5]), np.asarray(prompts))
    assert np.all((np.asarray(tokens) >= 0) & (np.asarray(tokens) < cfg.vocab_size))
    mask = jnp.concatenate([pmask, jnp.ones((3, num_new), bool)], 1)
    want = _logps_from_full_forward(apply, params, tokens, mask, num_new, tau)
    np.testing.assert_allclose(np.asarray(logps), want, atol=2e-5, rtol=0)
    if attention != "softmax":
        return
    # Un-jitted, the same draws.
    tokens2, logps2 = sample(params, cfg, prompts, key=jax.random.key(3), max_new_tokens=num_new, temperature=tau,
                             prompt_mask=pmask)
    np.testing.assert_array_equal(np.asarray(tokens2), np.asarray(tokens))
    np.testing.assert_allclose(np.asarray(logps2), np.asarray(logps), atol=1e-6)


def test_cached_lla_decoding_matches_the_chunked_cg_forward():
    cfg, _, params, _ = _setup("lla", implementation="chunked")
    prompts = jnp.array([[4, 5, 6], [7, 8, 9]])
    tokens, logps = sample(params, cfg, prompts, key=jax.random.key(0), max_new_tokens=6)
    apply = jax.jit(TransformerLM(cfg).apply)
    want = _logps_from_full_forward(apply, params, tokens, jnp.ones(tokens.shape, bool), 6, 1.0)
    np.testing.assert_allclose(np.asarray(logps), want, atol=1e-4, rtol=0)  # 16 CG iterations, ridge 1


def test_sampling_distribution_matches_the_model():
    # With one new token, the empirical frequencies follow softmax(logits / tau) of the full forward.
    cfg, _, params, apply = _setup("softmax")
    prompts = jnp.tile(jnp.array([[1, 2]]), (4000, 1))
    tokens, logps = sample(params, cfg, prompts, key=jax.random.key(7), max_new_tokens=1, temperature=2.0)
    p = np.asarray(jax.nn.softmax(apply(params, prompts[:1])[0, -1] / 2.0), np.float64)
    freq = np.bincount(np.asarray(tokens[:, -1]), minlength=cfg.vocab_size) / 4000
    assert np.max(np.abs(freq - p)) < 4 * np.sqrt(p.max() / 4000)  # 4 binomial standard errors
    np.testing.assert_allclose(np.asarray(logps[:, 0]), np.log(p)[np.asarray(tokens[:, -1])], atol=1e-5)


@pytest.mark.parametrize("attention", KINDS)
def test_padding_does_not_change_unpadded_rows(attention):
    _, _, params, apply = _setup(attention)
    row = jnp.array([[3, 1, 4, 1, 5, 9]])
    alone = np.asarray(apply(params, row))[0]
    padded = jnp.array([[0, 0, 3, 1, 4, 1, 5, 9], [12, 3, 1, 12, 4, 1, 5, 9], [3, 1, 4, 1, 5, 9, 7, 7]])
    mask = jnp.array([[0, 0, 1, 1, 1, 1, 1, 1], [0, 1, 1, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 0, 0]], bool)
    got = np.asarray(apply(params, padded, mask))
    for b in range(3):
        np.testing.assert_allclose(got[b][np.asarray(mask[b])], alone, atol=1e-5)
        np.testing.assert_array_equal(got[b][~np.asarray(mask[b])], 0.0)
    # Changing padded tokens changes nothing.
    other = padded.at[0, :2].set(jnp.array([11, 12])).at[2, 6:].set(jnp.array([0, 1]))
    np.testing.assert_array_equal(np.asarray(apply(params, other, mask)), got)


def test_lla_model_trains_on_the_chunked_path():
    # Next-token prediction of counting sequences (t_{i+1} = t_i + step mod 8, random start and
    # step in {1, 3}: the step must be read from the context): the loss must fall well below its start.
    cfg = TransformerConfig(vocab_size=8, num_layers=1, num_heads=2, head_dim=4, mlp_dim=16, max_len=16,
                            attention="lla", implementation="chunked", ridge=1.0, cg_iters=8)
    model = TransformerLM(cfg)
    params = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 12), jnp.int32))
    opt = optax.adam(1e-2)

    def loss_fn(p, tokens):
        logp = jax.nn.log_softmax(model.apply(p, tokens[:, :-1]))
        return -jnp.mean(jnp.take_along_axis(logp, tokens[:, 1:, None], 2))

    @jax.jit
    def step(p, s, key):
        k1, k2 = jax.random.split(key)
        start = jax.random.randint(k1, (16, 1), 0, 8)
        stride = 1 + 2 * jax.random.randint(k2, (16, 1), 0, 2)
        tokens = (start + stride * jnp.arange(12)) % 8
        loss, g = jax.value_and_grad(loss_fn)(p, tokens)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    state, losses = opt.init(params), []
    for i in range(60):
        params, state, loss = step(params, state, jax.random.key(i))
        losses.append(float(loss))
    assert np.isfinite(losses).all()
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]), losses


S = jax.ShapeDtypeStruct


@pytest.mark.parametrize("platform,custom_call", [("tpu", "tpu_custom_call"), ("cuda", "triton")])
def test_lla_model_pallas_path_lowers_for_tpu_and_gpu(platform, custom_call):
    cfg = TransformerConfig(vocab_size=32, num_layers=1, num_heads=2, head_dim=64, mlp_dim=64, max_len=128,
                            attention="lla", implementation="pallas", platform=platform, cg_iters=4)
    model = TransformerLM(cfg)
    tokens = S((2, 128), jnp.int32)
    params = jax.eval_shape(model.init, jax.random.key(0), tokens)

    def loss(p, t):
        return jnp.mean(model.apply(p, t))

    disabled = [jax.export.DisabledSafetyCheck.custom_call("__gpu$xla.gpu.triton")]
    exported = jax.export.export(jax.jit(jax.grad(loss)), platforms=[platform], disabled_checks=disabled)(
        params, tokens)
    assert exported.mlir_module().count(custom_call) >= 3  # forward, dQ and dK/dV kernels


@pytest.mark.parametrize("attention", ["softmax", "lla"])
def test_sharded_batch_on_8_devices_equals_one_device(attention):
    cfg, _, params, apply = _setup(attention, implementation="chunked" if attention == "lla" else None)
    devices = jax.devices()
    assert len(devices) == 8
    mesh = Mesh(np.array(devices), ("data",))
    rows = NamedSharding(mesh, PartitionSpec("data"))
    rng = np.random.default_rng(1)
    prompts = jnp.asarray(rng.integers(0, 13, size=(8, 5)))
    pmask = jnp.asarray(np.arange(5)[None, :] >= rng.integers(0, 4, size=(8, 1)))
    fn = jax.jit(functools.partial(sample, config=cfg, max_new_tokens=4))
    one = fn(params, prompts=prompts, key=jax.random.key(2), prompt_mask=pmask)
    sharded = fn(params, prompts=jax.device_put(prompts, rows), key=jax.random.key(2),
                 prompt_mask=jax.device_put(pmask, rows))
    np.testing.assert_array_equal(np.asarray(sharded[0]), np.asarray(one[0]))
    np.testing.assert_allclose(np.asarray(sharded[1]), np.asarray(one[1]), atol=1e-5)
    mask = jnp.concatenate([pmask, jnp.ones((8, 4), bool)], 1)
    # Float32 rounding differs between the two programs; the 16 CG iterations of the chunked
    # LLA path carry it further (1.2e-5 seen).
    np.testing.assert_allclose(np.asarray(apply(params, jax.device_put(one[0], rows), jax.device_put(mask, rows))),
                               np.asarray(apply(params, one[0], mask)), atol=1e-4 if attention == "lla" else 1e-5)


_SMALL = {"vocab_size": 5, "num_layers": 1, "num_heads": 1, "head_dim": 2, "mlp_dim": 4, "max_len": 4}


def test_bad_input_raises_value_error_naming_the_argument():
    cfg, model, params, _ = _setup("softmax")
    prompts = jnp.array([[1, 2, 3]])
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="prompts"):
        sample(params, cfg, jnp.ones((1, 17), jnp.int32), key=key, max_new_tokens=1)
    with pytest.raises(ValueError, match="max_new_tokens"):
        sample(params, cfg, prompts, key=key, max_new_tokens=14)
    with pytest.raises(ValueError, match="prompts"):
        sample(params, cfg, jnp.array([[1, 13, 2]]), key=key, max_new_tokens=1)
    with pytest.raises(ValueError, match="prompts"):
        sample(params, cfg, jnp.array([[1, -1, 2]]), key=key, max_new_tokens=1)
    for tau in (0.0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            sample(params, cfg, prompts, key=key, max_new_tokens=1, temperature=tau)
    with pytest.raises(ValueError, match="prompt_mask"):
        sample(params, cfg, prompts, key=key, max_new_tokens=1, prompt_mask=jnp.zeros((1, 3), bool))
    with pytest.raises(ValueError, match="prompt_mask"):
        sample(params, cfg, prompts, key=key, max_new_tokens=1, prompt_mask=jnp.ones((1, 4), bool))
    with pytest.raises(ValueError, match="tokens"):
        model.apply(params, jnp.array([[1, 13]]))
    with pytest.raises(ValueError, match="tokens"):
        model.apply(params, jnp.ones((1, 17), jnp.int32))
    with pytest.raises(TypeError, match="tokens"):
        model.apply(params, jnp.ones((1, 3)))
    # Padded slots may hold any id: they are ignored.
    model.apply(params, jnp.array([[-1, 2]]), jnp.array([[False, True]]))
    for field, value in (("attention", "mamba"), ("positions", "alibi"), ("implementation", "cuda"),
                         ("ridge", 0.0), ("vocab_size", 0), ("max_len", -1)):
        with pytest.raises(ValueError, match=field):
            TransformerConfig(**{**_SMALL, field: value})
    with pytest.raises(ValueError, match="head_dim"):
        TransformerConfig(vocab_size=5, num_layers=1, num_heads=1, head_dim=3, mlp_dim=4, max_len=4,
                          positions="rotary")


def test_zero_new_tokens_and_single_token_prompts():
    cfg, _, params, apply = _setup("linear_regression")
    prompts = jnp.array([[5], [6]])
    tokens, logps = sample(params, cfg, prompts, key=jax.random.key(0), max_new_tokens=0)
    np.testing.assert_array_equal(np.asarray(tokens), np.asarray(prompts))
    assert logps.shape == (2, 0)
    tokens, logps = sample(params, cfg, prompts, key=jax.random.key(0), max_new_tokens=15)  # fills max_len
    want = _logps_from_full_forward(apply, params, tokens, jnp.ones(tokens.shape, bool), 15, 1.0)
    np.testing.assert_allclose(np.asarray(logps), want, atol=2e-5)


def _np_layer_norm(x, p, eps=1e-6):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * p["scale"] + p["bias"]


def _np_attention(kind, q, k, v, ridge):
    """Causal attention of one head, [T, D] each, in float64 straight from the equations."""
    t, d = q.shape
    out = np.zeros_like(v)
    for i in range(t):
        kj, vj = k[: i + 1], v[: i + 1]
        if kind == "linear_regression":  # (sum v k^T)(sum k k^T + lambda I)^{-1} q
            out[i] = (vj.T @ kj) @ np.linalg.solve(kj.T @ kj + ridge * np.eye(d), q[i])
            continue
        w = np.exp(kj @ q[i] / np.sqrt(d) - np.max(kj @ q[i] / np.sqrt(d)))
        if kind == "softmax":
            out[i] = w @ vj / w.sum()
            continue
        # LLA: weighted ridge fit of v ~ b + W (k - q_i), ridge lambda * omega on W, output b.
        x = np.concatenate([np.ones((i + 1, 1)), kj - q[i]], 1)
        reg = np.diag(np.r_[0.0, np.full(d, ridge * w.sum())])
        out[i] = np.linalg.solve(x.T @ (w[:, None] * x) + reg, x.T @ (w[:, None] * vj))[0]
    return out


@pytest.mark.parametrize("attention", KINDS)
def test_one_layer_model_matches_a_float64_numpy_forward(attention):
    cfg = TransformerConfig(vocab_size=9, num_layers=1, num_heads=2, head_dim=3, mlp_dim=8, max_len=8,
                            attention=attention, ridge=0.5)
    model = TransformerLM(cfg)
    tokens = np.array([[1, 5, 2, 8, 0, 3]])
    params = jax.jit(model.init)(jax.random.key(4), jnp.asarray(tokens))
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)["params"]
    b = p["block_0"]
    x = p["embed"]["embedding"][tokens[0]] + p["pos_embed"]["embedding"][: tokens.shape[1]]
    qkv = np.einsum("te,echd->tchd", _np_layer_norm(x, b["ln_attn"]), b["qkv"]["kernel"]) + b["qkv"]["bias"]
    o = np.stack([_np_attention(attention, qkv[:, 0, h], qkv[:, 1, h], qkv[:, 2, h], 0.5) for h in range(2)], 1)
    x = x + np.einsum("thd,hde->te", o, b["out"]["kernel"]) + b["out"]["bias"]
    hid = _np_layer_norm(x, b["ln_mlp"]) @ b["mlp_in"]["kernel"] + b["mlp_in"]["bias"]
    gelu = 0.5 * hid * (1 + np.tanh(np.sqrt(2 / np.pi) * (hid + 0.044715 * hid**3)))  # flax's default (tanh) GELU
    x = x + gelu @ b["mlp_out"]["kernel"] + b["mlp_out"]["bias"]
    want = _np_layer_norm(x, p["ln_f"]) @ p["head"]["kernel"] + p["head"]["bias"]
    got = np.asarray(jax.jit(model.apply)(params, jnp.asarray(tokens)))[0]
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-5)
