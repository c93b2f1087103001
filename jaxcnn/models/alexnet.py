"""AlexNet, single-tower.

Krizhevsky, Sutskever and Hinton, 2012, "ImageNet Classification with Deep
Convolutional Neural Networks".

The layer sizes are those of the one-GPU variant that torchvision ships (64,
192, 384, 256, 256 filters; the paper splits 96, 256, 384, 384, 256 over two
GPUs), without local response normalisation, with an adaptive average pool to
6 x 6 before the classifier. At 1000 classes: 61,100,840 parameters.
"""

import flax.linen as nn

from jaxcnn import nn as jnn
from jaxcnn import ops
from jaxcnn.models._common import relu

# (features, kernel, stride, padding, max-pool after) per conv layer.
ALEXNET_CONVS = (
    (64, 11, 4, 2, True),
    (192, 5, 1, 2, True),
    (384, 3, 1, 1, False),
    (256, 3, 1, 1, False),
    (256, 3, 1, 1, True),
)
ALEXNET_POOL = (3, 2)  # overlapping pooling, paper Section 3.4
ALEXNET_HIDDEN = 4096
DROPOUT_RATE = 0.5  # paper Section 4.2


class AlexNet(nn.Module):
    """AlexNet on ``(N, 224, 224, 3)`` (any size >= 63 works).

    Attributes:
      num_classes: output size.
      dropout_rate: dropout before each hidden dense layer.
    """

    num_classes: int = 1000
    dropout_rate: float = DROPOUT_RATE

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """Returns logits ``(N, num_classes)``."""
        for features, k, s, p, pool in ALEXNET_CONVS:
            x = relu(jnn.Conv(features, k, strides=s, padding=p)(x))
            if pool:
                x = ops.max_pool(x, ALEXNET_POOL[0], ALEXNET_POOL[1])
        x = ops.flatten(ops.adaptive_avg_pool(x, (6, 6)))
        for _ in range(2):
            x = jnn.Dropout(self.dropout_rate)(x, train=train)
            x = relu(jnn.Dense(ALEXNET_HIDDEN)(x))
        return jnn.Dense(self.num_classes)(x)
