"""Tests of ``jaxcnn.ops`` activations against the float64 NumPy references."""

import functools

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from jax.test_util import check_grads

from jaxcnn import ops
from jaxcnn.reference import activations as ref
from tests.tolerances import assert_close

DTYPES = (jnp.float32, jnp.bfloat16)
# name -> (op, reference, kink points where the derivative jumps)
ACTIVATIONS = {
    "relu": (ops.relu, ref.relu, (0.0,)),
    "relu6": (ops.relu6, ref.relu6, (0.0, 6.0)),
    "leaky_relu": (ops.leaky_relu, ref.leaky_relu, (0.0,)),
    "leaky_relu_0.2": (
        functools.partial(ops.leaky_relu, negative_slope=0.2),
        functools.partial(ref.leaky_relu, negative_slope=0.2),
        (0.0,),
    ),
    "elu": (ops.elu, ref.elu, (0.0,)),
    "elu_0.5": (
        functools.partial(ops.elu, alpha=0.5),
        functools.partial(ref.elu, alpha=0.5),
        (0.0,),
    ),
    "selu": (ops.selu, ref.selu, (0.0,)),
    "celu": (ops.celu, ref.celu, ()),
    "celu_2": (
        functools.partial(ops.celu, alpha=2.0),
        functools.partial(ref.celu, alpha=2.0),
        (),
    ),
    "gelu": (ops.gelu, ref.gelu, ()),
    "gelu_tanh": (
        functools.partial(ops.gelu, approximate=True),
        functools.partial(ref.gelu, approximate=True),
        (),
    ),
    "silu": (ops.silu, ref.silu, ()),
    "softplus": (ops.softplus, ref.softplus, ()),
    "mish": (ops.mish, ref.mish, ()),
    "hard_sigmoid": (ops.hard_sigmoid, ref.hard_sigmoid, (-3.0, 3.0)),
    "hard_swish": (ops.hard_swish, ref.hard_swish, (-3.0, 3.0)),
    "sigmoid": (ops.sigmoid, ref.sigmoid, ()),
    "tanh": (ops.tanh, ref.tanh, ()),
}
NAMES = sorted(ACTIVATIONS)
SPECIAL = (0.0, -0.0, 3.0, -3.0, 6.0, 1e-30, -1e-30, 20.0, -20.0)


# Few shapes, so that the examples of each activation share compiled programs
# (elementwise ops do not care about the shape beyond rank 0 versus more).
SHAPES = ((), (7,), (2, 3, 4))


@st.composite
def inputs(draw, dtypes=DTYPES):
    """A small array of normal values mixed with kinks and extremes."""
    shape = draw(st.sampled_from(SHAPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(shape) * draw(st.sampled_from([1.0, 4.0]))
    special = rng.random(shape) < 0.2
    x = np.where(special, rng.choice(SPECIAL, size=shape), x)
    dtype = draw(st.sampled_from(dtypes))
    x = np.asarray(jnp.asarray(x, dtype).astype(jnp.float32))
    return x, dtype


JITTED = {name: jax.jit(op) for name, (op, _, _) in ACTIVATIONS.items()}


def _check_against_reference(name, case):
    _, reference, _ = ACTIVATIONS[name]
    x, dtype = case
    out = JITTED[name](jnp.asarray(x, dtype))
    assert out.dtype == dtype and out.shape == x.shape
    assert_close(out, reference(x), dtype)


# One property per activation, so each gets the profile's full example count.
@pytest.mark.parametrize("name", NAMES)
@given(case=inputs())
def test_matches_reference(name, case):
    _check_against_reference(name, case)


PRELU = jax.jit(ops.prelu)


@given(case=inputs(), data=st.data())
def test_prelu_matches_reference(case, data):
    x, dtype = case
    channels = x.shape[-1] if x.ndim else 1
    x = x.reshape(x.shape or (1,))
    slopes = st.lists(
        st.sampled_from([0.0, 0.25, -0.5, 2.0]), min_size=channels, max_size=channels
    )
    alpha = np.asarray(data.draw(slopes), np.float32)
    out = PRELU(jnp.asarray(x, dtype), jnp.asarray(alpha))
    assert out.dtype == dtype and out.shape == x.shape
    assert_close(out, ref.prelu(x, alpha), dtype)


# --- gradients ------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_gradients_numerically_away_from_kinks(name):
    """Forward- and reverse-mode derivatives match finite differences (float64)."""
    op, _, kinks = ACTIVATIONS[name]
    x = np.linspace(-7.3, 7.1, 29)
    x = x[np.min(np.abs(x[:, None] - np.array(kinks + (1e9,))), axis=1) > 0.05]
    with jax.enable_x64(True):
        check_grads(jax.jit(op), (jnp.asarray(x, jnp.float64),), order=1, eps=1e-4)


def test_prelu_gradients_numerically():
    x = np.linspace(-3.1, 2.9, 12).reshape(4, 3)
    alpha = np.array([0.1, -0.4, 1.5])
    with jax.enable_x64(True):
        check_grads(jax.jit(ops.prelu), (jnp.asarray(x), jnp.asarray(alpha)), order=1)


# PyTorch's derivatives at the kinks (B09's kind, all kinks of all activations).
KINK_GRADS = [
    ("relu", 0.0, 0.0),
    ("relu6", 0.0, 0.0),
    ("relu6", 6.0, 0.0),
    ("leaky_relu", 0.0, 0.01),
    ("leaky_relu_0.2", 0.0, 0.2),
    ("elu", 0.0, 1.0),
    ("elu_0.5", 0.0, 0.5),
    ("selu", 0.0, ops.activations.SELU_SCALE * ops.activations.SELU_ALPHA),
    ("celu", 0.0, 1.0),
    ("celu_2", 0.0, 1.0),
    ("hard_sigmoid", -3.0, 0.0),
    ("hard_sigmoid", 3.0, 0.0),
    ("hard_swish", -3.0, 0.0),
    ("hard_swish", 3.0, 1.0),
]


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize(("name", "point", "expected"), KINK_GRADS)
def test_gradient_at_kink_is_pytorchs(name, point, expected, jit):
    grad = jax.grad(ACTIVATIONS[name][0])
    grad = jax.jit(grad) if jit else grad
    np.testing.assert_allclose(grad(jnp.float32(point)), expected, rtol=1e-6)


@pytest.mark.torch
@pytest.mark.parametrize(("name", "point", "expected"), KINK_GRADS)
def test_kink_gradients_agree_with_pytorch(name, point, expected):
    """The table above, checked against PyTorch itself when it is installed."""
    torch = pytest.importorskip("torch")
    fn = torch.nn.functional
    torch_ops = {
        "relu": fn.relu,
        "relu6": fn.relu6,
        "leaky_relu": fn.leaky_relu,
        "leaky_relu_0.2": lambda v: fn.leaky_relu(v, 0.2),
        "elu": fn.elu,
        "elu_0.5": lambda v: fn.elu(v, 0.5),
        "selu": fn.selu,
        "celu": fn.celu,
        "celu_2": lambda v: fn.celu(v, 2.0),
        "hard_sigmoid": fn.hardsigmoid,
        "hard_swish": fn.hardswish,
    }
    t = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    torch_ops[name](t).backward()
    np.testing.assert_allclose(t.grad.item(), expected, rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_prelu_gradient_at_zero_is_alpha(jit):
    alpha = jnp.array([0.3, -0.7])
    grad = jax.grad(lambda x: ops.prelu(x, alpha).sum())
    grad = jax.jit(grad) if jit else grad
    np.testing.assert_allclose(grad(jnp.zeros(2)), [0.3, -0.7], rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_is_finite_for_large_inputs(name):
    x = jnp.array([-1e4, -100.0, 100.0, 1e4], jnp.float32)
    grad = jax.jit(jax.vmap(jax.grad(ACTIVATIONS[name][0])))(x)
    assert np.isfinite(grad).all()


# --- invariants ------------------------------------------------------------------


@given(inputs())
def test_relu_is_idempotent(case):
    x = jnp.asarray(*case)
    np.testing.assert_array_equal(ops.relu(ops.relu(x)), ops.relu(x))


@pytest.mark.parametrize("name", NAMES)
def test_nan_propagates(name):
    out = JITTED[name](jnp.array([jnp.nan, 1.0]))
    assert np.isnan(out[0]) and not np.isnan(out[1])


# Eager calls compile each primitive per shape; 30 examples over all activations
# suffice here (the per-activation properties above use the jitted ops).
@settings(max_examples=30)
@given(inputs(), st.sampled_from(NAMES))
def test_jit_equals_eager(case, name):
    x = jnp.asarray(*case)
    assert_close(JITTED[name](x), ACTIVATIONS[name][0](x), case[1])


@settings(max_examples=30)  # as above: vmap traces per example
@given(inputs(dtypes=(jnp.float32,)), st.sampled_from(NAMES))
def test_vmap_equals_loop(case, name):
    op = ACTIVATIONS[name][0]
    x = jnp.stack([jnp.asarray(case[0]), 2 * jnp.asarray(case[0]) - 1])
    assert_close(jax.vmap(op)(x), jnp.stack([op(v) for v in x]), jnp.float32)


def test_prelu_vmap_equals_loop():
    x = jnp.linspace(-2, 2, 24).reshape(4, 2, 3)
    alpha = jnp.array([0.1, 0.2, 0.3])
    looped = jnp.stack([ops.prelu(v, alpha) for v in x])
    np.testing.assert_array_equal(jax.vmap(lambda v: ops.prelu(v, alpha))(x), looped)


# --- bad input ------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_integer_input_is_a_type_error(name):
    with pytest.raises(TypeError, match="x must have a floating dtype; got int32"):
        ACTIVATIONS[name][0](jnp.arange(3, dtype=jnp.int32))


@pytest.mark.parametrize(
    ("x", "alpha", "error", "match"),
    [
        (
            jnp.zeros((2, 3)),
            jnp.zeros(2),
            ValueError,
            r"alpha must have shape \(C,\) = \(3,\)",
        ),
        (jnp.zeros((2, 3)), jnp.zeros((1, 3)), ValueError, "alpha must have shape"),
        (jnp.zeros((2, 3)), jnp.float32(0.1), ValueError, "alpha must have shape"),
        (jnp.zeros(()), jnp.zeros(1), ValueError, "x must have a channel axis"),
        (
            jnp.zeros((2, 3)),
            jnp.zeros(3, jnp.int32),
            TypeError,
            "alpha must have a floating",
        ),
        (
            jnp.zeros((2, 3), jnp.int32),
            jnp.zeros(3),
            TypeError,
            "x must have a floating",
        ),
    ],
)
def test_prelu_bad_input(x, alpha, error, match):
    with pytest.raises(error, match=match):
        ops.prelu(x, alpha)


def test_celu_zero_alpha_is_rejected():
    with pytest.raises(ValueError, match="alpha must be non-zero"):
        ops.celu(jnp.zeros(2), alpha=0.0)
