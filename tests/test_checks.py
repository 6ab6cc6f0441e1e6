"""bvjax._checks: the messages every public function's contract produces."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bvjax import _checks


def test_message_names_argument_expected_and_actual():
    with pytest.raises(ValueError) as err:
        _checks.dims(rewards=(jnp.zeros(8, jnp.int32), "[P, G]"))
    assert str(err.value) == "rewards: expected [P, G], got shape (8,) int32"


def test_dtype_kind_is_a_type_error_with_the_spec():
    with pytest.raises(TypeError, match=r"rewards: expected \[P, G\] float, got shape \(2, 3\) int32"):
        _checks.dims(rewards=(jnp.zeros((2, 3), jnp.int32), "[P, G]", "float"))


def test_names_bind_across_arguments_and_are_returned():
    q, k = jnp.zeros((2, 5, 3, 4)), jnp.zeros((2, 7, 3, 4))
    assert _checks.dims(q=(q, "[B, N, H, D]"), k=(k, "[B, M, H, D]")) == {"B": 2, "N": 5, "H": 3, "D": 4, "M": 7}
    with pytest.raises(ValueError, match=r"k: expected \[B, M, H, D\] with B=2, H=3, D=4, got shape \(2, 7, 3, 5\)"):
        _checks.dims(q=(q, "[B, N, H, D]"), k=(jnp.zeros((2, 7, 3, 5)), "[B, M, H, D]"))


def test_literal_sizes_ellipsis_scalars_and_alternatives():
    assert _checks.dims(x=(jnp.zeros((4, 3)), "[N, 3]")) == {"N": 4}
    with pytest.raises(ValueError, match="x: expected"):
        _checks.dims(x=(jnp.zeros((4, 2)), "[N, 3]"))
    assert _checks.dims(x=(jnp.zeros((2, 3, 5)), "[..., K]")) == {"K": 5}
    assert _checks.dims(x=(jnp.zeros(5), "[..., K]")) == {"K": 5}
    assert _checks.dims(s=(1.0, "[]")) == {}
    assert _checks.dims(r=(jnp.zeros(6), ("[P, G]", "[N]"))) == {"N": 6}
    with pytest.raises(ValueError, match=r"r: expected \[P, G\] or \[N\], got shape \(\) float32"):
        _checks.dims(r=(jnp.zeros(()), ("[P, G]", "[N]")))


def test_none_is_skipped_and_non_arrays_are_type_errors():
    assert _checks.dims(mask=(None, "[N]")) == {}
    with pytest.raises(TypeError, match="x: expected"):
        _checks.dims(x=("abc", "[N]"))


def test_rank_same_shape_and_dtype_helpers():
    _checks.rank(values=jnp.zeros(3), expected="[N]", kind="float")
    with pytest.raises(ValueError, match=r"values: expected \[N\]"):
        _checks.rank(values=jnp.zeros((3, 1)), expected="[N]")
    with pytest.raises(ValueError, match=r"b: expected the shape of a \(3,\), got shape \(4,\)"):
        _checks.same_shape(a=jnp.zeros(3), b=jnp.zeros(4), c=None)
    _checks.int_dtype(ids=jnp.zeros(3, jnp.int32), other=None)
    _checks.bool_dtype(mask=jnp.zeros(3, bool))
    with pytest.raises(TypeError, match="ids: expected int dtype"):
        _checks.int_dtype(ids=jnp.zeros(3))
    _checks.float_dtype(x=jnp.zeros(3, jnp.bfloat16))


def test_static_value_checks():
    _checks.positive_int(n=3)
    for bad, err in ((0, ValueError), (2.0, TypeError), (True, TypeError)):
        with pytest.raises(err, match="n: expected a static Python int >= 1"):
            _checks.positive_int(n=bad)
    _checks.in_range("eps", 0.0, low=0.0)
    with pytest.raises(ValueError, match=r"eps: expected a value in \(0.0, inf\], got 0.0"):
        _checks.in_range("eps", 0.0, low=0.0, low_inclusive=False)
    with pytest.raises(ValueError, match=r"mode: expected one of \('a', 'b'\), got 'c'"):
        _checks.one_of("mode", "c", ("a", "b"))
    with pytest.raises(KeyError, match=r"loss: unknown 'x'; valid: \['a', 'b'\]"):
        _checks.mapping_key("loss", "x", {"b": 1, "a": 2})


def test_traced_hyperparameters_pass_through_in_range():
    jax.jit(lambda x: _checks.in_range("eps", x, low=0.0) or x)(-1.0)


def test_same_structure_names_the_leaf():
    a = {"w": np.zeros((2, 3)), "b": np.zeros(3)}
    _checks.same_structure(ref=a, est={"w": np.ones((2, 3)), "b": np.ones(3)})
    with pytest.raises(ValueError, match=r"est\['w'\]: expected shape \(2, 3\) as in ref"):
        _checks.same_structure(ref=a, est={"w": np.ones((3, 2)), "b": np.ones(3)})
    with pytest.raises(ValueError, match="est: expected the pytree structure of ref"):
        _checks.same_structure(ref=a, est={"w": np.ones((2, 3))})


def test_checks_run_at_trace_time_under_jit():
    @jax.jit
    def f(x):
        _checks.rank(x=x, expected="[N]")
        return x

    with pytest.raises(ValueError, match=r"x: expected \[N\]"):
        f(jnp.zeros((2, 2)))


def test_broadcastable_returns_the_shape_and_names_the_misfit():
    assert _checks.broadcastable(x=jnp.zeros((2, 1)), df=jnp.zeros(3), none=None) == (2, 3)
    with pytest.raises(ValueError, match=r"df: expected a shape that broadcasts with x \(3,\), got shape \(4,\)"):
        _checks.broadcastable(x=jnp.zeros(3), df=jnp.zeros(4))
