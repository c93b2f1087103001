"""Comparison tolerances keyed by dtype, with the reason for each entry.

Use ``tol(dtype)`` to get ``dict(rtol=..., atol=...)`` for ``np.testing``. An
override in a test must say why next to it.
"""

import jax.numpy as jnp
import numpy as np

# dtype name -> (rtol, atol, reason)
TOLERANCES = {
    "float64": (1e-12, 1e-12, "NumPy references run in float64."),
    "float32": (
        1e-5,
        1e-5,
        "XLA reassociates sums (e.g. convolution accumulation order); a few ulps "
        "per term over windows of at most a few hundred terms.",
    ),
    "float16": (1e-2, 1e-2, "10-bit mantissa: relative spacing about 1e-3."),
    "bfloat16": (
        2e-2,
        2e-2,
        "8-bit mantissa: relative spacing 2**-7 = 7.8e-3; results are rounded once "
        "more on output, so allow about two ulps.",
    ),
}


def tol(dtype) -> dict:
    """Returns ``dict(rtol=..., atol=...)`` for comparing arrays of ``dtype``."""
    rtol, atol, _ = TOLERANCES[jnp.dtype(dtype).name]
    return dict(rtol=rtol, atol=atol)


def assert_close(actual, expected, dtype=None, **override) -> None:
    """Compares in float64 with the tolerance of ``dtype`` (default: actual's)."""
    dtype = dtype if dtype is not None else np.asarray(actual).dtype
    kw = tol(dtype) | override
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64), np.asarray(expected, np.float64), **kw
    )
