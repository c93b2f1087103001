"""Pure CNN operations on NHWC activations and HWIO kernels.

Every function here is a pure function of arrays: it works under ``jax.jit``,
``jax.grad`` and ``jax.vmap``. See ``jaxcnn`` for the shape legend.
"""

from jaxcnn.ops.activations import (
    celu,
    elu,
    gelu,
    hard_sigmoid,
    hard_swish,
    leaky_relu,
    mish,
    prelu,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softplus,
    tanh,
)
from jaxcnn.ops.conv import conv, conv_transpose
from jaxcnn.ops.layers import batch_norm, dense, dropout, flatten, layer_norm
from jaxcnn.ops.pooling import (
    adaptive_avg_pool,
    adaptive_max_pool,
    avg_pool,
    global_avg_pool,
    global_max_pool,
    lp_pool,
    max_pool,
    min_pool,
)
from jaxcnn.ops.softmax import (
    log_softmax,
    sigmoid_binary_cross_entropy,
    softmax,
    softmax_cross_entropy,
)

__all__ = [
    "adaptive_avg_pool",
    "adaptive_max_pool",
    "avg_pool",
    "batch_norm",
    "celu",
    "conv",
    "conv_transpose",
    "dense",
    "dropout",
    "elu",
    "flatten",
    "gelu",
    "global_avg_pool",
    "global_max_pool",
    "hard_sigmoid",
    "hard_swish",
    "layer_norm",
    "leaky_relu",
    "log_softmax",
    "lp_pool",
    "max_pool",
    "min_pool",
    "mish",
    "prelu",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "sigmoid_binary_cross_entropy",
    "silu",
    "softmax",
    "softmax_cross_entropy",
    "softplus",
    "tanh",
]
