r"""Benchmark of the learner decomposition: a flax MLP trained by optax in one program vs
mlxtend's loop over scikit-learn's MLP.

    python -m launch.bench_decomp            # what `make bench` runs
    python -m launch.bench_decomp --num_rounds=200 --epochs=200 --tasks=regression

Both sides decompose the same learner on the same data: a one-hidden-layer ReLU MLP
(``--hidden`` units) trained from a fresh initialisation by Adam (learning rate 1e-3,
minibatches of ``--batch``) for ``--epochs`` epochs on each bootstrap resample, then
predicting the test set; squared loss for regression (``loss="mse"``), softmax cross
entropy and 0-1 loss for classification.

- ``bvjax``: `bvjax.diagnostics.bias_variance_decomp` with a JAX ``fit_predict`` (flax
  ``nn.Dense`` layers, ``optax.adam`` in a ``lax.scan`` over steps; each step draws a
  minibatch from the resample), all rounds vmapped in one jitted program;
- ``mlxtend``: ``mlxtend.evaluate.bias_variance_decomp`` with scikit-learn's
  ``MLPRegressor`` / ``MLPClassifier`` (adam, same width, learning rate, batch size and
  epochs, ``tol=0`` so every fit runs all its epochs), one fit per round in Python.

Prints median wall time (bvjax: compilation excluded, and the first call with
compilation), the ratio, and both decompositions (different implementations of the
same learner, so the figures should be close, not equal).
"""

from __future__ import annotations

import time
import warnings

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import app, flags

from bvjax.diagnostics import bias_variance_decomp
from launch._timing import median_time

_TASKS = flags.DEFINE_list("tasks", ["regression", "classification"], "Which learners to time.")
_NUM_ROUNDS = flags.DEFINE_integer("num_rounds", 100, "Bootstrap rounds of the decomposition.")
_EPOCHS = flags.DEFINE_integer("epochs", 100, "Training epochs per round.")
_HIDDEN = flags.DEFINE_integer("hidden", 32, "MLP hidden width.")
_BATCH = flags.DEFINE_integer("batch", 100, "Minibatch size.")
_NUM_TRAIN = flags.DEFINE_integer("num_train", 400, "Training examples.")
_NUM_TEST = flags.DEFINE_integer("num_test", 200, "Test examples.")
_DIM = flags.DEFINE_integer("dim", 8, "Input features.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repeats of the bvjax call (median reported).")
_LR = 1e-3


def make_data(task: str, num_train: int, num_test: int, dim: int, seed: int = 0):
    """A fixed nonlinear regression or 3-class problem, float32 features."""
    rng = np.random.RandomState(seed)
    x = rng.normal(size=(num_train + num_test, dim)).astype(np.float32)
    w = rng.normal(size=(dim, 3)) / np.sqrt(dim)
    signal = np.sin(2.0 * x @ w)
    if task == "regression":
        y = (signal[:, 0] + 0.5 * signal[:, 1] + 0.3 * rng.normal(size=len(x))).astype(np.float32)
    else:
        y = np.argmax(signal + 0.3 * rng.normal(size=signal.shape), axis=1).astype(np.int32)
    return x[:num_train], y[:num_train], x[num_train:], y[num_train:]


class MLP(nn.Module):
    hidden: int
    out: int

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.out)(nn.relu(nn.Dense(self.hidden)(x)))


def make_fit_predict(task: str, *, hidden: int, epochs: int, batch: int, num_train: int, num_classes: int = 3):
    """``fit_predict(key, X_boot, y_boot, X_test)``: init, Adam for ``epochs`` epochs, predict."""
    out = 1 if task == "regression" else num_classes
    model = MLP(hidden, out)
    tx = optax.adam(_LR)
    num_steps = epochs * -(-num_train // batch)

    def loss_fn(params, xb, yb):
        pred = model.apply(params, xb)
        if task == "regression":
            return 0.5 * jnp.mean((pred[:, 0] - yb) ** 2)  # scikit-learn's squared loss has the 1/2
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(pred, yb))

    def fit_predict(key, X_boot, y_boot, X_test):
        k_init, k_steps = jax.random.split(key)
        params = model.init(k_init, X_boot[:1])
        state = tx.init(params)

        def step(carry, k):
            params, state = carry
            idx = jax.random.randint(k, (batch,), 0, X_boot.shape[0])
            grads = jax.grad(loss_fn)(params, X_boot[idx], y_boot[idx])
            updates, state = tx.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(step, (params, state), jax.random.split(k_steps, num_steps))
        pred = model.apply(params, X_test)
        return pred[:, 0] if task == "regression" else jnp.argmax(pred, axis=-1).astype(jnp.int32)

    return fit_predict


def sklearn_mlp(task: str, *, hidden: int, epochs: int, batch: int):
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    cls = MLPRegressor if task == "regression" else MLPClassifier
    return cls(hidden_layer_sizes=(hidden,), solver="adam", learning_rate_init=_LR, batch_size=batch,
               max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1, alpha=0.0)  # random_state=None: a fresh init per round, as on the bvjax side


def main(argv):
    del argv
    from mlxtend.evaluate import bias_variance_decomp as mlxtend_decomp
    from sklearn.exceptions import ConvergenceWarning

    rounds, epochs = _NUM_ROUNDS.value, _EPOCHS.value
    print(f"MLP {_DIM.value}-{_HIDDEN.value}-out, Adam lr {_LR}, batch {_BATCH.value}, {epochs} epochs per round, "
          f"{rounds} bootstrap rounds, {_NUM_TRAIN.value} train / {_NUM_TEST.value} test; backend "
          f"{jax.default_backend()}, {jax.device_count()} device(s).")
    header = (f"{'task':>14} | {'bvjax s':>8} | {'+compile s':>10} | {'mlxtend s':>9} | {'ratio':>6} | "
              f"{'bvjax loss / bias / var':>26} | {'mlxtend loss / bias / var':>26}")
    print(header)
    print("-" * len(header))
    for task in _TASKS.value:
        print(_time_task(task, rounds, epochs, mlxtend_decomp, ConvergenceWarning))


def _time_task(task, rounds, epochs, mlxtend_decomp, convergence_warning) -> str:
    """One table row: both decompositions of the task's MLP, timed."""
    loss = "mse" if task == "regression" else "0-1_loss"
    X_tr, y_tr, X_te, y_te = make_data(task, _NUM_TRAIN.value, _NUM_TEST.value, _DIM.value)
    fit_predict = make_fit_predict(task, hidden=_HIDDEN.value, epochs=epochs, batch=_BATCH.value,
                                   num_train=_NUM_TRAIN.value)
    decomp = jax.jit(lambda key: bias_variance_decomp(fit_predict, X_tr, y_tr, X_te, y_te, loss=loss,
                                                      num_rounds=rounds, key=key))
    start = time.perf_counter()
    ours = jax.block_until_ready(decomp(jax.random.key(0)))
    t_first = time.perf_counter() - start
    t_ours = median_time(lambda: decomp(jax.random.key(0)), _REPEATS.value, warmup=False)

    estimator = sklearn_mlp(task, hidden=_HIDDEN.value, epochs=epochs, batch=_BATCH.value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", convergence_warning)
        start = time.perf_counter()
        theirs = mlxtend_decomp(estimator, X_tr, y_tr, X_te, y_te, loss=loss, num_rounds=rounds, random_seed=0)
        t_theirs = time.perf_counter() - start
    fmt = lambda v: " / ".join(f"{float(a):.4f}" for a in v)
    return (f"{task:>14} | {t_ours:>8.3f} | {t_first:>10.3f} | {t_theirs:>9.2f} | {t_theirs / t_ours:>6.1f} | "
            f"{fmt(ours):>26} | {fmt(theirs):>26}")

if __name__ == "__main__":
    app.run(main)
