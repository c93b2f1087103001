"""A small embedding network that trains on a CPU in minutes.

For 28x28 (Fashion-MNIST, MNIST) up to 64x64 inputs, any channel count. Each
stage is two 3x3 convolutions with batch norm and ReLU, followed by a 2x2 max
pool (all but the last stage); then global average pooling, dropout and the
same tail as Inception-ResNet-v1: a bias-free linear bottleneck, batch norm and
L2 normalisation. With ``widths=(32, 64, 128)`` and a 64-d embedding it has
about 0.3M parameters.
"""

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxcnn.facenet.embedding import l2_normalize


class SmallEmbeddingNet(nn.Module):
    """Small CNN from ``(N, H, W, C)`` images to ``(N, embedding_dim)``.

    Attributes:
      widths: channels of each stage.
      embedding_dim: output size.
      dropout_rate: dropout before the bottleneck (training only; needs a
        ``"dropout"`` rng when > 0).
      normalize: apply :func:`l2_normalize` to the output.
    """

    widths: Sequence[int] = (32, 64, 128)
    embedding_dim: int = 64
    dropout_rate: float = 0.0
    normalize: bool = True

    @nn.compact
    def __call__(self, x, train: bool = False):
        """Embeds ``x``; returns ``(N, embedding_dim)``."""
        for stage, width in enumerate(self.widths):
            for j in range(2):
                x = nn.Conv(width, (3, 3), use_bias=False, name=f"conv{stage}_{j}")(x)
                x = nn.BatchNorm(use_running_average=not train, name=f"bn{stage}_{j}")(
                    x
                )
                x = nn.relu(x)
            if stage < len(self.widths) - 1:
                x = nn.max_pool(x, (2, 2), strides=(2, 2))
        x = jnp.mean(x, axis=(1, 2))
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        x = nn.Dense(self.embedding_dim, use_bias=False, name="bottleneck")(x)
        x = nn.BatchNorm(use_running_average=not train, name="bottleneck_bn")(x)
        return l2_normalize(x) if self.normalize else x
