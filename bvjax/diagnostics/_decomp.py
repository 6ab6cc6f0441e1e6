"""The bias–variance decomposition of a learning algorithm's expected loss over bootstrap
training sets: mlxtend's definitions, for scikit-learn estimators or JAX ``fit_predict``."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bvjax import _checks

_LOSSES = ("0-1_loss", "mse")
# Feature arrays: one row per example, up to three trailing feature dimensions.
_ROWS = {n: (f"[{n}]", f"[{n}, D]", f"[{n}, D, E]", f"[{n}, D, E, F]") for n in ("N", "M")}


class BiasVarianceDecomp(NamedTuple):
    """What `bias_variance_decomp` returns; unpacks as mlxtend's ``loss, bias, var`` triple.

    Attributes:
        avg_expected_loss: mean loss of a round's predictions, over rounds and test points.
        avg_bias: mean loss of the main prediction (squared bias for ``"mse"``).
        avg_var: mean loss of a round's predictions against the main prediction.
    """

    avg_expected_loss: jax.Array
    avg_bias: jax.Array
    avg_var: jax.Array


class DomingosDecomp(NamedTuple):
    """`bias_variance_decomp` with ``domingos=True``: mlxtend's three figures plus Domingos' split.

    Attributes:
        avg_expected_loss, avg_bias, avg_var: as in `BiasVarianceDecomp`.
        unbiased_variance: mean variance over the test points whose main prediction is right.
        biased_variance: mean variance over the points whose main prediction is wrong
            (``unbiased_variance + biased_variance == avg_var``).
        net_variance: the variance term of Domingos' decomposition, so that
            ``avg_expected_loss == avg_bias + net_variance`` exactly (noise-free labels).
            Two classes: ``unbiased_variance - biased_variance``.
    """

    avg_expected_loss: jax.Array
    avg_bias: jax.Array
    avg_var: jax.Array
    unbiased_variance: jax.Array
    biased_variance: jax.Array
    net_variance: jax.Array


def _values(x):
    """pandas DataFrame / Series -> NumPy, as mlxtend accepts them; anything else unchanged."""
    return x.to_numpy() if type(x).__module__.split(".")[0] == "pandas" else x


def _mode(preds):
    """Per-column most frequent value of int [R, T]; ties go to the smallest value (as bincount+argmax)."""
    counts = jax.lax.map(lambda row: jnp.sum(preds == row, axis=0), preds)  # [R, T], O(R T) memory
    top = jnp.max(counts, axis=0)
    big = jnp.iinfo(preds.dtype).max
    return jnp.min(jnp.where(counts == top, preds, big), axis=0)


def _decompose(preds, y_test, loss, domingos):
    """The decomposition from a [R, T] matrix of per-round test predictions."""
    if loss == "mse":
        dtype = jnp.result_type(jnp.float32, preds.dtype, y_test.dtype)
        preds, y = preds.astype(dtype), y_test.astype(dtype)
        main = jnp.mean(preds, axis=0)
        return BiasVarianceDecomp(jnp.mean((preds - y) ** 2), jnp.mean((main - y) ** 2),
                                  jnp.mean((preds - main) ** 2))
    dtype = jnp.result_type(float)
    main = _mode(preds)
    wrong = main != y_test  # B(x)
    point_var = jnp.mean(preds != main, axis=0, dtype=dtype)  # V(x)
    out = BiasVarianceDecomp(jnp.mean(preds != y_test, dtype=dtype), jnp.mean(wrong, dtype=dtype),
                             jnp.mean(point_var))
    if not domingos:
        return out
    right_rate = jnp.mean(preds == y_test, axis=0, dtype=dtype)  # P_D(y = t)
    zero = jnp.zeros((), dtype)
    return DomingosDecomp(*out, jnp.mean(jnp.where(wrong, zero, point_var)),
                          jnp.mean(jnp.where(wrong, point_var, zero)),
                          jnp.mean(jnp.where(wrong, -right_rate, point_var)))


def _sklearn_predictions(estimator, X_train, y_train, X_test, loss, num_rounds, random_seed, fit_params):
    """Fits on mlxtend's bootstrap stream on the host; [R, T] predictions (pure_callback when traced)."""
    host_dtype = np.int64 if loss == "0-1_loss" else np.float64

    def run(X_tr, y_tr, X_te):
        from sklearn.base import clone

        X_tr, y_tr, X_te = np.asarray(X_tr), np.asarray(y_tr), np.asarray(X_te)
        rng = np.random.RandomState(random_seed)
        rows = np.arange(X_tr.shape[0])
        out = np.zeros((num_rounds, X_te.shape[0]), host_dtype)
        for r in range(num_rounds):
            boot = rng.choice(rows, size=rows.shape[0], replace=True)
            out[r] = clone(estimator).fit(X_tr[boot], y_tr[boot], **fit_params).predict(X_te)
        return out

    dtype = jnp.dtype(jnp.int_) if loss == "0-1_loss" else jnp.result_type(float)
    shape = (num_rounds, X_test.shape[0])
    if any(isinstance(a, jax.core.Tracer) for a in (X_train, y_train, X_test)):
        return jax.pure_callback(lambda *a: run(*a).astype(dtype), jax.ShapeDtypeStruct(shape, dtype),
                                 X_train, y_train, X_test)
    return jnp.asarray(run(X_train, y_train, X_test), dtype)


def _jax_predictions(fit_predict, X_train, y_train, X_test, key, num_rounds, chunk_size):
    """All rounds of ``fit_predict`` on JAX bootstrap resamples, vmapped (in chunks) in one program."""
    n = X_train.shape[0]

    def one_round(k):
        k_boot, k_fit = jax.random.split(k)
        boot = jax.random.randint(k_boot, (n,), 0, n)
        return fit_predict(k_fit, jnp.take(X_train, boot, axis=0), jnp.take(y_train, boot, axis=0), X_test)

    keys = jax.random.split(key, num_rounds)
    out = jax.eval_shape(one_round, keys[0])
    if not hasattr(out, "shape") or tuple(out.shape) != (X_test.shape[0],):
        raise ValueError(f"fit_predict: expected predictions of shape [M] with M={X_test.shape[0]} "
                         f"(one per test row), got {getattr(out, 'shape', type(out).__name__)}")
    if chunk_size is None or chunk_size >= num_rounds:
        return jax.vmap(one_round)(keys)
    return jax.lax.map(one_round, keys, batch_size=chunk_size)


def bias_variance_decomp(
    estimator: Any,
    X_train: jax.Array,
    y_train: jax.Array,
    X_test: jax.Array,
    y_test: jax.Array,
    *,
    loss: str = "0-1_loss",
    num_rounds: int = 200,
    random_seed: int | None = None,
    key: jax.Array | None = None,
    domingos: bool = False,
    chunk_size: int | None = None,
    **fit_params: Any,
) -> BiasVarianceDecomp | DomingosDecomp:
    r"""Bias–variance decomposition of a learner's expected loss over bootstrap training sets.

    Each of ``R = num_rounds`` rounds draws a bootstrap resample (n rows with replacement)
    of the training set, fits the learner on it and predicts the M test points, giving
    predictions :math:`\hat y_{r,t}`. With the main prediction :math:`m_t` (the mean over
    rounds for ``"mse"``, the most frequent label for ``"0-1_loss"``, ties to the smallest
    label) and averages over rounds and test points:

    .. math::
        \text{mse:}\quad \bar L = \overline{(\hat y_{r,t}-y_t)^2},\quad
        \text{bias} = \overline{(m_t - y_t)^2},\quad
        \text{var} = \overline{(\hat y_{r,t} - m_t)^2}\quad (\bar L = \text{bias} + \text{var});

        \text{0-1:}\quad \bar L = \overline{[\hat y_{r,t} \ne y_t]},\quad
        \text{bias} = \overline{[m_t \ne y_t]},\quad
        \text{var} = \overline{[\hat y_{r,t} \ne m_t]}.

    These are mlxtend's definitions (``avg_bias`` is the *squared* bias for ``"mse"``). For
    the 0-1 loss they do not add up; ``domingos=True`` adds Domingos' split, which does:
    with :math:`B_t = [m_t \ne y_t]` and :math:`V_t` the variance at point t, the
    unbiased variance :math:`\overline{(1-B_t)V_t}`, the biased variance
    :math:`\overline{B_t V_t}`, and the net variance
    :math:`\overline{(1-B_t)V_t - B_t\,P_r(\hat y_{r,t} = y_t)}` with
    :math:`\bar L = \text{bias} + \text{net variance}` exactly (Domingos' theorem for
    multiclass 0-1 loss without noise, the test labels taken as the truth; for two classes
    the net variance is unbiased minus biased variance).

    Two forms, chosen by ``estimator``:

    * a scikit-learn estimator (has ``fit`` and ``predict``): each round fits
      ``clone(estimator)`` with ``**fit_params`` on the host. For an integer
      ``random_seed`` the resamples are mlxtend's: one ``numpy.random.RandomState(seed)``
      whose ``choice(n, size=n, replace=True)`` draws round after round, so the results
      equal ``mlxtend.evaluate.bias_variance_decomp``'s (with an estimator whose own
      randomness is seeded). Under ``jax.jit`` the loop runs in ``jax.pure_callback``.
    * a JAX function ``fit_predict(key, X_boot, y_boot, X_test) -> [M] predictions``
      (train and predict in one pure function, e.g. a flax model trained by optax in a
      ``lax.scan``): ``key`` is required; round r uses ``jax.random.split(key, R)[r]``,
      split into a resampling key and the key passed to ``fit_predict``. All rounds run
      in one program, ``jax.vmap`` over rounds (``jax.lax.map`` over chunks of
      ``chunk_size`` rounds when memory needs it); jit the call with ``fit_predict``
      static to compile it once.

    Args:
        estimator: a scikit-learn estimator, or a JAX ``fit_predict`` (static).
        X_train: [N, ...] training features.
        y_train: [N] training targets (int class labels for ``"0-1_loss"``).
        X_test: [M, ...] test features, trailing dimensions as ``X_train``.
        y_test: [M] test targets.
        loss: static ``"0-1_loss"`` or ``"mse"``.
        num_rounds: static int R >= 1, the number of bootstrap rounds.
        random_seed: static int or None, the seed of the scikit-learn form's stream.
        key: PRNG key, required by (and only by) the JAX form.
        domingos: static bool; return `DomingosDecomp` (``"0-1_loss"`` only).
        chunk_size: static int or None; the JAX form vmaps this many rounds at once.
        **fit_params: passed to ``estimator.fit`` (scikit-learn form only).

    Returns:
        `BiasVarianceDecomp` ``(avg_expected_loss, avg_bias, avg_var)`` of float scalars,
        or `DomingosDecomp` with ``domingos=True``. Predictions that are NaN make the
        ``"mse"`` figures NaN.

    Raises:
        ValueError: an unknown ``loss``, mismatched shapes, empty train or test sets,
            ``fit_predict`` output that is not [M], a missing ``key`` for the JAX form or
            ``key``/``fit_params`` given to the wrong form, ``domingos`` with ``"mse"``.
        TypeError: non-integer labels for ``"0-1_loss"``.

    Departures from mlxtend: the estimator is cloned before each fit rather than
    refitted in place (the same numbers for any estimator that does not ``warm_start``);
    Keras models are not special-cased; labels may be negative (mlxtend's ``bincount``
    needs them >= 0).

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from bvjax.diagnostics import bias_variance_decomp
        >>> def mean_predictor(key, X_boot, y_boot, X_test):  # predicts the bootstrap mean
        ...     return jnp.full(X_test.shape[0], jnp.mean(y_boot))
        >>> X = jnp.zeros((20, 1)); y = jnp.arange(20.0)
        >>> loss, bias, var = bias_variance_decomp(mean_predictor, X, y, X, y, loss="mse",
        ...                                        num_rounds=500, key=jax.random.key(0))
        >>> bool(abs(var - 33.25 / 20) < 0.3)  # Var(y) / n for a bootstrap mean
        True
        >>> bool(jnp.isclose(loss, bias + var))
        True

    References:
        Domingos, A Unified Bias-Variance Decomposition and its Applications, 2000.
        Raschka, MLxtend: Providing machine learning and data science utilities and
        extensions to Python's scientific computing stack, 2018.
        Efron and Tibshirani, An Introduction to the Bootstrap, 1993.
    """
    _checks.one_of("loss", loss, _LOSSES)
    _checks.positive_int(num_rounds=num_rounds)
    if chunk_size is not None:
        _checks.positive_int(chunk_size=chunk_size)
    if domingos and loss != "0-1_loss":
        raise ValueError(f"domingos: expected False with loss={loss!r} (Domingos' split is for the 0-1 loss), "
                         "got True")
    X_train, y_train, X_test, y_test = (_values(a) for a in (X_train, y_train, X_test, y_test))
    _checks.dims(X_train=(X_train, _ROWS["N"], "number"), y_train=(y_train, "[N]", "number"),
                 X_test=(X_test, _ROWS["M"], "number"), y_test=(y_test, "[M]", "number"))
    if tuple(X_train.shape[1:]) != tuple(X_test.shape[1:]):
        raise ValueError(f"X_test: expected trailing dimensions {tuple(X_train.shape[1:])} as X_train, "
                         f"got shape {tuple(X_test.shape)}")
    for name, arr in (("X_train", X_train), ("X_test", X_test)):
        if arr.shape[0] == 0:
            raise ValueError(f"{name}: expected at least one row, got shape {tuple(arr.shape)}")
    if loss == "0-1_loss":
        _checks.int_dtype(y_train=y_train, y_test=y_test)

    if hasattr(estimator, "fit") and hasattr(estimator, "predict"):
        if key is not None:
            raise ValueError("key: expected None for a scikit-learn estimator (it uses random_seed), got a key")
        preds = _sklearn_predictions(estimator, X_train, y_train, X_test, loss, num_rounds, random_seed,
                                     fit_params)
    elif callable(estimator):
        if key is None:
            raise ValueError("key: expected a PRNG key for a JAX fit_predict, got None")
        if random_seed is not None:
            raise ValueError(f"random_seed: expected None for a JAX fit_predict (it uses key), got {random_seed!r}")
        if fit_params:
            raise ValueError(f"fit_params: expected none for a JAX fit_predict, got {sorted(fit_params)}")
        preds = _jax_predictions(estimator, jnp.asarray(X_train), jnp.asarray(y_train), jnp.asarray(X_test),
                                 key, num_rounds, chunk_size)
        if loss == "0-1_loss" and not jnp.issubdtype(preds.dtype, jnp.integer):
            raise TypeError(f"fit_predict: expected int class predictions for loss='0-1_loss', got {preds.dtype}")
    else:
        raise TypeError(f"estimator: expected a scikit-learn estimator or a fit_predict function, "
                        f"got {type(estimator).__name__}")
    return _decompose(preds, jnp.asarray(y_test), loss, domingos)
