"""Test-wide settings: strict dtype promotion and the hypothesis profiles.

Profiles (choose with ``HYPOTHESIS_PROFILE``; CI sets ``CI=true`` and gets ``ci``):

* ``ci``: deterministic (derandomised), 200 examples per property.
* ``dev``: deterministic, 25 examples, for quick local runs (the default off CI).
"""

import os

import jax
from hypothesis import HealthCheck, settings

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_enable_x64", False)

_COMMON = dict(
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("ci", max_examples=200, **_COMMON)
settings.register_profile("dev", max_examples=25, **_COMMON)
_default = "ci" if os.environ.get("CI") else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))
