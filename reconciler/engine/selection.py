"""Which resources a run works on: ``--target`` (with everything a target depends on), ``--exclude`` (with
everything that depends on what is excluded), and ``--shard`` (the scopes one shard owns). Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reconciler.core.addresses import Address
from reconciler.core.resources import Resource


def select(
    resources: Sequence[Resource], *, targets: Iterable[str] = (), excludes: Iterable[str] = ()
) -> list[Resource]:
    """Resources picked by ``--target`` (with everything they depend on) minus ``--exclude`` (with
    everything that depends on what is excluded, since it could not be applied in order). A ``shard/I/N`` target
    (``--shard``) then keeps only the resources of scopes in that shard, dependencies included: a site's own
    resources belong to the site's shard alone, never brought along by its tenants in other shards."""
    targets, excludes = list(targets), list(excludes)
    shards = [t for t in targets if t.strip().startswith("shard/")]
    targets = [t for t in targets if t not in shards]
    by_address = {r.address: r for r in resources}
    chosen: set[Address]
    if targets:
        chosen = set()
        stack = [r.address for r in resources if any(r.address.matches(t) for t in targets)]
        while stack:
            addr = stack.pop()
            if addr in chosen or addr not in by_address:
                continue
            chosen.add(addr)
            stack.extend(by_address[addr].depends_on)
    else:
        chosen = set(by_address)
    if excludes:
        dropped = {r.address for r in resources if any(r.address.matches(e) for e in excludes)}
        changed = True
        while changed:
            changed = False
            for r in resources:
                if r.address not in dropped and any(d in dropped for d in r.depends_on):
                    dropped.add(r.address)
                    changed = True
        chosen -= dropped
    if shards:
        chosen = {a for a in chosen if any(a.matches(s) for s in shards)}
    return [r for r in resources if r.address in chosen]
