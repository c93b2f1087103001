"""PLACEHOLDER: being written; replace this whole file."""

def adaptive_avg_pool(*args, **kwargs):
    raise NotImplementedError


def adaptive_max_pool(*args, **kwargs):
    raise NotImplementedError


def avg_pool(*args, **kwargs):
    raise NotImplementedError


def global_avg_pool(*args, **kwargs):
    raise NotImplementedError


def global_max_pool(*args, **kwargs):
    raise NotImplementedError


def lp_pool(*args, **kwargs):
    raise NotImplementedError


def max_pool(*args, **kwargs):
    raise NotImplementedError


def min_pool(*args, **kwargs):
    raise NotImplementedError


