"""The ownership ledger: what the tool created among Azure Site Recovery's objects, which take no tags.

A vault, resource group, storage account or virtual network says it is ours with its tags
(``normalize.ownership``). A replication policy, a container or network mapping and a protected item cannot
carry tags: the provider records each one it writes here, keyed by its ARM id (casefolded), with the spec's
prune/protect lifecycle, and a read marks the objects it finds here as owned, which is what prune trusts.
The ledger itself is shared with the other backends (``providers.ledger``); this module adds how a record
marks an ASR object.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.providers.azure import normalize
from reconciler.providers.azure.normalize import Normalized
from reconciler.providers.ledger import Ledger, MemoryLedger, StoreLedger, marker
from reconciler.store import ownership

__all__ = ["Ledger", "MemoryLedger", "StoreLedger", "mark", "marker"]


def mark(n: Normalized, object_id: str, markers: Mapping[str, ownership.Marker]) -> Normalized:
    """``n`` owned, with the same marker a tag would give it, when the ledger holds ``object_id``."""
    found = markers.get(object_id.casefold())
    if found is not None:
        n.owned = True
        n.status["marker"] = {"managedBy": normalize.TOOL, "prune": found.prune, "protect": found.protect}
    return n
