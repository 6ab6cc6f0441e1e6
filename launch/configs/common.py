"""The fields every launch config shares (the loop's), and the checks run on a config up front.

Not a config itself (it has no ``get_config``). Each config starts from `loop_config`
(a training experiment: the training loop's fields with their defaults) or
`measure_config` (a measurement: ``experiment`` and ``seed`` only), then adds its own
fields; a config with variants (``--config=path.py:accelerator``) applies them with
`apply_variant`, which refuses an unknown variant naming the valid ones. `validate` runs before any device work:
a bad value gives one line naming the field, the value and the allowed range;
`unknown_fields` finds ``--config.<name>`` overrides that name no field, with the
closest valid name; `describe` prints every field with its default, meaning and range
(``python -m launch.main --config=... --describe_config``).

Fields and their ranges come from three places, later ones winning:

1. `LOOP_FIELDS` below, for the fields launch/train.py reads. A training experiment
   (one with ``train_step``) needs ``num_steps >= 1``; a measurement allows 0.
2. A default rule for an experiment's own fields that are not declared: an ``int``
   named ``num_*``, ``*_size`` or ``*_draws`` is a count and must be >= 1;
   a ``float`` named ``*learning_rate`` must be > 0 and one named ``*_std`` >= 0.
3. ``CONFIG_FIELDS`` in the experiment module: name -> `Field` (type, range, choices,
   meaning) for its own fields.

Values must also be finite numbers where a number is expected; ml_collections already
refuses an override whose type differs from the default's.
"""

from __future__ import annotations

import difflib
import io
import math
import pathlib
import re
import tokenize
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import ml_collections

from launch.workdir import LaunchError, flatten_config


class ConfigError(LaunchError, ValueError):
    """A config value is out of range, of the wrong type, or names no field."""


class Field(NamedTuple):
    """What one config field accepts: type, bounds (inclusive unless open), choices, meaning."""

    kind: type | tuple[type, ...] | None = None
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    help: str = ""
    low_open: bool = False  # True: value > low rather than >= low

    def allowed(self) -> str:
        parts = []
        if self.kind is not None:
            kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
            parts.append("/".join(k.__name__ for k in kinds))
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"<= {self.high:g}")
        if self.choices is not None:
            parts.append("one of " + ", ".join(map(repr, self.choices)))
        return " ".join(parts)

    def check(self, name: str, value: Any) -> str | None:
        """The one-line complaint about `value`, or None when it is allowed."""
        kinds = self.kind if isinstance(self.kind, tuple) or self.kind is None else (self.kind,)
        if kinds is not None:
            ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
            if float in kinds and isinstance(value, int) and not isinstance(value, bool):
                ok = True
            if not ok:
                return f"config.{name}={value!r}: expected {self.allowed()}"
        values = value if isinstance(value, (list, tuple)) and self.choices is not None else (value,)
        for v in values:
            if self.choices is not None and v not in self.choices:
                return f"config.{name}={value!r}: expected {self.allowed()}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                return f"config.{name}={value!r}: expected a finite number"
            too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
            too_high = self.high is not None and value > self.high
            if too_low or too_high:
                return f"config.{name}={value!r}: expected {self.allowed()}"
        return None


LOOP_FIELDS: dict[str, Field] = {
    "experiment": Field(str, help="built-in experiment name or import path of a module (my_pkg.my_experiment)"),
    "seed": Field(int, 0, help="root PRNG seed: init, batches and evaluation keys derive from it"),
    "num_steps": Field(int, 0, help="training steps (>= 1 for a training experiment)"),
    "batch_size": Field(int, 1, help="examples per step, sharded over the data axis (a multiple of the devices)"),
    "eval_every": Field(int, 1, help="evaluate and append a metrics row every this many steps"),
    "log_every": Field(int, 1, help="console progress line every this many steps"),
    "checkpoint_every": Field(int, 1, help="save an orbax checkpoint every this many steps"),
    "max_checkpoints": Field(int, 1, help="checkpoints kept in <workdir>/checkpoints"),
    "num_devices": Field(int, 0, help="devices on the mesh (0: every device)"),
    "param_shards": Field(int, 1, help="devices each parameter is split over (the 'param' mesh axis); 1: replicated"),
}

# The training loop's defaults; `loop_config` starts from these.
LOOP_DEFAULTS: dict[str, Any] = {
    "seed": 0, "num_steps": 100, "batch_size": 8, "eval_every": 1, "log_every": 1, "checkpoint_every": 1,
    "max_checkpoints": 1, "num_devices": 0, "param_shards": 1,
}

# The fields a measurement (launch/measure.py: no loop, no mesh, no checkpoints) reads.
MEASURE_FIELDS = ("experiment", "seed")


def loop_config(experiment: str, **overrides: Any) -> ml_collections.ConfigDict:
    """A config holding ``experiment`` and the training loop's fields (`LOOP_DEFAULTS`, then `overrides`).

    Args:
        experiment: the experiment's short name or import path.
        **overrides: values for loop fields (``num_steps=300, eval_every=5, ...``); a name
            that is not a loop field raises ValueError (set the experiment's own fields on
            the returned config).

    Returns:
        A new `ml_collections.ConfigDict`, fields in the order experiment, `LOOP_DEFAULTS`.

    Examples:
        >>> config = loop_config("reinforce_baselines", num_steps=300, eval_every=5)
        >>> config.num_steps, config.eval_every, config.param_shards
        (300, 5, 1)
    """
    unknown = sorted(set(overrides) - set(LOOP_DEFAULTS))
    if unknown:
        raise ValueError(f"loop_config: {', '.join(unknown)} not loop fields; valid: {', '.join(LOOP_DEFAULTS)}")
    config = ml_collections.ConfigDict()
    config.experiment = experiment
    for name, default in LOOP_DEFAULTS.items():
        setattr(config, name, overrides.get(name, default))
    return config


def measure_config(experiment: str, *, seed: int = 0) -> ml_collections.ConfigDict:
    """A measurement's config before its own fields: ``experiment`` and ``seed`` (no loop fields)."""
    config = ml_collections.ConfigDict()
    config.experiment = experiment
    config.seed = seed
    return config


def apply_variant(config: ml_collections.ConfigDict, variant: str, variants: Mapping[str, Mapping[str, Any]], *,
                  name: str) -> ml_collections.ConfigDict:
    """Applies the overrides of the named `variant` (``""``: none) to `config`, in place, and returns it.

    Args:
        config: the default config.
        variant: the text after ``:`` in ``--config=path.py:variant``; ``""`` keeps the default.
        variants: variant name -> overrides (field -> value; a dotted name sets a nested field).
        name: the config's name, for the error message.

    Raises:
        ValueError: `variant` is not ``""`` nor a key of `variants` (the message lists the
            valid ones), or an override names no field of `config`.
    """
    if variant == "":
        return config
    if variant not in variants:
        valid = ", ".join(repr(v) for v in ("", *variants))
        raise ValueError(f"{name} config: unknown variant {variant!r}; valid: {valid}")
    lines = unknown_fields(config, variants[variant])
    if lines:
        raise ValueError(f"{name} config, variant {variant!r}: " + "; ".join(lines))
    for field, value in variants[variant].items():
        parent = config
        *groups, leaf = field.split(".")
        for group in groups:
            parent = parent[group]
        parent[leaf] = value
    return config


_COUNT = re.compile(r"^num_|_size$|_draws$")


def _default_rule(name: str, value: Any) -> Field | None:
    leaf = name.rsplit(".", 1)[-1]
    if isinstance(value, int) and not isinstance(value, bool) and _COUNT.search(leaf):
        return Field(int, 1, help="a count")
    if isinstance(value, float) and leaf.endswith("learning_rate"):
        return Field(float, 0, low_open=True, help="a step size")
    if isinstance(value, float) and leaf.endswith("_std"):
        return Field(float, 0, help="a standard deviation")
    return None


def field_specs(config: Any, experiment_fields: Mapping[str, Field] | None = None, *,
                trains: bool = True) -> dict[str, Field | None]:
    """The `Field` that governs each (flattened) field of `config`; None: unconstrained."""
    specs: dict[str, Field | None] = {}
    for name, value in flatten_config(config).items():
        specs[name] = LOOP_FIELDS.get(name) or _default_rule(name, value)
    if trains:
        specs["num_steps"] = LOOP_FIELDS["num_steps"]._replace(low=1)
    for name, spec in (experiment_fields or {}).items():
        specs[name] = spec
    return specs


def validate(config: Any, experiment_fields: Mapping[str, Field] | None = None, *, trains: bool = True,
             num_devices_available: int | None = None) -> None:
    """Raises `ConfigError` with one line per bad field; returns None when all are allowed."""
    flat = flatten_config(config)
    needed = [n for n in LOOP_FIELDS if n != "param_shards"] if trains else list(MEASURE_FIELDS)
    problems = [f"config.{name}: missing; the {'training loop' if trains else 'measurement'} needs it "
                f"({LOOP_FIELDS[name].help})" for name in needed if name not in flat]
    for name, spec in field_specs(config, experiment_fields, trains=trains).items():
        if spec is None:
            continue
        if name not in flat:
            continue
        problem = spec.check(name, flat[name])
        if problem:
            problems.append(problem)
    if (not problems and num_devices_available is not None and "num_devices" in flat
            and flat["num_devices"] > num_devices_available):
        problems.append(f"config.num_devices={flat['num_devices']}: expected 0 (all) or "
                        f"1..{num_devices_available} (devices present)")
    if problems:
        raise ConfigError("\n".join(problems))


def known_names(config: Any) -> list[str]:
    """Every name ``--config.<name>`` may set (leaves and nested groups)."""
    names = set()
    for name in flatten_config(config):
        parts = name.split(".")
        names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return sorted(names)


def unknown_fields(config: Any, overrides: Iterable[str]) -> list[str]:
    """One line per override name that is not a field of `config`, with the closest name."""
    names = known_names(config)
    lines = []
    for name in overrides:
        if name in names:
            continue
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
        hint = f"did you mean config.{close[0]}?" if close else f"valid: {', '.join(names)}"
        lines.append(f"--config.{name}: no such field; {hint}")
    return lines


def _comments(path: str | pathlib.Path) -> dict[str, str]:
    """``config.<name> = ...  # meaning`` comments of a config file, by field name."""
    out: dict[str, str] = {}
    try:
        source = pathlib.Path(path).read_text()
    except OSError:
        return out
    assigned = re.compile(r"^\s*config\.([\w.]+)\s*=")
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            match = assigned.match(tok.line)
            if match:
                out[match.group(1)] = tok.string.lstrip("#").strip()
    return out


def describe(config: Any, *, config_path: str | None = None, experiment_fields: Mapping[str, Field] | None = None,
             trains: bool = True) -> str:
    """Every field with its default, meaning and allowed range, one per line."""
    comments = _comments(config_path) if config_path else {}
    specs = field_specs(config, experiment_fields, trains=trains)
    lines = []
    for name, value in flatten_config(config).items():
        spec = specs.get(name)
        meaning = (spec.help if spec is not None and spec.help not in ("", "a count") else "") or comments.get(name, "")
        if not meaning and spec is not None:
            meaning = spec.help
        allowed = f"  [{spec.allowed()}]" if spec is not None and spec.allowed() else ""
        lines.append(f"config.{name} = {value!r}{allowed}" + (f"  # {meaning}" if meaning else ""))
    return "\n".join(lines)
