"""P-Net, R-Net and O-Net as pure functions over parameter pytrees.

Layer names follow the released Caffe nets ([matlab] ``det1-3.prototxt``, see
``jaxcnn.mtcnn.constants``); fully connected layers are called ``dense*``.
Parameters of one net are a dict ``{layer: {"kernel", "bias"} | {"alpha"}}``:
conv kernels ``(kH, kW, I, O)``, dense kernels ``(I, O)``, PReLU slopes ``(C,)``.

Every ``*_apply`` takes images already normalised to ``(x - 127.5) / 128``
(``normalize``), NHWC. The pooling layers round up ("ceil mode", as Caffe
does). Before their first dense layer R-Net and O-Net read the feature map in
``(W, H, C)`` order: the original nets were trained on transposed images
(Matcaffe's W x H blobs), and the shipped dense weights keep that order.
"""

import functools
from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxcnn import _checks, ops
from jaxcnn.mtcnn import constants as C


class PNetOutput(NamedTuple):
    """P-Net heat maps: ``probs`` (N, h, w, 2), ``offsets`` (N, h, w, 4)."""

    probs: jax.Array
    offsets: jax.Array


class RNetOutput(NamedTuple):
    """R-Net outputs: ``probs`` (N, 2) (column 1 = face), ``offsets`` (N, 4)."""

    probs: jax.Array
    offsets: jax.Array


class ONetOutput(NamedTuple):
    """O-Net outputs: ``probs`` (N, 2), ``offsets`` (N, 4), ``landmarks`` (N, 10).

    ``landmarks`` holds five x values then five y values, each relative to the
    input crop (0 = left/top edge, 1 = right/bottom edge).
    """

    probs: jax.Array
    offsets: jax.Array
    landmarks: jax.Array


# (layer, kind, shape): the architecture tables of [matlab] det1-3.prototxt.
ARCHITECTURES = {
    "pnet": (
        ("conv1", "conv", (3, 3, 3, 10)),
        ("prelu1", "prelu", (10,)),
        ("conv2", "conv", (3, 3, 10, 16)),
        ("prelu2", "prelu", (16,)),
        ("conv3", "conv", (3, 3, 16, 32)),
        ("prelu3", "prelu", (32,)),
        ("conv4_1", "conv", (1, 1, 32, 2)),
        ("conv4_2", "conv", (1, 1, 32, 4)),
    ),
    "rnet": (
        ("conv1", "conv", (3, 3, 3, 28)),
        ("prelu1", "prelu", (28,)),
        ("conv2", "conv", (3, 3, 28, 48)),
        ("prelu2", "prelu", (48,)),
        ("conv3", "conv", (2, 2, 48, 64)),
        ("prelu3", "prelu", (64,)),
        ("dense4", "dense", (576, 128)),
        ("prelu4", "prelu", (128,)),
        ("dense5_1", "dense", (128, 2)),
        ("dense5_2", "dense", (128, 4)),
    ),
    "onet": (
        ("conv1", "conv", (3, 3, 3, 32)),
        ("prelu1", "prelu", (32,)),
        ("conv2", "conv", (3, 3, 32, 64)),
        ("prelu2", "prelu", (64,)),
        ("conv3", "conv", (3, 3, 64, 64)),
        ("prelu3", "prelu", (64,)),
        ("conv4", "conv", (2, 2, 64, 128)),
        ("prelu4", "prelu", (128,)),
        ("dense5", "dense", (1152, 256)),
        ("prelu5", "prelu", (256,)),
        ("dense6_1", "dense", (256, 2)),
        ("dense6_2", "dense", (256, 4)),
        ("dense6_3", "dense", (256, 10)),
    ),
}

# PReLU slope at initialisation (a common choice, e.g. He et al. 2015).
_PRELU_INIT = 0.25


def init(rng: jax.Array, net: str) -> dict:
    """Returns freshly initialised parameters of one net.

    Kernels are Xavier/Glorot uniform and biases zero, as in the prototxts;
    PReLU slopes start at 0.25.

    Args:
      rng: a ``jax.random`` key.
      net: ``"pnet"``, ``"rnet"`` or ``"onet"``.
    """
    _checks.check_choice(net, "net", tuple(ARCHITECTURES))
    _checks.check_key(rng, "rng")
    layers = ARCHITECTURES[net]
    keys = jax.random.split(rng, len(layers))
    glorot = jax.nn.initializers.glorot_uniform()
    params = {}
    for key, (name, kind, shape) in zip(keys, layers, strict=True):
        if kind == "prelu":
            params[name] = {"alpha": jnp.full(shape, _PRELU_INIT, jnp.float32)}
        else:
            kernel = glorot(key, shape, jnp.float32)
            params[name] = {"kernel": kernel, "bias": jnp.zeros(shape[-1:])}
    return params


def count_params(params) -> int:
    """Returns the number of scalars in a parameter pytree."""
    leaves = jax.tree_util.tree_leaves(params)
    if not all(hasattr(x, "size") and hasattr(x, "shape") for x in leaves):
        raise TypeError(f"params must be a pytree of arrays; got {params!r:.80}")
    return sum(int(x.size) for x in leaves)


def normalize(images) -> jax.Array:
    """Maps RGB pixel values in [0, 255] to the nets' input range.

    ``(x - 127.5) * 0.0078125``, i.e. ``(x - 127.5) / 128``. [matlab]
    """
    _checks.check_real_array(images, "images")
    return (jnp.asarray(images, jnp.float32) - C.PIXEL_MEAN) * C.PIXEL_SCALE


def _check_params(params, net: str) -> None:
    """Checks that ``params`` holds every layer of ``net``."""
    names = [name for name, _, _ in ARCHITECTURES[net]]
    if not isinstance(params, Mapping):
        raise TypeError(
            f"params must be the {net} parameter dict; got {type(params).__name__}"
        )
    missing = [n for n in names if not isinstance(params.get(n), Mapping)]
    if missing:
        raise ValueError(
            f"params must be the {net} parameter dict with layers {names}; "
            f"missing {missing}"
        )


def _check_same_dtype(x, params) -> None:
    """The input must have the dtype of the weights (no silent promotion)."""
    want = _checks.dtype_of(params["conv1"]["kernel"])
    if _checks.dtype_of(x) != want:
        raise TypeError(
            f"x must have the dtype of params ({want}); got {_checks.dtype_of(x)}"
        )


def _check_input(x, name: str, min_side: int, exact: bool) -> None:
    _checks.check_rank(x, name, 4, "(N, H, W, 3)")
    _checks.check_floating(x, name)
    shape = _checks.shape_of(x)
    n, h, w, c = shape
    if c != 3:
        raise ValueError(f"{name} must have 3 channels (N, H, W, 3); got {shape}")
    if exact and (h, w) != (min_side, min_side):
        raise ValueError(f"{name} must be (N, {min_side}, {min_side}, 3); got {shape}")
    if h < min_side or w < min_side:
        raise ValueError(f"{name} must be at least {min_side}x{min_side}; got {shape}")


def _conv_prelu(params, x, i: int):
    kernel, bias = params[f"conv{i}"]["kernel"], params[f"conv{i}"]["bias"]
    x = ops.conv(x, kernel, bias)
    return ops.prelu(x, params[f"prelu{i}"]["alpha"])


def _space_to_depth(x):
    """Cuts (N, 2h, 2w, C) into 2x2 pixel blocks: (N, h, w, 4C).

    Channel ``(a * 2 + b) * C + c`` of block (i, j) is channel c of the pixel
    at row ``2i + a``, column ``2j + b``.
    """
    n, h, w, c = x.shape
    x = x.reshape(n, h // 2, 2, w // 2, 2, c)
    return jnp.transpose(x, (0, 1, 3, 2, 4, 5)).reshape(n, h // 2, w // 2, 4 * c)


# _BLOCK_TAPS[u, a, p, i] = 1 where input row 2u + a of a 4-row block feeds
# kernel row i of the 3x3 convolution's output row p (0 or 1) of the block:
# 2u + a = p + i.
_BLOCK_TAPS = np.zeros((2, 2, 2, 3), np.float32)
for _u, _a, _p in np.ndindex(2, 2, 2):
    if 0 <= 2 * _u + _a - _p <= 2:
        _BLOCK_TAPS[_u, _a, _p, 2 * _u + _a - _p] = 1.0


def _block_kernel(kernel):
    """A 3x3 kernel (3, 3, I, O) as a 2x2 kernel over 2x2 pixel blocks.

    Returns (2, 2, 4I, 4O): the block convolution's output channel
    ``(p * 2 + q) * O + o`` is the 3x3 convolution at row ``2i + p``, column
    ``2j + q``; input channels are ordered as ``_space_to_depth`` makes them.
    """
    taps = jnp.asarray(_BLOCK_TAPS, kernel.dtype)
    k = jnp.einsum("uapi,vbqj,ijco->uvabcpqo", taps, taps, kernel)
    i, o = kernel.shape[2:]
    return k.reshape(2, 2, 4 * i, 4 * o)


def _conv1_blocks(params, x, valid=None):
    """conv1 (3x3, stride 1) and PReLU, computed on 2x2 pixel blocks.

    One 2x2 convolution from 12 to 4 O channels over the image cut into 2x2
    blocks gives the numbers of the 3x3 convolution from 3 to O channels (up
    to float rounding) and on CPU runs 2x to 3x faster: three input channels
    leave XLA's convolution little to vectorise (``benchmarks/ops.py``). An
    odd side gets one more zero row or column, whose outputs are -inf.

    Args:
      params: the net's parameters.
      x: (N, H, W, 3) normalised images.
      valid: optional bool (N or 1, H - 2, W - 2): outputs where it is False
        become -inf, so that no max pool window takes them.

    The pools that follow (``_pool2_blocks``, ``_pool3_blocks``) take maxima
    with ``jnp.max`` / ``jnp.maximum``, whose gradient shares a tie among the
    tied inputs (``ops.max_pool`` gives it to the first): parameter gradients
    are the same, input gradients differ only at exact ties.

    Returns:
      (N, h, w, 4, O) with ``h = ceil((H - 2) / 2)``, ``w`` likewise: axis 3
      holds the outputs at rows ``2i + p`` and columns ``2j + q`` in the order
      (p, q) = (0, 0), (0, 1), (1, 0), (1, 1).
    """
    n, h, w, _ = x.shape
    ph, pw = h % 2, w % 2
    x = jnp.pad(x, ((0, 0), (0, ph), (0, pw), (0, 0)))
    kernel, bias = params["conv1"]["kernel"], params["conv1"]["bias"]
    o = kernel.shape[-1]
    y = ops.conv(_space_to_depth(x), _block_kernel(kernel), jnp.tile(bias, 4))
    y = ops.prelu(y, jnp.tile(params["prelu1"]["alpha"], 4))
    y = y.reshape(n, y.shape[1], y.shape[2], 4, o)
    if ph or pw or valid is not None:
        if valid is None:
            valid = jnp.ones((1, h - 2, w - 2), bool)
        valid = jnp.pad(valid, ((0, 0), (0, ph), (0, pw)))[..., None]
        y = jnp.where(_space_to_depth(valid)[..., None], y, -jnp.inf)
    return y


def _pool2_blocks(y):
    """The 2x2, stride 2, ceil-mode max pool of ``_conv1_blocks`` output."""
    return jnp.max(y, axis=3)


def _pool3_blocks(y, conv_shape):
    """The 3x3, stride 2, ceil-mode max pool of ``_conv1_blocks`` output.

    Window (i, j) covers rows and columns 2i to 2i + 2: the four outputs of
    block (i, j), the top row of block (i + 1, j), the left column of block
    (i, j + 1) and the top-left output of block (i + 1, j + 1). Blocks past
    the edge are -inf: the ceil mode's last window is cut short there. An
    odd side n of the convolution output has ``n // 2`` windows, one fewer
    than blocks (``conv_shape`` is the convolution's (H - 2, W - 2)).
    """
    pad = ((0, 0), (0, 1), (0, 1), (0, 0), (0, 0))
    y = jnp.pad(y, pad, constant_values=-jnp.inf)
    below, right = y[:, 1:, :-1], y[:, :-1, 1:]
    window = [
        jnp.max(y[:, :-1, :-1], axis=3),
        below[:, :, :, 0],
        below[:, :, :, 1],
        right[:, :, :, 0],
        right[:, :, :, 2],
        y[:, 1:, 1:, 0],
    ]
    height, width = conv_shape
    return functools.reduce(jnp.maximum, window)[:, : height // 2, : width // 2]


def _pool(x, k: int):
    return ops.max_pool(x, (k, k), (2, 2), ceil_mode=True)


def _dense(params, x, name: str):
    return ops.dense(x, params[name]["kernel"], params[name]["bias"])


def _flatten_whc(x):
    """Flattens (N, H, W, C) in (W, H, C) order, as the shipped dense weights expect."""
    return ops.flatten(jnp.transpose(x, (0, 2, 1, 3)))


def _valid_region(shape, height, width):
    """Marks the conv1 outputs of an (N, H, W, C) input inside the image.

    Returns bool (N or 1, H - 2, W - 2), True in rows < height and columns <
    width (scalars or (N,)).
    """
    height = jnp.reshape(jnp.asarray(height), (-1, 1, 1))
    width = jnp.reshape(jnp.asarray(width), (-1, 1, 1))
    rows = jnp.arange(shape[1] - 2)[None, :, None] < height
    cols = jnp.arange(shape[2] - 2)[None, None, :] < width
    return rows & cols


def pnet_apply(params: dict, x, *, valid_size=None) -> PNetOutput:
    """P-Net, fully convolutional.

    Args:
      params: P-Net parameters.
      x: normalised images (N, H, W, 3) with H, W >= 12.
      valid_size: optional (h, w): ints, or int arrays of shape (N,) (one
        size per image; may be traced). Only the top-left h x w pixels of
        ``x`` are image, the rest is padding
        (to share one compiled program among sizes). The output cells of the
        unpadded h x w input, the top-left ``ceil((h - 2) / 2) - 4`` by
        ``ceil((w - 2) / 2) - 4``, are then exactly those of the unpadded
        input; cells beyond are undefined (may be NaN).

    Returns:
      ``PNetOutput`` with maps of size ``ceil((H - 2) / 2) - 4`` by the same in
      W: face probabilities (softmax over 2 classes) and box offsets.
    """
    _check_params(params, "pnet")
    _check_input(x, "x", C.PNET_CELL, exact=False)
    _check_same_dtype(x, params)
    valid = None
    if valid_size is not None:
        # conv1 rows past h - 3 see padding; -inf keeps them out of the ceil
        # pool's last, partial window, as if that window were cut short
        valid = _valid_region(x.shape, valid_size[0] - 2, valid_size[1] - 2)
    return _pnet_tail(params, _pool2_blocks(_conv1_blocks(params, x, valid)))


def _pnet_tail(params, x) -> PNetOutput:
    """P-Net after conv1, PReLU and pool: conv2, conv3 and the two heads."""
    x = _conv_prelu(params, _conv_prelu(params, x, 2), 3)
    # both 1x1 heads as one product: 2 logits, then 4 offsets
    heads = [params["conv4_1"], params["conv4_2"]]
    kernel = jnp.concatenate([h["kernel"] for h in heads], axis=-1)
    out = ops.conv(x, kernel, jnp.concatenate([h["bias"] for h in heads]))
    return PNetOutput(ops.softmax(out[..., :2], axis=-1), out[..., 2:])


def pnet_canvas_apply(params: dict, x, conv1_valid) -> PNetOutput:
    """P-Net on a canvas holding several images (pyramid levels) side by side.

    Each image must start at an even row and column of the canvas. conv1
    outputs whose 3x3 window is not inside one image are set to -inf, so the
    max pool ignores them and every image's output cells, read from the
    canvas map at (row / 2, column / 2) of its corner, equal those of
    ``pnet_apply`` on that image alone; cells between images are undefined.

    Args:
      params: P-Net parameters.
      x: normalised canvases (N, H, W, 3), H, W >= 12.
      conv1_valid: bool (H - 2, W - 2), True where the 3x3 window at that
        top-left pixel lies inside one image.

    Returns:
      ``PNetOutput`` over the whole canvas, as ``pnet_apply``.
    """
    _check_params(params, "pnet")
    _check_input(x, "x", C.PNET_CELL, exact=False)
    _check_same_dtype(x, params)
    y = _conv1_blocks(params, x, conv1_valid[None])
    return _pnet_tail(params, _pool2_blocks(y))


def _conv1_pool3(params, x):
    """conv1, PReLU and the 3x3, stride 2, ceil-mode max pool (R-/O-Net)."""
    return _pool3_blocks(_conv1_blocks(params, x), (x.shape[1] - 2, x.shape[2] - 2))


def _rnet_features(params, x):
    x = _conv1_pool3(params, x)
    x = _pool(_conv_prelu(params, x, 2), 3)
    x = _flatten_whc(_conv_prelu(params, x, 3))
    return ops.prelu(_dense(params, x, "dense4"), params["prelu4"]["alpha"])


def rnet_apply(params: dict, x) -> RNetOutput:
    """R-Net on normalised 24x24 crops ``x`` (N, 24, 24, 3)."""
    _check_params(params, "rnet")
    _check_input(x, "x", C.RNET_SIZE, exact=True)
    _check_same_dtype(x, params)
    h = _rnet_features(params, x)
    probs = ops.softmax(_dense(params, h, "dense5_1"), axis=-1)
    return RNetOutput(probs, _dense(params, h, "dense5_2"))


def _onet_features(params, x):
    x = _conv1_pool3(params, x)
    x = _pool(_conv_prelu(params, x, 2), 3)
    x = _pool(_conv_prelu(params, x, 3), 2)
    x = _flatten_whc(_conv_prelu(params, x, 4))
    # Dropout (ratio 0.25) sits here in training only; inference skips it.
    return ops.prelu(_dense(params, x, "dense5"), params["prelu5"]["alpha"])


def onet_apply(params: dict, x) -> ONetOutput:
    """O-Net on normalised 48x48 crops ``x`` (N, 48, 48, 3)."""
    _check_params(params, "onet")
    _check_input(x, "x", C.ONET_SIZE, exact=True)
    _check_same_dtype(x, params)
    h = _onet_features(params, x)
    probs = ops.softmax(_dense(params, h, "dense6_1"), axis=-1)
    offsets = _dense(params, h, "dense6_2")
    return ONetOutput(probs, offsets, _dense(params, h, "dense6_3"))
