"""Cross-field and cross-document rules, run on documents that passed their schema.

Each module holds one family of rules; each rule yields diagnostics with a stable code (listed in
docs/validation.md) and is covered by a fixture in tests/fixtures/validate/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from reconciler.core.diagnostics import Diagnostic
from reconciler.spec.loader import SpecSet
from reconciler.spec.rules import hostnames, memory, networks, power, recovery, references, tenancy, uniqueness

Rule = Callable[[SpecSet], Iterable[Diagnostic]]

RULES: tuple[Rule, ...] = (
    uniqueness.check,
    hostnames.check,
    references.check,
    tenancy.check,
    recovery.check,
    networks.check,
    memory.check,
    power.check,
)


def check(specs: SpecSet) -> list[Diagnostic]:
    """Every rule over the whole set."""
    out: list[Diagnostic] = []
    for rule in RULES:
        out.extend(rule(specs))
    return out
