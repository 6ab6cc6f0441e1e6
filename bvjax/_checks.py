"""Trace-time contract checks shared by every public bvjax function.

Every check runs on static information (shapes, dtypes, Python values), so it costs
nothing under `jax.jit` and fires at trace time. A failing check raises `ValueError`
(wrong shape, rank or value) or `TypeError` (wrong dtype kind, not an array) whose
message names the argument, the expected form and the actual one, in the format

    rewards: expected [P, G] float, got shape (8,) int32

Shapes are written symbolically: ``"[P, G]"`` names two dimensions; a literal integer
(``"[N, 3]"``) fixes a size; ``"..."`` at the front (``"[..., K]"``) admits any number
of leading dimensions; ``"[]"`` is a scalar. Names are bound across all the arguments
of one `dims` call, so ``dims(q=(q, "[B, N, H, D]"), k=(k, "[B, M, H, D]"))`` also
checks that ``q`` and ``k`` agree on ``B``, ``H`` and ``D``.

Calling convention: arguments are passed by keyword so that the keyword *is* the
name printed in the message (``rank(values=values, expected="[N]")``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__: list[str] = []  # private module: nothing here is public API.

_KINDS = {
    "float": ("floating",),
    "int": ("integer",),
    "bool": ("bool",),
    "number": ("floating", "integer"),
    "complex": ("complexfloating",),
}
_DIM = re.compile(r"^(?:\.\.\.|[A-Za-z_][A-Za-z0-9_']*|\d+)$")


def _describe(x: Any) -> str:
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    if shape is None:
        return f"{type(x).__name__} {x!r}"
    return f"shape {tuple(shape)} {dtype}"


def _parse(spec: str) -> tuple[str, ...]:
    text = spec.strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise ValueError(f"bad shape spec {spec!r}: expected a form like '[P, G]'")
    body = text[1:-1].strip()
    if not body:
        return ()
    dims = tuple(d.strip() for d in body.split(","))
    for i, d in enumerate(dims):
        if not _DIM.match(d) or (d == "..." and i != 0):
            raise ValueError(f"bad shape spec {spec!r}: dimension {d!r}")
    return dims


def _kind_ok(dtype: Any, kind: str | None) -> bool:
    if kind is None:
        return True
    if kind not in _KINDS:
        raise ValueError(f"unknown dtype kind {kind!r}; valid: {sorted(_KINDS)}")
    dt = np.dtype(dtype)
    return any(jnp.issubdtype(dt, getattr(np, k)) for k in _KINDS[kind])


def _expected(spec: str, kind: str | None) -> str:
    return f"{spec} {kind}" if kind else spec


def _as_array_like(name: str, x: Any, spec: str, kind: str | None) -> Any:
    if isinstance(x, (int, float, bool, np.number, np.bool_)):
        return np.asarray(x)
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"{name}: expected {_expected(spec, kind)} array, got {_describe(x)}")
    return x


def _match(name: str, x: Any, spec: str, kind: str | None, bound: dict[str, int]) -> bool:
    """Matches one array against one spec, binding names into `bound` on success."""
    x = _as_array_like(name, x, spec, kind)
    dims = _parse(spec)
    shape = tuple(x.shape)
    if dims and dims[0] == "...":
        dims = dims[1:]
        if len(shape) < len(dims):
            return False
        shape = shape[len(shape) - len(dims):]
    elif len(shape) != len(dims):
        return False
    trial = dict(bound)
    for d, size in zip(dims, shape):
        if d.isdigit():
            if int(d) != size:
                return False
        elif trial.setdefault(d, size) != size:
            return False
    bound.clear()
    bound.update(trial)
    return True


def dims(*, kind: str | None = None, **named: tuple[Any, str | Sequence[str]]) -> dict[str, int]:
    """Checks named arrays against symbolic shapes and returns the bound sizes.

    Each keyword maps an argument name to ``(array, spec)`` or ``(array, spec, kind)``;
    ``spec`` may be a tuple of alternative specs (the first that matches wins). ``None``
    arrays are skipped, so optional arguments can be passed as they are.

    Returns:
        A dict from dimension name to size, e.g. ``{"P": 8, "G": 4}``.

    Raises:
        ValueError: naming the first argument whose rank, a literal size or a size
            bound by an earlier argument disagrees.
        TypeError: when the dtype kind differs, or the argument is not an array.
    """
    bound: dict[str, int] = {}
    for name, entry in named.items():
        if len(entry) == 2:
            (x, spec), k = entry, kind
        else:
            x, spec, k = entry
        if x is None:
            continue
        specs = (spec,) if isinstance(spec, str) else tuple(spec)
        if not any(_match(name, x, s, k, bound) for s in specs):
            shown = " or ".join(_expected(s, k) for s in specs)
            known = {d: bound[d] for s in specs for d in _parse(s) if d in bound}
            where = f" with {', '.join(f'{d}={v}' for d, v in known.items())}" if known else ""
            raise ValueError(f"{name}: expected {shown}{where}, got {_describe(x)}")
        if k is not None:
            _dtype_kind(name, x, k, specs)
    return bound


def _dtype_kind(name: str, x: Any, kind: str, specs: Iterable[str] = ("",)) -> None:
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        dtype = np.asarray(x).dtype
    if not _kind_ok(dtype, kind):
        spec = " or ".join(s for s in specs if s)
        expected = f"{spec} {kind}" if spec else f"{kind} dtype"
        raise TypeError(f"{name}: expected {expected}, got {_describe(np.asarray(x) if not hasattr(x, 'shape') else x)}")


def rank(*, expected: str | Sequence[str], kind: str | None = None, **arrays: Any) -> None:
    """Checks that each array matches `expected` (a spec or tuple of specs).

    Names inside `expected` are bound per array, not across arrays: use `dims` to
    relate dimensions of different arguments.
    """
    for name, x in arrays.items():
        dims(**{name: (x, expected, kind)})


def same_shape(**arrays: Any) -> None:
    """Checks that all the (non-None) arrays have one shape, naming the first misfit."""
    items = [(n, x) for n, x in arrays.items() if x is not None]
    if not items:
        return
    first_name, first = items[0]
    for name, x in items[1:]:
        if tuple(getattr(x, "shape", ())) != tuple(first.shape):
            raise ValueError(
                f"{name}: expected the shape of {first_name} {tuple(first.shape)}, got {_describe(x)}"
            )


def broadcastable(**arrays: Any) -> tuple[int, ...]:
    """Checks that the (non-None) arrays broadcast together; returns the broadcast shape.

    Raises:
        ValueError: naming the first argument that does not broadcast with the ones before it.
    """
    shape: tuple[int, ...] = ()
    seen: list[str] = []
    for name, x in arrays.items():
        if x is None:
            continue
        x_shape = tuple(np.shape(x))
        try:
            shape = tuple(np.broadcast_shapes(shape, x_shape))
        except ValueError:
            raise ValueError(f"{name}: expected a shape that broadcasts with {', '.join(seen)} {shape}, "
                             f"got {_describe(x)}") from None
        seen.append(name)
    return shape


def dtype_kind(kind: str, **arrays: Any) -> None:
    """Checks that each (non-None) array's dtype is of `kind` (float, int, bool, number)."""
    for name, x in arrays.items():
        if x is not None:
            _dtype_kind(name, x, kind)


def float_dtype(**arrays: Any) -> None:
    """`dtype_kind("float", ...)`."""
    dtype_kind("float", **arrays)


def int_dtype(**arrays: Any) -> None:
    """`dtype_kind("int", ...)`."""
    dtype_kind("int", **arrays)


def bool_dtype(**arrays: Any) -> None:
    """`dtype_kind("bool", ...)`."""
    dtype_kind("bool", **arrays)


def one_of(name: str, value: Any, options: Iterable[Any]) -> None:
    """Raises ValueError naming `name` unless `value` is one of `options`."""
    options = tuple(options)
    if value not in options:
        raise ValueError(f"{name}: expected one of {options!r}, got {value!r}")


def positive_int(**values: Any) -> None:
    """Checks static Python ints >= 1 (sizes, counts, num_draws)."""
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name}: expected a static Python int >= 1, got {type(v).__name__} {v!r}")
        if v < 1:
            raise ValueError(f"{name}: expected a static Python int >= 1, got {v!r}")


def in_range(name: str, value: Any, *, low: float | None = None, high: float | None = None,
             low_inclusive: bool = True, high_inclusive: bool = True) -> None:
    """Checks a hyperparameter against a range, every element of a concrete array alike.

    Scalars and concrete (eager) arrays are checked elementwise, NaN failing; traced
    values (inside `jax.jit`, `vmap`, `grad`) cannot be inspected and pass through, so
    under jit an out-of-range array gives whatever the formula gives (document it).
    """
    if value is None or isinstance(value, jax.core.Tracer):
        return  # None: an optional hyperparameter left unset.
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return  # not numeric: the caller's `dims` reports the dtype.
    if arr.size == 0:
        return
    ok = np.ones(arr.shape, bool)
    if low is not None:
        ok &= arr >= low if low_inclusive else arr > low
    if high is not None:
        ok &= arr <= high if high_inclusive else arr < high
    if not ok.all():
        got = repr(value) if arr.ndim == 0 else (
            f"an array of shape {arr.shape} with {int((~ok).sum())} entries outside, first {float(arr[~ok][0])!r}")
        lb = "-inf" if low is None else f"{low}"
        hb = "inf" if high is None else f"{high}"
        interval = ("[" if low_inclusive else "(") + f"{lb}, {hb}" + ("]" if high_inclusive else ")")
        raise ValueError(f"{name}: expected a value in {interval}, got {got}")


def same_structure(**trees: Any) -> None:
    """Checks that pytrees share structure and leaf shapes, naming the first misfit."""
    items = list(trees.items())
    first_name, first = items[0]
    first_leaves, first_def = jax.tree_util.tree_flatten(first)
    for name, tree in items[1:]:
        leaves, treedef = jax.tree_util.tree_flatten(tree)
        if treedef != first_def:
            raise ValueError(f"{name}: expected the pytree structure of {first_name} {first_def}, got {treedef}")
        paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(first)[0]]
        for path, a, b in zip(paths, first_leaves, leaves):
            sa, sb = np.shape(a), np.shape(b)
            if sa != sb:
                raise ValueError(f"{name}{path}: expected shape {sa} as in {first_name}, got {_describe(b)}")


def mapping_key(name: str, key: Any, registry: Mapping[str, Any]) -> Any:
    """Looks `key` up in a registry dict; an unknown key raises KeyError listing the valid ones."""
    try:
        return registry[key]
    except KeyError:
        raise KeyError(f"{name}: unknown {key!r}; valid: {sorted(registry)}") from None
