"""Resource addresses: typed, never bare strings in the engine.

``asr.replication_policy:acmecorp/AcmeCorp-Policy`` = kind ``asr.replication_policy``, scope ``acmecorp``
(a tenant or site ``metadata.name``: a DNS label, so it never holds ``/``), name ``AcmeCorp-Policy``
(the object's name as VMM or Azure shows it; may hold spaces and ``/``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_KIND_RE = re.compile(r"^[a-z]+\.[a-z_]+$")
_SHARD_RE = re.compile(r"^shard/(\d+)/(\d+)$")


def shard_of(scope: str, count: int) -> int:
    """The shard (0 to ``count`` - 1) a site's or tenant's resources belong to: the first 8 bytes of the SHA-256 of
    its name. Stable across processes, machines and versions (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(scope.encode("utf-8")).digest()[:8], "big") % count


def parse_shard(selector: str) -> tuple[int, int] | None:
    """``shard/I/N`` as (I, N) when it is one (0 <= I < N), else None."""
    found = _SHARD_RE.match(selector.strip())
    if found is None:
        return None
    index, count = int(found[1]), int(found[2])
    return (index, count) if 0 <= index < count else None


_GOOD_KINDS: set[str] = set()


@dataclass(frozen=True, slots=True, order=True)
class Address:
    kind: str
    scope: str
    name: str

    def __post_init__(self) -> None:
        if self.kind not in _GOOD_KINDS:  # tens of thousands of addresses share a handful of kinds
            if not _KIND_RE.match(self.kind):
                raise ValueError(f"bad resource kind {self.kind!r}")
            _GOOD_KINDS.add(self.kind)
        if not self.scope or "/" in self.scope:
            raise ValueError(f"bad scope {self.scope!r}")
        if not self.name:
            raise ValueError("empty resource name")

    def __str__(self) -> str:
        return f"{self.kind}:{self.scope}/{self.name}"

    @property
    def provider_family(self) -> str:
        """``asr``, ``azure``, ``vmm``, ``hyperv``, ``bmc`` or ``host``."""
        return self.kind.split(".", 1)[0]

    @classmethod
    def parse(cls, text: str) -> Address:
        """The inverse of ``str()``; raises ValueError with the expected form."""
        kind, sep, rest = text.partition(":")
        scope, sep2, name = rest.partition("/")
        if not sep or not sep2:
            raise ValueError(f"{text!r} is not an address like kind:scope/name (vmm.cloud:acmecorp/AcmeCorp Cloud)")
        return cls(kind, scope, name)

    def matches(self, selector: str) -> bool:
        """Does ``selector`` pick this address? A full address, ``tenant/NAME`` or ``site/NAME`` (a scope),
        ``shard/I/N`` (every scope hashing to shard I of N: :func:`shard_of`), a kind (``asr.protected_item``), or
        a kind family (``asr``). Case-insensitive names."""
        sel = selector.strip()
        if ":" in sel:
            try:
                other = Address.parse(sel)
            except ValueError:
                return False
            return other.kind == self.kind and other.scope == self.scope and other.name.lower() == self.name.lower()
        if sel.startswith("shard/"):  # shard/I/N: the scopes whose name hashes to shard I of N
            shard = parse_shard(sel)
            return shard is not None and shard_of(self.scope, shard[1]) == shard[0]
        if sel.startswith(("tenant/", "site/", "scope/")):
            return self.scope == sel.split("/", 1)[1]
        return sel in (self.kind, self.provider_family)
