"""What a workdir keeps besides checkpoints: the config record, the lock, the metrics file.

Every failure here raises `LaunchError` (or a subclass) with a message that is already
fit to print as the last line of a run: `launch.main` turns it into that line and a
non-zero exit. Nothing in this module deletes a file a run wrote; a workdir that must
be started over is moved to a dated sibling (`move_aside`).

- ``config.json``: the resolved config of the run that owns the workdir. A later run
  compares its config with it (`compare_configs`): extending ``num_steps`` and the
  fields the experiment declares safe (evaluation, logging and checkpoint cadence by
  default) may change; any other difference is refused, one line per field.
- ``lock.json``: host, pid and start time of the run holding the workdir, created with
  ``O_CREAT | O_EXCL`` so two runs cannot both take it. A lock left by a dead process
  on this host is taken over with a warning; a live holder, or a holder on another
  host (whose pid cannot be checked from here), is refused.
- ``metrics.jsonl``: one JSON object per line, each appended whole and fsynced
  (`append_row`). `read_metrics` repairs a torn last line (a crash or a full disk
  mid-append) and drops rows past the restored checkpoint's step; a damaged line
  elsewhere raises naming the file and the line.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import socket
from collections.abc import Iterable, Mapping
from typing import Any

from absl import logging

CONFIG_FILE = "config.json"
LOCK_FILE = "lock.json"
METRICS_FILE = "metrics.jsonl"

# Fields whose change never alters the trained state or a recorded metric's value.
# Fields whose absence means a value (a record written before the field existed).
ABSENT_MEANS = {"param_shards": 1}
SAFE_TO_CHANGE = ("eval_every", "log_every", "checkpoint_every", "max_checkpoints")


class LaunchError(Exception):
    """A run cannot go on; the message is one line per problem, ready to print."""


class ConfigMismatchError(LaunchError):
    """The config differs from the one recorded in the workdir."""


class LockError(LaunchError):
    """Another run holds the workdir."""


class MetricsError(LaunchError):
    """The metrics file cannot be read."""


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 - datetime.UTC needs Python 3.11


def _fsync_dir(path: pathlib.Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: pathlib.Path, text: str) -> None:
    """Writes `text` to `path` through a fsynced temporary file and `os.replace`."""
    path = pathlib.Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


# ---------------------------------------------------------------- config record


def _plain(value: Any) -> Any:
    """The JSON form of a config value (tuples become lists, ConfigDicts dicts)."""
    return json.loads(json.dumps(value, default=str))


def flatten_config(config: Any) -> dict[str, Any]:
    """``{"optimizer.learning_rate": 1.0, ...}`` from a ConfigDict or a nested dict."""
    tree = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Mapping[str, Any]) -> None:
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, Mapping):
                walk(name + ".", value)
            else:
                flat[name] = _plain(value)

    walk("", tree)
    return flat


def write_config(workdir: pathlib.Path, config: Any) -> None:
    """Records the resolved config as ``<workdir>/config.json`` (sorted, indented)."""
    tree = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    write_atomic(pathlib.Path(workdir) / CONFIG_FILE, json.dumps(_plain(tree), indent=2, sort_keys=True) + "\n")


def read_config(workdir: pathlib.Path) -> dict[str, Any] | None:
    """The recorded config as a flat dict, or None when the workdir has none."""
    path = pathlib.Path(workdir) / CONFIG_FILE
    if not path.exists():
        return None
    try:
        return flatten_config(json.loads(path.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise LaunchError(f"{path}: unreadable config record ({err}); move it aside or rerun with --fresh") from err


def compare_configs(recorded: Mapping[str, Any], config: Any, *, safe: Iterable[str] = SAFE_TO_CHANGE) -> list[str]:
    """The differences that forbid resuming, one line per field (empty: may resume).

    Args:
        recorded: the flat config read from the workdir (`read_config`).
        config: the config of the new run.
        safe: fields that may change freely. ``num_steps`` may grow, never shrink.

    Returns:
        Lines ``"config.<name>: recorded <old>, now <new>"``.
    """
    current = flatten_config(config)
    safe = set(safe)
    lines = []
    for name in sorted(set(recorded) | set(current)):
        absent = ABSENT_MEANS.get(name, "<absent>")
        old, new = recorded.get(name, absent), current.get(name, absent)
        if old == new or name in safe:
            continue
        if name == "num_steps" and isinstance(old, int) and isinstance(new, int) and new >= old:
            continue
        why = " (num_steps may only grow)" if name == "num_steps" else ""
        lines.append(f"config.{name}: recorded {old!r}, now {new!r}{why}")
    return lines


def check_config(workdir: pathlib.Path, config: Any, *, safe: Iterable[str] = SAFE_TO_CHANGE) -> None:
    """Raises `ConfigMismatchError` when `config` may not resume the run in `workdir`."""
    recorded = read_config(workdir)
    if recorded is None:
        return
    lines = compare_configs(recorded, config, safe=safe)
    if lines:
        raise ConfigMismatchError(
            f"{pathlib.Path(workdir) / CONFIG_FILE} records another config; rerun with the recorded "
            "values, another --workdir, or --fresh (the old workdir is kept):\n" + "\n".join(lines))


def move_aside(workdir: pathlib.Path, *, now: datetime.datetime | None = None) -> pathlib.Path | None:
    """Renames a non-empty `workdir` to ``<workdir>.<UTC date-time>``; returns the new path.

    Refuses (`LockError`) while a live run holds the workdir. Nothing is deleted.
    """
    workdir = pathlib.Path(workdir)
    if not workdir.exists() or not any(workdir.iterdir()):
        return None
    holder = _read_lock(workdir / LOCK_FILE)
    if holder is not None and not _is_stale(holder):
        raise LockError(f"{workdir} is locked by {_describe(holder)}; not moving it")
    stamp = (now or _utcnow()).strftime("%Y%m%d-%H%M%S")
    target = workdir.with_name(f"{workdir.name}.{stamp}")
    suffix = 1
    while target.exists():
        target = workdir.with_name(f"{workdir.name}.{stamp}-{suffix}")
        suffix += 1
    os.rename(workdir, target)
    logging.warning("Moved the previous %s to %s", workdir, target)
    return target


# ---------------------------------------------------------------- lock


def _read_lock(path: pathlib.Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {"host": "?", "pid": -1, "start": "?", "unreadable": True}


def _describe(holder: Mapping[str, Any]) -> str:
    return f"host {holder.get('host')}, pid {holder.get('pid')}, started {holder.get('start')}"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_stale(holder: Mapping[str, Any]) -> bool:
    """A lock is stale when its holder ran on this host and that pid is gone."""
    if holder.get("unreadable"):
        return True  # a torn lock file: its writer died mid-write
    return holder.get("host") == socket.gethostname() and not _pid_alive(int(holder.get("pid", -1)))


class WorkdirLock:
    """``with WorkdirLock(workdir):`` holds ``<workdir>/lock.json`` for the run.

    Raises `LockError` naming the holder when a live run has it.
    """

    def __init__(self, workdir: pathlib.Path):
        self.path = pathlib.Path(workdir) / LOCK_FILE
        self.record = {"host": socket.gethostname(), "pid": os.getpid(),
                       "start": _utcnow().isoformat(timespec="seconds")}

    def _try_create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(self.record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return True

    def acquire(self) -> None:
        if self._try_create():
            return
        holder = _read_lock(self.path)
        if holder is None and self._try_create():  # released in between
            return
        if holder is not None and _is_stale(holder):
            logging.warning("Taking over the stale lock %s (%s is not running)", self.path, _describe(holder))
            # Rename the stale file away first so that of two runs taking it over, one wins.
            stale = self.path.with_name(f"{LOCK_FILE}.stale.{os.getpid()}")
            try:
                os.rename(self.path, stale)
            except FileNotFoundError:
                pass
            else:
                os.remove(stale)
            if self._try_create():
                return
            holder = _read_lock(self.path) or holder
        raise LockError(f"{self.path.parent} is in use by another run ({_describe(holder)}); "
                        "wait for it, or remove the lock file if that run is gone")

    def release(self) -> None:
        if (_read_lock(self.path) or {}).get("pid") == os.getpid() and \
                (_read_lock(self.path) or {}).get("host") == self.record["host"]:
            os.remove(self.path)

    def __enter__(self) -> WorkdirLock:  # noqa: PYI034 - Python 3.10 has no typing.Self
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


# ---------------------------------------------------------------- metrics


def append_row(file, row: Mapping[str, Any]) -> None:
    """Appends one JSON line to an open metrics file and makes it durable (flush + fsync).

    The line is one ``write`` call, so a crash leaves at worst a torn last line, which
    `read_metrics` cuts off.
    """
    file.write(json.dumps(dict(row)) + "\n")
    file.flush()
    os.fsync(file.fileno())


def read_metrics(path: pathlib.Path, up_to_step: int) -> list[dict[str, Any]]:
    """Rows of `path` with ``step <= up_to_step``, repairing a torn tail.

    A last line that is not a complete JSON object (no trailing newline or unparsable)
    is dropped with a warning; rows past `up_to_step`, or repeating a step already read,
    are dropped too. Any other unreadable line raises `MetricsError` naming the file
    and the line number.
    """
    path = pathlib.Path(path)
    if not path.exists():
        return []
    try:
        text = path.read_bytes().decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        text = path.read_bytes().decode("utf-8", errors="replace")
    lines = text.split("\n")
    complete, tail = lines[:-1], lines[-1]  # tail is "" when the file ends with a newline
    if tail.strip():
        logging.warning("%s: dropping a torn last line (%d bytes) left by an interrupted write", path, len(tail))
    rows: list[dict[str, Any]] = []
    seen: set[int] = set()
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            step = int(row["step"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            if number == len(complete) and not tail.strip():
                logging.warning("%s: dropping an unreadable last line %d (%s)", path, number, err)
                break
            raise MetricsError(f"{path}: line {number} is not a metrics row ({type(err).__name__}: {err}); "
                               "move the file aside or rerun with --fresh") from err
        if step <= up_to_step and step not in seen:
            rows.append(row)
            seen.add(step)
    return rows


def write_metrics(path: pathlib.Path, rows: list[Mapping[str, Any]]) -> None:
    """Rewrites `path` atomically with `rows` (used on resume after `read_metrics`)."""
    write_atomic(pathlib.Path(path), "".join(json.dumps(dict(r)) + "\n" for r in rows))
