import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcnn import ops, xla
from tests.tolerances import assert_close


def conv16to32(x, k):
    return ops.conv(x, k)


def test_jit_matches_jax_jit_and_keeps_its_attributes():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(-1, 1, (1, 20, 24, 16)), jnp.float32)
    k = jnp.asarray(rng.uniform(-0.1, 0.1, (3, 3, 16, 32)), jnp.float32)
    fast = xla.jit(conv16to32)
    assert_close(fast(x, k), jax.jit(conv16to32)(x, k))
    assert fast.__name__ == "conv16to32"
    assert fast._cache_size() == 1
    text = fast.lower(x, k).compile().as_text()
    assert "convolution" in text


def test_jit_turns_the_ynn_fusion_off_on_cpu():
    if jax.default_backend() != "cpu":
        pytest.skip("the option is for XLA's CPU backend")
    x, k = jnp.ones((1, 40, 40, 16)), jnp.ones((3, 3, 16, 32))
    if "%ynn_fusion" not in jax.jit(conv16to32).lower(x, k).compile().as_text():
        pytest.skip("this XLA does not use YNNPACK for the convolution anyway")
    text = xla.jit(conv16to32).lower(x, k).compile().as_text()
    assert "%ynn_fusion" not in text and "convolution(" in text


def test_decorator_form_takes_jit_arguments():
    @xla.jit(static_argnames="n")
    def power(x, n):
        return x**n

    assert float(power(jnp.float32(3.0), n=2)) == 9.0


@pytest.fixture
def fresh_options():
    """Lets a test decide the options anew; forgets its decision afterwards."""
    xla.compiler_options.cache_clear()
    yield
    xla.compiler_options.cache_clear()


def _falls_back():
    assert xla.compiler_options() == {}
    assert float(xla.jit(lambda x: x + 1)(jnp.float32(1.0))) == 2.0


def test_unknown_option_falls_back_to_none(monkeypatch, fresh_options):
    monkeypatch.setattr(xla, "CPU_COMPILER_OPTIONS", {"xla_no_such_option_zz": ""})
    _falls_back()


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((3,), {}, "fun must be callable"),
        ((abs,), {"compiler_options": {}}, "compiler_options"),
    ],
)
def test_bad_arguments(args, kwargs, match):
    with pytest.raises(TypeError, match=match):
        xla.jit(*args, **kwargs)


def test_inside_other_transformations_it_is_plain_jit():
    double = xla.jit(lambda x: 2 * x)
    x = jnp.ones(3)
    np.testing.assert_array_equal(jax.jit(lambda x: double(x))(x), 2 * x)
    np.testing.assert_array_equal(jax.grad(lambda x: double(x).sum())(x), 2 + 0 * x)
    total, _ = jax.lax.scan(lambda c, v: (c + double(v).sum(), None), 0.0, x[:, None])
    assert float(total) == 6.0
    # traced, but called with constants only
    assert float(jax.jit(lambda: double(3.0))()) == 6.0


def test_jax_without_compiler_options_falls_back(monkeypatch, fresh_options):
    real_jit = jax.jit

    def old_jit(fun, **kwargs):  # jax < 0.4.31 had no compiler_options
        if "compiler_options" in kwargs:
            raise TypeError("jit() got an unexpected keyword 'compiler_options'")
        return real_jit(fun, **kwargs)

    monkeypatch.setattr(jax, "jit", old_jit)
    _falls_back()


def test_unfused_stays_a_computation_of_its_own():
    def gather_then_transpose(table, index):
        return jnp.transpose(table[index], (1, 0, 2))

    def program(table, index):
        # the first element is a known 0 here: a predicate read from the
        # arguments would be folded away, and the gather fused again
        padded = jnp.pad(table, ((1, 0), (0, 0)))
        return xla.unfused(gather_then_transpose, padded, index)

    rng = np.random.default_rng(0)
    table = rng.normal(size=(50, 3)).astype(np.float32)
    index = rng.integers(0, 51, (6, 7))
    padded = np.pad(table, ((1, 0), (0, 0)))
    want = np.transpose(padded[index], (1, 0, 2))
    np.testing.assert_array_equal(jax.jit(program)(table, index), want)
    text = jax.jit(program).lower(table, index).compile().as_text()
    assert "conditional(" in text
    # and it differentiates like fun
    grad = jax.grad(lambda t: program(t, index).sum())(table)
    counts = np.bincount(index.ravel(), minlength=51)[1:]
    np.testing.assert_array_equal(grad, counts[:, None] * np.ones(3))


def test_unfused_takes_empty_and_key_arguments():
    # empty arrays (also per example under vmap) and typed PRNG keys
    def total(empty, x):
        return empty.sum() + x.sum()

    def program(empty, x):
        return xla.unfused(total, empty, x)

    x = np.arange(4, dtype=np.float32)
    assert jax.jit(program)(np.zeros((0,), np.float32), x) == 6
    text = jax.jit(program).lower(np.zeros((0,), np.float32), x).compile().as_text()
    assert "conditional(" in text
    np.testing.assert_array_equal(
        jax.vmap(program)(np.zeros((3, 0), np.float32), np.ones((3, 4))), [4, 4, 4]
    )
    assert xla.unfused(lambda e: e.sum(), jnp.zeros((2, 0))) == 0
    key = jax.random.key(0)
    np.testing.assert_array_equal(
        xla.unfused(lambda k: jax.random.normal(k, (2,)), key),
        jax.random.normal(key, (2,)),
    )
