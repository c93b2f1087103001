"""``jax.jit`` with the XLA options jaxcnn's compiled programs use, and ``unfused``.

On CPU, recent XLA versions hand many convolutions to YNNPACK fusions
(``ynn_fusion`` in the compiled HLO). Here (jax 0.10, two x86 cores) those run
on a single thread and at half the per-core speed of XLA's Eigen convolution,
which uses every core: P-Net's 3x3 convolution from 16 to 32 channels over a
320 x 704 canvas took 10.7 ms as a YNNPACK fusion and 3.1 ms as an Eigen
convolution (``benchmarks/ops.py`` measures it). ``jit`` compiles with that
fusion switched off, per program, so a user's other programs and the process
environment are left as they were. Without ``jaxcnn`` the same holds for a
whole process with ``XLA_FLAGS=--xla_cpu_experimental_ynn_fusion_type=``.

The option only affects the CPU backend. A jax that does not know it (older
versions) compiles without it. JAX accepts compiler options on top-level
programs only: called inside another transformation (an outer ``jit``,
``grad``, ``scan``, ...), a function from ``jit`` is a plain ``jax.jit`` one,
inlined into the outer program as usual.

``unfused(fun, *args)`` keeps a computation out of XLA's fusions, for the
rare producer that runs slower fused into its consumer (MTCNN's pyramid
gather, fused into a space-to-depth transpose: 2.7x slower on CPU).
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

# The empty list of fusion kinds: no YNNPACK fusion at all.
CPU_COMPILER_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}


@functools.cache
def compiler_options() -> dict:
    """Returns ``CPU_COMPILER_OPTIONS`` if this jax accepts them, else ``{}``."""
    try:
        jax.jit(lambda: 0, compiler_options=CPU_COMPILER_OPTIONS).lower().compile()
    except TypeError:  # a jax.jit without compiler_options (jax < 0.4.31)
        return {}
    except RuntimeError:  # XLA: "No such compile option"
        return {}
    return dict(CPU_COMPILER_OPTIONS)


def _has_tracer(tree) -> bool:
    leaves = jax.tree_util.tree_leaves(tree)
    return any(isinstance(leaf, jax.core.Tracer) for leaf in leaves)


class _Jit:
    """``jax.jit(fun, ...)`` built on first use, with ``compiler_options()``.

    Built lazily so that importing jaxcnn does not start a JAX backend.
    Attributes (``lower``, ``trace``, ...) are those of the jitted function.
    """

    def __init__(self, fun, kwargs):
        functools.update_wrapper(self, fun)
        self._fun, self._kwargs = fun, kwargs
        self._jitted = self._plain = None

    def _get(self):
        if self._jitted is None:
            options = compiler_options()
            extra = {"compiler_options": options} if options else {}
            self._jitted = jax.jit(self._fun, **extra, **self._kwargs)
        return self._jitted

    def _get_plain(self):
        if self._plain is None:
            self._plain = jax.jit(self._fun, **self._kwargs)
        return self._plain

    def __call__(self, *args, **kwargs):
        if _has_tracer((args, kwargs)):  # inside another transformation
            return self._get_plain()(*args, **kwargs)
        try:
            return self._get()(*args, **kwargs)
        except ValueError as error:  # traced, but with constant arguments only
            if "top-level" not in str(error):
                raise
            return self._get_plain()(*args, **kwargs)

    def __getattr__(self, name):
        if name.startswith("__") or name in ("_fun", "_kwargs", "_jitted", "_plain"):
            raise AttributeError(name)
        return getattr(self._get(), name)


def jit(fun=None, **kwargs):
    """``jax.jit`` with ``compiler_options()``; usable as a decorator.

    Args:
      fun: the function to compile; omitted, returns a decorator.
      **kwargs: any other ``jax.jit`` argument (``static_argnames``, shardings,
        ``donate_argnums``, ...), except ``compiler_options``.

    Returns:
      the compiled function (``jax.jit``'s attributes, such as ``lower``,
      are available on it).

    Raises:
      TypeError: if ``fun`` is not callable or ``compiler_options`` is given.

    Example:
      >>> import jax.numpy as jnp
      >>> double = jit(lambda x: 2 * x)
      >>> double(jnp.ones(2))
      Array([2., 2.], dtype=float32)
    """
    if "compiler_options" in kwargs:
        raise TypeError(
            "jaxcnn.xla.jit sets compiler_options itself; use jax.jit to give your own"
        )
    if fun is None:
        return functools.partial(jit, **kwargs)
    if not callable(fun):
        raise TypeError(f"fun must be callable; got {type(fun).__name__}")
    return _Jit(fun, kwargs)


def unfused(fun, *args):
    """Calls ``fun(*args)`` as a computation of its own inside a traced program.

    XLA fuses no operation of ``fun`` with the operations around it: the call
    is a ``lax.cond`` whose two branches are both ``fun``, so the result is
    ``fun(*args)`` whichever way its predicate goes. The predicate is a
    constant behind ``lax.optimization_barrier``, which XLA does not fold; a
    predicate computed from the arguments could be folded (the first element
    of an integral image is a known 0), and the conditional with it. A hint
    for speed only: where fusing an expensive producer into its consumer
    makes the producer slower (a gather fused into a transpose, say).

    Args:
      fun: a function of arrays.
      *args: its arguments, pytrees of arrays.

    Returns:
      ``fun(*args)``.
    """
    predicate = lax.optimization_barrier(jnp.asarray(True))
    return lax.cond(predicate, fun, fun, *args)
