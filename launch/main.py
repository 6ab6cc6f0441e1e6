"""Runs one bvjax experiment: `python -m launch.main --config=CONFIG --workdir=DIR`.

Config fields can be overridden on the command line (``--config.num_steps=10``);
``--describe_config`` prints every field with its default, meaning and allowed range.
Re-running the same command resumes from the last checkpoint in ``--workdir``; a run
whose config differs from the one recorded there is refused (extending ``num_steps``
and the evaluation, logging and checkpoint cadence may change); ``--fresh`` starts
over after renaming the old workdir to ``DIR.<UTC date-time>``.

Every refusal (bad or unknown field, changed config, workdir in use, damaged metrics
file) ends with its reason on stderr, one line per problem, and exit status 1,
before any compile and without touching the workdir.
"""

import importlib.util
import logging as pylogging
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from launch import experiments, train
from launch import workdir as workdir_lib
from launch.configs import common

_CONFIG = config_flags.DEFINE_config_file("config", None, "Path to a launch/configs/*.py file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics, plots, report.")
_FRESH = flags.DEFINE_bool("fresh", False, "Start over: rename a non-empty --workdir to WORKDIR.<UTC date-time> "
                           "first (nothing is deleted).")
_DESCRIBE = flags.DEFINE_bool("describe_config", False, "Print every config field with its default, meaning "
                              "and allowed range, then exit.")
flags.mark_flags_as_required(["config"])


def _fail(message: str) -> None:
    """Ends the process with `message` on stderr and exit status 1 (no traceback)."""
    raise SystemExit(f"launch.main: {message}")


def _config_arg(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
        if arg == "--config" and i + 1 < len(argv):
            return argv[i + 1]
    return None


def _load_defaults(spec: str):
    """The config a ``--config=path[:arg]`` names, before overrides (None if unloadable)."""
    path, _, arg = spec.partition(":")
    try:
        module_spec = importlib.util.spec_from_file_location("_launch_config", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        return module.get_config(arg) if arg else module.get_config()
    except Exception:  # noqa: BLE001 - config_flags reports a broken config file itself
        return None


def _parse_flags(argv: list[str]) -> list[str]:
    """absl flag parsing, with unknown ``--config.<name>`` fields caught first, in one line each."""
    spec = _config_arg(argv)
    defaults = _load_defaults(spec) if spec else None
    if defaults is not None:
        overrides = [a[len("--config."):].split("=", 1)[0] for a in argv[1:] if a.startswith("--config.")]
        overrides = [name[2:] if name.startswith("no") and name[2:] in common.known_names(defaults) else name
                     for name in overrides]
        lines = common.unknown_fields(defaults, overrides)
        if lines:
            _fail("\n".join(lines))
    try:
        return flags.FLAGS(argv)
    except flags.Error as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        _fail(lines[0] + (f" {lines[-1]}" if lines[0].endswith(":") and len(lines) > 1 else ""))
    except (KeyError, AttributeError, TypeError, ValueError) as err:  # raised by config overrides
        _fail(f"bad --config override: {type(err).__name__}: {str(err).splitlines()[0]}")
    return []  # unreachable: _fail raises


def _quiet_orbax(record: pylogging.LogRecord) -> bool:
    """Keeps orbax's per-save INFO chatter off the console; its warnings still show."""
    return record.levelno >= pylogging.WARNING or "/orbax/" not in record.pathname


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    config = _CONFIG.value
    try:
        if _DESCRIBE.value:
            experiment = experiments.get(config.experiment)
            print(common.describe(config, config_path=_config_arg(sys.argv).partition(":")[0],
                                  experiment_fields=experiment.config_fields, trains=experiment.trains))
            return
        if not _WORKDIR.value:
            _fail("--workdir is required (where checkpoints, metrics and the report go)")
        logging.get_absl_handler().addFilter(_quiet_orbax)
        train.maybe_initialize_distributed()
        train.train_and_evaluate(config, _WORKDIR.value, fresh=_FRESH.value)
    except workdir_lib.LaunchError as err:
        _fail(str(err))


if __name__ == "__main__":
    app.run(main, flags_parser=_parse_flags)
