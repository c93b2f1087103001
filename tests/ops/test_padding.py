"""Tests of padding resolution (``jaxcnn.ops.padding``)."""

import math

import hypothesis.strategies as st
import pytest
from hypothesis import given
from jax import lax

from jaxcnn.ops.padding import (
    check_window_fits,
    dilated_sizes,
    output_sizes,
    resolve_padding,
)
from jaxcnn.reference import conv as ref


@st.composite
def windows(draw):
    """Per-axis (input size, window, stride, dilation) for 1 to 3 axes."""
    n = draw(st.integers(1, 3))
    axes = st.tuples(
        st.integers(0, 20), st.integers(1, 5), st.integers(1, 4), st.integers(1, 3)
    )
    return tuple(zip(*draw(st.lists(axes, min_size=n, max_size=n)), strict=True))


@given(windows(), st.sampled_from(["SAME", "SAME_LOWER", "same", "VALID"]))
def test_string_padding_matches_lax_and_reference(dims, padding):
    """Same pads as lax's own rule and as the reference's brute-force search."""
    sizes, ks, ss, ds = dims
    got = resolve_padding(padding, sizes, ks, ss, ds)
    want_lax = lax.padtype_to_pads(sizes, dilated_sizes(ks, ds), ss, padding.upper())
    assert got == tuple(tuple(p) for p in want_lax)
    if min(sizes) > 0:  # the reference assumes non-empty axes
        assert list(got) == ref.pads_for(padding, sizes, ks, ss, ds)


@given(windows())
def test_same_output_size_is_ceil_of_input_over_stride(dims):
    sizes, ks, ss, ds = dims
    sizes = tuple(max(n, 1) for n in sizes)
    pads = resolve_padding("SAME", sizes, ks, ss, ds)
    check_window_fits(sizes, pads, ks, ds)
    assert output_sizes(sizes, pads, ks, ss, ds) == tuple(
        math.ceil(n / s) for n, s in zip(sizes, ss, strict=True)
    )
    # The odd extra element goes high for SAME and low for SAME_LOWER.
    lower = resolve_padding("SAME_LOWER", sizes, ks, ss, ds)
    for (lo, hi), (llo, lhi) in zip(pads, lower, strict=True):
        assert hi - lo in (0, 1) and (llo, lhi) == (hi, lo)


def test_tensorflow_documented_example():
    # TF's padding docs: input 13, filter 6, stride 5 gives 3 outputs and a
    # total pad of 3, split (1, 2).
    assert resolve_padding("SAME", (13,), (6,), (5,), (1,)) == ((1, 2),)
    assert resolve_padding("SAME_LOWER", (13,), (6,), (5,), (1,)) == ((2, 1),)


def test_dilation_enlarges_same_padding():
    # A 3-tap kernel dilated by 2 spans 5 pixels: total pad 4 at stride 1.
    assert resolve_padding("SAME", (7,), (3,), (1,), (2,)) == ((2, 2),)


def test_int_and_pairs():
    assert resolve_padding(2, (4, 5), (3, 3), (1, 1), (1, 1)) == ((2, 2), (2, 2))
    pairs = [(0, 1), (2, 3)]
    assert resolve_padding(pairs, (4, 5), (3, 3), (1, 1), (1, 1)) == ((0, 1), (2, 3))
    assert resolve_padding("valid", (4,), (3,), (2,), (1,)) == ((0, 0),)


@pytest.mark.parametrize(
    "padding, match",
    [
        ("HALF", "padding.*unknown string 'HALF'"),
        (-1, "padding must be non-negative"),
        ([(0, -1), (0, 0)], "padding must be non-negative"),
        ([(1, 1)], r"padding must have one \(low, high\) pair per spatial axis \(2\)"),
        ([(1, 1), (1, 1), (1, 1)], "padding must have one"),
        ([1, 2], r"padding must be .*a sequence of 2 \(low, high\) pairs"),
        ([(1, 2, 3), (1, 1)], r"padding must be .*a sequence of 2 \(low, high\) pairs"),
        ([(1.0, 1), (1, 1)], r"padding must be .*a sequence of 2 \(low, high\) pairs"),
        (1.5, "padding must be one of"),
        (None, "padding must be one of"),
    ],
)
def test_bad_padding(padding, match):
    with pytest.raises(ValueError, match=match):
        resolve_padding(padding, (4, 4), (3, 3), (1, 1), (1, 1))


@pytest.mark.parametrize(
    "args, match",
    [
        (((4,), (0,), (1,), (1,)), "window_sizes must all be >= 1"),
        (((4,), (3,), (0,), (1,)), "strides must all be >= 1"),
        (((4,), (3,), (1,), (0,)), "dilations must all be >= 1"),
        (((4,), (3, 3), (1,), (1,)), "window_sizes must be 1 ints"),
        (((-1,), (3,), (1,), (1,)), "in_sizes must all be >= 0"),
    ],
)
def test_bad_sizes(args, match):
    with pytest.raises(ValueError, match=match):
        resolve_padding("SAME", *args)


def test_window_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"kernel window .*\(5,\).* larger than"):
        check_window_fits((3,), ((0, 1),), (3,), (2,), "kernel")
    check_window_fits((3,), ((1, 1),), (3,), (2,), "kernel")  # 5 fits in 5
