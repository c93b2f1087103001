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

import dataclasses
import json
import os

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxcnn import _checks
from jaxcnn.facenet import convert
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


def save_model(
    path, model: nn.Module, variables, image_size: int, channels: int = 3
) -> None:
    """Writes an embedding network's variables and description to ``.npz``.

    Besides the arrays, the file holds what :func:`load_model` needs to rebuild
    ``model``: its architecture name, constructor fields and input shape.
    """
    arch = _arch_of(model)
    fields = {
        f.name: getattr(model, f.name)
        for f in dataclasses.fields(model)
        if f.name not in ("parent", "name")
    }
    fields = {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}
    convert.save_npz(
        path,
        variables,
        arch=arch,
        config=json.dumps(fields),
        image_size=image_size,
        channels=channels,
    )


def _arch_of(model: nn.Module) -> str:
    for arch, (cls, _) in ARCHITECTURES.items():
        if type(model) is cls:
            return arch
    raise TypeError(f"model must be one of {tuple(ARCHITECTURES)}; got {model!r}")


def load_model(path) -> tuple[nn.Module, dict, int]:
    """Loads an embedding network from a weights file.

    * ``.pt`` / ``.pth``: a facenet-pytorch ``InceptionResnetV1`` state dict,
      read with ``torch.load(weights_only=True)`` (needs the ``torch`` extra).
    * ``.npz``: a file from :func:`save_model` (architecture in ``meta/arch``,
      constructor fields as JSON in ``meta/config``, input size in
      ``meta/image_size``); without ``meta/arch`` it must hold
      Inception-ResNet-v1 variables.

    Returns:
      ``(model, variables, image_size)``.

    Raises:
      FileNotFoundError: if ``path`` is missing.
      ValueError: for an unknown suffix, or weights that do not fit the model
        (missing, unexpected or mis-shaped entries are named).
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix in (".pt", ".pth"):
        variables = convert.from_facenet_pytorch(convert.load_torch_state_dict(path))
        meta: dict[str, str] = {}
    elif suffix == ".npz":
        variables, meta = convert.load_npz(path)
    else:
        raise ValueError(f"weights must be a .pt, .pth or .npz file; got {path!r}")
    arch = meta.get("arch", "inception_resnet_v1")
    kwargs = json.loads(meta.get("config", "{}"))
    model = create(
        arch, **{k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    )
    size = int(meta.get("image_size", default_image_size(arch)))
    channels = int(meta.get("channels", 3))
    x = jnp.zeros((1, size, size, channels), jnp.float32)
    expected = jax.eval_shape(model.init, jax.random.key(0), x)
    convert.check_variables(variables, expected, name=f"weights in {path}")
    return model, variables, size
