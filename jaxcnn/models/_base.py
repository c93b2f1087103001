"""The ``Model`` wrapper: a Flax module as a pure ``init`` / ``apply`` pair."""

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxcnn import _checks


@dataclasses.dataclass(frozen=True)
class Model:
    """A network as two pure functions over a plain pytree of variables.

    ``variables`` is a dict ``{"params": ..., "batch_stats": ...}`` of nested
    dicts of arrays (``batch_stats`` only for networks with batch norm), so
    ``jit``, ``grad``, shardings and orbax work on it unchanged.

    Attributes:
      name: the registry name (e.g. ``"resnet18"``).
      module: the Flax Linen module underneath; its ``__call__`` takes
        ``(x, *, train)``.
      input_shape: the ``(H, W, C)`` the network was published for, used by
        ``num_params`` and as a default example input.
    """

    name: str
    module: nn.Module
    input_shape: tuple[int, int, int]

    def init(self, key: jax.Array, x: jax.Array) -> dict:
        """Creates the variables for inputs shaped like ``x`` ``(N, H, W, C)``.

        Args:
          key: a PRNG key.
          x: an example input batch (only its shape and dtype matter).

        Returns:
          The variables, a plain nested dict of arrays.
        """
        _checks.check_rank(x, "x", 4, "(N, H, W, C)")
        _checks.check_floating(x, "x")
        pkey, dkey = jax.random.split(key)
        variables = self.module.init({"params": pkey, "dropout": dkey}, x, train=False)
        return _plain(variables)

    def apply(self, variables: dict, x: jax.Array, *, train: bool = False, rngs=None):
        """Runs the network.

        Args:
          variables: from ``init`` (or a checkpoint).
          x: ``(N, H, W, C)`` floating images.
          train: training mode: batch statistics in batch norm, dropout on.
          rngs: ``{"dropout": key}`` when ``train`` and the network has dropout.

        Returns:
          If ``train`` is False, the logits ``(N, K)``. If ``train`` is True,
          ``(logits, model_state)`` where ``model_state`` holds the updated
          non-parameter collections (``{"batch_stats": ...}``; ``{}`` if none).
        """
        _checks.check_rank(x, "x", 4, "(N, H, W, C)")
        _checks.check_floating(x, "x")
        if not isinstance(train, bool):
            raise TypeError(f"train must be a bool; got {train!r}")
        if not train:
            return self.module.apply(variables, x, train=False, rngs=rngs)
        mutable = [k for k in variables if k != "params"]
        logits, state = self.module.apply(
            variables, x, train=True, rngs=rngs, mutable=mutable
        )
        return logits, _plain(state)

    def variable_shapes(self, input_shape=None) -> dict:
        """The variables' ``ShapeDtypeStruct`` tree, without allocating them."""
        shape = tuple(input_shape or self.input_shape)
        x = jax.ShapeDtypeStruct((1, *shape), jnp.float32)
        return jax.eval_shape(self.init, jax.random.key(0), x)

    def num_params(self, input_shape=None) -> int:
        """The number of trainable parameters (batch statistics not counted)."""
        return count_params(self.variable_shapes(input_shape)["params"])


def count_params(tree) -> int:
    """The total number of elements over a pytree's array leaves."""
    leaves = jax.tree_util.tree_leaves(tree)
    if not all(hasattr(leaf, "shape") for leaf in leaves):
        raise TypeError(f"tree must be a pytree of arrays; got {tree!r:.80}")
    return sum(math.prod(leaf.shape) for leaf in leaves)


def _plain(tree):
    """Converts Flax FrozenDicts (if any) to plain nested dicts."""
    if hasattr(tree, "items"):
        return {k: _plain(v) for k, v in tree.items()}
    return tree
