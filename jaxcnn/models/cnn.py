"""A plain configurable CNN: conv-BN-ReLU stages with max pooling, then dense.

The classifier's softmax is applied by the loss.

Used by the Fashion-MNIST and CIFAR-10 research scripts; the lecture's "conv,
ReLU, pool, ..., fully connected, softmax" network with batch normalisation
(Ioffe and Szegedy, 2015) and dropout (Srivastava et al., 2014) added.
"""

import flax.linen as nn

from jaxcnn import nn as jnn
from jaxcnn import ops
from jaxcnn.models._common import relu


class SimpleCNN(nn.Module):
    """Stages of 3x3 conv-BN-ReLU layers, each stage ending in 2x2 max pooling.

    Attributes:
      stages: conv widths per stage, e.g. ``((32, 32), (64, 64))``.
      hidden: widths of the dense layers before the classifier.
      num_classes: output size.
      dropout_rate: dropout before each dense layer.
      batch_norm: batch norm after each conv (then the convs have no bias).
    """

    stages: tuple[tuple[int, ...], ...] = ((32,), (64,))
    hidden: tuple[int, ...] = (256,)
    num_classes: int = 10
    dropout_rate: float = 0.5
    batch_norm: bool = True

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """``(N, H, W, C)`` -> logits ``(N, num_classes)``."""
        for widths in self.stages:
            for width in widths:
                x = jnn.Conv(width, 3, padding="SAME", use_bias=not self.batch_norm)(x)
                if self.batch_norm:
                    x = jnn.BatchNorm()(x, train=train)
                x = relu(x)
            x = ops.max_pool(x, 2)
        x = ops.flatten(x)
        for width in self.hidden:
            x = jnn.Dropout(self.dropout_rate)(x, train=train)
            x = relu(jnn.Dense(width)(x))
        x = jnn.Dropout(self.dropout_rate)(x, train=train)
        return jnn.Dense(self.num_classes)(x)
