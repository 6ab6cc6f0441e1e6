"""The Saito MNAR experiment runs through the launch path and shows the clipped estimator's trade-off."""

import numpy as np

from launch import train
from launch.configs import saito_mnar


def test_saito_mnar_small_run(tmp_path):
    config = saito_mnar.get_config()
    config.update({"num_users": 60, "num_items": 50, "num_steps": 20, "batch_size": 512, "eval_every": 10,
                   "log_every": 10, "checkpoint_every": 20, "meter_users": 30, "meter_draws": 256,
                   "meter_clips": (0.0, 0.05, 1.0), "estimators": ("naive", "ips", "clip_0.05"), "ks": (5,)})
    out = train.train_and_evaluate(config, tmp_path)
    last = out["history"][-1]
    assert [r["step"] for r in out["history"]] == [0, 10, 20]
    assert all(np.isfinite(v) for k, v in last.items())
    assert np.isnan(out["history"][0]["meter_mse/M0"])  # the meter runs at the final step only
    report = (tmp_path / "report.md").read_text()
    assert "| clip_0.05 |" in report and "| 0.05 |" in report and (tmp_path / "saito_mnar.png").exists()
    # IPS (M = 0) is unbiased for the ideal loss; clipping cuts the variance and adds bias.
    assert abs(last["meter_bias_squared/M0"]) < 3 * last["meter_bias_squared_se/M0"]
    assert last["meter_variance/M0.05"] < last["meter_variance/M0"]
    assert last["meter_bias_squared/M0.05"] > 3 * last["meter_bias_squared_se/M0.05"]
    assert last["meter_bias_squared/M1"] > last["meter_bias_squared/M0.05"]


def test_init_computes_the_data_set_instead_of_embedding_it():
    """The jitted ``init`` makes the data set from the seed: its lowered program has no constant of the
    data's size, and its text does not grow with the number of users (it grew ~2.4 KB a user when the
    arrays were baked in as constants)."""
    import functools
    import re

    import jax

    from launch.experiments import saito_mnar as experiment

    sizes = {}
    for num_users in (60, 240):
        config = saito_mnar.get_config()
        config.update({"num_users": num_users, "num_items": 50, "estimators": ("naive",)})
        lowered = jax.jit(functools.partial(experiment.init, config)).lower(jax.random.key(0))
        text = lowered.as_text()
        sizes[num_users] = len(text)
        # no dense constant holding a [num_users, num_items] (or larger) array
        for shape in re.findall(r"stablehlo\.constant dense<[^>]*> : tensor<([0-9x]+)x", text):
            assert np.prod([int(d) for d in shape.split("x")]) < num_users * 50, shape
        state = jax.jit(functools.partial(experiment.init, config))(jax.random.key(0))
        eager = experiment._data(config)
        for name, value in eager.items():
            np.testing.assert_array_equal(np.asarray(state["data"][name]), np.asarray(value), err_msg=name)
    assert abs(sizes[240] - sizes[60]) < 2_000, sizes
