"""PLACEHOLDER: being written; replace this whole file."""

def celu(*args, **kwargs):
    raise NotImplementedError


def elu(*args, **kwargs):
    raise NotImplementedError


def gelu(*args, **kwargs):
    raise NotImplementedError


def hard_sigmoid(*args, **kwargs):
    raise NotImplementedError


def hard_swish(*args, **kwargs):
    raise NotImplementedError


def leaky_relu(*args, **kwargs):
    raise NotImplementedError


def mish(*args, **kwargs):
    raise NotImplementedError


def prelu(*args, **kwargs):
    raise NotImplementedError


def relu(*args, **kwargs):
    raise NotImplementedError


def relu6(*args, **kwargs):
    raise NotImplementedError


def selu(*args, **kwargs):
    raise NotImplementedError


def sigmoid(*args, **kwargs):
    raise NotImplementedError


def silu(*args, **kwargs):
    raise NotImplementedError


def softplus(*args, **kwargs):
    raise NotImplementedError


def tanh(*args, **kwargs):
    raise NotImplementedError


