"""Case-insensitive name lookup, as VMM and Azure compare names."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.spec.errors import did_you_mean


class Names:
    """A set of names compared case-insensitively, with a did-you-mean for misses."""

    def __init__(self, names: Iterable[str]) -> None:
        self._names = list(names)
        self._lower = {n.lower() for n in self._names}

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lower

    def hint(self, name: str, what: str) -> str:
        """A fix for a name that is not in the set."""
        guess = did_you_mean(name, self._names)
        if guess:
            return f"did you mean {guess!r}?"
        if self._names:
            return f"known {what}: {', '.join(sorted(self._names))}"
        return f"define the {what} first"
