"""The one way a backend is switched on: ``RECONCILER_<NAME>=on`` (or ``off``, the default, which leaves its
kinds to the embedded estate). Every backend's settings read their switch through :func:`backend_on`, so they
accept the same words and refuse the same typos with the same message."""

from __future__ import annotations

from collections.abc import Mapping

ON = frozenset({"1", "on", "true", "yes"})
OFF = frozenset({"", "0", "off", "false", "no", "embedded"})


def backend_on(env: Mapping[str, str], variable: str, *, error: type[ValueError], alias: str = "") -> bool:
    """Whether ``variable`` turns the backend on; ``alias`` is one more word for on (``azure``, ``vsphere``).
    Anything else raises ``error`` naming the variable and the words it takes."""
    raw = env.get(variable, "")
    word = raw.strip().casefold()
    if word in OFF:
        return False
    if word in ON or (alias and word == alias):
        return True
    raise error(f"{variable}={raw!r}: use on or off")
