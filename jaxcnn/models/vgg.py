"""VGG-11 and VGG-16 (configurations A and D).

Simonyan and Zisserman, 2015, "Very Deep Convolutional Networks for Large-Scale
Image Recognition", Table 1.

3x3 convolutions with padding 1 and ReLU, 2x2 max pooling ("M"), an adaptive
average pool to 7 x 7, then two 4096-unit dense layers with dropout and the
classifier. At 1000 classes VGG-11 has 132,863,336 parameters and VGG-16
138,357,544.
"""

import flax.linen as nn

from jaxcnn import nn as jnn
from jaxcnn import ops
from jaxcnn.models._common import relu

VGG_CONFIGS = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (
        *(64, 64, "M", 128, 128, "M", 256, 256, 256, "M"),
        *(512, 512, 512, "M", 512, 512, 512, "M"),
    ),
}
VGG_HIDDEN = 4096
DROPOUT_RATE = 0.5  # paper Section 3.1


class VGG(nn.Module):
    """VGG on ``(N, 224, 224, 3)`` (any size >= 32 works).

    Attributes:
      config: a sequence of conv widths and ``"M"`` for max pooling.
      num_classes: output size.
      dropout_rate: dropout after each hidden dense layer.
    """

    config: tuple
    num_classes: int = 1000
    dropout_rate: float = DROPOUT_RATE

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """Returns logits ``(N, num_classes)``."""
        for item in self.config:
            if item == "M":
                x = ops.max_pool(x, 2)
            else:
                x = relu(jnn.Conv(item, 3, padding=1)(x))
        x = ops.flatten(ops.adaptive_avg_pool(x, (7, 7)))
        for _ in range(2):
            x = relu(jnn.Dense(VGG_HIDDEN)(x))
            x = jnn.Dropout(self.dropout_rate)(x, train=train)
        return jnn.Dense(self.num_classes)(x)
