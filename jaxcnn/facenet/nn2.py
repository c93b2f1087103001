"""NN2, the GoogLeNet-style Inception network of the FaceNet paper (Table 2).

Input 224x224x3, output a 128-d L2-normalised embedding, about 7.5M parameters
(FN-paper section 3.3, Table 2; SPECS B4 reproduces the table). Some of the
pooling branches are L2 pools (the square root of the sum of squares over the
window) instead of max pools. In the stride-2 modules (3c, 4e) the pool branch
is passed through without a projection.

Choices the paper leaves open, made here and adjustable:

* ``norm`` layers are local response normalisation with GoogLeNet's constants
  (:data:`LRN_SIZE`, :data:`LRN_ALPHA`, :data:`LRN_BETA`, :data:`LRN_BIAS`).
* Every convolution is followed by batch norm (``use_batch_norm=True``) and
  ReLU; with batch norm the convolutions have no bias (batch norm's offset
  plays its part). The paper predates wide use of batch norm; set
  ``use_batch_norm=False`` for biases and no batch norm.
* Padding is SAME everywhere, which gives the table's sizes
  224 -> 112 -> 56 -> 28 -> 14 -> 7.
"""

from collections.abc import Sequence
from typing import NamedTuple

import flax.linen as nn
import jax.numpy as jnp
from jax import lax

from jaxcnn.facenet.embedding import l2_normalize

IMAGE_SIZE = 224
EMBEDDING_DIM = 128
#: Local response normalisation constants of GoogLeNet's Caffe model
#: (Szegedy et al. 2015, "Going deeper with convolutions").
LRN_SIZE = 5
LRN_ALPHA = 1e-4
LRN_BETA = 0.75
LRN_BIAS = 1.0


class InceptionSpec(NamedTuple):
    """One row of FN-paper Table 2 (0 means the branch is absent)."""

    name: str
    n1x1: int
    n3x3_reduce: int
    n3x3: int
    n5x5_reduce: int
    n5x5: int
    pool: str  # "max" or "l2"
    pool_proj: int  # 0: pass the pooled input through (stride-2 modules)
    strides: int = 1


#: FN-paper Table 2, rows 3a to 5b.
TABLE_2 = (
    InceptionSpec("inception_3a", 64, 96, 128, 16, 32, "max", 32),
    InceptionSpec("inception_3b", 64, 96, 128, 32, 64, "l2", 64),
    InceptionSpec("inception_3c", 0, 128, 256, 32, 64, "max", 0, 2),
    InceptionSpec("inception_4a", 256, 96, 192, 32, 64, "l2", 128),
    InceptionSpec("inception_4b", 224, 112, 224, 32, 64, "l2", 128),
    InceptionSpec("inception_4c", 192, 128, 256, 32, 64, "l2", 128),
    InceptionSpec("inception_4d", 160, 144, 288, 32, 64, "l2", 128),
    InceptionSpec("inception_4e", 0, 160, 256, 64, 128, "max", 0, 2),
    InceptionSpec("inception_5a", 384, 192, 384, 48, 128, "l2", 128),
    InceptionSpec("inception_5b", 384, 192, 384, 48, 128, "max", 128),
)


def local_response_norm(x, size=LRN_SIZE, alpha=LRN_ALPHA, beta=LRN_BETA, k=LRN_BIAS):
    """Across-channel LRN (Caffe's form): ``x / (k + alpha/size * S)^beta``.

    ``S`` is the sum of ``x^2`` over ``size`` neighbouring channels (centred,
    zero-padded). ``x`` is NHWC.
    """
    half = size // 2
    sums = lax.reduce_window(
        x * x,
        jnp.zeros((), x.dtype),
        lax.add,
        (1, 1, 1, size),
        (1, 1, 1, 1),
        ((0, 0), (0, 0), (0, 0), (half, size - 1 - half)),
    )
    return x * (k + (alpha / size) * sums) ** (-beta)


def l2_pool(x, window=(3, 3), strides=(1, 1)):
    """L2 pooling: ``sqrt(sum of x^2 over the window)``, SAME zero padding.

    The square root has gradient 0 (not inf) where a window is all zeros, which
    happens often after a ReLU.
    """
    sums = lax.reduce_window(
        x * x,
        jnp.zeros((), x.dtype),
        lax.add,
        (1, *window, 1),
        (1, *strides, 1),
        "SAME",
    )
    positive = sums > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sums, 1.0)), 0.0)


class ConvUnit(nn.Module):
    """Convolution, optional batch norm, ReLU."""

    features: int
    kernel_size: Sequence[int]
    strides: int = 1
    use_batch_norm: bool = True

    @nn.compact
    def __call__(self, x, train: bool = False):
        """Applies the unit to NHWC ``x``."""
        x = nn.Conv(
            self.features,
            tuple(self.kernel_size),
            strides=self.strides,
            padding="SAME",
            use_bias=not self.use_batch_norm,
            name="conv",
        )(x)
        if self.use_batch_norm:
            x = nn.BatchNorm(use_running_average=not train, name="bn")(x)
        return nn.relu(x)


class Inception(nn.Module):
    """One Inception module of Table 2: 1x1, 3x3, 5x5 and pool branches."""

    spec: InceptionSpec
    use_batch_norm: bool = True

    @nn.compact
    def __call__(self, x, train: bool = False):
        """Applies the module to NHWC ``x``; channels are concatenated."""
        s, bn = self.spec, self.use_batch_norm
        outs = []
        if s.n1x1:
            outs.append(ConvUnit(s.n1x1, (1, 1), 1, bn, name="b1x1")(x, train))
        for k, reduce, n in ((3, s.n3x3_reduce, s.n3x3), (5, s.n5x5_reduce, s.n5x5)):
            y = ConvUnit(reduce, (1, 1), 1, bn, name=f"b{k}x{k}_reduce")(x, train)
            outs.append(ConvUnit(n, (k, k), s.strides, bn, name=f"b{k}x{k}")(y, train))
        strides = (s.strides, s.strides)
        if s.pool == "max":
            pooled = nn.max_pool(x, (3, 3), strides=strides, padding="SAME")
        else:
            pooled = l2_pool(x, (3, 3), strides)
        if s.pool_proj:
            pooled = ConvUnit(s.pool_proj, (1, 1), 1, bn, name="pool_proj")(
                pooled, train
            )
        outs.append(pooled)
        return jnp.concatenate(outs, axis=-1)


class NN2(nn.Module):
    """FaceNet NN2 (FN-paper Table 2): ``(N, 224, 224, 3)`` to ``(N, 128)``.

    Attributes:
      embedding_dim: output size (128 in the paper).
      use_batch_norm: batch norm after every convolution (see the module notes).
      normalize: apply :func:`l2_normalize` to the output.
    """

    embedding_dim: int = EMBEDDING_DIM
    use_batch_norm: bool = True
    normalize: bool = True

    @nn.compact
    def __call__(self, x, train: bool = False):
        """Embeds ``x`` of shape ``(N, H, W, 3)``; returns ``(N, embedding_dim)``."""
        bn = self.use_batch_norm
        x = ConvUnit(64, (7, 7), 2, bn, name="conv1")(x, train)
        x = nn.max_pool(x, (3, 3), strides=(2, 2), padding="SAME")
        x = local_response_norm(x)
        x = ConvUnit(64, (1, 1), 1, bn, name="conv2_reduce")(x, train)
        x = ConvUnit(192, (3, 3), 1, bn, name="conv2")(x, train)
        x = local_response_norm(x)
        x = nn.max_pool(x, (3, 3), strides=(2, 2), padding="SAME")
        for spec in TABLE_2:
            x = Inception(spec, bn, name=spec.name)(x, train)
        x = jnp.mean(x, axis=(1, 2))
        x = nn.Dense(self.embedding_dim, name="fc")(x)
        return l2_normalize(x) if self.normalize else x
