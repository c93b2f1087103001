"""Naive NumPy references (oracles) for the JAX ops; imported by tests only.

Each reference is built differently from the op it checks: convolution as
explicit tile extraction and loops over filters, pooling as loops over windows,
softmax in float64. They are slow on purpose and favour obviousness over speed.
"""
