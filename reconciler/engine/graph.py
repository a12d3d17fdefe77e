"""Dependency graph of changes: which must finish before which, and what a failure blocks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reconciler.core.addresses import Address
from reconciler.core.changes import ResourceChange


class Graph:
    """Edges from each change to the changes it waits for (only among the changes given)."""

    def __init__(self, changes: Sequence[ResourceChange]) -> None:
        self.nodes = {c.address: c for c in changes}
        self.waits_for: dict[Address, set[Address]] = {
            c.address: {d for d in c.depends_on if d in self.nodes} for c in changes
        }
        self.dependents: dict[Address, set[Address]] = {a: set() for a in self.nodes}
        for a, deps in self.waits_for.items():
            for d in deps:
                self.dependents[d].add(a)

    def downstream(self, roots: Iterable[Address]) -> set[Address]:
        """Everything that depends, directly or not, on ``roots`` (roots excluded)."""
        out: set[Address] = set()
        stack = list(roots)
        while stack:
            for d in self.dependents.get(stack.pop(), ()):
                if d not in out:
                    out.add(d)
                    stack.append(d)
        return out

    def cycle(self) -> list[Address] | None:
        """The changes that can never start because they wait, directly or not, on a dependency cycle (the
        cycle's members among them), in address order; None when every change can be ordered. Linear."""
        waiting = {a: len(deps) for a, deps in self.waits_for.items()}
        ready = [a for a, n in waiting.items() if n == 0]
        while ready:
            for d in self.dependents[ready.pop()]:
                waiting[d] -= 1
                if waiting[d] == 0:
                    ready.append(d)
        stuck = sorted(a for a, n in waiting.items() if n > 0)
        return stuck or None
