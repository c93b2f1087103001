"""Convolution and transposed convolution on channels-last arrays.

Both ops call ``lax.conv_general_dilated`` once, with dimension numbers for the
package layout (see ``jaxcnn`` for the shape legend), so the compiled program
holds a single XLA convolution and no transposes or copies (besides it only the
bias add, the explicit pad of a non-zero ``padding_mode`` and, for
``conv_transpose``, the kernel flip). Padding forms are resolved by
:func:`jaxcnn.ops.padding.resolve_padding`.

``conv(..., lowering="matmul")`` computes the same convolution as the lecture
draws it, tiles times filters: every kernel-sized tile of the input becomes
one row of a matrix, which one matrix product with the flattened kernel turns
into the output. It exists because XLA's CPU convolution is slow for inputs
with few channels while its matrix products are fast and use every core:
``benchmarks/ops.py`` measures both.
"""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxcnn._checks import (
    as_tuple,
    check_choice,
    check_floating,
    check_positive,
    check_rank,
    dtype_of,
    shape_of,
)
from jaxcnn.ops.padding import (
    check_window_fits,
    dilated_sizes,
    resolve_padding,
)

PADDING_MODES = ("zeros", "reflect", "edge", "circular")
LOWERINGS = ("xla", "matmul")
_JNP_PAD_MODE = {"reflect": "reflect", "edge": "edge", "circular": "wrap"}
_SPATIAL = {1: "W", 2: "HW", 3: "DHW"}
_LAYOUTS = {
    3: "(N, W, C)",
    4: "(N, H, W, C)",
    5: "(N, D, H, W, C)",
}


def _dimension_numbers(n_spatial: int) -> tuple[str, str, str]:
    """Returns lax dimension numbers for NHWC activations and HWIO kernels."""
    s = _SPATIAL[n_spatial]
    return f"N{s}C", f"{s}IO", f"N{s}C"


def _check_arrays(x, kernel) -> None:
    """Checks ranks and dtypes of ``x`` and ``kernel`` (shared by both ops)."""
    check_rank(x, "x", (3, 4, 5), "(N, *spatial, C) (1-D, 2-D or 3-D)")
    check_rank(kernel, "kernel", (3, 4, 5), "(*spatial, I, O)")
    x_shape, k_shape = shape_of(x), shape_of(kernel)
    if len(x_shape) != len(k_shape):
        raise ValueError(
            f"kernel must have the same rank as x, {_LAYOUTS[len(x_shape)]} needs "
            f"a rank-{len(x_shape)} kernel; got x shape {x_shape} and kernel shape "
            f"{k_shape}"
        )
    check_floating(x, "x")
    check_floating(kernel, "kernel")
    if dtype_of(x) != dtype_of(kernel):
        raise TypeError(
            f"x and kernel must have the same dtype; got x {dtype_of(x)} and "
            f"kernel {dtype_of(kernel)}"
        )
    check_positive(k_shape[:-2], "kernel spatial sizes")


def _check_bias(bias, x, out_channels: int) -> None:
    if bias is None:
        return
    check_floating(bias, "bias")
    if shape_of(bias) != (out_channels,):
        raise ValueError(
            f"bias must have shape (O,) = ({out_channels},); got {shape_of(bias)}"
        )
    if dtype_of(bias) != dtype_of(x):
        raise TypeError(
            f"bias must have the dtype of x ({dtype_of(x)}); got {dtype_of(bias)}"
        )


def _check_groups(groups, in_channels: int, kernel_shape) -> None:
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool):
        raise TypeError(f"feature_group_count must be an int; got {groups!r}")
    if groups < 1:
        raise ValueError(f"feature_group_count must be positive; got {groups}")
    kernel_in, out_channels = kernel_shape[-2:]
    if in_channels % groups:
        raise ValueError(
            f"feature_group_count ({groups}) must divide the input channels of x "
            f"({in_channels})"
        )
    if out_channels % groups:
        raise ValueError(
            f"feature_group_count ({groups}) must divide the output channels O of "
            f"kernel ({out_channels}); kernel shape {kernel_shape}"
        )
    if kernel_in * groups != in_channels:
        raise ValueError(
            f"x has {in_channels} input channels but kernel expects I * "
            f"feature_group_count = {kernel_in} * {groups} = {kernel_in * groups}; "
            f"kernel shape {kernel_shape}"
        )


def _check_reflect(pads, spatial) -> None:
    if any(max(lo, hi) >= n for n, (lo, hi) in zip(spatial, pads, strict=True)):
        raise ValueError(
            f"padding_mode 'reflect' needs every pad < the input size on its axis; "
            f"got pads {pads} for spatial sizes {spatial}"
        )


# The cores are jitted with the resolved geometry as static arguments: an eager
# call then compiles and dispatches one program (pad, convolution and bias
# together) instead of one per primitive; under an outer jit they are inlined.
@functools.partial(
    jax.jit,
    static_argnames=("strides", "pads", "dilation", "groups", "mode", "precision"),
)
def _conv_core(x, kernel, bias, *, strides, pads, dilation, groups, mode, precision):
    n_spatial = x.ndim - 2
    if mode != "zeros" and any(p != (0, 0) for p in pads):
        x = jnp.pad(x, ((0, 0), *pads, (0, 0)), mode=_JNP_PAD_MODE[mode])
        pads = ((0, 0),) * n_spatial
    y = lax.conv_general_dilated(
        x,
        kernel,
        window_strides=strides,
        padding=pads,
        rhs_dilation=dilation,
        dimension_numbers=_dimension_numbers(n_spatial),
        feature_group_count=groups,
        precision=precision,
    )
    return y if bias is None else y + bias


def _tiles(x, k_sizes, strides, dilation):
    """im2col: (N, *out, K * C) with K = prod(k_sizes), tile offsets major.

    ``x`` is already padded. Tile element ``(j, c)`` of output position ``i``
    is ``x[n, i * s + j * d, c]`` per axis, read by one strided slice per
    kernel offset ``j``.
    """
    in_sizes = x.shape[1:-1]
    out = [
        (n - (k - 1) * d - 1) // s + 1
        for n, k, s, d in zip(in_sizes, k_sizes, strides, dilation, strict=True)
    ]
    slices = []
    for offset in itertools.product(*(range(k) for k in k_sizes)):
        start = [j * d for j, d in zip(offset, dilation, strict=True)]
        stop = [
            b + (o - 1) * s + 1 for b, o, s in zip(start, out, strides, strict=True)
        ]
        slices.append(
            lax.slice(
                x, (0, *start, 0), (x.shape[0], *stop, x.shape[-1]), (1, *strides, 1)
            )
        )
    return jnp.concatenate(slices, axis=-1)


@functools.partial(
    jax.jit,
    static_argnames=("strides", "pads", "dilation", "groups", "mode", "precision"),
)
def _conv_matmul_core(
    x, kernel, bias, *, strides, pads, dilation, groups, mode, precision
):
    """The convolution as (tiles) @ (flattened kernel), per feature group."""
    if any(p != (0, 0) for p in pads):
        fill = {"mode": _JNP_PAD_MODE[mode]} if mode != "zeros" else {}
        x = jnp.pad(x, ((0, 0), *pads, (0, 0)), **fill)
    k_sizes, (c_in, c_out) = kernel.shape[:-2], kernel.shape[-2:]
    tiles = _tiles(x, k_sizes, strides, dilation)
    k = int(np.prod(k_sizes))
    # tiles (..., K, G, I) against kernel (K, I, G, O / G), one product per group
    tiles = tiles.reshape(*tiles.shape[:-1], k, groups, c_in)
    filters = kernel.reshape(k, c_in, groups, c_out // groups)
    if groups == 1:
        y = jnp.dot(
            tiles.reshape(*tiles.shape[:-3], k * c_in),
            filters.reshape(k * c_in, c_out),
            precision=precision,
        )
    else:
        y = jnp.einsum("...kgi,kigo->...go", tiles, filters, precision=precision)
        y = y.reshape(*y.shape[:-2], c_out)
    return y if bias is None else y + bias


def conv(
    x,
    kernel,
    bias=None,
    *,
    strides=1,
    padding="VALID",
    dilation=1,
    feature_group_count=1,
    padding_mode="zeros",
    precision=None,
    lowering="xla",
):
    r"""N-D convolution (cross-correlation, as in every DL framework).

    For one spatial axis, with zero-based indices, padded input ``xp``,
    stride ``s``, dilation ``d`` and group ``g`` holding output channel ``o``:

    .. math::

        y[n, i, o] = b[o] + \sum_{j, c} xp[n, i s + j d, g I + c] \, k[j, c, o]

    Args:
      x: input ``(N, W, C)``, ``(N, H, W, C)`` or ``(N, D, H, W, C)``, floating.
      kernel: ``(*spatial, I, O)`` with ``I = C / feature_group_count``; same
        rank and dtype as ``x``.
      bias: optional ``(O,)`` added to every output position; dtype of ``x``.
      strides: int or one int per spatial axis, >= 1.
      padding: ``'VALID'``, ``'SAME'`` (TensorFlow: the odd extra pad on the
        high side), ``'SAME_LOWER'`` (on the low side), an int, or one
        ``(low, high)`` pair per spatial axis. SAME gives
        ``out = ceil(in / stride)`` and accounts for dilation; see
        :mod:`jaxcnn.ops.padding`.
      dilation: kernel (atrous) dilation, int or one per spatial axis, >= 1.
      feature_group_count: number of groups ``G``; it must divide ``C`` and
        ``O``. ``G = C`` with ``I = 1`` is a depthwise convolution.
      padding_mode: what fills the padding: ``'zeros'``, ``'reflect'`` (mirror
        without repeating the edge; each pad must be < the axis size),
        ``'edge'`` (repeat the edge value) or ``'circular'`` (wrap around).
        Non-zero modes pad with ``jnp.pad`` and then convolve with VALID.
      precision: passed to ``lax.conv_general_dilated`` (``None``: backend
        default, which on GPU/TPU may use reduced-precision float32 products).
      lowering: ``'xla'`` (one XLA convolution) or ``'matmul'`` (tiles times
        filters: the input's kernel-sized tiles as rows of a matrix, times the
        kernel flattened to ``(prod(kernel spatial) * I, O)``, per group).
        Same result up to float rounding; ``'matmul'`` holds the tile matrix,
        ``prod(kernel spatial)`` times the input, and is faster on CPU for
        inputs with few channels (the first layer of a CNN).

    Returns:
      ``(N, *out_spatial, O)`` in the dtype of ``x``, where per axis
      ``out = (in + low + high - ((k - 1) d + 1)) // s + 1``.

    Raises:
      ValueError: bad ranks, channel/group mismatch, non-positive strides,
        dilation or groups, unknown ``padding`` or ``padding_mode``, a dilated
        kernel larger than the padded input, a bias of the wrong shape.
      TypeError: non-floating ``x``, ``kernel`` or ``bias``, or differing dtypes.

    Example:
      >>> x = jnp.ones((1, 4, 4, 1), jnp.float32)
      >>> k = jnp.ones((3, 3, 1, 2), jnp.float32)
      >>> conv(x, k, padding="SAME")[0, :, :, 0]
      Array([[4., 6., 6., 4.],
             [6., 9., 9., 6.],
             [6., 9., 9., 6.],
             [4., 6., 6., 4.]], dtype=float32)
    """
    _check_arrays(x, kernel)
    x_shape, k_shape = shape_of(x), shape_of(kernel)
    n_spatial = len(x_shape) - 2
    _check_groups(feature_group_count, x_shape[-1], k_shape)
    _check_bias(bias, x, k_shape[-1])
    strides = as_tuple(strides, n_spatial, "strides")
    check_positive(strides, "strides")
    dilation = as_tuple(dilation, n_spatial, "dilation")
    check_positive(dilation, "dilation")
    check_choice(padding_mode, "padding_mode", PADDING_MODES)
    in_sizes, k_sizes = x_shape[1:-1], k_shape[:-2]
    pads = resolve_padding(padding, in_sizes, k_sizes, strides, dilation)
    check_window_fits(in_sizes, pads, k_sizes, dilation, "kernel")
    if padding_mode == "reflect":
        _check_reflect(pads, in_sizes)
    check_choice(lowering, "lowering", LOWERINGS)
    core = _conv_core if lowering == "xla" else _conv_matmul_core
    return core(
        x,
        kernel,
        bias,
        strides=strides,
        pads=pads,
        dilation=dilation,
        groups=int(feature_group_count),
        mode=padding_mode,
        precision=precision,
    )


def _transpose_pads(padding, in_sizes, k_sizes, strides, dilation):
    """Returns lax padding for the input-dilated form of a transposed conv.

    The full (uncropped) output of a transposed conv has ``(in - 1) s + dk``
    positions per axis. ``padding`` names what to crop from it, like the padding
    of the forward conv it is the gradient of: ``'SAME'`` crops the pads the
    forward conv would use on an input of size ``in * s`` (and pads with zeros
    when the full output is shorter than ``in * s``).
    """
    same = isinstance(padding, str) and padding.upper() != "VALID"
    fwd_in = tuple(n * s for n, s in zip(in_sizes, strides, strict=True))
    pads = resolve_padding(padding, fwd_in, k_sizes, strides, dilation)
    extents = dilated_sizes(k_sizes, dilation)
    lax_pads = []
    for n, s, dk, (lo, hi), target in zip(
        in_sizes, strides, extents, pads, fwd_in, strict=True
    ):
        full = (n - 1) * s + dk
        out = target if same else full - lo - hi
        if out < 1:
            raise ValueError(
                f"padding {padding!r} crops the whole transposed-conv output "
                f"(uncropped size {full}, pads {(lo, hi)})"
            )
        # Conv of the s-dilated input ((n - 1) s + 1 long) with the flipped
        # kernel: low pad dk - 1 - lo, high pad chosen to give `out` positions.
        pad_lo = dk - 1 - lo
        lax_pads.append((pad_lo, out + dk - 2 - (n - 1) * s - pad_lo))
    return tuple(lax_pads)


def conv_transpose(
    x,
    kernel,
    bias=None,
    *,
    strides=1,
    padding="VALID",
    dilation=1,
    precision=None,
):
    r"""Transposed (fractionally strided) convolution: the gradient of ``conv``.

    Every input position scatters a copy of the kernel, scaled by its value,
    into the output. For one spatial axis, before cropping:

    .. math::

        z[n, i s + j d, o] \mathrel{+}= x[n, i, c] \, k[j, c, o]

    so the full output has ``(in - 1) s + (k - 1) d + 1`` positions. Then
    ``padding`` crops it as in PyTorch's ``ConvTranspose`` / TensorFlow's
    ``conv_transpose``:

    * ``'VALID'``: no crop, ``out = (in - 1) s + (k - 1) d + 1``.
    * ``'SAME'`` / ``'SAME_LOWER'``: ``out = in * s``; crops the pads that
      ``conv(..., padding='SAME')`` uses on an input of size ``in * s`` (zeros
      are appended when the full output is shorter).
    * an int or ``(low, high)`` pairs: crops ``low`` and ``high`` positions,
      ``out = (in - 1) s + (k - 1) d + 1 - low - high``.

    Kernel layout: ``(*spatial, I, O)`` where ``I`` is the channel count of
    ``x`` (the input of this op) and ``O`` that of the output, like PyTorch's
    ``ConvTranspose`` weight ``(I, O, *spatial)``. For a forward kernel ``w``
    of ``conv`` (``(*spatial, C, O)``), ``conv_transpose(y, w.swapaxes(-1,
    -2), padding=p, strides=s, dilation=d)`` is the adjoint (vector-Jacobian
    product) of ``conv(., w, padding=p, strides=s, dilation=d)`` on an input of
    the returned size.

    Args:
      x: ``(N, *spatial, I)``, floating, rank 3, 4 or 5, spatial sizes >= 1.
      kernel: ``(*spatial, I, O)``, same rank and dtype as ``x``.
      bias: optional ``(O,)``, dtype of ``x``.
      strides: upsampling factor, int or one per spatial axis, >= 1.
      padding: see above.
      dilation: kernel dilation, int or one per spatial axis, >= 1.
      precision: passed to ``lax.conv_general_dilated``.

    Returns:
      ``(N, *out_spatial, O)`` in the dtype of ``x``.

    Raises:
      ValueError: bad ranks, channel mismatch, non-positive strides or
        dilation, an unknown ``padding``, a crop that removes everything.
      TypeError: non-floating inputs or differing dtypes.

    Example:
      >>> x = jnp.ones((1, 2, 1), jnp.float32)
      >>> k = jnp.array([1.0, 10.0, 100.0], jnp.float32).reshape(3, 1, 1)
      >>> conv_transpose(x, k, strides=2)[0, :, 0]
      Array([  1.,  10., 101.,  10., 100.], dtype=float32)
    """
    # TODO: no feature_group_count, padding_mode or PyTorch's output_padding yet
    # (the last picks between the input sizes a strided conv maps to one size);
    # nothing in the package needs them so far.
    _check_arrays(x, kernel)
    x_shape, k_shape = shape_of(x), shape_of(kernel)
    n_spatial = len(x_shape) - 2
    if x_shape[-1] != k_shape[-2]:
        raise ValueError(
            f"x has {x_shape[-1]} channels but kernel expects I = {k_shape[-2]} "
            f"(kernel shape {k_shape} is (*spatial, I, O))"
        )
    check_positive(x_shape[1:-1], "x spatial sizes")
    _check_bias(bias, x, k_shape[-1])
    strides = as_tuple(strides, n_spatial, "strides")
    check_positive(strides, "strides")
    dilation = as_tuple(dilation, n_spatial, "dilation")
    check_positive(dilation, "dilation")
    lax_pads = _transpose_pads(padding, x_shape[1:-1], k_shape[:-2], strides, dilation)
    return _conv_transpose_core(
        x,
        kernel,
        bias,
        lax_pads=lax_pads,
        strides=strides,
        dilation=dilation,
        precision=precision,
    )


@functools.partial(
    jax.jit, static_argnames=("lax_pads", "strides", "dilation", "precision")
)
def _conv_transpose_core(x, kernel, bias, *, lax_pads, strides, dilation, precision):
    n_spatial = x.ndim - 2
    flipped = jnp.flip(kernel, axis=tuple(range(n_spatial)))
    y = lax.conv_general_dilated(
        x,
        flipped,
        window_strides=(1,) * n_spatial,
        padding=lax_pads,
        lhs_dilation=strides,
        rhs_dilation=dilation,
        dimension_numbers=_dimension_numbers(n_spatial),
        precision=precision,
    )
    return y if bias is None else y + bias
