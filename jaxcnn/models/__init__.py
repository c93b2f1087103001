"""Classic CNN architectures as pure ``init`` / ``apply`` pairs.

``build(name, num_classes=...)`` returns a ``Model``; ``model.init(key, x)``
gives a plain pytree of variables and ``model.apply(variables, x, train=...,
rngs=...)`` runs the network (see ``Model``). Names and published sizes:

==============  ===========  ====================================
name            input        trainable parameters (1000 classes)
==============  ===========  ====================================
``lenet5``      32 x 32 x 1  61,706 (10 classes)
``alexnet``     224x224x3    61,100,840
``vgg11``       224x224x3    132,863,336
``vgg16``       224x224x3    138,357,544
``resnet18``    224x224x3    11,689,512
``resnet34``    224x224x3    21,797,672
``resnet50``    224x224x3    25,557,032
``googlenet``   224x224x3    6,624,904 (no auxiliary heads)
``simple_cnn``  any          depends on its settings
==============  ===========  ====================================
"""

from jaxcnn import _checks
from jaxcnn.models._base import Model, count_params
from jaxcnn.models.alexnet import AlexNet
from jaxcnn.models.cnn import SimpleCNN
from jaxcnn.models.googlenet import GoogLeNet
from jaxcnn.models.lenet import LeNet5
from jaxcnn.models.resnet import RESNET_STAGES, ResNet
from jaxcnn.models.vgg import VGG, VGG_CONFIGS

IMAGENET_SHAPE = (224, 224, 3)
IMAGENET_CLASSES = 1000


def _resnet(name):
    block, stages = RESNET_STAGES[name]
    return lambda num_classes, **kw: ResNet(block, stages, num_classes, **kw)


def _vgg(name):
    return lambda num_classes, **kw: VGG(VGG_CONFIGS[name], num_classes, **kw)


# name -> (module factory, published input shape, default number of classes)
ARCHITECTURES = {
    "lenet5": (LeNet5, (32, 32, 1), 10),
    "alexnet": (AlexNet, IMAGENET_SHAPE, IMAGENET_CLASSES),
    "vgg11": (_vgg("vgg11"), IMAGENET_SHAPE, IMAGENET_CLASSES),
    "vgg16": (_vgg("vgg16"), IMAGENET_SHAPE, IMAGENET_CLASSES),
    "resnet18": (_resnet("resnet18"), IMAGENET_SHAPE, IMAGENET_CLASSES),
    "resnet34": (_resnet("resnet34"), IMAGENET_SHAPE, IMAGENET_CLASSES),
    "resnet50": (_resnet("resnet50"), IMAGENET_SHAPE, IMAGENET_CLASSES),
    "googlenet": (GoogLeNet, IMAGENET_SHAPE, IMAGENET_CLASSES),
    "simple_cnn": (SimpleCNN, (28, 28, 1), 10),
}


def build(name: str, num_classes: int | None = None, **kwargs) -> Model:
    """Builds a registered architecture.

    Args:
      name: one of ``ARCHITECTURES`` (e.g. ``"resnet18"``).
      num_classes: output size; default the published one (1000, or 10 for
        ``lenet5`` and ``simple_cnn``).
      **kwargs: further settings of the Flax module (e.g. ``dropout_rate``,
        or ``stages`` for ``simple_cnn``).

    Returns:
      A ``Model`` (pure ``init`` / ``apply``).

    Raises:
      ValueError: for an unknown ``name`` or a ``num_classes`` below 1.
    """
    _checks.check_choice(name, "name", tuple(ARCHITECTURES))
    factory, input_shape, default_classes = ARCHITECTURES[name]
    num_classes = default_classes if num_classes is None else num_classes
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise TypeError(f"num_classes must be an int; got {num_classes!r}")
    _checks.check_positive((num_classes,), "num_classes")
    module = factory(num_classes=num_classes, **kwargs)
    return Model(name, module, input_shape)


__all__ = ["ARCHITECTURES", "Model", "build", "count_params"]
