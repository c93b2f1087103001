"""Flax Linen layers whose forward passes call ``jaxcnn.ops``.

The layers own parameters (and, for ``BatchNorm``, running statistics in the
``batch_stats`` collection); the arithmetic is the pure functions of
``jaxcnn.ops``, so a model built from them computes exactly what the tested ops
compute. Layouts follow the legend in ``jaxcnn`` (NHWC activations, HWIO
kernels). Initialisers default to PyTorch's (He et al., 2015, "Delving Deep into
Rectifiers", uniform with gain sqrt(1/3)), so networks train like their usual
PyTorch counterparts.
"""

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxcnn import _checks, ops

# PyTorch's default Conv/Linear initialisation draws weights from
# U(-sqrt(1 / fan_in), sqrt(1 / fan_in)) (kaiming_uniform_ with a = sqrt(5)).
torch_default_kernel_init = nn.initializers.variance_scaling(
    1.0 / 3.0, "fan_in", "uniform"
)


def torch_default_bias_init(fan_in: int) -> Callable:
    """PyTorch's default bias init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / max(fan_in, 1) ** 0.5

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


class Conv(nn.Module):
    """2-D convolution with a learned ``(kH, kW, C / groups, features)`` kernel.

    Attributes:
      features: output channels ``O``.
      kernel_size: ``(kH, kW)`` or an int.
      strides: an int or ``(sH, sW)``.
      padding: any padding form ``jaxcnn.ops.conv`` accepts (default ``'SAME'``).
      dilation: kernel dilation.
      feature_group_count: groups; ``C`` and ``O`` must divide by it.
      use_bias: add a learned ``(O,)`` bias.
      kernel_init: initialiser for the kernel (default PyTorch's).
      bias_init: initialiser for the bias (default PyTorch's, from fan-in).
    """

    features: int
    kernel_size: int | Sequence[int]
    strides: int | Sequence[int] = 1
    padding: str | int | Sequence = "SAME"
    dilation: int | Sequence[int] = 1
    feature_group_count: int = 1
    use_bias: bool = True
    kernel_init: Callable = torch_default_kernel_init
    bias_init: Callable | None = None

    @nn.compact
    def __call__(self, x):
        """Applies the convolution: ``(N, H, W, C)`` -> ``(N, H', W', O)``."""
        _checks.check_rank(x, "x", 4, "(N, H, W, C)")
        kh, kw = _checks.as_tuple(self.kernel_size, 2, "kernel_size")
        cin = x.shape[-1] // self.feature_group_count
        kernel = self.param(
            "kernel", self.kernel_init, (kh, kw, cin, self.features), x.dtype
        )
        bias = None
        if self.use_bias:
            init = self.bias_init or torch_default_bias_init(kh * kw * cin)
            bias = self.param("bias", init, (self.features,), x.dtype)
        return ops.conv(
            x,
            kernel,
            bias,
            strides=self.strides,
            padding=self.padding,
            dilation=self.dilation,
            feature_group_count=self.feature_group_count,
        )


class Dense(nn.Module):
    """Fully connected layer ``y = x @ kernel + bias`` with ``kernel (I, O)``.

    Attributes:
      features: output size ``O``.
      use_bias: add a learned ``(O,)`` bias.
      kernel_init: initialiser for the kernel (default PyTorch's).
      bias_init: initialiser for the bias (default PyTorch's, from fan-in).
    """

    features: int
    use_bias: bool = True
    kernel_init: Callable = torch_default_kernel_init
    bias_init: Callable | None = None

    @nn.compact
    def __call__(self, x):
        """Applies the layer: ``(..., I)`` -> ``(..., O)``."""
        fan_in = x.shape[-1]
        kernel = self.param(
            "kernel", self.kernel_init, (fan_in, self.features), x.dtype
        )
        bias = None
        if self.use_bias:
            init = self.bias_init or torch_default_bias_init(fan_in)
            bias = self.param("bias", init, (self.features,), x.dtype)
        return ops.dense(x, kernel, bias)


class BatchNorm(nn.Module):
    """Batch normalisation over all axes but the last (Ioffe and Szegedy, 2015).

    Parameters ``scale`` and ``bias`` are trainable; the running ``mean`` and
    ``var`` live in the ``batch_stats`` collection and are updated (with the
    momentum convention of ``jaxcnn.ops.batch_norm``) only when ``train`` is
    True and the collection is mutable.

    Attributes:
      momentum: weight of the old running statistics (0.9 = PyTorch's 0.1).
      eps: added to the variance.
      use_scale: learn ``scale`` (gamma).
      use_bias: learn ``bias`` (beta).
      scale_init: initialiser of ``scale`` (default ones; zeros gives the
        "zero-init last BN" trick of residual networks).
    """

    momentum: float = 0.9
    eps: float = 1e-5
    use_scale: bool = True
    use_bias: bool = True
    scale_init: Callable = nn.initializers.ones

    @nn.compact
    def __call__(self, x, *, train: bool):
        """Normalises ``x`` ``(..., C)``; batch statistics when ``train``."""
        c = x.shape[-1]
        scale = (
            self.param("scale", self.scale_init, (c,), x.dtype)
            if self.use_scale
            else None
        )
        bias = (
            self.param("bias", nn.initializers.zeros, (c,), x.dtype)
            if self.use_bias
            else None
        )
        mean = self.variable("batch_stats", "mean", jnp.zeros, (c,), jnp.float32)
        var = self.variable("batch_stats", "var", jnp.ones, (c,), jnp.float32)
        y, (new_mean, new_var) = ops.batch_norm(
            x,
            scale,
            bias,
            mean.value,
            var.value,
            training=bool(train),
            momentum=self.momentum,
            eps=self.eps,
        )
        if (
            train
            and not self.is_initializing()
            and self.is_mutable_collection("batch_stats")
        ):
            mean.value, var.value = new_mean, new_var
        return y


class Dropout(nn.Module):
    """Inverted dropout: zeroes each value with probability ``rate`` in training.

    Draws its key from the ``dropout`` RNG stream (``rngs={'dropout': key}``).

    Attributes:
      rate: drop probability in ``[0, 1]``.
    """

    rate: float

    @nn.compact
    def __call__(self, x, *, train: bool):
        """Returns ``x`` unchanged unless ``train``; same shape and dtype."""
        if not train or self.rate == 0.0:
            return x
        return ops.dropout(self.make_rng("dropout"), x, self.rate)
