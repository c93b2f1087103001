"""Residual networks ResNet-18, ResNet-34 and ResNet-50.

He, Zhang, Ren and Sun, 2016, "Deep Residual Learning for Image Recognition",
Table 1.

ResNet-18/34 stack basic blocks (two 3x3 convs), ResNet-50 bottleneck blocks
(1x1, 3x3, 1x1 with expansion 4). Every conv is followed by batch norm and has
no bias; a 1x1 projection with batch norm matches shapes where a stage changes
resolution or width (option B of Section 3.3). The stride of a bottleneck sits
on its 3x3 conv, as in torchvision ("ResNet v1.5"). At 1000 classes:
ResNet-18 11,689,512, ResNet-34 21,797,672 and ResNet-50 25,557,032 trainable
parameters (batch-norm scale and bias included, running statistics not).
"""

import flax.linen as nn

from jaxcnn import nn as jnn
from jaxcnn import ops
from jaxcnn.models._common import relu

# Blocks per stage, Table 1.
RESNET_STAGES = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
}
STAGE_WIDTHS = (64, 128, 256, 512)
BOTTLENECK_EXPANSION = 4
# He et al. (2015) normal init on fan-out for convs, as torchvision uses.
he_fan_out = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


def _conv_bn(x, features, kernel, strides, train, *, relu_after=True):
    x = jnn.Conv(
        features,
        kernel,
        strides=strides,
        padding=kernel // 2,
        use_bias=False,
        kernel_init=he_fan_out,
    )(x)
    x = jnn.BatchNorm()(x, train=train)
    return relu(x) if relu_after else x


def _shortcut(x, features, strides, train):
    if strides == 1 and x.shape[-1] == features:
        return x
    return _conv_bn(x, features, 1, strides, train, relu_after=False)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers plus the shortcut."""

    features: int
    strides: int = 1

    @nn.compact
    def __call__(self, x, *, train: bool):
        """``(N, H, W, C)`` -> ``(N, H / s, W / s, features)``."""
        y = _conv_bn(x, self.features, 3, self.strides, train)
        y = _conv_bn(y, self.features, 3, 1, train, relu_after=False)
        return relu(y + _shortcut(x, self.features, self.strides, train))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand by 4, plus the shortcut."""

    features: int
    strides: int = 1

    @nn.compact
    def __call__(self, x, *, train: bool):
        """``(N, H, W, C)`` -> ``(N, H / s, W / s, 4 features)``."""
        out = self.features * BOTTLENECK_EXPANSION
        y = _conv_bn(x, self.features, 1, 1, train)
        y = _conv_bn(y, self.features, 3, self.strides, train)
        y = _conv_bn(y, out, 1, 1, train, relu_after=False)
        return relu(y + _shortcut(x, out, self.strides, train))


class ResNet(nn.Module):
    """ResNet on ``(N, 224, 224, 3)`` (any size >= 32 works).

    Attributes:
      block: ``"basic"`` or ``"bottleneck"``.
      stage_sizes: blocks in each of the four stages.
      num_classes: output size.
    """

    block: str
    stage_sizes: tuple[int, ...]
    num_classes: int = 1000

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """Returns logits ``(N, num_classes)``."""
        block = BasicBlock if self.block == "basic" else Bottleneck
        x = _conv_bn(x, 64, 7, 2, train)
        x = ops.max_pool(x, 3, 2, padding=1)
        for stage, (width, blocks) in enumerate(
            zip(STAGE_WIDTHS, self.stage_sizes, strict=True)
        ):
            for i in range(blocks):
                strides = 2 if stage > 0 and i == 0 else 1
                x = block(width, strides)(x, train=train)
        x = ops.global_avg_pool(x)
        return jnn.Dense(self.num_classes)(x)
