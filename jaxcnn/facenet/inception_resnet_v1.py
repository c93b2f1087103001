"""Inception-ResNet-v1 as used by davidsandberg/facenet and facenet-pytorch.

The network of Szegedy, Ioffe, Vanhoucke and Alemi, "Inception-v4,
Inception-ResNet and the Impact of Residual Connections on Learning" (arXiv
1602.07261), in the variant that davidsandberg/facenet trained on VGGFace2 and
facenet-pytorch ported (``InceptionResnetV1``): a 160x160x3 input, a 1792-d
pooled feature, dropout, a bias-free linear bottleneck to 512 with batch norm,
then L2 normalisation (SPECS B6 lists the shapes layer by layer).

Submodule names follow facenet-pytorch's ``state_dict`` keys with list indices
joined by ``_`` (``repeat_1.0.branch1.1.conv`` becomes
``repeat_1_0/branch1_1/conv``), so :mod:`jaxcnn.facenet.convert` maps weights by
name. Activations are NHWC (see ``jaxcnn`` for the shape legend).
"""

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxcnn.facenet.embedding import l2_normalize

#: Batch-norm epsilon of every layer, from the TensorFlow original (SPECS B6).
BN_EPSILON = 1e-3
#: Flax running-average momentum equal to PyTorch's ``momentum=0.1`` in
#: facenet-pytorch (Flax keeps ``momentum`` of the old statistics).
BN_MOMENTUM = 0.9
#: Residual scales of the three block types (SPECS B6).
BLOCK35_SCALE = 0.17
BLOCK17_SCALE = 0.10
BLOCK8_SCALE = 0.20
#: facenet-pytorch's default dropout probability before the bottleneck.
DROPOUT_RATE = 0.6
EMBEDDING_DIM = 512
IMAGE_SIZE = 160

_INIT = nn.initializers.xavier_uniform()


class BasicConv(nn.Module):
    """Bias-free convolution, batch norm, ReLU (``BasicConv2d``)."""

    features: int
    kernel_size: Sequence[int]
    strides: int = 1
    padding: str = "VALID"
    bn_momentum: float = BN_MOMENTUM

    @nn.compact
    def __call__(self, x, train: bool = False):
        """Applies the unit to NHWC ``x``."""
        x = nn.Conv(
            self.features,
            tuple(self.kernel_size),
            strides=self.strides,
            padding=self.padding,
            use_bias=False,
            kernel_init=_INIT,
            name="conv",
        )(x)
        x = nn.BatchNorm(
            use_running_average=not train,
            momentum=self.bn_momentum,
            epsilon=BN_EPSILON,
            name="bn",
        )(x)
        return nn.relu(x)


def _branch(parent, name, specs, x, train):
    """Runs ``specs`` = [(features, kernel, strides, padding), ...] in sequence."""
    for i, (features, kernel, strides, padding) in enumerate(specs):
        layer = BasicConv(
            features,
            kernel,
            strides,
            padding,
            parent.bn_momentum,
            name=f"{name}_{i}" if len(specs) > 1 else name,
        )
        x = layer(x, train)
    return x


def _max_pool(x):
    return nn.max_pool(x, (3, 3), strides=(2, 2), padding="VALID")


class _Residual(nn.Module):
    """Shared body of Block35, Block17 and Block8: branches, 1x1 up, scaled sum."""

    branches: Sequence[Sequence[tuple]]
    scale: float
    activate: bool = True
    bn_momentum: float = BN_MOMENTUM

    @nn.compact
    def __call__(self, x, train: bool = False):
        outs = [
            _branch(self, f"branch{i}", specs, x, train)
            for i, specs in enumerate(self.branches)
        ]
        up = nn.Conv(x.shape[-1], (1, 1), kernel_init=_INIT, name="conv2d")
        x = x + self.scale * up(jnp.concatenate(outs, axis=-1))
        return nn.relu(x) if self.activate else x


def _1x1(features):
    return (features, (1, 1), 1, "VALID")


def _same(features, kernel):
    return (features, kernel, 1, "SAME")


def _reduce(features):
    return (features, (3, 3), 2, "VALID")


BLOCK35 = (
    [_1x1(32)],
    [_1x1(32), _same(32, (3, 3))],
    [_1x1(32)] + [_same(32, (3, 3))] * 2,
)
BLOCK17 = ([_1x1(128)], [_1x1(128), _same(128, (1, 7)), _same(128, (7, 1))])
BLOCK8 = ([_1x1(192)], [_1x1(192), _same(192, (1, 3)), _same(192, (3, 1))])
MIXED_6A = ([_reduce(384)], [_1x1(192), _same(192, (3, 3)), _reduce(256)])
MIXED_7A = (
    [_1x1(256), _reduce(384)],
    [_1x1(256), _reduce(256)],
    [_1x1(256), _same(256, (3, 3)), _reduce(256)],
)


class _Reduction(nn.Module):
    """Mixed_6a / Mixed_7a: strided conv branches plus a 3x3/2 max pool."""

    branches: Sequence[Sequence[tuple]]
    bn_momentum: float = BN_MOMENTUM

    @nn.compact
    def __call__(self, x, train: bool = False):
        outs = [
            _branch(self, f"branch{i}", specs, x, train)
            for i, specs in enumerate(self.branches)
        ]
        return jnp.concatenate([*outs, _max_pool(x)], axis=-1)


STEM = (
    ("conv2d_1a", (32, (3, 3), 2, "VALID")),
    ("conv2d_2a", (32, (3, 3), 1, "VALID")),
    ("conv2d_2b", (64, (3, 3), 1, "SAME")),
    ("maxpool_3a", None),
    ("conv2d_3b", (80, (1, 1), 1, "VALID")),
    ("conv2d_4a", (192, (3, 3), 1, "VALID")),
    ("conv2d_4b", (256, (3, 3), 2, "VALID")),
)


class InceptionResnetV1(nn.Module):
    """Inception-ResNet-v1 embedding network (facenet-pytorch layout).

    Input ``(N, 160, 160, 3)`` float images standardised with
    :func:`jaxcnn.facenet.fixed_standardize` (other sizes of at least 75 pixels
    work too); output ``(N, embedding_dim)``, L2-normalised when ``normalize``.

    Attributes:
      embedding_dim: size of the bottleneck (512 for the VGGFace2 model).
      dropout_rate: dropout probability before the bottleneck (training only;
        needs a ``"dropout"`` rng).
      normalize: apply :func:`l2_normalize` to the output.
      bn_momentum: Flax batch-norm momentum for the running statistics.
    """

    embedding_dim: int = EMBEDDING_DIM
    dropout_rate: float = DROPOUT_RATE
    normalize: bool = True
    bn_momentum: float = BN_MOMENTUM

    @nn.compact
    def __call__(self, x, train: bool = False):
        """Embeds ``x`` of shape ``(N, H, W, 3)``; returns ``(N, embedding_dim)``."""
        for name, spec in STEM:
            if spec is None:
                x = _max_pool(x)
            else:
                x = BasicConv(*spec, self.bn_momentum, name=name)(x, train)
        x = self._repeat(x, "repeat_1", 5, BLOCK35, BLOCK35_SCALE, train)
        x = _Reduction(MIXED_6A, self.bn_momentum, name="mixed_6a")(x, train)
        x = self._repeat(x, "repeat_2", 10, BLOCK17, BLOCK17_SCALE, train)
        x = _Reduction(MIXED_7A, self.bn_momentum, name="mixed_7a")(x, train)
        x = self._repeat(x, "repeat_3", 5, BLOCK8, BLOCK8_SCALE, train)
        last = _Residual(BLOCK8, 1.0, False, self.bn_momentum, name="block8")
        x = jnp.mean(last(x, train), axis=(1, 2))
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        x = nn.Dense(
            self.embedding_dim, use_bias=False, kernel_init=_INIT, name="last_linear"
        )(x)
        x = nn.BatchNorm(
            use_running_average=not train,
            momentum=self.bn_momentum,
            epsilon=BN_EPSILON,
            name="last_bn",
        )(x)
        return l2_normalize(x) if self.normalize else x

    def _repeat(self, x, name, count, branches, scale, train):
        for i in range(count):
            block = _Residual(
                branches, scale, True, self.bn_momentum, name=f"{name}_{i}"
            )
            x = block(x, train)
        return x
