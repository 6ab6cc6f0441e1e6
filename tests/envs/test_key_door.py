"""Key-and-door gridworld: dynamics against a plain-Python stepper, aliasing, jit/vmap, edge cases."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bvjax.envs import KeyDoorState, key_door_reset, key_door_step

MOVES = {0: (-1, 0), 1: (0, 1), 2: (1, 0), 3: (0, -1)}


def python_step(s, action):
    """The dynamics written out in plain Python, from the docstring (dict state)."""
    if s["done"]:
        return dict(s), 0.0
    w, h = s["width"], s["height"]
    r, c = divmod(s["position"], w)
    dr, dc = MOVES[min(max(int(action), 0), 3)]
    r, c = min(max(r + dr, 0), h - 1), min(max(c + dc, 0), w - 1)
    target = r * w + c
    out = dict(s)
    if target == s["door_cell"] and not s["has_key"]:
        target = s["position"]  # the door is a wall without the key
    out["position"] = target
    out["has_key"] = s["has_key"] or target == s["key_cell"]
    success = target == s["door_cell"] and out["has_key"]
    out["time"] = s["time"] + 1
    out["done"] = success or out["time"] >= s["max_steps"]
    return out, 1.0 if success else 0.0


def as_dict(state):
    return {f: (bool(v) if v.dtype == bool else int(v)) for f, v in zip(KeyDoorState._fields, state)}


def rollout(state, actions, step):
    obs, rewards, dones, states = [], [], [], []
    for a in actions:
        state, o, r, d = step(state, jnp.int32(a))
        obs.append(int(o))
        rewards.append(float(r))
        dones.append(bool(d))
        states.append(as_dict(state))
    return obs, rewards, dones, states


layouts = st.tuples(st.integers(1, 4), st.integers(2, 5), st.integers(0, 10**6), st.integers(3, 12))


@settings(max_examples=20, deadline=None)
@given(layout=layouts, actions=st.lists(st.integers(-1, 4), min_size=1, max_size=16))
def test_dynamics_match_python_stepper(layout, actions):
    height, width, seed, max_steps = layout
    cells = height * width
    if cells < 3:
        width = 3
        cells = height * width
    rng = np.random.default_rng(seed)
    key_cell, door_cell = (int(x) for x in rng.choice(cells, 2, replace=False))
    state, obs = key_door_reset(jax.random.key(seed), width=width, height=height, key_cell=key_cell,
                                door_cell=door_cell, max_steps=max_steps)
    assert int(obs) == int(state.position) and int(obs) not in (key_cell, door_cell)
    ref = as_dict(state)
    ref_obs, ref_rewards, ref_dones = [], [], []
    for a in actions:
        ref, r = python_step(ref, a)
        ref_obs.append(ref["position"])
        ref_rewards.append(r)
        ref_dones.append(ref["done"])
    for step in (key_door_step, jax.jit(key_door_step)):
        got_obs, got_rewards, got_dones, got_states = rollout(state, actions, step)
        assert got_obs == ref_obs and got_rewards == ref_rewards and got_dones == ref_dones
        assert got_states[-1] == ref


def test_optimal_corridor_episode_and_absorbing_end():
    state, _ = key_door_reset(jax.random.key(0), width=6, start_cell=3, max_steps=30)
    actions = [3, 3, 3] + [1] * 5 + [1, 3]  # to the key (cell 0), to the door (cell 5), then no-ops
    obs, rewards, dones, states = rollout(state, actions, key_door_step)
    assert obs[:8] == [2, 1, 0, 1, 2, 3, 4, 5]
    assert rewards == [0.0] * 7 + [1.0, 0.0, 0.0]  # one success reward, none after the end
    assert dones == [False] * 7 + [True] * 3
    assert states[-1]["time"] == 8  # time stops once done


def test_door_is_a_wall_without_the_key_and_time_limit():
    state, _ = key_door_reset(jax.random.key(0), width=4, start_cell=2, max_steps=3)
    obs, rewards, dones, states = rollout(state, [1, 1, 1], key_door_step)
    assert obs == [2, 2, 2] and rewards == [0.0, 0.0, 0.0]  # bumps into the locked door (cell 3)
    assert dones == [False, False, True] and not states[-1]["has_key"]


def test_observation_aliasing_hides_the_key_and_history_reveals_it():
    """The same observation is reached in two true states whose best actions differ.

    Corridor 0 (key) .. 6 (door), start 3. Going left first, cell 2 is seen without the key
    (best move: left, towards the key); coming back, cell 2 is seen with the key (best move:
    right, towards the door). The observation is 2 both times; the previous observation
    (3 vs 1) is what tells the two apart, which is HGPO's history level k = 1.
    """
    state, _ = key_door_reset(jax.random.key(0), width=7, start_cell=3, max_steps=30)
    obs, _, _, states = rollout(state, [3, 3, 3, 1, 1], key_door_step)
    first, second = 0, 4  # the two visits to cell 2
    assert obs[first] == obs[second] == 2
    assert states[first]["has_key"] is False and states[second]["has_key"] is True
    prev = [3] + obs
    assert prev[first] != prev[second]  # a one-step history separates them

    def steps_to_success(s, first_action):
        """Shortest number of steps to success after taking first_action (BFS over true states)."""
        s, _ = python_step(s, first_action)
        frontier, seen, depth = [s], set(), 1
        while frontier:
            if any(x["done"] and x["position"] == x["door_cell"] for x in frontier):
                return depth
            nxt = []
            for x in frontier:
                for a in range(4):
                    y, _ = python_step(x, a)
                    key = (y["position"], y["has_key"])
                    if key not in seen:
                        seen.add(key)
                        nxt.append(y)
            frontier, depth = nxt, depth + 1
        return np.inf

    fresh = {**states[first], "max_steps": 100}
    keyed = {**states[second], "max_steps": 100}
    assert steps_to_success(fresh, 3) < steps_to_success(fresh, 1)  # without the key: go left
    assert steps_to_success(keyed, 1) < steps_to_success(keyed, 3)  # with the key: go right


def test_vmap_over_tasks_matches_one_by_one():
    keys = jax.random.split(jax.random.key(3), 16)
    reset = jax.vmap(lambda k: key_door_reset(k, width=4, height=3, max_steps=9))
    states, obs = reset(keys)
    actions = jax.random.randint(jax.random.key(4), (10, 16), 0, 4)

    @jax.jit
    def run(states, actions):
        def body(s, a):
            s, o, r, d = jax.vmap(key_door_step)(s, a)
            return s, (o, r, d)
        return jax.lax.scan(body, states, actions)

    final, (o, r, d) = run(states, actions)
    for i in range(16):
        single, obs_i = key_door_reset(keys[i], width=4, height=3, max_steps=9)
        assert int(obs_i) == int(obs[i])
        got = rollout(single, [int(a) for a in actions[:, i]], key_door_step)
        assert got[0] == [int(x) for x in o[:, i]] and got[1] == [float(x) for x in r[:, i]]
        assert got[2] == [bool(x) for x in d[:, i]]
        assert as_dict(jax.tree.map(lambda x, i=i: x[i], final)) == got[3][-1]


def test_start_cell_is_uniform_over_free_cells():
    keys = jax.random.split(jax.random.key(5), 4000)
    _, obs = jax.vmap(lambda k: key_door_reset(k, width=3, height=2, key_cell=1, door_cell=4))(keys)
    counts = np.bincount(np.asarray(obs), minlength=6)
    assert counts[1] == counts[4] == 0
    free = counts[[0, 2, 3, 5]]
    expected = 1000.0
    chi2 = np.sum((free - expected) ** 2 / expected)
    assert chi2 < 16.3  # chi-square 3 dof, p = 0.001


@pytest.mark.parametrize("kwargs, match", [
    ({"width": 1, "height": 2}, "width"),
    ({"width": 4, "key_cell": 2, "door_cell": 2}, "door_cell"),
    ({"width": 4, "key_cell": 9}, "key_cell"),
    ({"width": 4, "start_cell": 0}, "start_cell"),
    ({"width": 4, "max_steps": 0}, "max_steps"),
])
def test_bad_layouts_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        key_door_reset(jax.random.key(0), **kwargs)


def test_bad_state_field_raises():
    state, _ = key_door_reset(jax.random.key(0), width=4)
    with pytest.raises(ValueError, match="position"):
        key_door_step(state._replace(position=jnp.zeros(2, jnp.int32)), jnp.int32(0))
    with pytest.raises(TypeError, match="action"):
        key_door_step(state, jnp.float32(1.0))
