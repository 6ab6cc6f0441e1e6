"""The ARL two-modality experiment runs through the launch path on a tiny override."""

import numpy as np

from launch import train
from launch.configs import arl_modalities


def test_arl_modalities_small_run(tmp_path):
    config = arl_modalities.get_config()
    config.update({"methods": ("plain", "arl", "arl_released"), "num_seeds": 1, "num_train": 512, "num_test": 512,
                   "epochs": 6, "warmup_epochs": 1})
    out = train.train_and_evaluate(config, tmp_path)
    (record,) = out["history"]
    assert all(np.isfinite(v) for v in record.values())
    # the released code's coefficients are the constant 0.5; ARL's sum to one and move with the noise
    assert record["k_a/arl_released/s0"] == 0.5 and record["k_v/arl_released/s0"] == 0.5
    np.testing.assert_allclose(record["k_a/arl/s0"] + record["k_v/arl/s0"], 1.0, rtol=1e-5)
    assert (record["k_a/arl/s0"] > record["k_v/arl/s0"]) != (record["k_a/arl_swapped/s0"] > record["k_v/arl_swapped/s0"])
    # the reliable modality's head alone predicts better, whichever encoder it sits on
    assert record["acc_a/arl/s0"] > record["acc_v/arl/s0"]
    assert record["acc_v/arl_swapped/s0"] > record["acc_a/arl_swapped/s0"]
    report = (tmp_path / "report.md").read_text()
    assert "| arl_swapped |" in report and (tmp_path / "arl_modalities.png").exists()
