"""Runs one bvjax experiment: `python -m launch.main --config=CONFIG --workdir=DIR`.

Config fields can be overridden on the command line (``--config.num_steps=10``).
Re-running the same command resumes from the last checkpoint in ``--workdir``.
"""

import logging as pylogging

from absl import app, flags, logging
from ml_collections import config_flags

from launch import train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Path to a launch/configs/*.py file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics, plots, report.")
flags.mark_flags_as_required(["config", "workdir"])


def _quiet_orbax(record: pylogging.LogRecord) -> bool:
    """Keeps orbax's per-save INFO chatter off the console; its warnings still show."""
    return record.levelno >= pylogging.WARNING or "/orbax/" not in record.pathname


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.get_absl_handler().addFilter(_quiet_orbax)
    train.maybe_initialize_distributed()
    train.train_and_evaluate(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
    app.run(main)
