"""bias_variance_decomp against mlxtend (scikit-learn form) and closed forms (JAX form)."""

import functools

import jax
import jax.numpy as jnp
import mlxtend.evaluate as mx
import numpy as np
import pytest
from sklearn.datasets import load_iris, make_regression
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from bvjax.diagnostics import BiasVarianceDecomp, DomingosDecomp, bias_variance_decomp


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    order = np.random.RandomState(0).permutation(len(y))
    X, y = X[order], y[order]
    return X[:100], y[:100], X[100:], y[100:]


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=160, n_features=4, noise=10.0, random_state=0)
    return X[:120], y[:120], X[120:], y[120:]


def _same(got, expected):
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(expected, np.float64), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("seed", [0, 7])
def test_zero_one_loss_matches_mlxtend(iris, seed, x64):
    tree = DecisionTreeClassifier(max_depth=2, random_state=1)
    expected = mx.bias_variance_decomp(tree, *iris, loss="0-1_loss", num_rounds=40, random_seed=seed)
    got = bias_variance_decomp(tree, *iris, loss="0-1_loss", num_rounds=40, random_seed=seed)
    assert isinstance(got, BiasVarianceDecomp)
    _same(got, expected)


@pytest.mark.parametrize("estimator", [DecisionTreeRegressor(random_state=1), LinearRegression()])
def test_mse_matches_mlxtend(regression, estimator, x64):
    expected = mx.bias_variance_decomp(estimator, *regression, loss="mse", num_rounds=30, random_seed=3)
    _same(bias_variance_decomp(estimator, *regression, loss="mse", num_rounds=30, random_seed=3), expected)
    jitted = jax.jit(functools.partial(bias_variance_decomp, estimator, loss="mse", num_rounds=30,
                                       random_seed=3))(*regression)  # fits via pure_callback
    _same(jitted, expected)


def test_fit_params_reach_fit(regression, x64):
    w = np.linspace(0.5, 2.0, regression[0].shape[0])
    expected = mx.bias_variance_decomp(LinearRegression(), *regression, loss="mse", num_rounds=10,
                                       random_seed=1, sample_weight=w)
    _same(bias_variance_decomp(LinearRegression(), *regression, loss="mse", num_rounds=10, random_seed=1,
                               sample_weight=w), expected)


def _numpy_decomp(preds, y):
    """float64 reference from the definitions: mode (ties to smallest), bias, variance, Domingos' split."""
    preds = np.asarray(preds, np.int64)
    main = np.array([np.argmax(np.bincount(col - col.min())) + col.min() for col in preds.T])
    wrong = main != y
    point_var = (preds != main).mean(axis=0)
    p_right = (preds == y).mean(axis=0)
    net = np.where(wrong, -p_right, point_var).mean()
    return ((preds != y).mean(), wrong.mean(), point_var.mean(), np.where(wrong, 0, point_var).mean(),
            np.where(wrong, point_var, 0).mean(), net)


def test_domingos_split_on_a_known_prediction_matrix(x64):
    # The r-th fit predicts table[r] whatever the resample, so the prediction matrix is known exactly.
    table = np.random.RandomState(0).randint(-1, 3, size=(9, 25))
    y = np.random.RandomState(1).randint(-1, 3, size=25)

    class Table:
        """A scikit-learn-like estimator whose r-th fit predicts table[r]."""

        calls = 0

        def fit(self, X, y):
            return self

        def predict(self, X):
            row = table[Table.calls % 9]
            Table.calls += 1
            return row

        def get_params(self, deep=True):
            return {}

    X = np.zeros((25, 1))
    got = bias_variance_decomp(Table(), X, y, X, y, num_rounds=9, random_seed=0, domingos=True)
    assert isinstance(got, DomingosDecomp)
    expected = _numpy_decomp(table, y)
    _same(got, expected)
    _same(got.avg_expected_loss, got.avg_bias + got.net_variance)
    _same(got.avg_var, got.unbiased_variance + got.biased_variance)


def test_domingos_two_classes_net_is_unbiased_minus_biased(iris, x64):
    X_tr, y_tr, X_te, y_te = iris
    y_tr, y_te = (y_tr == 2).astype(int), (y_te == 2).astype(int)
    got = bias_variance_decomp(DecisionTreeClassifier(max_depth=1, random_state=0), X_tr, y_tr, X_te, y_te,
                               num_rounds=30, random_seed=2, domingos=True)
    _same(got.net_variance, got.unbiased_variance - got.biased_variance)
    _same(got.avg_expected_loss, got.avg_bias + got.net_variance)


def _gaussian_predictor(f, sigma):
    def fit_predict(key, X_boot, y_boot, X_test):
        del X_boot, y_boot
        return f(X_test[:, 0]) + sigma * jax.random.normal(key, (X_test.shape[0],), X_test.dtype)
    return fit_predict


@pytest.mark.parametrize("jit", [False, True])
def test_jax_form_closed_form_gaussian_predictions(jit, x64):
    # Predictions f(x_t) + sigma z_{r,t}, z iid N(0, 1): E[var] = (R-1)/R sigma^2,
    # E[bias^2] = mean((f - y)^2) + sigma^2 / R, E[loss] = mean((f - y)^2) + sigma^2.
    num_rounds, m, sigma = 400, 300, 0.7
    x = np.linspace(-1.0, 1.0, m)
    y = np.sin(3 * x)
    f = lambda t: 0.5 * t
    sq_bias = np.mean((0.5 * x - y) ** 2)
    fn = functools.partial(bias_variance_decomp, _gaussian_predictor(f, sigma), loss="mse",
                           num_rounds=num_rounds)
    if jit:
        fn = jax.jit(fn)
    loss, bias, var = fn(x[:, None], y, x[:, None], y, key=jax.random.key(0))
    assert loss.dtype == jnp.float64
    n = num_rounds * m  # relative SE of the variance ~ sqrt(2 / n) = 0.4%; 3% is > 7 SE.
    np.testing.assert_allclose(var, (num_rounds - 1) / num_rounds * sigma**2, rtol=0.03)
    np.testing.assert_allclose(bias, sq_bias + sigma**2 / num_rounds, rtol=0.03)
    np.testing.assert_allclose(loss, sq_bias + sigma**2, rtol=0.03)
    np.testing.assert_allclose(loss, bias + var, rtol=1e-12)
    assert n > 0


def test_jax_form_bootstrap_mean_variance(x64):
    # Predicting the resample mean: Var = pop_var(y) / n, so E[avg_var] = (R-1)/R pop_var / n.
    y = np.linspace(0.0, 4.0, 30) ** 2
    pop_var, n, num_rounds = np.var(y), 30, 2000

    def fit_predict(key, X_boot, y_boot, X_test):
        return jnp.full((X_test.shape[0],), jnp.mean(y_boot))

    X = np.zeros((n, 2))
    for chunk in (None, 300):
        _, bias, var = bias_variance_decomp(fit_predict, X, y, X[:3], y[:3], loss="mse",
                                               num_rounds=num_rounds, key=jax.random.key(1), chunk_size=chunk)
        # relative SE of a variance from 2000 draws ~ sqrt(2/1999) = 3.2%; 15% is ~5 SE.
        np.testing.assert_allclose(var, (num_rounds - 1) / num_rounds * pop_var / n, rtol=0.15)
        np.testing.assert_allclose(bias, np.mean((y.mean() - y[:3]) ** 2), rtol=0.05)


def test_jax_form_chunked_equals_vmapped(x64):
    def fit_predict(key, X_boot, y_boot, X_test):
        w = jnp.linalg.lstsq(X_boot, y_boot)[0]
        return X_test @ w + 0.1 * jax.random.normal(key, (X_test.shape[0],))

    X = np.random.RandomState(0).normal(size=(40, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + np.random.RandomState(1).normal(size=40)
    a = bias_variance_decomp(fit_predict, X, y, X, y, loss="mse", num_rounds=12, key=jax.random.key(3))
    b = bias_variance_decomp(fit_predict, X, y, X, y, loss="mse", num_rounds=12, key=jax.random.key(3),
                             chunk_size=5)
    _same(a, b)


def test_jax_form_zero_one(x64):
    # A classifier that always predicts the resample's majority label: labels 0 (x18), 1 (x12).
    y = np.array([0] * 18 + [1] * 12)

    def fit_predict(key, X_boot, y_boot, X_test):
        label = (jnp.mean(y_boot) > 0.5).astype(jnp.int32)
        return jnp.full((X_test.shape[0],), label)

    X = np.zeros((30, 1))
    out = bias_variance_decomp(fit_predict, X, y, X, y, num_rounds=200, key=jax.random.key(0), domingos=True)
    # Main prediction 0 for every point: bias = 12/30; P(resample mean > 0.5) ~ 0.13 (binomial tail).
    np.testing.assert_allclose(out.avg_bias, 0.4)
    _same(out.avg_expected_loss, out.avg_bias + out.net_variance)
    assert 0.0 < float(out.avg_var) < 0.3


def test_constant_predictor_has_zero_variance():
    def fit_predict(key, X_boot, y_boot, X_test):
        return jnp.zeros(X_test.shape[0])

    y = jnp.arange(4.0)
    loss, bias, var = bias_variance_decomp(fit_predict, jnp.zeros((4, 1)), y, jnp.zeros((4, 1)), y, loss="mse",
                                           num_rounds=3, key=jax.random.key(0))
    assert float(var) == 0.0 and float(bias) == float(loss) == pytest.approx(3.5)


def _mean_fp(key, X_boot, y_boot, X_test):
    return jnp.full((X_test.shape[0],), jnp.mean(y_boot))


@pytest.mark.parametrize("kwargs,args_fn,exc,match", [
    ({"loss": "hinge"}, None, ValueError, "loss"),
    ({"num_rounds": 0}, None, ValueError, "num_rounds"),
    ({"loss": "mse", "domingos": True}, None, ValueError, "domingos"),
    ({"loss": "mse"}, lambda X, y: (X, y[:-1], X, y), ValueError, "y_train"),
    ({"loss": "mse"}, lambda X, y: (X, y, X[:, :1], y), ValueError, "X_test"),
    ({"loss": "mse"}, lambda X, y: (X[:0], y[:0], X, y), ValueError, "X_train"),
    ({"loss": "mse", "key": None}, None, ValueError, "key"),
    ({"loss": "mse", "random_seed": 1}, None, ValueError, "random_seed"),
    ({"loss": "mse", "sample_weight": 1}, None, ValueError, "fit_params"),
    ({"loss": "0-1_loss"}, None, TypeError, "y_train"),
])
def test_bad_input_raises(kwargs, args_fn, exc, match):
    X, y = jnp.zeros((6, 2)), jnp.arange(6.0)
    args = args_fn(X, y) if args_fn else (X, y, X, y)
    kwargs = {"key": jax.random.key(0), **kwargs}
    with pytest.raises(exc, match=match):
        bias_variance_decomp(_mean_fp, *args, **kwargs)


def test_bad_fit_predict_output_and_estimator():
    X, y = jnp.zeros((6, 2)), jnp.arange(6.0)
    with pytest.raises(ValueError, match="fit_predict"):
        bias_variance_decomp(lambda k, a, b, c: jnp.zeros(3), X, y, X, y, loss="mse", key=jax.random.key(0))
    with pytest.raises(TypeError, match="fit_predict"):
        bias_variance_decomp(_mean_fp, X, jnp.arange(6), X, jnp.arange(6), key=jax.random.key(0))
    with pytest.raises(TypeError, match="estimator"):
        bias_variance_decomp(3, X, y, X, y, loss="mse")
    with pytest.raises(ValueError, match="key"):
        bias_variance_decomp(LinearRegression(), X, y, X, y, loss="mse", key=jax.random.key(0))
