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

    def ready(self, done: set[Address]) -> list[Address]:
        """Nodes not yet done whose dependencies are all done."""
        return [a for a, deps in self.waits_for.items() if a not in done and deps <= done]

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
        """A dependency cycle if there is one (specs should never produce one)."""
        done: set[Address] = set()
        while True:
            ready = self.ready(done)
            if not ready:
                break
            done.update(ready)
        rest = [a for a in self.nodes if a not in done]
        return rest or None
