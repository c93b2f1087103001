"""GoogLeNet / Inception v1 without the auxiliary classifiers.

Szegedy et al., 2015, "Going Deeper with Convolutions", Table 1.

Every conv is conv (no bias) + batch norm (eps 0.001) + ReLU, and max pools
round up (ceil mode), as in torchvision's GoogLeNet. Like torchvision, the
"5x5" branch of each inception module uses a 3x3 kernel; the published
parameter count of 6,624,904 (1000 classes) is for that network. Pass
``five_by_five=True`` for the paper's 5x5 kernels (7,005,832 parameters).
"""

import flax.linen as nn
import jax.numpy as jnp

from jaxcnn import nn as jnn
from jaxcnn import ops
from jaxcnn.models._common import relu

# Table 1: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj); None = pool.
INCEPTION_LAYERS = (
    ("3a", (64, 96, 128, 16, 32, 32)),
    ("3b", (128, 128, 192, 32, 96, 64)),
    None,
    ("4a", (192, 96, 208, 16, 48, 64)),
    ("4b", (160, 112, 224, 24, 64, 64)),
    ("4c", (128, 128, 256, 24, 64, 64)),
    ("4d", (112, 144, 288, 32, 64, 64)),
    ("4e", (256, 160, 320, 32, 128, 128)),
    "pool2",
    ("5a", (256, 160, 320, 32, 128, 128)),
    ("5b", (384, 192, 384, 48, 128, 128)),
)
BN_EPS = 1e-3
DROPOUT_RATE = 0.2  # torchvision; the paper uses 0.4 (Table 1)


class ConvBN(nn.Module):
    """Conv (no bias), batch norm, ReLU."""

    features: int
    kernel: int
    strides: int = 1

    @nn.compact
    def __call__(self, x, *, train: bool):
        """Applies conv-BN-ReLU with 'same'-style padding ``kernel // 2``."""
        x = jnn.Conv(
            self.features,
            self.kernel,
            strides=self.strides,
            padding=self.kernel // 2,
            use_bias=False,
        )(x)
        return relu(jnn.BatchNorm(eps=BN_EPS)(x, train=train))


class Inception(nn.Module):
    """Four parallel branches concatenated on channels (paper Figure 2b)."""

    widths: tuple[int, int, int, int, int, int]
    five_by_five: bool = False

    @nn.compact
    def __call__(self, x, *, train: bool):
        """``(N, H, W, C)`` -> ``(N, H, W, sum of branch widths)``."""
        c1, r3, c3, r5, c5, pp = self.widths
        b1 = ConvBN(c1, 1)(x, train=train)
        b2 = ConvBN(c3, 3)(ConvBN(r3, 1)(x, train=train), train=train)
        k5 = 5 if self.five_by_five else 3
        b3 = ConvBN(c5, k5)(ConvBN(r5, 1)(x, train=train), train=train)
        pooled = ops.max_pool(x, 3, 1, padding=1, ceil_mode=True)
        b4 = ConvBN(pp, 1)(pooled, train=train)
        return jnp.concatenate((b1, b2, b3, b4), axis=-1)


class GoogLeNet(nn.Module):
    """GoogLeNet on ``(N, 224, 224, 3)``.

    Attributes:
      num_classes: output size.
      five_by_five: use the paper's 5x5 kernels instead of torchvision's 3x3.
      dropout_rate: dropout before the classifier.
    """

    num_classes: int = 1000
    five_by_five: bool = False
    dropout_rate: float = DROPOUT_RATE

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """Returns logits ``(N, num_classes)``."""
        x = ConvBN(64, 7, 2)(x, train=train)
        x = ops.max_pool(x, 3, 2, ceil_mode=True)
        x = ConvBN(64, 1)(x, train=train)
        x = ConvBN(192, 3)(x, train=train)
        x = ops.max_pool(x, 3, 2, ceil_mode=True)
        for layer in INCEPTION_LAYERS:
            if layer is None:
                x = ops.max_pool(x, 3, 2, ceil_mode=True)
            elif layer == "pool2":
                x = ops.max_pool(x, 2, 2, ceil_mode=True)
            else:
                x = Inception(layer[1], self.five_by_five, name=f"inception{layer[0]}")(
                    x, train=train
                )
        x = ops.global_avg_pool(x)
        x = jnn.Dropout(self.dropout_rate)(x, train=train)
        return jnn.Dense(self.num_classes)(x)
