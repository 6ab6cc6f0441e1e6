"""Key-and-door gridworld with aliased observations, in pure JAX (reset/step jit and vmap).

The agent walks on a ``height x width`` grid. It must first step on the key cell
(picking the key up) and then enter the door cell, which is a wall until it holds the
key. The observation is the index of the agent's cell only: whether the agent holds the
key is hidden, so one observation stands for two true states (with and without the
key), and only the history tells them apart. That is the setting of HGPO's
context-consistency argument: GiGPO pools steps by the current observation alone and
mixes states whose values differ.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bvjax import _checks

NUM_ACTIONS = 4  # 0 up, 1 right, 2 down, 3 left
_MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # (row, column) change per action


class KeyDoorState(NamedTuple):
    """State of `key_door_reset` / `key_door_step` (all int32/bool scalars, so it vmaps).

    Attributes:
        position: [] int32, the agent's cell ``row * width + column`` (the observation).
        has_key: [] bool, whether the key was picked up (hidden from the observation).
        time: [] int32, steps taken.
        done: [] bool, the episode ended (door opened, or ``time == max_steps``).
        key_cell: [] int32, the key's cell.
        door_cell: [] int32, the door's cell.
        width: [] int32, grid width.
        height: [] int32, grid height.
        max_steps: [] int32, the time limit.
    """

    position: jax.Array
    has_key: jax.Array
    time: jax.Array
    done: jax.Array
    key_cell: jax.Array
    door_cell: jax.Array
    width: jax.Array
    height: jax.Array
    max_steps: jax.Array


def _static_layout(width, height, key_cell, door_cell, max_steps):
    _checks.positive_int(width=width, height=height, max_steps=max_steps)
    cells = width * height
    if cells < 3:
        raise ValueError(f"width, height: expected a grid of at least 3 cells (key, door, a start), "
                         f"got {height} x {width}")
    key_cell = 0 if key_cell is None else key_cell
    door_cell = cells - 1 if door_cell is None else door_cell
    for name, cell in (("key_cell", key_cell), ("door_cell", door_cell)):
        if isinstance(cell, bool) or not isinstance(cell, int) or not 0 <= cell < cells:
            raise ValueError(f"{name}: expected a static int in [0, {cells}), got {cell!r}")
    if key_cell == door_cell:
        raise ValueError(f"door_cell: expected a cell other than key_cell = {key_cell}, got {door_cell}")
    return key_cell, door_cell


def key_door_reset(key: jax.Array, *, width: int = 7, height: int = 1, key_cell: int | None = None,
                   door_cell: int | None = None, max_steps: int = 20,
                   start_cell: int | None = None) -> tuple[KeyDoorState, jax.Array]:
    r"""Starts a key-and-door episode: the agent on a random free cell, without the key.

    The task (one environment "seed" of a GRPO/GiGPO group) is the start cell, drawn
    uniformly from the cells that are neither the key nor the door (or ``start_cell``).

    Args:
        key: a PRNG key (scalar key array), drawing the start cell.
        width: static grid width (a corridor when ``height = 1``).
        height: static grid height.
        key_cell: static cell index of the key; None: 0 (top-left).
        door_cell: static cell index of the door; None: the last cell (bottom-right).
        max_steps: static time limit (the episode ends unsuccessfully after it).
        start_cell: optional static start cell (neither key nor door); None: random.

    Returns:
        ``(state, obs)``: a `KeyDoorState` and the observation, the [] int32 start cell.

    Examples:
        >>> import jax
        >>> from bvjax.envs import key_door_reset
        >>> state, obs = key_door_reset(jax.random.key(0), width=5, start_cell=2)
        >>> int(obs), bool(state.has_key), int(state.door_cell)
        (2, False, 4)

    References:
        He et al, Hierarchy-of-Groups Policy Optimization for Long-Horizon Agentic
        Tasks, 2026 (arXiv 2602.22817) (the context-inconsistency setting this env
        reproduces in miniature; the env itself is bvjax's, not the paper's ALFWorld/WebShop).
    """
    _checks.dims(key=(key, "[]"))
    key_cell, door_cell = _static_layout(width, height, key_cell, door_cell, max_steps)
    cells = width * height
    if start_cell is None:
        free = (jnp.arange(cells) != key_cell) & (jnp.arange(cells) != door_cell)
        start = jax.random.choice(key, cells, p=free / jnp.sum(free))
    else:
        if (isinstance(start_cell, bool) or not isinstance(start_cell, int) or not 0 <= start_cell < cells
                or start_cell in (key_cell, door_cell)):
            raise ValueError(f"start_cell: expected a static int in [0, {cells}) other than the key "
                             f"({key_cell}) and door ({door_cell}) cells, got {start_cell!r}")
        start = jnp.asarray(start_cell)
    i32 = jnp.int32
    state = KeyDoorState(position=start.astype(i32), has_key=jnp.array(False), time=jnp.array(0, i32),
                         done=jnp.array(False), key_cell=jnp.array(key_cell, i32),
                         door_cell=jnp.array(door_cell, i32), width=jnp.array(width, i32),
                         height=jnp.array(height, i32), max_steps=jnp.array(max_steps, i32))
    return state, state.position


def key_door_step(state: KeyDoorState, action: jax.Array
                  ) -> tuple[KeyDoorState, jax.Array, jax.Array, jax.Array]:
    r"""One step of the key-and-door gridworld.

    Action :math:`a \in \{0, 1, 2, 3\}` (up, right, down, left) moves the agent one cell,
    clipped at the border. The door cell is a wall until the agent holds the key: moving
    into it without the key leaves the agent in place. Entering the key cell picks the key
    up. Entering the door cell with the key ends the episode with reward 1 (the only
    reward: sparse success); reaching ``max_steps`` ends it with reward 0. After the end,
    steps are no-ops with reward 0 (so fixed-length ``lax.scan`` rollouts are safe). An
    action outside 0..3 is clipped into range.

    Args:
        state: a `KeyDoorState` (from `key_door_reset` or a previous step).
        action: [] int.

    Returns:
        ``(state, obs, reward, done)``: the next state, the [] int32 observation (the new
        cell index; the key flag is *not* observed), the [] float32 reward and the [] bool
        done flag.

    Examples:
        >>> import jax
        >>> from bvjax.envs import key_door_reset, key_door_step
        >>> s, obs = key_door_reset(jax.random.key(0), width=4, start_cell=1)
        >>> for a in (3, 1, 1, 1):  # left to the key, then right to the door
        ...     s, obs, r, done = key_door_step(s, a)
        >>> int(obs), float(r), bool(done)
        (3, 1.0, True)

    References:
        He et al, Hierarchy-of-Groups Policy Optimization for Long-Horizon Agentic
        Tasks, 2026 (arXiv 2602.22817).
    """
    _checks.dims(position=(state.position, "[]", "int"), has_key=(state.has_key, "[]", "bool"),
                 time=(state.time, "[]", "int"), done=(state.done, "[]", "bool"))
    _checks.dims(action=(action, "[]", "int"))
    i32 = jnp.int32
    a = jnp.clip(jnp.asarray(action), 0, NUM_ACTIONS - 1)
    moves = jnp.asarray(_MOVES, i32)
    row = state.position // state.width + moves[a, 0]
    col = state.position % state.width + moves[a, 1]
    target = (jnp.clip(row, 0, state.height - 1) * state.width + jnp.clip(col, 0, state.width - 1)).astype(i32)
    blocked = (target == state.door_cell) & ~state.has_key
    position = jnp.where(blocked, state.position, target)
    has_key = state.has_key | (position == state.key_cell)
    success = (position == state.door_cell) & has_key
    time = state.time + 1
    done = success | (time >= state.max_steps)
    live = ~state.done
    new = state._replace(position=jnp.where(live, position, state.position).astype(i32),
                         has_key=jnp.where(live, has_key, state.has_key),
                         time=jnp.where(live, time, state.time).astype(i32),
                         done=jnp.where(live, done, state.done))
    reward = jnp.where(live & success, 1.0, 0.0).astype(jnp.float32)
    return new, new.position, reward, new.done
