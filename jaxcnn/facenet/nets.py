"""The FaceNet embedding networks as pure ``init`` / ``apply`` pairs.

Each architecture is a Flax Linen module; its variables are a plain dict
``{"params": ..., "batch_stats": ...}``, so ``jax.jit``, ``jax.grad`` and
orbax work on them unchanged. The helpers here pick a network by name and wrap
the two calls every user needs:

>>> model = create("small", embedding_dim=16)
>>> variables = init(model, jax.random.key(0), (28, 28, 1))
>>> embed(model, variables, jnp.zeros((2, 28, 28, 1))).shape
(2, 16)

For training, call ``model.apply(variables, x, train=True,
mutable=["batch_stats"], rngs={"dropout": key})``.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxcnn import _checks
from jaxcnn.facenet.inception_resnet_v1 import InceptionResnetV1
from jaxcnn.facenet.nn2 import NN2
from jaxcnn.facenet.small import SmallEmbeddingNet

#: Architecture name -> (module class, default input size in pixels).
ARCHITECTURES = {
    "inception_resnet_v1": (InceptionResnetV1, 160),
    "nn2": (NN2, 224),
    "small": (SmallEmbeddingNet, 64),
}


def create(arch: str, **kwargs) -> nn.Module:
    """Returns the module for ``arch`` (a key of :data:`ARCHITECTURES`)."""
    _checks.check_choice(arch, "arch", tuple(ARCHITECTURES))
    return ARCHITECTURES[arch][0](**kwargs)


def default_image_size(arch: str) -> int:
    """The input height and width the architecture was designed for."""
    _checks.check_choice(arch, "arch", tuple(ARCHITECTURES))
    return ARCHITECTURES[arch][1]


def init(model: nn.Module, key, image_shape) -> dict:
    """Initialises ``model``'s variables for images of shape ``(H, W, C)``.

    Returns:
      ``{"params": ..., "batch_stats": ...}`` (a plain dict of arrays).
    """
    shape = _checks.as_tuple(image_shape, 3, "image_shape")
    _checks.check_positive(shape, "image_shape")
    x = jnp.zeros((1, *shape), jnp.float32)
    variables = jax.jit(model.init)(key, x)
    return jax.tree_util.tree_map(lambda a: a, dict(variables))


def embed(model: nn.Module, variables, images):
    """Embeddings of ``images`` ``(N, H, W, C)`` in inference mode.

    Uses the running batch-norm statistics and no dropout. Pure; wrap it in
    ``jax.jit`` as needed.

    Returns:
      ``(N, E)`` embeddings.
    """
    _checks.check_rank(images, "images", 4, "(N, H, W, C)")
    _checks.check_floating(images, "images")
    return model.apply(variables, images, train=False)
