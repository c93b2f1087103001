"""LeNet-5.

LeCun, Bottou, Bengio and Haffner, 1998, "Gradient-Based Learning Applied to
Document Recognition", Section II-B.

C1 conv 5x5 -> 6, S2 2x2 subsampling, C3 conv 5x5 -> 16, S4 2x2 subsampling, C5
conv 5x5 -> 120, F6 dense 84, then the output layer, on 32 x 32 x 1 inputs.

Differences from the paper, kept small on purpose: C3 connects every S2 map to
every C3 map (the paper's Table I uses a sparse connection scheme), S2 and S4
are plain 2x2 average pooling (the paper's subsampling units also have a
trainable coefficient and bias each), and the output is a dense layer with
softmax instead of Euclidean RBF units. With these choices the network has
61,706 trainable parameters for 10 classes.
"""

import flax.linen as nn

from jaxcnn import nn as jnn
from jaxcnn import ops

# The paper's squashing function f(a) = A tanh(S a), Appendix A.
TANH_AMPLITUDE = 1.7159
TANH_SLOPE = 2.0 / 3.0


def scaled_tanh(x):
    """LeCun's ``1.7159 tanh(2/3 x)``."""
    return TANH_AMPLITUDE * ops.tanh(TANH_SLOPE * x)


class LeNet5(nn.Module):
    """LeNet-5 with full C3 connections; input ``(N, 32, 32, C)``.

    Attributes:
      num_classes: output size.
    """

    num_classes: int = 10

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """Returns logits ``(N, num_classes)``."""
        del train  # no dropout or batch norm
        x = scaled_tanh(jnn.Conv(6, 5, padding="VALID", name="c1")(x))
        x = ops.avg_pool(x, 2)
        x = scaled_tanh(jnn.Conv(16, 5, padding="VALID", name="c3")(x))
        x = ops.avg_pool(x, 2)
        x = scaled_tanh(jnn.Conv(120, 5, padding="VALID", name="c5")(x))
        x = ops.flatten(x)
        x = scaled_tanh(jnn.Dense(84, name="f6")(x))
        return jnn.Dense(self.num_classes, name="output")(x)
